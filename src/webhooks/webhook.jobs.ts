import type { Logger } from 'pino';
import type { Job } from '../jobs/scheduler';
import type { Services } from '../server/services';

/** Scheduled jobs of the webhooks domain (delivery of the outbox). */
export function webhookJobs(_services: Services, _log: Logger): Job[] {
  return [];
}

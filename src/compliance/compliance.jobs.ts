import type { Logger } from 'pino';
import type { Job } from '../jobs/scheduler';
import type { Services } from '../server/services';

/** Scheduled jobs of the compliance domain (nightly findings, threshold notifications). */
export function complianceJobs(_services: Services, _log: Logger): Job[] {
  return [];
}

import type { Logger } from 'pino';
import type { Job } from '../jobs/scheduler';
import type { Services } from '../server/services';

/**
 * Scheduled jobs of the webhooks domain: the delivery of the outbox, every few seconds
 * (EHUB_WEBHOOK_CRON). A run sends everything due and returns; ticks never overlap on one
 * instance, and the advisory lock keeps them to one instance at a time (the claims would
 * keep concurrent runs apart anyway).
 */
export function webhookJobs(services: Services, log: Logger): Job[] {
  return [
    {
      id: 'webhook-delivery',
      schedule: services.config.EHUB_WEBHOOK_CRON,
      execute: (signal) => services.webhooks.deliverDue({ log, signal }),
    },
  ];
}

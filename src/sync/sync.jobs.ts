import type { Logger } from 'pino';
import type { Job } from '../jobs/scheduler';
import type { Services } from '../server/services';

/**
 * Scheduled jobs of the sync domain, each over every enabled connection: pull (accounts,
 * contacts, won deals), push (the outbox), usage periods (mark the usage records of closed
 * billing periods for ERP connections), renewals (queue renewal opportunities, drop old
 * runs). The scheduler runs each tick once across instances.
 */
export function syncJobs(services: Services, log: Logger): Job[] {
  const c = services.config;
  return [
    { id: 'sync-pull', schedule: c.EHUB_SYNC_PULL_CRON, execute: (signal) => services.sync.pullAll(log, signal) },
    { id: 'sync-push', schedule: c.EHUB_SYNC_PUSH_CRON, execute: (signal) => services.sync.pushAll(log, signal) },
    { id: 'sync-usage-periods', schedule: c.EHUB_SYNC_USAGE_PERIODS_CRON, execute: () => services.sync.markUsagePeriods(log).then(() => undefined) },
    { id: 'sync-renewals', schedule: c.EHUB_SYNC_RENEWALS_CRON, execute: () => services.sync.renewalsAll(log) },
  ];
}

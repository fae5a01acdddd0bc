import type { Logger } from 'pino';
import { systemContext } from '../common/context';
import type { Job } from '../jobs/scheduler';
import type { Services } from '../server/services';
import { addMonths } from './periods';

/**
 * Scheduled jobs of the revenue domain: usage recognition (EHUB_REVENUE_USAGE_CRON, nightly)
 * for the previous and the current month of the reporting calendar, so late usage of last
 * month is still picked up until that month is closed. Idempotent: a run adds differences only.
 */
export function revenueJobs(services: Services, log: Logger): Job[] {
  return [
    {
      id: 'revenue-usage',
      schedule: services.config.EHUB_REVENUE_USAGE_CRON,
      execute: async () => {
        const ctx = systemContext(log, 'job:revenue-usage');
        const current = services.revenue.currentMonth();
        const firstOpen = await services.revenue.firstOpenMonth(services.db.manager);
        for (const month of [addMonths(current, -1), current]) {
          if (firstOpen && month < firstOpen) continue;
          const r = await services.revenue.recogniseUsage(ctx, month.slice(0, 7));
          if (r.entries) log.info(r, 'revenue: usage recognised');
        }
      },
    },
  ];
}

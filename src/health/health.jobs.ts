import type { Logger } from 'pino';
import { systemContext } from '../common/context';
import type { Job } from '../jobs/scheduler';
import type { Services } from '../server/services';

/** The health job: scores every account (EHUB_HEALTH_CRON, once per tick across instances). */
export function healthJobs(services: Services, log: Logger): Job[] {
  return [
    {
      id: 'health',
      schedule: services.config.EHUB_HEALTH_CRON,
      execute: async (signal) => {
        const done = await services.health.recomputeAll(systemContext(log, 'job:health'), signal);
        log.info(done, 'health scores computed');
      },
    },
  ];
}

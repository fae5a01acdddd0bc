import type { Logger } from 'pino';
import { systemContext } from '../common/context';
import type { Job } from '../jobs/scheduler';
import type { Services } from '../server/services';

/** The model-fit job: analyses every account holding a product and stores its CRM summary (EHUB_MODEL_FIT_CRON, once per tick across instances). */
export function modelFitJobs(services: Services, log: Logger): Job[] {
  return [
    {
      id: 'model-fit',
      schedule: services.config.EHUB_MODEL_FIT_CRON,
      execute: async (signal) => {
        const done = await services.modelFit.recomputeAll(systemContext(log, 'job:model-fit'), signal);
        log.info(done, 'model fit computed');
      },
    },
  ];
}

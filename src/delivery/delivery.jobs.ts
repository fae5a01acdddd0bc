import type { Logger } from 'pino';
import { systemContext } from '../common/context';
import type { Job } from '../jobs/scheduler';
import type { Services } from '../server/services';

/** The delivery job: the renewal signal of every account (EHUB_DELIVERY_RENEWALS_CRON, once per tick across instances; ADR 0048). */
export function deliveryJobs(services: Services, log: Logger): Job[] {
  return [
    {
      id: 'delivery-renewals',
      schedule: services.config.EHUB_DELIVERY_RENEWALS_CRON,
      execute: async () => {
        const done = await services.deliveryRenewals.refresh(systemContext(log, 'job:delivery-renewals'), null);
        if (done.changed) log.info(done, 'delivery renewal signals changed');
      },
    },
  ];
}

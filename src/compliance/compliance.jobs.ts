import type { Logger } from 'pino';
import { systemContext } from '../common/context';
import type { Job } from '../jobs/scheduler';
import type { Services } from '../server/services';

/**
 * Scheduled jobs of the compliance domain: the nightly run of every rule for every account
 * (findings, then all notifications of periods in the lookback), and the frequent threshold
 * job (consumption thresholds of current periods, expiry, overage), so a customer hears
 * about 80 % within minutes, not the next morning.
 */
export function complianceJobs(services: Services, log: Logger): Job[] {
  return [
    {
      id: 'compliance',
      schedule: services.config.EHUB_COMPLIANCE_CRON,
      execute: async (signal) => {
        const done = await services.compliance.runAll(systemContext(log, 'job:compliance'), signal);
        log.info(done, 'compliance run done');
      },
    },
    {
      id: 'compliance-thresholds',
      schedule: services.config.EHUB_THRESHOLD_CRON,
      execute: async () => {
        const raised = await services.compliance.raiseNotifications(systemContext(log, 'job:compliance-thresholds'));
        if (raised.raised || raised.superseded) log.info(raised, 'notifications raised');
      },
    },
  ];
}

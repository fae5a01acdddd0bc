import type { Logger } from 'pino';
import type { UsagePartitionService } from '../usage/usage.partitions';
import type { Job } from './scheduler';

/** The usage partitions job (EHUB_USAGE_PARTITIONS_CRON): partitions ahead, months out of the default partition, retention (ADR 0053). */
export function usagePartitionJobs(partitions: UsagePartitionService, schedule: string, log: Logger): Job[] {
  return [
    {
      id: 'usage-partitions',
      schedule,
      execute: async (signal) => {
        const run = await partitions.run({ signal });
        if (run.created.length || run.dropped.length) log.info({ created: run.created, dropped: run.dropped }, 'usage partitions: created and dropped');
        if (run.kept.length) log.warn({ kept: run.kept }, 'usage partitions: past retention but kept, their rollups do not count every event (rebuild them)');
      },
    },
  ];
}

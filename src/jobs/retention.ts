import type { Logger } from 'pino';
import type { Config } from '../config';
import type { Db } from '../db/db';
import type { Job } from './scheduler';

export interface RetentionResult {
  webhookDeliveries: number;
  webhookEvents: number;
  outboxItems: number;
  auditRows: number;
}

const DAY_MS = 86_400_000;

/**
 * Removes finished work older than its configured age (docs/operations.md#retention):
 * delivered webhook deliveries (with their attempt log) and then events no delivery refers
 * to any more, done sync outbox items, and audit rows only when EHUB_AUDIT_RETENTION_DAYS
 * is set. Deletes in batches of `batch` rows so no statement holds many locks for long;
 * rows being worked on (locked) are skipped and go at the next run.
 */
export class RetentionService {
  constructor(
    private readonly db: Db,
    private readonly config: Pick<Config, 'EHUB_WEBHOOK_DELIVERY_RETENTION_DAYS' | 'EHUB_OUTBOX_RETENTION_DAYS' | 'EHUB_AUDIT_RETENTION_DAYS'>,
  ) {}

  async run(opts: { now?: Date; batch?: number; signal?: AbortSignal } = {}): Promise<RetentionResult> {
    const now = opts.now ?? new Date();
    const batch = opts.batch ?? 5_000;
    const before = (days: number) => new Date(now.getTime() - days * DAY_MS);
    const deliveries = before(this.config.EHUB_WEBHOOK_DELIVERY_RETENTION_DAYS);
    const result: RetentionResult = { webhookDeliveries: 0, webhookEvents: 0, outboxItems: 0, auditRows: 0 };
    result.webhookDeliveries = await this.inBatches(
      `DELETE FROM webhook_delivery WHERE id IN (
         SELECT id FROM webhook_delivery WHERE status = 'DELIVERED' AND delivered_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
       AND status = 'DELIVERED'`,
      [deliveries],
      batch,
      opts.signal,
    );
    // An event is kept while any delivery of it is (open, dead, failed or recent).
    result.webhookEvents = await this.inBatches(
      `DELETE FROM webhook_event WHERE id IN (
         SELECT e.id FROM webhook_event e WHERE e.created_at < $1
            AND NOT EXISTS (SELECT 1 FROM webhook_delivery d WHERE d.event_id = e.id) LIMIT $2 FOR UPDATE SKIP LOCKED)
       AND NOT EXISTS (SELECT 1 FROM webhook_delivery d WHERE d.event_id = webhook_event.id)`,
      [deliveries],
      batch,
      opts.signal,
    );
    result.outboxItems = await this.inBatches(
      `DELETE FROM sync_outbox WHERE id IN (
         SELECT id FROM sync_outbox WHERE status = 'DONE' AND updated_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
       AND status = 'DONE'`,
      [before(this.config.EHUB_OUTBOX_RETENTION_DAYS)],
      batch,
      opts.signal,
    );
    const auditDays = this.config.EHUB_AUDIT_RETENTION_DAYS;
    if (auditDays > 0) {
      result.auditRows = await this.inBatches(
        `DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < $1 ORDER BY at, id LIMIT $2)`,
        [before(auditDays)],
        batch,
        opts.signal,
      );
    }
    return result;
  }

  private async inBatches(sql: string, params: unknown[], batch: number, signal?: AbortSignal): Promise<number> {
    let total = 0;
    while (!signal?.aborted) {
      const [, n] = (await this.db.manager.query(sql, [...params, batch])) as [unknown, number];
      total += n;
      if (n < batch) break;
    }
    return total;
  }
}

/** The nightly retention job (EHUB_RETENTION_CRON). */
export function retentionJobs(retention: RetentionService, schedule: string, log: Logger): Job[] {
  return [
    {
      id: 'retention',
      schedule,
      execute: async (signal) => {
        const removed = await retention.run({ signal });
        if (Object.values(removed).some((n) => n > 0)) log.info(removed, 'retention: old finished work removed');
      },
    },
  ];
}

import type { Config } from '../config';
import type { Db } from '../db/db';
import { retentionCutoff } from './usage.rules';
import { ROLLUP_LOCK_CLASS } from './usage.sql';

/** A month's partition retention kept because its daily rollups do not count every one of its events. */
export interface KeptPartition {
  partition: string;
  events: number;
  rolledUp: number;
}

export interface UsagePartitionRun {
  /** Partitions created, of usage_event and of usage_rollup (months ahead, and months found in a default partition). */
  created: string[];
  /** Partitions dropped by retention (EHUB_USAGE_RETENTION_MONTHS), with their keys. */
  dropped: string[];
  /** Partitions past retention that were kept: their rollups are not complete. */
  kept: KeptPartition[];
}

const PARTITION = /^usage_event_p(\d{4})(\d{2})$/;
const monthStart = (y: number, m: number) => new Date(Date.UTC(y, m, 1));
const isoDay = (d: Date) => d.toISOString().slice(0, 10);

/**
 * The monthly partitions of usage_event (ADR 0053) and usage_rollup (ADR 0061): keeps this
 * month's and the next EHUB_USAGE_PARTITIONS_AHEAD months' partitions of both created, gives
 * every month a default partition holds rows of its own partition, and, with EHUB_USAGE_RETENTION_MONTHS set,
 * drops the partitions of months before the retention window once their daily rollups
 * count every event of the month (the rollups stay; usage_retention.kept_from records from
 * when raw events exist, and rebuildUsageRollups refuses to rebuild anything older).
 */
export class UsagePartitionService {
  constructor(
    private readonly db: Db,
    private readonly config: Pick<Config, 'EHUB_USAGE_PARTITIONS_AHEAD' | 'EHUB_USAGE_RETENTION_MONTHS'>,
  ) {}

  async run(opts: { now?: Date; signal?: AbortSignal } = {}): Promise<UsagePartitionRun> {
    const now = opts.now ?? new Date();
    const m = this.db.manager;
    const result: UsagePartitionRun = { created: [], dropped: [], kept: [] };

    // Months the default partitions hold rows of (events by occurred_at, rollups by bucket), and the months ahead.
    const inDefault: { month: string }[] = await m.query(
      `SELECT to_char(date_trunc('month', occurred_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS month FROM usage_event_default
       UNION
       SELECT to_char(date_trunc('month', bucket AT TIME ZONE 'UTC'), 'YYYY-MM-DD') FROM usage_rollup_default`,
    );
    const months = new Set(inDefault.map((r) => r.month));
    for (let i = 0; i <= this.config.EHUB_USAGE_PARTITIONS_AHEAD; i++) months.add(isoDay(monthStart(now.getUTCFullYear(), now.getUTCMonth() + i)));
    for (const month of [...months].sort()) {
      for (const table of ['usage_event', 'usage_rollup'] as const) {
        if (opts.signal?.aborted) return result;
        // Each in its own transaction: the function moves the month's rows out of the default partition and attaches the new one.
        const [{ created }] = (await m.query(`SELECT ${table}_ensure_partition($1::date) AS created`, [month])) as { created: boolean }[];
        if (created) result.created.push(`${table}_p${month.slice(0, 4)}${month.slice(5, 7)}`);
      }
    }

    const cutoff = retentionCutoff(this.config.EHUB_USAGE_RETENTION_MONTHS, now.getTime());
    if (!cutoff) return result;
    const parts: { name: string }[] = await m.query(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'usage_event'::regclass ORDER BY 1`,
    );
    for (const { name } of parts) {
      if (opts.signal?.aborted) break;
      const ym = PARTITION.exec(name);
      if (!ym) continue;
      const lo = monthStart(Number(ym[1]), Number(ym[2]) - 1);
      const hi = monthStart(Number(ym[1]), Number(ym[2]));
      if (hi > cutoff) continue;
      // Complete: the daily rollups of the month (UTC days nest in UTC months) count every event of the partition.
      const [check] = (await m.query(
        `SELECT (SELECT count(*) FROM ${name})::bigint::text AS events,
                (SELECT coalesce(sum(count), 0) FROM usage_rollup WHERE granularity = 'D' AND bucket >= $1 AND bucket < $2)::bigint::text AS rolled`,
        [lo, hi],
      )) as { events: string; rolled: string }[];
      if (check!.events !== check!.rolled) {
        result.kept.push({ partition: name, events: Number(check!.events), rolledUp: Number(check!.rolled) });
        continue;
      }
      // The keys go first (ingest refuses events this old, so nothing needs them), then the partition, under
      // the rollup lock taken exclusively (no rebuild reads the month while it goes), with kept_from moved on.
      await m.query(`DELETE FROM usage_event_key k USING ${name} e WHERE k.account_id = e.account_id AND k.source = e.source AND k.event_id = e.event_id`);
      await this.db.manager.transaction(async (tx) => {
        await tx.query(`SELECT pg_advisory_xact_lock(${ROLLUP_LOCK_CLASS}, 0)`);
        await tx.query(
          `INSERT INTO usage_retention (one, kept_from) VALUES (true, $1)
           ON CONFLICT (one) DO UPDATE SET kept_from = greatest(usage_retention.kept_from, excluded.kept_from)`,
          [hi],
        );
        await tx.query(`DROP TABLE ${name}`);
      });
      result.dropped.push(name);
    }
    return result;
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';
import { renameIndexes } from './1764304000000-UsagePartitions';

/**
 * usage_rollup partitioned by month of `bucket` (ADR 0061), like usage_event (ADR 0053).
 *
 * With 50 M events stored, the unpartitioned rollup table (41 M rows, 8 GB of heap and 5 GB
 * of indexes whose key leads with the account) made every ingest batch insert its new hour
 * and day rows at random places of one large index: ingest fell to 69–79 % of its rate at
 * 2 M events, and the blocks it read outside shared buffers were mostly usage_rollup's.
 * Ingest writes the buckets of now and the last days: with monthly partitions those land in
 * this month's small table and indexes, whatever the history holds.
 *
 * The primary key already holds `bucket`, so the key and ON CONFLICT stay as they were.
 * Partitions are `usage_rollup_pYYYYMM` (UTC months; hour and day buckets are UTC and nest in
 * them), each with fillfactor 80 as the table had (updates stay HOT); `usage_rollup_default`
 * catches a bucket of a month without one. `usage_rollup_ensure_partition(month)` creates a
 * month's partition and moves that month's rows out of the default partition; the partitions
 * job calls it with usage_event's. Rollups are never dropped by retention.
 *
 * The views that read the table (bi.accounts, bi.usage_daily) follow a renamed table, so
 * their definitions are read before the rename and replaced afterwards (CREATE OR REPLACE
 * keeps the grants `ehub bi grant` gave). The conversion copies the rows under an exclusive
 * lock (ingest waits), then drops the old table.
 */
export class UsageRollupPartitions1764304300000 implements MigrationInterface {
  name = 'UsageRollupPartitions1764304300000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`LOCK TABLE usage_rollup IN ACCESS EXCLUSIVE MODE`);
    const views = await dependentViews(q, 'usage_rollup');
    await q.query(`ALTER TABLE usage_rollup RENAME TO usage_rollup_unpartitioned`);
    await renameIndexes(q, 'usage_rollup_unpartitioned', '_unpartitioned');
    await q.query(`${TABLE} PARTITION BY RANGE (bucket)`);
    await q.query(INDEX);
    await q.query(`CREATE TABLE usage_rollup_default PARTITION OF usage_rollup DEFAULT WITH (fillfactor = 80)`);
    await q.query(ENSURE_ROLLUP_PARTITION_FUNCTION);
    // Partitions for every month holding rollups, and this month and the next three.
    await q.query(`
      SELECT usage_rollup_ensure_partition(m::date)
        FROM (SELECT DISTINCT date_trunc('month', bucket AT TIME ZONE 'UTC') AS m FROM usage_rollup_unpartitioned
              UNION
              SELECT generate_series(date_trunc('month', now() AT TIME ZONE 'UTC'), date_trunc('month', now() AT TIME ZONE 'UTC') + interval '3 months', interval '1 month')) months
       ORDER BY m`);
    await q.query(`INSERT INTO usage_rollup (${COLUMNS}) SELECT ${COLUMNS} FROM usage_rollup_unpartitioned`);
    await replaceViews(q, views);
    await q.query(`DROP TABLE usage_rollup_unpartitioned`);
    await q.query(`ANALYZE usage_rollup`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`LOCK TABLE usage_rollup IN ACCESS EXCLUSIVE MODE`);
    const views = await dependentViews(q, 'usage_rollup');
    await q.query(`ALTER TABLE usage_rollup RENAME TO usage_rollup_partitioned`);
    await renameIndexes(q, 'usage_rollup_partitioned', '_partitioned');
    await q.query(`${TABLE} WITH (fillfactor = 80)`);
    await q.query(INDEX);
    await q.query(`INSERT INTO usage_rollup (${COLUMNS}) SELECT ${COLUMNS} FROM usage_rollup_partitioned`);
    await replaceViews(q, views);
    await q.query(`DROP TABLE usage_rollup_partitioned`);
    await q.query(`DROP FUNCTION usage_rollup_ensure_partition(date)`);
    await q.query(`ANALYZE usage_rollup`);
  }
}

const NIL = '00000000-0000-0000-0000-000000000000';

const COLUMNS = 'account_id, meter_id, granularity, bucket, entitlement_id, deployment, sum, count, max, latest_value, latest_at, updated_at';

const TABLE = `
  CREATE TABLE usage_rollup (
    account_id uuid NOT NULL,
    meter_id uuid NOT NULL,
    granularity char(1) NOT NULL CHECK (granularity IN ('H','D')),
    bucket timestamptz NOT NULL,
    entitlement_id uuid NOT NULL DEFAULT '${NIL}',
    deployment text NOT NULL,
    sum numeric NOT NULL DEFAULT 0,
    count bigint NOT NULL DEFAULT 0,
    max numeric,
    latest_value numeric,
    latest_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, meter_id, granularity, bucket, entitlement_id, deployment)
  )`;

// Made on the parent: every partition, present or future, has it.
const INDEX = `CREATE INDEX usage_rollup_entitlement_idx ON usage_rollup (entitlement_id, granularity, bucket) WHERE entitlement_id <> '${NIL}'`;

interface ViewDef {
  name: string;
  def: string;
}

/** The plain views whose rules read `table`, with their definitions as written now (table names as they are before a rename). */
async function dependentViews(q: QueryRunner, table: string): Promise<ViewDef[]> {
  const rows = (await q.query(
    `SELECT DISTINCT v.oid::regclass::text AS name, v.relkind, pg_get_viewdef(v.oid) AS def
       FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
      WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = $1::regclass AND v.oid <> $1::regclass`,
    [table],
  )) as (ViewDef & { relkind: string })[];
  const other = rows.find((r) => r.relkind !== 'v');
  if (other) throw new Error(`${other.name} (relkind ${other.relkind}) reads ${table}: only plain views can be carried over by this migration`);
  return rows.map(({ name, def }) => ({ name, def }));
}

/** Points the views at the table now named as they name it (same columns, so CREATE OR REPLACE keeps grants and dependants). */
async function replaceViews(q: QueryRunner, views: ViewDef[]): Promise<void> {
  for (const v of views) await q.query(`CREATE OR REPLACE VIEW ${v.name} AS ${v.def}`);
}

/**
 * Creates the rollup partition of `month` (its first day, UTC) unless there is one, moving
 * that month's rows out of the default partition first. Answers true when it created one.
 * Takes the same advisory lock as usage_event_ensure_partition (one creator at a time).
 */
export const ENSURE_ROLLUP_PARTITION_FUNCTION = `
  CREATE OR REPLACE FUNCTION usage_rollup_ensure_partition(month date) RETURNS boolean LANGUAGE plpgsql AS $$
  DECLARE
    m date := date_trunc('month', month)::date;
    part text := 'usage_rollup_p' || to_char(m, 'YYYYMM');
    lo timestamptz := (m::timestamp AT TIME ZONE 'UTC');
    hi timestamptz := ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC');
  BEGIN
    IF to_regclass(part) IS NOT NULL THEN
      RETURN false;
    END IF;
    PERFORM pg_advisory_xact_lock(1433625447, 1);
    IF to_regclass(part) IS NOT NULL THEN
      RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE usage_rollup INCLUDING DEFAULTS INCLUDING CONSTRAINTS) WITH (fillfactor = 80)', part);
    EXECUTE format('WITH moved AS (DELETE FROM usage_rollup_default WHERE bucket >= $1 AND bucket < $2 RETURNING *) INSERT INTO %I SELECT * FROM moved', part)
      USING lo, hi;
    EXECUTE format('ALTER TABLE usage_rollup ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
    RETURN true;
  END $$`;

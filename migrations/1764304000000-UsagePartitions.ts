import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * usage_event partitioned by month on occurred_at (ADR 0053).
 *
 * A partitioned table's unique keys must contain the partition key, so the idempotency key
 * (account_id, source, event_id) moves to its own table, usage_event_key (with the content
 * hash that tells a resend from a conflict, and occurred_at, which names the event's
 * partition); ingest inserts there first with ON CONFLICT DO NOTHING and writes usage_event
 * only for the keys it inserted. The primary key becomes (account_id, occurred_at, id): it
 * serves the per-account time-range reads, so the old (account_id, occurred_at) index goes.
 *
 * Partitions are monthly (UTC) `usage_event_pYYYYMM`; `usage_event_default` catches any month
 * without one, so no event is ever refused for want of a partition.
 * `usage_event_ensure_partition(month)` creates a month's partition and moves that month's
 * rows out of the default partition in the same transaction (the partitions job calls it for
 * the months ahead and for every month found in the default partition).
 *
 * The conversion copies the rows in one INSERT … SELECT under an exclusive lock on the old
 * table (ingest waits; the rows are the same rows, ids included), then drops the old table.
 */
export class UsagePartitions1764304000000 implements MigrationInterface {
  name = 'UsagePartitions1764304000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`LOCK TABLE usage_event IN ACCESS EXCLUSIVE MODE`);
    await q.query(`ALTER TABLE usage_event RENAME TO usage_event_unpartitioned`);
    await renameIndexes(q, 'usage_event_unpartitioned', '_unpartitioned');

    await q.query(`
      CREATE TABLE usage_event (
        id bigint GENERATED ALWAYS AS IDENTITY,
        account_id uuid NOT NULL,
        source text NOT NULL,
        event_id text NOT NULL,
        meter_id uuid NOT NULL,
        entitlement_id uuid,
        feature_key text,
        quantity numeric NOT NULL,
        value numeric,
        unique_value text,
        occurred_at timestamptz NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        deployment text NOT NULL CHECK (deployment IN ('CLOUD','ON_PREM','SAAS','EMBEDDED','DEVICE')),
        user_id text,
        device text,
        properties jsonb,
        content_hash text NOT NULL,
        unentitled boolean NOT NULL DEFAULT false,
        PRIMARY KEY (account_id, occurred_at, id)
      ) PARTITION BY RANGE (occurred_at)`);
    // Created on the parent: every partition, present or future, gets them.
    await q.query(`CREATE INDEX usage_event_entitlement_time_idx ON usage_event (entitlement_id, occurred_at) WHERE entitlement_id IS NOT NULL`);
    await q.query(`CREATE INDEX usage_event_unentitled_idx ON usage_event (account_id, occurred_at) WHERE unentitled`);
    await q.query(`CREATE TABLE usage_event_default PARTITION OF usage_event DEFAULT`);

    await q.query(`
      CREATE TABLE usage_event_key (
        account_id uuid NOT NULL,
        source text NOT NULL,
        event_id text NOT NULL,
        occurred_at timestamptz NOT NULL,
        content_hash text NOT NULL,
        PRIMARY KEY (account_id, source, event_id)
      )`);

    // Retention (EHUB_USAGE_RETENTION_MONTHS): raw events before kept_from were dropped
    // (their rollups stay and can no longer be rebuilt). At most one row, written by the first
    // drop; no row: nothing dropped (left empty here: a restore expects a migrated database empty).
    await q.query(`CREATE TABLE usage_retention (one boolean PRIMARY KEY DEFAULT true CHECK (one), kept_from timestamptz NOT NULL)`);

    await q.query(ENSURE_PARTITION_FUNCTION);
    // Partitions for every month holding events, and this month and the next three.
    await q.query(`
      SELECT usage_event_ensure_partition(m::date)
        FROM (SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC') AS m FROM usage_event_unpartitioned
              UNION
              SELECT generate_series(date_trunc('month', now() AT TIME ZONE 'UTC'), date_trunc('month', now() AT TIME ZONE 'UTC') + interval '3 months', interval '1 month')) months
       ORDER BY m`);

    await q.query(`
      INSERT INTO usage_event (id, account_id, source, event_id, meter_id, entitlement_id, feature_key, quantity, value, unique_value,
                               occurred_at, received_at, deployment, user_id, device, properties, content_hash, unentitled)
      OVERRIDING SYSTEM VALUE
      SELECT id, account_id, source, event_id, meter_id, entitlement_id, feature_key, quantity, value, unique_value,
             occurred_at, received_at, deployment, user_id, device, properties, content_hash, unentitled
        FROM usage_event_unpartitioned`);
    await q.query(`
      INSERT INTO usage_event_key (account_id, source, event_id, occurred_at, content_hash)
      SELECT account_id, source, event_id, occurred_at, content_hash FROM usage_event_unpartitioned`);
    await q.query(`SELECT setval(pg_get_serial_sequence('usage_event', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM usage_event_unpartitioned), false)`);

    // The meter-in-use guard (usage_meter_in_use) names usage_event: it reads the new table.
    await q.query(`DROP TABLE usage_event_unpartitioned`);
    await q.query(`ANALYZE usage_event`);
    await q.query(`ANALYZE usage_event_key`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`LOCK TABLE usage_event, usage_event_key IN ACCESS EXCLUSIVE MODE`);
    await q.query(`ALTER TABLE usage_event RENAME TO usage_event_partitioned`);
    await renameIndexes(q, 'usage_event_partitioned', '_partitioned');
    await q.query(`
      CREATE TABLE usage_event (
        id bigint GENERATED ALWAYS AS IDENTITY,
        account_id uuid NOT NULL,
        source text NOT NULL,
        event_id text NOT NULL,
        meter_id uuid NOT NULL,
        entitlement_id uuid,
        feature_key text,
        quantity numeric NOT NULL,
        value numeric,
        unique_value text,
        occurred_at timestamptz NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        deployment text NOT NULL CHECK (deployment IN ('CLOUD','ON_PREM','SAAS','EMBEDDED','DEVICE')),
        user_id text,
        device text,
        properties jsonb,
        content_hash text NOT NULL,
        unentitled boolean NOT NULL DEFAULT false,
        PRIMARY KEY (account_id, id),
        UNIQUE (account_id, source, event_id)
      )`);
    await q.query(`
      INSERT INTO usage_event (id, account_id, source, event_id, meter_id, entitlement_id, feature_key, quantity, value, unique_value,
                               occurred_at, received_at, deployment, user_id, device, properties, content_hash, unentitled)
      OVERRIDING SYSTEM VALUE
      SELECT id, account_id, source, event_id, meter_id, entitlement_id, feature_key, quantity, value, unique_value,
             occurred_at, received_at, deployment, user_id, device, properties, content_hash, unentitled
        FROM usage_event_partitioned`);
    await q.query(`SELECT setval(pg_get_serial_sequence('usage_event', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM usage_event_partitioned), false)`);
    await q.query(`CREATE INDEX usage_event_account_time_idx ON usage_event (account_id, occurred_at)`);
    await q.query(`CREATE INDEX usage_event_entitlement_time_idx ON usage_event (entitlement_id, occurred_at) WHERE entitlement_id IS NOT NULL`);
    await q.query(`CREATE INDEX usage_event_unentitled_idx ON usage_event (account_id, occurred_at) WHERE unentitled`);
    await q.query(`DROP TABLE usage_event_partitioned`);
    await q.query(`DROP TABLE usage_event_key`);
    await q.query(`DROP TABLE usage_retention`);
    await q.query(`DROP FUNCTION usage_event_ensure_partition(date)`);
  }
}

/** Renames the indexes of `table` (those of its constraints included) with `suffix`, so the new table can take their names. */
export async function renameIndexes(q: QueryRunner, table: string, suffix: string): Promise<void> {
  await q.query(`
    DO $$
    DECLARE r record;
    BEGIN
      FOR r IN SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                WHERE i.indrelid = '${table}'::regclass
      LOOP
        EXECUTE format('ALTER INDEX %I RENAME TO %I', r.relname, left(r.relname, 63 - length('${suffix}')) || '${suffix}');
      END LOOP;
    END $$`);
}

/**
 * Creates the partition of `month` (its first day, UTC) unless there is one, moving that
 * month's rows out of the default partition first (attaching a partition whose range the
 * default partition holds rows of would fail). Answers true when it created one.
 */
export const ENSURE_PARTITION_FUNCTION = `
  CREATE OR REPLACE FUNCTION usage_event_ensure_partition(month date) RETURNS boolean LANGUAGE plpgsql AS $$
  DECLARE
    m date := date_trunc('month', month)::date;
    part text := 'usage_event_p' || to_char(m, 'YYYYMM');
    lo timestamptz := (m::timestamp AT TIME ZONE 'UTC');
    hi timestamptz := ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC');
  BEGIN
    IF to_regclass(part) IS NOT NULL THEN
      RETURN false;
    END IF;
    -- One creator at a time (the job on several instances, the migration).
    PERFORM pg_advisory_xact_lock(1433625447, 1);
    IF to_regclass(part) IS NOT NULL THEN
      RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE usage_event INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
    EXECUTE format('WITH moved AS (DELETE FROM usage_event_default WHERE occurred_at >= $1 AND occurred_at < $2 RETURNING *) INSERT INTO %I SELECT * FROM moved', part)
      USING lo, hi;
    EXECUTE format('ALTER TABLE usage_event ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
    RETURN true;
  END $$`;

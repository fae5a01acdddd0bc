import type { MigrationInterface, QueryRunner } from 'typeorm';

const NIL = `'00000000-0000-0000-0000-000000000000'::uuid`;

/**
 * Usage: events (exactly once per account + source + event id), hourly and daily rollups
 * kept in the same transaction as the events, exact distinct values for UNIQUE_COUNT,
 * compliance findings, threshold notifications, and webhook endpoints with their outbox.
 */
export class Usage1764300500000 implements MigrationInterface {
  name = 'Usage1764300500000';

  async up(q: QueryRunner): Promise<void> {
    // The raw events. (account_id, source, event_id) is the idempotency key; content_hash tells
    // a resend (same hash: duplicate) from a different event reusing an id (conflict).
    // No foreign keys: the one statement that writes this append-only log resolves account,
    // meter and entitlement in the same transaction, those are never deleted (archived), and
    // the constraint triggers cost a third of an insert at ingest volume (ADR 0012).
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
    await q.query(`CREATE INDEX usage_event_account_time_idx ON usage_event (account_id, occurred_at)`);
    await q.query(`CREATE INDEX usage_event_entitlement_time_idx ON usage_event (entitlement_id, occurred_at) WHERE entitlement_id IS NOT NULL`);
    await q.query(`CREATE INDEX usage_event_unentitled_idx ON usage_event (account_id, occurred_at) WHERE unentitled`);
    // What the meter foreign key did for deleteMeter: a meter with usage is in use (the same
    // SQLSTATE, so it is CATALOG_IN_USE). Ingestion key-share locks the meters it writes for.
    await q.query(`
      CREATE FUNCTION usage_meter_in_use() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM usage_event WHERE meter_id = OLD.id) THEN
          RAISE foreign_key_violation USING MESSAGE = format('meter %s has usage events', OLD.key);
        END IF;
        RETURN OLD;
      END $$`);
    await q.query(`CREATE TRIGGER meter_usage_guard BEFORE DELETE ON meter FOR EACH ROW EXECUTE FUNCTION usage_meter_in_use()`);

    // Rollups by hour ('H') and day ('D') per account, meter, entitlement (NIL = none) and
    // deployment. sum/count/max add up under late events; latest keeps the value of the
    // latest occurred_at.
    await q.query(`
      CREATE TABLE usage_rollup (
        account_id uuid NOT NULL,
        meter_id uuid NOT NULL,
        granularity char(1) NOT NULL CHECK (granularity IN ('H','D')),
        bucket timestamptz NOT NULL,
        entitlement_id uuid NOT NULL DEFAULT ${NIL},
        deployment text NOT NULL,
        sum numeric NOT NULL DEFAULT 0,
        count bigint NOT NULL DEFAULT 0,
        max numeric,
        latest_value numeric,
        latest_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (account_id, meter_id, granularity, bucket, entitlement_id, deployment)
      ) WITH (fillfactor = 80)`); // room on every page, so the constant updates stay HOT (no index writes)
    await q.query(`CREATE INDEX usage_rollup_entitlement_idx ON usage_rollup (entitlement_id, granularity, bucket) WHERE entitlement_id <> ${NIL}`);

    // Exact distinct values for UNIQUE_COUNT meters, per hour and day bucket.
    await q.query(`
      CREATE TABLE usage_unique (
        account_id uuid NOT NULL,
        meter_id uuid NOT NULL,
        granularity char(1) NOT NULL CHECK (granularity IN ('H','D')),
        bucket timestamptz NOT NULL,
        entitlement_id uuid NOT NULL DEFAULT ${NIL},
        deployment text NOT NULL,
        value text NOT NULL,
        PRIMARY KEY (account_id, meter_id, granularity, bucket, entitlement_id, deployment, value)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE usage_unique`);
    await q.query(`DROP TABLE usage_rollup`);
    await q.query(`DROP TRIGGER meter_usage_guard ON meter`);
    await q.query(`DROP FUNCTION usage_meter_in_use()`);
    await q.query(`DROP TABLE usage_event`);
  }
}

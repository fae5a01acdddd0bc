import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The sync engine: connections to external systems (credentials sealed with AES-256-GCM),
 * pull cursors per connection and object, the state of every pulled deal (its content hash
 * and the revision the hub gave it), the runs, and the outbox of writes to the target.
 *
 * The outbox holds one row per target record (connection, object, record key): a change
 * marks the row dirty in the changing transaction (dirty_version + 1) and the push job
 * computes the record's current values when it delivers — so many changes coalesce and the
 * latest value wins. payload_hash is what the target last acknowledged, so an unchanged
 * record costs no API call.
 */
export class Sync1764301100000 implements MigrationInterface {
  name = 'Sync1764301100000';

  async up(q: QueryRunner): Promise<void> {
    // A source line id names the order's current line: a deal withdrawn and won again gets
    // new lines for the same OpportunityLineItems, next to the removed ones.
    await q.query(`DROP INDEX order_line_external_idx`);
    await q.query(`CREATE UNIQUE INDEX order_line_external_idx ON order_line (order_id, external_line_id) WHERE external_line_id IS NOT NULL AND status = 'ACTIVE'`);

    // The scheduler's tick claims: a tick (job, scheduled instant) runs on the one instance
    // that moves last_tick_at forward, so instances whose clocks fire a tick at slightly
    // different moments still run it once (the advisory lock alone only stops overlap).
    await q.query(`
      CREATE TABLE job_tick (
        job_id text PRIMARY KEY,
        last_tick_at timestamptz(3) NOT NULL,
        runs bigint NOT NULL DEFAULT 0,
        last_instance text,
        last_started_at timestamptz(3),
        last_finished_at timestamptz(3)
      )`);

    await q.query(`
      CREATE TABLE sync_connection (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
        type text NOT NULL,
        enabled boolean NOT NULL DEFAULT true,
        pull_enabled boolean NOT NULL DEFAULT true,
        push_enabled boolean NOT NULL DEFAULT true,
        ref_system text NOT NULL CHECK (ref_system = lower(ref_system) AND length(ref_system) BETWEEN 1 AND 100),
        order_source text NOT NULL CHECK (length(order_source) BETWEEN 1 AND 100),
        renewal_days int NOT NULL DEFAULT 90 CHECK (renewal_days BETWEEN 0 AND 730),
        max_attempts int NOT NULL DEFAULT 8 CHECK (max_attempts BETWEEN 1 AND 100),
        options jsonb NOT NULL DEFAULT '{}',
        credentials_ciphertext bytea,
        managed_by text NOT NULL DEFAULT 'API' CHECK (managed_by IN ('API','ENV')),
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now()
      )`);

    await q.query(`
      CREATE TABLE sync_cursor (
        connection_id uuid NOT NULL REFERENCES sync_connection(id) ON DELETE CASCADE,
        object text NOT NULL,
        cursor text,
        updated_at timestamptz(3) NOT NULL DEFAULT now(),
        PRIMARY KEY (connection_id, object)
      )`);

    await q.query(`
      CREATE TABLE sync_run (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        connection_id uuid NOT NULL REFERENCES sync_connection(id) ON DELETE CASCADE,
        kind text NOT NULL CHECK (kind IN ('PULL','PUSH','RENEWALS')),
        object text NOT NULL,
        trigger text NOT NULL CHECK (trigger IN ('SCHEDULE','MANUAL')),
        status text NOT NULL CHECK (status IN ('RUNNING','SUCCEEDED','PARTIAL','FAILED')),
        started_at timestamptz(3) NOT NULL DEFAULT now(),
        finished_at timestamptz(3),
        duration_ms int,
        read int NOT NULL DEFAULT 0,
        created int NOT NULL DEFAULT 0,
        updated int NOT NULL DEFAULT 0,
        unchanged int NOT NULL DEFAULT 0,
        deleted int NOT NULL DEFAULT 0,
        failed int NOT NULL DEFAULT 0,
        api_calls int NOT NULL DEFAULT 0,
        cursor_from text,
        cursor_to text,
        error text,
        errors jsonb NOT NULL DEFAULT '[]'
      )`);
    await q.query(`CREATE INDEX sync_run_started_idx ON sync_run (started_at, id)`);
    await q.query(`CREATE INDEX sync_run_connection_idx ON sync_run (connection_id, started_at, id)`);

    // One row per pulled deal (and other records whose state the engine must remember).
    await q.query(`
      CREATE TABLE sync_record (
        connection_id uuid NOT NULL REFERENCES sync_connection(id) ON DELETE CASCADE,
        object text NOT NULL,
        external_id text NOT NULL,
        status text NOT NULL CHECK (status IN ('APPLIED','FAILED','WITHDRAWN','IGNORED')),
        modified_at timestamptz(3) NOT NULL,
        content_hash text,
        revision int NOT NULL DEFAULT 0,
        hub_id uuid,
        line_numbers jsonb NOT NULL DEFAULT '{}',
        next_line_no int NOT NULL DEFAULT 1,
        payload jsonb,
        error_code text,
        error_message text,
        failed_at timestamptz(3),
        updated_at timestamptz(3) NOT NULL DEFAULT now(),
        PRIMARY KEY (connection_id, object, external_id)
      )`);
    await q.query(`CREATE INDEX sync_record_failed_idx ON sync_record (connection_id, object, failed_at) WHERE status = 'FAILED'`);

    await q.query(`
      CREATE TABLE sync_outbox (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        connection_id uuid NOT NULL REFERENCES sync_connection(id) ON DELETE CASCADE,
        object text NOT NULL CHECK (object IN ('account-fields','renewal-opportunity','entitlement')),
        record_key text NOT NULL,
        account_id uuid,
        status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING','IN_FLIGHT','FAILED','DONE','DEAD')),
        dirty_version int NOT NULL DEFAULT 1,
        claimed_version int,
        claimed_until timestamptz(3),
        attempts int NOT NULL DEFAULT 0,
        next_attempt_at timestamptz(3) NOT NULL DEFAULT now(),
        payload jsonb,
        payload_hash text,
        target_id text,
        last_error_code text,
        last_error text,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now(),
        delivered_at timestamptz(3),
        dead_at timestamptz(3),
        UNIQUE (connection_id, object, record_key)
      )`);
    await q.query(`CREATE INDEX sync_outbox_due_idx ON sync_outbox (connection_id, next_attempt_at) WHERE status IN ('PENDING','FAILED','IN_FLIGHT')`);
    await q.query(`CREATE INDEX sync_outbox_status_idx ON sync_outbox (status, created_at, id)`);
    await q.query(`CREATE INDEX sync_outbox_created_idx ON sync_outbox (created_at, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE sync_outbox`);
    await q.query(`DROP TABLE sync_record`);
    await q.query(`DROP TABLE sync_run`);
    await q.query(`DROP TABLE sync_cursor`);
    await q.query(`DROP TABLE sync_connection`);
    await q.query(`DROP TABLE job_tick`);
    await q.query(`DROP INDEX order_line_external_idx`);
    await q.query(`CREATE UNIQUE INDEX order_line_external_idx ON order_line (order_id, external_line_id) WHERE external_line_id IS NOT NULL`);
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

const OPEN = `('PENDING','FAILED','DELIVERING')`;

/**
 * Webhooks: endpoints (signing secrets encrypted at rest), events (one per idempotency key),
 * the outbox of deliveries (one per event and subscribed endpoint) and the log of attempts.
 */
export class Webhooks1764300700000 implements MigrationInterface {
  name = 'Webhooks1764300700000';

  async up(q: QueryRunner): Promise<void> {
    // The id is chosen by the hub before insert: it is bound into the encrypted secret
    // (AES-GCM associated data), so a secret copied onto another row does not decrypt.
    await q.query(`
      CREATE TABLE webhook_endpoint (
        id uuid PRIMARY KEY,
        url text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
        description text,
        event_types text[] NOT NULL CHECK (cardinality(event_types) > 0),
        account_id uuid REFERENCES account(id),
        status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE','DISABLED')),
        secret_ciphertext bytea NOT NULL,
        previous_secret_ciphertext bytea,
        previous_secret_expires_at timestamptz,
        secret_rotated_at timestamptz,
        created_by_key_id uuid,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now(),
        disabled_at timestamptz
      )`);
    await q.query(`CREATE INDEX webhook_endpoint_account_idx ON webhook_endpoint (account_id, created_at, id)`);

    // One row per event the hub emitted; `key` is the producer's idempotency key, so the same
    // key enqueued twice (retries, two job runs) is one event.
    await q.query(`
      CREATE TABLE webhook_event (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        type text NOT NULL,
        key text NOT NULL UNIQUE CHECK (length(key) BETWEEN 1 AND 500),
        account_id uuid,
        payload jsonb NOT NULL,
        created_at timestamptz(3) NOT NULL DEFAULT now()
      )`);

    // The outbox. queue_seq orders an endpoint's deliveries (a replay takes a new number, so it
    // goes to the back); only the oldest open delivery of an endpoint is ever sent, so a
    // receiver gets its events in order. attempts counts claims, so a crash mid-send counts.
    await q.query(`CREATE SEQUENCE webhook_delivery_queue_seq`);
    await q.query(`
      CREATE TABLE webhook_delivery (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        event_id uuid NOT NULL REFERENCES webhook_event(id),
        endpoint_id uuid NOT NULL REFERENCES webhook_endpoint(id),
        account_id uuid,
        event_type text NOT NULL,
        status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING','DELIVERING','DELIVERED','FAILED','DEAD')),
        attempts int NOT NULL DEFAULT 0,
        queue_seq bigint NOT NULL DEFAULT nextval('webhook_delivery_queue_seq'),
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        locked_until timestamptz,
        last_attempt_at timestamptz,
        last_status_code int,
        last_error text,
        last_response text,
        last_duration_ms int,
        delivered_at timestamptz,
        dead_at timestamptz,
        replays int NOT NULL DEFAULT 0,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now(),
        UNIQUE (endpoint_id, event_id)
      )`);
    await q.query(`ALTER SEQUENCE webhook_delivery_queue_seq OWNED BY webhook_delivery.queue_seq`);
    // The head of each endpoint's queue (claims) and the open backlog.
    await q.query(`CREATE INDEX webhook_delivery_open_idx ON webhook_delivery (endpoint_id, queue_seq) WHERE status IN ${OPEN}`);
    // Listings: by endpoint, by status, everything; oldest first (keyset on created_at, id).
    await q.query(`CREATE INDEX webhook_delivery_endpoint_idx ON webhook_delivery (endpoint_id, created_at, id)`);
    await q.query(`CREATE INDEX webhook_delivery_status_idx ON webhook_delivery (status, created_at, id)`);
    await q.query(`CREATE INDEX webhook_delivery_created_idx ON webhook_delivery (created_at, id)`);

    // Every attempt: what was sent when, what came back.
    await q.query(`
      CREATE TABLE webhook_attempt (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        delivery_id uuid NOT NULL REFERENCES webhook_delivery(id) ON DELETE CASCADE,
        attempt int NOT NULL,
        started_at timestamptz(3) NOT NULL,
        finished_at timestamptz(3) NOT NULL,
        duration_ms int NOT NULL,
        status_code int,
        error text,
        response_snippet text,
        outcome text NOT NULL CHECK (outcome IN ('DELIVERED','FAILED','DEAD')),
        next_attempt_at timestamptz(3)
      )`);
    await q.query(`CREATE INDEX webhook_attempt_delivery_idx ON webhook_attempt (delivery_id, attempt)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE webhook_attempt`);
    await q.query(`DROP TABLE webhook_delivery`);
    await q.query(`DROP TABLE webhook_event`);
    await q.query(`DROP TABLE webhook_endpoint`);
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

const MODELS = `('PERPETUAL','SUBSCRIPTION','DEVICE_LOCKED','NAMED_USER','CONCURRENT','USAGE','METERED','OUTCOME')`;

/**
 * Orders (idempotent by source + external id + revision) and the entitlements they fulfil,
 * with their history, devices, seats, leases and metered consumption; signing keys for
 * offline entitlement certificates.
 */
export class OrdersAndEntitlements1764300300000 implements MigrationInterface {
  name = 'OrdersAndEntitlements1764300300000';

  async up(q: QueryRunner): Promise<void> {
    // One row per (source, external id); `revision` is the latest applied. "order" is a
    // reserved word, hence sales_order.
    await q.query(`
      CREATE TABLE sales_order (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        account_id uuid NOT NULL REFERENCES account(id),
        source text NOT NULL CHECK (length(source) BETWEEN 1 AND 100),
        external_id text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 255),
        revision int NOT NULL CHECK (revision >= 1),
        order_date date NOT NULL,
        currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now(),
        UNIQUE (source, external_id)
      )`);
    await q.query(`CREATE INDEX sales_order_account_idx ON sales_order (account_id, created_at, id)`);

    // Every revision ever applied, with the hash of its canonical input: a replay of the same
    // revision with the same content returns the order; with other content it is a CONFLICT.
    await q.query(`
      CREATE TABLE order_revision (
        order_id uuid NOT NULL REFERENCES sales_order(id),
        account_id uuid NOT NULL,
        revision int NOT NULL,
        request_hash text NOT NULL,
        input jsonb NOT NULL,
        applied_at timestamptz(3) NOT NULL DEFAULT now(),
        key_id uuid,
        request_id text,
        PRIMARY KEY (order_id, revision)
      )`);

    await q.query(`
      CREATE TABLE order_line (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        order_id uuid NOT NULL REFERENCES sales_order(id),
        account_id uuid NOT NULL REFERENCES account(id),
        line_no int NOT NULL CHECK (line_no >= 1),
        external_line_id text,
        product_id uuid NOT NULL REFERENCES product(id),
        sku text NOT NULL,
        action text NOT NULL CHECK (action IN ('NEW','RENEWAL','AMENDMENT','CANCELLATION','UPGRADE')),
        model text NOT NULL CHECK (model IN ${MODELS}),
        quantity numeric(20,4) NOT NULL,
        unit_price_minor bigint NOT NULL,
        currency char(3) NOT NULL,
        start_date date NOT NULL,
        end_date date,
        renews_line_id uuid REFERENCES order_line(id),
        amends_line_id uuid REFERENCES order_line(id),
        overage_policy text CHECK (overage_policy IN ('BLOCK','ALLOW','ALLOW_AND_NOTIFY')),
        reset_period text CHECK (reset_period IN ('DAILY','MONTHLY','ANNUAL','TERM')),
        limits jsonb,
        grace_days int NOT NULL DEFAULT 0 CHECK (grace_days >= 0),
        status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE','REMOVED')),
        revision int NOT NULL,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now(),
        UNIQUE (order_id, line_no),
        CHECK (end_date IS NULL OR end_date >= start_date)
      )`);
    await q.query(`CREATE INDEX order_line_account_idx ON order_line (account_id)`);
    await q.query(`CREATE UNIQUE INDEX order_line_external_idx ON order_line (order_id, external_line_id) WHERE external_line_id IS NOT NULL`);

    // Dates are the contract's (end_date inclusive); starts_at/ends_at are the instants they
    // mean in the hub's contract time zone, so checks compare instants with an index.
    await q.query(`
      CREATE TABLE entitlement (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        account_id uuid NOT NULL REFERENCES account(id),
        product_id uuid NOT NULL REFERENCES product(id),
        sku text NOT NULL,
        order_id uuid NOT NULL REFERENCES sales_order(id),
        order_line_id uuid NOT NULL REFERENCES order_line(id),
        model text NOT NULL CHECK (model IN ${MODELS}),
        status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE','SUSPENDED','EXPIRED','CANCELLED')),
        quantity numeric(20,4) NOT NULL CHECK (quantity >= 0),
        start_date date NOT NULL,
        end_date date,
        starts_at timestamptz NOT NULL,
        ends_at timestamptz,
        grace_days int NOT NULL DEFAULT 0 CHECK (grace_days >= 0),
        grace_ends_at timestamptz,
        overage_policy text CHECK (overage_policy IN ('BLOCK','ALLOW','ALLOW_AND_NOTIFY')),
        reset_period text CHECK (reset_period IN ('DAILY','MONTHLY','ANNUAL','TERM')),
        suspended_reason text,
        ended_reason text,
        version int NOT NULL DEFAULT 1,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now(),
        CHECK (end_date IS NULL OR end_date >= start_date - 1),
        CHECK ((ends_at IS NULL) = (end_date IS NULL))
      )`);
    await q.query(`CREATE INDEX entitlement_account_idx ON entitlement (account_id, created_at, id)`);
    await q.query(`CREATE UNIQUE INDEX entitlement_line_idx ON entitlement (order_line_id)`);
    await q.query(`CREATE INDEX entitlement_due_idx ON entitlement (status, grace_ends_at) WHERE status IN ('ACTIVE','SUSPENDED')`);

    // What an entitlement grants, flattened from the product (bundles expanded) and
    // multiplied by the quantity; limit_total NULL = unlimited. feature_key is copied so a
    // check needs no join to the catalog.
    await q.query(`
      CREATE TABLE entitlement_feature (
        entitlement_id uuid NOT NULL REFERENCES entitlement(id) ON DELETE CASCADE,
        account_id uuid NOT NULL,
        feature_id uuid NOT NULL REFERENCES feature(id),
        feature_key text NOT NULL,
        limit_total numeric CHECK (limit_total >= 0),
        PRIMARY KEY (entitlement_id, feature_id)
      )`);
    await q.query(`CREATE INDEX entitlement_feature_check_idx ON entitlement_feature (account_id, feature_key)`);

    // Which order lines shaped an entitlement (grant, renewals, amendments...): one history.
    await q.query(`
      CREATE TABLE entitlement_event (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        entitlement_id uuid NOT NULL REFERENCES entitlement(id),
        account_id uuid NOT NULL,
        at timestamptz(3) NOT NULL DEFAULT now(),
        kind text NOT NULL,
        order_line_id uuid REFERENCES order_line(id),
        key_id uuid,
        request_id text,
        note text,
        before jsonb,
        after jsonb
      )`);
    await q.query(`CREATE INDEX entitlement_event_ent_idx ON entitlement_event (entitlement_id, id)`);

    await q.query(`
      CREATE TABLE activation (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        entitlement_id uuid NOT NULL REFERENCES entitlement(id),
        account_id uuid NOT NULL,
        fingerprint text NOT NULL CHECK (length(fingerprint) BETWEEN 1 AND 255),
        name text,
        platform text,
        deployment text CHECK (deployment IN ('CLOUD','ON_PREM','SAAS','EMBEDDED','DEVICE')),
        activated_at timestamptz(3) NOT NULL DEFAULT now(),
        last_seen_at timestamptz(3) NOT NULL DEFAULT now(),
        deactivated_at timestamptz(3),
        created_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX activation_active_idx ON activation (entitlement_id, fingerprint) WHERE deactivated_at IS NULL`);
    await q.query(`CREATE INDEX activation_account_idx ON activation (account_id, fingerprint) WHERE deactivated_at IS NULL`);

    await q.query(`
      CREATE TABLE seat (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        entitlement_id uuid NOT NULL REFERENCES entitlement(id),
        account_id uuid NOT NULL,
        email text NOT NULL CHECK (email = lower(email)),
        contact_id uuid REFERENCES contact(id),
        assigned_at timestamptz(3) NOT NULL DEFAULT now(),
        released_at timestamptz(3),
        created_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX seat_active_idx ON seat (entitlement_id, email) WHERE released_at IS NULL`);
    await q.query(`CREATE INDEX seat_account_idx ON seat (account_id, email) WHERE released_at IS NULL`);

    // A lease is held while expires_at is in the future and it is not checked in: expired
    // leases free their slot by time alone, no job needed.
    await q.query(`
      CREATE TABLE lease (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        entitlement_id uuid NOT NULL REFERENCES entitlement(id),
        account_id uuid NOT NULL,
        holder text NOT NULL CHECK (length(holder) BETWEEN 1 AND 255),
        ttl_seconds int NOT NULL CHECK (ttl_seconds > 0),
        checked_out_at timestamptz(3) NOT NULL DEFAULT now(),
        expires_at timestamptz(3) NOT NULL,
        checked_in_at timestamptz(3),
        created_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX lease_live_idx ON lease (entitlement_id, expires_at) WHERE checked_in_at IS NULL`);

    // Metered balances, one row per entitlement, feature and reset period.
    await q.query(`
      CREATE TABLE consumption_balance (
        entitlement_id uuid NOT NULL REFERENCES entitlement(id),
        feature_id uuid NOT NULL REFERENCES feature(id),
        account_id uuid NOT NULL,
        period_start timestamptz NOT NULL,
        period_end timestamptz,
        entitled numeric,
        used numeric NOT NULL DEFAULT 0 CHECK (used >= 0),
        updated_at timestamptz(3) NOT NULL DEFAULT now(),
        PRIMARY KEY (entitlement_id, feature_id, period_start)
      )`);
    await q.query(`CREATE INDEX consumption_balance_account_idx ON consumption_balance (account_id)`);

    // One row per consume() idempotency key: a replay returns the stored answer.
    await q.query(`
      CREATE TABLE consumption (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        account_id uuid NOT NULL REFERENCES account(id),
        idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
        request_hash text NOT NULL,
        entitlement_id uuid REFERENCES entitlement(id),
        feature_key text NOT NULL,
        quantity numeric NOT NULL,
        allowed boolean NOT NULL,
        overage numeric NOT NULL DEFAULT 0,
        result jsonb NOT NULL,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        UNIQUE (account_id, idempotency_key)
      )`);
    await q.query(`CREATE INDEX consumption_entitlement_idx ON consumption (entitlement_id, created_at)`);

    // Public halves of the certificate signing keys, so every instance serves the same JWKS
    // and old certificates stay verifiable after a rotation.
    await q.query(`
      CREATE TABLE signing_key (
        kid text PRIMARY KEY,
        public_jwk jsonb NOT NULL,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        retired_at timestamptz(3)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of [
      'signing_key',
      'consumption',
      'consumption_balance',
      'lease',
      'seat',
      'activation',
      'entitlement_event',
      'entitlement_feature',
      'entitlement',
      'order_line',
      'order_revision',
      'sales_order',
    ]) {
      await q.query(`DROP TABLE ${t}`);
    }
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Compliance: findings (overuse, shelfware, unentitled and expired use, devices over the
 * limit), one per kind, account, entitlement, feature, meter and period, so a re-run updates
 * them; and the notifications raised (thresholds, expiry, new findings, overage), one per
 * deterministic key, so nothing is ever raised twice.
 */
export class Compliance1764300600000 implements MigrationInterface {
  name = 'Compliance1764300600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE compliance_finding (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        kind text NOT NULL CHECK (kind IN ('OVERUSE','UNDERUSE','UNENTITLED_USE','EXPIRED_USE','DEVICE_OVER_LIMIT')),
        account_id uuid NOT NULL REFERENCES account(id),
        entitlement_id uuid REFERENCES entitlement(id),
        feature_key text,
        meter_id uuid REFERENCES meter(id),
        meter_key text,
        period_start timestamptz NOT NULL,
        period_end timestamptz,
        unit text NOT NULL,
        entitled numeric,
        used numeric NOT NULL,
        over numeric NOT NULL DEFAULT 0,
        utilization numeric,
        leakage_minor bigint CHECK (leakage_minor >= 0),
        currency char(3),
        pricing jsonb,
        status text NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN','ACKNOWLEDGED','RESOLVED')),
        status_note text,
        status_changed_at timestamptz(3),
        status_changed_by_key_id uuid,
        auto_resolved boolean NOT NULL DEFAULT false,
        first_seen_at timestamptz(3) NOT NULL DEFAULT now(),
        last_seen_at timestamptz(3) NOT NULL DEFAULT now(),
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now(),
        CHECK ((leakage_minor IS NULL) = (currency IS NULL))
      )`);
    // The deduplication key: a re-run finds the same row and updates its quantities. NULLS
    // NOT DISTINCT: an account-level finding (no entitlement, no meter) is still one row.
    await q.query(`
      ALTER TABLE compliance_finding ADD CONSTRAINT compliance_finding_dedup
        UNIQUE NULLS NOT DISTINCT (kind, account_id, entitlement_id, feature_key, meter_id, period_start)`);
    await q.query(`CREATE INDEX compliance_finding_account_idx ON compliance_finding (account_id, created_at, id)`);
    await q.query(`CREATE INDEX compliance_finding_created_idx ON compliance_finding (created_at, id)`);

    // Everything raised for webhooks; `key` is the webhook idempotency key as well.
    await q.query(`
      CREATE TABLE notification (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        account_id uuid NOT NULL REFERENCES account(id),
        type text NOT NULL CHECK (type IN ('usage.threshold','entitlement.expiring','compliance.finding','consumption.overage')),
        key text NOT NULL UNIQUE,
        entitlement_id uuid REFERENCES entitlement(id),
        feature_key text,
        period_start timestamptz,
        period_end timestamptz,
        threshold numeric,
        superseded boolean NOT NULL DEFAULT false,
        deliveries_queued int NOT NULL DEFAULT 0,
        payload jsonb NOT NULL,
        created_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX notification_account_idx ON notification (account_id, created_at, id)`);
    await q.query(`CREATE INDEX notification_created_idx ON notification (created_at, id)`);

    // The threshold job looks for overage not yet notified every few minutes.
    await q.query(`CREATE INDEX consumption_overage_idx ON consumption (created_at) WHERE overage > 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX consumption_overage_idx`);
    await q.query(`DROP TABLE notification`);
    await q.query(`DROP TABLE compliance_finding`);
  }
}

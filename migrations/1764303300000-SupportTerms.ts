import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Contract terms on entitlements and support entitlement (issue 14, ADR 0037):
 * - `support_tier`: named support levels with their SLA targets (catalog configuration);
 * - `entitlement_terms`: one row per entitlement that was given terms (maintenance end,
 *   support level and end, warranty, cases allowed and used, after-expiry policy);
 *   entitlements without terms have no row, so fulfilment of orders without terms is
 *   unchanged;
 * - `support_case`: one row per recorded case, unique per account and idempotency key;
 * - `order_line.terms`: the terms as the order line gave them;
 * - `activation.serial` / `activation.shipped_on`: a device's serial number and the date it
 *   shipped (the warranty's SHIPMENT basis).
 */
export class SupportTerms1764303300000 implements MigrationInterface {
  name = 'SupportTerms1764303300000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE support_tier (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        key text NOT NULL UNIQUE,
        name text NOT NULL,
        first_response_minutes int NOT NULL CHECK (first_response_minutes > 0),
        resolution_minutes int NOT NULL CHECK (resolution_minutes > 0),
        coverage_hours text NOT NULL,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE entitlement_terms (
        entitlement_id uuid PRIMARY KEY REFERENCES entitlement(id) ON DELETE CASCADE,
        account_id uuid NOT NULL,
        maintenance_end date,
        support_tier_id uuid REFERENCES support_tier(id),
        support_end date,
        warranty_basis text CHECK (warranty_basis IN ('ORDER','SHIPMENT','ACTIVATION')),
        warranty_months int CHECK (warranty_months >= 0),
        warranty_coverage text,
        cases_allowed int CHECK (cases_allowed >= 0),
        cases_used int NOT NULL DEFAULT 0 CHECK (cases_used >= 0),
        after_expiry text NOT NULL DEFAULT 'KEEP_ACCESS' CHECK (after_expiry IN ('REVOKE','RESTRICT_TO_RELEASED','KEEP_ACCESS')),
        expiry_grace_days int NOT NULL DEFAULT 0 CHECK (expiry_grace_days >= 0),
        updated_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX entitlement_terms_account ON entitlement_terms (account_id)`);
    await q.query(`
      CREATE TABLE support_case (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        account_id uuid NOT NULL REFERENCES account(id),
        entitlement_id uuid NOT NULL REFERENCES entitlement(id) ON DELETE CASCADE,
        activation_id uuid,
        idempotency_key text NOT NULL,
        subject text,
        cases_used int NOT NULL,
        key_id uuid,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        UNIQUE (account_id, idempotency_key)
      )`);
    await q.query(`CREATE INDEX support_case_entitlement ON support_case (entitlement_id)`);
    await q.query(`ALTER TABLE order_line ADD COLUMN terms jsonb`);
    await q.query(`ALTER TABLE activation ADD COLUMN serial text, ADD COLUMN shipped_on date`);
    await q.query(`CREATE INDEX activation_serial ON activation (serial) WHERE serial IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX activation_serial`);
    await q.query(`ALTER TABLE activation DROP COLUMN serial, DROP COLUMN shipped_on`);
    await q.query(`ALTER TABLE order_line DROP COLUMN terms`);
    await q.query(`DROP TABLE support_case`);
    await q.query(`DROP TABLE entitlement_terms`);
    await q.query(`DROP TABLE support_tier`);
  }
}

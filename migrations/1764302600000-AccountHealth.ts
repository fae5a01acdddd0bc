import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The explainable health score (ADR 0031, docs/health.md): the latest computed score per
 * account with its measures, one history row per account and day, and a person's override
 * (value, reason, expiry) stored beside the computed score, never instead of it.
 */
export class AccountHealth1764302600000 implements MigrationInterface {
  name = 'AccountHealth1764302600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE account_health (
        account_id uuid PRIMARY KEY REFERENCES account(id),
        score numeric(4,1) NOT NULL CHECK (score BETWEEN 0 AND 100),
        band text NOT NULL CHECK (band IN ('GREEN','YELLOW','RED')),
        coverage numeric(5,4) NOT NULL CHECK (coverage > 0 AND coverage <= 1),
        measures jsonb NOT NULL,
        config_hash text NOT NULL,
        computed_at timestamptz(3) NOT NULL
      )`);
    await q.query(`
      CREATE TABLE account_health_history (
        account_id uuid NOT NULL REFERENCES account(id),
        day date NOT NULL,
        score numeric(4,1) NOT NULL,
        band text NOT NULL,
        coverage numeric(5,4) NOT NULL,
        override_score smallint,
        computed_at timestamptz(3) NOT NULL,
        PRIMARY KEY (account_id, day)
      )`);
    await q.query(`
      CREATE TABLE account_health_override (
        account_id uuid PRIMARY KEY REFERENCES account(id),
        score smallint NOT NULL CHECK (score BETWEEN 0 AND 100),
        reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
        expires_at timestamptz(3) NOT NULL,
        set_by_key_id uuid,
        created_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    // The health job's lease peak reads leases by entitlement and checkout time.
    await q.query(`CREATE INDEX lease_checkout_idx ON lease (entitlement_id, checked_out_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX lease_checkout_idx`);
    await q.query(`DROP TABLE account_health_override`);
    await q.query(`DROP TABLE account_health_history`);
    await q.query(`DROP TABLE account_health`);
  }
}

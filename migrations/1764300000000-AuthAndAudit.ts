import type { MigrationInterface, QueryRunner } from 'typeorm';

/** API keys (hashed secrets, roles, optional account scope) and the audit log. */
export class AuthAndAudit1764300000000 implements MigrationInterface {
  name = 'AuthAndAudit1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE api_key (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL,
        prefix text NOT NULL UNIQUE CHECK (prefix ~ '^[a-z0-9]{8}$'),
        secret_hash bytea NOT NULL CHECK (length(secret_hash) = 32),
        role text NOT NULL CHECK (role IN ('ADMIN','OPERATIONS','FINANCE','ANALYST','INTEGRATION','READONLY')),
        account_id uuid,
        created_by_key_id uuid REFERENCES api_key(id),
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        revoked_at timestamptz,
        last_used_at timestamptz
      )`);
    await q.query(`CREATE INDEX api_key_account_idx ON api_key (account_id) WHERE account_id IS NOT NULL`);
    await q.query(`
      CREATE TABLE audit_log (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at timestamptz(3) NOT NULL DEFAULT now(),
        key_id uuid REFERENCES api_key(id),
        operation text NOT NULL,
        entity text NOT NULL,
        entity_id text,
        action text NOT NULL,
        before jsonb,
        after jsonb,
        request_id text NOT NULL
      )`);
    await q.query(`CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id)`);
    await q.query(`CREATE INDEX audit_log_at_idx ON audit_log (at, id)`);
    await q.query(`CREATE INDEX audit_log_request_idx ON audit_log (request_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE audit_log`);
    await q.query(`DROP TABLE api_key`);
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Accounts (customers), their contacts, and the hub-wide external references
 * `(system, object, external_id) → (entity_type, entity_id)`; ties API keys' account scope
 * to real accounts.
 */
export class Accounts1764300200000 implements MigrationInterface {
  name = 'Accounts1764300200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE account (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 255),
        domain text CHECK (domain = lower(domain) AND length(domain) BETWEEN 1 AND 253),
        currency char(3) NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
        country char(2) CHECK (country ~ '^[A-Z]{2}$'),
        segment text CHECK (length(segment) BETWEEN 1 AND 100),
        status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE','ARCHIVED')),
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX account_created_idx ON account (created_at, id)`);
    await q.query(`CREATE INDEX account_domain_idx ON account (domain) WHERE domain IS NOT NULL`);

    await q.query(`
      CREATE TABLE contact (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        account_id uuid NOT NULL REFERENCES account(id),
        email text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 320),
        name text CHECK (length(name) <= 255),
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX contact_account_email_uq ON contact (account_id, email)`);
    // Pages of one account's contacts, oldest first (the keyset order).
    await q.query(`CREATE INDEX contact_account_created_idx ON contact (account_id, created_at, id)`);

    // entity_type is open (later domains add ORDER, ...): a format check, not a fixed list.
    // No foreign key on entity_id: it points into different tables; deleting a record
    // deletes its references in the same transaction.
    await q.query(`
      CREATE TABLE external_ref (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        system text NOT NULL CHECK (system = lower(system) AND length(system) BETWEEN 1 AND 255),
        object text NOT NULL CHECK (length(object) BETWEEN 1 AND 255),
        external_id text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 255),
        entity_type text NOT NULL CHECK (entity_type ~ '^[A-Z][A-Z_]*$'),
        entity_id uuid NOT NULL,
        created_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX external_ref_key_uq ON external_ref (system, object, external_id)`);
    await q.query(`CREATE INDEX external_ref_entity_idx ON external_ref (entity_type, entity_id)`);

    await q.query(`ALTER TABLE api_key ADD CONSTRAINT api_key_account_fk FOREIGN KEY (account_id) REFERENCES account(id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_key DROP CONSTRAINT api_key_account_fk`);
    await q.query(`DROP TABLE external_ref`);
    await q.query(`DROP TABLE contact`);
    await q.query(`DROP TABLE account`);
  }
}

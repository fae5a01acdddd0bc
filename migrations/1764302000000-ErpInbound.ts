import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What comes in from an ERP (issue 12, ADR 0026):
 * - `receivable`: the invoices, credit memos and payments of each account, upserted by
 *   (connection, external id); amounts in integer minor units.
 * - `sync_deal_link`: the other systems' deals a pulled deal names as the same deal (a
 *   NetSuite sales order booked from a Salesforce Opportunity), so the engine finds the
 *   copies of one deal whichever arrives first; `sync_record.status` LINKED for the copy that
 *   is recorded but grants nothing.
 * - `compliance_finding.kind` DUPLICATE_SOURCE, with `details` (both sources and ids).
 */
export class ErpInbound1764302000000 implements MigrationInterface {
  name = 'ErpInbound1764302000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE receivable (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        connection_id uuid NOT NULL REFERENCES sync_connection(id) ON DELETE CASCADE,
        external_id text NOT NULL,
        account_id uuid NOT NULL REFERENCES account(id),
        kind text NOT NULL CHECK (kind IN ('INVOICE','CREDIT_MEMO','PAYMENT')),
        number text,
        doc_date date NOT NULL,
        due_date date,
        currency char(3) NOT NULL,
        amount_minor bigint NOT NULL CHECK (amount_minor >= 0),
        open_minor bigint NOT NULL CHECK (open_minor >= 0),
        status text,
        modified_at timestamptz(3) NOT NULL,
        deleted boolean NOT NULL DEFAULT false,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now(),
        UNIQUE (connection_id, external_id)
      )`);
    await q.query(`CREATE INDEX receivable_account_idx ON receivable (account_id, doc_date, id)`);

    await q.query(`
      CREATE TABLE sync_deal_link (
        connection_id uuid NOT NULL REFERENCES sync_connection(id) ON DELETE CASCADE,
        deal_external_id text NOT NULL,
        system text NOT NULL,
        object text NOT NULL,
        external_id text NOT NULL,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        PRIMARY KEY (connection_id, deal_external_id, system, object, external_id)
      )`);
    await q.query(`CREATE INDEX sync_deal_link_target_idx ON sync_deal_link (system, external_id)`);

    // Which copy of a deal grants when a pulled deal names the same deal in another system.
    await q.query(`ALTER TABLE sync_connection ADD COLUMN deal_source text NOT NULL DEFAULT 'CRM' CHECK (deal_source IN ('CRM','ERP'))`);
    await q.query(`ALTER TABLE sync_record DROP CONSTRAINT sync_record_status_check`);
    await q.query(`ALTER TABLE sync_record ADD CONSTRAINT sync_record_status_check CHECK (status IN ('APPLIED','FAILED','WITHDRAWN','IGNORED','LINKED'))`);

    await q.query(`ALTER TABLE compliance_finding DROP CONSTRAINT compliance_finding_kind_check`);
    await q.query(
      `ALTER TABLE compliance_finding ADD CONSTRAINT compliance_finding_kind_check CHECK (kind IN ('OVERUSE','UNDERUSE','UNENTITLED_USE','EXPIRED_USE','DEVICE_OVER_LIMIT','DUPLICATE_SOURCE'))`,
    );
    await q.query(`ALTER TABLE compliance_finding ADD COLUMN details jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE compliance_finding DROP COLUMN details`);
    await q.query(`DELETE FROM compliance_finding WHERE kind = 'DUPLICATE_SOURCE'`);
    await q.query(`ALTER TABLE compliance_finding DROP CONSTRAINT compliance_finding_kind_check`);
    await q.query(`ALTER TABLE compliance_finding ADD CONSTRAINT compliance_finding_kind_check CHECK (kind IN ('OVERUSE','UNDERUSE','UNENTITLED_USE','EXPIRED_USE','DEVICE_OVER_LIMIT'))`);
    await q.query(`UPDATE sync_record SET status = 'IGNORED' WHERE status = 'LINKED'`);
    await q.query(`ALTER TABLE sync_record DROP CONSTRAINT sync_record_status_check`);
    await q.query(`ALTER TABLE sync_record ADD CONSTRAINT sync_record_status_check CHECK (status IN ('APPLIED','FAILED','WITHDRAWN','IGNORED'))`);
    await q.query(`ALTER TABLE sync_connection DROP COLUMN deal_source`);
    await q.query(`DROP TABLE sync_deal_link`);
    await q.query(`DROP TABLE receivable`);
  }
}

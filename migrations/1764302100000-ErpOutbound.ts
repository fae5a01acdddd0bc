import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What goes out to an ERP (issue 12, ADR 0027):
 * - `sync_outbox.object` also `usage-record` (one row per entitlement and billing period) and
 *   `journal-entry` (one row per closed revenue period, subsidiary and currency);
 * - `external_ref.subsidiary`: the ERP subsidiary (legal entity) of an account as the ERP
 *   reports it on pull (`ExternalAccount.subsidiary`); null = the connection's
 *   `defaultSubsidiary` option, or none.
 */
export class ErpOutbound1764302100000 implements MigrationInterface {
  name = 'ErpOutbound1764302100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE sync_outbox DROP CONSTRAINT sync_outbox_object_check`);
    await q.query(
      `ALTER TABLE sync_outbox ADD CONSTRAINT sync_outbox_object_check CHECK (object IN ('account-fields','renewal-opportunity','entitlement','usage-record','journal-entry'))`,
    );
    await q.query(`ALTER TABLE external_ref ADD COLUMN subsidiary text CHECK (subsidiary IS NULL OR length(subsidiary) BETWEEN 1 AND 100)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE external_ref DROP COLUMN subsidiary`);
    await q.query(`DELETE FROM sync_outbox WHERE object IN ('usage-record','journal-entry')`);
    await q.query(`ALTER TABLE sync_outbox DROP CONSTRAINT sync_outbox_object_check`);
    await q.query(`ALTER TABLE sync_outbox ADD CONSTRAINT sync_outbox_object_check CHECK (object IN ('account-fields','renewal-opportunity','entitlement'))`);
  }
}

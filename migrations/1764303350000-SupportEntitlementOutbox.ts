import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Support terms in the CRM (ADR 0037): the outbox may hold `support-entitlement` items — one
 * per entitlement with a support level and connection, key `ehub-support:<entitlement id>`.
 */
export class SupportEntitlementOutbox1764303350000 implements MigrationInterface {
  name = 'SupportEntitlementOutbox1764303350000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE sync_outbox DROP CONSTRAINT sync_outbox_object_check`);
    await q.query(
      `ALTER TABLE sync_outbox ADD CONSTRAINT sync_outbox_object_check CHECK (object IN ('account-fields','renewal-opportunity','trueup-opportunity','entitlement','support-entitlement','usage-record','journal-entry'))`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM sync_outbox WHERE object = 'support-entitlement'`);
    await q.query(`ALTER TABLE sync_outbox DROP CONSTRAINT sync_outbox_object_check`);
    await q.query(
      `ALTER TABLE sync_outbox ADD CONSTRAINT sync_outbox_object_check CHECK (object IN ('account-fields','renewal-opportunity','trueup-opportunity','entitlement','usage-record','journal-entry'))`,
    );
  }
}

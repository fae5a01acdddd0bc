import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Revenue recovery (ADR 0034): the outbox may hold `trueup-opportunity` items — one per
 * compliance finding and connection, key `ehub-trueup:<finding id>`.
 */
export class TrueupOpportunities1764302950000 implements MigrationInterface {
  name = 'TrueupOpportunities1764302950000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE sync_outbox DROP CONSTRAINT sync_outbox_object_check`);
    await q.query(
      `ALTER TABLE sync_outbox ADD CONSTRAINT sync_outbox_object_check CHECK (object IN ('account-fields','renewal-opportunity','trueup-opportunity','entitlement','usage-record','journal-entry'))`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM sync_outbox WHERE object = 'trueup-opportunity'`);
    await q.query(`ALTER TABLE sync_outbox DROP CONSTRAINT sync_outbox_object_check`);
    await q.query(
      `ALTER TABLE sync_outbox ADD CONSTRAINT sync_outbox_object_check CHECK (object IN ('account-fields','renewal-opportunity','entitlement','usage-record','journal-entry'))`,
    );
  }
}

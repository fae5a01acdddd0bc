import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes for the hot paths (issue 15; test/plans/query-plans.int-spec.ts): entitlements by
 * product (adoption, release access, support terms read a product's entitlements; before,
 * the whole table), and one of the two identical (entitlement_id, checked_out_at) indexes on
 * `lease` dropped (both were written on every lease checkout).
 */
export class HotPathIndexes1764303800000 implements MigrationInterface {
  name = 'HotPathIndexes1764303800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS entitlement_product_idx ON entitlement (product_id, account_id)`);
    await q.query(`DROP INDEX IF EXISTS lease_checkout_idx`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS lease_checkout_idx ON lease (entitlement_id, checked_out_at)`);
    await q.query(`DROP INDEX IF EXISTS entitlement_product_idx`);
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Entitlements by order, and entitlement events by order line (issue 15; test/plans/query-plans.int-spec.ts). The sync
 * marks written with every fulfilled order (`markSyncDirty`: the entitlements an order's lines
 * shaped), the revision of an order line (`restoreFromEvent`: the last event of a kind a line
 * caused), the CRM payloads and the delivery renewals all find events by `order_line_id`; with
 * no index each read the whole table (182,652 rows, ~110 ms, per order in the fulfilment bench
 * with a push connection). Partial: events not caused by an order line (licensing changes,
 * suspensions) are most of the table and are never looked up this way.
 *
 * `submitOrder`'s answer (the order's entitlements) read entitlements by `order_id` through
 * the whole table too (182,600 rows, ~18 ms per order at that size).
 */
export class OrderLookupIndexes1764304200000 implements MigrationInterface {
  name = 'OrderLookupIndexes1764304200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS entitlement_order_idx ON entitlement (order_id)`);
    await q.query(`CREATE INDEX IF NOT EXISTS entitlement_event_line_idx ON entitlement_event (order_line_id, id) WHERE order_line_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS entitlement_event_line_idx`);
    await q.query(`DROP INDEX IF EXISTS entitlement_order_idx`);
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes for customer360 (ADR 0032), so its per-account sections stay index lookups as the
 * hub grows: "was this term renewed?" (the timeline's ended terms, bi.renewals) looks lines
 * up by the line they renew, and an account's outbox items are counted per connection.
 */
export class Customer360Indexes1764302700000 implements MigrationInterface {
  name = 'Customer360Indexes1764302700000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX order_line_renews_idx ON order_line (renews_line_id) WHERE renews_line_id IS NOT NULL`);
    await q.query(`CREATE INDEX sync_outbox_account_idx ON sync_outbox (account_id, connection_id) WHERE account_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX sync_outbox_account_idx`);
    await q.query(`DROP INDEX order_line_renews_idx`);
  }
}

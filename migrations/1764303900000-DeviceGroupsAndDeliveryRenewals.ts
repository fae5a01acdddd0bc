import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 14, the last of part 3 (ADR 0048, docs/delivery.md):
 * - device groups: an activation belongs to at most one named group (an operator's choice,
 *   `setDeviceGroup`), and a rollout can offer its release to named groups first, whatever
 *   their percentage bucket (`release_rollout.groups`);
 * - the renewal signal of delivery: per account, the devices held back from their product's
 *   newest stable release by lapsed maintenance or warranty, the entitlements that lapsed
 *   and what renewing their maintenance is worth per currency (minor units), as the
 *   `delivery-renewals` job last computed it.
 */
export class DeviceGroupsAndDeliveryRenewals1764303900000 implements MigrationInterface {
  name = 'DeviceGroupsAndDeliveryRenewals1764303900000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE activation ADD COLUMN device_group text CHECK (device_group ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$')`);
    await q.query(`CREATE INDEX activation_device_group_idx ON activation (device_group) WHERE device_group IS NOT NULL`);
    await q.query(`ALTER TABLE release_rollout ADD COLUMN groups text[] NOT NULL DEFAULT '{}'`);
    await q.query(`
      CREATE TABLE account_delivery_renewal (
        account_id uuid PRIMARY KEY REFERENCES account(id) ON DELETE CASCADE,
        devices int NOT NULL CHECK (devices > 0),
        entitlement_ids uuid[] NOT NULL,
        amounts jsonb NOT NULL,
        computed_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE account_delivery_renewal`);
    await q.query(`ALTER TABLE release_rollout DROP COLUMN groups`);
    await q.query(`DROP INDEX activation_device_group_idx`);
    await q.query(`ALTER TABLE activation DROP COLUMN device_group`);
  }
}

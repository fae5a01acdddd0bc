import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Device updates (issue 14 part 3, ADR 0039, docs/delivery.md):
 * - `activation`: the hash of the per-device update token (issued at activation, rotated by a
 *   re-activation of the same fingerprint), what the device last said it runs (version,
 *   channel, architecture, device type) and when it last polled for an update;
 * - `device_update_report`: what a device reported about a release (DOWNLOADING, INSTALLED,
 *   FAILED), unique per device and idempotency key (a retried report is stored once).
 */
export class DeviceUpdates1764303600000 implements MigrationInterface {
  name = 'DeviceUpdates1764303600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE activation
        ADD COLUMN update_token_hash text,
        ADD COLUMN software_version text,
        ADD COLUMN software_channel text,
        ADD COLUMN architecture text,
        ADD COLUMN device_type text,
        ADD COLUMN update_polled_at timestamptz(3)`);
    await q.query(`
      CREATE TABLE device_update_report (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        activation_id uuid NOT NULL REFERENCES activation(id),
        account_id uuid NOT NULL,
        release_id uuid NOT NULL REFERENCES release(id),
        status text NOT NULL CHECK (status IN ('DOWNLOADING','INSTALLED','FAILED')),
        reason text,
        reported_at timestamptz(3) NOT NULL DEFAULT now(),
        idempotency_key text,
        UNIQUE (activation_id, idempotency_key)
      )`);
    // Fresh statistics for the wider rows: on a never-analysed activation table the planner's
    // default estimate for the wider tuples made it read activation_account_idx whole for
    // `check` and `activateDevice` (test/plans); ANALYZE samples, so it is cheap on a big table.
    await q.query(`ANALYZE activation`);
    await q.query(`CREATE INDEX device_update_report_release_idx ON device_update_report (release_id, status)`);
    await q.query(`CREATE INDEX device_update_report_activation_idx ON device_update_report (activation_id, reported_at DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE device_update_report`);
    await q.query(`
      ALTER TABLE activation
        DROP COLUMN update_token_hash,
        DROP COLUMN software_version,
        DROP COLUMN software_channel,
        DROP COLUMN architecture,
        DROP COLUMN device_type,
        DROP COLUMN update_polled_at`);
  }
}

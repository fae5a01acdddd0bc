import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The MQTT update notices sent (ADR 0065): one row per release and device told of it. A device
 * is told of a release once — not again when an operator advances the rollout past it, when a
 * second change follows the first before its notices went out, or when another instance sends
 * for the same release — until a halted rollout is resumed (then the devices still offered
 * are told again). A notice that could not be published leaves no row, so a later change
 * tries that device again.
 */
export class UpdateNoticesSent1764304400000 implements MigrationInterface {
  name = 'UpdateNoticesSent1764304400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE update_notice (
        release_id uuid NOT NULL REFERENCES release(id) ON DELETE CASCADE,
        activation_id uuid NOT NULL REFERENCES activation(id) ON DELETE CASCADE,
        sent_at timestamptz(3) NOT NULL DEFAULT now(),
        PRIMARY KEY (release_id, activation_id)
      )`);
    // Deleting an activation finds its notices by this index, not through the whole table.
    await q.query(`CREATE INDEX update_notice_activation_idx ON update_notice (activation_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS update_notice`);
  }
}

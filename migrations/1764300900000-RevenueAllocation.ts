import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An obligation whose order cannot be allocated (a product without an SSP among several
 * obligations) is still recorded, unallocated: no SSP, allocation 0, no entries, and the
 * reason in allocation_error, so revenueSchedule and the exports can say so instead of the
 * order failing to fulfil or a price being guessed.
 */
export class RevenueAllocation1764300900000 implements MigrationInterface {
  name = 'RevenueAllocation1764300900000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE revenue_obligation ALTER COLUMN ssp_minor DROP NOT NULL`);
    await q.query(`ALTER TABLE revenue_obligation ADD COLUMN allocation_error text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE revenue_obligation DROP COLUMN allocation_error`);
    await q.query(`UPDATE revenue_obligation SET ssp_minor = 0 WHERE ssp_minor IS NULL`);
    await q.query(`ALTER TABLE revenue_obligation ALTER COLUMN ssp_minor SET NOT NULL`);
  }
}

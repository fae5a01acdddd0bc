import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A METERED line may carry a per-unit overage price (minor units of the order currency):
 * the revenue engine recognises the overage drawn in a month × this price as consumed
 * (USAGE entries), next to the line's ratable fixed fee. Null = overage not priced here.
 */
export class OverageUnitPrice1764301000000 implements MigrationInterface {
  name = 'OverageUnitPrice1764301000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE order_line ADD COLUMN overage_unit_price_minor bigint CHECK (overage_unit_price_minor >= 0)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE order_line DROP COLUMN overage_unit_price_minor`);
  }
}

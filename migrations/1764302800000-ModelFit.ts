import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Monetization-model fit (ADR 0033, docs/model-fit.md): the catalog's price of a product under
 * each model it can be sold in (one row per product and model), and the latest fit summary
 * per account that the CRM and ERP account fields carry.
 */
export class ModelFit1764302800000 implements MigrationInterface {
  name = 'ModelFit1764302800000';

  async up(q: QueryRunner): Promise<void> {
    // unit_price_minor: per named user / device / concurrent user and year, per `per_units`
    // units of the meter (USAGE), or the overage price per `per_units` units (HYBRID).
    await q.query(`
      CREATE TABLE product_model_price (
        product_id uuid NOT NULL REFERENCES product(id) ON DELETE CASCADE,
        model text NOT NULL CHECK (model IN ('NAMED_USER','CONCURRENT','DEVICE_LOCKED','USAGE','HYBRID')),
        currency char(3) NOT NULL,
        unit_price_minor bigint NOT NULL CHECK (unit_price_minor >= 0),
        per_units int NOT NULL DEFAULT 1 CHECK (per_units >= 1),
        meter_id uuid REFERENCES meter(id),
        base_fee_minor bigint CHECK (base_fee_minor >= 0),
        included_units numeric CHECK (included_units >= 0),
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now(),
        PRIMARY KEY (product_id, model),
        CHECK ((model IN ('USAGE','HYBRID')) = (meter_id IS NOT NULL)),
        CHECK ((model = 'HYBRID') = (base_fee_minor IS NOT NULL AND included_units IS NOT NULL))
      )`);
    await q.query(`CREATE INDEX product_model_price_meter_idx ON product_model_price (meter_id) WHERE meter_id IS NOT NULL`);
    await q.query(`
      CREATE TABLE account_model_fit (
        account_id uuid PRIMARY KEY REFERENCES account(id),
        summary text,
        recommendation text,
        product_id uuid REFERENCES product(id) ON DELETE SET NULL,
        saving_minor bigint,
        currency char(3),
        products jsonb NOT NULL,
        computed_at timestamptz(3) NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE account_model_fit`);
    await q.query(`DROP TABLE product_model_price`);
  }
}

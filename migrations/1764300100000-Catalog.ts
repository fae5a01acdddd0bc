import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The catalog: products (with prices in minor units), features, what each product grants
 * (product_feature), bundles (product_component) and meters.
 */
export class Catalog1764300100000 implements MigrationInterface {
  name = 'Catalog1764300100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE product (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        sku text NOT NULL UNIQUE CHECK (length(sku) BETWEEN 1 AND 100),
        name text NOT NULL,
        description text,
        kind text NOT NULL CHECK (kind IN ('SOFTWARE','HARDWARE','IOT_DEVICE','SAAS','SERVICE','SUPPORT')),
        currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        list_price_minor bigint NOT NULL CHECK (list_price_minor >= 0),
        ssp_minor bigint CHECK (ssp_minor >= 0),
        default_model text NOT NULL CHECK (default_model IN
          ('PERPETUAL','SUBSCRIPTION','DEVICE_LOCKED','NAMED_USER','CONCURRENT','USAGE','METERED','OUTCOME')),
        status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE','ARCHIVED')),
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX product_created_idx ON product (created_at, id)`);

    await q.query(`
      CREATE TABLE feature (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        key text NOT NULL UNIQUE CHECK (key ~ '^[a-z0-9][a-z0-9._-]{0,99}$'),
        name text NOT NULL,
        description text,
        status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE','ARCHIVED')),
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX feature_created_idx ON feature (created_at, id)`);

    // A product's own grants and components go with it; the products and features they
    // point at cannot be deleted while referenced (archive them instead).
    await q.query(`
      CREATE TABLE product_feature (
        product_id uuid NOT NULL REFERENCES product(id) ON DELETE CASCADE,
        feature_id uuid NOT NULL REFERENCES feature(id),
        limit_per_unit numeric CHECK (limit_per_unit >= 0),
        PRIMARY KEY (product_id, feature_id)
      )`);
    await q.query(`COMMENT ON COLUMN product_feature.limit_per_unit IS 'per unit of the product; NULL = unlimited'`);
    await q.query(`CREATE INDEX product_feature_feature_idx ON product_feature (feature_id)`);

    await q.query(`
      CREATE TABLE product_component (
        bundle_id uuid NOT NULL REFERENCES product(id) ON DELETE CASCADE,
        component_id uuid NOT NULL REFERENCES product(id),
        quantity int NOT NULL CHECK (quantity > 0),
        PRIMARY KEY (bundle_id, component_id),
        CHECK (bundle_id <> component_id)
      )`);
    await q.query(`CREATE INDEX product_component_component_idx ON product_component (component_id)`);

    await q.query(`
      CREATE TABLE meter (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        key text NOT NULL UNIQUE CHECK (key ~ '^[a-z0-9][a-z0-9._-]{0,99}$'),
        name text NOT NULL,
        aggregation text NOT NULL CHECK (aggregation IN ('SUM','COUNT','MAX','UNIQUE_COUNT','LATEST')),
        unit text NOT NULL,
        value_property text,
        feature_id uuid REFERENCES feature(id),
        status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE','ARCHIVED')),
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now(),
        CHECK (aggregation <> 'UNIQUE_COUNT' OR value_property IS NOT NULL)
      )`);
    await q.query(`CREATE INDEX meter_created_idx ON meter (created_at, id)`);
    await q.query(`CREATE INDEX meter_feature_idx ON meter (feature_id) WHERE feature_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE meter`);
    await q.query(`DROP TABLE product_component`);
    await q.query(`DROP TABLE product_feature`);
    await q.query(`DROP TABLE feature`);
    await q.query(`DROP TABLE product`);
  }
}

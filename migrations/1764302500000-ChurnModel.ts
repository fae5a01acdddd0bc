import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The churn model (docs/churn.md, ADR 0029): each trained version with everything needed to
 * score again exactly (feature names, means, standard deviations, coefficients, intercept,
 * Platt parameters) and its validation figures; ARR forecast snapshots with one row per term
 * forecast, whose outcome is recorded once the term has ended; and indexes the feature
 * queries read seats, devices and leases by (entitlement, time) with.
 */
export class ChurnModel1764302500000 implements MigrationInterface {
  name = 'ChurnModel1764302500000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE churn_model (
        version int PRIMARY KEY CHECK (version >= 1),
        trained_at timestamptz(3) NOT NULL DEFAULT now(),
        as_of date NOT NULL,
        window_from date NOT NULL,
        window_to date NOT NULL,
        features text[] NOT NULL,
        means float8[] NOT NULL,
        sds float8[] NOT NULL,
        coefficients float8[] NOT NULL,
        intercept float8 NOT NULL,
        platt_a float8 NOT NULL,
        platt_b float8 NOT NULL,
        lambda float8 NOT NULL,
        iterations int NOT NULL,
        metrics jsonb NOT NULL,
        CHECK (cardinality(features) = cardinality(means) AND cardinality(features) = cardinality(sds)
               AND cardinality(features) = cardinality(coefficients))
      )`);

    await q.query(`
      CREATE TABLE arr_forecast_snapshot (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        taken_at timestamptz(3) NOT NULL DEFAULT now(),
        as_of date NOT NULL,
        model_version int REFERENCES churn_model(version),
        source text NOT NULL CHECK (source IN ('MODEL','BASELINE'))
      )`);
    await q.query(`CREATE INDEX arr_forecast_snapshot_as_of_idx ON arr_forecast_snapshot (as_of, id)`);

    // One row per open term in the snapshot: its ARR and P(renew) then; renewed is filled in
    // (true/false) by a later snapshot once the term has ended.
    await q.query(`
      CREATE TABLE arr_forecast_item (
        snapshot_id bigint NOT NULL REFERENCES arr_forecast_snapshot(id) ON DELETE CASCADE,
        order_line_id uuid NOT NULL REFERENCES order_line(id),
        account_id uuid NOT NULL,
        term_end date NOT NULL,
        month date NOT NULL,
        currency char(3) NOT NULL,
        arr_minor bigint NOT NULL,
        p_renew float8 NOT NULL CHECK (p_renew >= 0 AND p_renew <= 1),
        renewed boolean,
        settled_at timestamptz(3),
        PRIMARY KEY (snapshot_id, order_line_id)
      )`);
    await q.query(`CREATE INDEX arr_forecast_item_open_idx ON arr_forecast_item (term_end) WHERE renewed IS NULL`);

    await q.query(`CREATE INDEX seat_entitlement_time_idx ON seat (entitlement_id, assigned_at)`);
    await q.query(`CREATE INDEX activation_entitlement_time_idx ON activation (entitlement_id, activated_at)`);
    await q.query(`CREATE INDEX lease_entitlement_time_idx ON lease (entitlement_id, checked_out_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX lease_entitlement_time_idx`);
    await q.query(`DROP INDEX activation_entitlement_time_idx`);
    await q.query(`DROP INDEX seat_entitlement_time_idx`);
    await q.query(`DROP TABLE arr_forecast_item`);
    await q.query(`DROP TABLE arr_forecast_snapshot`);
    await q.query(`DROP TABLE churn_model`);
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Revenue recognition (ASC 606 / IFRS 15): performance obligations per order line (or per
 * bundle component), allocated by relative standalone selling price; the schedule as an
 * append-only ledger of monthly entries (a modification adds entries to open months, never
 * rewrites closed ones); modifications; periods that can be closed; billing (invoices).
 */
export class Revenue1764300800000 implements MigrationInterface {
  name = 'Revenue1764300800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE revenue_obligation (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        account_id uuid NOT NULL REFERENCES account(id),
        order_id uuid NOT NULL REFERENCES sales_order(id),
        order_line_id uuid NOT NULL REFERENCES order_line(id),
        product_id uuid NOT NULL REFERENCES product(id),
        bundle_product_id uuid REFERENCES product(id),
        pattern text NOT NULL CHECK (pattern IN ('POINT_IN_TIME','RATABLE','AS_CONSUMED','ON_DELIVERY')),
        currency char(3) NOT NULL,
        quantity numeric NOT NULL,
        list_minor bigint NOT NULL,
        ssp_minor bigint NOT NULL,
        allocated_minor bigint NOT NULL,
        start_date date NOT NULL,
        end_date date,
        status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE','CANCELLED')),
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now(),
        UNIQUE (order_line_id, product_id)
      )`);
    await q.query(`CREATE INDEX revenue_obligation_account_idx ON revenue_obligation (account_id, order_id)`);

    // Recognised in month M = SUM(amount_minor) of the entries for M. Entries are only added:
    // the initial schedule, then adjustments for modifications, in open months only.
    await q.query(`
      CREATE TABLE revenue_entry (
        id bigint GENERATED ALWAYS AS IDENTITY,
        account_id uuid NOT NULL,
        obligation_id uuid NOT NULL REFERENCES revenue_obligation(id),
        month date NOT NULL CHECK (extract(day FROM month) = 1),
        amount_minor bigint NOT NULL,
        kind text NOT NULL CHECK (kind IN ('SCHEDULE','ADJUSTMENT','USAGE')),
        modification_id uuid,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        PRIMARY KEY (account_id, id)
      )`);
    await q.query(`CREATE INDEX revenue_entry_obligation_idx ON revenue_entry (obligation_id, month)`);
    await q.query(`CREATE INDEX revenue_entry_month_idx ON revenue_entry (month, obligation_id)`);

    await q.query(`
      CREATE TABLE revenue_modification (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        account_id uuid NOT NULL,
        obligation_id uuid NOT NULL REFERENCES revenue_obligation(id),
        effective_date date NOT NULL,
        first_open_month date NOT NULL,
        reason text NOT NULL,
        before jsonb,
        after jsonb,
        created_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX revenue_modification_obligation_idx ON revenue_modification (obligation_id, created_at)`);

    await q.query(`
      CREATE TABLE revenue_period (
        month date PRIMARY KEY CHECK (extract(day FROM month) = 1),
        closed_at timestamptz(3) NOT NULL DEFAULT now(),
        closed_by_key_id uuid
      )`);

    // Billing: what was invoiced when (on the order date unless an invoice schedule is given).
    await q.query(`
      CREATE TABLE revenue_invoice (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        account_id uuid NOT NULL,
        order_id uuid NOT NULL REFERENCES sales_order(id),
        order_line_id uuid REFERENCES order_line(id),
        invoice_date date NOT NULL,
        amount_minor bigint NOT NULL,
        currency char(3) NOT NULL,
        created_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX revenue_invoice_account_idx ON revenue_invoice (account_id, order_id)`);

    // Per-product recognition policy: the pattern when the default derived from kind and model
    // does not fit (e.g. term licences recognised ratably), and whether a bundle is split into
    // one obligation per component.
    await q.query(`
      CREATE TABLE revenue_product_policy (
        product_id uuid PRIMARY KEY REFERENCES product(id),
        pattern text CHECK (pattern IN ('POINT_IN_TIME','RATABLE','AS_CONSUMED','ON_DELIVERY')),
        split_bundle boolean NOT NULL DEFAULT false,
        updated_at timestamptz(3) NOT NULL DEFAULT now()
      )`);

    // A line may override the catalog's standalone selling price (per unit).
    await q.query(`ALTER TABLE order_line ADD COLUMN ssp_minor bigint CHECK (ssp_minor >= 0)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE order_line DROP COLUMN ssp_minor`);
    for (const t of ['revenue_product_policy', 'revenue_invoice', 'revenue_period', 'revenue_modification', 'revenue_entry', 'revenue_obligation']) await q.query(`DROP TABLE ${t}`);
  }
}

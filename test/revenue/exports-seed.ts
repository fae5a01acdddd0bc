import type { DataSource } from 'typeorm';

/*
 * TEST HELPER (exports only): writes revenue rows straight into the tables with SQL, the way the
 * revenue engine would, so the exports are tested on exact, hand-checked figures independently
 * of the engine's allocation and schedules. End-to-end tests go through submitOrder instead.
 */

export interface SeededExample {
  accountId: string;
  otherAccountId: string;
  orderId: string;
  licence: string;
  subscription: string;
  cancelled: string;
  invoices: string[];
}

async function one<T>(ds: DataSource, sql: string, params: unknown[]): Promise<T> {
  const rows = (await ds.query(sql, params)) as T[];
  return rows[0]!;
}

/**
 * The worked example of docs/finance.md:
 * - Order WEB/SO-1001 of account "Acme Robotics", USD, lines: 1 = perpetual licence (POINT_IN_TIME,
 *   allocated 50,000 minor, recognised in January 2027); 2 = 90-day subscription 2027-01-15 to
 *   2027-04-14 (RATABLE, allocated 90,000 = 1,000 a day: Jan 17,000, Feb 28,000, Mar 31,000,
 *   Apr 14,000). Invoices: 60,000 on 2027-01-15, 80,000 on 2027-03-10.
 * - Order CRM/SO-2002 of another account, "=Globex" (a formula-looking name), EUR: a RATABLE
 *   obligation Feb–Mar 2027 of 10,000 cancelled from March (schedule 5,000 + 5,000, then an
 *   adjustment of −5,000 in March); invoiced 10,000 on 2027-02-01.
 */
export async function seedWorkedExample(ds: DataSource): Promise<SeededExample> {
  const product = async (sku: string, kind: string, model: string, currency = 'USD') =>
    (await one<{ id: string }>(ds, `INSERT INTO product (sku, name, kind, currency, list_price_minor, ssp_minor, default_model) VALUES ($1, $1, $2, $3, 0, 0, $4) RETURNING id`, [sku, kind, currency, model])).id;
  const licenceProduct = await product('LIC-PERP', 'SOFTWARE', 'PERPETUAL');
  const subProduct = await product('SAAS-SUB', 'SAAS', 'SUBSCRIPTION');
  const eurProduct = await product('SAAS-EUR', 'SAAS', 'SUBSCRIPTION', 'EUR');

  const account = async (name: string) => (await one<{ id: string }>(ds, `INSERT INTO account (name) VALUES ($1) RETURNING id`, [name])).id;
  const accountId = await account('Acme Robotics');
  const otherAccountId = await account('=Globex');

  const order = async (acc: string, source: string, externalId: string, currency: string) =>
    (await one<{ id: string }>(ds, `INSERT INTO sales_order (account_id, source, external_id, revision, order_date, currency) VALUES ($1, $2, $3, 1, '2027-01-15', $4) RETURNING id`, [acc, source, externalId, currency])).id;
  const orderId = await order(accountId, 'WEB', 'SO-1001', 'USD');
  const otherOrderId = await order(otherAccountId, 'CRM', 'SO-2002', 'EUR');

  const line = async (ord: string, acc: string, lineNo: number, prod: string, sku: string, model: string, currency: string, start: string, end: string | null) =>
    (await one<{ id: string }>(ds,
      `INSERT INTO order_line (order_id, account_id, line_no, product_id, sku, action, model, quantity, unit_price_minor, currency, start_date, end_date, revision)
       VALUES ($1, $2, $3, $4, $5, 'NEW', $6, 1, 0, $7, $8, $9, 1) RETURNING id`, [ord, acc, lineNo, prod, sku, model, currency, start, end])).id;
  const l1 = await line(orderId, accountId, 1, licenceProduct, 'LIC-PERP', 'PERPETUAL', 'USD', '2027-01-15', null);
  const l2 = await line(orderId, accountId, 2, subProduct, 'SAAS-SUB', 'SUBSCRIPTION', 'USD', '2027-01-15', '2027-04-14');
  const l3 = await line(otherOrderId, otherAccountId, 1, eurProduct, 'SAAS-EUR', 'SUBSCRIPTION', 'EUR', '2027-02-01', '2027-03-31');

  const obligation = async (acc: string, ord: string, ln: string, prod: string, pattern: string, currency: string, allocated: number, start: string, end: string | null, status = 'ACTIVE') =>
    (await one<{ id: string }>(ds,
      `INSERT INTO revenue_obligation (account_id, order_id, order_line_id, product_id, pattern, currency, quantity, list_minor, ssp_minor, allocated_minor, start_date, end_date, status)
       VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7, $7, $8, $9, $10) RETURNING id`, [acc, ord, ln, prod, pattern, currency, allocated, start, end, status])).id;
  const licence = await obligation(accountId, orderId, l1, licenceProduct, 'POINT_IN_TIME', 'USD', 50_000, '2027-01-15', null);
  const subscription = await obligation(accountId, orderId, l2, subProduct, 'RATABLE', 'USD', 90_000, '2027-01-15', '2027-04-14');
  const cancelled = await obligation(otherAccountId, otherOrderId, l3, eurProduct, 'RATABLE', 'EUR', 10_000, '2027-02-01', '2027-03-31', 'CANCELLED');

  const entry = (acc: string, ob: string, month: string, amount: number, kind = 'SCHEDULE') =>
    ds.query(`INSERT INTO revenue_entry (account_id, obligation_id, month, amount_minor, kind) VALUES ($1, $2, $3, $4, $5)`, [acc, ob, month, amount, kind]);
  await entry(accountId, licence, '2027-01-01', 50_000);
  for (const [m, a] of [['2027-01-01', 17_000], ['2027-02-01', 28_000], ['2027-03-01', 31_000], ['2027-04-01', 14_000]] as const) await entry(accountId, subscription, m, a);
  await entry(otherAccountId, cancelled, '2027-02-01', 5_000);
  await entry(otherAccountId, cancelled, '2027-03-01', 5_000);
  await entry(otherAccountId, cancelled, '2027-03-01', -5_000, 'ADJUSTMENT');

  const invoice = async (acc: string, ord: string, date: string, amount: number, currency: string) =>
    (await one<{ id: string }>(ds, `INSERT INTO revenue_invoice (account_id, order_id, invoice_date, amount_minor, currency) VALUES ($1, $2, $3, $4, $5) RETURNING id`, [acc, ord, date, amount, currency])).id;
  const invoices = [
    await invoice(accountId, orderId, '2027-01-15', 60_000, 'USD'),
    await invoice(accountId, orderId, '2027-03-10', 80_000, 'USD'),
    await invoice(otherAccountId, otherOrderId, '2027-02-01', 10_000, 'EUR'),
  ];
  return { accountId, otherAccountId, orderId, licence, subscription, cancelled, invoices };
}

/** Parses the exports' CSV (no quoted newlines in these fixtures): header + rows as objects. */
export function parseCsv(text: string): Record<string, string>[] {
  const lines = text.split('\r\n').filter((l) => l !== '');
  const split = (l: string) => {
    const out: string[] = [];
    let cur = '';
    let quoted = false;
    for (let i = 0; i < l.length; i++) {
      const c = l[i]!;
      if (quoted) {
        if (c === '"' && l[i + 1] === '"') {
          cur += '"';
          i++;
        } else if (c === '"') quoted = false;
        else cur += c;
      } else if (c === '"') quoted = true;
      else if (c === ',') {
        out.push(cur);
        cur = '';
      } else cur += c;
    }
    out.push(cur);
    return out;
  };
  const [header, ...rows] = lines.map(split);
  return rows.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i] ?? ''])));
}

/**
 * `obligations` ratable USD obligations of `months` × 10,000 minor units, each with one
 * 10,000 ledger entry per month from 2025-01, over up to 50 accounts, written set-based
 * (INSERT … SELECT generate_series): a waterfall of obligations × months rows for
 * ?from=2025-01 with cumulative k × 10,000 and deferred (months − k) × 10,000 in month k.
 */
export async function seedBulkWaterfall(ds: DataSource, obligations: number, months: number): Promise<void> {
  const { id: productId } = await one<{ id: string }>(ds,
    `INSERT INTO product (sku, name, kind, currency, list_price_minor, ssp_minor, default_model)
     VALUES ('BULK-SUB', 'Bulk subscription', 'SAAS', 'USD', 0, 0, 'SUBSCRIPTION') RETURNING id`, []);
  await ds.query(`INSERT INTO account (name) SELECT 'Bulk ' || lpad(i::text, 3, '0') FROM generate_series(1, least(50, $1::int)) i`, [obligations]);
  await ds.query(
    `INSERT INTO sales_order (account_id, source, external_id, revision, order_date, currency)
     SELECT a.ids[1 + i % a.n], 'bulk', 'BK-' || lpad(i::text, 7, '0'), 1, date '2025-01-01', 'USD'
       FROM generate_series(1, $1::int) i,
            (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n FROM account WHERE name LIKE 'Bulk %') a`, [obligations]);
  await ds.query(
    `INSERT INTO order_line (order_id, account_id, line_no, product_id, sku, action, model, quantity, unit_price_minor, currency, start_date, end_date, revision)
     SELECT so.id, so.account_id, 1, $1::uuid, 'BULK-SUB', 'NEW', 'SUBSCRIPTION', 1, 0, 'USD', so.order_date,
            (so.order_date + make_interval(months => $2::int) - interval '1 day')::date, 1
       FROM sales_order so WHERE so.source = 'bulk'`, [productId, months]);
  await ds.query(
    `INSERT INTO revenue_obligation (account_id, order_id, order_line_id, product_id, pattern, currency, quantity, list_minor, ssp_minor, allocated_minor, start_date, end_date)
     SELECT ol.account_id, ol.order_id, ol.id, ol.product_id, 'RATABLE', 'USD', 1, 0, 0, $1::bigint * 10000, ol.start_date, ol.end_date
       FROM order_line ol WHERE ol.sku = 'BULK-SUB'`, [months]);
  await ds.query(
    `INSERT INTO revenue_entry (account_id, obligation_id, month, amount_minor, kind)
     SELECT o.account_id, o.id, (o.start_date + make_interval(months => k))::date, 10000, 'SCHEDULE'
       FROM revenue_obligation o, generate_series(0, $1::int - 1) k WHERE o.currency = 'USD' AND o.pattern = 'RATABLE'`, [months]);
  await ds.query('ANALYZE revenue_obligation');
  await ds.query('ANALYZE revenue_entry');
}

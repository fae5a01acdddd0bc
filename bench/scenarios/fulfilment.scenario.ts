import type { Scenario } from '../support/types';
import { runBatch } from '../support/batch';

const LINES = Number(process.env.BENCH_FULFIL_LINES ?? 10_000);
const PER_ORDER = 10;
const CONCURRENCY = Number(process.env.BENCH_FULFIL_CONCURRENCY ?? 8);

const SUBMIT = `mutation Submit($input: OrderInput!) { submitOrder(input: $input) { id entitlements { id } } }`;

/**
 * Fulfilment throughput: 10,000 order lines in orders of 10 (1,000 distinct orders) over
 * GraphQL, each a transaction that stores the order and grants 10 entitlements (a bundle
 * among them, so features are expanded). Headline: order lines per second. The stored orders
 * and entitlements are counted afterwards (exact totals). The requests are sent from the
 * hub's own thread: sent from a worker thread instead, the run was slower (1,395–1,439 against
 * ~1,500 lines/s, 2026-12-05): on two cores the client then takes CPU from PostgreSQL.
 */
export const fulfilment: Scenario = {
  name: 'fulfilment',
  description: `submitOrder: ${LINES.toLocaleString('en-US')} lines in orders of ${PER_ORDER}, ${CONCURRENCY} in flight`,
  async run(ctx) {
    const post = ctx.hub.post.bind(ctx.hub);
    const must = async (q: string, v: Record<string, unknown>) => {
      const r = await post(q, v);
      if (r.status !== 200 || r.text.includes('"errors"')) throw new Error(`fulfilment setup failed: ${r.text}`);
    };
    for (const key of ['bench.core', 'bench.render', 'bench.seat']) {
      await must('mutation($i: UpsertFeatureInput!) { upsertFeature(input: $i) { id } }', { i: { key, name: key } });
    }
    const product = (sku: string, model: string, features: unknown[], components?: unknown[]) =>
      must('mutation($i: UpsertProductInput!) { upsertProduct(input: $i) { id } }', {
        i: { sku, name: sku, kind: 'SOFTWARE', listPrice: { amountMinor: 10000, currency: 'USD' }, defaultModel: model, features, components },
      });
    await product('BENCH-SUB', 'SUBSCRIPTION', [{ key: 'bench.core', limit: 1 }, { key: 'bench.render', limit: 10 }]);
    await product('BENCH-SEAT', 'NAMED_USER', [{ key: 'bench.seat', limit: 1 }]);
    await product('BENCH-SUITE', 'SUBSCRIPTION', [], [{ sku: 'BENCH-SUB', quantity: 2 }, { sku: 'BENCH-SEAT', quantity: 5 }]);
    const accounts: string[] = [];
    for (let a = 0; a < 20; a++) {
      const r = await post('mutation($i: UpsertAccountInput!) { upsertAccount(input: $i) { id } }', { i: { name: `Bench ${a}` } });
      accounts.push((JSON.parse(r.text) as { data: { upsertAccount: { id: string } } }).data.upsertAccount.id);
    }
    const skus = ['BENCH-SUB', 'BENCH-SEAT', 'BENCH-SUITE'];
    const orders = Math.ceil(LINES / PER_ORDER);
    const run = Date.now().toString(36);
    const figures = await runBatch(orders, CONCURRENCY, async (i) => {
      const input = {
        source: 'bench',
        externalId: `BENCH-${run}-${i}`,
        accountId: accounts[i % accounts.length],
        orderDate: '2027-01-01',
        currency: 'USD',
        lines: Array.from({ length: PER_ORDER }, (_, n) => ({
          lineNo: n + 1,
          sku: skus[n % skus.length],
          quantity: 1 + (n % 4),
          unitPrice: 10000,
          startDate: '2027-01-01',
          endDate: '2027-12-31',
        })),
      };
      const r = await post(SUBMIT, { input });
      if (r.status !== 200) return `HTTP ${r.status}: ${r.text.slice(0, 300)}`;
      const body = JSON.parse(r.text) as { data?: { submitOrder?: { entitlements: unknown[] } }; errors?: unknown[] };
      if (body.errors?.length) return JSON.stringify(body.errors).slice(0, 300);
      return body.data?.submitOrder?.entitlements.length === PER_ORDER ? null : 'wrong number of entitlements';
    });
    // Exact totals: every order stored once, with its lines and entitlements.
    const [stored] = await ctx.hub.services.db.ds.query(
      `SELECT count(DISTINCT o.id)::int AS orders, count(e.id)::int AS entitlements
         FROM sales_order o JOIN entitlement e ON e.order_id = o.id WHERE o.source = 'bench' AND o.external_id LIKE $1`,
      [`BENCH-${run}-%`],
    );
    if (stored.orders !== orders || stored.entitlements !== orders * PER_ORDER) {
      throw new Error(`fulfilment: ${orders} orders sent, ${stored.orders} stored with ${stored.entitlements} entitlements (want ${orders * PER_ORDER})`);
    }
    return { ...figures, headline: { value: Math.round((orders * PER_ORDER) / figures.durationSec), unit: 'order lines/s' } };
  },
};

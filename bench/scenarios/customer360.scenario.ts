import { performance } from 'node:perf_hooks';
import type { Figures, Scenario } from '../support/types';

const ENTITLEMENTS = 50;
const USAGE_DAYS = 200; // × 50 entitlements = 10,000 daily rollup rows
const FINDINGS = 200;
const INVOICES = 200;
/**
 * One request in flight by default: the target (p50 ≤ 30 ms) is about one answer's latency.
 * More in flight (BENCH_C360_CONNECTIONS=4) measures the event loop's queue, not the view.
 */
const CONNECTIONS = Number(process.env.BENCH_C360_CONNECTIONS ?? 1);

const QUERY = `query C360($id: ID) {
  customer360(account: $id) {
    account { id name }
    linkedRecords { system object externalId url }
    contacts(first: 10) { totalCount edges { node { email } } }
    arr { amountMinor currency }
    utilizationPercent
    entitlementGroups { sku model entitlements live used capacity utilizationPercent arr { amountMinor currency } items { entitlementId used capacity } }
    licensesInUse { devicesActive seatsAssigned leasesLive devices { fingerprint } seats { email } }
    usageTrend { currentEvents previousEvents ratio meters { meterKey current previous ratio } }
    openFindings { count leakage { amountMinor currency } items { id kind } }
    upcomingRenewals { arr { amountMinor currency } renewals { endDate skus arr { amountMinor } } }
    revenue { currency allocated { amountMinor } recognised { amountMinor } deferred { amountMinor } }
    syncStatus { system connectionName outboxPending outboxDead }
    receivables { currency openBalance { amountMinor } overdue { amountMinor } maxOverdueDays invoiceCount }
    health { score band coverage measures { key band explanation } }
    churnRisk { probability band source contributions { feature contribution } }
    modelFit { summary products { sku status recommendation } }
    timeline { at kind summary }
  }
}`;

const BASELINE_QUERY = 'query Account($id: ID!) { account(id: $id) { id name } }';

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

/**
 * customer360 of one account with 50 entitlements (seats, devices, floating, subscriptions,
 * metered; seats and devices in use), 10,000 daily usage rollups (50 entitlements × 200
 * days), 200 invoices and 40 payments, 200 compliance findings and 5 orders, among 200 other
 * accounts. Orders go through submitOrder (so entitlements, revenue and history are the hub's
 * own); rollups, receivables and findings, which jobs and pulls write, are inserted with SQL.
 * Measured next to `account(id)` on the same account in the same run (the stack's fixed cost
 * for one account read).
 */
export const customer360: Scenario = {
  name: 'customer360',
  description: `customer360 of one account (${ENTITLEMENTS} entitlements, ${(ENTITLEMENTS * USAGE_DAYS).toLocaleString('en-US')} usage days, ${INVOICES} invoices, ${FINDINGS} findings), ${CONNECTIONS} in flight, vs account(id)`,
  async run(ctx) {
    const post = ctx.hub.post.bind(ctx.hub);
    const must = async (query: string, variables?: Record<string, unknown>) => {
      const r = await post(query, variables);
      if (r.status !== 200 || r.text.includes('"errors"')) throw new Error(`customer360 setup failed: ${r.text.slice(0, 500)}`);
      return JSON.parse(r.text).data;
    };
    const t0 = performance.now();
    for (const key of ['c3b.seat', 'c3b.device', 'c3b.float', 'c3b.core', 'c3b.api']) await must('mutation($i: UpsertFeatureInput!) { upsertFeature(input: $i) { id } }', { i: { key, name: key } });
    const products = [
      { sku: 'C3B-SEAT', model: 'NAMED_USER', feature: 'c3b.seat', limit: 1 },
      { sku: 'C3B-DEV', model: 'DEVICE_LOCKED', feature: 'c3b.device', limit: 1 },
      { sku: 'C3B-FLOAT', model: 'CONCURRENT', feature: 'c3b.float', limit: 1 },
      { sku: 'C3B-SUB', model: 'SUBSCRIPTION', feature: 'c3b.core', limit: 1 },
      { sku: 'C3B-API', model: 'METERED', feature: 'c3b.api', limit: 100000 },
    ];
    for (const p of products) {
      await must('mutation($i: UpsertProductInput!) { upsertProduct(input: $i) { id } }', {
        i: { sku: p.sku, name: p.sku, kind: 'SOFTWARE', listPrice: { amountMinor: 10000, currency: 'USD' }, ssp: { amountMinor: 9000, currency: 'USD' }, defaultModel: p.model, features: [{ key: p.feature, limit: p.limit }] },
      });
    }
    const meter = await must('mutation($i: UpsertMeterInput!) { upsertMeter(input: $i) { id } }', { i: { key: 'c3b.calls', name: 'calls', aggregation: 'SUM', unit: 'calls', featureKey: 'c3b.api' } });
    const meterId = meter.upsertMeter.id as string;

    const { ds } = ctx.hub.services.db;
    await ds.query(`INSERT INTO account (name) SELECT 'C360 other ' || i FROM generate_series(1, 200) i`);
    const account = await must('mutation($i: UpsertAccountInput!) { upsertAccount(input: $i) { id } }', {
      i: { name: 'C360 Bench Co', externalRefs: [{ system: 'salesforce', object: 'Account', externalId: '001BENCH0000001' }, { system: 'netsuite', object: 'customer', externalId: '9001' }] },
    });
    const id = account.upsertAccount.id as string;
    for (let i = 0; i < 10; i++) await must('mutation($i: UpsertContactInput!) { upsertContact(input: $i) { id } }', { i: { accountId: id, email: `user${i}@bench.example` } });

    const entitlements: { id: string; sku: string }[] = [];
    for (let o = 0; o < 5; o++) {
      const lines = Array.from({ length: ENTITLEMENTS / 5 }, (_, i) => ({
        lineNo: i + 1,
        sku: products[i % products.length]!.sku,
        quantity: 20,
        unitPrice: String(1000 + i),
        startDate: day(-300 + o),
        endDate: day(60 + o * 30 + i),
      }));
      const placed = await must('mutation($input: OrderInput!) { submitOrder(input: $input) { entitlements { id sku } } }', {
        input: { source: 'bench', externalId: `C360-${o}`, accountId: id, orderDate: day(-300 + o), currency: 'USD', lines },
      });
      entitlements.push(...placed.submitOrder.entitlements);
    }
    for (const e of entitlements.filter((x) => x.sku === 'C3B-SEAT').slice(0, 5)) {
      for (let s = 0; s < 10; s++) await must('mutation($e: ID!, $m: String!) { assignSeat(entitlementId: $e, email: $m) { id } }', { e: e.id, m: `user${s}@bench.example` });
    }
    for (const e of entitlements.filter((x) => x.sku === 'C3B-DEV').slice(0, 5)) {
      for (let s = 0; s < 10; s++) await must('mutation($e: ID!, $f: String!) { activateDevice(entitlementId: $e, fingerprint: $f) { id } }', { e: e.id, f: `fp-${e.id}-${s}` });
    }
    await ds.query(
      `INSERT INTO usage_rollup (account_id, meter_id, granularity, bucket, entitlement_id, deployment, sum, count, max, latest_value, latest_at)
       SELECT $1, $2, g.gr, b.bucket, e, 'CLOUD', 10, 2, 6, 6, b.bucket + interval '1 hour'
         FROM generate_series(0, $4::int - 1) d, unnest($3::uuid[]) e,
              LATERAL (SELECT (current_date - d)::timestamp AT TIME ZONE 'UTC' AS bucket) b,
              (VALUES ('D'), ('H')) g(gr)`,
      [id, meterId, entitlements.map((e) => e.id), USAGE_DAYS],
    );
    await ds.query(
      `INSERT INTO compliance_finding (kind, account_id, feature_key, period_start, unit, used, over, leakage_minor, currency, status, first_seen_at)
       SELECT 'OVERUSE', $1, 'c3b.api.' || i, now() - make_interval(days => i), 'calls', 10, 2, 100 + i, 'USD',
              CASE WHEN i % 3 = 0 THEN 'RESOLVED' ELSE 'OPEN' END, now() - make_interval(days => i % 150)
         FROM generate_series(1, $2::int) i`,
      [id, FINDINGS],
    );
    // 200 invoices (every other one still open, some overdue) and 40 payments from an ERP connection.
    const conn = await must('mutation($i: CreateSyncConnectionInput!) { createSyncConnection(input: $i) { id } }', {
      i: { name: 'bench-erp', type: 'netsuite', enabled: false, options: { accountId: '1234567', authMode: 'tba' }, credentials: { consumerKey: 'k', consumerSecret: 's', tokenId: 't', tokenSecret: 'u' } },
    });
    await ds.query(
      `INSERT INTO receivable (connection_id, external_id, account_id, kind, number, doc_date, due_date, currency, amount_minor, open_minor, modified_at)
       SELECT $1::uuid, 'inv-' || i, $2::uuid, 'INVOICE', 'INV-' || i, current_date - i, current_date + 30 - i, 'USD', 100000 + i, CASE WHEN i % 2 = 0 THEN 50000 ELSE 0 END, now()
         FROM generate_series(1, $3::int) i
       UNION ALL
       SELECT $1::uuid, 'pay-' || i, $2::uuid, 'PAYMENT', 'PAY-' || i, current_date - 5 * i, NULL, 'USD', 50000, 0, now()
         FROM generate_series(1, 40) i`,
      [conn.createSyncConnection.id, id, INVOICES],
    );
    // What the nightly model-fit job leaves (the account's analysis stored; it has rollups but no raw events, so no
    // product can be re-rated and the call answers an error): customer360 shows the stored analysis.
    await post('mutation($a: ID!) { recomputeModelFit(account: $a) { summary } }', { a: id });
    const [stored] = await ds.query('SELECT count(*)::int AS n FROM account_model_fit WHERE account_id = $1 AND analysis IS NOT NULL', [id]);
    if (stored.n !== 1) throw new Error('customer360 setup: the model-fit analysis was not stored');
    await ds.query('ANALYZE');
    console.error(`  seeded the account in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const variables = { id };
    const probe = await post(QUERY, variables);
    const parsed = JSON.parse(probe.text) as { data?: { customer360?: { entitlementGroups: { entitlements: number }[] } }; errors?: unknown[] };
    const count = parsed.data?.customer360?.entitlementGroups.reduce((s, g) => s + g.entitlements, 0) ?? 0;
    if (probe.status !== 200 || parsed.errors?.length || count !== ENTITLEMENTS) {
      throw new Error(`customer360: the probe request failed (${probe.status}, ${count} entitlements): ${probe.text.slice(0, 500)}`);
    }
    // The same account read by the plainest account query, measured in the same run.
    const baseProbe = await post(BASELINE_QUERY, variables);
    const baseline: Figures = await ctx.load({
      url: ctx.hub.url,
      headers: { authorization: `Bearer ${ctx.hub.adminKey}` },
      body: JSON.stringify({ query: BASELINE_QUERY, variables, operationName: 'Account' }),
      expectBody: baseProbe.text,
      connections: CONNECTIONS,
    });
    console.error(
      `  baseline account(id): p50 ${baseline.latencyMs.p50} ms, p99 ${baseline.latencyMs.p99} ms, ${Math.round(baseline.requestsPerSec)} req/s (${CONNECTIONS} in flight)`,
    );
    // The view's timestamps move only with the data, so every answer must equal the probe's.
    const figures = await ctx.load({
      url: ctx.hub.url,
      headers: { authorization: `Bearer ${ctx.hub.adminKey}` },
      body: JSON.stringify({ query: QUERY, variables, operationName: 'C360' }),
      expectBody: probe.text,
      connections: CONNECTIONS,
    });
    console.error(
      `  customer360: p50 ${figures.latencyMs.p50} ms, p99 ${figures.latencyMs.p99} ms, ${Math.round(figures.requestsPerSec)} req/s; ` +
        `p50 ratio to account(id) ${(figures.latencyMs.p50 / Math.max(baseline.latencyMs.p50, 0.001)).toFixed(1)}x`,
    );
    return { ...figures, headline: { value: figures.latencyMs.p50, unit: 'ms p50' } };
  },
};

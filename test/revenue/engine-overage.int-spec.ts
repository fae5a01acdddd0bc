import { startTestHub, type TestHub } from '../support/test-hub';
import { createAccount, expectSumsToAllocation, invoices, schedule, seedRevenueCatalog } from './engine-support';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
  await seedRevenueCatalog(hub);
  await hub.ok('mutation($i: UpsertFeatureInput!) { upsertFeature(input: $i) { id } }', { i: { key: 'r.meter', name: 'r.meter' } });
  await hub.ok('mutation($i: UpsertProductInput!) { upsertProduct(input: $i) { id } }', {
    i: { sku: 'R-METER', name: 'R-METER', kind: 'SOFTWARE', listPrice: { amountMinor: 36500, currency: 'USD' }, ssp: null, defaultModel: 'METERED', features: [{ key: 'r.meter', limit: 100 }] },
  });
});
afterAll(async () => hub?.close());

const SUBMIT = 'mutation($i: OrderInput!) { submitOrder(input: $i) { id lines { id overageUnitPriceMinor } } }';
const RECOGNISE = 'mutation($m: String!) { recogniseUsage(month: $m) { month obligations entries } }';
const CONSUME = 'mutation($i: ConsumeInput!) { consume(input: $i) { allowed overage } }';

describe('revenue engine: METERED overage recognised as consumed', () => {
  it('recognises overage × the overage unit price in the month it is drawn; the fixed fee stays ratable', async () => {
    const account = await createAccount(hub, 'Overage');
    const year = new Date().getUTCFullYear();
    const input = (revision: number, unitPrice: number) => ({
      source: 'test', externalId: 'overage', revision, accountId: account, orderDate: `${year - 1}-12-31`, currency: 'USD',
      lines: [{ lineNo: 1, sku: 'R-METER', quantity: 1, unitPrice, startDate: `${year - 1}-12-31`, endDate: `${year + 1}-12-31`, overagePolicy: 'ALLOW', resetPeriod: 'MONTHLY', limits: [{ feature: 'r.meter', limit: 100 }], overageUnitPrice: 50 }],
    });
    const first = await hub.ok<{ submitOrder: { id: string; lines: { overageUnitPriceMinor: string }[] } }>(SUBMIT, { i: input(1, 73100) });
    const orderId = first.submitOrder.id;
    expect(first.submitOrder.lines[0]!.overageUnitPriceMinor).toBe('50');
    const before = (await schedule(hub, { orderId })).obligations[0]!;
    expect(before.pattern).toBe('RATABLE');
    expect(before.allocated.amountMinor).toBe('73100');

    const c = await hub.ok<{ consume: { allowed: boolean; overage: string } }>(CONSUME, { i: { accountId: account, feature: 'r.meter', quantity: 130, idempotencyKey: 'ov-1' } });
    expect(c.consume).toEqual({ allowed: true, overage: '30' });
    const [{ month }] = await hub.ds.query(`SELECT to_char(created_at AT TIME ZONE $2, 'YYYY-MM') AS month FROM consumption WHERE account_id = $1`, [account, hub.services.revenue.timeZone]);
    const fixedInMonth = Number(before.lines.find((l) => l.month === month)!.amount.amountMinor);

    for (let i = 0; i < 2; i++) {
      const r = await hub.ok<{ recogniseUsage: { entries: number } }>(RECOGNISE, { m: month });
      expect(r.recogniseUsage.entries).toBe(i === 0 ? 1 : 0); // a re-run adds nothing
    }
    const usage = await hub.ds.query(
      `SELECT to_char(month, 'YYYY-MM') AS month, SUM(amount_minor)::int AS amount FROM revenue_entry WHERE obligation_id = $1 AND kind = 'USAGE' GROUP BY month`,
      [before.id],
    );
    expect(usage).toEqual([{ month, amount: 1500 }]); // 30 × 50
    let s = await schedule(hub, { orderId });
    let o = s.obligations[0]!;
    expect(Number(o.lines.find((l) => l.month === month)!.amount.amountMinor)).toBe(fixedInMonth + 1500);
    expect(o.allocated.amountMinor).toBe('74600');
    expectSumsToAllocation(s);
    // Overage is billed outside the hub: the invoices stay at the fixed price.
    expect((await invoices(hub, orderId)).reduce((a, [, x]) => a + x, 0)).toBe(73100);

    // The same order again is a replay: nothing changes.
    const entries = async () => (await hub.ds.query(`SELECT count(*)::int AS n FROM revenue_entry WHERE obligation_id = $1`, [o.id]))[0].n;
    const n = await entries();
    expect((await hub.ok<{ submitOrder: { id: string } }>(SUBMIT, { i: input(1, 73100) })).submitOrder.id).toBe(orderId);
    expect(await entries()).toBe(n);
    expect((await schedule(hub, { orderId })).obligations[0]!.modifications).toEqual([]);

    // A revision of the fixed fee re-spreads the fixed part only; the overage stays.
    await hub.ok(SUBMIT, { i: input(2, 146200) });
    s = await schedule(hub, { orderId });
    o = s.obligations[0]!;
    expect(o.allocated.amountMinor).toBe('147700');
    expectSumsToAllocation(s);
    expect((await hub.ds.query(`SELECT SUM(amount_minor)::int AS a FROM revenue_entry WHERE obligation_id = $1 AND kind = 'USAGE'`, [o.id]))[0].a).toBe(1500);
    expect((await invoices(hub, orderId)).reduce((a, [, x]) => a + x, 0)).toBe(146200);
    expect((await hub.ok<{ recogniseUsage: { entries: number } }>(RECOGNISE, { m: month })).recogniseUsage.entries).toBe(0);
  });
});

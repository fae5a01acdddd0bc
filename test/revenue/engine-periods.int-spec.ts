import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { revenueJobs } from '../../src/revenue/revenue.jobs';
import { gqlError, startTestHub, type TestHub } from '../support/test-hub';
import { createAccount, expectSumsToAllocation, months, schedule, seedRevenueCatalog, submit } from './engine-support';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
  await seedRevenueCatalog(hub);
});
afterAll(async () => hub?.close());

const CLOSE = 'mutation($m: String!) { closePeriod(month: $m) { month closedAt } }';
const RECOGNISE = 'mutation($m: String!) { recogniseUsage(month: $m) { month obligations entries } }';

describe('revenue engine: usage and closed periods', () => {
  it('recognises a usage-priced line from recorded usage, idempotently, in the month it occurs', async () => {
    const account = await createAccount(hub, 'Usage');
    const orderId = await submit(hub, account, 'usage', '2026-09-01', [{ lineNo: 1, sku: 'R-API', unitPrice: 5, startDate: '2026-09-01', endDate: '2027-08-31' }]);
    const ev = (occurredAt: string, quantity: number) => ({ id: randomUUID(), accountId: account, meter: 'r.calls', quantity, occurredAt, deployment: 'CLOUD' });
    const RECORD = 'mutation($e: [UsageEventInput!]!) { recordUsage(events: $e) { accepted rejected { code message } } }';
    const r = await hub.ok<{ recordUsage: { accepted: number } }>(RECORD, { e: [ev('2026-09-03T10:00:00Z', 100), ev('2026-09-30T23:59:00Z', 250), ev('2026-10-01T00:00:00Z', 40)] });
    expect(r.recordUsage.accepted).toBe(3);
    for (let i = 0; i < 2; i++) {
      const x = await hub.ok<{ recogniseUsage: { entries: number } }>(RECOGNISE, { m: '2026-09' });
      expect(x.recogniseUsage.entries).toBe(i === 0 ? 1 : 0);
    }
    await hub.ok(RECOGNISE, { m: '2026-10' });
    let o = (await schedule(hub, { orderId })).obligations[0]!;
    expect(o.pattern).toBe('AS_CONSUMED');
    expect(months(o)).toEqual([['2026-09', 1750], ['2026-10', 200]]);
    expect(o.allocated.amountMinor).toBe('1950');
    // Late usage of September: a re-run adds the difference only.
    await hub.ok(RECORD, { e: [ev('2026-09-15T12:00:00Z', 10)] });
    await hub.ok(RECOGNISE, { m: '2026-09' });
    o = (await schedule(hub, { orderId })).obligations[0]!;
    expect(months(o)).toEqual([['2026-09', 1800], ['2026-10', 200]]);
    expectSumsToAllocation(await schedule(hub, { orderId }));
    // The nightly job recognises the previous and current month; here it finds nothing new.
    const [job] = revenueJobs(hub.services, pino({ level: 'silent' }));
    await job!.execute(new AbortController().signal);
    expect(months((await schedule(hub, { orderId })).obligations[0]!)).toEqual([['2026-09', 1800], ['2026-10', 200]]);
    await hub.ok(CLOSE, { m: '2026-09' });
    expect(gqlError(await hub.gql(RECOGNISE, { m: '2026-09' }))).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'REVENUE_PERIOD_CLOSED' });
  });

  it('a closed period never changes: a late change lands in the first open month', async () => {
    const account = await createAccount(hub, 'Closed');
    const SUBMIT = 'mutation($i: OrderInput!) { submitOrder(input: $i) { id } }';
    const input = (revision: number, orderDate: string, unitPrice: number) => ({
      source: 'test', externalId: 'late', revision, accountId: account, orderDate, currency: 'USD',
      lines: [{ lineNo: 1, sku: 'R-SUB', quantity: 1, unitPrice, startDate: '2027-01-01', endDate: '2027-12-31' }],
    });
    const orderId = (await hub.ok<{ submitOrder: { id: string } }>(SUBMIT, { i: input(1, '2027-01-01', 36500) })).submitOrder.id;
    for (let i = 0; i < 2; i++) expect((await hub.ok<{ closePeriod: { month: string } }>(CLOSE, { m: '2027-03' })).closePeriod.month).toBe('2027-03');
    const periods = await hub.ok<{ revenuePeriods: { month: string }[] }>('query { revenuePeriods { month closedAt } }');
    expect(periods.revenuePeriods.map((p) => p.month)).toContain('2027-03');

    // Revision dated 15 February (a closed month): the price doubles from February.
    await hub.ok(SUBMIT, { i: input(2, '2027-02-15', 73000) });
    const o = (await schedule(hub, { orderId })).obligations[0]!;
    expect(o.modifications[0]).toMatchObject({ effectiveDate: '2027-02-15', firstOpenMonth: '2027-04' });
    // January to March unchanged (9,000). The remaining 64,000 spread from February by days;
    // the February and March shares (5,365 + 5,940) land in April with April's own 5,748.
    expect(months(o)).toEqual([
      ['2027-01', 3100], ['2027-02', 2800], ['2027-03', 3100],
      ['2027-04', 17053], ['2027-05', 5940], ['2027-06', 5748], ['2027-07', 5940], ['2027-08', 5940], ['2027-09', 5748],
      ['2027-10', 5940], ['2027-11', 5748], ['2027-12', 5943],
    ]);
    const closed = await hub.ds.query(`SELECT count(*)::int AS n FROM revenue_entry WHERE obligation_id = $1 AND month <= '2027-03-01' AND kind <> 'SCHEDULE'`, [o.id]);
    expect(closed[0].n).toBe(0);
    expectSumsToAllocation(await schedule(hub, { orderId }));

    // A new order starting in a closed month: its closed months' share lands in April too.
    const n = await submit(hub, account, 'late-new', '2027-04-02', [{ lineNo: 1, sku: 'R-SUB', unitPrice: 36500, startDate: '2027-01-01', endDate: '2027-12-31' }]);
    expect(months((await schedule(hub, { orderId: n })).obligations[0]!).slice(0, 2)).toEqual([['2027-04', 12000], ['2027-05', 3100]]);
    expect(gqlError(await hub.gql(CLOSE, { m: '2027-13' })).code).toBe('BAD_USER_INPUT');
  });
});

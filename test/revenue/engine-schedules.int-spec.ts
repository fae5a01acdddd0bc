import { Role } from '../../src/auth/role';
import { gqlError, startTestHub, type TestHub } from '../support/test-hub';
import { createAccount, expectSumsToAllocation, invoices, months, schedule, SCHEDULE, seedRevenueCatalog, submit } from './engine-support';

let hub: TestHub;
let acme: string;
beforeAll(async () => {
  hub = await startTestHub();
  await seedRevenueCatalog(hub);
  acme = await createAccount(hub, 'Acme');
});
afterAll(async () => hub?.close());

describe('revenue engine: allocation and schedules', () => {
  it('spreads a discount over licence, support and services by relative SSP, in exact minor units', async () => {
    // SSP 1,000.00 + 200.00 + 300.00 = 1,500.00; the deal is 1,200.00 (a 20 % discount), priced unevenly.
    const orderId = await submit(hub, acme, 'discount', '2027-01-01', [
      { lineNo: 1, sku: 'R-LIC', unitPrice: 90000, startDate: '2027-01-01' },
      { lineNo: 2, sku: 'R-SUP', unitPrice: 20000, startDate: '2027-01-01', endDate: '2027-12-31' },
      { lineNo: 3, sku: 'R-SVC', unitPrice: 10000, startDate: '2027-01-20' },
    ]);
    const s = await schedule(hub, { orderId });
    const [lic, sup, svc] = s.obligations;
    expect([lic!.pattern, sup!.pattern, svc!.pattern]).toEqual(['POINT_IN_TIME', 'RATABLE', 'ON_DELIVERY']);
    expect([lic!.allocated, sup!.allocated, svc!.allocated].map((m) => m.amountMinor)).toEqual(['80000', '16000', '24000']);
    expect([lic!.list, sup!.list, svc!.list].map((m) => m.amountMinor)).toEqual(['100000', '20000', '30000']);
    expect(months(lic!)).toEqual([['2027-01', 80000]]);
    expect(months(svc!)).toEqual([['2027-01', 24000]]);
    // 16,000 × days / 365, floored; the remainder (7) in December.
    expect(months(sup!)).toEqual([
      ['2027-01', 1358], ['2027-02', 1227], ['2027-03', 1358], ['2027-04', 1315], ['2027-05', 1358], ['2027-06', 1315],
      ['2027-07', 1358], ['2027-08', 1358], ['2027-09', 1315], ['2027-10', 1358], ['2027-11', 1315], ['2027-12', 1365],
    ]);
    expectSumsToAllocation(s);
    expect(s.totals).toEqual([{ currency: 'USD', allocated: { amountMinor: '120000' }, recognised: { amountMinor: '120000' }, deferred: { amountMinor: '0' } }]);
    expect(await invoices(hub, orderId)).toEqual([['2027-01-01', 120000]]);

    // A window: cumulative and deferred still count the months before it.
    const q1 = await schedule(hub, { orderId, from: '2027-02', to: '2027-03' });
    expect(q1.obligations[1]!.lines.map((l) => [l.month, l.amount.amountMinor, l.cumulative.amountMinor, l.deferred.amountMinor])).toEqual([
      ['2027-02', '1227', '2585', '13415'],
      ['2027-03', '1358', '3943', '12057'],
    ]);
    expect(q1.totals[0]!.recognised.amountMinor).toBe('2585');
  });

  it('a perpetual licence with a year of maintenance across a leap February', async () => {
    const orderId = await submit(hub, acme, 'perpetual', '2027-03-15', [
      { lineNo: 1, sku: 'R-LIC', unitPrice: 100000, startDate: '2027-03-15' },
      { lineNo: 2, sku: 'R-SUP', unitPrice: 20000, startDate: '2027-03-15', endDate: '2028-03-14' },
    ]);
    const s = await schedule(hub, { orderId });
    expect(months(s.obligations[0]!)).toEqual([['2027-03', 100000]]);
    // 366 days (29 February 2028 inside): 20,000 × days / 366.
    expect(months(s.obligations[1]!)).toEqual([
      ['2027-03', 928], ['2027-04', 1639], ['2027-05', 1693], ['2027-06', 1639], ['2027-07', 1693], ['2027-08', 1693], ['2027-09', 1639],
      ['2027-10', 1693], ['2027-11', 1639], ['2027-12', 1693], ['2028-01', 1693], ['2028-02', 1584], ['2028-03', 774],
    ]);
    expectSumsToAllocation(s);
  });

  it('a subscription starting mid-month across a leap February, by actual days', async () => {
    // 366 days at exactly 100 a day.
    const orderId = await submit(hub, acme, 'leap', '2028-01-10', [{ lineNo: 1, sku: 'R-SUB', unitPrice: 36600, startDate: '2028-01-15', endDate: '2029-01-14' }]);
    const s = await schedule(hub, { orderId });
    expect(s.obligations[0]!.pattern).toBe('RATABLE');
    expect(months(s.obligations[0]!)).toEqual([
      ['2028-01', 1700], ['2028-02', 2900], ['2028-03', 3100], ['2028-04', 3000], ['2028-05', 3100], ['2028-06', 3000], ['2028-07', 3100],
      ['2028-08', 3100], ['2028-09', 3000], ['2028-10', 3100], ['2028-11', 3000], ['2028-12', 3100], ['2029-01', 1400],
    ]);
    expectSumsToAllocation(s);
  });

  it('honours an SSP given on the line and an invoice schedule', async () => {
    const orderId = await submit(
      hub,
      acme,
      'line-ssp',
      '2027-01-01',
      [
        { lineNo: 1, sku: 'R-LIC', unitPrice: 50000, startDate: '2027-01-01', ssp: 30000 },
        { lineNo: 2, sku: 'R-SVC', unitPrice: 10000, startDate: '2027-02-01', ssp: 10000 },
      ],
      { invoiceSchedule: [{ date: '2027-01-01', amountMinor: 30000 }, { date: '2027-02-01', amountMinor: 30000 }] },
    );
    const s = await schedule(hub, { orderId });
    expect(s.obligations.map((o) => [o.ssp?.amountMinor, o.allocated.amountMinor])).toEqual([['30000', '45000'], ['10000', '15000']]);
    expect(await invoices(hub, orderId)).toEqual([['2027-01-01', 30000], ['2027-02-01', 30000]]);
    const bad = await hub.gql('mutation($i: OrderInput!) { submitOrder(input: $i) { id } }', {
      i: { source: 'test', externalId: 'bad-billing', accountId: acme, orderDate: '2027-01-01', currency: 'USD', invoiceSchedule: [{ date: '2027-01-01', amountMinor: 1 }], lines: [{ lineNo: 1, sku: 'R-LIC', quantity: 1, unitPrice: 100, startDate: '2027-01-01' }] },
    });
    expect(gqlError(bad)).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'REVENUE_INVOICE_SCHEDULE_MISMATCH' });
    const none = await hub.ok<{ orders: { edges: unknown[] } }>('query { orders(externalId: "bad-billing") { edges { node { id } } } }');
    expect(none.orders.edges).toEqual([]);
  });

  it('records an order with a product without SSP as unallocated, naming the product', async () => {
    const orderId = await submit(hub, acme, 'no-ssp', '2027-01-01', [
      { lineNo: 1, sku: 'R-LIC', unitPrice: 100000, startDate: '2027-01-01' },
      { lineNo: 2, sku: 'R-NOSSP', unitPrice: 5000, startDate: '2027-01-01' },
    ]);
    const s = await schedule(hub, { orderId });
    expect(s.hasErrors).toBe(true);
    expect(s.obligations[1]!.error).toMatch(/^REVENUE_SSP_MISSING: .*R-NOSSP/);
    expect(s.obligations.every((o) => o.allocated.amountMinor === '0' && o.lines.length === 0)).toBe(true);
    // A product alone on its order needs no allocation, SSP or not.
    const alone = await submit(hub, acme, 'alone', '2027-01-01', [{ lineNo: 1, sku: 'R-NOSSP', unitPrice: 5000, startDate: '2027-01-01' }]);
    expect((await schedule(hub, { orderId: alone })).obligations[0]!.allocated.amountMinor).toBe('5000');
  });

  it('splits a bundle into its components when its policy says so', async () => {
    await hub.ok('mutation($i: UpsertProductInput!) { upsertProduct(input: $i) { id } }', {
      i: { sku: 'R-SUITE', name: 'Suite', kind: 'SOFTWARE', listPrice: { amountMinor: 120000, currency: 'USD' }, defaultModel: 'PERPETUAL', components: [{ sku: 'R-LIC', quantity: 1 }, { sku: 'R-SUP', quantity: 1 }] },
    });
    const p = await hub.ok<{ setProductRevenuePolicy: { splitBundle: boolean } }>('mutation { setProductRevenuePolicy(sku: "R-SUITE", splitBundle: true) { sku pattern splitBundle } }');
    expect(p.setProductRevenuePolicy.splitBundle).toBe(true);
    const orderId = await submit(hub, acme, 'suite', '2027-01-01', [{ lineNo: 1, sku: 'R-SUITE', quantity: 2, unitPrice: 60000, startDate: '2027-01-01', endDate: '2027-12-31' }]);
    const s = await schedule(hub, { orderId });
    // 120,000 over SSP 200,000 (licence) and 40,000 (support): 100,000 and 20,000.
    expect(s.obligations.map((o) => [o.sku, o.bundleSku, o.pattern, o.ssp?.amountMinor, o.allocated.amountMinor])).toEqual([
      ['R-LIC', 'R-SUITE', 'POINT_IN_TIME', '200000', '100000'],
      ['R-SUP', 'R-SUITE', 'RATABLE', '40000', '20000'],
    ]);
    expectSumsToAllocation(s);
  });

  it('is FINANCE/ADMIN only, and an account-scoped key sees its account only', async () => {
    const ops = await hub.createKey(Role.OPERATIONS);
    expect(gqlError(await hub.gql(SCHEDULE, { f: {} }, ops)).code).toBe('FORBIDDEN');
    const other = await createAccount(hub, 'Other');
    await submit(hub, other, 'other', '2027-01-01', [{ lineNo: 1, sku: 'R-LIC', unitPrice: 1000, startDate: '2027-01-01' }]);
    const scoped = await hub.createKey(Role.FINANCE, other);
    const s = await schedule(hub, {}, scoped);
    expect(s.obligations.map((o) => o.sku)).toEqual(['R-LIC']);
    expect(gqlError(await hub.gql(SCHEDULE, { f: { accountId: acme } }, scoped)).code).toBe('NOT_FOUND');
    expect(gqlError(await hub.gql('mutation { closePeriod(month: "2020-01") { month } }', {}, scoped)).code).toBe('FORBIDDEN');
  });
});

import { startTestHub, type TestHub } from '../support/test-hub';
import { createAccount, expectSumsToAllocation, invoices, months, schedule, seedRevenueCatalog, submit } from './engine-support';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
  await seedRevenueCatalog(hub);
});
afterAll(async () => hub?.close());

const YEAR_2027 = [
  ['2027-01', 3100], ['2027-02', 2800], ['2027-03', 3100], ['2027-04', 3000], ['2027-05', 3100], ['2027-06', 3000],
  ['2027-07', 3100], ['2027-08', 3100], ['2027-09', 3000], ['2027-10', 3100], ['2027-11', 3000], ['2027-12', 3100],
];

describe('revenue engine: prospective modifications', () => {
  it('an upgrade mid-term: earlier months unchanged, the old obligation ends, the new one starts', async () => {
    const account = await createAccount(hub, 'Upgrade');
    const a = await submit(hub, account, 'up-a', '2027-01-01', [{ lineNo: 1, sku: 'R-SUB', unitPrice: 36500, startDate: '2027-01-01', endDate: '2027-12-31' }]);
    expect(months((await schedule(hub, { orderId: a })).obligations[0]!)).toEqual(YEAR_2027);

    // From 15 July: R-SUB2 at 200 a day for the 170 days left.
    const b = await submit(hub, account, 'up-b', '2027-07-15', [
      { lineNo: 1, sku: 'R-SUB2', unitPrice: 34000, startDate: '2027-07-15', endDate: '2027-12-31', action: 'UPGRADE', amendsLineRef: 'up-a#1' },
    ]);
    const old = (await schedule(hub, { orderId: a })).obligations[0]!;
    expect(old.status).toBe('CANCELLED');
    // Earned: 195 days (1 January to 14 July) = 19,500; January to June unchanged; July 14 days.
    expect(old.allocated.amountMinor).toBe('19500');
    expect(old.endDate).toBe('2027-07-14');
    expect(months(old)).toEqual([...YEAR_2027.slice(0, 6), ['2027-07', 1400]]);
    expect(old.modifications).toHaveLength(1);
    expect(old.modifications[0]).toMatchObject({ effectiveDate: '2027-07-15', firstOpenMonth: '2027-07', before: { allocated: '36500', status: 'ACTIVE' }, after: { allocated: '19500', status: 'CANCELLED' } });
    const now = (await schedule(hub, { orderId: b })).obligations[0]!;
    expect(months(now)).toEqual([['2027-07', 3400], ['2027-08', 6200], ['2027-09', 6000], ['2027-10', 6200], ['2027-11', 6000], ['2027-12', 6200]]);
    expectSumsToAllocation(await schedule(hub, { accountId: account }));
    // Billing: the unearned 17,000 is credited on the upgrade date; the upgrade is invoiced.
    expect(await invoices(hub, a)).toEqual([['2027-01-01', 36500], ['2027-07-15', -17000]]);
    expect(await invoices(hub, b)).toEqual([['2027-07-15', 34000]]);
  });

  it('a cancellation mid-term keeps what was earned and releases the rest', async () => {
    const account = await createAccount(hub, 'Cancel');
    const c = await submit(hub, account, 'cx-c', '2027-01-01', [{ lineNo: 1, sku: 'R-SUB', unitPrice: 36500, startDate: '2027-01-01', endDate: '2027-12-31' }]);
    await submit(hub, account, 'cx-d', '2027-04-10', [{ lineNo: 1, sku: 'R-SUB', quantity: 0, unitPrice: 0, startDate: '2027-04-11', action: 'CANCELLATION', amendsLineRef: 'cx-c#1' }]);
    const s = await schedule(hub, { accountId: account });
    expect(s.obligations).toHaveLength(1); // a cancellation line is no obligation of its own
    const o = s.obligations[0]!;
    expect([o.status, o.allocated.amountMinor, o.endDate]).toEqual(['CANCELLED', '10000', '2027-04-10']);
    expect(months(o)).toEqual([...YEAR_2027.slice(0, 3), ['2027-04', 1000]]);
    expectSumsToAllocation(s);
    expect(await invoices(hub, c)).toEqual([['2027-01-01', 36500], ['2027-04-11', -26500]]);
  });

  it('an order revision re-spreads prospectively from its date', async () => {
    const account = await createAccount(hub, 'Revision');
    const input = (revision: number, orderDate: string, quantity: number) => ({
      source: 'test', externalId: 'rev', revision, accountId: account, orderDate, currency: 'USD',
      lines: [{ lineNo: 1, sku: 'R-SUB', quantity, unitPrice: 36500, startDate: '2027-01-01', endDate: '2027-12-31' }],
    });
    const SUBMIT = 'mutation($i: OrderInput!) { submitOrder(input: $i) { id } }';
    const orderId = (await hub.ok<{ submitOrder: { id: string } }>(SUBMIT, { i: input(1, '2027-01-01', 1) })).submitOrder.id;
    // Twice: the replay changes nothing.
    for (let i = 0; i < 2; i++) await hub.ok(SUBMIT, { i: input(2, '2027-07-01', 2) });
    const o = (await schedule(hub, { orderId })).obligations[0]!;
    expect(o.allocated.amountMinor).toBe('73000');
    // January to June as before (18,100); the other 54,900 over July to December (184 days).
    expect(months(o)).toEqual([
      ...YEAR_2027.slice(0, 6),
      ['2027-07', 9249], ['2027-08', 9249], ['2027-09', 8951], ['2027-10', 9249], ['2027-11', 8951], ['2027-12', 9251],
    ]);
    expect(o.modifications.map((m) => m.reason)).toEqual(['order revision: R-SUB']);
    expectSumsToAllocation(await schedule(hub, { orderId }));
    expect(await invoices(hub, orderId)).toEqual([['2027-01-01', 36500], ['2027-07-01', 36500]]);
  });
});

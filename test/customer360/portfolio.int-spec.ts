import { Role } from '../../src/auth/role';
import { startTestHub, type TestHub } from '../support/test-hub';
import { createAccount, day, orderInput, seedCatalog, submitOrder } from '../support/orders';

/**
 * portfolioOverview (the console's Overview, ADR 0052) on a small book whose figures are
 * known: ARR is unit price × quantity over a 365-day term, so it equals the line amount.
 */

const OVERVIEW = `query O($days: Int) {
  portfolioOverview(renewalDays: $days) {
    asOf accounts arr { amountMinor currency }
    arrByProduct { sku productName model live accounts arr { amountMinor currency } utilizationPercent }
    renewalDays renewingArr { amountMinor currency }
    renewals { accountId orderId endDate daysLeft skus arr { amountMinor currency } account { id name } }
    findings { kind open leakage { amountMinor currency } }
    leakage { amountMinor currency }
    health { band accounts }
    unscored
  }
}`;

interface Money {
  amountMinor: string;
  currency: string;
}
interface Overview {
  accounts: number;
  arr: Money[];
  arrByProduct: { sku: string; model: string; live: number; accounts: number; arr: Money[]; utilizationPercent: number | null }[];
  renewalDays: number;
  renewingArr: Money[];
  renewals: { accountId: string; endDate: string; daysLeft: number; skus: string[]; arr: Money; account: { id: string; name: string } }[];
  findings: { kind: string; open: number; leakage: Money[] }[];
  leakage: Money[];
  health: { band: string; accounts: number }[];
  unscored: number;
}

describe('portfolioOverview', () => {
  let hub: TestHub;
  let acme: string;
  let globex: string;

  beforeAll(async () => {
    hub = await startTestHub();
    await seedCatalog(hub);
    acme = await createAccount(hub, 'Acme Portfolio');
    globex = await createAccount(hub, 'Globex Portfolio');
    // Acme: SUB ×2 at 100.00 for a year (ARR 200.00), SEAT ×5 at 50.00 ending in 30 days (term 365 days: ARR 250.00).
    await submitOrder(
      hub,
      orderInput(acme, 'pf-1', [
        { sku: 'SUB', quantity: 2, unitPrice: 10000 },
        { sku: 'SEAT', quantity: 5, unitPrice: 5000, startDate: day(-334), endDate: day(30) },
      ]),
    );
    // Globex: SUB ×1 at 100.00 (ARR 100.00).
    await submitOrder(hub, orderInput(globex, 'pf-2', [{ sku: 'SUB', quantity: 1, unitPrice: 10000 }]));
    // One overuse finding with leakage on Acme (the compliance job writes these).
    const [ent] = await hub.ds.query(`SELECT id FROM entitlement WHERE account_id = $1 AND sku = 'SEAT'`, [acme]);
    await hub.ds.query(
      `INSERT INTO compliance_finding (kind, account_id, entitlement_id, feature_key, period_start, unit, used, entitled, over, leakage_minor, currency, first_seen_at, last_seen_at)
       VALUES ('OVERUSE', $1, $2, 'f.seat', date_trunc('month', now()), 'seats', 7, 5, 2, 12345, 'USD', now(), now())`,
      [acme, ent.id],
    );
    await hub.ok('mutation($a: ID!) { recomputeHealth(accountId: $a) { band } }', { a: acme }).catch(() => undefined);
  });
  afterAll(() => hub?.close());

  it('adds up ARR by product and model, renewals in the window, findings and health over the book', async () => {
    const { portfolioOverview: o } = await hub.ok<{ portfolioOverview: Overview }>(OVERVIEW, { days: 90 });
    expect(o.accounts).toBe(2);
    expect(o.arr).toEqual([{ amountMinor: '55000', currency: 'USD' }]);
    const sub = o.arrByProduct.find((p) => p.sku === 'SUB')!;
    expect(sub).toMatchObject({ model: 'SUBSCRIPTION', live: 2, accounts: 2, arr: [{ amountMinor: '30000', currency: 'USD' }] });
    const seat = o.arrByProduct.find((p) => p.sku === 'SEAT')!;
    expect(seat).toMatchObject({ model: 'NAMED_USER', live: 1, accounts: 1, arr: [{ amountMinor: '25000', currency: 'USD' }], utilizationPercent: 0 });
    // Largest ARR first.
    expect(o.arrByProduct.map((p) => p.sku)).toEqual(['SUB', 'SEAT']);
    expect(o.renewals).toHaveLength(1);
    expect(o.renewals[0]).toMatchObject({ accountId: acme, endDate: day(30), skus: ['SEAT'], arr: { amountMinor: '25000', currency: 'USD' }, account: { id: acme, name: 'Acme Portfolio' } });
    expect(o.renewingArr).toEqual([{ amountMinor: '25000', currency: 'USD' }]);
    expect(o.findings).toEqual([{ kind: 'OVERUSE', open: 1, leakage: [{ amountMinor: '12345', currency: 'USD' }] }]);
    expect(o.leakage).toEqual([{ amountMinor: '12345', currency: 'USD' }]);
    expect(o.health.map((h) => h.band)).toEqual(['GREEN', 'YELLOW', 'RED']);
    expect(o.health.reduce((s, h) => s + h.accounts, 0) + o.unscored).toBe(2);

    // A year-long window takes both orders' terms.
    const year = (await hub.ok<{ portfolioOverview: Overview }>(OVERVIEW, { days: 366 })).portfolioOverview;
    expect(year.renewals.map((r) => r.accountId).sort()).toEqual([acme, globex, acme].sort());
  });

  it('shows an account-scoped key its own account only', async () => {
    const key = await hub.createKey(Role.ANALYST, globex);
    const { portfolioOverview: o } = await hub.ok<{ portfolioOverview: Overview }>(OVERVIEW, { days: 366 }, key);
    expect(o.accounts).toBe(1);
    expect(o.arr).toEqual([{ amountMinor: '10000', currency: 'USD' }]);
    expect(o.arrByProduct.map((p) => p.sku)).toEqual(['SUB']);
    expect(o.renewals.map((r) => r.accountId)).toEqual([globex]);
    expect(o.findings).toEqual([]);
  });

  it('refuses roles that do not read analytics and a window out of range, changing nothing', async () => {
    const readonly = await hub.createKey(Role.READONLY);
    const r = await hub.gql(OVERVIEW, { days: 90 }, readonly);
    expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const bad = await hub.gql(OVERVIEW, { days: 0 });
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

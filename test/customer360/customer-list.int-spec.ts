import { Role } from '../../src/auth/role';
import { gqlError, startTestHub, type TestHub } from '../support/test-hub';
import { orderInput, seedCatalog, submitOrder } from '../support/orders';

/**
 * customerList (the console's Customers page, issue 16) on a small book whose figures are
 * known: ARR is unit price × quantity over a 365-day term, utilisation is seats held / seats.
 */

const LIST = `query L($filter: CustomerListFilterInput, $first: Int, $after: String) {
  customerList(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id name arr { amountMinor currency } utilizationPercent } }
  }
}`;
const NAMES = `query L($filter: CustomerListFilterInput, $first: Int, $after: String) {
  customerList(filter: $filter, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id name } } }
}`;

interface Money {
  amountMinor: string;
  currency: string;
}
interface Row {
  id: string;
  name: string;
  arr: Money[];
  utilizationPercent: number | null;
}
interface Page {
  totalCount: number;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  edges: { cursor: string; node: Row }[];
}

describe('customerList', () => {
  let hub: TestHub;
  const id: Record<string, string> = {};

  const list = async (filter: Record<string, unknown> | null, first = 50, key?: string) =>
    (await hub.ok<{ customerList: Page }>(LIST, { filter, first }, key)).customerList;
  const names = async (filter: Record<string, unknown> | null, key?: string) => (await list(filter, 50, key)).edges.map((e) => e.node.name);

  beforeAll(async () => {
    hub = await startTestHub();
    await seedCatalog(hub);
    for (const [n, currency] of [['Alpha', 'USD'], ['Beta', 'USD'], ['Gamma', 'USD'], ['Delta', 'USD'], ['Epsilon', 'EUR']] as const) {
      const r = await hub.ok<{ upsertAccount: { id: string } }>('mutation($i: UpsertAccountInput!) { upsertAccount(input: $i) { id } }', { i: { name: `${n} List`, currency } });
      id[n] = r.upsertAccount.id;
    }
    // Alpha: SUB ×2 at 100.00 (ARR 200.00) and SEAT ×4 at 50.00 (ARR 200.00), 3 seats held: utilisation 75 %.
    await submitOrder(hub, orderInput(id.Alpha!, 'cl-a', [{ sku: 'SUB', quantity: 2, unitPrice: 10000 }, { sku: 'SEAT', quantity: 4, unitPrice: 5000 }]));
    // Beta: SEAT ×10 at 10.00 (ARR 100.00), 1 seat held: 10 %.
    await submitOrder(hub, orderInput(id.Beta!, 'cl-b', [{ sku: 'SEAT', quantity: 10, unitPrice: 1000 }]));
    // Gamma: SUB ×1 at 1,000.00 (ARR 1,000.00), nothing measured.
    await submitOrder(hub, orderInput(id.Gamma!, 'cl-g', [{ sku: 'SUB', quantity: 1, unitPrice: 100000 }]));
    // Delta: no order. Epsilon: SUB ×1 at 300.00 EUR.
    await submitOrder(hub, orderInput(id.Epsilon!, 'cl-e', [{ sku: 'SUB', quantity: 1, unitPrice: 30000 }], { currency: 'EUR' }));
    const seat = async (account: string) => (await hub.ds.query(`SELECT id FROM entitlement WHERE account_id = $1 AND sku = 'SEAT'`, [account]))[0].id as string;
    const alphaSeat = await seat(id.Alpha!);
    for (const email of ['a1@alpha.io', 'a2@alpha.io', 'a3@alpha.io']) await hub.ok('mutation($e: ID!, $m: String!) { assignSeat(entitlementId: $e, email: $m) { id } }', { e: alphaSeat, m: email });
    await hub.ok('mutation($e: ID!) { assignSeat(entitlementId: $e, email: "b1@beta.io") { id } }', { e: await seat(id.Beta!) });
  });
  afterAll(() => hub?.close());

  it('gives each account its ARR and utilisation, equal to customer360', async () => {
    const page = await list(null);
    expect(page.totalCount).toBe(5);
    const byName = Object.fromEntries(page.edges.map((e) => [e.node.name, e.node]));
    expect(byName['Alpha List']).toMatchObject({ arr: [{ amountMinor: '40000', currency: 'USD' }], utilizationPercent: 75 });
    expect(byName['Beta List']).toMatchObject({ arr: [{ amountMinor: '10000', currency: 'USD' }], utilizationPercent: 10 });
    expect(byName['Gamma List']).toMatchObject({ arr: [{ amountMinor: '100000', currency: 'USD' }], utilizationPercent: null });
    expect(byName['Delta List']).toMatchObject({ arr: [], utilizationPercent: null });
    expect(byName['Epsilon List']).toMatchObject({ arr: [{ amountMinor: '30000', currency: 'EUR' }], utilizationPercent: null });
    for (const e of page.edges) {
      const c = await hub.ok<{ customer360: { arr: Money[]; utilizationPercent: number | null } }>('query($id: ID!) { customer360(account: $id) { arr { amountMinor currency } utilizationPercent } }', { id: e.node.id });
      expect({ arr: e.node.arr, u: e.node.utilizationPercent }).toEqual({ arr: c.customer360.arr, u: c.customer360.utilizationPercent });
    }
  });

  it('filters by ARR (each account\'s currency, or the one given) and by utilisation', async () => {
    expect(await names({ arrMin: 20000 })).toEqual(['Alpha List', 'Gamma List', 'Epsilon List']);
    expect(await names({ arrMax: 40000 })).toEqual(['Alpha List', 'Beta List', 'Delta List', 'Epsilon List']);
    expect(await names({ arrMin: '10000', arrMax: '40000' })).toEqual(['Alpha List', 'Beta List', 'Epsilon List']);
    expect(await names({ arrMin: 20000, arrCurrency: 'USD' })).toEqual(['Alpha List', 'Gamma List']);
    expect(await names({ arrMin: 1, arrCurrency: 'EUR' })).toEqual(['Epsilon List']);
    expect(await names({ utilizationMin: 50 })).toEqual(['Alpha List']);
    expect(await names({ utilizationMax: 50 })).toEqual(['Beta List']);
    expect(await names({ utilizationMin: 0 })).toEqual(['Alpha List', 'Beta List']);
    expect(await names({ utilizationMin: 10, utilizationMax: 10 })).toEqual(['Beta List']);
    expect(await names({ arrMin: 20000, utilizationMin: 0 })).toEqual(['Alpha List']);
    expect(await names({ search: 'ta list', arrMax: 0 })).toEqual(['Delta List']);
    expect((await list({ utilizationMin: 50 })).totalCount).toBe(1);
  });

  it('filters by health band and churn risk exactly as Account.health and Account.churnRisk say', async () => {
    await hub.ok('mutation($a: ID!) { recomputeHealth(accountId: $a) { band } }', { a: id.Alpha }).catch(() => undefined);
    await hub.ok('mutation($a: ID!) { recomputeHealth(accountId: $a) { band } }', { a: id.Beta }).catch(() => undefined);
    const all = await hub.ok<{ accounts: { edges: { node: { name: string; health: { effectiveBand: string } | null; churnRisk: { band: string } | null } }[] } }>(
      '{ accounts(first: 50) { edges { node { name health { effectiveBand } churnRisk { band } } } } }',
    );
    const nodes = all.accounts.edges.map((e) => e.node);
    expect(nodes.some((n) => n.health)).toBe(true);
    for (const band of ['GREEN', 'YELLOW', 'RED']) expect(await names({ healthBand: band })).toEqual(nodes.filter((n) => n.health?.effectiveBand === band).map((n) => n.name));
    expect(await names({ unscored: true })).toEqual(nodes.filter((n) => !n.health).map((n) => n.name));
    expect(await names({ unscored: false })).toEqual(nodes.filter((n) => n.health).map((n) => n.name));
    expect(nodes.some((n) => n.churnRisk)).toBe(true);
    for (const band of ['LOW', 'MEDIUM', 'HIGH']) expect(await names({ churnBand: band })).toEqual(nodes.filter((n) => n.churnRisk?.band === band).map((n) => n.name));
  });

  it('pages by cursor with and without computed filters, keeping the total', async () => {
    for (const filter of [null, { arrMin: 0 }, { search: 'list' }]) {
      const seen: string[] = [];
      let after: string | null = null;
      for (let i = 0; i < 10; i++) {
        const r: { customerList: Page } = await hub.ok(NAMES, { filter, first: 2, after });
        expect(r.customerList.totalCount).toBe(5);
        seen.push(...r.customerList.edges.map((e) => e.node.name));
        if (!r.customerList.pageInfo.hasNextPage) break;
        after = r.customerList.pageInfo.endCursor;
      }
      expect(seen).toEqual(['Alpha List', 'Beta List', 'Gamma List', 'Delta List', 'Epsilon List']);
    }
    const second = await hub.ok<{ customerList: Page }>(NAMES, { filter: { arrMax: 40000 }, first: 2 });
    const next = await hub.ok<{ customerList: Page }>(NAMES, { filter: { arrMax: 40000 }, first: 2, after: second.customerList.pageInfo.endCursor });
    expect(next.customerList.edges.map((e) => e.node.name)).toEqual(['Delta List', 'Epsilon List']);
    expect(next.customerList).toMatchObject({ totalCount: 4, pageInfo: { hasNextPage: false } });
  });

  it('reads ARR and utilisation in a bounded number of statements, however many accounts are on the page', async () => {
    const small = await hub.countQueries(() => hub.ok(LIST, { filter: { arrMin: 0, utilizationMin: 0 }, first: 1 }));
    const large = await hub.countQueries(() => hub.ok(LIST, { filter: { arrMax: 10000000 }, first: 5 }));
    expect(large.count).toBeLessThanOrEqual(small.count + 1);
    expect(large.count).toBeLessThan(10);
  });

  it('shows an account-scoped key its own account only', async () => {
    const key = await hub.createKey(Role.ANALYST, id.Beta);
    expect(await names(null, key)).toEqual(['Beta List']);
    expect(await names({ utilizationMax: 50 }, key)).toEqual(['Beta List']);
    expect(await names({ arrMin: 20000 }, key)).toEqual([]);
    expect(await names({ search: 'alpha' }, key)).toEqual([]);
    const other = await hub.gql('query($id: ID!) { account(id: $id) { arr { amountMinor } } }', { id: id.Alpha }, key);
    expect(gqlError(other).code).toBe('NOT_FOUND');
  });

  it('refuses bad filters with a code, and analytic filters and fields to roles that do not read analytics', async () => {
    const readonly = await hub.createKey(Role.READONLY);
    const before = await hub.ds.query(`SELECT count(*)::int AS n FROM audit_log`);
    const bad = async (filter: Record<string, unknown>, extra: Record<string, unknown> = {}) => gqlError(await hub.gql(NAMES, { filter, ...extra }));
    expect(await bad({ arrMin: 500, arrMax: 100 })).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'VALIDATION_FAILED' });
    expect(await bad({ utilizationMin: 80, utilizationMax: 20 })).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'VALIDATION_FAILED' });
    expect(await bad({ utilizationMin: -1 })).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await bad({ healthBand: 'RED', unscored: true })).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'VALIDATION_FAILED' });
    expect(await bad({ arrCurrency: 'usd', arrMin: 1 })).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect((await bad({ arrMin: '12.50' })).code).toBe('BAD_USER_INPUT');
    expect((await bad({ healthBand: 'PURPLE' })).code).toBe('BAD_USER_INPUT');
    expect(await bad({}, { after: 'not-a-cursor' })).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'INVALID_CURSOR' });
    expect((await bad({}, { first: 0 })).code).toBe('BAD_USER_INPUT');

    expect(gqlError(await hub.gql(NAMES, { filter: { arrMin: 1 } }, readonly))).toMatchObject({ code: 'FORBIDDEN', subCode: 'CUSTOMER_FILTER_FORBIDDEN' });
    expect(gqlError(await hub.gql(NAMES, { filter: { churnBand: 'HIGH' } }, readonly)).code).toBe('FORBIDDEN');
    // Names and text search stay open to every role; the figures do not.
    const plain = await hub.ok<{ customerList: Page }>(NAMES, { filter: { search: 'gamma' } }, readonly);
    expect(plain.customerList.edges.map((e) => e.node.name)).toEqual(['Gamma List']);
    expect(gqlError(await hub.gql(LIST, { filter: null }, readonly)).code).toBe('FORBIDDEN');
    expect(await hub.ds.query(`SELECT count(*)::int AS n FROM audit_log`)).toEqual(before);
  });
});

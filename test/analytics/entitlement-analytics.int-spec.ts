import { Role } from '../../src/auth/role';
import { gqlError, startTestHub, type TestHub } from '../support/test-hub';
import { at, createAccount, day, grant, monthStart, recordUsage, seedAnalyticsCatalog, thisMonday, type UsageEvent } from './analytics-support';

/**
 * utilization, adoption and unusedEntitlements over one hand-built scenario: entitlements
 * from orders, usage through recordUsage, devices, seats and leases through the licensing
 * mutations (plus a few lease rows written straight into the past, the only way to have
 * history of leases), and exact expected figures.
 */
let hub: TestHub;
let products: Record<string, string>;
let acme: string;
let globex: string;
let initech: string;
let umbrella: string;
const ent: Record<string, string> = {};

const HOUR = 3_600_000;
const now = Date.now();
const M0 = monthStart(0);
const M1 = monthStart(1);
const M2 = monthStart(2);
const W = new Date(thisMonday().getTime() - 21 * 86_400_000);
const iso = (d: Date | number) => new Date(d).toISOString();
/** Inside the current month and in the past, whatever the day of the month. */
const recent = (hoursAgo: number) => iso(Math.max(M0.getTime(), now - hoursAgo * HOUR));

const apiEvents: UsageEvent[] = [];

beforeAll(async () => {
  hub = await startTestHub();
  products = await seedAnalyticsCatalog(hub);
  acme = await createAccount(hub, 'Acme');
  globex = await createAccount(hub, 'Globex');
  initech = await createAccount(hub, 'Initech');

  ent.acmeApi = await grant(hub, acme, { sku: 'AN-API', resetPeriod: 'MONTHLY', endDate: day(100) });
  ent.acmeStore = await grant(hub, acme, { sku: 'AN-STORE', endDate: day(150) });
  ent.acmeFloat = await grant(hub, acme, { sku: 'AN-FLOAT', quantity: 5, endDate: day(110) });
  ent.acmeSeat = await grant(hub, acme, { sku: 'AN-SEAT', quantity: 10, endDate: day(120) });
  ent.acmeDev = await grant(hub, acme, { sku: 'AN-DEV', quantity: 4, endDate: day(130) });
  ent.globexApi = await grant(hub, globex, { sku: 'AN-API', resetPeriod: 'MONTHLY', endDate: day(30) });
  ent.globexStore = await grant(hub, globex, { sku: 'AN-STORE', endDate: day(200) });
  ent.initechApi = await grant(hub, initech, { sku: 'AN-API', resetPeriod: 'MONTHLY', endDate: day(60) });
  ent.initechDev = await grant(hub, initech, { sku: 'AN-DEV', quantity: 2, endDate: null });
  ent.initechOld = await grant(hub, initech, { sku: 'AN-API', resetPeriod: 'MONTHLY', startDate: day(-400), endDate: day(-100) });
  // Umbrella draws its API down with consume() and sends no usage events.
  umbrella = await createAccount(hub, 'Umbrella');
  ent.umbrellaApi = await grant(hub, umbrella, { sku: 'AN-API', resetPeriod: 'MONTHLY', endDate: day(90) });
  await hub.ok('mutation($i: ConsumeInput!) { consume(input: $i) { allowed } }', {
    i: { accountId: umbrella, feature: 'an.api', quantity: 500, idempotencyKey: 'umbrella-1' },
  });

  const a = (e: Omit<UsageEvent, 'accountId'>): UsageEvent => ({ accountId: acme, ...e });
  apiEvents.push(
    a({ meter: 'an.calls', quantity: 200, occurredAt: recent(3), deployment: 'CLOUD', user: 'u1', device: 'd1' }),
    a({ meter: 'an.calls', quantity: 100, occurredAt: recent(1), deployment: 'CLOUD', user: 'u2' }),
    a({ meter: 'an.calls', quantity: 400, occurredAt: at(M1, 3, 10), deployment: 'CLOUD', user: 'u1', device: 'd1' }),
    a({ meter: 'an.calls', quantity: 50, occurredAt: at(M1, 10, 10), deployment: 'ON_PREM', user: 'u2', device: 'd2' }),
    a({ meter: 'an.calls', quantity: 1000, occurredAt: at(M2, 5, 10), deployment: 'CLOUD' }),
    a({ meter: 'an.calls', quantity: 200, occurredAt: at(M2, 6, 10), deployment: 'CLOUD' }),
  );
  const users = (account: string, days: number, hour: number, name: string, deployment: string): UsageEvent => ({
    accountId: account,
    meter: 'an.users',
    quantity: 1,
    occurredAt: at(W, days, hour),
    deployment,
    user: name,
    properties: { userId: name },
  });
  await recordUsage(hub, [
    ...apiEvents,
    // The adoption week W (Monday to Sunday) ...
    users(acme, 0, 10, 'alice', 'CLOUD'),
    users(acme, 0, 11, 'bob', 'CLOUD'),
    users(acme, 1, 9, 'alice', 'ON_PREM'),
    users(acme, 1, 10, 'carol', 'CLOUD'),
    users(acme, 2, 9, 'alice', 'CLOUD'),
    users(acme, 2, 10, 'bob', 'CLOUD'),
    users(globex, 0, 15, 'alice', 'SAAS'),
    a({ meter: 'an.storage.peak', quantity: 1, occurredAt: at(W, 0, 12), deployment: 'CLOUD', properties: { gb: 40 } }),
    a({ meter: 'an.disk.now', quantity: 300, occurredAt: at(W, 1, 12), deployment: 'DEVICE' }),
    // ... and the week before it.
    users(acme, -2, 10, 'alice', 'CLOUD'),
    { accountId: globex, meter: 'an.storage.peak', quantity: 1, occurredAt: at(W, -3, 10), deployment: 'SAAS', properties: { gb: 1 } },
    // Initech: a little use of its API in the last days.
    { accountId: initech, meter: 'an.calls', quantity: 10, occurredAt: iso(now - 48 * HOUR), deployment: 'CLOUD' },
  ]);

  // Floating licences: three held at once now (the first checked in before the fourth is taken) ...
  const lease = async (holder: string) =>
    (await hub.ok<{ checkoutLease: { id: string } }>('mutation($e: ID!, $h: String!) { checkoutLease(entitlementId: $e, holder: $h) { id } }', { e: ent.acmeFloat, h: holder }))
      .checkoutLease.id;
  const first = await lease('h1');
  await lease('h2');
  await lease('h3');
  await hub.ok('mutation($l: ID!) { checkinLease(leaseId: $l) { id } }', { l: first });
  await lease('h4');
  // ... and last month's history, written directly (leases cannot be checked out in the past):
  // at 12:00 one lease ends as another starts, so at most two were ever held together.
  const past = (d: number, from: number, to: number) => [at(M1, d, from), at(M1, d, to)];
  for (const [i, [out, end]] of [past(1, 10, 12), past(1, 11, 13), past(1, 12, 14), past(2, 10, 11)].entries()) {
    await hub.ds.query(
      `INSERT INTO lease (entitlement_id, account_id, holder, ttl_seconds, checked_out_at, expires_at, checked_in_at) VALUES ($1, $2, $3, 300, $4, $5, $5)`,
      [ent.acmeFloat, acme, `old-${i}`, out, end],
    );
  }
  // Seats: three assigned, one released again (three were assigned at once).
  for (const email of ['a@acme.test', 'b@acme.test', 'c@acme.test']) {
    await hub.ok('mutation($e: ID!, $m: String!) { assignSeat(entitlementId: $e, email: $m) { id } }', { e: ent.acmeSeat, m: email });
  }
  await hub.ok('mutation($e: ID!, $m: String!) { releaseSeat(entitlementId: $e, email: $m) { id } }', { e: ent.acmeSeat, m: 'c@acme.test' });
  // Devices: two of four.
  for (const fp of ['fp-1', 'fp-2']) {
    await hub.ok('mutation($e: ID!, $f: String!) { activateDevice(entitlementId: $e, fingerprint: $f) { id } }', { e: ent.acmeDev, f: fp });
  }
});
afterAll(async () => hub?.close());

const UTILIZATION = `query U($e: ID, $a: ID, $n: Int) {
  utilization(entitlementId: $e, accountId: $a, periods: $n) {
    entitlementId accountId featureKey model phase basis meters unit period lastUsedAt
    entitlement { id sku }
    current { start end current entitled used utilizationPercent events peakConcurrentLeases activeDevices activeUsers }
    periods { start end current entitled used utilizationPercent events peakConcurrentLeases activeDevices activeUsers }
  }
}`;

interface Period {
  start: string;
  end: string | null;
  current: boolean;
  entitled: string | null;
  used: string | null;
  utilizationPercent: number | null;
  events: number;
  peakConcurrentLeases: number;
  activeDevices: number;
  activeUsers: number;
}
interface Util {
  entitlementId: string;
  accountId: string;
  featureKey: string;
  model: string;
  phase: string;
  basis: string;
  meters: string[];
  unit: string | null;
  period: string;
  lastUsedAt: string | null;
  entitlement: { id: string; sku: string };
  current: Period;
  periods: Period[];
}

async function utilization(variables: Record<string, unknown>, key?: string): Promise<Util[]> {
  return (await hub.ok<{ utilization: Util[] }>(UTILIZATION, variables, key)).utilization;
}

/** The expected figures of Acme's API in the month starting at `start` (from the events sent). */
function apiMonth(start: Date, end: Date) {
  const inside = apiEvents.filter((e) => e.occurredAt >= iso(start) && e.occurredAt < iso(end));
  const used = inside.reduce((s, e) => s + e.quantity, 0);
  return {
    start: iso(start),
    end: iso(end),
    entitled: '1000',
    used: String(used),
    utilizationPercent: Math.round((used / 1000) * 10_000) / 100,
    events: inside.length,
    peakConcurrentLeases: 0,
    activeUsers: new Set(inside.map((e) => e.user).filter(Boolean)).size,
    activeDevices: new Set(inside.map((e) => e.device).filter(Boolean)).size,
  };
}

describe('utilization', () => {
  it('a METERED entitlement: entitled per reset period, used, %, events, users and devices for the last periods, last use', async () => {
    const [u, ...rest] = await utilization({ e: ent.acmeApi, n: 3 });
    expect(rest).toEqual([]);
    expect(u).toMatchObject({
      entitlementId: ent.acmeApi,
      accountId: acme,
      featureKey: 'an.api',
      model: 'METERED',
      phase: 'ACTIVE',
      basis: 'USAGE',
      meters: ['an.calls', 'an.calls.batch'],
      unit: 'calls',
      period: 'MONTHLY',
      entitlement: { id: ent.acmeApi, sku: 'AN-API' },
      lastUsedAt: recent(1),
    });
    expect(u!.periods).toEqual([
      { ...apiMonth(M0, monthStart(-1)), current: true },
      { ...apiMonth(M1, M0), current: false },
      { ...apiMonth(M2, M1), current: false },
    ]);
    expect(u!.current).toEqual(u!.periods[0]);
    // The scenario's fixed figures, for the reader: 300 of 1,000 now, 450 last month, 1,200 (120 %) before.
    expect(u!.periods.map((p) => [p.used, p.utilizationPercent])).toEqual([
      ['300', 30],
      ['450', 45],
      ['1200', 120],
    ]);
  });

  it('CONCURRENT: peak concurrent leases per period, from the lease intervals', async () => {
    const [u] = await utilization({ e: ent.acmeFloat, n: 2 });
    expect(u).toMatchObject({ basis: 'LEASES', unit: 'licences', period: 'MONTHLY', meters: [] });
    expect(u!.periods.map((p) => [p.start, p.entitled, p.used, p.peakConcurrentLeases, p.utilizationPercent])).toEqual([
      [iso(M0), '5', '3', 3, 60],
      [iso(M1), '5', '2', 2, 40],
    ]);
  });

  it('NAMED_USER and DEVICE_LOCKED: peak seats and devices at once; active users and devices in the period', async () => {
    const [seat] = await utilization({ e: ent.acmeSeat, n: 1 });
    expect(seat).toMatchObject({ basis: 'SEATS', unit: 'seats' });
    expect(seat!.current).toMatchObject({ entitled: '10', used: '3', utilizationPercent: 30, activeUsers: 3, activeDevices: 0 });
    const [dev] = await utilization({ e: ent.acmeDev, n: 1 });
    expect(dev).toMatchObject({ basis: 'DEVICES', unit: 'devices' });
    expect(dev!.current).toMatchObject({ entitled: '4', used: '2', utilizationPercent: 50, activeDevices: 2, activeUsers: 0 });
  });

  it('by account: every entitlement in force and every feature, in a fixed order', async () => {
    const all = await utilization({ a: acme, n: 1 });
    expect(all.map((u) => `${u.entitlement.sku} ${u.featureKey} ${u.basis}`)).toEqual([
      'AN-API an.api USAGE',
      'AN-STORE an.disk USAGE',
      'AN-STORE an.render USAGE',
      'AN-STORE an.storage USAGE',
      'AN-STORE an.users USAGE',
      'AN-FLOAT an.float LEASES',
      'AN-SEAT an.seat SEATS',
      'AN-DEV an.device DEVICES',
    ]);
    // A subscription's features are measured against their limits month by month (no reset period).
    const users = all.find((u) => u.featureKey === 'an.users')!;
    expect(users).toMatchObject({ period: 'MONTHLY', unit: 'users', model: 'SUBSCRIPTION' });
    expect(users.current.entitled).toBe('50');
    const expiredNotListed = await utilization({ a: initech, n: 1 });
    expect(expiredNotListed.map((u) => u.entitlementId).sort()).toEqual([ent.initechApi, ent.initechDev].sort());
  });

  it('what consume() drew counts as use (the larger of drawn and metered)', async () => {
    const [u] = await utilization({ e: ent.umbrellaApi, n: 1 });
    expect(u).toMatchObject({ basis: 'USAGE', meters: ['an.calls', 'an.calls.batch'], lastUsedAt: null });
    expect(u!.current).toMatchObject({ entitled: '1000', used: '500', utilizationPercent: 50, events: 0 });
  });

  it('an ended entitlement reports the last period of its term', async () => {
    const [old] = await utilization({ e: ent.initechOld, n: 1 });
    const endsAt = new Date(`${day(-99)}T00:00:00Z`);
    const lastMonth = new Date(Date.UTC(endsAt.getUTCFullYear(), endsAt.getUTCMonth() - (endsAt.getUTCDate() === 1 ? 1 : 0), 1));
    expect(old).toMatchObject({ phase: 'EXPIRED', lastUsedAt: null });
    expect(old!.current).toMatchObject({ start: iso(lastMonth), end: iso(endsAt), used: '0', utilizationPercent: 0 });
  });

  it('bad input and scope', async () => {
    const u = (v: Record<string, unknown>, key?: string) => hub.gql(UTILIZATION, v, key).then(gqlError);
    expect(await u({})).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'ANALYTICS_ONE_OF' });
    expect(await u({ e: ent.acmeApi, a: acme })).toMatchObject({ subCode: 'ANALYTICS_ONE_OF' });
    expect(await u({ e: ent.acmeApi, n: 0 })).toMatchObject({ subCode: 'ANALYTICS_PERIODS_INVALID' });
    expect(await u({ e: ent.acmeApi, n: 25 })).toMatchObject({ subCode: 'ANALYTICS_PERIODS_INVALID' });
    expect(await u({ e: '00000000-0000-4000-8000-000000000009' })).toMatchObject({ code: 'NOT_FOUND', subCode: 'ENTITLEMENT_NOT_FOUND' });
    expect(await u({ a: 'nope' })).toMatchObject({ code: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' });
    const scoped = await hub.createKey(Role.ANALYST, globex);
    expect(await u({ e: ent.acmeApi }, scoped)).toMatchObject({ code: 'NOT_FOUND', subCode: 'ENTITLEMENT_NOT_FOUND' });
    expect(await u({ a: acme }, scoped)).toMatchObject({ code: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' });
    expect((await utilization({ a: globex, n: 1 }, scoped)).length).toBe(5);
    expect(await u({ e: ent.acmeApi }, await hub.createKey(Role.READONLY))).toMatchObject({ code: 'FORBIDDEN' });
  });
});

const ADOPTION = `query A($p: ID!, $from: DateTimeISO!, $to: DateTimeISO!) {
  adoption(productId: $p, from: $from, to: $to) {
    productId from to previousFrom product { sku }
    features {
      featureKey meters entitledAccounts usingAccounts sharePercent activeUsers events shareDelta
      deployments { deployment accounts events sharePercent }
      previous { from to entitledAccounts usingAccounts sharePercent }
    }
  }
}`;

describe('adoption', () => {
  it('per feature: entitled and using accounts, share, active users, deployment mix, and the trend against the week before', async () => {
    const from = iso(W);
    const to = at(W, 7);
    const { adoption } = await hub.ok<{ adoption: { features: Record<string, unknown>[] } & Record<string, unknown> }>(ADOPTION, {
      p: products['AN-STORE'],
      from,
      to,
    });
    expect(adoption).toMatchObject({ productId: products['AN-STORE'], from, to, previousFrom: at(W, -7), product: { sku: 'AN-STORE' } });
    const previous = (using: number, share: number) => ({ from: at(W, -7), to: from, entitledAccounts: 2, usingAccounts: using, sharePercent: share });
    expect(adoption.features).toEqual([
      {
        featureKey: 'an.disk',
        meters: ['an.disk.now'],
        entitledAccounts: 2,
        usingAccounts: 1,
        sharePercent: 50,
        activeUsers: 0,
        events: 1,
        deployments: [{ deployment: 'DEVICE', accounts: 1, events: 1, sharePercent: 100 }],
        previous: previous(0, 0),
        shareDelta: 50,
      },
      {
        featureKey: 'an.render',
        meters: ['an.jobs'],
        entitledAccounts: 2,
        usingAccounts: 0,
        sharePercent: 0,
        activeUsers: 0,
        events: 0,
        deployments: [],
        previous: previous(0, 0),
        shareDelta: 0,
      },
      {
        featureKey: 'an.storage',
        meters: ['an.storage.peak'],
        entitledAccounts: 2,
        usingAccounts: 1,
        sharePercent: 50,
        activeUsers: 0,
        events: 1,
        deployments: [{ deployment: 'CLOUD', accounts: 1, events: 1, sharePercent: 100 }],
        previous: previous(1, 50),
        shareDelta: 0,
      },
      {
        featureKey: 'an.users',
        meters: ['an.users'],
        entitledAccounts: 2,
        usingAccounts: 2,
        sharePercent: 100,
        activeUsers: 4,
        events: 7,
        deployments: [
          { deployment: 'CLOUD', accounts: 1, events: 5, sharePercent: 71.43 },
          { deployment: 'ON_PREM', accounts: 1, events: 1, sharePercent: 14.29 },
          { deployment: 'SAAS', accounts: 1, events: 1, sharePercent: 14.29 },
        ],
        previous: previous(1, 50),
        shareDelta: 50,
      },
    ]);
  });

  it('a window not on day boundaries reads whole days plus the hours at its ends (hour buckets starting inside it)', async () => {
    // Monday 10:30 to Wednesday 09:30: Monday's 10:00 hour is out, Wednesday's 09:00 hour is in.
    const { adoption } = await hub.ok<{ adoption: { features: { featureKey: string; usingAccounts: number; events: number; activeUsers: number;
      deployments: { deployment: string; events: number }[]; previous: { usingAccounts: number } }[] } }>(ADOPTION, {
      p: products['AN-STORE'],
      from: at(W, 0, 10, 30),
      to: at(W, 2, 9, 30),
    });
    const users = adoption.features.find((f) => f.featureKey === 'an.users')!;
    expect(users).toMatchObject({ usingAccounts: 2, events: 5, activeUsers: 4 });
    expect(users.deployments.map((d) => [d.deployment, d.events])).toEqual([
      ['CLOUD', 3],
      ['ON_PREM', 1],
      ['SAAS', 1],
    ]);
    // The previous window (Saturday 11:30 to Monday 10:30) holds Monday 10:00 but not Saturday 10:00.
    expect(users.previous.usingAccounts).toBe(1);
    const disk = adoption.features.find((f) => f.featureKey === 'an.disk')!;
    expect(disk).toMatchObject({ usingAccounts: 1, events: 1 });
    const storage = adoption.features.find((f) => f.featureKey === 'an.storage')!;
    expect(storage).toMatchObject({ usingAccounts: 1, events: 1 });
  });

  it('an account-scoped key sees its own account only; bad input', async () => {
    const scoped = await hub.createKey(Role.ANALYST, globex);
    const { adoption } = await hub.ok<{ adoption: { features: { featureKey: string; entitledAccounts: number; usingAccounts: number }[] } }>(
      ADOPTION,
      { p: products['AN-STORE'], from: iso(W), to: at(W, 7) },
      scoped,
    );
    expect(adoption.features.map((f) => [f.featureKey, f.entitledAccounts, f.usingAccounts])).toEqual([
      ['an.disk', 1, 0],
      ['an.render', 1, 0],
      ['an.storage', 1, 0],
      ['an.users', 1, 1],
    ]);
    const err = (v: Record<string, unknown>) => hub.gql(ADOPTION, v).then(gqlError);
    expect(await err({ p: products['AN-STORE'], from: at(W, 7), to: iso(W) })).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'ANALYTICS_RANGE_INVALID' });
    expect(await err({ p: products['AN-STORE'], from: at(W, -400), to: iso(W) })).toMatchObject({ subCode: 'ANALYTICS_RANGE_TOO_LARGE' });
    expect(await err({ p: '00000000-0000-4000-8000-000000000009', from: iso(W), to: at(W, 7) })).toMatchObject({ code: 'NOT_FOUND', subCode: 'PRODUCT_NOT_FOUND' });
  });
});

const UNUSED = `query Unused($t: Float, $d: Int, $first: Int, $after: String, $a: ID) {
  unusedEntitlements(threshold: $t, days: $d, first: $first, after: $after, accountId: $a) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id accountId productId basis featureKey entitled used utilizationPercent events lastUsedAt endDate daysToRenewal
      account { name } product { sku } entitlement { id sku status }
    } }
  }
}`;

interface UnusedPage {
  totalCount: number;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  edges: {
    cursor: string;
    node: {
      id: string;
      basis: string;
      featureKey: string | null;
      entitled: string | null;
      used: string | null;
      utilizationPercent: number | null;
      events: number;
      lastUsedAt: string | null;
      endDate: string | null;
      daysToRenewal: number | null;
      account: { name: string };
      product: { sku: string };
    };
  }[];
}

async function unused(variables: Record<string, unknown>, key?: string): Promise<UnusedPage> {
  return (await hub.ok<{ unusedEntitlements: UnusedPage }>(UNUSED, variables, key)).unusedEntitlements;
}

const names = (p: UnusedPage) => p.edges.map((e) => `${e.node.account.name} ${e.node.product.sku}`);

describe('unusedEntitlements', () => {
  it('below 10 % over the last 30 days, soonest renewal first, perpetual last', async () => {
    const page = await unused({});
    expect(names(page)).toEqual(['Globex AN-API', 'Initech AN-API', 'Globex AN-STORE', 'Initech AN-DEV']);
    expect(page.totalCount).toBe(4);
    const [globexApi, initechApi, globexStore, initechDev] = page.edges.map((e) => e.node);
    expect(globexApi).toMatchObject({ basis: 'USAGE', featureKey: 'an.api', used: '0', utilizationPercent: 0, events: 0, lastUsedAt: null, endDate: day(30), daysToRenewal: 30 });
    // A monthly 1,000 is pro-rated to the window (30 days and today so far).
    const windowDays = 30 + (now % 86_400_000) / 86_400_000;
    expect(Number(globexApi!.entitled)).toBeCloseTo((1000 * windowDays) / 30.436875, 0);
    expect(initechApi).toMatchObject({ basis: 'USAGE', featureKey: 'an.api', used: '10', events: 1, daysToRenewal: 60, lastUsedAt: iso(now - 48 * HOUR) });
    expect(initechApi!.utilizationPercent).toBeCloseTo((10 / Number(initechApi!.entitled)) * 100, 1);
    // The best used feature speaks for a subscription: 1 user of 50 (the 1 GB of 100 is older than the window or lower).
    expect(globexStore).toMatchObject({ basis: 'USAGE', featureKey: 'an.users', entitled: '50', used: '1', utilizationPercent: 2, daysToRenewal: 200 });
    expect(initechDev).toMatchObject({ basis: 'DEVICES', featureKey: null, entitled: '2', used: '0', utilizationPercent: 0, endDate: null, daysToRenewal: null });
  });

  it('threshold 0 lists only entitlements with no use at all; a higher threshold lists more', async () => {
    expect(names(await unused({ t: 0 }))).toEqual(['Globex AN-API', 'Initech AN-DEV']);
    // Acme at 50 %: the seats (3 of 10) are listed; devices (2 of 4 = 50 %), leases (3 of 5) and the
    // subscription (its best feature: 300 GB of 500 on disk = 60 %) are not.
    const acmeHalf = names(await unused({ t: 0.5, a: acme }));
    expect(acmeHalf).toContain('Acme AN-SEAT');
    expect(acmeHalf).not.toContain('Acme AN-DEV');
    expect(acmeHalf).not.toContain('Acme AN-FLOAT');
    expect(acmeHalf).not.toContain('Acme AN-STORE');
    expect(names(await unused({ t: 0.1, a: acme }))).toEqual([]);
    // 500 drawn of a pro-rated ~1,000: listed below 60 %, not below 10 %.
    expect(names(await unused({ t: 0.1, a: umbrella }))).toEqual([]);
    expect(names(await unused({ t: 0.6, a: umbrella }))).toEqual(['Umbrella AN-API']);
  });

  it('pages by renewal with cursors', async () => {
    const first = await unused({ first: 2 });
    expect(names(first)).toEqual(['Globex AN-API', 'Initech AN-API']);
    expect(first).toMatchObject({ totalCount: 4, pageInfo: { hasNextPage: true } });
    const second = await unused({ first: 2, after: first.pageInfo.endCursor });
    expect(names(second)).toEqual(['Globex AN-STORE', 'Initech AN-DEV']);
    expect(second).toMatchObject({ totalCount: 4, pageInfo: { hasNextPage: false } });
    const empty = await unused({ first: 2, after: second.pageInfo.endCursor });
    expect(empty).toMatchObject({ totalCount: 4, edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
    expect(gqlError(await hub.gql(UNUSED, { after: 'garbage' }))).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'INVALID_CURSOR' });
  });

  it('an account-scoped key lists its own account only', async () => {
    const scoped = await hub.createKey(Role.ANALYST, globex);
    expect(names(await unused({}, scoped))).toEqual(['Globex AN-API', 'Globex AN-STORE']);
    expect(gqlError(await hub.gql(UNUSED, { a: initech }, scoped))).toMatchObject({ code: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' });
    expect(names(await unused({ a: initech }))).toEqual(['Initech AN-API', 'Initech AN-DEV']);
  });

  it('costs the same few statements for 4 or 40 entitlements listed (no N+1), nested objects included', async () => {
    const measure = async () => {
      await unused({ first: 100 }); // warm the API key cache
      return hub.countQueries(() => unused({ first: 100 }));
    };
    const small = await measure();
    expect(small.result.totalCount).toBe(4);
    for (let i = 0; i < 36; i++) {
      const account = await createAccount(hub, `Shelf ${String(i).padStart(2, '0')}`);
      await grant(hub, account, { sku: i % 2 ? 'AN-API' : 'AN-SEAT', quantity: 3, resetPeriod: i % 2 ? 'MONTHLY' : null, endDate: day(300 + i) });
    }
    const large = await measure();
    expect(large.result.totalCount).toBe(40);
    expect(large.count).toBe(small.count);
    // The page with its count in one statement, then one per nested kind (accounts, products).
    expect(large.count).toBeLessThanOrEqual(3);
  });

  it('utilization and adoption cost a fixed number of statements too', async () => {
    const util = await hub.countQueries(() => utilization({ a: acme, n: 6 }));
    expect(util.result).toHaveLength(8);
    expect(util.count).toBeLessThanOrEqual(2); // visibility check + one statement
    const adoption = await hub.countQueries(() => hub.ok(ADOPTION, { p: products['AN-STORE'], from: iso(W), to: at(W, 7) }));
    expect(adoption.count).toBeLessThanOrEqual(3); // product check + one statement + the product loader
  });
});

import { randomUUID } from 'node:crypto';
import { Role } from '../../src/auth/role';
import { gqlError, startTestHub, type TestHub } from '../support/test-hub';
import { createAccount, day, orderInput, seedCatalog, submitOrder } from '../support/orders';

/**
 * customer360 against a real PostgreSQL: orders, licences and usage go through the API as
 * clients send them; findings, sync runs and outbox rows (written by jobs) and the large
 * account's usage rollups are inserted with SQL. Every figure is recomputed here from the
 * inputs, not read back from the hub's own helpers.
 */

const FULL = `query C360($id: ID, $ref: ExternalRefInput, $days: Int, $limit: Int) {
  customer360(account: $id, externalRef: $ref, renewalDays: $days, timelineLimit: $limit) {
    account { id name }
    linkedRecords { system object externalId name url connectionName }
    contacts(first: 5) { totalCount edges { node { email } } }
    arr { amountMinor currency }
    utilizationPercent
    entitlementGroups { sku productName model entitlements live liveQuantity used capacity utilizationPercent arr { amountMinor currency } nextEndDate
      items { entitlementId sku status used capacity utilizationPercent arr { amountMinor currency } } }
    licensesInUse { devicesActive seatsAssigned leasesLive devices { fingerprint name } seats { email } }
    usageTrend { currentFrom currentTo previousFrom previousTo currentEvents previousEvents ratio
      meters { meterKey aggregation current previous ratio currentEvents previousEvents } }
    openFindings { count leakage { amountMinor currency } items { kind status leakage { amountMinor currency } } }
    upcomingRenewals { withinDays arr { amountMinor currency } renewals { endDate daysLeft orderId skus entitlementIds arr { amountMinor currency } } }
    revenue { currency allocated { amountMinor } recognised { amountMinor } deferred { amountMinor } }
    syncStatus { system connectionName connectionType enabled lastPullStatus lastPullAt lastPushStatus lastPushAt outboxPending outboxDead lastDeliveredAt }
    timeline { at kind summary refId amount { amountMinor currency } }
    health { score band coverage measures { key band explanation } }
    modelFit { summary products { sku status recommendation } }
    churnRisk { probability band source termEnd contributions { feature contribution } }
    receivables { currency openBalance { amountMinor currency } overdue { amountMinor } maxOverdueDays lastPaymentDate invoiceCount openInvoiceCount }
  }
}`;

interface Money {
  amountMinor: string;
  currency: string;
}
interface View {
  account: { id: string; name: string };
  linkedRecords: { system: string; object: string; externalId: string; name: string | null; url: string | null; connectionName: string | null }[];
  contacts: { totalCount: number; edges: { node: { email: string } }[] };
  arr: Money[];
  utilizationPercent: number | null;
  entitlementGroups: {
    sku: string;
    model: string;
    entitlements: number;
    live: number;
    liveQuantity: string;
    used: string | null;
    capacity: string | null;
    utilizationPercent: number | null;
    arr: Money[];
    nextEndDate: string | null;
    items: { entitlementId: string; used: string | null; capacity: string | null; arr: Money | null }[];
  }[];
  licensesInUse: { devicesActive: number; seatsAssigned: number; leasesLive: number; devices: { fingerprint: string }[]; seats: { email: string }[] };
  usageTrend: {
    currentFrom: string;
    currentTo: string;
    previousFrom: string;
    previousTo: string;
    currentEvents: number;
    previousEvents: number;
    ratio: number | null;
    meters: { meterKey: string; aggregation: string; current: string; previous: string; ratio: number | null; currentEvents: number; previousEvents: number }[];
  };
  openFindings: { count: number; leakage: Money[]; items: { kind: string; status: string; leakage: Money | null }[] };
  upcomingRenewals: { withinDays: number; arr: Money[]; renewals: { endDate: string; daysLeft: number; orderId: string; skus: string[]; entitlementIds: string[]; arr: Money }[] };
  revenue: { currency: string; allocated: { amountMinor: string }; recognised: { amountMinor: string }; deferred: { amountMinor: string } }[];
  syncStatus: {
    system: string;
    connectionName: string | null;
    connectionType: string | null;
    lastPullStatus: string | null;
    lastPullAt: string | null;
    lastPushStatus: string | null;
    outboxPending: number;
    outboxDead: number;
    lastDeliveredAt: string | null;
  }[];
  timeline: { at: string; kind: string; summary: string; refId: string; amount: Money | null }[];
  receivables: { currency: string; openBalance: Money; overdue: { amountMinor: string }; maxOverdueDays: number; lastPaymentDate: string | null; invoiceCount: number; openInvoiceCount: number }[];
  health: { score: number; band: string; coverage: number; measures: { key: string; band: string | null; explanation: string }[] } | null;
  churnRisk: { probability: number; band: string; source: string; termEnd: string; contributions: unknown[] } | null;
}

let hub: TestHub;
let acme: string;
let big: string;
let globex: string;
let meterIds: Record<string, string>;

/** ARR of a line as the CRM sync defines it: unit price × quantity × 365 ÷ term days, rounded half up. */
function arr(unitPrice: number, quantity: number, start: string, end: string): bigint {
  const days = BigInt(Math.round((Date.parse(end) - Date.parse(start)) / 86_400_000) + 1);
  const num = BigInt(unitPrice) * BigInt(quantity) * 365n;
  return (num * 2n + days) / (2n * days);
}

const ACME_SF = '001ACME00000001';
const C360 = (id: string | null, extra: Record<string, unknown> = {}, key?: string) => hub.gql<{ customer360: View }>(FULL, { id, ...extra }, key);
const view = async (id: string, extra: Record<string, unknown> = {}) => (await hub.ok<{ customer360: View }>(FULL, { id, ...extra })).customer360;

async function contact(accountId: string, email: string): Promise<void> {
  await hub.ok('mutation($i: UpsertContactInput!) { upsertContact(input: $i) { id } }', { i: { accountId, email } });
}

/** Receivables as the ERP pull stores them (kind, amounts in minor units, dates relative to today). */
async function receivables(accountId: string, docs: { kind: string; amount: number; open: number; daysAgo: number; dueInDays?: number; number?: string; currency?: string }[]): Promise<void> {
  const [conn] = await hub.ds.query(`SELECT id FROM sync_connection WHERE name = 'ns-c360'`);
  await hub.ds.query(
    `INSERT INTO receivable (connection_id, external_id, account_id, kind, number, doc_date, due_date, currency, amount_minor, open_minor, modified_at)
     SELECT $1, gen_random_uuid()::text, $2, d.kind, d.number, current_date - d.days_ago, current_date + d.due_in, d.currency, d.amount, d.open, now()
       FROM jsonb_to_recordset($3::jsonb) AS d(kind text, number text, days_ago int, due_in int, currency text, amount bigint, open bigint)`,
    [conn.id, accountId, JSON.stringify(docs.map((d) => ({ kind: d.kind, number: d.number ?? null, days_ago: d.daysAgo, due_in: d.dueInDays ?? null, currency: d.currency ?? 'USD', amount: d.amount, open: d.open })))],
  );
}

async function finding(accountId: string, f: { kind: string; status: string; leakage: number | null; currency?: string; firstSeenDaysAgo: number; resolvedDaysAgo?: number }): Promise<void> {
  await hub.ds.query(
    `INSERT INTO compliance_finding (kind, account_id, feature_key, period_start, unit, used, over, leakage_minor, currency, status, status_changed_at, first_seen_at)
     VALUES ($1, $2, $3, now() - interval '40 days', 'calls', 10, 2, $4, $5, $6, $7, now() - make_interval(days => $8))`,
    [
      f.kind,
      accountId,
      `f.${randomUUID().slice(0, 8)}`,
      f.leakage,
      f.leakage === null ? null : (f.currency ?? 'USD'),
      f.status,
      f.resolvedDaysAgo === undefined ? null : new Date(Date.now() - f.resolvedDaysAgo * 86_400_000),
      f.firstSeenDaysAgo,
    ],
  );
}

/** Daily usage rollups straight into the table (what ingestion keeps): `days` days × each entitlement. */
async function rollups(accountId: string, entitlementIds: string[], days: number): Promise<void> {
  await hub.ds.query(
    `INSERT INTO usage_rollup (account_id, meter_id, granularity, bucket, entitlement_id, deployment, sum, count, max, latest_value, latest_at)
     SELECT $1, $2, 'D', (current_date - d)::timestamp AT TIME ZONE 'UTC', e, 'CLOUD', 10, 2, 6, 6, (current_date - d)::timestamp AT TIME ZONE 'UTC' + interval '1 hour'
       FROM generate_series(0, $4::int - 1) d, unnest($3::uuid[]) e`,
    [accountId, meterIds['c3.calls'], entitlementIds, days],
  );
}

const BIG_ENTITLEMENTS = 50;
const BIG_USAGE_DAYS = 200; // × 50 entitlements = 10,000 daily rollup rows

beforeAll(async () => {
  hub = await startTestHub();
  await seedCatalog(hub);
  meterIds = {};
  for (const m of [
    { key: 'c3.calls', aggregation: 'SUM', unit: 'calls', featureKey: 'f.api' },
    { key: 'c3.peak', aggregation: 'MAX', unit: 'GB', valueProperty: 'gb' },
  ]) {
    const { upsertMeter } = await hub.ok<{ upsertMeter: { id: string } }>('mutation($i: UpsertMeterInput!) { upsertMeter(input: $i) { id } }', { i: { name: m.key, ...m } });
    meterIds[m.key] = upsertMeter.id;
  }

  // Acme: a few of everything.
  acme = await createAccount(hub, 'Acme', ACME_SF);
  await hub.ok('mutation($i: UpsertAccountInput!) { upsertAccount(input: $i) { id } }', {
    i: { id: acme, name: 'Acme', externalRefs: [{ system: 'netsuite', object: 'customer', externalId: '4711' }] },
  });
  for (const e of ['ann@acme.io', 'bob@acme.io']) await contact(acme, e);
  globex = await createAccount(hub, 'Globex', '001GLOBEX000001');
  big = await createAccount(hub, 'Big Co', '001BIGCO0000001');
  for (let i = 0; i < 3; i++) await contact(big, `u${i}@big.io`);
  await contact(globex, 'g@globex.io');
});
afterAll(async () => hub?.close());

describe('customer360: sections against figures computed here', () => {
  let order1: Awaited<ReturnType<typeof submitOrder>>;
  let order2: Awaited<ReturnType<typeof submitOrder>>;

  beforeAll(async () => {
    // Order 1: seats (renewal outside 180 days), devices (ends in 60 days), floating (ends in 120 days), metered.
    order1 = await submitOrder(
      hub,
      orderInput(
        acme,
        'C3-1',
        [
          { sku: 'SEAT', quantity: 5, unitPrice: 12000, startDate: day(-100), endDate: day(264) },
          { sku: 'DEV', quantity: 4, unitPrice: 5000, startDate: day(-305), endDate: day(60) },
          { sku: 'FLOAT', quantity: 2, unitPrice: 30000, startDate: day(-10), endDate: day(120), externalLineId: 'FLOAT-1' },
          { sku: 'SUB', quantity: 1, unitPrice: 7000, startDate: day(-400), endDate: day(-40) },
        ],
        { orderDate: day(-400 + 0) },
      ),
    );
    // Order 2 (EUR): a subscription ending in 150 days.
    order2 = await submitOrder(hub, orderInput(acme, 'C3-2', [{ sku: 'SUB-PLUS', quantity: 3, unitPrice: 20000, startDate: day(-30), endDate: day(149) }], { currency: 'EUR', orderDate: day(-30) }));
    // Order 3 renews the floating line from its end.
    await submitOrder(hub, orderInput(acme, 'C3-3', [{ sku: 'FLOAT', action: 'RENEWAL', renewsLineRef: 'FLOAT-1', quantity: 2, unitPrice: 33000, startDate: day(121), endDate: day(485) }], { orderDate: day(-5) }));

    const ent = (sku: string) => [...order1.entitlements, ...order2.entitlements].find((e) => e.sku === sku)!.id;
    for (const email of ['ann@acme.io', 'bob@acme.io', 'cy@acme.io']) await hub.ok('mutation($e: ID!, $m: String!) { assignSeat(entitlementId: $e, email: $m) { id } }', { e: ent('SEAT'), m: email });
    for (const fp of ['fp-1', 'fp-2']) await hub.ok('mutation($e: ID!, $f: String!) { activateDevice(entitlementId: $e, fingerprint: $f, name: "laptop") { id } }', { e: ent('DEV'), f: fp });
    await hub.ok('mutation($e: ID!) { checkoutLease(entitlementId: $e, holder: "build-1", ttlSeconds: 3600) { id } }', { e: ent('FLOAT') });

    // Findings: two open in USD, one in EUR, one without leakage, one resolved (left out of the totals).
    await finding(acme, { kind: 'OVERUSE', status: 'OPEN', leakage: 1500, firstSeenDaysAgo: 3 });
    await finding(acme, { kind: 'OVERUSE', status: 'ACKNOWLEDGED', leakage: 250, firstSeenDaysAgo: 8 });
    await finding(acme, { kind: 'UNENTITLED_USE', status: 'OPEN', leakage: 700, currency: 'EUR', firstSeenDaysAgo: 12 });
    await finding(acme, { kind: 'UNDERUSE', status: 'OPEN', leakage: null, firstSeenDaysAgo: 20 });
    await finding(acme, { kind: 'EXPIRED_USE', status: 'RESOLVED', leakage: 9999, firstSeenDaysAgo: 50, resolvedDaysAgo: 2 });
    await finding(globex, { kind: 'OVERUSE', status: 'OPEN', leakage: 123456, firstSeenDaysAgo: 1 });
  });

  it('links every CRM/ERP record, with a deep link where a connection tells the base URL', async () => {
    const v = await view(acme);
    expect(v.linkedRecords).toEqual([
      { system: 'salesforce', object: 'Account', externalId: ACME_SF, name: null, url: null, connectionName: null },
      { system: 'netsuite', object: 'customer', externalId: '4711', name: null, url: null, connectionName: null },
    ]);
    await hub.ok('mutation($i: CreateSyncConnectionInput!) { createSyncConnection(input: $i) { id } }', {
      i: {
        name: 'sf-c360',
        type: 'salesforce',
        options: { auth: 'client_credentials', clientId: 'c360', loginUrl: 'https://acme-org.my.salesforce.com', instanceUrl: 'https://acme-org.lightning.force.com' },
        credentials: { clientSecret: 'not-used' },
      },
    });
    await hub.ok('mutation($i: CreateSyncConnectionInput!) { createSyncConnection(input: $i) { id } }', {
      i: {
        name: 'ns-c360',
        type: 'netsuite',
        options: { accountId: '1234567_SB1', authMode: 'tba' },
        credentials: { consumerKey: 'ck', consumerSecret: 'cs', tokenId: 'ti', tokenSecret: 'ts' },
      },
    });
    const after = await view(acme);
    expect(after.linkedRecords).toEqual([
      {
        system: 'salesforce',
        object: 'Account',
        externalId: ACME_SF,
        name: null,
        url: `https://acme-org.lightning.force.com/lightning/r/Account/${ACME_SF}/view`,
        connectionName: 'sf-c360',
      },
      { system: 'netsuite', object: 'customer', externalId: '4711', name: null, url: 'https://1234567-sb1.app.netsuite.com/app/common/entity/custjob.nl?id=4711', connectionName: 'ns-c360' },
    ]);
    expect(after.contacts).toEqual({ totalCount: 2, edges: [{ node: { email: 'ann@acme.io' } }, { node: { email: 'bob@acme.io' } }] });
  });

  it('groups entitlements by product and model with used / capacity and ARR', async () => {
    const v = await view(acme);
    const g = Object.fromEntries(v.entitlementGroups.map((x) => [x.sku, x]));
    expect(Object.keys(g).sort()).toEqual(['DEV', 'FLOAT', 'SEAT', 'SUB', 'SUB-PLUS']);
    expect(g.SEAT).toMatchObject({ model: 'NAMED_USER', entitlements: 1, live: 1, liveQuantity: '5', used: '3', capacity: '5', utilizationPercent: 60 });
    expect(g.DEV).toMatchObject({ model: 'DEVICE_LOCKED', used: '2', capacity: '4', utilizationPercent: 50, nextEndDate: day(60) });
    expect(g.FLOAT).toMatchObject({ model: 'CONCURRENT', used: '1', capacity: '2', utilizationPercent: 50, nextEndDate: day(485) });
    // Ended 40 days ago: not live, no ARR, no capacity counted.
    expect(g.SUB).toMatchObject({ model: 'SUBSCRIPTION', entitlements: 1, live: 0, used: null, capacity: null, arr: [] });
    expect(g.SEAT!.arr).toEqual([{ amountMinor: String(arr(12000, 5, day(-100), day(264))), currency: 'USD' }]);
    // The renewal's line prices the floating entitlement now.
    expect(g.FLOAT!.arr).toEqual([{ amountMinor: String(arr(33000, 2, day(121), day(485))), currency: 'USD' }]);
    expect(g['SUB-PLUS']!.arr).toEqual([{ amountMinor: String(arr(20000, 3, day(-30), day(149))), currency: 'EUR' }]);
    const usd = arr(12000, 5, day(-100), day(264)) + arr(5000, 4, day(-305), day(60)) + arr(33000, 2, day(121), day(485));
    expect(v.arr).toEqual([
      { amountMinor: String(arr(20000, 3, day(-30), day(149))), currency: 'EUR' },
      { amountMinor: String(usd), currency: 'USD' },
    ]);
    // The CRM field: mean of the live ratios (3/5, 2/4, 1/2).
    expect(v.utilizationPercent).toBe(Math.round(((0.6 + 0.5 + 0.5) / 3) * 1000) / 10);
  });

  it('counts devices, seats and leases in use and lists them', async () => {
    const v = await view(acme);
    expect(v.licensesInUse).toMatchObject({ devicesActive: 2, seatsAssigned: 3, leasesLive: 1 });
    expect(v.licensesInUse.devices.map((d) => d.fingerprint).sort()).toEqual(['fp-1', 'fp-2']);
    expect(v.licensesInUse.seats.map((s) => s.email).sort()).toEqual(['ann@acme.io', 'bob@acme.io', 'cy@acme.io']);
  });

  it('usage trend: the last 90 days against the 90 before, per meter and in total, with the ratio', async () => {
    const d = (back: number, hour = 12) => new Date(Date.parse(`${day(-back)}T00:00:00Z`) + hour * 3_600_000).toISOString();
    const events = [
      { meter: 'c3.calls', quantity: 100, back: 0 },
      { meter: 'c3.calls', quantity: 50, back: 30 },
      { meter: 'c3.calls', quantity: 25, back: 89 }, // the first day of the current window
      { meter: 'c3.calls', quantity: 30, back: 90 }, // the last day of the previous one
      { meter: 'c3.calls', quantity: 20, back: 179 },
      { meter: 'c3.calls', quantity: 999, back: 180 }, // outside both windows
      { meter: 'c3.peak', quantity: 1, gb: 7, back: 10 },
      { meter: 'c3.peak', quantity: 1, gb: 9, back: 100 },
      { meter: 'c3.peak', quantity: 1, gb: 4, back: 120 },
    ];
    const sent = events.map((e) => ({
      id: randomUUID(),
      accountId: acme,
      meter: e.meter,
      quantity: e.quantity,
      occurredAt: d(e.back, e.back === 0 ? 0 : 12),
      deployment: 'CLOUD',
      ...(e.gb ? { properties: { gb: e.gb } } : {}),
    }));
    const res = await hub.ok<{ recordUsage: { accepted: number } }>('mutation($e: [UsageEventInput!]!) { recordUsage(events: $e) { accepted } }', { e: sent });
    expect(res.recordUsage.accepted).toBe(events.length);

    const t = (await view(acme)).usageTrend;
    expect(t).toMatchObject({ currentFrom: day(-89), currentTo: day(0), previousFrom: day(-179), previousTo: day(-90) });
    const inCur = (e: (typeof events)[number]) => e.back <= 89;
    const inPrev = (e: (typeof events)[number]) => e.back >= 90 && e.back <= 179;
    const callsCur = events.filter((e) => e.meter === 'c3.calls' && inCur(e)).reduce((s, e) => s + e.quantity, 0);
    const callsPrev = events.filter((e) => e.meter === 'c3.calls' && inPrev(e)).reduce((s, e) => s + e.quantity, 0);
    expect(callsCur).toBe(175);
    expect(callsPrev).toBe(50);
    const calls = t.meters.find((m) => m.meterKey === 'c3.calls')!;
    expect(calls).toEqual({ meterKey: 'c3.calls', aggregation: 'SUM', current: '175', previous: '50', ratio: 3.5, currentEvents: 3, previousEvents: 2 });
    const peak = t.meters.find((m) => m.meterKey === 'c3.peak')!;
    expect(peak).toEqual({ meterKey: 'c3.peak', aggregation: 'MAX', current: '7', previous: '9', ratio: Number((7 / 9).toFixed(4)), currentEvents: 1, previousEvents: 2 });
    const cur = events.filter(inCur).length;
    const prev = events.filter(inPrev).length;
    expect(t).toMatchObject({ currentEvents: cur, previousEvents: prev, ratio: Number((cur / prev).toFixed(4)) });
  });

  it('open findings with leakage totals per currency (resolved ones left out)', async () => {
    const f = (await view(acme)).openFindings;
    expect(f.count).toBe(4);
    expect(f.leakage).toEqual([
      { amountMinor: '700', currency: 'EUR' },
      { amountMinor: String(1500 + 250), currency: 'USD' },
    ]);
    expect(f.items.map((i) => i.leakage?.amountMinor ?? null)).toEqual(['1500', '700', '250', null]);
  });

  it('upcoming renewals within the window, by order and end date, with ARR', async () => {
    const r = (await view(acme)).upcomingRenewals;
    expect(r.withinDays).toBe(180);
    // Devices (60 days) and the EUR subscription (149 days); seats end in 264 days and floating was renewed to 485.
    expect(r.renewals.map((x) => [x.endDate, x.daysLeft, x.skus])).toEqual([
      [day(60), 60, ['DEV']],
      [day(149), 149, ['SUB-PLUS']],
    ]);
    expect(r.renewals[0]!.arr).toEqual({ amountMinor: String(arr(5000, 4, day(-305), day(60))), currency: 'USD' });
    expect(r.renewals[0]!.orderId).toBe(order1.id);
    expect(r.arr).toEqual([
      { amountMinor: String(arr(20000, 3, day(-30), day(149))), currency: 'EUR' },
      { amountMinor: String(arr(5000, 4, day(-305), day(60))), currency: 'USD' },
    ]);
    const wide = (await view(acme, { days: 300 })).upcomingRenewals;
    expect(wide.renewals.map((x) => x.skus[0])).toEqual(['DEV', 'SUB-PLUS', 'SEAT']);
    const narrow = (await view(acme, { days: 30 })).upcomingRenewals;
    expect(narrow).toEqual({ withinDays: 30, arr: [], renewals: [] });
  });

  it('revenue recognised to date + deferred = allocated, per currency, as the ledger says', async () => {
    const v = await view(acme);
    const month = `${day(0).slice(0, 7)}-01`;
    const expected: { currency: string; allocated: string; recognised: string }[] = await hub.ds.query(
      `SELECT o.currency, sum(o.allocated_minor)::text AS allocated,
              coalesce((SELECT sum(e.amount_minor) FROM revenue_entry e JOIN revenue_obligation x ON x.id = e.obligation_id
                         WHERE x.account_id = $1 AND x.currency = o.currency AND e.month <= $2::date), 0)::text AS recognised
         FROM revenue_obligation o WHERE o.account_id = $1 GROUP BY o.currency ORDER BY o.currency`,
      [acme, month],
    );
    expect(expected.map((e) => e.currency)).toEqual(['EUR', 'USD']);
    expect(v.revenue.map((r) => ({ currency: r.currency, allocated: r.allocated.amountMinor, recognised: r.recognised.amountMinor }))).toEqual(expected);
    for (const r of v.revenue) {
      expect(BigInt(r.recognised.amountMinor) + BigInt(r.deferred.amountMinor)).toBe(BigInt(r.allocated.amountMinor));
    }
    // Ratable terms that started in the past have recognised something, and those running on have a deferred part.
    const usd = v.revenue.find((r) => r.currency === 'USD')!;
    expect(BigInt(usd.recognised.amountMinor)).toBeGreaterThan(0n);
    expect(BigInt(usd.deferred.amountMinor)).toBeGreaterThan(0n);
    // The same figures as revenueSchedule up to this month.
    const sched = await hub.ok<{ revenueSchedule: { totals: { allocated: Money; recognised: Money; deferred: Money }[] } }>(
      'query($f: RevenueScheduleFilter) { revenueSchedule(filter: $f) { totals { allocated { amountMinor currency } recognised { amountMinor currency } deferred { amountMinor currency } } } }',
      { f: { accountId: acme, to: month.slice(0, 7) } },
    );
    const byCur = Object.fromEntries(sched.revenueSchedule.totals.map((t) => [t.allocated.currency, t]));
    for (const r of v.revenue) {
      expect(r.recognised.amountMinor).toBe(byCur[r.currency]!.recognised.amountMinor);
      expect(r.deferred.amountMinor).toBe(byCur[r.currency]!.deferred.amountMinor);
    }
  });

  it('sync status per linked system: the connection, its last pull and push, this account\'s outbox items', async () => {
    const [conn] = await hub.ds.query(`SELECT id FROM sync_connection WHERE name = 'sf-c360'`);
    await hub.ds.query(
      `INSERT INTO sync_run (connection_id, kind, object, trigger, status, started_at) VALUES
         ($1, 'PULL', 'accounts', 'SCHEDULE', 'SUCCEEDED', now() - interval '2 hours'),
         ($1, 'PULL', 'orders', 'SCHEDULE', 'FAILED', now() - interval '1 hour'),
         ($1, 'PUSH', 'account-fields', 'SCHEDULE', 'PARTIAL', now() - interval '30 minutes')`,
      [conn.id],
    );
    await hub.ds.query(`DELETE FROM sync_outbox WHERE connection_id = $1`, [conn.id]);
    await hub.ds.query(
      `INSERT INTO sync_outbox (connection_id, object, record_key, account_id, status, delivered_at) VALUES
         ($1, 'account-fields', $2::text, $2::uuid, 'PENDING', NULL),
         ($1, 'entitlement', 'e1', $2::uuid, 'FAILED', NULL),
         ($1, 'entitlement', 'e2', $2::uuid, 'DEAD', NULL),
         ($1, 'entitlement', 'e3', $2::uuid, 'DONE', now() - interval '10 minutes'),
         ($1, 'account-fields', $3::text, $3::uuid, 'DEAD', NULL)`,
      [conn.id, acme, globex],
    );
    const s = (await view(acme)).syncStatus;
    expect(s).toEqual([
      expect.objectContaining({ system: 'netsuite', connectionName: 'ns-c360', connectionType: 'netsuite', lastPullStatus: null, lastPushStatus: null, outboxPending: 0, outboxDead: 0 }),
      expect.objectContaining({ system: 'salesforce', connectionName: 'sf-c360', connectionType: 'salesforce', lastPullStatus: 'FAILED', lastPushStatus: 'PARTIAL', outboxPending: 2, outboxDead: 1 }),
    ]);
    expect(Date.now() - Date.parse(s[1]!.lastDeliveredAt!)).toBeGreaterThan(9 * 60_000);
    expect(Date.now() - Date.parse(s[1]!.lastPullAt!)).toBeLessThan(61 * 60_000);
  });

  it('health: null until scored, then exactly Account.health with its explanation', async () => {
    expect((await view(acme)).health).toBeNull();
    const HEALTH = 'score band coverage measures { key band explanation }';
    const { recomputeHealth } = await hub.ok<{ recomputeHealth: View['health'] }>(`mutation($a: ID!) { recomputeHealth(accountId: $a) { ${HEALTH} } }`, { a: acme });
    const v = await view(acme);
    expect(v.health).toEqual(recomputeHealth);
    const { account } = await hub.ok<{ account: { health: View['health'] } }>(`query($a: ID!) { account(id: $a) { health { ${HEALTH} } } }`, { a: acme });
    expect(v.health).toEqual(account.health);
    expect(v.health!.measures.length).toBeGreaterThan(0);
  });

  it('churn risk: exactly Account.churnRisk (the rules-only score while no model is trained)', async () => {
    const v = await view(acme);
    const { account } = await hub.ok<{ account: { churnRisk: View['churnRisk'] } }>(
      `query($a: ID!) { account(id: $a) { churnRisk { probability band source termEnd contributions { feature contribution } } } }`,
      { a: acme },
    );
    expect(account.churnRisk).not.toBeNull();
    expect(v.churnRisk).toEqual(account.churnRisk);
    expect(v.churnRisk!.source).toBe('BASELINE');
  });

  it('receivables: the ERP summary as Account.receivables computes it, and payments in the timeline', async () => {
    expect((await view(acme)).receivables).toEqual([]);
    await receivables(acme, [
      { kind: 'INVOICE', number: 'INV-1', amount: 100000, open: 40000, daysAgo: 60, dueInDays: -30 },
      { kind: 'INVOICE', number: 'INV-2', amount: 50000, open: 50000, daysAgo: 10, dueInDays: 20 },
      { kind: 'PAYMENT', number: 'PAY-1', amount: 60000, open: 0, daysAgo: 15 },
    ]);
    const v = await view(acme, { limit: 500 });
    const { account } = await hub.ok<{ account: { receivables: View['receivables'] } }>(
      'query($a: ID!) { account(id: $a) { receivables { currency openBalance { amountMinor currency } overdue { amountMinor } maxOverdueDays lastPaymentDate invoiceCount openInvoiceCount } } }',
      { a: acme },
    );
    expect(v.receivables).toEqual(account.receivables);
    expect(v.receivables).toEqual([
      expect.objectContaining({ currency: 'USD', openBalance: { amountMinor: '90000', currency: 'USD' }, overdue: { amountMinor: '40000' }, maxOverdueDays: 30, lastPaymentDate: day(-15), invoiceCount: 2, openInvoiceCount: 2 }),
    ]);
    const payment = v.timeline.find((e) => e.kind === 'PAYMENT')!;
    expect(payment).toMatchObject({ summary: 'Payment PAY-1 received', amount: { amountMinor: '60000', currency: 'USD' } });
    expect(payment.at.slice(0, 10)).toBe(day(-15));
  });

  it('timeline: orders, renewals, ended terms and findings, newest first, cut at timelineLimit', async () => {
    const v = await view(acme, { limit: 500 });
    const kinds = v.timeline.map((e) => e.kind);
    expect(kinds.filter((k) => k === 'ORDER')).toHaveLength(3);
    expect(kinds.filter((k) => k === 'RENEWAL')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'FINDING_OPENED')).toHaveLength(5);
    expect(kinds.filter((k) => k === 'FINDING_RESOLVED')).toHaveLength(1);
    // The SUB term ended 40 days ago with no renewal.
    const ended = v.timeline.find((e) => e.kind === 'TERM_ENDED')!;
    expect(ended.at.slice(0, 10)).toBe(day(-39));
    expect(ended.summary).toContain('SUB');
    const times = v.timeline.map((e) => Date.parse(e.at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    const renewal = v.timeline.find((e) => e.kind === 'RENEWAL')!;
    expect(renewal.amount).toEqual({ amountMinor: String(2 * 33000), currency: 'USD' });
    const eur = v.timeline.find((e) => e.kind === 'ORDER' && e.refId === order2.id)!;
    expect(eur.amount).toEqual({ amountMinor: String(3 * 20000), currency: 'EUR' });
    const cut = await view(acme, { limit: 3 });
    expect(cut.timeline).toEqual(v.timeline.slice(0, 3));
  });
});

describe('customer360: merges in the timeline', () => {
  it('a merge and its undoing show on the surviving account, newest first', async () => {
    const survivor = await createAccount(hub, 'Initech');
    const merged = await createAccount(hub, 'Initech Corp.');
    const { mergeAccounts } = await hub.ok<{ mergeAccounts: { id: string } }>(
      'mutation($s: ID!, $m: ID!) { mergeAccounts(survivorId: $s, mergedId: $m, reason: "same customer") { id } }',
      { s: survivor, m: merged },
    );
    const after = await view(survivor);
    expect(after.timeline[0]).toMatchObject({ kind: 'MERGE', refId: mergeAccounts.id });
    expect(after.timeline[0]!.summary).toContain('Initech Corp. merged into this one');
    await hub.ok('mutation($id: ID!) { unmergeAccounts(mergeId: $id, reason: "not the same") { id } }', { id: mergeAccounts.id });
    const undone = await view(survivor);
    expect(undone.timeline.map((e) => e.kind).slice(0, 2)).toEqual(['UNMERGE', 'MERGE']);
    expect(undone.timeline[0]!.summary).toContain('Initech Corp.');
  });
});

describe('customer360: lookup, scope, roles and bad input', () => {
  it('finds the account by external reference (system case-insensitive)', async () => {
    const res = await C360(null, { ref: { system: 'SalesForce', object: 'Account', externalId: ACME_SF } });
    expect(res.errors).toBeUndefined();
    expect(res.data!.customer360.account).toEqual({ id: acme, name: 'Acme' });
    const ns = await C360(null, { ref: { system: 'netsuite', object: 'customer', externalId: '4711' } });
    expect(ns.data!.customer360.account.id).toBe(acme);
  });

  it('NOT_FOUND for unknown ids and references; clear codes for a missing, doubled or out-of-range argument', async () => {
    expect(gqlError(await C360(randomUUID()))).toMatchObject({ code: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' });
    expect(gqlError(await C360('not-a-uuid'))).toMatchObject({ code: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' });
    expect(gqlError(await C360(null, { ref: { system: 'salesforce', object: 'Account', externalId: '001NOPE' } }))).toMatchObject({ code: 'NOT_FOUND' });
    expect(gqlError(await C360(null))).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'CUSTOMER360_KEY_REQUIRED' });
    // `accountId` (the name DESIGN.md lists) is the same key as `account`; both at once is refused.
    const byAccountId = await hub.ok<{ customer360: { account: { id: string } } }>(`query($a: ID) { customer360(accountId: $a) { account { id } } }`, { a: acme });
    expect(byAccountId.customer360.account.id).toBe(acme);
    expect(gqlError(await hub.gql(`query($a: ID) { customer360(account: $a, accountId: $a) { account { id } } }`, { a: acme }))).toMatchObject({
      code: 'BAD_USER_INPUT',
      subCode: 'CUSTOMER360_KEY_REQUIRED',
    });
    expect(gqlError(await C360(acme, { ref: { system: 'salesforce', object: 'Account', externalId: ACME_SF } }))).toMatchObject({
      code: 'BAD_USER_INPUT',
      subCode: 'CUSTOMER360_KEY_REQUIRED',
    });
    expect(gqlError(await C360(acme, { days: 0 }))).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(gqlError(await C360(acme, { days: 731 }))).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(gqlError(await C360(acme, { limit: 501 }))).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(gqlError(await C360(null, { ref: { system: ' ', object: 'Account', externalId: 'x' } }))).toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('ANALYST and up may ask; READONLY and INTEGRATION are refused', async () => {
    for (const role of [Role.ANALYST, Role.FINANCE, Role.OPERATIONS]) {
      const res = await C360(acme, {}, await hub.createKey(role));
      expect(res.errors).toBeUndefined();
      expect(res.data!.customer360.account.id).toBe(acme);
    }
    for (const role of [Role.READONLY, Role.INTEGRATION]) {
      expect(gqlError(await C360(acme, {}, await hub.createKey(role)))).toMatchObject({ code: 'FORBIDDEN', subCode: 'AUTH_ROLE_NOT_ALLOWED' });
    }
  });

  it('an account-scoped key sees its own account only; another\'s is NOT_FOUND, as an unknown one', async () => {
    const key = await hub.createKey(Role.ANALYST, acme);
    const own = await C360(acme, {}, key);
    expect(own.errors).toBeUndefined();
    expect(own.data!.customer360.account.id).toBe(acme);
    const other = gqlError(await C360(globex, {}, key));
    const unknown = gqlError(await C360(randomUUID(), {}, key));
    expect(other).toMatchObject({ code: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' });
    expect(unknown).toMatchObject({ code: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' });
    expect(other.message).not.toContain('Globex');
    const byRef = gqlError(await C360(null, { ref: { system: 'salesforce', object: 'Account', externalId: '001GLOBEX000001' } }, key));
    expect(byRef).toMatchObject({ code: 'NOT_FOUND' });
    expect(JSON.stringify(own.data)).not.toContain(globex);
  });
});

describe('customer360: statement count does not grow with the account', () => {
  it('a small and a large account (50 entitlements, 10,000 usage days, 200 invoices, 200 findings) cost the same fixed number of statements', async () => {
    // Big Co: 50 entitlements over 5 orders, seats and devices in use, 10,000 daily rollups, 200 findings.
    const ents: string[] = [];
    for (let o = 0; o < 5; o++) {
      const lines = Array.from({ length: BIG_ENTITLEMENTS / 5 }, (_, i) => ({
        sku: ['SEAT', 'DEV', 'FLOAT', 'SUB', 'METER'][i % 5]!,
        quantity: 10,
        unitPrice: 1000 + i,
        startDate: day(-200 + o),
        endDate: day(100 + o * 30 + i),
      }));
      const placed = await submitOrder(hub, orderInput(big, `BIG-${o}`, lines, { orderDate: day(-200 + o) }));
      ents.push(...placed.entitlements.map((e) => e.id));
    }
    expect(ents).toHaveLength(BIG_ENTITLEMENTS);
    await rollups(big, ents, BIG_USAGE_DAYS);
    const [{ n }] = await hub.ds.query(`SELECT count(*)::int AS n FROM usage_rollup WHERE account_id = $1 AND granularity = 'D'`, [big]);
    expect(n).toBe(10_000);
    for (let i = 0; i < 200; i++) await finding(big, { kind: 'OVERUSE', status: i % 3 === 0 ? 'RESOLVED' : 'OPEN', leakage: 100 + i, firstSeenDaysAgo: i % 150, ...(i % 3 === 0 ? { resolvedDaysAgo: 1 } : {}) });

    // 200 invoices (and 40 payments) from the ERP.
    await receivables(big, Array.from({ length: 240 }, (_, i) => (i < 200 ? { kind: 'INVOICE', amount: 1000 + i, open: i % 2 ? 0 : 500, daysAgo: i, dueInDays: 30 - i } : { kind: 'PAYMENT', amount: 700, open: 0, daysAgo: i - 200 })));

    // Globex stays small: one order, one finding (above), one usage day, one invoice.
    await receivables(globex, [{ kind: 'INVOICE', amount: 100, open: 100, daysAgo: 1, dueInDays: 29 }]);
    const g = await submitOrder(hub, orderInput(globex, 'GLX-1', [{ sku: 'SEAT', quantity: 2 }]));
    await rollups(globex, [g.entitlements[0]!.id], 1);

    await hub.ok(FULL, { id: globex }); // warm the key cache
    const small = await hub.countQueries(() => hub.ok<{ customer360: View }>(FULL, { id: globex }));
    const large = await hub.countQueries(() => hub.ok<{ customer360: View }>(FULL, { id: big }));
    expect(large.result.customer360.entitlementGroups.reduce((s, x) => s + x.entitlements, 0)).toBe(BIG_ENTITLEMENTS);
    expect(large.result.customer360.usageTrend.currentEvents).toBe(BIG_ENTITLEMENTS * 90 * 2);
    expect(large.result.customer360.openFindings.items).toHaveLength(25);
    expect(large.result.customer360.timeline).toHaveLength(50);
    expect(large.result.customer360.receivables[0]!.invoiceCount).toBe(200);
    expect(small.result.customer360.entitlementGroups).toHaveLength(1);
    expect(large.count).toBe(small.count);
    // account, linked records, contacts, entitlement facts, licences, usage, findings, revenue, sync, timeline, health, receivables,
    // model fit's stored analysis, and its five when none is stored (products held, usage and payments, meter units, leases,
    // model prices), and churn risk's two (model, features).
    expect(small.count).toBeLessThanOrEqual(20);
  });
});

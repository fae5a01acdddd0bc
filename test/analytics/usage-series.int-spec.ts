import { Role } from '../../src/auth/role';
import { gqlError, startTestHub, type TestHub } from '../support/test-hub';
import {
  USAGE_SERIES,
  at,
  createAccount,
  grant,
  monthStart,
  pointsOf,
  recordUsage,
  seedAnalyticsCatalog,
  thisMonday,
  type SeriesAnswer,
  type UsageEvent,
} from './analytics-support';

/**
 * usageSeries over a hand-built scenario: orders through submitOrder, usage through
 * recordUsage, one meter per aggregation, and exact figures per bucket.
 */
let hub: TestHub;
let acme: string;
let globex: string;
let acmeApi: string;
let products: Record<string, string>;

/** Monday three weeks back: a whole past week, whatever day the tests run. */
const W = new Date(thisMonday().getTime() - 21 * 86_400_000);
const M = monthStart(3);
const iso = (d: Date) => d.toISOString();
const Wd = (days: number, hours = 0) => at(W, days, hours);
const Md = (days: number, hours = 0) => at(M, days, hours);

beforeAll(async () => {
  hub = await startTestHub();
  products = await seedAnalyticsCatalog(hub);
  acme = await createAccount(hub, 'Acme');
  globex = await createAccount(hub, 'Globex');
  acmeApi = await grant(hub, acme, { sku: 'AN-API', resetPeriod: 'MONTHLY' });
  await grant(hub, acme, { sku: 'AN-STORE' });
  await grant(hub, globex, { sku: 'AN-STORE' });

  const a = (e: Omit<UsageEvent, 'accountId'>): UsageEvent => ({ accountId: acme, ...e });
  await recordUsage(hub, [
    // SUM
    a({ meter: 'an.calls', quantity: 100, occurredAt: Wd(0, 10), deployment: 'CLOUD', user: 'u1', device: 'd1' }),
    a({ meter: 'an.calls', quantity: 50, occurredAt: at(W, 0, 10, 30), deployment: 'ON_PREM', user: 'u2', device: 'd2' }),
    a({ meter: 'an.calls', quantity: 25, occurredAt: Wd(1, 9), deployment: 'CLOUD', user: 'u1' }),
    a({ meter: 'an.calls', quantity: 5, occurredAt: at(W, 2, 23, 30), deployment: 'CLOUD', user: 'u3', device: 'd1' }),
    a({ meter: 'an.calls.batch', quantity: 1000, occurredAt: Wd(4, 13), deployment: 'CLOUD' }),
    // COUNT
    ...[Md(0, 10), Md(1, 10), Md(1, 11), Md(20, 10)].map((t) => a({ meter: 'an.jobs', quantity: 1, occurredAt: t, deployment: 'CLOUD' })),
    // MAX (value from properties.gb)
    a({ meter: 'an.storage.peak', quantity: 1, occurredAt: Wd(0, 9), deployment: 'CLOUD', properties: { gb: 10 } }),
    a({ meter: 'an.storage.peak', quantity: 1, occurredAt: Wd(0, 11), deployment: 'CLOUD', properties: { gb: 40 } }),
    a({ meter: 'an.storage.peak', quantity: 1, occurredAt: Wd(1, 8), deployment: 'CLOUD', properties: { gb: 25 } }),
    // LATEST
    a({ meter: 'an.disk.now', quantity: 300, occurredAt: Wd(0, 8), deployment: 'CLOUD' }),
    a({ meter: 'an.disk.now', quantity: 250, occurredAt: Wd(0, 20), deployment: 'CLOUD' }),
    a({ meter: 'an.disk.now', quantity: 260, occurredAt: Wd(1, 12), deployment: 'CLOUD' }),
    // UNIQUE_COUNT: alice on three days, bob on two, carol once
    ...(
      [
        [0, 10, 'alice', 'CLOUD'],
        [0, 11, 'bob', 'CLOUD'],
        [1, 9, 'alice', 'ON_PREM'],
        [1, 10, 'carol', 'CLOUD'],
        [2, 9, 'alice', 'CLOUD'],
        [2, 10, 'bob', 'CLOUD'],
      ] as const
    ).map(([d, h, u, dep]) => a({ meter: 'an.users', quantity: 1, occurredAt: Wd(d, h), deployment: dep, user: u, properties: { userId: u } })),
    ...(
      [
        [0, 'alice'],
        [0, 'bob'],
        [1, 'alice'],
        [2, 'dave'],
      ] as const
    ).map(([d, u]) => a({ meter: 'an.users', quantity: 1, occurredAt: Md(d, 12), deployment: 'CLOUD', properties: { userId: u } })),
    { accountId: globex, meter: 'an.users', quantity: 1, occurredAt: Wd(0, 15), deployment: 'SAAS', properties: { userId: 'alice' } },
    // A meter drawing on no feature
    a({ meter: 'an.misc', quantity: 7, occurredAt: Wd(0, 12), deployment: 'EMBEDDED' }),
  ]);
});
afterAll(async () => hub?.close());

const week = { from: iso(W), to: Wd(7) };

async function series(variables: Record<string, unknown>, key?: string): Promise<SeriesAnswer> {
  return (await hub.ok<{ usageSeries: SeriesAnswer }>(USAGE_SERIES, variables, key)).usageSeries;
}

async function seriesError(variables: Record<string, unknown>, key?: string) {
  return gqlError(await hub.gql(USAGE_SERIES, variables, key));
}

describe('usageSeries: aggregations', () => {
  it('SUM by day: one series, points only for buckets with events, the window echoed with every bucket start', async () => {
    const s = await series({ f: { accountId: acme, meter: 'an.calls' }, ...week, g: 'DAY' });
    expect(s).toMatchObject({ aggregation: 'SUM', unit: 'calls', granularity: 'DAY', from: iso(W), to: Wd(7), timeZone: 'UTC', meters: [{ key: 'an.calls' }] });
    expect(s.buckets).toEqual([0, 1, 2, 3, 4, 5, 6].map((d) => Wd(d)));
    expect(s.series).toHaveLength(1);
    expect(s.series[0]!.key).toEqual({ accountId: null, productId: null, feature: null, deployment: null, user: null, device: null });
    expect(s.series[0]!.points).toEqual([
      { bucket: Wd(0), value: '150', count: 2 },
      { bucket: Wd(1), value: '25', count: 1 },
      { bucket: Wd(2), value: '5', count: 1 },
    ]);
  });

  it('SUM by hour, week and month; a window not on bucket boundaries returns its buckets whole', async () => {
    const hours = await series({ f: { accountId: acme, meter: 'an.calls' }, from: iso(W), to: Wd(1), g: 'HOUR' });
    expect(hours.buckets).toHaveLength(24);
    expect(hours.series[0]!.points).toEqual([{ bucket: Wd(0, 10), value: '150', count: 2 }]);
    const weeks = await series({ f: { accountId: acme, meter: 'an.calls' }, from: at(W, 3, 5), to: at(W, 3, 6), g: 'WEEK' });
    expect(weeks).toMatchObject({ from: iso(W), to: Wd(7), buckets: [iso(W)] });
    expect(weeks.series[0]!.points).toEqual([{ bucket: iso(W), value: '180', count: 4 }]);
    const months = await series({ f: { accountId: acme, meter: 'an.calls' }, from: iso(W), to: Wd(1), g: 'MONTH' });
    expect(months.from).toBe(new Date(Date.UTC(W.getUTCFullYear(), W.getUTCMonth(), 1)).toISOString());
  });

  it('COUNT counts events, by day and by month', async () => {
    const days = await series({ f: { accountId: acme, meter: 'an.jobs' }, from: iso(M), to: monthStart(2).toISOString(), g: 'DAY' });
    expect(days.aggregation).toBe('COUNT');
    expect(pointsOf(days.series[0]!)).toEqual({ [Md(0)]: '1', [Md(1)]: '2', [Md(20)]: '1' });
    const month = await series({ f: { accountId: acme, meter: 'an.jobs' }, from: iso(M), to: monthStart(2).toISOString(), g: 'MONTH' });
    expect(month.series[0]!.points).toEqual([{ bucket: iso(M), value: '4', count: 4 }]);
  });

  it('MAX is the largest value of the bucket (from the meter\'s value property)', async () => {
    const days = await series({ f: { accountId: acme, meter: 'an.storage.peak' }, ...week, g: 'DAY' });
    expect(days).toMatchObject({ aggregation: 'MAX', unit: 'GB' });
    expect(pointsOf(days.series[0]!)).toEqual({ [Wd(0)]: '40', [Wd(1)]: '25' });
    const weeks = await series({ f: { accountId: acme, meter: 'an.storage.peak' }, ...week, g: 'WEEK' });
    expect(weeks.series[0]!.points).toEqual([{ bucket: iso(W), value: '40', count: 3 }]);
  });

  it('LATEST is the value of the latest event of the bucket, whatever order they came in', async () => {
    const days = await series({ f: { accountId: acme, meter: 'an.disk.now' }, ...week, g: 'DAY' });
    expect(pointsOf(days.series[0]!)).toEqual({ [Wd(0)]: '250', [Wd(1)]: '260' });
    const weeks = await series({ f: { accountId: acme, meter: 'an.disk.now' }, ...week, g: 'WEEK' });
    expect(weeks.series[0]!.points).toEqual([{ bucket: iso(W), value: '260', count: 3 }]);
  });

  it('UNIQUE_COUNT is exact per bucket: a user seen on several days of a week or month counts once', async () => {
    const days = await series({ f: { accountId: acme, meter: 'an.users' }, ...week, g: 'DAY' });
    expect(days.aggregation).toBe('UNIQUE_COUNT');
    expect(pointsOf(days.series[0]!)).toEqual({ [Wd(0)]: '2', [Wd(1)]: '2', [Wd(2)]: '2' });
    const weeks = await series({ f: { accountId: acme, meter: 'an.users' }, ...week, g: 'WEEK' });
    expect(weeks.series[0]!.points).toEqual([{ bucket: iso(W), value: '3', count: 6 }]);
    const month = await series({ f: { accountId: acme, meter: 'an.users' }, from: iso(M), to: monthStart(2).toISOString(), g: 'MONTH' });
    expect(month.series[0]!.points).toEqual([{ bucket: iso(M), value: '3', count: 4 }]);
    // Across accounts a value is per account: Globex's alice is another user than Acme's.
    const all = await series({ f: { meter: 'an.users' }, ...week, g: 'WEEK' });
    expect(all.series[0]!.points).toEqual([{ bucket: iso(W), value: '4', count: 7 }]);
  });
});

describe('usageSeries: groupBy', () => {
  it('ACCOUNT: one series per account, keys set only for grouped dimensions', async () => {
    const s = await series({ f: { meter: 'an.users' }, ...week, g: 'WEEK', by: ['ACCOUNT'] });
    const byAccount = Object.fromEntries(s.series.map((x) => [x.key.accountId, x.points.map((p) => p.value)]));
    expect(byAccount).toEqual({ [acme]: ['3'], [globex]: ['1'] });
    expect(s.series.every((x) => x.key.deployment === null && x.key.productId === null)).toBe(true);
  });

  it('DEPLOYMENT', async () => {
    const s = await series({ f: { accountId: acme, meter: 'an.calls' }, ...week, g: 'DAY', by: ['DEPLOYMENT'] });
    expect(s.series.map((x) => [x.key.deployment, pointsOf(x)])).toEqual([
      ['CLOUD', { [Wd(0)]: '100', [Wd(1)]: '25', [Wd(2)]: '5' }],
      ['ON_PREM', { [Wd(0)]: '50' }],
    ]);
  });

  it('ACCOUNT and DEPLOYMENT together, with UNIQUE_COUNT', async () => {
    const s = await series({ f: { meter: 'an.users' }, ...week, g: 'DAY', by: ['DEPLOYMENT', 'ACCOUNT'] });
    const got = s.series.map((x) => [x.key.accountId === acme ? 'acme' : 'globex', x.key.deployment, pointsOf(x)]);
    expect(got).toEqual(
      expect.arrayContaining([
        ['acme', 'CLOUD', { [Wd(0)]: '2', [Wd(1)]: '1', [Wd(2)]: '2' }],
        ['acme', 'ON_PREM', { [Wd(1)]: '1' }],
        ['globex', 'SAAS', { [Wd(0)]: '1' }],
      ]),
    );
    expect(got).toHaveLength(3);
  });

  it('PRODUCT (null = usage drawing on no entitlement) and FEATURE', async () => {
    const users = await series({ f: { meter: 'an.users' }, ...week, g: 'WEEK', by: ['PRODUCT', 'FEATURE'] });
    expect(users.series.map((x) => [x.key.productId, x.key.feature, x.points[0]!.value])).toEqual([[products['AN-STORE'], 'an.users', '4']]);
    const misc = await series({ f: { accountId: acme, meter: 'an.misc' }, ...week, g: 'WEEK', by: ['PRODUCT', 'FEATURE'] });
    expect(misc.series.map((x) => [x.key.productId, x.key.feature, x.points[0]!.value])).toEqual([[null, null, '7']]);
    const named = await hub.ok<{ usageSeries: { series: { key: { product: { sku: string }; account: { name: string } } }[] } }>(
      `query($f: UsageSeriesFilter, $from: DateTimeISO!, $to: DateTimeISO!) {
         usageSeries(filter: $f, from: $from, to: $to, granularity: WEEK, groupBy: [PRODUCT, ACCOUNT]) { series { key { product { sku } account { name } } } } }`,
      { f: { meter: 'an.users' }, ...week },
    );
    expect(named.usageSeries.series.map((x) => `${x.key.account.name} ${x.key.product.sku}`).sort()).toEqual(['Acme AN-STORE', 'Globex AN-STORE']);
  });

  it('USER and DEVICE from the raw events (null = events without one, last)', async () => {
    const users = await series({ f: { accountId: acme, meter: 'an.calls' }, ...week, g: 'DAY', by: ['USER'] });
    expect(users.series.map((x) => [x.key.user, pointsOf(x)])).toEqual([
      ['u1', { [Wd(0)]: '100', [Wd(1)]: '25' }],
      ['u2', { [Wd(0)]: '50' }],
      ['u3', { [Wd(2)]: '5' }],
    ]);
    const devices = await series({ f: { accountId: acme, meter: 'an.calls' }, ...week, g: 'WEEK', by: ['DEVICE'] });
    expect(devices.series.map((x) => [x.key.device, x.points[0]!.value, x.points[0]!.count])).toEqual([
      ['d1', '105', 2],
      ['d2', '50', 1],
      [null, '25', 1],
    ]);
    // Every aggregation is computed the same way from events as from rollups.
    const byUserUnique = await series({ f: { accountId: acme, meter: 'an.users' }, ...week, g: 'WEEK', by: ['USER'] });
    expect(byUserUnique.series.map((x) => [x.key.user, x.points[0]!.value])).toEqual([
      ['alice', '1'],
      ['bob', '1'],
      ['carol', '1'],
    ]);
    const latest = await series({ f: { accountId: acme, meter: 'an.disk.now' }, ...week, g: 'DAY', by: ['DEVICE'] });
    expect(pointsOf(latest.series[0]!)).toEqual({ [Wd(0)]: '250', [Wd(1)]: '260' });
    const byEntitlement = await series({ f: { entitlementId: acmeApi, meter: 'an.calls' }, ...week, g: 'WEEK', by: ['USER', 'DEPLOYMENT'] });
    expect(byEntitlement.series.map((x) => [x.key.user, x.key.deployment, x.points[0]!.value])).toEqual([
      // Ordered by the dimensions in their fixed order (account, product, feature, deployment, user, device).
      ['u1', 'CLOUD', '125'],
      ['u3', 'CLOUD', '5'],
      ['u2', 'ON_PREM', '50'],
    ]);
  });
});

describe('usageSeries: filters', () => {
  it('by deployment, feature (its meters), product (meters of its features) and entitlement', async () => {
    const onPrem = await series({ f: { accountId: acme, meter: 'an.calls', deployment: 'ON_PREM' }, ...week, g: 'DAY' });
    expect(pointsOf(onPrem.series[0]!)).toEqual({ [Wd(0)]: '50' });
    // an.api has two SUM meters counting calls: they add up.
    const byFeature = await series({ f: { accountId: acme, feature: 'an.api' }, ...week, g: 'WEEK' });
    expect(byFeature.meters).toEqual([{ key: 'an.calls' }, { key: 'an.calls.batch' }]);
    expect(byFeature.series[0]!.points[0]).toEqual({ bucket: iso(W), value: '1180', count: 5 });
    const byProduct = await series({ f: { productId: products['AN-API'] }, ...week, g: 'WEEK' });
    expect(byProduct.meters).toEqual([{ key: 'an.calls' }, { key: 'an.calls.batch' }]);
    expect(byProduct.series[0]!.points[0]!.value).toBe('1180');
    const byEntitlement = await series({ f: { entitlementId: acmeApi }, ...week, g: 'WEEK' });
    expect(byEntitlement.series[0]!.points[0]!.value).toBe('1180');
    const otherProduct = await series({ f: { productId: products['AN-STORE'], meter: 'an.calls' }, ...week, g: 'WEEK' });
    expect(otherProduct.series).toEqual([]);
  });

  it('meters of different aggregations or units are never mixed', async () => {
    const err = await seriesError({ f: { accountId: acme }, ...week, g: 'WEEK' });
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'ANALYTICS_METER_REQUIRED' });
    expect(err.message).toContain('an.calls (SUM, calls)');
  });
});

describe('usageSeries: late events', () => {
  it('a late event lands in its own (old) bucket, for every aggregation', async () => {
    await recordUsage(hub, [
      { accountId: acme, meter: 'an.calls', quantity: 7, occurredAt: Wd(1, 12), deployment: 'CLOUD', user: 'u9' },
      { accountId: acme, meter: 'an.disk.now', quantity: 270, occurredAt: Wd(0, 21), deployment: 'CLOUD' },
      { accountId: acme, meter: 'an.users', quantity: 1, occurredAt: Wd(3, 9), deployment: 'CLOUD', properties: { userId: 'alice' } },
      { accountId: acme, meter: 'an.storage.peak', quantity: 1, occurredAt: Wd(1, 23), deployment: 'CLOUD', properties: { gb: 99 } },
    ]);
    const calls = await series({ f: { accountId: acme, meter: 'an.calls' }, ...week, g: 'DAY' });
    expect(calls.series[0]!.points[1]).toEqual({ bucket: Wd(1), value: '32', count: 2 });
    const hour = await series({ f: { accountId: acme, meter: 'an.calls' }, from: Wd(1), to: Wd(2), g: 'HOUR' });
    expect(pointsOf(hour.series[0]!)).toEqual({ [Wd(1, 9)]: '25', [Wd(1, 12)]: '7' });
    const disk = await series({ f: { accountId: acme, meter: 'an.disk.now' }, ...week, g: 'DAY' });
    expect(pointsOf(disk.series[0]!)).toEqual({ [Wd(0)]: '270', [Wd(1)]: '260' });
    const users = await series({ f: { accountId: acme, meter: 'an.users' }, ...week, g: 'WEEK' });
    expect(users.series[0]!.points).toEqual([{ bucket: iso(W), value: '3', count: 7 }]);
    const peak = await series({ f: { accountId: acme, meter: 'an.storage.peak' }, ...week, g: 'WEEK' });
    expect(peak.series[0]!.points[0]!.value).toBe('99');
  });
});

describe('usageSeries: bad input and limits', () => {
  it('from must be before to', async () => {
    expect(await seriesError({ f: { meter: 'an.calls' }, from: Wd(2), to: Wd(1) })).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'ANALYTICS_RANGE_INVALID' });
    expect(await seriesError({ f: { meter: 'an.calls' }, from: Wd(1), to: Wd(1) })).toMatchObject({ subCode: 'ANALYTICS_RANGE_INVALID' });
  });

  it('at most 10,000 buckets; USER and DEVICE at most 31 days and only for an account or entitlement', async () => {
    expect(await seriesError({ f: { meter: 'an.calls' }, from: '2020-01-01T00:00:00Z', to: '2022-01-01T00:00:00Z', g: 'HOUR' })).toMatchObject({
      code: 'BAD_USER_INPUT',
      subCode: 'ANALYTICS_RANGE_TOO_LARGE',
    });
    expect(await seriesError({ f: { accountId: acme, meter: 'an.calls' }, from: Wd(-40), to: Wd(1), by: ['USER'] })).toMatchObject({
      subCode: 'ANALYTICS_RANGE_TOO_LARGE',
    });
    expect(await seriesError({ f: { meter: 'an.calls' }, ...week, by: ['DEVICE'] })).toMatchObject({ subCode: 'ANALYTICS_ACCOUNT_REQUIRED' });
  });

  it('unknown meter or feature, a meter of another feature, a feature without meters, unknown ids', async () => {
    expect(await seriesError({ f: { meter: 'an.nope' }, ...week })).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'ANALYTICS_METER_UNKNOWN' });
    expect(await seriesError({ f: { feature: 'an.nope' }, ...week })).toMatchObject({ subCode: 'ANALYTICS_FEATURE_UNKNOWN' });
    expect(await seriesError({ f: { meter: 'an.calls', feature: 'an.users' }, ...week })).toMatchObject({ subCode: 'ANALYTICS_METER_FEATURE_MISMATCH' });
    expect(await seriesError({ f: { feature: 'an.seat' }, ...week })).toMatchObject({ subCode: 'ANALYTICS_FEATURE_UNMETERED' });
    const missing = '00000000-0000-4000-8000-000000000001';
    expect(await seriesError({ f: { meter: 'an.calls', accountId: missing }, ...week })).toMatchObject({ code: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' });
    expect(await seriesError({ f: { meter: 'an.calls', entitlementId: missing }, ...week })).toMatchObject({ code: 'NOT_FOUND', subCode: 'ENTITLEMENT_NOT_FOUND' });
    expect(await seriesError({ f: { meter: 'an.calls', productId: missing }, ...week })).toMatchObject({ code: 'NOT_FOUND', subCode: 'PRODUCT_NOT_FOUND' });
    expect(await seriesError({ f: { meter: 'an.calls', accountId: 'not-a-uuid' }, ...week })).toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('more than 10,000 points is LIMIT_EXCEEDED, asking for a narrower question', async () => {
    const bulk = await createAccount(hub, 'Bulk');
    const start = Date.now() - 5_002 * 3_600_000;
    const events: UsageEvent[] = [];
    for (let h = 0; h < 5_001; h++) {
      for (const deployment of ['CLOUD', 'ON_PREM']) {
        events.push({ accountId: bulk, meter: 'an.misc', quantity: 1, occurredAt: new Date(start + h * 3_600_000).toISOString(), deployment });
      }
    }
    await recordUsage(hub, events);
    const variables = { f: { accountId: bulk, meter: 'an.misc' }, from: new Date(start).toISOString(), to: new Date().toISOString(), g: 'HOUR' };
    const one = await series(variables);
    expect(one.series[0]!.points).toHaveLength(5_001);
    const err = await seriesError({ ...variables, by: ['DEPLOYMENT'] });
    expect(err).toMatchObject({ code: 'LIMIT_EXCEEDED', subCode: 'ANALYTICS_TOO_MANY_POINTS' });
  });
});

describe('usageSeries: cost', () => {
  it('two statements (filter check, series), plus one per kind of nested object, however many series', async () => {
    const query = `query($f: UsageSeriesFilter, $from: DateTimeISO!, $to: DateTimeISO!) {
      usageSeries(filter: $f, from: $from, to: $to, granularity: DAY, groupBy: [ACCOUNT, PRODUCT, DEPLOYMENT]) {
        series { key { account { name } product { sku } deployment } points { bucket value } } } }`;
    await hub.ok(query, { f: { meter: 'an.users' }, ...week }); // warm the API key cache
    const { result, count } = await hub.countQueries(() => hub.ok<{ usageSeries: { series: unknown[] } }>(query, { f: { meter: 'an.users' }, ...week }));
    expect(result.usageSeries.series.length).toBeGreaterThanOrEqual(3);
    expect(count).toBe(4);
    const plain = await hub.countQueries(() => series({ f: { accountId: acme, meter: 'an.calls' }, ...week, by: ['USER'] }));
    expect(plain.count).toBe(2);
  });
});

describe('usageSeries: who may ask', () => {
  it('an account-scoped key sees only its account, and another account is NOT_FOUND', async () => {
    const scoped = await hub.createKey(Role.ANALYST, globex);
    const own = await series({ f: { meter: 'an.users' }, ...week, g: 'WEEK', by: ['ACCOUNT'] }, scoped);
    expect(own.series.map((x) => [x.key.accountId, x.points[0]!.value])).toEqual([[globex, '1']]);
    expect(await seriesError({ f: { meter: 'an.users', accountId: acme }, ...week }, scoped)).toMatchObject({ code: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' });
    const err = await seriesError({ f: { entitlementId: acmeApi }, ...week }, scoped);
    expect(err).toMatchObject({ code: 'NOT_FOUND', subCode: 'ENTITLEMENT_NOT_FOUND' });
    expect(err.message).not.toContain(acme);
  });

  it('ANALYST, FINANCE, OPERATIONS and ADMIN may; READONLY and INTEGRATION may not', async () => {
    for (const role of [Role.ANALYST, Role.FINANCE, Role.OPERATIONS]) {
      await series({ f: { meter: 'an.calls' }, ...week }, await hub.createKey(role));
    }
    for (const role of [Role.READONLY, Role.INTEGRATION]) {
      expect(await seriesError({ f: { meter: 'an.calls' }, ...week }, await hub.createKey(role))).toMatchObject({ code: 'FORBIDDEN' });
    }
  });
});

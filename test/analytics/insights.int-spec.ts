import { Role } from '../../src/auth/role';
import { gqlError, startTestHub, type TestHub } from '../support/test-hub';
import { createAccount, day, grant, monthStart, recordUsage, type UsageEvent } from './analytics-support';

/**
 * packagingInsight and usagePersonas (issue 16, docs/analytics.md) over one hand-built book:
 * a bundle PK-SUITE of a designer product (core, render, simulation, export) and an analytics
 * product (dashboards, 2 users per suite), sold to six accounts; usage through recordUsage,
 * an OVERUSE finding through runCompliance, contacts with titles and departments through
 * upsertContact; every figure below counted by hand from the events.
 */
let hub: TestHub;
const products: Record<string, string> = {};
const acc: Record<string, string> = {};

const HOUR = 3_600_000;
const now = Date.now();
const M0 = monthStart(0).getTime();
const iso = (d: number) => new Date(d).toISOString();
/** In the past and in the current month (the cap on dashboards users is monthly). */
const recent = (hoursAgo: number) => iso(Math.max(M0 + HOUR, now - hoursAgo * HOUR));
const FROM = iso(now - 30 * 24 * HOUR);
const TO = iso(now + 24 * HOUR);

const PACKAGING = `query($p: ID!, $from: DateTimeISO!, $to: DateTimeISO!, $rare: Float) {
  packagingInsight(productId: $p, from: $from, to: $to, rarelyUsedBelowPercent: $rare) {
    productId sku name isBundle holders rarelyUsedBelowPercent
    features { featureKey meters entitledAccounts usingAccounts sharePercent events verdict overLimitAccounts }
    addOnCandidates { featureKey reason accounts holdersPercent used over unit leakage { amountMinor currency } }
  }
}`;
const PERSONAS = `query($g: PersonaAttribute!, $prop: String, $from: DateTimeISO!, $to: DateTimeISO!, $p: ID, $m: String, $a: ID, $first: Int) {
  usagePersonas(groupBy: $g, property: $prop, from: $from, to: $to, productId: $p, meter: $m, accountId: $a, first: $first) {
    groupBy property totalUsers attributedUsers totalGroups
    groups { value users usersPercent accounts events quantity topFeatures }
  }
}`;

interface Packaging {
  holders: number;
  isBundle: boolean;
  sku: string;
  features: { featureKey: string; entitledAccounts: number; usingAccounts: number; sharePercent: number | null; verdict: string; overLimitAccounts: number }[];
  addOnCandidates: { featureKey: string; reason: string; accounts: number; holdersPercent: number; used: string; over: string | null; unit: string; leakage: { amountMinor: string; currency: string }[] }[];
}
interface Personas {
  totalUsers: number;
  attributedUsers: number;
  totalGroups: number;
  groups: { value: string | null; users: number; usersPercent: number; accounts: number; events: number; quantity: string; topFeatures: string[] }[];
}
const packaging = async (vars: Record<string, unknown>, key?: string) =>
  (await hub.ok<{ packagingInsight: Packaging }>(PACKAGING, { p: products['PK-SUITE'], from: FROM, to: TO, ...vars }, key)).packagingInsight;
const personas = async (vars: Record<string, unknown>, key?: string) =>
  (await hub.ok<{ usagePersonas: Personas }>(PERSONAS, { from: FROM, to: TO, ...vars }, key)).usagePersonas;
const brief = (p: Personas) => p.groups.map((g) => [g.value, g.users, g.accounts, g.events, g.quantity]);

beforeAll(async () => {
  hub = await startTestHub();
  for (const key of ['pk.core', 'pk.render', 'pk.sim', 'pk.export', 'pk.dash', 'pk.api']) {
    await hub.ok('mutation($i: UpsertFeatureInput!) { upsertFeature(input: $i) { id } }', { i: { key, name: key } });
  }
  const product = async (sku: string, model: string, extra: Record<string, unknown>) => {
    const { upsertProduct } = await hub.ok<{ upsertProduct: { id: string } }>('mutation($i: UpsertProductInput!) { upsertProduct(input: $i) { id } }', {
      i: { sku, name: `${sku} name`, kind: 'SOFTWARE', listPrice: { amountMinor: 120000, currency: 'USD' }, defaultModel: model, ...extra },
    });
    products[sku] = upsertProduct.id;
  };
  await product('PK-DSN', 'SUBSCRIPTION', { features: [{ key: 'pk.core', limit: null }, { key: 'pk.render', limit: null }, { key: 'pk.sim', limit: null }, { key: 'pk.export', limit: null }] });
  await product('PK-ANL', 'SUBSCRIPTION', { features: [{ key: 'pk.dash', limit: 2 }] });
  await product('PK-API', 'SUBSCRIPTION', { features: [{ key: 'pk.api', limit: null }] });
  await product('PK-SUITE', 'SUBSCRIPTION', { features: [], components: [{ sku: 'PK-DSN', quantity: 1 }, { sku: 'PK-ANL', quantity: 1 }] });
  const meters = [
    { key: 'pk.edits', aggregation: 'SUM', unit: 'edits', featureKey: 'pk.core' },
    { key: 'pk.render.min', aggregation: 'SUM', unit: 'minutes', featureKey: 'pk.render' },
    { key: 'pk.export.gb', aggregation: 'SUM', unit: 'GB', featureKey: 'pk.export' },
    { key: 'pk.users', aggregation: 'UNIQUE_COUNT', unit: 'users', valueProperty: 'user', featureKey: 'pk.dash' },
    { key: 'pk.calls', aggregation: 'SUM', unit: 'calls', featureKey: 'pk.api' },
  ];
  for (const m of meters) await hub.ok('mutation($i: UpsertMeterInput!) { upsertMeter(input: $i) { id } }', { i: { name: m.key, ...m } });

  for (const n of ['A', 'B', 'C', 'D', 'E', 'F', 'G']) acc[n] = await createAccount(hub, `Packaging ${n}`);
  // A to F hold the suite; G holds nothing and calls the API anyway.
  for (const n of ['A', 'B', 'C', 'D', 'E', 'F']) await grant(hub, acc[n]!, { sku: 'PK-SUITE', startDate: day(-60), endDate: day(300) });

  const ev = (n: string, meter: string, quantity: number, user?: string, role?: string, more: Record<string, unknown> = {}): UsageEvent => ({
    accountId: acc[n]!,
    meter,
    quantity,
    occurredAt: recent(2 + Math.floor(quantity)),
    deployment: 'CLOUD',
    ...(user ? { user } : {}),
    properties: { ...(role ? { role } : {}), ...more },
  });
  await recordUsage(hub, [
    ev('A', 'pk.edits', 5, 'Alice@A.example', 'designer'),
    ev('A', 'pk.edits', 3, 'alice@a.example', 'designer'),
    ev('A', 'pk.render.min', 10, 'alice@a.example', 'designer'),
    ev('A', 'pk.edits', 2, 'bob@a.example', 'designer'),
    ev('A', 'pk.edits', 1, 'carol@a.example', 'analyst'),
    // Three dashboards users on a suite that grants two: OVERUSE.
    ev('A', 'pk.users', 1, 'alice@a.example', 'designer', { user: 'alice' }),
    ev('A', 'pk.users', 1, 'bob@a.example', 'designer', { user: 'bob' }),
    ev('A', 'pk.users', 1, 'carol@a.example', 'analyst', { user: 'carol' }),
    ev('B', 'pk.edits', 4, 'dave@b.example'),
    ev('B', 'pk.calls', 1, 'dave@b.example'),
    ev('B', 'pk.calls', 1, 'dave@b.example'),
    ev('C', 'pk.edits', 1, 'erin@c.example', 'manager'),
    ev('C', 'pk.calls', 1, 'erin@c.example', 'manager'),
    ev('D', 'pk.edits', 1),
    ev('E', 'pk.edits', 1, 'frank@e.example', 'designer'),
    ev('G', 'pk.calls', 7, 'gina@g.example', 'designer'),
  ]);
  await hub.ok('mutation($a: ID!) { runCompliance(accountId: $a) { opened } }', { a: acc.A });

  const contact = (n: string, email: string, title: string | null, department: string | null) =>
    hub.ok('mutation($i: UpsertContactInput!) { upsertContact(input: $i) { id } }', { i: { accountId: acc[n], email, title, department } });
  await contact('A', 'alice@a.example', 'Engineer', 'Design');
  await contact('A', 'Bob@A.example', ' Engineer ', 'Design');
  await contact('A', 'carol@a.example', 'Analyst', 'Finance');
  await contact('B', 'dave@b.example', null, 'Ops');
}, 120_000);

afterAll(async () => hub?.close());

describe('packagingInsight', () => {
  it('per feature of the bundle: who uses it, a verdict, and the add-on candidates (over the limit, not included)', async () => {
    const p = await packaging({ rare: 20 });
    expect(p).toMatchObject({ sku: 'PK-SUITE', isBundle: true, holders: 6 });
    // Least used first, NOT_MEASURED last; 1 of 6 = 16.67 % is rare under 20 %.
    expect(p.features.map((f) => [f.featureKey, f.entitledAccounts, f.usingAccounts, f.sharePercent, f.verdict, f.overLimitAccounts])).toEqual([
      ['pk.export', 6, 0, 0, 'UNUSED', 0],
      ['pk.dash', 6, 1, 16.67, 'RARELY_USED', 1],
      ['pk.render', 6, 1, 16.67, 'RARELY_USED', 0],
      ['pk.core', 6, 5, 83.33, 'USED', 0],
      ['pk.sim', 6, 0, 0, 'NOT_MEASURED', 0],
    ]);
    // B and C (holders) used the API the suite does not include; G is no holder and does not count.
    expect(p.addOnCandidates).toEqual([
      { featureKey: 'pk.api', reason: 'NOT_INCLUDED', accounts: 2, holdersPercent: 33.33, used: '3', over: null, unit: 'calls', leakage: [] },
      { featureKey: 'pk.dash', reason: 'OVER_LIMIT', accounts: 1, holdersPercent: 16.67, used: '3', over: '1', unit: 'users', leakage: [expect.objectContaining({ currency: 'USD' })] },
    ]);
    expect(BigInt(p.addOnCandidates[1]!.leakage[0]!.amountMinor)).toBeGreaterThan(0n);
  });

  it('the threshold moves features between USED and RARELY_USED (default 10 %)', async () => {
    const p = await packaging({});
    expect(p.features.filter((f) => f.verdict === 'RARELY_USED')).toEqual([]);
    expect(p.features.find((f) => f.featureKey === 'pk.render')!.verdict).toBe('USED');
    const strict = await packaging({ rare: 90 });
    expect(strict.features.find((f) => f.featureKey === 'pk.core')!.verdict).toBe('RARELY_USED');
  });

  it('a plain product works too; an account-scoped key sees its own account only; bad input changes nothing', async () => {
    const plain = await packaging({ p: products['PK-DSN'] });
    expect(plain).toMatchObject({ isBundle: false, holders: 0 });
    expect(plain.features.map((f) => f.featureKey).sort()).toEqual(['pk.core', 'pk.export', 'pk.render', 'pk.sim']);

    const scoped = await hub.createKey(Role.ANALYST, acc.B);
    const b = await packaging({}, scoped);
    expect(b.holders).toBe(1);
    expect(b.features.find((f) => f.featureKey === 'pk.core')).toMatchObject({ entitledAccounts: 1, usingAccounts: 1, sharePercent: 100 });
    expect(b.features.find((f) => f.featureKey === 'pk.dash')).toMatchObject({ usingAccounts: 0, overLimitAccounts: 0 });
    expect(b.addOnCandidates).toEqual([{ featureKey: 'pk.api', reason: 'NOT_INCLUDED', accounts: 1, holdersPercent: 100, used: '2', over: null, unit: 'calls', leakage: [] }]);

    const err = (v: Record<string, unknown>, key?: string) => hub.gql(PACKAGING, { p: products['PK-SUITE'], from: FROM, to: TO, ...v }, key).then(gqlError);
    expect(await err({ from: TO, to: FROM })).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'ANALYTICS_RANGE_INVALID' });
    expect(await err({ from: iso(now - 400 * 24 * HOUR) })).toMatchObject({ subCode: 'ANALYTICS_RANGE_TOO_LARGE' });
    expect(await err({ p: '00000000-0000-4000-8000-000000000009' })).toMatchObject({ code: 'NOT_FOUND', subCode: 'PRODUCT_NOT_FOUND' });
    expect(await err({ rare: 101 })).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await err({}, await hub.createKey(Role.READONLY))).toMatchObject({ code: 'FORBIDDEN' });
  });
});

describe('usagePersonas', () => {
  it('by a property of the events: a user is in the group most of its events name; users without it are the unknown group', async () => {
    const r = await personas({ g: 'EVENT_PROPERTY', prop: 'role' });
    // alice (4 events, 19), bob (2, 3), frank (1, 1), gina (1, 7); carol; erin; dave without a role. D's event names no user.
    expect(r).toMatchObject({ totalUsers: 7, attributedUsers: 6, totalGroups: 3 });
    expect(brief(r)).toEqual([
      ['designer', 4, 3, 8, '30'],
      ['analyst', 1, 1, 2, '2'],
      ['manager', 1, 1, 2, '2'],
      [null, 1, 1, 3, '6'],
    ]);
    expect(r.groups[0]!.topFeatures).toEqual(['pk.core', 'pk.dash', 'pk.api']);
    expect(r.groups[0]!.usersPercent).toBe(57.14);
  });

  it('filters: a product (bundles flattened), a meter, an account; first limits the groups listed', async () => {
    const suite = await personas({ g: 'EVENT_PROPERTY', prop: 'role', p: products['PK-SUITE'] });
    expect(brief(suite)).toEqual([
      ['designer', 3, 2, 7, '23'],
      ['analyst', 1, 1, 2, '2'],
      ['manager', 1, 1, 1, '1'],
      [null, 1, 1, 1, '4'],
    ]);
    const calls = await personas({ g: 'EVENT_PROPERTY', prop: 'role', m: 'pk.calls' });
    expect(brief(calls)).toEqual([
      ['designer', 1, 1, 1, '7'],
      ['manager', 1, 1, 1, '1'],
      [null, 1, 1, 2, '2'],
    ]);
    const one = await personas({ g: 'EVENT_PROPERTY', prop: 'role', first: 1 });
    expect(one.groups.map((g) => g.value)).toEqual(['designer', null]);
    expect(one.totalGroups).toBe(3);
    const a = await personas({ g: 'EVENT_PROPERTY', prop: 'role', a: acc.A });
    expect(brief(a)).toEqual([
      ['designer', 2, 1, 6, '22'],
      ['analyst', 1, 1, 2, '2'],
    ]);
  });

  it('by the contact\'s title or department, matched by e-mail without regard to case', async () => {
    const byTitle = await personas({ g: 'CONTACT_TITLE' });
    expect(brief(byTitle)).toEqual([
      ['Engineer', 2, 1, 6, '22'],
      ['Analyst', 1, 1, 2, '2'],
      [null, 4, 4, 7, '16'],
    ]);
    const byDept = await personas({ g: 'CONTACT_DEPARTMENT' });
    expect(brief(byDept)).toEqual([
      ['Design', 2, 1, 6, '22'],
      ['Ops', 1, 1, 3, '6'],
      ['Finance', 1, 1, 2, '2'],
      [null, 3, 3, 4, '10'],
    ]);
  });

  it('an account-scoped key sees its own users only; bad input is refused with a code', async () => {
    const scoped = await hub.createKey(Role.ANALYST, acc.C);
    const c = await personas({ g: 'EVENT_PROPERTY', prop: 'role' }, scoped);
    expect(brief(c)).toEqual([['manager', 1, 1, 2, '2']]);
    const err = (v: Record<string, unknown>, key?: string) => hub.gql(PERSONAS, { from: FROM, to: TO, ...v }, key).then(gqlError);
    expect(await err({ g: 'EVENT_PROPERTY', prop: 'role', a: acc.A }, scoped)).toMatchObject({ code: 'NOT_FOUND' });
    expect(await err({ g: 'EVENT_PROPERTY' })).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'PERSONA_PROPERTY_REQUIRED' });
    expect(await err({ g: 'CONTACT_TITLE', prop: 'role' })).toMatchObject({ subCode: 'PERSONA_PROPERTY_UNUSED' });
    expect(await err({ g: 'EVENT_PROPERTY', prop: 'a b' })).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await err({ g: 'CONTACT_TITLE', from: iso(now - 100 * 24 * HOUR) })).toMatchObject({ subCode: 'ANALYTICS_RANGE_TOO_LARGE' });
    expect(await err({ g: 'CONTACT_TITLE', m: 'no.such.meter' })).toMatchObject({ code: 'NOT_FOUND' });
    expect(await err({ g: 'CONTACT_TITLE', a: '00000000-0000-4000-8000-000000000009' })).toMatchObject({ code: 'NOT_FOUND' });
    expect(await err({ g: 'CONTACT_TITLE' }, await hub.createKey(Role.READONLY))).toMatchObject({ code: 'FORBIDDEN' });
  });
});

describe('contacts carry a title and a department', () => {
  it('set, kept when left out, cleared by null or blank', async () => {
    const q = 'mutation($i: UpsertContactInput!) { upsertContact(input: $i) { email title department } }';
    const up = (i: Record<string, unknown>) => hub.ok<{ upsertContact: { email: string; title: string | null; department: string | null } }>(q, { i: { accountId: acc.F, ...i } });
    expect((await up({ email: 'x@f.example', title: 'CTO', department: 'Exec' })).upsertContact).toEqual({ email: 'x@f.example', title: 'CTO', department: 'Exec' });
    expect((await up({ email: 'x@f.example', name: 'X' })).upsertContact).toMatchObject({ title: 'CTO', department: 'Exec' });
    expect((await up({ email: 'x@f.example', title: null, department: '  ' })).upsertContact).toMatchObject({ title: null, department: null });
    expect(gqlError(await hub.gql(q, { i: { accountId: acc.F, email: 'x@f.example', title: 'x'.repeat(129) } }))).toMatchObject({ code: 'BAD_USER_INPUT' });
  });
});

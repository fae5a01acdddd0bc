import { gqlError, startTestHub, type TestHub } from '../support/test-hub';
import { Role } from '../../src/auth/role';
import { createAccount, day, grant, rowCounts, seedLicensingCatalog } from './licensing-support';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
  await seedLicensingCatalog(hub);
});
afterAll(async () => hub?.close());

const CONSUME = `mutation ($i: ConsumeInput!) {
  consume(input: $i) { allowed code reason feature quantity remaining overage consumed entitlementId periodStart periodEnd replayed }
}`;

interface Result {
  allowed: boolean;
  code: string;
  reason: string;
  feature: string;
  quantity: string;
  remaining: string | null;
  overage: string;
  consumed: string | null;
  entitlementId: string | null;
  periodStart: string | null;
  periodEnd: string | null;
  replayed: boolean;
}
let n = 0;
const consume = (accountId: string, feature: string, quantity: number, idempotencyKey = `k-${++n}`, key?: string) =>
  hub.gql<{ consume: Result }>(CONSUME, { i: { accountId, feature, quantity, idempotencyKey } }, key);
const ok = async (accountId: string, feature: string, quantity: number, idempotencyKey?: string) => {
  const res = await consume(accountId, feature, quantity, idempotencyKey);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data!.consume;
};
const balances = (entitlementId: string) =>
  hub.ds.query(`SELECT used::text, entitled::text FROM consumption_balance WHERE entitlement_id = $1 ORDER BY period_start`, [entitlementId]);

const metered = (accountId: string, limit: number, terms: Record<string, unknown> = {}) =>
  grant(hub, accountId, { sku: 'L-METER', quantity: 1, limits: [{ feature: 'lic.api', limit }], ...terms });

describe('consume', () => {
  it('200 concurrent consumes of 1 against a BLOCK entitlement of 100 → exactly 100 allowed, 0 remaining, never above 100', async () => {
    const acct = await createAccount(hub, 'Race');
    const ent = await metered(acct, 100, { overagePolicy: 'BLOCK', resetPeriod: 'MONTHLY' });
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => consume(acct, 'lic.api', 1, `race-${i}`)));
    expect(results.filter((r) => r.errors)).toEqual([]);
    const answers = results.map((r) => r.data!.consume);
    expect(answers.filter((a) => a.allowed)).toHaveLength(100);
    const refused = answers.filter((a) => !a.allowed);
    expect(refused).toHaveLength(100);
    for (const a of refused) expect(a).toMatchObject({ code: 'LIMIT_EXCEEDED', remaining: '0', overage: '0', consumed: '100', entitlementId: ent });
    // Every allowed answer saw a distinct running total, 1..100: no draw was lost or doubled.
    expect(answers.filter((a) => a.allowed).map((a) => Number(a.consumed)).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(await balances(ent)).toEqual([{ used: '100', entitled: '100' }]);
    const stored = await hub.ds.query(`SELECT allowed, count(*)::int AS n FROM consumption WHERE account_id = $1 GROUP BY allowed ORDER BY allowed`, [acct]);
    expect(stored).toEqual([{ allowed: false, n: 100 }, { allowed: true, n: 100 }]);
    const { entitlement } = await hub.ok<{ entitlement: { balances: { featureKey: string; used: string; remaining: string; entitled: string; overage: string }[] } }>(
      `query ($id: ID!) { entitlement(id: $id) { balances { featureKey used remaining entitled overage periodStart periodEnd } } }`,
      { id: ent },
    );
    expect(entitlement.balances).toMatchObject([{ featureKey: 'lic.api', used: '100', remaining: '0', entitled: '100', overage: '0' }]);
  });

  it('the same idempotency key twice draws once and returns the same answer; another request under it is CONFLICT IDEMPOTENCY_KEY_REUSED', async () => {
    const acct = await createAccount(hub, 'Idem');
    const ent = await metered(acct, 100);
    const first = await ok(acct, 'lic.api', 7, 'job-42');
    expect(first).toMatchObject({ allowed: true, code: 'VALID', remaining: '93', consumed: '7', overage: '0', entitlementId: ent, replayed: false });
    const again = await ok(acct, 'lic.api', 7, 'job-42');
    expect(again).toEqual({ ...first, replayed: true });
    expect(await balances(ent)).toEqual([{ used: '7', entitled: '100' }]);

    const before = await rowCounts(hub);
    expect(gqlError(await consume(acct, 'lic.api', 8, 'job-42'))).toMatchObject({ code: 'CONFLICT', subCode: 'IDEMPOTENCY_KEY_REUSED' });
    expect(gqlError(await consume(acct, 'lic.usage', 7, 'job-42')).subCode).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await rowCounts(hub)).toEqual(before);
    // Keys are per account: another account may use the same key.
    const other = await createAccount(hub, 'Idem 2');
    await metered(other, 100);
    expect((await ok(other, 'lic.api', 1, 'job-42')).replayed).toBe(false);
  });

  it('10 concurrent requests with one key draw once', async () => {
    const acct = await createAccount(hub, 'Idem race');
    const ent = await metered(acct, 100);
    const results = await Promise.all(Array.from({ length: 10 }, () => consume(acct, 'lic.api', 5, 'same-key')));
    expect(results.every((r) => !r.errors)).toBe(true);
    expect(results.filter((r) => !r.data!.consume.replayed)).toHaveLength(1);
    expect(await balances(ent)).toEqual([{ used: '5', entitled: '100' }]);
  });

  it('a refusal is stored under its key: replaying it later refuses again, even when room has appeared since', async () => {
    const acct = await createAccount(hub, 'Refusal');
    await metered(acct, 10);
    const refused = await ok(acct, 'lic.api', 11, 'too-big');
    expect(refused).toMatchObject({ allowed: false, code: 'LIMIT_EXCEEDED', remaining: '10', consumed: '0' });
    expect(await ok(acct, 'lic.api', 11, 'too-big')).toEqual({ ...refused, replayed: true });
  });

  it('ALLOW and ALLOW_AND_NOTIFY allow beyond the limit and report the overage; decimals are exact', async () => {
    const acct = await createAccount(hub, 'Overage');
    const ent = await metered(acct, 10, { overagePolicy: 'ALLOW_AND_NOTIFY' });
    expect(await ok(acct, 'lic.api', 9.9)).toMatchObject({ allowed: true, code: 'VALID', remaining: '0.1', consumed: '9.9', overage: '0' });
    const over = await ok(acct, 'lic.api', 0.3);
    expect(over).toMatchObject({ allowed: true, code: 'OVERAGE', remaining: '0', consumed: '10.2', overage: '0.2' });
    expect(await ok(acct, 'lic.api', 1)).toMatchObject({ code: 'OVERAGE', consumed: '11.2', overage: '1' });
    const [row] = await hub.ds.query(`SELECT sum(overage)::text AS overage FROM consumption WHERE entitlement_id = $1`, [ent]);
    expect(row.overage).toBe('1.2');

    const allow = await createAccount(hub, 'Allow');
    await metered(allow, 1, { overagePolicy: 'ALLOW' });
    expect(await ok(allow, 'lic.api', 3)).toMatchObject({ allowed: true, code: 'OVERAGE', overage: '2', remaining: '0' });
  });

  it('USAGE without a cap draws without limit; OUTCOME with a soft cap allows beyond it as overage', async () => {
    const acct = await createAccount(hub, 'Usage');
    await grant(hub, acct, { sku: 'L-USE', quantity: 1 });
    expect(await ok(acct, 'lic.usage', 1_000_000)).toMatchObject({ allowed: true, code: 'VALID', remaining: null, overage: '0', consumed: '1000000', periodEnd: '2100-01-01T00:00:00.000Z' });
    await grant(hub, acct, { sku: 'L-OUT', quantity: 1, limits: [{ feature: 'lic.outcome', limit: 5 }] });
    expect(await ok(acct, 'lic.outcome', 4)).toMatchObject({ code: 'VALID', remaining: '1' });
    expect(await ok(acct, 'lic.outcome', 4)).toMatchObject({ allowed: true, code: 'OVERAGE', overage: '3', remaining: '0' });
  });

  it('draws from the entitlement ending soonest that has room, then the next; BLOCK everywhere → LIMIT_EXCEEDED', async () => {
    const acct = await createAccount(hub, 'Two pools');
    const soon = await metered(acct, 3, { endDate: day(30), resetPeriod: 'TERM' });
    const later = await metered(acct, 5, { resetPeriod: 'TERM' });
    expect((await ok(acct, 'lic.api', 2)).entitlementId).toBe(soon);
    // 2 does not fit in what is left of `soon` (1): `later` takes it whole.
    expect(await ok(acct, 'lic.api', 2)).toMatchObject({ entitlementId: later, remaining: '3' });
    expect((await ok(acct, 'lic.api', 1)).entitlementId).toBe(soon);
    expect((await ok(acct, 'lic.api', 3)).entitlementId).toBe(later);
    expect(await ok(acct, 'lic.api', 1)).toMatchObject({ allowed: false, code: 'LIMIT_EXCEEDED', entitlementId: soon });
  });

  it('no entitlement → NOT_ENTITLED; only expired or not started ones → their code; nothing is drawn', async () => {
    const acct = await createAccount(hub, 'Nothing');
    expect(await ok(acct, 'lic.api', 1)).toMatchObject({ allowed: false, code: 'NOT_ENTITLED', entitlementId: null, remaining: null, consumed: null });
    const expired = await metered(acct, 10, { startDate: day(-400), endDate: day(-40) });
    expect(await ok(acct, 'lic.api', 1)).toMatchObject({ allowed: false, code: 'EXPIRED', entitlementId: expired });
    const future = await metered(acct, 10, { startDate: day(5) });
    expect(await ok(acct, 'lic.api', 1)).toMatchObject({ allowed: false, code: 'NOT_STARTED', entitlementId: future });
    expect(await hub.ds.query(`SELECT * FROM consumption_balance WHERE account_id = $1`, [acct])).toEqual([]);
    // A feature granted only by a model that is not consumed (here PERPETUAL) is NOT_ENTITLED for consume.
    await grant(hub, acct, { sku: 'L-PERP', endDate: null });
    expect((await ok(acct, 'lic.core', 1)).code).toBe('NOT_ENTITLED');
  });

  it('in grace: allowed, code IN_GRACE', async () => {
    const acct = await createAccount(hub, 'Grace');
    await metered(acct, 10, { startDate: day(-60), endDate: day(-2), graceDays: 10 });
    expect(await ok(acct, 'lic.api', 1)).toMatchObject({ allowed: true, code: 'IN_GRACE' });
  });

  it('DAILY balances reset every day: draws are kept per period', async () => {
    const acct = await createAccount(hub, 'Daily');
    const ent = await metered(acct, 2, { resetPeriod: 'DAILY' });
    const today = await ok(acct, 'lic.api', 2);
    const start = new Date(today.periodStart!);
    expect(start.toISOString()).toBe(`${day(0)}T00:00:00.000Z`);
    expect(new Date(today.periodEnd!).getTime() - start.getTime()).toBe(86_400_000);
    expect((await ok(acct, 'lic.api', 1)).code).toBe('LIMIT_EXCEEDED');
    // Yesterday's balance (moved back by SQL) is a different period: today's draws start again from 0.
    await hub.ds.query(`UPDATE consumption_balance SET period_start = period_start - interval '1 day', period_end = period_end - interval '1 day' WHERE entitlement_id = $1`, [ent]);
    expect(await ok(acct, 'lic.api', 1)).toMatchObject({ allowed: true, consumed: '1', remaining: '1' });
    expect(await balances(ent)).toEqual([
      { used: '2', entitled: '2' },
      { used: '1', entitled: '2' },
    ]);
  });

  it('bad input changes nothing; scoped keys see only their account', async () => {
    const acct = await createAccount(hub, 'Bad input');
    await metered(acct, 10);
    const scoped = await hub.createKey(Role.INTEGRATION, await createAccount(hub, 'Other'));
    const readonly = await hub.createKey(Role.READONLY);
    const before = await rowCounts(hub);
    expect(gqlError(await consume(acct, 'lic.api', 0))).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ path: 'input.quantity' }] });
    expect(gqlError(await consume(acct, 'lic.api', -1)).code).toBe('BAD_USER_INPUT');
    expect(gqlError(await consume(acct, 'lic.api', 1e-12)).code).toBe('BAD_USER_INPUT');
    expect(gqlError(await consume(acct, 'lic.api', 1, '')).code).toBe('BAD_USER_INPUT');
    expect(gqlError(await consume(acct, '', 1)).code).toBe('BAD_USER_INPUT');
    expect(gqlError(await consume('not-a-uuid', 'lic.api', 1)).code).toBe('BAD_USER_INPUT');
    expect(gqlError(await consume('00000000-0000-4000-8000-000000000000', 'lic.api', 1))).toMatchObject({ code: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' });
    expect(gqlError(await consume(acct, 'lic.api', 1, 'spy', scoped))).toMatchObject({ code: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' });
    expect(gqlError(await consume(acct, 'lic.api', 1, 'ro', readonly)).code).toBe('FORBIDDEN');
    expect(await rowCounts(hub)).toEqual(before);
  });
});

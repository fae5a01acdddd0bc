import { randomUUID } from 'node:crypto';
import { gqlError, startTestHub, type TestHub } from '../support/test-hub';
import pino from 'pino';
import { Role } from '../../src/auth/role';
import { systemContext } from '../../src/common/context';
import { createAccount, day, grant, seedLicensingCatalog } from './licensing-support';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
  await seedLicensingCatalog(hub);
});
afterAll(async () => hub?.close());

const CHECK = `query ($a: ID!, $f: String!, $q: Float, $d: String, $u: String) {
  check(accountId: $a, feature: $f, quantity: $q, deviceFingerprint: $d, user: $u) { allowed code reason remaining entitlementId model expiresAt }
}`;
interface CheckResult {
  allowed: boolean;
  code: string;
  reason: string;
  remaining: string | null;
  entitlementId: string | null;
  model: string | null;
  expiresAt: string | null;
}
const check = async (a: string, f: string, opts: { q?: number; d?: string; u?: string } = {}, key?: string) =>
  (await hub.ok<{ check: CheckResult }>(CHECK, { a, f, ...opts }, key)).check;

const metered = (accountId: string, limit: number, terms: Record<string, unknown> = {}) =>
  grant(hub, accountId, { sku: 'L-METER', quantity: 1, limits: [{ feature: 'lic.api', limit }], ...terms });
const consume = (accountId: string, quantity: number) =>
  hub.ok(`mutation ($i: ConsumeInput!) { consume(input: $i) { allowed } }`, { i: { accountId, feature: 'lic.api', quantity, idempotencyKey: randomUUID() } });

/** Every row of every table, as JSON (api_key.last_used_at is bookkeeping of authentication, not of the check). */
async function snapshot(): Promise<Record<string, string[]>> {
  const tables: { table_name: string }[] = await hub.ds.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`,
  );
  const out: Record<string, string[]> = {};
  for (const { table_name } of tables) {
    out[table_name] = (await hub.ds.query(`SELECT (to_jsonb(t) - 'last_used_at')::text AS r FROM "${table_name}" t ORDER BY 1`)).map((x: { r: string }) => x.r);
  }
  return out;
}

describe('check: one code per case', () => {
  it('VALID, with the entitlement, its model and when it expires', async () => {
    const acct = await createAccount(hub, 'Valid');
    const ent = await grant(hub, acct, { sku: 'L-SUB', endDate: '2099-12-31' });
    expect(await check(acct, 'lic.core')).toEqual({
      allowed: true,
      code: 'VALID',
      reason: 'Entitled',
      remaining: null,
      entitlementId: ent,
      model: 'SUBSCRIPTION',
      expiresAt: '2100-01-01T00:00:00.000Z',
    });
    const perpetual = await createAccount(hub, 'Perpetual');
    await grant(hub, perpetual, { sku: 'L-PERP', endDate: null });
    expect(await check(perpetual, 'lic.core')).toMatchObject({ allowed: true, code: 'VALID', expiresAt: null });
  });

  it('NOT_ENTITLED: no entitlement grants the feature (also for an unknown account)', async () => {
    const acct = await createAccount(hub, 'Nothing');
    await grant(hub, acct, { sku: 'L-SUB' });
    expect(await check(acct, 'lic.api')).toMatchObject({ allowed: false, code: 'NOT_ENTITLED', entitlementId: null, remaining: null, expiresAt: null });
    expect((await check('00000000-0000-4000-8000-000000000000', 'lic.core')).code).toBe('NOT_ENTITLED');
  });

  it('NOT_STARTED, EXPIRED, SUSPENDED, CANCELLED', async () => {
    const acct = await createAccount(hub, 'Phases');
    const future = await grant(hub, acct, { sku: 'L-SUB', startDate: day(3) });
    expect(await check(acct, 'lic.core')).toMatchObject({ allowed: false, code: 'NOT_STARTED', entitlementId: future });

    const acct2 = await createAccount(hub, 'Expired');
    const old = await grant(hub, acct2, { sku: 'L-SUB', startDate: day(-400), endDate: day(-35) });
    expect(await check(acct2, 'lic.core')).toMatchObject({ allowed: false, code: 'EXPIRED', entitlementId: old, expiresAt: `${day(-34)}T00:00:00.000Z` });

    const acct3 = await createAccount(hub, 'Suspended');
    const held = await grant(hub, acct3, { sku: 'L-SUB' });
    await hub.ok(`mutation ($id: ID!) { suspendEntitlement(id: $id, reason: "collections") { id } }`, { id: held });
    expect(await check(acct3, 'lic.core')).toMatchObject({ allowed: false, code: 'SUSPENDED', entitlementId: held });
    await hub.ok(`mutation ($id: ID!) { resumeEntitlement(id: $id) { id } }`, { id: held });
    expect((await check(acct3, 'lic.core')).code).toBe('VALID');

    const acct4 = await createAccount(hub, 'Cancelled');
    const order = { source: 'licensing-test', currency: 'USD', accountId: acct4, orderDate: day(-30) };
    const externalId = `CXL-${randomUUID()}`;
    await hub.ok(`mutation ($i: OrderInput!) { submitOrder(input: $i) { id } }`, {
      i: { ...order, externalId, lines: [{ lineNo: 1, sku: 'L-SUB', quantity: 1, unitPrice: 100, startDate: day(-30), endDate: '2099-12-31' }] },
    });
    await hub.ok(`mutation ($i: OrderInput!) { submitOrder(input: $i) { id } }`, {
      i: {
        ...order,
        externalId: `${externalId}-cancel`,
        orderDate: day(-1),
        lines: [{ lineNo: 1, sku: 'L-SUB', quantity: 0, unitPrice: 0, action: 'CANCELLATION', amendsLineRef: `${externalId}#1`, startDate: day(-1), endDate: day(-1) }],
      },
    });
    expect(await check(acct4, 'lic.core')).toMatchObject({ allowed: false, code: 'CANCELLED' });
  });

  it('IN_GRACE: past the end but within the grace period → allowed, expiresAt = end of grace', async () => {
    const acct = await createAccount(hub, 'Grace');
    const ent = await grant(hub, acct, { sku: 'L-SUB', startDate: day(-100), endDate: day(-3), graceDays: 10 });
    expect(await check(acct, 'lic.core')).toMatchObject({ allowed: true, code: 'IN_GRACE', entitlementId: ent, expiresAt: `${day(8)}T00:00:00.000Z` });
  });

  it('LIMIT_EXCEEDED: a feature limit (PERPETUAL), a BLOCK balance (METERED), all floating licences out (CONCURRENT)', async () => {
    const acct = await createAccount(hub, 'Limits');
    await grant(hub, acct, { sku: 'L-PERP', endDate: null });
    expect(await check(acct, 'lic.projects', { q: 10 })).toMatchObject({ allowed: true, code: 'VALID', remaining: '10' });
    expect(await check(acct, 'lic.projects', { q: 11 })).toMatchObject({ allowed: false, code: 'LIMIT_EXCEEDED' });

    await metered(acct, 10, { overagePolicy: 'BLOCK' });
    await consume(acct, 8);
    expect(await check(acct, 'lic.api')).toMatchObject({ allowed: true, code: 'VALID', remaining: '2' });
    expect(await check(acct, 'lic.api', { q: 2 })).toMatchObject({ allowed: true, code: 'VALID', remaining: '2' });
    expect(await check(acct, 'lic.api', { q: 2.5 })).toMatchObject({ allowed: false, code: 'LIMIT_EXCEEDED', remaining: '2' });
    await consume(acct, 2);
    expect(await check(acct, 'lic.api')).toMatchObject({ allowed: false, code: 'LIMIT_EXCEEDED', remaining: '0' });

    const ent = await grant(hub, acct, { sku: 'L-FLOAT', quantity: 1 });
    expect(await check(acct, 'lic.float', { u: 'bob' })).toMatchObject({ allowed: true, code: 'VALID', remaining: '1' });
    await hub.ok(`mutation ($e: ID!) { checkoutLease(entitlementId: $e, holder: "alice", ttlSeconds: 60) { id } }`, { e: ent });
    expect(await check(acct, 'lic.float', { u: 'bob' })).toMatchObject({ allowed: false, code: 'LIMIT_EXCEEDED', remaining: '0' });
    // The holder of the live lease is allowed, by user or by device.
    expect(await check(acct, 'lic.float', { u: 'alice' })).toMatchObject({ allowed: true, code: 'VALID' });
    expect(await check(acct, 'lic.float', { d: 'alice' })).toMatchObject({ allowed: true, code: 'VALID' });
    // An expired lease frees the slot by time alone.
    await hub.ds.query(`UPDATE lease SET expires_at = now() - interval '1 second' WHERE entitlement_id = $1`, [ent]);
    expect(await check(acct, 'lic.float', { u: 'bob' })).toMatchObject({ allowed: true, code: 'VALID', remaining: '1' });
  });

  it('DEVICE_NOT_ACTIVATED: no fingerprint, or one not activated (or deactivated)', async () => {
    const acct = await createAccount(hub, 'Devices');
    const ent = await grant(hub, acct, { sku: 'L-DEV', quantity: 3 });
    expect(await check(acct, 'lic.device')).toMatchObject({ allowed: false, code: 'DEVICE_NOT_ACTIVATED', remaining: '3' });
    expect(await check(acct, 'lic.device', { d: 'fp-1' })).toMatchObject({ allowed: false, code: 'DEVICE_NOT_ACTIVATED' });
    await hub.ok(`mutation ($e: ID!) { activateDevice(entitlementId: $e, fingerprint: "fp-1") { id } }`, { e: ent });
    expect(await check(acct, 'lic.device', { d: 'fp-1' })).toMatchObject({ allowed: true, code: 'VALID', remaining: '2', entitlementId: ent });
    expect((await check(acct, 'lic.device', { d: 'fp-2' })).code).toBe('DEVICE_NOT_ACTIVATED');
    await hub.ok(`mutation ($e: ID!) { deactivateDevice(entitlementId: $e, fingerprint: "fp-1") { id } }`, { e: ent });
    expect((await check(acct, 'lic.device', { d: 'fp-1' })).code).toBe('DEVICE_NOT_ACTIVATED');
  });

  it('USER_NOT_ASSIGNED: no user, or one without a seat; the user is matched case-insensitively', async () => {
    const acct = await createAccount(hub, 'Seats');
    const ent = await grant(hub, acct, { sku: 'L-SEAT', quantity: 2 });
    expect(await check(acct, 'lic.seat')).toMatchObject({ allowed: false, code: 'USER_NOT_ASSIGNED', remaining: '2' });
    expect((await check(acct, 'lic.seat', { u: 'ada@x.io' })).code).toBe('USER_NOT_ASSIGNED');
    await hub.ok(`mutation ($e: ID!) { assignSeat(entitlementId: $e, email: "ada@x.io") { id } }`, { e: ent });
    expect(await check(acct, 'lic.seat', { u: 'Ada@X.io' })).toMatchObject({ allowed: true, code: 'VALID', remaining: '1' });
  });

  it('OVERAGE: allowed beyond the entitled amount under ALLOW / ALLOW_AND_NOTIFY and soft caps', async () => {
    const acct = await createAccount(hub, 'Overage');
    await metered(acct, 5, { overagePolicy: 'ALLOW_AND_NOTIFY' });
    expect((await check(acct, 'lic.api', { q: 5 })).code).toBe('VALID');
    expect(await check(acct, 'lic.api', { q: 6 })).toMatchObject({ allowed: true, code: 'OVERAGE', remaining: '5' });
    await consume(acct, 7);
    expect(await check(acct, 'lic.api')).toMatchObject({ allowed: true, code: 'OVERAGE', remaining: '0' });

    await grant(hub, acct, { sku: 'L-OUT', limits: [{ feature: 'lic.outcome', limit: 3 }] });
    expect(await check(acct, 'lic.outcome', { q: 4 })).toMatchObject({ allowed: true, code: 'OVERAGE' });
    await grant(hub, acct, { sku: 'L-USE' });
    expect(await check(acct, 'lic.usage', { q: 1e9 })).toMatchObject({ allowed: true, code: 'VALID', remaining: null });
  });

  it('the best of several entitlements wins: usable first, then most remaining, then latest end', async () => {
    const acct = await createAccount(hub, 'Several');
    await grant(hub, acct, { sku: 'L-SUB', startDate: day(-400), endDate: day(-35) });
    const current = await grant(hub, acct, { sku: 'L-SUB', endDate: day(100) });
    const longer = await grant(hub, acct, { sku: 'L-SUB', endDate: day(200) });
    expect((await check(acct, 'lic.core')).entitlementId).toBe(longer);
    await hub.ok(`mutation ($id: ID!) { suspendEntitlement(id: $id, reason: "hold") { id } }`, { id: longer });
    expect((await check(acct, 'lic.core')).entitlementId).toBe(current);

    const m = await createAccount(hub, 'Several metered');
    await metered(m, 10);
    const bigger = await metered(m, 50);
    expect(await check(m, 'lic.api')).toMatchObject({ entitlementId: bigger, remaining: '50' });
  });
});

describe('check: the hot path', () => {
  it('runs exactly one SQL statement (after the key is cached), whatever the model', async () => {
    const acct = await createAccount(hub, 'One statement');
    const dev = await grant(hub, acct, { sku: 'L-DEV', quantity: 2 });
    await hub.ok(`mutation ($e: ID!) { activateDevice(entitlementId: $e, fingerprint: "fp") { id } }`, { e: dev });
    await grant(hub, acct, { sku: 'L-SEAT', quantity: 2 });
    await grant(hub, acct, { sku: 'L-FLOAT', quantity: 2 });
    await metered(acct, 10);
    await metered(acct, 20, { resetPeriod: 'DAILY' });
    await consume(acct, 3);
    const key = await hub.createKey(Role.INTEGRATION, acct);
    await check(acct, 'lic.core', {}, key); // warms the key cache
    for (const [feature, opts] of [
      ['lic.device', { d: 'fp' }],
      ['lic.seat', { u: 'x@y.io' }],
      ['lic.float', { u: 'h' }],
      ['lic.api', { q: 2 }],
      ['lic.nothing', {}],
    ] as const) {
      const { result, count } = await hub.countQueries(() => check(acct, feature, opts, key));
      expect({ feature, count }).toEqual({ feature, count: 1 });
      expect(result.code).toBeDefined();
    }
  });

  it('concurrent checks share statements (batched) and answer exactly as one at a time', async () => {
    const accounts = await Promise.all([0, 1, 2].map((i) => createAccount(hub, `Batch ${i}`)));
    const dev = await grant(hub, accounts[0]!, { sku: 'L-DEV', quantity: 1 });
    await hub.ok(`mutation ($e: ID!) { activateDevice(entitlementId: $e, fingerprint: "fp-batch") { id } }`, { e: dev });
    await grant(hub, accounts[1]!, { sku: 'L-METER', quantity: 1 });
    await grant(hub, accounts[2]!, { sku: 'L-SEAT', quantity: 1 });
    const asks: [string, string, { q?: number; d?: string; u?: string }][] = [];
    for (let i = 0; i < 10; i++) {
      asks.push([accounts[0]!, 'lic.device', { d: i % 2 ? 'fp-batch' : 'fp-other' }]);
      asks.push([accounts[1]!, 'lic.api', { q: i * 100 }]);
      asks.push([accounts[2]!, 'lic.seat', { u: 'nobody@x.io' }]);
      asks.push([accounts[2]!, 'lic.nothing', {}]);
    }
    const oneByOne = [];
    for (const [a, f, o] of asks) oneByOne.push(await check(a, f, o));
    const { result: together, count } = await hub.countQueries(() => Promise.all(asks.map(([a, f, o]) => check(a, f, o))));
    expect(together).toEqual(oneByOne);
    expect(new Set(oneByOne.map((r) => r.code)).size).toBeGreaterThan(2);
    expect(count).toBeLessThan(asks.length);
  });

  it('checks arriving while statements are in flight wait and go together: a few statements for checks spread over many turns', async () => {
    const acct = await createAccount(hub, 'In flight');
    await grant(hub, acct, { sku: 'L-METER', quantity: 1 });
    const ctx = systemContext(pino({ level: 'silent' }), 'test:check-in-flight');
    const checks = hub.services.licensing.checks;
    // Another transaction holds entitlement_feature locked, so the first statements stay in
    // flight however fast the database is; the rest must wait for them, not go one per turn.
    const locker = hub.ds.createQueryRunner();
    await locker.connect();
    await locker.startTransaction();
    await locker.query('LOCK TABLE entitlement_feature IN ACCESS EXCLUSIVE MODE');
    const { result, count } = await hub.countQueries(async () => {
      const answers: Promise<{ code: string }>[] = [];
      try {
        // One check per event-loop turn: batching by turn alone would send one statement each.
        for (let i = 0; i < 60; i++) {
          answers.push(checks.check(ctx, { accountId: acct, feature: i % 2 ? 'lic.api' : 'lic.nothing', quantity: i }));
          await new Promise((r) => setImmediate(r));
        }
      } finally {
        await locker.commitTransaction();
        await locker.release();
      }
      return Promise.all(answers);
    });
    // Each answer is its own check's: the unknown feature's are NOT_ENTITLED, the others are not.
    result.forEach((r, i) => expect([i, r.code === 'NOT_ENTITLED']).toEqual([i, i % 2 === 0]));
    expect(count).toBeLessThan(30);
  });

  it('writes nothing: every table is unchanged after checks of every kind', async () => {
    const acct = await createAccount(hub, 'No writes');
    const dev = await grant(hub, acct, { sku: 'L-DEV', quantity: 2 });
    await hub.ok(`mutation ($e: ID!) { activateDevice(entitlementId: $e, fingerprint: "fp") { id } }`, { e: dev });
    await metered(acct, 10, { resetPeriod: 'DAILY' });
    await grant(hub, acct, { sku: 'L-FLOAT', quantity: 1 });
    const before = await snapshot();
    for (const [f, opts] of [
      ['lic.device', { d: 'fp' }],
      ['lic.device', { d: 'unknown' }],
      ['lic.api', { q: 100 }],
      ['lic.api', {}],
      ['lic.float', { u: 'z' }],
      ['lic.none', {}],
    ] as const) {
      await check(acct, f, opts);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('a key scoped to another account → NOT_FOUND without a query; bad quantity → BAD_USER_INPUT; READONLY may check', async () => {
    const acct = await createAccount(hub, 'Scope');
    await grant(hub, acct, { sku: 'L-SUB' });
    const other = await createAccount(hub, 'Scope other');
    const scoped = await hub.createKey(Role.INTEGRATION, other);
    await hub.gql(CHECK, { a: other, f: 'lic.core' }, scoped);
    const { result, count } = await hub.countQueries(() => hub.gql(CHECK, { a: acct, f: 'lic.core' }, scoped));
    expect(gqlError(result)).toMatchObject({ code: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' });
    expect(count).toBe(0);
    expect(gqlError(await hub.gql(CHECK, { a: acct, f: 'lic.core', q: -1 }))).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ path: 'quantity' }] });
    expect((await check(acct, 'lic.core', {}, await hub.createKey(Role.READONLY))).code).toBe('VALID');
  });

  it('Entitlement.devices/seats/leases/balances are batched: the statement count does not grow with the number of entitlements', async () => {
    const query = `query ($a: ID!) { entitlements(filter: { accountId: $a }, first: 100) { edges { node { id
      devices { fingerprint } seats { email } leases { holder } balances { featureKey used remaining } } } } }`;
    const acct = await createAccount(hub, 'Batched');
    const fill = async () => {
      const dev = await grant(hub, acct, { sku: 'L-DEV', quantity: 2 });
      await hub.ok(`mutation ($e: ID!) { activateDevice(entitlementId: $e, fingerprint: "fp") { id } }`, { e: dev });
      const seat = await grant(hub, acct, { sku: 'L-SEAT', quantity: 2 });
      await hub.ok(`mutation ($e: ID!) { assignSeat(entitlementId: $e, email: "a@b.io") { id } }`, { e: seat });
      const float = await grant(hub, acct, { sku: 'L-FLOAT', quantity: 2 });
      await hub.ok(`mutation ($e: ID!) { checkoutLease(entitlementId: $e, holder: "h") { id } }`, { e: float });
      await metered(acct, 10);
    };
    await fill();
    await hub.ok(query, { a: acct }); // warm
    const small = await hub.countQueries(() => hub.ok(query, { a: acct }));
    await fill();
    await fill();
    const big = await hub.countQueries(() => hub.ok<{ entitlements: { edges: { node: { balances: unknown[]; devices: unknown[] } }[] } }>(query, { a: acct }));
    expect(big.result.entitlements.edges).toHaveLength(12);
    expect(big.count).toBe(small.count);
    expect(big.result.entitlements.edges.flatMap((e) => e.node.balances)).toEqual([
      { featureKey: 'lic.api', used: '0', remaining: '10' },
      { featureKey: 'lic.api', used: '0', remaining: '10' },
      { featureKey: 'lic.api', used: '0', remaining: '10' },
    ]);
  });
});

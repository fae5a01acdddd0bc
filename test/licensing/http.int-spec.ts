import { Role } from '../../src/auth/role';
import { startTestHub, type TestHub } from '../support/test-hub';
import { createAccount, grant, seedLicensingCatalog } from './licensing-support';

/**
 * Licensing over plain HTTP (issue 15, ADR 0041): the REST routes give exactly the GraphQL
 * answers and codes — same services, keys, roles, scope and idempotency — with HTTP statuses,
 * strict validation of the JSON body (nothing changed on a refusal) and limits that hold
 * under concurrency.
 */
let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
  await seedLicensingCatalog(hub);
});
afterAll(async () => hub?.close());

async function rest(path: string, body: unknown, key: string | null = hub.adminKey, raw = false): Promise<{ status: number; json: Record<string, unknown> & { errors?: { message: string; extensions: Record<string, unknown> }[] } }> {
  const res = await fetch(`${hub.url.replace(/\/graphql$/, '')}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: raw ? (body as string) : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as never };
}

const CHECK = `query($a: ID!, $f: String!, $q: Float, $d: String, $u: String) {
  check(accountId: $a, feature: $f, quantity: $q, deviceFingerprint: $d, user: $u) { allowed code reason remaining entitlementId model expiresAt } }`;
const CONSUME = `mutation($i: ConsumeInput!) { consume(input: $i) { allowed code reason consumed entitlementId feature overage periodEnd periodStart quantity remaining } }`;

const consumptions = async (account: string) => Number((await hub.ds.query(`SELECT count(*)::int AS n FROM consumption WHERE account_id = $1`, [account]))[0].n);

describe('POST /v1/check', () => {
  it('answers what the GraphQL check answers, field for field, allowed or refused', async () => {
    const acct = await createAccount(hub, 'Http check');
    const dev = await grant(hub, acct, { sku: 'L-DEV', quantity: 2 });
    await grant(hub, acct, { sku: 'L-PERP' });
    await hub.ok('mutation($e: ID!) { activateDevice(entitlementId: $e, fingerprint: "http-dev-1") { id } }', { e: dev });
    const cases = [
      { accountId: acct, feature: 'lic.core' },
      { accountId: acct, feature: 'lic.projects', quantity: 10 },
      { accountId: acct, feature: 'lic.projects', quantity: 11 },
      { accountId: acct, feature: 'lic.device', deviceFingerprint: 'http-dev-1' },
      { accountId: acct, feature: 'lic.device', deviceFingerprint: 'http-dev-unknown' },
      { accountId: acct, feature: 'lic.nothing' },
    ];
    const codes: string[] = [];
    for (const c of cases) {
      const gql = await hub.ok<{ check: Record<string, unknown> }>(CHECK, { a: c.accountId, f: c.feature, q: c.quantity ?? null, d: c.deviceFingerprint ?? null, u: null });
      const r = await rest('/v1/check', c);
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject(gql.check);
      codes.push(String(r.json.code));
    }
    expect(new Set(codes).size).toBeGreaterThan(2); // allowed and several refusals were compared
    expect(codes[0]).toBe('VALID');
  });

  it('refuses bad bodies with 400, the field paths, and the GraphQL error shape', async () => {
    const acct = await createAccount(hub, 'Http bad');
    const bad = [
      [{ feature: 'lic.core' }, 'accountId'],
      [{ accountId: acct, feature: 'lic.core', quantity: '5' }, 'quantity'],
      [{ accountId: acct, feature: 'lic.core', extra: true }, 'extra'],
      [{ accountId: acct, feature: '' }, 'feature'],
    ] as const;
    for (const [body, path] of bad) {
      const r = await rest('/v1/check', body);
      expect(r.status).toBe(400);
      expect(r.json.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'REQUEST_INVALID', fields: expect.arrayContaining([expect.objectContaining({ path })]) });
    }
    const notJson = await rest('/v1/check', '{"accountId":', hub.adminKey, true);
    expect(notJson.status).toBe(400);
    expect(notJson.json.errors![0]!.extensions.code).toBe('BAD_REQUEST');
    // The service's own rules answer as in GraphQL: a negative quantity.
    const neg = await rest('/v1/check', { accountId: acct, feature: 'lic.core', quantity: -1 });
    expect(neg.status).toBe(400);
    expect(neg.json.errors![0]!.extensions.subCode).toBe('CHECK_QUANTITY_INVALID');
  });

  it('keys and scope: no key 401, a scoped key asking about another account 404 as in GraphQL', async () => {
    const a = await createAccount(hub, 'Http scope A');
    const b = await createAccount(hub, 'Http scope B');
    await grant(hub, a, { sku: 'L-PERP' });
    const noKey = await rest('/v1/check', { accountId: a, feature: 'lic.core' }, null);
    expect(noKey.status).toBe(401);
    expect(noKey.json.errors![0]!.extensions).toMatchObject({ code: 'UNAUTHENTICATED', subCode: 'AUTH_KEY_MISSING' });
    const bogus = await rest('/v1/check', { accountId: a, feature: 'lic.core' }, 'ehub_nothere1_AAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    expect(bogus.status).toBe(401);
    const scopedB = await hub.createKey(Role.INTEGRATION, b);
    const other = await rest('/v1/check', { accountId: a, feature: 'lic.core' }, scopedB);
    const viaGql = await hub.gql(CHECK, { a, f: 'lic.core' }, scopedB);
    expect(other.status).toBe(404);
    expect(other.json.errors![0]!.extensions.subCode).toBe((viaGql.errors![0]!.extensions as Record<string, unknown>).subCode);
    const readonly = await hub.createKey(Role.READONLY);
    expect((await rest('/v1/check', { accountId: a, feature: 'lic.core' }, readonly)).json.allowed).toBe(true); // any role may check
  });
});

describe('POST /v1/consume', () => {
  it('50 parallel consumes of 5 against a limit of 100 stop at exactly 20; a resend returns the first answer and draws nothing', async () => {
    const acct = await createAccount(hub, 'Http race');
    await grant(hub, acct, { sku: 'L-METER', quantity: 1, limits: [{ feature: 'lic.api', limit: 100 }], overagePolicy: 'BLOCK', resetPeriod: 'MONTHLY' });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => rest('/v1/consume', { accountId: acct, feature: 'lic.api', quantity: 5, idempotencyKey: `http-race-${i}` })));
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(results.filter((r) => r.json.allowed === true)).toHaveLength(20);
    const [{ used }] = await hub.ds.query(`SELECT used::float AS used FROM consumption_balance b JOIN entitlement e ON e.id = b.entitlement_id WHERE e.account_id = $1`, [acct]);
    expect(used).toBe(100);

    // The same key again (REST or GraphQL): the first answer, nothing drawn.
    const first = results[0]!.json;
    const again = await rest('/v1/consume', { accountId: acct, feature: 'lic.api', quantity: 5, idempotencyKey: 'http-race-0' });
    expect(again.json).toEqual({ ...first, replayed: true });
    const viaGql = await hub.ok<{ consume: Record<string, unknown> }>(CONSUME, { i: { accountId: acct, feature: 'lic.api', quantity: 5, idempotencyKey: 'http-race-0' } });
    expect(again.json).toMatchObject(viaGql.consume);
    expect(await consumptions(acct)).toBe(50);
    // The key with another quantity: 409, as GraphQL's CONFLICT.
    const reused = await rest('/v1/consume', { accountId: acct, feature: 'lic.api', quantity: 6, idempotencyKey: 'http-race-0' });
    expect(reused.status).toBe(409);
    expect(reused.json.errors![0]!.extensions).toMatchObject({ code: 'CONFLICT', subCode: 'IDEMPOTENCY_KEY_REUSED' });
  });

  it('roles and bad input change nothing', async () => {
    const acct = await createAccount(hub, 'Http consume bad');
    await grant(hub, acct, { sku: 'L-METER', quantity: 1, limits: [{ feature: 'lic.api', limit: 10 }] });
    const readonly = await hub.createKey(Role.READONLY);
    const refused = await rest('/v1/consume', { accountId: acct, feature: 'lic.api', quantity: 1, idempotencyKey: 'ro' }, readonly);
    expect(refused.status).toBe(403);
    expect(refused.json.errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN', subCode: 'AUTH_ROLE_NOT_ALLOWED' });
    for (const body of [
      { accountId: acct, feature: 'lic.api', quantity: 1 },
      { accountId: acct, feature: 'lic.api', quantity: '1', idempotencyKey: 'k1' },
      { accountId: acct, feature: 'lic.api', quantity: 1, idempotencyKey: 'x'.repeat(256) },
    ]) {
      expect((await rest('/v1/consume', body)).status).toBe(400);
    }
    const zero = await rest('/v1/consume', { accountId: acct, feature: 'lic.api', quantity: 0, idempotencyKey: 'zero' });
    expect(zero.status).toBe(400);
    expect(await consumptions(acct)).toBe(0);
  });
});

describe('devices, seats and leases', () => {
  it('activate, deactivate, assign, release, check out, heartbeat and check in: the GraphQL objects, the limits as 409', async () => {
    const acct = await createAccount(hub, 'Http slots');
    const dev = await grant(hub, acct, { sku: 'L-DEV', quantity: 1 });
    const seats = await grant(hub, acct, { sku: 'L-SEAT', quantity: 1 });
    const floating = await grant(hub, acct, { sku: 'L-FLOAT', quantity: 1 });

    const act = await rest('/v1/activations', { entitlementId: dev, fingerprint: 'h-1', name: 'Host 1', deployment: 'ON_PREM' });
    expect(act.status).toBe(200);
    const gqlAct = await hub.ok<{ activateDevice: Record<string, unknown> }>(
      'mutation($e: ID!) { activateDevice(entitlementId: $e, fingerprint: "h-1") { id entitlementId accountId fingerprint name deployment active deactivatedAt } }',
      { e: dev },
    );
    expect(act.json).toMatchObject(gqlAct.activateDevice);
    const full = await rest('/v1/activations', { entitlementId: dev, fingerprint: 'h-2' });
    expect(full.status).toBe(409);
    expect(full.json.errors![0]!.extensions).toMatchObject({ code: 'LIMIT_EXCEEDED', subCode: 'ENTITLEMENT_DEVICE_LIMIT_EXCEEDED' });
    const off = await rest('/v1/activations/deactivate', { entitlementId: dev, fingerprint: 'h-1' });
    expect(off.json).toMatchObject({ id: act.json.id, active: false });
    expect((await rest('/v1/activations', { entitlementId: dev, fingerprint: 'h-2' })).status).toBe(200);

    const seat = await rest('/v1/seats', { entitlementId: seats, email: 'Ann@Example.com' });
    expect(seat.json).toMatchObject({ email: 'ann@example.com', active: true });
    expect((await rest('/v1/seats', { entitlementId: seats, email: 'bob@example.com' })).status).toBe(409);
    expect((await rest('/v1/seats/release', { entitlementId: seats, email: 'ann@example.com' })).json).toMatchObject({ active: false });

    const lease = await rest('/v1/leases', { entitlementId: floating, holder: 'build-01', ttlSeconds: 60 });
    expect(lease.json).toMatchObject({ holder: 'build-01', live: true });
    expect((await rest('/v1/leases', { entitlementId: floating, holder: 'build-02' })).json.errors![0]!.extensions.subCode).toBe('ENTITLEMENT_LEASE_LIMIT_EXCEEDED');
    const beat = await rest(`/v1/leases/${String(lease.json.id)}/heartbeat`, { ttlSeconds: 120 });
    expect(beat.status).toBe(200);
    expect(new Date(String(beat.json.expiresAt)).getTime()).toBeGreaterThan(new Date(String(lease.json.expiresAt)).getTime());
    const back = await rest(`/v1/leases/${String(lease.json.id)}/checkin`, {});
    expect(back.json).toMatchObject({ id: lease.json.id, live: false });
    const late = await rest(`/v1/leases/${String(lease.json.id)}/heartbeat`, {});
    expect(late.status).toBe(409);
    expect(late.json.errors![0]!.extensions.subCode).toBe('LEASE_EXPIRED');
    expect((await rest('/v1/leases/00000000-0000-4000-8000-000000000000/checkin', {})).status).toBe(404);
  });
});

/**
 * The licensing client SDK against a real hub (real PostgreSQL), and against a hub stopped
 * mid-test: a second hub instance attached to the first one's database (`edge`) is what the
 * client talks to; closing it leaves the database (and the first hub) to look at.
 */
import path from 'node:path';
import { MemoryStore, EntitlementClient, HubError, type Lease } from '../src';
import { FileStore } from '../src/file-store';
import { startTestHub, type TestHub } from '../../../test/support/test-hub';
import { scratchDir } from '../../../test/support/scratch';
import { createAccount, grant, seedLicensingCatalog } from '../../../test/licensing/licensing-support';
import { seedUsageCatalog } from '../../../test/usage/usage-support';

let hub: TestHub;
let accountId: string;
let ids: { sub: string; dev: string; seat: string; float: string; meter: string };
beforeAll(async () => {
  hub = await startTestHub();
  await seedLicensingCatalog(hub);
  await seedUsageCatalog(hub);
  accountId = await createAccount(hub, 'SDK Customer');
  ids = {
    sub: await grant(hub, accountId, { sku: 'L-SUB' }),
    dev: await grant(hub, accountId, { sku: 'L-DEV', quantity: 1 }),
    seat: await grant(hub, accountId, { sku: 'L-SEAT', quantity: 1 }),
    float: await grant(hub, accountId, { sku: 'L-FLOAT', quantity: 1 }),
    meter: await grant(hub, accountId, { sku: 'L-METER' }),
  };
});
afterAll(async () => hub?.close());

const client = (extra: Partial<ConstructorParameters<typeof EntitlementClient>[0]> = {}, on: TestHub = hub) =>
  new EntitlementClient({ url: on.url, apiKey: hub.adminKey, accountId, retries: 2, retryDelayMs: 1, ...extra });

/** A fetch that forwards the request, then loses the answer (as on a timeout) for the first `n` calls matching `match`. */
function losingFetch(match: RegExp, n: number) {
  let lost = 0;
  const calls: string[] = [];
  const f: typeof fetch = async (input, init) => {
    const body = String(init?.body ?? '');
    calls.push(body);
    const target = `${String(input)} ${body}`;
    const res = await fetch(input, init);
    if (match.test(target) && lost < n) {
      lost++;
      await res.text();
      throw new TypeError('fetch failed (answer lost)');
    }
    return res;
  };
  return { fetch: f, calls, lost: () => lost };
}

const waitFor = (lease: Lease, event: 'heartbeat' | 'heartbeatFailed' | 'lost') =>
  new Promise<{ reason?: string; error?: Error }>((resolve) => lease.on(event, resolve));

describe('online, against a real hub', () => {
  it('check answers from the hub, with typed errors carrying the hub codes', async () => {
    const c = client();
    expect(await c.check('lic.core')).toMatchObject({ allowed: true, code: 'VALID', source: 'hub', entitlementId: ids.sub });
    expect(await c.check('lic.device', { deviceFingerprint: 'fp-1' })).toMatchObject({ allowed: false, code: 'DEVICE_NOT_ACTIVATED', source: 'hub' });
    const a = await c.activate(ids.dev, 'fp-1', { name: 'laptop' });
    expect(a).toMatchObject({ entitlementId: ids.dev, fingerprint: 'fp-1', active: true });
    expect(await c.check('lic.device', { deviceFingerprint: 'fp-1' })).toMatchObject({ allowed: true, source: 'hub' });
    const err = await c.activate(ids.dev, 'fp-2').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HubError);
    expect(err).toMatchObject({ code: 'LIMIT_EXCEEDED', subCode: 'ENTITLEMENT_DEVICE_LIMIT_EXCEEDED' });
    expect(await c.deactivate(ids.dev, 'fp-1')).toMatchObject({ active: false });
    expect(await c.activate(ids.dev, 'fp-2')).toMatchObject({ active: true });

    expect(await c.assignSeat(ids.seat, 'ana@example.com')).toMatchObject({ active: true, email: 'ana@example.com' });
    expect(await c.check('lic.seat', { user: 'ana@example.com' })).toMatchObject({ allowed: true });
    expect(await c.releaseSeat(ids.seat, 'ana@example.com')).toMatchObject({ active: false });
    expect(await c.check('lic.seat', { user: 'ana@example.com' })).toMatchObject({ allowed: false, code: 'USER_NOT_ASSIGNED' });
    await c.close();
  });

  it('consume generates an idempotency key and reuses it on a retry: drawn once', async () => {
    const lf = losingFetch(/consume\(/, 1);
    const c = client({ fetch: lf.fetch });
    const r = await c.consume('lic.api', 7);
    expect(lf.lost()).toBe(1);
    // The first request was drawn; the retry got the stored answer.
    expect(r).toMatchObject({ allowed: true, replayed: true, consumed: '7', remaining: '93' });
    const keys = lf.calls.filter((b) => /consume\(/.test(b)).map((b) => JSON.parse(b).variables.input.idempotencyKey);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBe(keys[1]);
    expect(await c.consume('lic.api', 3)).toMatchObject({ replayed: false, consumed: '10' });
  });

  it('usage: N events batched arrive exactly once, also when a batch is retried after a lost answer', async () => {
    const lf = losingFetch(/recordUsage/, 2);
    const c = client({ fetch: lf.fetch, usageBatchSize: 100, usageFlushIntervalMs: 60_000 });
    const N = 250;
    const sent: string[] = [];
    for (let i = 0; i < N; i++) sent.push(c.reportUsage({ meter: 'u.misc', quantity: 1, source: 'sdk-test' }));
    expect(new Set(sent).size).toBe(N);
    await c.close(); // flushes
    expect(c.pendingUsage).toBe(0);
    expect(lf.lost()).toBe(2);
    const [{ n, total }] = await hub.ds.query(`SELECT count(*)::int AS n, sum(quantity)::float AS total FROM usage_event WHERE account_id = $1 AND source = 'sdk-test'`, [accountId]);
    expect({ n, total }).toEqual({ n: N, total: N });
  });

  it('a batch that cannot be sent stays queued and is sent once later', async () => {
    let down = true;
    const f: typeof fetch = async (input, init) => {
      if (down) throw new TypeError('fetch failed');
      return fetch(input, init);
    };
    const c = client({ fetch: f, usageFlushIntervalMs: 60_000 });
    for (let i = 0; i < 5; i++) c.reportUsage({ meter: 'u.misc', quantity: 2, source: 'sdk-later' });
    await expect(c.flush()).rejects.toMatchObject({ code: 'HUB_UNREACHABLE' });
    expect(c.pendingUsage).toBe(5);
    down = false;
    expect(await c.flush()).toMatchObject({ accepted: 5, duplicates: 0 });
    await c.close();
    const [{ n }] = await hub.ds.query(`SELECT count(*)::int AS n FROM usage_event WHERE account_id = $1 AND source = 'sdk-later'`, [accountId]);
    expect(n).toBe(5);
  });

  it('a lease heartbeats by itself and stops on checkin; LEASE_EXPIRED on the hub means lost', async () => {
    const c = client();
    const lease = await c.checkoutLease(ids.float, 'host-a', { ttlSeconds: 60, heartbeatIntervalMs: 20 });
    await waitFor(lease, 'heartbeat');
    expect(lease.live).toBe(true);
    await lease.checkin();
    const [row] = await hub.ds.query(`SELECT checked_in_at FROM lease WHERE id = $1`, [lease.id]);
    expect(row.checked_in_at).not.toBeNull();

    const second = await c.checkoutLease(ids.float, 'host-b', { ttlSeconds: 60, heartbeatIntervalMs: 60_000 });
    await hub.ok('mutation($id: ID!) { checkinLease(leaseId: $id) { id } }', { id: second.id });
    const lost = waitFor(second, 'lost');
    await expect(second.heartbeat()).rejects.toMatchObject({ subCode: 'LEASE_EXPIRED' });
    expect(await lost).toMatchObject({ reason: 'LEASE_EXPIRED' });
    expect(second.live).toBe(false);
    await c.close();
  });
});

describe('the REST transport (plain-HTTP licensing routes): same API, same answers', () => {
  let acct: string;
  let r: { dev: string; seat: string; float: string; meter: string };
  beforeAll(async () => {
    acct = await createAccount(hub, 'SDK REST Customer');
    r = {
      dev: await grant(hub, acct, { sku: 'L-DEV', quantity: 1 }),
      seat: await grant(hub, acct, { sku: 'L-SEAT', quantity: 1 }),
      float: await grant(hub, acct, { sku: 'L-FLOAT', quantity: 1 }),
      meter: await grant(hub, acct, { sku: 'L-METER' }),
    };
  });

  it('check, devices, seats, consume with a retried key, leases, typed errors', async () => {
    const lf = losingFetch(/\/v1\/consume/, 1);
    const c = client({ accountId: acct, transport: 'rest', fetch: lf.fetch });
    expect(await c.check('lic.device', { deviceFingerprint: 'r-1' })).toMatchObject({ allowed: false, code: 'DEVICE_NOT_ACTIVATED', source: 'hub' });
    expect(await c.activate(r.dev, 'r-1')).toMatchObject({ entitlementId: r.dev, fingerprint: 'r-1', active: true });
    expect(await c.check('lic.device', { deviceFingerprint: 'r-1' })).toMatchObject({ allowed: true, source: 'hub', entitlementId: r.dev });
    await expect(c.activate(r.dev, 'r-2')).rejects.toMatchObject({ name: 'HubError', code: 'LIMIT_EXCEEDED', subCode: 'ENTITLEMENT_DEVICE_LIMIT_EXCEEDED', status: 409 });
    expect(await c.deactivate(r.dev, 'r-1')).toMatchObject({ active: false });
    expect(await c.assignSeat(r.seat, 'bo@example.com')).toMatchObject({ active: true });
    expect(await c.releaseSeat(r.seat, 'bo@example.com')).toMatchObject({ active: false });

    expect(await c.consume('lic.api', 4)).toMatchObject({ allowed: true, replayed: true, consumed: '4' });
    expect(lf.lost()).toBe(1);

    const lease = await c.checkoutLease(r.float, 'rest-host', { ttlSeconds: 60, heartbeatIntervalMs: 20 });
    await waitFor(lease, 'heartbeat');
    await lease.checkin();
    const again = await c.checkoutLease(r.float, 'rest-host-2', { ttlSeconds: 60, heartbeatIntervalMs: 60_000 });
    await hub.ok('mutation($id: ID!) { checkinLease(leaseId: $id) { id } }', { id: again.id });
    await expect(again.heartbeat()).rejects.toMatchObject({ code: 'CONFLICT', subCode: 'LEASE_EXPIRED' });
    expect(again.live).toBe(false);
    await c.close();
  });
});

describe('offline: the hub stops mid-test', () => {
  let edge: TestHub;
  let clock = Date.now();
  const now = () => clock;
  const store = new MemoryStore();
  let closed: EntitlementClient;
  let graceful: EntitlementClient;
  let lease: Lease;

  beforeAll(async () => {
    edge = await startTestHub({}, { attachTo: hub });
    closed = client({ now, offline: { store } }, edge);
    graceful = client({ now, offline: { policy: 'grace', graceSeconds: 3600, store } }, edge);
    await graceful.refreshCertificate();
    expect(await graceful.check('lic.core')).toMatchObject({ allowed: true, source: 'hub' });
    lease = await graceful.checkoutLease(ids.float, 'host-offline', { ttlSeconds: 30, heartbeatIntervalMs: 60_000 });
    await lease.heartbeat();
    await edge.close();
  });
  afterAll(async () => {
    lease?.stop();
  });

  it('fail closed by default: not allowed, with a reason code', async () => {
    expect(await closed.check('lic.core')).toMatchObject({ allowed: false, code: 'HUB_UNREACHABLE', source: 'none' });
  });

  it('with a grace period: answers from the verified certificate', async () => {
    expect(await graceful.check('lic.core')).toMatchObject({ allowed: true, code: 'VALID', source: 'certificate', entitlementId: ids.sub });
    expect(await graceful.check('lic.api', { quantity: 50 })).toMatchObject({ allowed: true, source: 'certificate', remaining: '100' });
    expect(await graceful.check('lic.api', { quantity: 500 })).toMatchObject({ allowed: false, code: 'LIMIT_EXCEEDED', source: 'certificate' });
    expect(await graceful.check('no.such.feature')).toMatchObject({ allowed: false, code: 'NOT_ENTITLED', source: 'certificate' });
    // Other calls than check do not fall back: they fail with a typed error.
    await expect(graceful.consume('lic.api', 1)).rejects.toMatchObject({ code: 'HUB_UNREACHABLE' });
  });

  const sdkDir = scratchDir('ehub-sdk-');
  it('a tampered certificate is refused, and so is an answer beyond the grace period', async () => {
    const fileStore = new FileStore(path.join(sdkDir, 'offline.json'));
    for (const k of ['certificate', 'jwks', 'lastContact']) await fileStore.set(k, (await store.get(k)) as string);
    const fromFile = client({ now, offline: { policy: 'grace', graceSeconds: 3600, store: new FileStore(path.join(sdkDir, 'offline.json')) } }, edge);
    expect(await fromFile.check('lic.core')).toMatchObject({ allowed: true, source: 'certificate' });

    const cert = (await store.get('certificate')) as string;
    const tamperedStore = new MemoryStore();
    tamperedStore.set('jwks', (await store.get('jwks')) as string);
    tamperedStore.set('lastContact', String(clock));
    const i = cert.indexOf('.') + 10;
    tamperedStore.set('certificate', cert.slice(0, i) + (cert[i] === 'A' ? 'B' : 'A') + cert.slice(i + 1));
    const tampered = client({ now, offline: { policy: 'grace', graceSeconds: 3600, store: tamperedStore } }, edge);
    expect(await tampered.check('lic.core')).toMatchObject({ allowed: false, code: 'CERTIFICATE_INVALID', source: 'none' });

    clock += 3601 * 1000;
    expect(await graceful.check('lic.core')).toMatchObject({ allowed: false, code: 'OFFLINE_GRACE_EXPIRED', source: 'none' });
  });

  it('a lease that cannot heartbeat stays held until its expiresAt, then is lost (EXPIRED)', async () => {
    clock = Date.parse(lease.state.expiresAt) - 1000;
    const failed = waitFor(lease, 'heartbeatFailed');
    await expect(lease.heartbeat()).rejects.toMatchObject({ code: 'HUB_UNREACHABLE' });
    expect((await failed).error).toMatchObject({ code: 'HUB_UNREACHABLE' });
    expect(lease.live).toBe(true);

    clock = Date.parse(lease.state.expiresAt);
    const lost = waitFor(lease, 'lost');
    await expect(lease.heartbeat()).rejects.toMatchObject({ code: 'HUB_UNREACHABLE' });
    expect(await lost).toMatchObject({ reason: 'EXPIRED' });
    expect(lease.live).toBe(false);
    // The hub frees the slot at the same instant: its expiry is the one the client knows.
    const [row] = await hub.ds.query(`SELECT expires_at FROM lease WHERE id = $1`, [lease.id]);
    expect(new Date(row.expires_at).toISOString()).toBe(lease.state.expiresAt);
  });
});

import { gqlError, startTestHub, type TestHub } from '../support/test-hub';
import { Role } from '../../src/auth/role';
import { createAccount, grant, rowCounts, seedLicensingCatalog } from './licensing-support';

let hub: TestHub;
let acme: string;
beforeAll(async () => {
  hub = await startTestHub();
  await seedLicensingCatalog(hub);
  acme = await createAccount(hub, 'Floating Inc');
});
afterAll(async () => hub?.close());

const LEASE_FIELDS = 'id entitlementId holder ttlSeconds checkedOutAt expiresAt checkedInAt live';
const CHECKOUT = `mutation ($e: ID!, $h: String!, $t: Int) { checkoutLease(entitlementId: $e, holder: $h, ttlSeconds: $t) { ${LEASE_FIELDS} } }`;
const CHECKOUT_DEFAULT_TTL = `mutation ($e: ID!, $h: String!) { checkoutLease(entitlementId: $e, holder: $h) { ${LEASE_FIELDS} } }`;
const HEARTBEAT = `mutation ($id: ID!, $t: Int) { heartbeatLease(leaseId: $id, ttlSeconds: $t) { ${LEASE_FIELDS} } }`;
const CHECKIN = `mutation ($id: ID!) { checkinLease(leaseId: $id) { ${LEASE_FIELDS} } }`;

interface Lease {
  id: string;
  holder: string;
  ttlSeconds: number;
  checkedOutAt: string;
  expiresAt: string;
  checkedInAt: string | null;
  live: boolean;
}
const checkout = (e: string, h: string, t?: number, key?: string) => hub.gql<{ checkoutLease: Lease }>(CHECKOUT, { e, h, t }, key);
const live = async (e: string) =>
  (await hub.ds.query(`SELECT count(*)::int AS n FROM lease WHERE entitlement_id = $1 AND checked_in_at IS NULL AND expires_at > now()`, [e]))[0].n;
/** Simulates time passing: the lease's expiry moves into the past (no job, no clock mocking). */
const lapse = (leaseId: string) => hub.ds.query(`UPDATE lease SET expires_at = now() - interval '1 second' WHERE id = $1`, [leaseId]);

describe('checkoutLease / heartbeatLease / checkinLease', () => {
  it('checks out a lease with an expiry (default ttl 300 s); the same holder gets its live lease back, extended', async () => {
    const ent = await grant(hub, acme, { sku: 'L-FLOAT', quantity: 3 });
    const first = (await hub.ok<{ checkoutLease: Lease }>(CHECKOUT_DEFAULT_TTL, { e: ent, h: 'alice@host-1' })).checkoutLease;
    expect(first).toMatchObject({ holder: 'alice@host-1', ttlSeconds: 300, checkedInAt: null, live: true });
    const ttl = (new Date(first.expiresAt).getTime() - new Date(first.checkedOutAt).getTime()) / 1000;
    expect(ttl).toBeCloseTo(300, 0);
    const again = (await checkout(ent, 'alice@host-1', 600)).data!.checkoutLease;
    expect(again.id).toBe(first.id);
    expect(again.ttlSeconds).toBe(600);
    expect(new Date(again.expiresAt).getTime()).toBeGreaterThan(new Date(first.expiresAt).getTime());
    expect(await live(ent)).toBe(1);
    const { entitlement } = await hub.ok<{ entitlement: { leases: { id: string }[] } }>(`query ($id: ID!) { entitlement(id: $id) { leases { id } } }`, { id: ent });
    expect(entitlement.leases).toEqual([{ id: first.id }]);
  });

  it('over the limit → LIMIT_EXCEEDED ENTITLEMENT_LEASE_LIMIT_EXCEEDED; a checked-in lease frees its slot; checkin twice is a replay', async () => {
    const ent = await grant(hub, acme, { sku: 'L-FLOAT', quantity: 2 });
    const a = (await checkout(ent, 'a', 60)).data!.checkoutLease;
    await checkout(ent, 'b', 60);
    const before = await rowCounts(hub);
    const over = await checkout(ent, 'c', 60);
    expect(gqlError(over)).toMatchObject({ code: 'LIMIT_EXCEEDED', subCode: 'ENTITLEMENT_LEASE_LIMIT_EXCEEDED' });
    expect(over.errors![0]!.extensions).toMatchObject({ limit: 2, inUse: 2 });
    expect(await rowCounts(hub)).toEqual(before);

    const back = (await hub.ok<{ checkinLease: Lease }>(CHECKIN, { id: a.id })).checkinLease;
    expect(back).toMatchObject({ id: a.id, live: false });
    expect(back.checkedInAt).not.toBeNull();
    expect((await hub.ok<{ checkinLease: Lease }>(CHECKIN, { id: a.id })).checkinLease).toEqual(back);
    expect((await checkout(ent, 'c', 60)).errors).toBeUndefined();
    expect(await live(ent)).toBe(2);
  });

  it('an expired lease frees its slot by time alone (no job), and cannot be heartbeated (CONFLICT LEASE_EXPIRED)', async () => {
    const ent = await grant(hub, acme, { sku: 'L-FLOAT', quantity: 1 });
    const a = (await checkout(ent, 'a', 60)).data!.checkoutLease;
    expect(gqlError(await checkout(ent, 'b', 60)).subCode).toBe('ENTITLEMENT_LEASE_LIMIT_EXCEEDED');
    await lapse(a.id);
    const b = await checkout(ent, 'b', 60);
    expect(b.errors).toBeUndefined();
    expect(await live(ent)).toBe(1);

    const hb = await hub.gql(HEARTBEAT, { id: a.id });
    expect(gqlError(hb)).toMatchObject({ code: 'CONFLICT', subCode: 'LEASE_EXPIRED' });
    // The lapsed holder checks out again: a new lease, refused while the slot is taken.
    expect(gqlError(await checkout(ent, 'a', 60)).subCode).toBe('ENTITLEMENT_LEASE_LIMIT_EXCEEDED');
    // A checked-in lease cannot be heartbeated either.
    await hub.ok(CHECKIN, { id: b.data!.checkoutLease.id });
    expect(gqlError(await hub.gql(HEARTBEAT, { id: b.data!.checkoutLease.id }))).toMatchObject({ code: 'CONFLICT', subCode: 'LEASE_EXPIRED' });
    // Checking in a lapsed lease is harmless.
    expect((await hub.gql(CHECKIN, { id: a.id })).errors).toBeUndefined();
  });

  it('heartbeat extends a live lease (by its own ttl, or a new one)', async () => {
    const ent = await grant(hub, acme, { sku: 'L-FLOAT', quantity: 1 });
    const a = (await checkout(ent, 'a', 30)).data!.checkoutLease;
    await hub.ds.query(`UPDATE lease SET expires_at = now() + interval '5 seconds' WHERE id = $1`, [a.id]);
    const hb = (await hub.ok<{ heartbeatLease: Lease }>(HEARTBEAT, { id: a.id })).heartbeatLease;
    expect(hb.ttlSeconds).toBe(30);
    expect(new Date(hb.expiresAt).getTime() - Date.now()).toBeGreaterThan(20_000);
    const longer = (await hub.ok<{ heartbeatLease: Lease }>(HEARTBEAT, { id: a.id, t: 3600 })).heartbeatLease;
    expect(longer.ttlSeconds).toBe(3600);
    expect(new Date(longer.expiresAt).getTime() - Date.now()).toBeGreaterThan(3500_000);
    const rows = await hub.ds.query(`SELECT action FROM audit_log WHERE entity = 'Lease' AND entity_id = $1 ORDER BY at`, [a.id]);
    expect(rows.map((r: { action: string }) => r.action)).toEqual(['CREATE', 'HEARTBEAT', 'HEARTBEAT']);
  });

  it('heartbeat on a suspended entitlement is refused, so clients stop', async () => {
    const ent = await grant(hub, acme, { sku: 'L-FLOAT', quantity: 1 });
    const a = (await checkout(ent, 'a', 60)).data!.checkoutLease;
    await hub.ok(`mutation ($id: ID!) { suspendEntitlement(id: $id, reason: "compliance hold") { id } }`, { id: ent });
    expect((await hub.gql(HEARTBEAT, { id: a.id })).errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'ENTITLEMENT_NOT_ACTIVE', status: 'SUSPENDED' });
    expect((await checkout(ent, 'b', 60)).errors![0]!.extensions).toMatchObject({ subCode: 'ENTITLEMENT_NOT_ACTIVE', status: 'SUSPENDED' });
  });

  it('50 concurrent checkouts on 10 floating licences → exactly 10 leases', async () => {
    const ent = await grant(hub, acme, { sku: 'L-FLOAT', quantity: 10 });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => checkout(ent, `holder-${i}`, 120)));
    expect(results.filter((r) => !r.errors)).toHaveLength(10);
    for (const r of results.filter((x) => x.errors)) expect(gqlError(r).subCode).toBe('ENTITLEMENT_LEASE_LIMIT_EXCEEDED');
    expect(await live(ent)).toBe(10);
    expect((await hub.ds.query(`SELECT count(*)::int AS n FROM lease WHERE entitlement_id = $1`, [ent]))[0].n).toBe(10);
  });

  it('10 concurrent checkouts by one holder → one lease', async () => {
    const ent = await grant(hub, acme, { sku: 'L-FLOAT', quantity: 5 });
    const results = await Promise.all(Array.from({ length: 10 }, () => checkout(ent, 'same', 120)));
    expect(results.every((r) => !r.errors)).toBe(true);
    expect(new Set(results.map((r) => r.data!.checkoutLease.id)).size).toBe(1);
  });

  it('ttl out of range, a blank holder, the wrong model and unknown leases are refused and change nothing', async () => {
    const ent = await grant(hub, acme, { sku: 'L-FLOAT', quantity: 5 });
    const seat = await grant(hub, acme, { sku: 'L-SEAT', quantity: 5 });
    const before = await rowCounts(hub);
    for (const t of [0, 9, 86_401, -5]) {
      expect(gqlError(await checkout(ent, 'x', t))).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'LEASE_TTL_OUT_OF_RANGE', fields: [{ path: 'ttlSeconds' }] });
    }
    expect(gqlError(await checkout(ent, ' ', 60)).subCode).toBe('LEASE_HOLDER_INVALID');
    expect(gqlError(await checkout(seat, 'x', 60)).subCode).toBe('ENTITLEMENT_MODEL_MISMATCH');
    expect(gqlError(await hub.gql(HEARTBEAT, { id: '00000000-0000-4000-8000-000000000000' }))).toMatchObject({ code: 'NOT_FOUND', subCode: 'LEASE_NOT_FOUND' });
    expect(gqlError(await hub.gql(CHECKIN, { id: 'not-a-uuid' })).code).toBe('NOT_FOUND');
    expect(await rowCounts(hub)).toEqual(before);
  });

  it('a key scoped to another account sees NOT_FOUND for the entitlement and its leases', async () => {
    const ent = await grant(hub, acme, { sku: 'L-FLOAT', quantity: 5 });
    const a = (await checkout(ent, 'a', 60)).data!.checkoutLease;
    const scoped = await hub.createKey(Role.ADMIN, await createAccount(hub, 'Other'));
    expect(gqlError(await checkout(ent, 'spy', 60, scoped)).code).toBe('NOT_FOUND');
    expect(gqlError(await hub.gql(HEARTBEAT, { id: a.id }, scoped))).toMatchObject({ code: 'NOT_FOUND', subCode: 'LEASE_NOT_FOUND' });
    expect(gqlError(await hub.gql(CHECKIN, { id: a.id }, scoped))).toMatchObject({ code: 'NOT_FOUND', subCode: 'LEASE_NOT_FOUND' });
    expect(await live(ent)).toBe(1);
  });
});

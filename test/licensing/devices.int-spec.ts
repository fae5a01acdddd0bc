import { gqlError, startTestHub, type TestHub } from '../support/test-hub';
import { Role } from '../../src/auth/role';
import { createAccount, day, grant, rowCounts, seedLicensingCatalog } from './licensing-support';

let hub: TestHub;
let acme: string;
beforeAll(async () => {
  hub = await startTestHub();
  await seedLicensingCatalog(hub);
  acme = await createAccount(hub, 'Devices Inc');
});
afterAll(async () => hub?.close());

const ACTIVATE = `mutation ($e: ID!, $f: String!, $n: String, $p: String, $d: Deployment) {
  activateDevice(entitlementId: $e, fingerprint: $f, name: $n, platform: $p, deployment: $d) {
    id entitlementId accountId fingerprint name platform deployment activatedAt lastSeenAt deactivatedAt active
  }
}`;
const DEACTIVATE = `mutation ($e: ID!, $f: String!) { deactivateDevice(entitlementId: $e, fingerprint: $f) { id fingerprint active deactivatedAt } }`;

interface Activation {
  id: string;
  fingerprint: string;
  name: string | null;
  platform: string | null;
  deployment: string | null;
  lastSeenAt: string;
  active: boolean;
  deactivatedAt: string | null;
}
const activate = (e: string, f: string, extra: Record<string, unknown> = {}) => hub.gql<{ activateDevice: Activation }>(ACTIVATE, { e, f, ...extra });
const activeCount = async (e: string) => (await hub.ds.query(`SELECT count(*)::int AS n FROM activation WHERE entitlement_id = $1 AND deactivated_at IS NULL`, [e]))[0].n;

describe('activateDevice / deactivateDevice', () => {
  it('activates a device with its details, and re-activating the same fingerprint returns the same activation (refreshed)', async () => {
    const ent = await grant(hub, acme, { sku: 'L-DEV', quantity: 2 });
    const first = await activate(ent, 'fp-1', { n: 'build-01', p: 'linux-x64', d: 'ON_PREM' });
    expect(first.errors).toBeUndefined();
    expect(first.data!.activateDevice).toMatchObject({ fingerprint: 'fp-1', name: 'build-01', platform: 'linux-x64', deployment: 'ON_PREM', active: true, deactivatedAt: null });
    await new Promise((r) => setTimeout(r, 20));
    const again = await activate(ent, 'fp-1');
    expect(again.data!.activateDevice.id).toBe(first.data!.activateDevice.id);
    expect(again.data!.activateDevice.name).toBe('build-01');
    expect(new Date(again.data!.activateDevice.lastSeenAt).getTime()).toBeGreaterThan(new Date(first.data!.activateDevice.lastSeenAt).getTime());
    expect(await activeCount(ent)).toBe(1);
    const { entitlement } = await hub.ok<{ entitlement: { devices: { fingerprint: string }[] } }>(`query ($id: ID!) { entitlement(id: $id) { devices { fingerprint } } }`, { id: ent });
    expect(entitlement.devices).toEqual([{ fingerprint: 'fp-1' }]);
  });

  it('over the limit → LIMIT_EXCEEDED ENTITLEMENT_DEVICE_LIMIT_EXCEEDED; deactivating frees the slot; deactivating twice is a replay', async () => {
    const ent = await grant(hub, acme, { sku: 'L-DEV', quantity: 2 });
    await activate(ent, 'a');
    await activate(ent, 'b');
    const before = await rowCounts(hub);
    const over = await activate(ent, 'c');
    expect(gqlError(over)).toMatchObject({ code: 'LIMIT_EXCEEDED', subCode: 'ENTITLEMENT_DEVICE_LIMIT_EXCEEDED' });
    expect(over.errors![0]!.extensions).toMatchObject({ limit: 2, inUse: 2, entitlementId: ent });
    expect(await rowCounts(hub)).toEqual(before);

    const off = await hub.ok<{ deactivateDevice: Activation }>(DEACTIVATE, { e: ent, f: 'a' });
    expect(off.deactivateDevice).toMatchObject({ fingerprint: 'a', active: false });
    const offAgain = await hub.ok<{ deactivateDevice: Activation }>(DEACTIVATE, { e: ent, f: 'a' });
    expect(offAgain.deactivateDevice).toEqual(off.deactivateDevice);
    expect((await activate(ent, 'c')).errors).toBeUndefined();
    expect(await activeCount(ent)).toBe(2);
    // The same device can come back later: a new activation, not the old one.
    await hub.ok(DEACTIVATE, { e: ent, f: 'b' });
    const back = await activate(ent, 'a');
    expect(back.data!.activateDevice.id).not.toBe(off.deactivateDevice.id);
  });

  it('30 concurrent activations of distinct devices on a 5-device entitlement → exactly 5 devices', async () => {
    const ent = await grant(hub, acme, { sku: 'L-DEV', quantity: 5 });
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => activate(ent, `race-${i}`)));
    const ok = results.filter((r) => !r.errors);
    const refused = results.filter((r) => r.errors);
    expect(ok).toHaveLength(5);
    expect(refused).toHaveLength(25);
    for (const r of refused) expect(gqlError(r).subCode).toBe('ENTITLEMENT_DEVICE_LIMIT_EXCEEDED');
    expect(await activeCount(ent)).toBe(5);
  });

  it('10 concurrent activations of the same device → one activation', async () => {
    const ent = await grant(hub, acme, { sku: 'L-DEV', quantity: 5 });
    const results = await Promise.all(Array.from({ length: 10 }, () => activate(ent, 'same-device')));
    expect(results.every((r) => !r.errors)).toBe(true);
    expect(new Set(results.map((r) => r.data!.activateDevice.id)).size).toBe(1);
    expect(await activeCount(ent)).toBe(1);
  });

  it('another model → BAD_USER_INPUT ENTITLEMENT_MODEL_MISMATCH; an entitlement not in force → ENTITLEMENT_NOT_ACTIVE with its status', async () => {
    const seats = await grant(hub, acme, { sku: 'L-SEAT', quantity: 5 });
    expect(gqlError(await activate(seats, 'x'))).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'ENTITLEMENT_MODEL_MISMATCH' });

    const expired = await grant(hub, acme, { sku: 'L-DEV', quantity: 5, startDate: day(-400), endDate: day(-40) });
    const res = await activate(expired, 'x');
    expect(gqlError(res)).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'ENTITLEMENT_NOT_ACTIVE' });
    expect(res.errors![0]!.extensions!.status).toBe('EXPIRED');

    const future = await grant(hub, acme, { sku: 'L-DEV', quantity: 5, startDate: day(10) });
    const early = await activate(future, 'x');
    expect(early.errors![0]!.extensions).toMatchObject({ subCode: 'ENTITLEMENT_NOT_ACTIVE', status: 'NOT_STARTED' });

    const held = await grant(hub, acme, { sku: 'L-DEV', quantity: 5 });
    await hub.ok(`mutation ($id: ID!) { suspendEntitlement(id: $id, reason: "collections") { id } }`, { id: held });
    expect((await activate(held, 'x')).errors![0]!.extensions).toMatchObject({ subCode: 'ENTITLEMENT_NOT_ACTIVE', status: 'SUSPENDED' });

    // In grace: still usable.
    const grace = await grant(hub, acme, { sku: 'L-DEV', quantity: 5, startDate: day(-100), endDate: day(-2), graceDays: 30 });
    expect((await activate(grace, 'x')).errors).toBeUndefined();
  });

  it('bad input and unknown records change nothing', async () => {
    const ent = await grant(hub, acme, { sku: 'L-DEV', quantity: 5 });
    const before = await rowCounts(hub);
    expect(gqlError(await activate(ent, '   '))).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'ACTIVATION_FINGERPRINT_INVALID', fields: [{ path: 'fingerprint' }] });
    expect(gqlError(await activate(ent, 'x'.repeat(256))).code).toBe('BAD_USER_INPUT');
    expect(gqlError(await activate('00000000-0000-4000-8000-000000000000', 'x'))).toMatchObject({ code: 'NOT_FOUND', subCode: 'ENTITLEMENT_NOT_FOUND' });
    expect(gqlError(await activate('nope', 'x')).code).toBe('NOT_FOUND');
    expect(gqlError(await hub.gql(DEACTIVATE, { e: ent, f: 'never-seen' }))).toMatchObject({ code: 'NOT_FOUND', subCode: 'ACTIVATION_NOT_FOUND' });
    expect(await rowCounts(hub)).toEqual(before);
  });

  it('every change is audited; INTEGRATION may activate, READONLY may not; a key scoped to another account sees NOT_FOUND', async () => {
    const ent = await grant(hub, acme, { sku: 'L-DEV', quantity: 5 });
    const integration = await hub.createKey(Role.INTEGRATION);
    const created = await hub.gql<{ activateDevice: Activation }>(ACTIVATE, { e: ent, f: 'audited' }, integration);
    expect(created.errors).toBeUndefined();
    const rows = await hub.ds.query(`SELECT action, operation FROM audit_log WHERE entity = 'Activation' AND entity_id = $1`, [created.data!.activateDevice.id]);
    expect(rows).toEqual([{ action: 'CREATE', operation: 'activateDevice' }]);

    const readonly = await hub.createKey(Role.READONLY);
    expect(gqlError(await hub.gql(ACTIVATE, { e: ent, f: 'ro' }, readonly)).code).toBe('FORBIDDEN');

    const other = await createAccount(hub, 'Someone else');
    const scoped = await hub.createKey(Role.ADMIN, other);
    const res = await hub.gql(ACTIVATE, { e: ent, f: 'spy' }, scoped);
    expect(gqlError(res)).toMatchObject({ code: 'NOT_FOUND', subCode: 'ENTITLEMENT_NOT_FOUND' });
    expect(JSON.stringify(res)).not.toContain(acme);
    expect(gqlError(await hub.gql(DEACTIVATE, { e: ent, f: 'audited' }, scoped)).code).toBe('NOT_FOUND');
    expect(await activeCount(ent)).toBe(1);
  });
});

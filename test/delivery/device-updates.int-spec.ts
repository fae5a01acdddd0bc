import { startTestHub, type TestHub } from '../support/test-hub';
import { createAccount, day, grant, seedLicensingCatalog } from '../licensing/licensing-support';
import { Role } from '../../src/auth/role';
import { put } from './delivery-support';

/**
 * Device updates (issue 14 part 3, ADR 0039) over HTTP against PostgreSQL: a device whose
 * maintenance ended before 2.4 is offered 2.3 and told why not 2.4; a renewal order with new
 * terms makes 2.4 available on its next poll. Update tokens of other devices and accounts are
 * refused with nothing recorded; install reports are idempotent; bad reports store nothing.
 */
let hub: TestHub;
let acme: string;
let other: string;
let ent: string;
let orderExt: string;
const UPSERT = `mutation ($i: UpsertReleaseInput!) { upsertRelease(input: $i) { id version } }`;
const ACTIVATE = `mutation ($e: ID!, $f: String!, $p: String) { activateDevice(entitlementId: $e, fingerprint: $f, platform: $p) { id updateToken softwareVersion } }`;
const ACCESS = `query ($r: ID!, $a: ID, $d: ID, $s: String, $c: ReleaseChannel, $v: String) {
  releaseAccess(release: $r, accountId: $a, deviceId: $d, deviceSerial: $s, channel: $c, currentVersion: $v) { allowed reasons { code message } entitlementId } }`;

interface Offer {
  release: { id: string; version: string; channel: string; releaseDate: string; notes: string | null } | null;
  artifacts: { name: string; platform: string | null; arch: string | null; size: number; sha256: string; sha512: string; signature: string; url: string; expiresAt: string }[];
  heldBack: { version: string; reasons: { code: string; message: string }[] }[];
}

const release = async (i: Record<string, unknown>) => (await hub.ok<{ upsertRelease: { id: string; version: string } }>(UPSERT, { i })).upsertRelease;
const activate = async (e: string, f: string, p: string | null = 'linux') => (await hub.ok<{ activateDevice: { id: string; updateToken: string; softwareVersion: string | null } }>(ACTIVATE, { e, f, p })).activateDevice;
const poll = async (device: string, token: string, query = '') => {
  const res = await fetch(`${hub.url}/v1/devices/${device}/update${query}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null } as { status: number; body: Offer & { errors?: { extensions: { code: string; subCode: string } }[] } };
};
const report = async (device: string, token: string, body: unknown, key?: string) => {
  const res = await fetch(`${hub.url}/v1/devices/${device}/update-status`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { report?: { id: string; status: string; release: string }; replayed?: boolean; errors?: { extensions: { subCode: string } }[] } };
};
const subCode = (b: { errors?: { extensions: { subCode: string } }[] }) => b.errors?.[0]?.extensions.subCode;
const upload = (releaseId: string, name: string, query: string) =>
  put(`${hub.url}/v1/releases/${releaseId}/artifacts/${name}${query}`, Buffer.from(`bytes of ${name}`), { authorization: `Bearer ${hub.adminKey}`, 'content-type': 'application/octet-stream' });

let r23: string;
let r24: string;
let device: { id: string; updateToken: string };

beforeAll(async () => {
  hub = await startTestHub();
  await seedLicensingCatalog(hub);
  acme = await createAccount(hub, 'Fleet Inc');
  other = await createAccount(hub, 'Other Fleet');
  orderExt = `DEV-${Date.now()}`;
  // Maintenance ended 30 days ago (the entitlement itself runs on): new releases are restricted.
  const first = await hub.ok<{ submitOrder: { entitlements: { id: string }[] } }>('mutation($input: OrderInput!) { submitOrder(input: $input) { entitlements { id } } }', {
    input: {
      source: 'device-updates-test',
      externalId: orderExt,
      accountId: acme,
      orderDate: day(-300),
      currency: 'USD',
      lines: [
        {
          lineNo: 1,
          externalLineId: `${orderExt}-1`,
          sku: 'L-DEV',
          quantity: 5,
          unitPrice: 1000,
          startDate: day(-300),
          endDate: day(60),
          terms: { maintenanceEnd: day(-30), afterExpiry: 'RESTRICT_TO_RELEASED' },
        },
      ],
    },
  });
  ent = first.submitOrder.entitlements[0]!.id;
  r23 = (await release({ product: 'L-DEV', version: '2.3.0', status: 'PUBLISHED', releaseDate: `${day(-60)}T12:00:00.000Z`, notes: 'Stable 2.3' })).id;
  r24 = (await release({ product: 'L-DEV', version: '2.4.0', status: 'PUBLISHED', releaseDate: `${day(-10)}T12:00:00.000Z` })).id;
  expect((await upload(r23, 'fw-2.3.0-linux-arm64.bin', '?platform=linux&arch=arm64')).status).toBe(201);
  expect((await upload(r23, 'fw-2.3.0-linux-x86_64.bin', '?platform=linux&arch=x86_64')).status).toBe(201);
  expect((await upload(r24, 'fw-2.4.0-linux-arm64.bin', '?platform=linux&arch=arm64')).status).toBe(201);
  device = await activate(ent, 'gw-0001');
});
afterAll(async () => hub?.close());

describe('device update polling', () => {
  it('a device whose maintenance ended before 2.4 is offered 2.3 and told why not 2.4; a renewal order makes 2.4 available on its next poll', async () => {
    expect(device.updateToken).toMatch(/^ehd_[A-Za-z0-9_-]{43}$/);
    const stored = await hub.ds.query(`SELECT update_token_hash FROM activation WHERE id = $1`, [device.id]);
    expect(stored[0].update_token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored[0].update_token_hash).not.toContain(device.updateToken);

    const before = await poll(device.id, device.updateToken, '?current=2.2.0&channel=stable&arch=arm64&type=gateway');
    expect(before.status).toBe(200);
    expect(before.body.release).toMatchObject({ id: r23, version: '2.3.0', channel: 'STABLE', notes: 'Stable 2.3' });
    expect(before.body.artifacts.map((a) => a.name)).toEqual(['fw-2.3.0-linux-arm64.bin']); // filtered by the device's arch
    expect(before.body.heldBack).toEqual([{ version: '2.4.0', reasons: [{ code: 'MAINTENANCE_ENDED', message: `maintenance ended ${day(-30)}, release published ${day(-10)}` }] }]);
    // The link is fresh, bound to the device, and downloads.
    const got = await fetch(hub.url + new URL(before.body.artifacts[0]!.url).pathname + new URL(before.body.artifacts[0]!.url).search);
    expect(got.status).toBe(200);
    expect(await got.text()).toBe('bytes of fw-2.3.0-linux-arm64.bin');
    const logged = await hub.ds.query(`SELECT account_id, device FROM download_log WHERE event = 'LINK_CREATED' AND artifact_id = (SELECT id FROM release_artifact WHERE name = 'fw-2.3.0-linux-arm64.bin')`);
    expect(logged).toEqual([{ account_id: acme, device: 'gw-0001' }]);
    const row = (await hub.ds.query(`SELECT software_version, software_channel, architecture, device_type, update_polled_at FROM activation WHERE id = $1`, [device.id]))[0];
    expect(row).toMatchObject({ software_version: '2.2.0', software_channel: 'STABLE', architecture: 'arm64', device_type: 'gateway' });
    expect(row.update_polled_at).not.toBeNull();

    // Running 2.3.0: nothing to install, but 2.4 is explained (200, release null); running 2.4.0: 204.
    const at23 = await poll(device.id, device.updateToken, '?current=2.3.0');
    expect(at23).toMatchObject({ status: 200, body: { release: null, artifacts: [], heldBack: [{ version: '2.4.0', reasons: [{ code: 'MAINTENANCE_ENDED' }] }] } });
    expect((await poll(device.id, device.updateToken, '?current=2.4.0')).status).toBe(204);
    // The same answer from the releaseAccess query.
    const q = await hub.ok<{ releaseAccess: unknown }>(ACCESS, { r: r24, d: device.id });
    expect(q.releaseAccess).toEqual({ allowed: false, reasons: [{ code: 'MAINTENANCE_ENDED', message: `maintenance ended ${day(-30)}, release published ${day(-10)}` }], entitlementId: null });

    // A renewal order carrying new maintenance terms.
    await hub.ok('mutation($input: OrderInput!) { submitOrder(input: $input) { entitlements { id } } }', {
      input: {
        source: 'device-updates-test',
        externalId: `${orderExt}-R`,
        accountId: acme,
        orderDate: day(0),
        currency: 'USD',
        lines: [
          {
            lineNo: 1,
            sku: 'L-DEV',
            quantity: 5,
            unitPrice: 1000,
            startDate: day(61),
            endDate: day(425),
            action: 'RENEWAL',
            renewsLineRef: `${orderExt}-1`,
            terms: { maintenanceEnd: day(425), afterExpiry: 'RESTRICT_TO_RELEASED' },
          },
        ],
      },
    });
    const after = await poll(device.id, device.updateToken, '?current=2.3.0&arch=arm64');
    expect(after.status).toBe(200);
    expect(after.body.release).toMatchObject({ id: r24, version: '2.4.0' });
    expect(after.body.artifacts.map((a) => a.name)).toEqual(['fw-2.4.0-linux-arm64.bin']);
    expect(after.body.artifacts[0]).toMatchObject({ size: 'bytes of fw-2.4.0-linux-arm64.bin'.length, platform: 'linux', arch: 'arm64' });
    expect(after.body.heldBack).toEqual([]);
    expect((await hub.ok<{ releaseAccess: { allowed: boolean; entitlementId: string } }>(ACCESS, { r: r24, d: device.id })).releaseAccess).toMatchObject({ allowed: true, entitlementId: ent });
  });

  it('update tokens: another device\'s or another account\'s token is refused and records nothing; re-activation rotates; API keys of the account may poll', async () => {
    const second = await activate(ent, 'gw-0002');
    const otherEnt = await grant(hub, other, { sku: 'L-DEV', quantity: 2 });
    const foreign = await activate(otherEnt, 'gw-other');
    const refused = async (id: string, token: string, status: number, code: string) => {
      const r = await poll(id, token, '?current=1.0.0');
      expect({ status: r.status, code: r.body?.errors?.[0]?.extensions.subCode }).toEqual({ status, code });
    };
    await refused(second.id, device.updateToken, 403, 'DEVICE_TOKEN_REFUSED');
    await refused(foreign.id, device.updateToken, 403, 'DEVICE_TOKEN_REFUSED');
    await refused(device.id, foreign.updateToken, 403, 'DEVICE_TOKEN_REFUSED');
    await refused('00000000-0000-4000-8000-000000000000', device.updateToken, 403, 'DEVICE_TOKEN_REFUSED');
    await refused('not-a-uuid', device.updateToken, 403, 'DEVICE_TOKEN_REFUSED');
    const noAuth = await fetch(`${hub.url}/v1/devices/${device.id}/update`);
    expect(noAuth.status).toBe(401);
    expect(((await noAuth.json()) as { errors: { extensions: { subCode: string } }[] }).errors[0]!.extensions.subCode).toBe('DEVICE_TOKEN_MISSING');
    const polled = await hub.ds.query(`SELECT id FROM activation WHERE id = ANY($1::uuid[]) AND update_polled_at IS NOT NULL`, [[second.id, foreign.id]]);
    expect(polled).toEqual([]);
    expect((await report(second.id, device.updateToken, { release: r23, status: 'INSTALLED' })).status).toBe(403);

    // API keys: the account's own scoped key and an unscoped key may poll; another account's key: NOT_FOUND; READONLY: refused.
    expect((await poll(device.id, await hub.createKey(Role.INTEGRATION, acme), '?current=2.3.0')).body.release?.version).toBe('2.4.0');
    expect((await poll(device.id, hub.adminKey, '?current=2.3.0')).status).toBe(200);
    await refused(device.id, await hub.createKey(Role.INTEGRATION, other), 404, 'DEVICE_NOT_FOUND');
    await refused(device.id, await hub.createKey(Role.READONLY), 403, 'AUTH_ROLE_NOT_ALLOWED');

    // Activating the same fingerprint again rotates the token.
    const again = await activate(ent, 'gw-0002');
    expect(again.id).toBe(second.id);
    expect(again.updateToken).not.toBe(second.updateToken);
    await refused(second.id, second.updateToken, 403, 'DEVICE_TOKEN_REFUSED');
    expect((await poll(second.id, again.updateToken, '?current=2.4.0')).status).toBe(204);
    // The token is in the activation answer only.
    const { entitlement } = await hub.ok<{ entitlement: { devices: { updateToken: string | null }[] } }>(`query ($id: ID!) { entitlement(id: $id) { devices { updateToken } } }`, { id: ent });
    expect(entitlement.devices.every((d) => d.updateToken === null)).toBe(true);
  });

  it('bad poll input is refused with a code', async () => {
    expect(subCode((await poll(device.id, device.updateToken, '?current=latest')).body)).toBe('DEVICE_VERSION_INVALID');
    expect(subCode((await poll(device.id, device.updateToken, '?channel=nightly')).body)).toBe('DEVICE_CHANNEL_INVALID');
  });
});

describe('install reports', () => {
  it('are stored once per idempotency key; INSTALLED sets the device\'s version; the same key with another body is a conflict', async () => {
    const first = await report(device.id, device.updateToken, { release: r24, status: 'DOWNLOADING' }, 'dl-1');
    expect(first).toMatchObject({ status: 201, body: { replayed: false, report: { status: 'DOWNLOADING', release: r24 } } });
    const retry = await report(device.id, device.updateToken, { release: r24, status: 'DOWNLOADING' }, 'dl-1');
    expect(retry).toMatchObject({ status: 200, body: { replayed: true, report: { id: first.body.report!.id } } });
    const installed = await report(device.id, device.updateToken, { release: r24, status: 'installed' }, 'in-1');
    expect(installed.status).toBe(201);
    expect((await report(device.id, device.updateToken, { release: r24, status: 'INSTALLED' }, 'in-1')).status).toBe(200);
    expect((await hub.ds.query(`SELECT software_version FROM activation WHERE id = $1`, [device.id]))[0].software_version).toBe('2.4.0');
    const reused = await report(device.id, device.updateToken, { release: r24, status: 'FAILED', reason: 'disk full' }, 'in-1');
    expect({ status: reused.status, code: subCode(reused.body) }).toEqual({ status: 409, code: 'IDEMPOTENCY_KEY_REUSED' });
    const rows = await hub.ds.query(`SELECT status, idempotency_key FROM device_update_report WHERE activation_id = $1 ORDER BY reported_at, status`, [device.id]);
    expect(rows).toEqual([
      { status: 'DOWNLOADING', idempotency_key: 'dl-1' },
      { status: 'INSTALLED', idempotency_key: 'in-1' },
    ]);
  });

  it('bad status, unknown release, a release of another product: 400/404 with codes, nothing stored', async () => {
    const otherProduct = await release({ product: 'L-SUB', version: '1.0.0', status: 'PUBLISHED' });
    const count = async () => (await hub.ds.query(`SELECT count(*)::int AS n FROM device_update_report`))[0].n as number;
    const n = await count();
    const bad = async (body: unknown, status: number, code: string) => {
      const r = await report(device.id, device.updateToken, body, `bad-${code}`);
      expect({ status: r.status, code: subCode(r.body) }).toEqual({ status, code });
    };
    await bad({ release: r24, status: 'DONE' }, 400, 'UPDATE_STATUS_INVALID');
    await bad({ release: r24 }, 400, 'UPDATE_STATUS_INVALID');
    await bad({ status: 'FAILED' }, 400, 'UPDATE_RELEASE_REQUIRED');
    await bad({ release: '00000000-0000-4000-8000-000000000000', status: 'FAILED' }, 404, 'RELEASE_NOT_FOUND');
    await bad({ release: 'nope', status: 'FAILED' }, 404, 'RELEASE_NOT_FOUND');
    await bad({ release: otherProduct.id, status: 'FAILED' }, 400, 'UPDATE_RELEASE_OTHER_PRODUCT');
    await bad({ release: r24, status: 'FAILED', reason: 42 }, 400, 'UPDATE_REASON_INVALID');
    expect(await count()).toBe(n);
  });
});

describe('releaseAccess refusals', () => {
  it('channel, compatibility, features, minUpgradeFrom and yanked, with their reasons; scoped keys only about their own account', async () => {
    const beta = await release({ product: 'L-DEV', version: '2.5.0-beta.1', channel: 'BETA', status: 'PUBLISHED' });
    const x86 = await release({ product: 'L-DEV', version: '2.5.1', status: 'PUBLISHED', architectures: ['x86_64'], deviceTypes: ['gateway'] });
    const feature = await release({ product: 'L-DEV', version: '2.5.2', status: 'PUBLISHED', requiredFeatures: ['lic.premium'] });
    const path = await release({ product: 'L-DEV', version: '3.0.0', status: 'PUBLISHED', minUpgradeFrom: '2.4.0' });
    const yanked = await release({ product: 'L-DEV', version: '2.4.1', status: 'PUBLISHED' });
    await release({ product: 'L-DEV', version: '2.4.1', status: 'YANKED', yankReason: 'bricks gateways' });
    const codes = async (vars: Record<string, unknown>, key?: string) =>
      (await hub.ok<{ releaseAccess: { allowed: boolean; reasons: { code: string }[] } }>(ACCESS, vars, key)).releaseAccess.reasons.map((r) => r.code);
    expect(await codes({ r: beta.id, d: device.id })).toEqual(['CHANNEL_MISMATCH']);
    expect(await codes({ r: beta.id, d: device.id, c: 'BETA' })).toEqual([]);
    // The device said arm64 / gateway when it polled.
    expect(await codes({ r: x86.id, d: device.id })).toEqual(['INCOMPATIBLE_ARCHITECTURE']);
    expect(await codes({ r: x86.id, a: acme })).toEqual([]);
    expect(await codes({ r: feature.id, a: acme })).toEqual(['FEATURE_MISSING']);
    expect(await codes({ r: path.id, d: device.id, v: '2.3.0' })).toEqual(['UPGRADE_PATH_UNSUPPORTED']);
    expect(await codes({ r: path.id, d: device.id })).toEqual([]); // it last reported 2.4.0
    expect(await codes({ r: yanked.id, a: acme })).toEqual(['RELEASE_YANKED']);
    expect(await codes({ r: r24, a: await createAccount(hub, 'No Fleet') })).toEqual(['NOT_ENTITLED']);

    // A poll passes over the newer releases it may not have, saying why, and offers the newest it may.
    const offer = await poll(device.id, device.updateToken, '?current=2.3.0&arch=arm64&type=gateway');
    expect(offer.body.release?.version).toBe('2.4.0');
    expect(offer.body.heldBack.map((h) => [h.version, h.reasons.map((r) => r.code)])).toEqual([
      ['3.0.0', ['UPGRADE_PATH_UNSUPPORTED']],
      ['2.5.2', ['FEATURE_MISSING']],
      ['2.5.1', ['INCOMPATIBLE_ARCHITECTURE']],
    ]);

    const scoped = await hub.createKey(Role.READONLY, other);
    const denied = await hub.gql(ACCESS, { r: r24, a: acme }, scoped);
    expect(denied.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND' });
    const deniedDevice = await hub.gql(ACCESS, { r: r24, d: device.id }, scoped);
    expect(deniedDevice.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', subCode: 'DEVICE_NOT_FOUND' });
    const none = await hub.gql(ACCESS, { r: r24 });
    expect(none.errors?.[0]?.extensions).toMatchObject({ subCode: 'RELEASE_ACCESS_SUBJECT_REQUIRED' });
  });
});

import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { gqlError, startTestHub, type TestHub } from '../support/test-hub';
import { Role } from '../../src/auth/role';
import { systemContext } from '../../src/common/context';
import { verifyCertificate, type Jwk } from '../../src/certificates/certificate.verify';
import { activate, deactivate, fetchJwks, ISSUE, issue, seedCertificateWorld, type CertificateWorld } from './fixtures';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');

let hub: TestHub;
let w: CertificateWorld;
beforeAll(async () => {
  hub = await startTestHub();
  w = await seedCertificateWorld(hub);
});
afterAll(async () => hub?.close());

const jwks = async () => (await fetchJwks(hub)).body as unknown as { keys: Jwk[] };
const auditCount = async () => Number((await hub.ds.query(`SELECT count(*) AS n FROM audit_log WHERE entity = 'Certificate'`))[0].n);
const flip = (s: string, i: number) => s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) ^ 1) + s.slice(i + 1);

describe('issueCertificate', () => {
  it('certifies the usable entitlements of an account, and verifies offline with only the JWKS', async () => {
    const issued = await issue(hub, { accountId: w.accountId });
    const { status, cacheControl, body } = await fetchJwks(hub);
    expect(status).toBe(200);
    expect(cacheControl).toBe('public, max-age=300');
    expect(body.keys).toEqual([{ kty: 'OKP', crv: 'Ed25519', x: expect.stringMatching(/^[\w-]{43}$/), kid: issued.kid, use: 'sig', alg: 'EdDSA' }]);

    // Offline: the pure function, the JWKS and the string; no database, no hub.
    const result = verifyCertificate(issued.certificate, body as unknown as { keys: Jwk[] });
    if (!result.valid) throw new Error(result.message);
    expect(result.header).toEqual({ alg: 'EdDSA', typ: 'ehub-cert+jwt', kid: issued.kid });
    expect(result.payload).toEqual(issued.payload);
    expect(result.expiresAt.toISOString()).toBe(issued.expiresAt);
    expect(result.issuedAt.toISOString()).toBe(issued.issuedAt);

    const p = issued.payload;
    expect(p).toMatchObject({ iss: 'ehub', sub: w.accountId, account: { id: w.accountId, name: 'Acme Robotics' }, device: null, jti: issued.jti });
    expect(p.exp - p.iat).toBe(30 * 24 * 3600);
    // Only what is usable now: not the expired or future subscription, and no DEVICE_LOCKED right without a device.
    expect(p.entitlements).toEqual([
      {
        id: w.subscriptionId,
        sku: 'CAD-SUB',
        model: 'SUBSCRIPTION',
        status: 'ACTIVE',
        startsAt: expect.any(String),
        endsAt: expect.any(String),
        graceEndsAt: expect.any(String),
        quantity: 3,
        overagePolicy: null,
        resetPeriod: null,
        features: [
          { key: 'cad.export', limit: null },
          { key: 'cad.render', limit: '6' },
        ],
      },
    ]);

    const [audit] = await hub.ds.query(`SELECT action, entity_id, after FROM audit_log WHERE entity = 'Certificate' AND entity_id = $1`, [issued.jti]);
    expect(audit).toMatchObject({ action: 'ISSUE', after: { jti: issued.jti, kid: issued.kid, accountId: w.accountId, entitlementIds: [w.subscriptionId] } });
  });

  it('one flipped byte, in the header, the payload or the signature, fails verification', async () => {
    const { certificate } = await issue(hub, { entitlementId: w.subscriptionId });
    const keys = await jwks();
    const [h, p] = certificate.split('.') as [string, string];
    expect(verifyCertificate(certificate, keys).valid).toBe(true);
    const at = { header: 3, payload: h.length + 1 + Math.floor(p.length / 2), signature: certificate.length - 20 };
    for (const [part, i] of Object.entries(at)) {
      expect({ part, ...verifyCertificate(flip(certificate, i), keys) }).toMatchObject({ part, valid: false });
    }
    for (let i = 0; i < certificate.length; i++) {
      if (verifyCertificate(flip(certificate, i), keys).valid) throw new Error(`byte ${i} flipped and still valid`);
    }
  });

  it('an expired certificate fails verification', async () => {
    const issued = await issue(hub, { accountId: w.accountId, ttl: 60 });
    expect(issued.payload.exp - issued.payload.iat).toBe(60);
    const keys = await jwks();
    expect(verifyCertificate(issued.certificate, keys, new Date(Date.parse(issued.expiresAt) - 1000)).valid).toBe(true);
    expect(verifyCertificate(issued.certificate, keys, new Date(Date.parse(issued.expiresAt) + 1000))).toMatchObject({ valid: false, reason: 'EXPIRED' });
  });

  it('refuses bad input with fields, and writes nothing', async () => {
    const before = await auditCount();
    const cases: [Record<string, unknown>, string, string[]][] = [
      [{}, 'CERTIFICATE_SUBJECT_REQUIRED', ['accountId', 'entitlementId']],
      [{ accountId: w.accountId, entitlementId: w.subscriptionId }, 'CERTIFICATE_SUBJECT_AMBIGUOUS', ['accountId', 'entitlementId']],
      [{ accountId: w.accountId, ttl: 59 }, 'VALIDATION_FAILED', ['ttl']],
      [{ accountId: w.accountId, ttl: 400 * 86400 + 1 }, 'VALIDATION_FAILED', ['ttl']],
      [{ accountId: w.accountId, deviceFingerprint: '' }, 'VALIDATION_FAILED', ['deviceFingerprint']],
      [{ entitlementId: w.expiredId }, 'CERTIFICATE_ENTITLEMENT_NOT_USABLE', ['entitlementId']],
      [{ entitlementId: w.futureId }, 'CERTIFICATE_ENTITLEMENT_NOT_USABLE', ['entitlementId']],
    ];
    for (const [vars, subCode, paths] of cases) {
      const e = gqlError(await hub.gql(ISSUE, vars));
      expect({ vars, code: e.code, subCode: e.subCode, paths: (e.fields as { path: string }[]).map((f) => f.path) }).toEqual({ vars, code: 'BAD_USER_INPUT', subCode, paths });
    }
    expect(await issue(hub, { accountId: w.accountId, ttl: 400 * 86400 })).toBeTruthy();
    expect(gqlError(await hub.gql(ISSUE, { accountId: '00000000-0000-4000-8000-000000000000' }))).toMatchObject({ code: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' });
    expect(gqlError(await hub.gql(ISSUE, { entitlementId: 'nope' }))).toMatchObject({ code: 'NOT_FOUND', subCode: 'ENTITLEMENT_NOT_FOUND' });
    expect(await auditCount()).toBe(before + 1);
  });

  it('a DEVICE_LOCKED right is certified only to a device activated on it', async () => {
    const refused = async (vars: Record<string, unknown>, subCode: string) =>
      expect(gqlError(await hub.gql(ISSUE, vars))).toMatchObject({ code: 'BAD_USER_INPUT', subCode, fields: [{ path: 'deviceFingerprint' }] });
    await refused({ entitlementId: w.deviceLockedId }, 'CERTIFICATE_DEVICE_REQUIRED');
    await refused({ entitlementId: w.deviceLockedId, deviceFingerprint: 'fp-unknown' }, 'CERTIFICATE_DEVICE_NOT_ACTIVATED');
    await refused({ accountId: w.accountId, deviceFingerprint: 'fp-unknown' }, 'CERTIFICATE_DEVICE_NOT_ACTIVATED');

    await activate(hub, w.deviceLockedId, 'fp-workstation-1');
    const one = await issue(hub, { entitlementId: w.deviceLockedId, deviceFingerprint: 'fp-workstation-1' });
    expect(one.payload.device).toBe('fp-workstation-1');
    expect(one.payload.entitlements).toMatchObject([{ id: w.deviceLockedId, model: 'DEVICE_LOCKED', quantity: 2, features: [{ key: 'cad.node', limit: '2' }] }]);
    const all = await issue(hub, { accountId: w.accountId, deviceFingerprint: 'fp-workstation-1' });
    expect(all.payload.entitlements.map((e) => e.id).sort()).toEqual([w.subscriptionId, w.deviceLockedId].sort());
    expect(verifyCertificate(all.certificate, await jwks()).valid).toBe(true);

    await deactivate(hub, w.deviceLockedId, 'fp-workstation-1');
    await refused({ entitlementId: w.deviceLockedId, deviceFingerprint: 'fp-workstation-1' }, 'CERTIFICATE_DEVICE_NOT_ACTIVATED');
  });

  it('roles and account scope: INTEGRATION may issue, READONLY may not; another account is NOT_FOUND', async () => {
    const integration = await hub.createKey(Role.INTEGRATION);
    expect((await issue(hub, { accountId: w.accountId }, integration)).payload.sub).toBe(w.accountId);
    expect(gqlError(await hub.gql(ISSUE, { accountId: w.accountId }, await hub.createKey(Role.READONLY))).code).toBe('FORBIDDEN');

    const scoped = await hub.createKey(Role.INTEGRATION, w.otherAccountId);
    expect((await issue(hub, { accountId: w.otherAccountId }, scoped)).payload.entitlements.map((e) => e.id)).toEqual([w.otherSubscriptionId]);
    const before = await auditCount();
    expect(gqlError(await hub.gql(ISSUE, { accountId: w.accountId }, scoped))).toMatchObject({ code: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' });
    const e = gqlError(await hub.gql(ISSUE, { entitlementId: w.subscriptionId }, scoped));
    expect(e).toMatchObject({ code: 'NOT_FOUND', subCode: 'ENTITLEMENT_NOT_FOUND' });
    expect(e.message).not.toContain(w.accountId);
    expect(await auditCount()).toBe(before);
  });
});

describe('signing keys', () => {
  const ctx = () => systemContext(pino({ level: 'silent' }), 'test:rotate');

  it('the key is generated into the data directory on first use (0600), with `current` naming it', async () => {
    const dir = path.join(hub.services.config.dataDir, 'signing-keys');
    const kid = (await fs.readFile(path.join(dir, 'current'), 'utf8')).trim();
    expect((await jwks()).keys[0]!.kid).toBe(kid);
    const stat = await fs.stat(path.join(dir, `${kid}.pem`));
    expect(stat.mode & 0o777).toBe(0o600);
    expect(await fs.readFile(path.join(dir, `${kid}.pem`), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it('after rotate-signing, new certificates use the new kid and old ones still verify with the new JWKS', async () => {
    const old = await issue(hub, { accountId: w.accountId });
    const rotated = await hub.services.certificates.rotateSigning(ctx());
    expect(rotated).toMatchObject({ previousKid: old.kid, kid: expect.stringMatching(/^[\w-]{16}$/) });
    expect(rotated.kid).not.toBe(old.kid);

    const fresh = await issue(hub, { accountId: w.accountId });
    expect(fresh.kid).toBe(rotated.kid);
    const keys = await jwks();
    expect(keys.keys.map((k) => k.kid)).toEqual([rotated.kid, old.kid]); // current first
    expect(verifyCertificate(old.certificate, keys)).toMatchObject({ valid: true, header: { kid: old.kid } });
    expect(verifyCertificate(fresh.certificate, keys)).toMatchObject({ valid: true, header: { kid: rotated.kid } });

    const rows = await hub.ds.query(`SELECT kid, retired_at FROM signing_key ORDER BY created_at`);
    expect(rows).toEqual([
      { kid: old.kid, retired_at: expect.any(Date) },
      { kid: rotated.kid, retired_at: null },
    ]);
    const audit = await hub.ds.query(`SELECT entity_id, action FROM audit_log WHERE entity = 'SigningKey' ORDER BY id`);
    expect(audit).toEqual(
      expect.arrayContaining([
        { entity_id: rotated.kid, action: 'CREATE' },
        { entity_id: old.kid, action: 'RETIRE' },
      ]),
    );
  });

  it('a running hub picks up a rotation made by `ehub keys rotate-signing` (re-reading `current`)', async () => {
    const before = await issue(hub, { accountId: w.accountId });
    const { stdout, stderr } = await run(process.execPath, ['-r', '@swc-node/register', path.join(ROOT, 'src/cli/main.ts'), 'keys', 'rotate-signing'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: hub.databaseUrl, EHUB_DATA_DIR: hub.services.config.dataDir, NODE_OPTIONS: '', LOG_LEVEL: 'warn' },
    });
    const kid = stdout.trim();
    expect(kid).toMatch(/^[\w-]{16}$/);
    expect(stderr).toContain(`${before.kid} is retired`);
    // Within the refresh interval the hub still signs with its cached key; after it, with the new one.
    expect((await issue(hub, { accountId: w.accountId })).kid).toBe(before.kid);
    hub.services.certificates.signingKeys.refreshMs = 0;
    const after = await issue(hub, { accountId: w.accountId });
    expect(after.kid).toBe(kid);
    const keys = await jwks();
    expect(keys.keys[0]!.kid).toBe(kid);
    expect(verifyCertificate(before.certificate, keys).valid).toBe(true);
    expect(verifyCertificate(after.certificate, keys).valid).toBe(true);
  }, 60_000);
});

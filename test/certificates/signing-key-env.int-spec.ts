import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { startTestHub, type TestHub } from '../support/test-hub';
import { systemContext } from '../../src/common/context';
import type { Config } from '../../src/config';
import { CertificateService } from '../../src/certificates/certificate.service';
import { verifyCertificate, type Jwk } from '../../src/certificates/certificate.verify';
import { fetchJwks, issue, seedCertificateWorld, type CertificateWorld } from './fixtures';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');

// An Ed25519 key made the way the docs say (openssl genpkey -algorithm ed25519 does the same).
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
const x = publicKey.export({ format: 'jwk' }).x!;
// RFC 7638, computed here independently of the hub's code.
const expectedKid = createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`).digest('base64url').slice(0, 16);

let hub: TestHub;
let w: CertificateWorld;
beforeAll(async () => {
  hub = await startTestHub({ EHUB_SIGNING_KEY: Buffer.from(pem).toString('base64') });
  w = await seedCertificateWorld(hub);
});
afterAll(async () => hub?.close());

const ctx = () => systemContext(pino({ level: 'silent' }), 'test:env-key');

describe('EHUB_SIGNING_KEY', () => {
  it('signs with the supplied key: its kid is the key\'s thumbprint, and its public half is published', async () => {
    const issued = await issue(hub, { accountId: w.accountId });
    expect(issued.kid).toBe(expectedKid);
    const { body } = await fetchJwks(hub);
    expect(body.keys).toEqual([{ kty: 'OKP', crv: 'Ed25519', x, kid: expectedKid, use: 'sig', alg: 'EdDSA' }]);
    expect(verifyCertificate(issued.certificate, body as unknown as { keys: Jwk[] }).valid).toBe(true);
    // Nothing is generated into the data directory.
    await expect(fs.stat(path.join(hub.services.config.dataDir, 'signing-keys'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses to rotate, saying the key is managed outside the hub (service and CLI)', async () => {
    await expect(hub.services.certificates.rotateSigning(ctx())).rejects.toMatchObject({
      extensions: { code: 'CONFLICT', subCode: 'CERTIFICATE_SIGNING_KEY_EXTERNAL' },
      message: expect.stringContaining('EHUB_SIGNING_KEY is set, so the signing key is managed outside the hub'),
    });
    const cli = run(process.execPath, ['-r', '@swc-node/register', path.join(ROOT, 'src/cli/main.ts'), 'keys', 'rotate-signing'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: hub.databaseUrl, EHUB_DATA_DIR: hub.services.config.dataDir, EHUB_SIGNING_KEY: pem, NODE_OPTIONS: '', LOG_LEVEL: 'warn' },
    });
    await expect(cli).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('managed outside the hub') });
    expect(await hub.ds.query('SELECT kid FROM signing_key')).toEqual([{ kid: expectedKid }]);
  }, 60_000);

  it('a hub given a new EHUB_SIGNING_KEY publishes it first and keeps the old key, so old certificates still verify', async () => {
    const old = await issue(hub, { accountId: w.accountId });
    const next = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const config: Config = { ...hub.services.config, EHUB_SIGNING_KEY: next };
    const other = new CertificateService(hub.services.db, config);
    const { kid } = await other.ensureSigningKey(ctx());
    expect(kid).not.toBe(expectedKid);
    const jwks = await other.jwks(ctx());
    expect(jwks.keys.map((k) => k.kid)).toEqual([kid, expectedKid]);
    expect(verifyCertificate(old.certificate, jwks).valid).toBe(true);
    expect(await hub.ds.query('SELECT kid, retired_at IS NOT NULL AS retired FROM signing_key ORDER BY created_at')).toEqual([
      { kid: expectedKid, retired: true },
      { kid, retired: false },
    ]);
  });

  it('a malformed or non-Ed25519 EHUB_SIGNING_KEY stops start-up with a clear message', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    for (const [value, message] of [
      ['not-a-key', /EHUB_SIGNING_KEY is not a private key: give a PKCS#8 PEM Ed25519 private key/],
      [rsa, /EHUB_SIGNING_KEY is a rsa key; certificates are signed with Ed25519/],
    ] as const) {
      const config: Config = { ...hub.services.config, EHUB_SIGNING_KEY: value };
      await expect(new CertificateService(hub.services.db, config).ensureSigningKey(ctx())).rejects.toThrow(message);
    }
  });
});

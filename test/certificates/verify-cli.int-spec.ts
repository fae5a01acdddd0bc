import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startTestHub, type TestHub } from '../support/test-hub';
import { activate, fetchJwks, issue, seedCertificateWorld, type CertificateWorld } from './fixtures';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const CLI = ['-r', '@swc-node/register', path.join(ROOT, 'src/cli/main.ts')];

let hub: TestHub;
let w: CertificateWorld;
let dir: string;
beforeAll(async () => {
  hub = await startTestHub();
  w = await seedCertificateWorld(hub);
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ehub-cert-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
  await hub?.close();
});

/** The CLI with no database at all: verification is offline. */
function ehub(...args: string[]) {
  return run(process.execPath, [...CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', NODE_OPTIONS: '', LOG_LEVEL: 'warn' },
  });
}

describe('ehub verify-certificate', () => {
  jest.setTimeout(180_000); // several CLI runs; slow on a loaded machine

  it('verifies a certificate file against a JWKS file and prints the rights; exits 1 when tampered, unknown or malformed', async () => {
    await activate(hub, w.deviceLockedId, 'fp-lab-7');
    const issued = await issue(hub, { accountId: w.accountId, deviceFingerprint: 'fp-lab-7' });
    const certFile = path.join(dir, 'acme.cert');
    const jwksFile = path.join(dir, 'jwks.json');
    await fs.writeFile(certFile, issued.certificate + '\n');
    await fs.writeFile(jwksFile, JSON.stringify((await fetchJwks(hub)).body));

    const { stdout } = await ehub('verify-certificate', certFile, '--jwks', jwksFile);
    expect(stdout).toContain('Certificate valid.');
    expect(stdout).toContain(`Acme Robotics (${w.accountId})`);
    expect(stdout).toContain('fp-lab-7');
    expect(stdout).toContain(issued.kid);
    expect(stdout).toMatch(/ENTITLEMENT\s+SKU\s+MODEL\s+STATE NOW\s+QUANTITY\s+STARTS\s+ENDS\s+GRACE ENDS\s+FEATURE\s+LIMIT/);
    expect(stdout).toMatch(/CAD-SUB\s+SUBSCRIPTION\s+ACTIVE\s+3\s+\S+\s+\S+\s+\S+\s+cad\.export\s+unlimited/);
    expect(stdout).toMatch(/cad\.render\s+6/);
    expect(stdout).toMatch(/CAD-NODE\s+DEVICE_LOCKED\s+ACTIVE\s+2\s+.*cad\.node\s+2/);

    // The JSON answer of issueCertificate works too, and so does fetching the JWKS from the hub.
    const jsonFile = path.join(dir, 'acme.json');
    await fs.writeFile(jsonFile, JSON.stringify({ data: { issueCertificate: issued } }));
    expect((await ehub('verify-certificate', jsonFile, '--jwks', hub.url)).stdout).toContain('Certificate valid.');
    expect(JSON.parse((await ehub('verify-certificate', certFile, '--jwks', jwksFile, '--json')).stdout)).toEqual(issued.payload);

    const tampered = path.join(dir, 'tampered.cert');
    const [h, p, s] = issued.certificate.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    claims.entitlements[0].quantity = 300;
    await fs.writeFile(tampered, `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`);
    await expect(ehub('verify-certificate', tampered, '--jwks', jwksFile)).rejects.toMatchObject({
      code: 1,
      stdout: '',
      stderr: expect.stringContaining('Certificate NOT valid (BAD_SIGNATURE)'),
    });

    const emptyJwks = path.join(dir, 'empty.json');
    await fs.writeFile(emptyJwks, '{"keys":[]}');
    await expect(ehub('verify-certificate', certFile, '--jwks', emptyJwks)).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('Certificate NOT valid (UNKNOWN_KEY)'),
    });
    await fs.writeFile(tampered, 'hello');
    await expect(ehub('verify-certificate', tampered, '--jwks', jwksFile)).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('MALFORMED') });
  });
});

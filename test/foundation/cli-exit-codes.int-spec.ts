import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../../src/db/embedded-postgres';
import { scratchDir } from '../support/scratch';

/**
 * Issue 10: every `ehub` command that fails exits non-zero, as a real process on the embedded
 * PostgreSQL (no DATABASE_URL). The package embedded-postgres loads (async-exit-hook) used to
 * call process.exit(0) on `beforeExit`, turning a failed `ehub sync` into a success.
 */
const ROOT = path.resolve(__dirname, '../..');
const CLI = ['-r', '@swc-node/register', path.join(ROOT, 'src/cli/main.ts')];
const PROXY_VARS = ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy'];

const base = scratchDir('ehub-exit-', 0o755); // the embedded cluster runs as the postgres user when root
const dataDir = path.join(base, 'data');
const notADir = path.join(base, 'a-file');
fs.writeFileSync(notADir, 'not a directory\n');
const badCert = path.join(base, 'cert.txt');
fs.writeFileSync(badCert, 'eyJhbGciOiJFZERTQSJ9.e30.c2ln\n');

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

function ehub(args: string[], env: Record<string, string> = {}): Promise<Exit> {
  const e: NodeJS.ProcessEnv = { ...process.env, EHUB_DATA_DIR: dataDir, NODE_OPTIONS: '', LOG_LEVEL: 'warn', EHUB_JOBS_ENABLED: 'false', ...env };
  delete e.DATABASE_URL;
  for (const k of PROXY_VARS) delete e[k];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, env: e, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('ehub exit codes with the embedded database', () => {
  jest.setTimeout(120_000);

  it('a command that works exits 0 (the control)', async () => {
    const r = await ehub(['migrate']);
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    expect(r.stdout).toMatch(/up to date|Applied/);
  });

  it('ehub sync exits 1 when its run failed (the target is unreachable)', async () => {
    const deadPort = await freePort(); // nothing listens there
    const r = await ehub(['sync', 'salesforce'], {
      EHUB_SECRET_KEY: 'exit-codes-test-secret-key-0123456789abcdef',
      EHUB_SALESFORCE_OPTIONS: JSON.stringify({ auth: 'client_credentials', loginUrl: `http://127.0.0.1:${deadPort}`, clientId: 'x' }),
      EHUB_SALESFORCE_CREDENTIALS: JSON.stringify({ clientSecret: 'y' }),
    });
    expect(r.stdout).toMatch(/PULL\s+accounts\s+FAILED/);
    expect(r.code).toBe(1);
  });

  it.each([
    ['sync of an unknown connection', ['sync', 'no-such-connection']],
    ['keys create with an unknown role', ['keys', 'create', '--name', 'x', '--role', 'WIZARD']],
    ['keys revoke of an unknown key', ['keys', 'revoke', '00000000-0000-4000-8000-000000000000']],
    ['export with a bad month', ['export', 'revenue', 'waterfall', '--from', '2026-13', '--to', '2026-12']],
    ['verify-certificate of a forged certificate', ['verify-certificate', badCert]],
  ])('%s exits non-zero', async (_what, args) => {
    const r = await ehub(args);
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stderr.trim().length).toBeGreaterThan(0);
  });

  it.each([
    ['migrate', ['migrate']],
    ['demo', ['demo']],
  ])('%s exits non-zero when the embedded database cannot start', async (_what, args) => {
    const r = await ehub(args, { EHUB_DATA_DIR: notADir });
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
  });
});

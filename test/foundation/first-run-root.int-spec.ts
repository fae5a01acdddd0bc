import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { freePort } from '../../src/db/embedded-postgres';

/**
 * The first run a new user makes as root (containers, cloud VMs) with the checkout in a 0700
 * home folder: the real start path (`node dist/src/cli/main.js serve`, what `npm start` runs
 * after building) must work although the `postgres` user that PostgreSQL runs as cannot
 * enter the checkout (binaries in node_modules) or EHUB_DATA_DIR.
 *
 * The "checkout" is a folder under a fresh 0700 folder holding package.json, a dist/ built
 * by tsc from this tree, and a node_modules whose packages link to this tree's, except the
 * embedded PostgreSQL binaries, which are hard-linked copies (so their path is the 0700 one).
 */
const ROOT = path.resolve(__dirname, '../..');
const isRoot = process.getuid?.() === 0;
const run = promisify(execFile);

let home: string;
let checkout: string;
let placement: string;
let proc: ChildProcess | undefined;

function postmasterPids(): number[] {
  const pids: number[] = [];
  if (!placement || !fs.existsSync(placement)) return pids;
  for (const d of fs.readdirSync(placement)) {
    const f = path.join(placement, d, 'pg', 'postmaster.pid');
    if (fs.existsSync(f)) pids.push(Number(fs.readFileSync(f, 'utf8').split('\n')[0]));
  }
  return pids.filter((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
}

async function makeCheckout(): Promise<void> {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'ehub-home-'));
  fs.chmodSync(home, 0o700);
  checkout = path.join(home, 'hub');
  fs.mkdirSync(path.join(checkout, 'node_modules'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(checkout, 'package.json'));
  for (const entry of fs.readdirSync(path.join(ROOT, 'node_modules'))) {
    const from = path.join(ROOT, 'node_modules', entry);
    const to = path.join(checkout, 'node_modules', entry);
    if (entry === '@embedded-postgres') await run('cp', ['-al', from, to]);
    else fs.symlinkSync(from, to);
  }
  // `npm run build`, into the 0700 checkout.
  await run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', path.join(checkout, 'dist')], {
    cwd: ROOT,
  });
}

const describeAsRoot = isRoot ? describe : describe.skip;
if (!isRoot) {
  console.warn('first-run-root.int-spec: skipped, it needs root (the postgres-user switch only happens as root; CI runs as root)');
}

describeAsRoot('first run as root with the checkout under a 0700 folder', () => {
  jest.setTimeout(300_000);

  beforeAll(async () => {
    await makeCheckout();
    placement = path.join(os.tmpdir(), `ehub-pg-${randomBytes(4).toString('hex')}`);
  });
  afterAll(() => {
    if (proc && proc.exitCode === null) proc.kill('SIGKILL');
    for (const pid of postmasterPids()) process.kill(pid, 'SIGINT');
    if (home) fs.rmSync(home, { recursive: true, force: true });
    if (placement) fs.rmSync(placement, { recursive: true, force: true });
  });

  it('starts, places PostgreSQL where the postgres user can reach it, answers, and stops on SIGTERM', async () => {
    expect(fs.statSync(home).mode & 0o777).toBe(0o700);
    const dataDir = path.join(home, 'data');
    const served = await serve(dataDir);
    const { url } = served;
    const out = served.output();
    // Not a terminal: JSON log lines, one of which says where PostgreSQL was placed.
    const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const placedLine = lines.find((l) => String(l.msg).includes('embedded PostgreSQL placed under'));
    expect(placedLine).toMatchObject({ msg: expect.stringContaining(placement) });
    expect(String(placedLine!.binaries)).toContain(placement); // the binaries, too, were out of reach
    // The cluster lives in the placement, owned by postgres, with a link from EHUB_DATA_DIR.
    const cluster = fs.realpathSync(path.join(dataDir, 'pg'));
    expect(cluster.startsWith(placement + path.sep)).toBe(true);
    const { stdout: pgUid } = await run('id', ['-u', 'postgres']);
    expect(fs.statSync(cluster).uid).toBe(Number(pgUid.trim()));

    const adminKey = fs.readFileSync(path.join(dataDir, 'admin.key'), 'utf8').trim();
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
      body: JSON.stringify({ query: '{ me { role } hub { version } }' }),
    });
    expect(await res.json()).toMatchObject({ data: { me: { role: 'ADMIN' } } });

    expect(await served.stop()).toBe(0);
    expect(postmasterPids()).toEqual([]);
    expect(served.output()).not.toMatch(/Unhandled|EACCES/);
  });

  it('a new checkout at the same path starts as a first run: the earlier one\'s placed cluster is moved aside, not reused or deleted', async () => {
    // The earlier checkout's data folder is gone (its password, admin key and secret key with it).
    const dataDir = path.join(home, 'data');
    const earlier = fs.realpathSync(path.join(dataDir, 'pg'));
    fs.rmSync(dataDir, { recursive: true, force: true });
    const served = await serve(dataDir);
    const warning = served
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; orphaned?: string })
      .find((l) => l.orphaned);
    expect(warning?.orphaned?.startsWith(`${path.dirname(earlier)}.orphaned-`)).toBe(true);
    expect(warning?.orphaned).toMatch(/\.orphaned-\d{8}T\d{6}$/);
    expect(fs.existsSync(path.join(warning!.orphaned!, 'pg', 'PG_VERSION'))).toBe(true); // kept, not deleted
    // A new cluster in the same place, and a new admin key that works.
    expect(fs.realpathSync(path.join(dataDir, 'pg'))).toBe(earlier);
    const adminKey = fs.readFileSync(path.join(dataDir, 'admin.key'), 'utf8').trim();
    const res = await fetch(`${served.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
      body: JSON.stringify({ query: '{ me { role } }' }),
    });
    expect(await res.json()).toMatchObject({ data: { me: { role: 'ADMIN' } } });
    expect(await served.stop()).toBe(0);
    expect(served.output()).not.toMatch(/password authentication failed/);
  });
});

/** `node dist/src/cli/main.js serve` in the checkout, answering /healthz; stop() sends SIGTERM and gives the exit code. */
async function serve(dataDir: string): Promise<{ url: string; output(): string; stop(): Promise<number | null | string> }> {
  const port = await freePort();
  const { NODE_ENV: _n, EHUB_ADMIN_KEY: _a, DATABASE_URL: _d, NODE_OPTIONS: _o, ...rest } = process.env;
  proc = spawn(process.execPath, ['dist/src/cli/main.js', 'serve'], {
    cwd: checkout,
    env: { ...rest, PORT: String(port), HOST: '127.0.0.1', EHUB_DATA_DIR: dataDir, EHUB_EMBEDDED_PG_DIR: placement, EHUB_JOBS_ENABLED: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const child = proc;
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`ehub serve exited with ${child.exitCode}:\n${out}`);
    if (Date.now() > deadline) throw new Error(`ehub serve did not answer /healthz in time:\n${out}`);
    const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    output: () => out,
    stop: async () => {
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([exited, new Promise<string>((r) => (timer = setTimeout(() => r('timeout'), 60_000)))]);
      clearTimeout(timer);
      return code;
    },
  };
}

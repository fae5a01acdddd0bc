import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * The real `ehub` command, as a user runs it: embedded PostgreSQL in EHUB_DATA_DIR, graceful
 * SIGTERM, data kept across restarts, CLI commands beside a running hub, recovery after SIGKILL.
 */
const ROOT = path.resolve(__dirname, '../..');
const CLI = ['-r', '@swc-node/register', path.join(ROOT, 'src/cli/main.ts')];
const run = promisify(execFile);
let dataDir: string;
// The data directory is a 0700 temporary folder: as root, the cluster is placed here instead.
const placement = path.join(os.tmpdir(), `ehub-life-pg-${process.pid}`);
const children: ChildProcess[] = [];

function env(): NodeJS.ProcessEnv {
  const { EHUB_ADMIN_KEY: _a, DATABASE_URL: _d, ...rest } = process.env;
  return { ...rest, EHUB_DATA_DIR: dataDir, EHUB_EMBEDDED_PG_DIR: placement, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', NODE_ENV: 'test', NODE_OPTIONS: '' };
}

async function serve(): Promise<{ proc: ChildProcess; url: string; exited: Promise<number | null> }> {
  const proc = spawn(process.execPath, [...CLI, 'serve'], { cwd: ROOT, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hub did not start:\n${out}`)), 60_000);
    proc.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      for (const line of out.split('\n')) {
        if (!line.includes('Entitlement Hub is listening')) continue;
        clearTimeout(timer);
        resolve((JSON.parse(line) as { address: string }).address);
      }
    });
    proc.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    void exited.then((code) => reject(new Error(`hub exited with ${code}:\n${out}`)));
  });
  return { proc, url, exited };
}

async function gql(url: string, key: string, query: string): Promise<{ data?: Record<string, unknown>; errors?: unknown[] }> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query }),
  });
  return (await res.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
}

function postmasterPid(): number | null {
  const f = path.join(dataDir, 'pg', 'postmaster.pid');
  if (!fs.existsSync(f)) return null;
  const pid = Number(fs.readFileSync(f, 'utf8').split('\n')[0]);
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

beforeAll(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ehub-life-'));
});
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  const pid = postmasterPid();
  if (pid) process.kill(pid, 'SIGINT');
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(placement, { recursive: true, force: true });
});

describe('ehub serve lifecycle', () => {
  jest.setTimeout(180_000);

  it('starts on an embedded PostgreSQL, stops on SIGTERM, keeps data across restarts, and survives SIGKILL', async () => {
    // First start: initialises PostgreSQL and generates an admin key.
    const first = await serve();
    const adminKey = fs.readFileSync(path.join(dataDir, 'admin.key'), 'utf8').trim();
    expect(adminKey).toMatch(/^ehub_/);
    expect((await fetch(`${first.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${first.url}/graphql`)).headers.get('content-type')).toMatch(/text\/html/);
    const created = await gql(first.url, adminKey, 'mutation { createApiKey(input: { name: "kept", role: ANALYST }) { key apiKey { prefix } } }');
    const kept = (created.data!.createApiKey as { key: string }).key;

    // CLI commands beside the running hub use its PostgreSQL and leave it running.
    const listed = await run(process.execPath, [...CLI, 'keys', 'list'], { cwd: ROOT, env: env() });
    expect(listed.stdout).toContain('kept');
    const cliKey = (await run(process.execPath, [...CLI, 'keys', 'create', '--name', 'from cli', '--role', 'operations'], { cwd: ROOT, env: env() })).stdout.trim();
    expect(cliKey).toMatch(/^ehub_/);
    expect((await gql(first.url, cliKey, '{ me { role } }')).data).toEqual({ me: { role: 'OPERATIONS' } });
    expect(postmasterPid()).not.toBeNull();

    // SIGTERM: drains, stops PostgreSQL, exits 0.
    first.proc.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(postmasterPid()).toBeNull();

    // Restart: same data, no new admin key generated.
    const second = await serve();
    expect(fs.readFileSync(path.join(dataDir, 'admin.key'), 'utf8').trim()).toBe(adminKey);
    expect((await gql(second.url, kept, '{ me { role name } }')).data).toEqual({ me: { role: 'ANALYST', name: 'kept' } });

    // SIGKILL leaves PostgreSQL behind; the next start reuses it, and its SIGTERM stops it.
    second.proc.kill('SIGKILL');
    await second.exited;
    expect(postmasterPid()).not.toBeNull();
    const third = await serve();
    expect((await gql(third.url, kept, '{ me { name } }')).data).toEqual({ me: { name: 'kept' } });
    third.proc.kill('SIGTERM');
    expect(await third.exited).toBe(0);
    expect(postmasterPid()).toBeNull();
  });
});

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { freePort, removePlacedCluster, startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded-postgres';
import { spawnServe, type ServedHub } from '../support/serve-process';
import { makeTlsFiles, type TlsFiles } from '../support/tls-files';

/*
 * The hub on a PostgreSQL that accepts TLS connections only (as managed databases are
 * usually run): `sslmode=verify-full&sslrootcert=…` in DATABASE_URL (docs/operations.md). A
 * PostgreSQL of this file's own with ssl on and pg_hba allowing `hostssl` only; a real
 * `ehub serve` migrates, answers, and runs a finance export in its worker thread (its own
 * connection) over TLS; without the CA it does not start, and says why without the password.
 */
let dir: string;
let tls: TlsFiles;
let pg: EmbeddedDatabase;
let port: number;
let password: string;
const children: ServedHub[] = [];

beforeAll(async () => {
  // The server's files must be readable by the postgres user the cluster runs as (as root: not root).
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ehub-pg-tls-'));
  fs.chmodSync(dir, 0o755);
  tls = makeTlsFiles(dir, ['DNS:localhost', 'IP:127.0.0.1']);
  for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o644);
  fs.chmodSync(tls.serverKey, 0o600);
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    fs.chownSync(tls.serverKey, uid, -1);
  }
  port = await freePort();
  pg = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port, settings: ['ssl=on', `ssl_cert_file=${tls.serverCert}`, `ssl_key_file=${tls.serverKey}`] });
  password = decodeURIComponent(new URL(pg.url()).password);
  // TLS only from now on: every host line becomes hostssl.
  const admin = new Client({ connectionString: pg.url('postgres') });
  await admin.connect();
  try {
    await admin.query('CREATE DATABASE ehub');
    const [{ hba_file: hba }] = (await admin.query('SHOW hba_file')).rows as { hba_file: string }[];
    fs.writeFileSync(hba!, fs.readFileSync(hba!, 'utf8').replace(/^host(\s)/gm, 'hostssl$1'));
    await admin.query('SELECT pg_reload_conf()');
  } finally {
    await admin.end();
  }
}, 120_000);

afterAll(async () => {
  for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
  await pg?.stop();
  await removePlacedCluster(path.join(dir, 'pg'));
  fs.rmSync(dir, { recursive: true, force: true });
});

const tlsUrl = (query: string) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/ehub?${query}`;

async function serve(databaseUrl: string, dataDir: string, env: NodeJS.ProcessEnv = {}): Promise<ServedHub> {
  const { EHUB_ADMIN_KEY: _a, DATABASE_URL: _d, DATABASE_READ_URL: _r, ...rest } = process.env;
  const hub = await spawnServe({ ...rest, NODE_ENV: 'test', NODE_OPTIONS: '', LOG_LEVEL: 'info', DATABASE_URL: databaseUrl, EHUB_DATA_DIR: dataDir, EHUB_JOBS_ENABLED: 'false', ...env });
  children.push(hub);
  return hub;
}

describe('PostgreSQL over TLS only', () => {
  jest.setTimeout(120_000);

  it('refuses a connection without TLS (the premise)', async () => {
    const plain = new Client({ connectionString: tlsUrl('sslmode=disable') });
    await expect(plain.connect()).rejects.toThrow(/no encryption|SSL off/);
  });

  it('ehub serve with sslmode=verify-full and the CA: migrates, answers GraphQL, exports from its worker thread, every connection encrypted', async () => {
    const dataDir = path.join(dir, 'hub');
    const hub = await serve(tlsUrl(`sslmode=verify-full&sslrootcert=${encodeURIComponent(tls.ca)}`), dataDir);
    const key = fs.readFileSync(path.join(dataDir, 'admin.key'), 'utf8').trim();
    const res = await fetch(`${hub.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query: '{ accounts(first: 1) { totalCount } }' }) });
    expect(await res.json()).toEqual({ data: { accounts: { totalCount: 0 } } });
    const csv = await fetch(`${hub.url}/v1/exports/revenue-waterfall.csv?from=2027-01&to=2027-02`, { headers: { authorization: `Bearer ${key}` } });
    expect(csv.status).toBe(200);
    expect((await csv.text()).split('\r\n')[0]).toMatch(/^month,account_id,/);

    const admin = new Client({ connectionString: tlsUrl(`sslmode=verify-full&sslrootcert=${encodeURIComponent(tls.ca)}`).replace('/ehub?', '/postgres?') });
    await admin.connect();
    try {
      const rows = (await admin.query("SELECT a.application_name, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.datname = 'ehub'")).rows as { application_name: string; ssl: boolean }[];
      expect(rows.some((r) => r.application_name === 'ehub')).toBe(true);
      expect(rows.every((r) => r.ssl)).toBe(true);
    } finally {
      await admin.end();
    }
    hub.proc.kill('SIGTERM');
    expect(await hub.exited).toBe(0);
  });

  it('without TLS in the URL it does not start, and says that the server wants TLS', async () => {
    const failed = await serve(tlsUrl('sslmode=disable'), path.join(dir, 'hub-plain')).then(
      () => null,
      (err: Error) => err.message,
    );
    expect(failed).toMatch(new RegExp(`DATABASE_URL: PostgreSQL at 127\\.0\\.0\\.1:${port} accepts TLS connections only; add sslmode=verify-full&sslrootcert=`));
    expect(failed).not.toContain(password);
  });

  it('without the CA it does not start, says that the certificate was not trusted, and does not print the password', async () => {
    const failed = await serve(tlsUrl('sslmode=verify-full'), path.join(dir, 'hub-no-ca')).then(
      () => null,
      (err: Error) => err.message,
    );
    expect(failed).toMatch(new RegExp(`DATABASE_URL: TLS to PostgreSQL at 127\\.0\\.0\\.1:${port} failed: (self[- ]signed certificate|unable to verify)`));
    expect(failed).toMatch(/Give the CA of the server's certificate with sslrootcert=<file>/);
    expect(failed).not.toContain(password);
  });

  it('a read replica (DATABASE_READ_URL) whose certificate is not trusted: the hub starts on the primary and says what to change in DATABASE_READ_URL', async () => {
    const dataDir = path.join(dir, 'hub'); // the first admin's key is written there by whichever hub starts first on this database
    const hub = await serve(tlsUrl(`sslmode=verify-full&sslrootcert=${encodeURIComponent(tls.ca)}`), dataDir, { DATABASE_READ_URL: tlsUrl('sslmode=verify-full') });
    const key = fs.readFileSync(path.join(dataDir, 'admin.key'), 'utf8').trim();
    // An analytics read (served from the replica when it can be) is answered by the primary.
    const res = await fetch(`${hub.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query: '{ accounts(first: 1) { totalCount } }' }) });
    expect(await res.json()).toEqual({ data: { accounts: { totalCount: 0 } } });
    const said = hub.output();
    expect(said).toMatch(new RegExp(`DATABASE_READ_URL: TLS to PostgreSQL at 127\\.0\\.0\\.1:${port} failed: (self[- ]signed certificate|unable to verify)[^"]*Give the CA of the server's certificate with sslrootcert=<file> in DATABASE_READ_URL`));
    expect(said).toContain('Analytics read the primary until the replica can be reached');
    expect(said).not.toContain(password);
    hub.proc.kill('SIGTERM');
    expect(await hub.exited).toBe(0);
  });
});

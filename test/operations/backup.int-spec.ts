import { dropProxyEnv } from '../support/salesforce';
dropProxyEnv();
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Client } from 'pg';
import { restoreBackup } from '../../src/db/backup';
import { migrations } from '../../migrations';
import { startTestHub, type TestHub } from '../support/test-hub';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const CLI = ['-r', '@swc-node/register', path.join(ROOT, 'src/cli/main.ts')];
const SECRET_KEY = 'backup-test-secret-key-0123456789abcdef';
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'ehub-backup-'));
const backupFile = path.join(dataDir, 'book.backup.gz');

let hub: TestHub;
const created: string[] = [];

function ehub(databaseUrl: string, ...args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl, EHUB_SECRET_KEY: SECRET_KEY, EHUB_DATA_DIR: dataDir, NODE_OPTIONS: '', LOG_LEVEL: 'warn' };
  return run(process.execPath, [...CLI, ...args], { cwd: ROOT, env });
}

async function admin<T>(fn: (c: Client) => Promise<T>, url = process.env.EHUB_TEST_ADMIN_URL!): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A new database with nothing in it (not even the migrations). */
async function emptyDatabase(): Promise<string> {
  const name = `ehub_r_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  created.push(name);
  const u = new URL(process.env.EHUB_TEST_ADMIN_URL!);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * Every table of every user schema, found from the catalog: its row count and an md5 of
 * all its rows as text, in a stable order. Sequences too.
 */
async function fingerprint(url: string): Promise<Map<string, string>> {
  return admin(async (c) => {
    const { rows: tables } = await c.query<{ name: string }>(
      `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`,
    );
    const out = new Map<string, string>();
    for (const { name } of tables) {
      const { rows } = await c.query(`SELECT count(*)::int AS n, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS h FROM ${name} t`);
      out.set(name, `${rows[0].n} rows ${rows[0].h}`);
    }
    const { rows: seqs } = await c.query(`SELECT schemaname || '.' || sequencename AS name, last_value::text AS v FROM pg_sequences`);
    for (const s of seqs) out.set(`sequence ${s.name}`, String(s.v));
    return out;
  }, url);
}

const tableCount = (url: string) =>
  admin(async (c) => (await c.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`)).rows[0].n as number, url);

beforeAll(async () => {
  hub = await startTestHub({ EHUB_SECRET_KEY: SECRET_KEY });
});
afterAll(async () => {
  await hub?.close();
  await admin(async (c) => {
    for (const name of created) await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });
  await fs.rm(dataDir, { recursive: true, force: true });
});

describe('ehub backup / ehub restore', () => {
  jest.setTimeout(300_000);

  it('restores a backup of the demo book row for row, every table of the schema', async () => {
    // The demo book: catalog, accounts, Salesforce deals synced into orders, entitlements,
    // revenue, outbox and runs — seeded by the real demo code.
    await ehub(hub.databaseUrl, 'demo', '--salesforce');
    // Values COPY must escape (tab, newline, backslash, NUL-free unicode), bytea, jsonb, numeric.
    const acct = await hub.ok<{ upsertAccount: { id: string } }>(
      `mutation($i: UpsertAccountInput!) { upsertAccount(input: $i) { id } }`,
      { i: { name: 'Tab\there, line\nbreak, back\\slash, \\N, ünï ☃', domain: 'odd.example', currency: 'EUR' } },
    );
    await hub.ok(`mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { endpoint { id } } }`, {
      i: { url: 'http://127.0.0.1:9/hook', eventTypes: ['*'], description: 'multi\nline' },
    });
    await hub.ok(`mutation($e: [UsageEventInput!]!) { recordUsage(events: $e) { accepted } }`, {
      e: [1, 2, 3].map((i) => ({
        id: `b-${i}`,
        accountId: acct.upsertAccount.id,
        meter: 'render.minutes',
        quantity: 0.125 * i,
        occurredAt: new Date(Date.now() - i * 3_600_000).toISOString(),
        deployment: 'CLOUD',
        user: `u${i}@odd.example`,
        properties: { minutes: 0.125 * i, note: 'quote " and \\ and \t' },
      })),
    });
    const source = await fingerprint(hub.databaseUrl);
    expect(source.size).toBeGreaterThan(30);

    const { stderr: backedUp } = await ehub(hub.databaseUrl, 'backup', backupFile);
    expect(backedUp).toMatch(/Backed up \d+ rows of \d+ tables/);
    await expect(fs.access(`${backupFile}.partial`)).rejects.toThrow();

    const target = await emptyDatabase();
    const { stderr: restored } = await ehub(target, 'restore', backupFile);
    expect(restored).toMatch(/Restored \d+ rows/);

    const copy = await fingerprint(target);
    expect([...copy.keys()].sort()).toEqual([...source.keys()].sort());
    for (const [name, print] of source) expect(`${name}: ${copy.get(name)}`).toBe(`${name}: ${print}`);
    // Non-trivial: the book's main tables hold rows.
    for (const t of ['public.entitlement', 'public.sales_order', 'public.sync_outbox', 'public.usage_event', 'public.webhook_endpoint', 'public.audit_log']) {
      expect(source.get(t)).toMatch(/^[1-9]\d* rows/);
    }

    // A second restore into the now non-empty database is refused and changes nothing.
    await expect(restoreBackup(target, createReadStream(backupFile))).rejects.toMatchObject({ code: 'CONFLICT', subCode: 'RESTORE_DATABASE_NOT_EMPTY' });
    await expect(ehub(target, 'restore', backupFile)).rejects.toMatchObject({ stderr: expect.stringMatching(/not empty.*RESTORE_DATABASE_NOT_EMPTY/) });
    expect(await fingerprint(target)).toEqual(copy);
    // The restored hub works: the same admin key authenticates against it.
    const restoredHub = await startTestHub({ EHUB_SECRET_KEY: SECRET_KEY, DATABASE_URL: target }, { attachTo: { ...hub, databaseUrl: target } });
    try {
      const r = await restoredHub.ok<{ accounts: { totalCount: number } }>(`{ accounts(first: 1) { totalCount } }`, {}, hub.adminKey);
      expect(r.accounts.totalCount).toBeGreaterThan(4);
    } finally {
      await restoredHub.close();
    }

  });

  it('refuses a backup from a newer schema, a cut-short backup and a file that is not a backup, leaving the database empty', async () => {
    const text = gunzipSync(await fs.readFile(backupFile)).toString('utf8');
    const [first, ...rest] = text.split('\n');
    const header = JSON.parse(first!) as { migrations: string[] };
    expect(header.migrations.at(-1)).toBe(migrations.at(-1)!.name);
    const target = await emptyDatabase();

    const newer = gzipSync(Buffer.from([JSON.stringify({ ...header, migrations: [...header.migrations, 'FromTheFuture1999999999999'] }), ...rest].join('\n')));
    await expect(restoreBackup(target, Readable.from([newer]))).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      subCode: 'RESTORE_SCHEMA_NEWER',
      message: expect.stringMatching(/FromTheFuture1999999999999/),
    });

    // Cut before the trailer: the migrations and rows loaded so far are rolled back.
    for (const at of [0.5, 0.8, 0.999]) {
      const cut = gzipSync(Buffer.from(text.slice(0, Math.floor(text.length * at))));
      await expect(restoreBackup(target, Readable.from([cut]))).rejects.toMatchObject({ subCode: 'RESTORE_BACKUP_TRUNCATED' });
    }

    await expect(restoreBackup(target, Readable.from([Buffer.from('id,name\n1,x\n')]))).rejects.toMatchObject({ subCode: 'RESTORE_NOT_A_BACKUP' });
    expect(await tableCount(target)).toBe(0);
  });
});

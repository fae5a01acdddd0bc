import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { Client } from 'pg';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { freePort, removePlacedCluster, startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded-postgres';
import { spawnServe, type ServedHub } from '../support/serve-process';
import type { TestHub } from '../support/test-hub';
import { hoursAgo, ndjson, seedUsageCatalog, type UsageAnswer } from './usage-support';

/**
 * Usage through NATS JetStream (EHUB_USAGE_STREAM, ADR 0049), against the real NATS server on
 * 127.0.0.1:4222 (.ci/run starts one) and a PostgreSQL this file owns, so that it can stop it:
 * real `ehub serve` processes publish and consume; counts and totals are read from the database.
 */
const NATS = process.env.EHUB_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const suffix = crypto.randomBytes(4).toString('hex');
const STREAM = `EHUB_USAGE_TEST_${suffix}`;
const ADMIN_KEY = `ehub_${crypto.randomBytes(4).toString('hex')}_${crypto.randomBytes(16).toString('hex')}`;

let dataDir: string;
let pgPort: number;
let pg: EmbeddedDatabase | undefined;
let dbUrl: string;
let nc: NatsConnection;
const children: ChildProcess[] = [];
let accountId: string;

async function startPg(): Promise<void> {
  pg = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'pg-owner'), port: pgPort });
}

async function sql<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: dbUrl });
  await c.connect();
  try {
    return (await c.query(text, params)).rows as T[];
  } finally {
    await c.end();
  }
}

/**
 * Whether something accepts connections on the port. The probe's socket is destroyed, not
 * ended: ended, it waited (unread) for the server's FIN and stayed open for the rest of the
 * jest worker's life, which jest then had to force-exit.
 */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1', () => {
      sock.destroy();
      resolve(true);
    });
    sock.on('error', () => resolve(false));
  });
}

async function serve(extra: Record<string, string> = {}): Promise<ServedHub> {
  const { EHUB_ADMIN_KEY: _a, DATABASE_URL: _d, ...rest } = process.env;
  const hub = await spawnServe({
    ...rest,
    NODE_ENV: 'test',
    NODE_OPTIONS: '',
    LOG_LEVEL: 'info',
    DATABASE_URL: dbUrl,
    EHUB_DATA_DIR: path.join(dataDir, 'hub'),
    EHUB_ADMIN_KEY: ADMIN_KEY,
    EHUB_JOBS_ENABLED: 'false',
    EHUB_RATE_LIMIT_MAX: '0',
    EHUB_USAGE_STREAM: NATS,
    EHUB_USAGE_STREAM_NAME: STREAM,
    EHUB_USAGE_STREAM_SUBJECT: `ehub.test.${suffix}`,
    EHUB_USAGE_STREAM_CONSUMER: 'writer',
    EHUB_USAGE_STREAM_ACK_WAIT_MS: '3000',
    ...extra,
  });
  children.push(hub.proc);
  return hub;
}

async function post(url: string, body: string): Promise<{ status: number; body: UsageAnswer & { queued: number; errors?: { extensions: { code: string; subCode: string } }[] } }> {
  const res = await fetch(`${url}/v1/usage`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${ADMIN_KEY}` }, body });
  return { status: res.status, body: (await res.json()) as never };
}

const events = (name: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    id: `${name}-${i}`,
    source: name,
    accountId,
    meter: 'u.calls',
    quantity: (i % 7) + 1,
    occurredAt: hoursAgo((i % 48) * 0.5),
    deployment: 'CLOUD',
  }));
/** The sum of quantities `events(name, n)` carries. */
const expectedSum = (n: number) => Array.from({ length: n }, (_, i) => (i % 7) + 1).reduce((a, b) => a + b, 0);

/** Events stored for a source, their total, and the hourly rollups' total for the account's u.calls (must match). */
async function stored(source: string): Promise<{ n: number; sum: number }> {
  const [r] = await sql<{ n: number; sum: string | null }>('SELECT count(*)::int AS n, sum(quantity)::text AS sum FROM usage_event WHERE source = $1', [source]);
  return { n: r!.n, sum: Number(r!.sum ?? 0) };
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Rollups agree with the stored events: the account's hourly u.calls sum equals the events' sum. */
async function rollupsAgree(): Promise<void> {
  const [r] = await sql<{ events: string; rollups: string; daily: string }>(
    `SELECT (SELECT coalesce(sum(quantity), 0)::text FROM usage_event WHERE account_id = $1) AS events,
            (SELECT coalesce(sum(r.sum), 0)::text FROM usage_rollup r WHERE r.account_id = $1 AND r.granularity = 'H') AS rollups,
            (SELECT coalesce(sum(r.sum), 0)::text FROM usage_rollup r WHERE r.account_id = $1 AND r.granularity = 'D') AS daily`,
    [accountId],
  );
  expect(Number(r!.events)).toBeGreaterThan(0);
  expect(Number(r!.rollups)).toBe(Number(r!.events));
  expect(Number(r!.daily)).toBe(Number(r!.events));
}

let first: ServedHub;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ehub-usage-stream-'));
  pgPort = await freePort();
  await startPg();
  const admin = new Client({ connectionString: pg!.url('postgres') });
  await admin.connect();
  await admin.query('CREATE DATABASE ehub');
  await admin.end();
  dbUrl = pg!.url('ehub');
  nc = await connect({ servers: NATS });
  first = await serve();
  const ok = async <T,>(query: string, variables?: Record<string, unknown>): Promise<T> => {
    const res = await fetch(`${first.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` }, body: JSON.stringify({ query, variables }) });
    const body = (await res.json()) as { data: T; errors?: unknown };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
  await seedUsageCatalog({ ok } as unknown as TestHub);
  accountId = (await ok<{ upsertAccount: { id: string } }>('mutation($i: UpsertAccountInput!) { upsertAccount(input: $i) { id } }', { i: { name: 'Stream' } })).upsertAccount.id;
}, 120_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  const jsm = await jetstreamManager(nc).catch(() => null);
  await jsm?.streams.delete(STREAM).catch(() => undefined);
  await nc?.close();
  await pg?.stop();
  await removePlacedCluster(path.join(dataDir, 'pg-owner'));
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('usage through NATS JetStream', () => {
  jest.setTimeout(120_000);

  it('stores posted events exactly once; a repeated POST is dropped by JetStream and not doubled', async () => {
    const batches = Array.from({ length: 10 }, (_, b) => events('a', 20_000).slice(b * 2_000, (b + 1) * 2_000));
    const answers = await Promise.all(batches.map((b) => post(first.url, ndjson(b))));
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.body).toMatchObject({ accepted: 2_000, duplicates: 0, queued: 2_000, rejected: [] });
    }
    // The same body again: JetStream knows its message id (duplicate), PostgreSQL would too.
    const again = await post(first.url, ndjson(batches[3]!));
    expect(again.body).toMatchObject({ accepted: 0, duplicates: 2_000, queued: 2_000 });
    // Bad input is still refused at once with the same codes, and not queued.
    const bad = await post(first.url, ndjson([{ ...events('bad', 1)[0], quantity: 'x' }, events('a', 1)[0]]));
    expect(bad.status).toBe(200);
    expect(bad.body.rejected.map((r) => r.index)).toEqual([0]);
    expect(bad.body.queued).toBe(1);

    // A body over NATS's max_payload (1 MiB) goes out as several messages; sent again, all are duplicates.
    const big = events('big', 10_000).map((e) => ({ ...e, properties: { pad: 'x'.repeat(200) } }));
    expect((await post(first.url, ndjson(big))).body).toMatchObject({ accepted: 10_000, duplicates: 0, queued: 10_000 });
    expect((await post(first.url, ndjson(big))).body).toMatchObject({ accepted: 0, duplicates: 10_000, queued: 10_000 });

    await waitFor('20,000 events stored', async () => (await stored('a')).n === 20_000, 60_000);
    await waitFor('the big body stored', async () => (await stored('big')).n === 10_000, 60_000);
    expect(await stored('big')).toEqual({ n: 10_000, sum: expectedSum(10_000) });
    // Let the duplicate's redelivery chances pass, then check nothing was doubled.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await stored('a')).toEqual({ n: 20_000, sum: expectedSum(20_000) });
    expect(await stored('bad')).toEqual({ n: 0, sum: 0 });
    await rollupsAgree();
  });

  it('keeps acknowledging while PostgreSQL is stopped, and stores every event once after it is back', async () => {
    const all = events('b', 30_000);
    const batches = Array.from({ length: 30 }, (_, b) => all.slice(b * 1_000, (b + 1) * 1_000));
    // A third before, a third while PostgreSQL is down (really stopped), a third after it is back.
    for (const b of batches.slice(0, 10)) expect((await post(first.url, ndjson(b))).body.queued).toBe(1_000);
    await pg!.stop();
    const down = Date.now();
    for (const b of batches.slice(10, 20)) {
      const a = await post(first.url, ndjson(b));
      expect(a.status).toBe(200);
      expect(a.body).toMatchObject({ accepted: 1_000, queued: 1_000 });
    }
    // Stay down a few seconds (the consumer fails, naks and backs off meanwhile).
    await new Promise((r) => setTimeout(r, Math.max(0, 5_000 - (Date.now() - down))));
    await startPg();
    for (const b of batches.slice(20)) expect((await post(first.url, ndjson(b))).body.queued).toBe(1_000);

    await waitFor('30,000 events stored', async () => (await stored('b')).n === 30_000, 90_000);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await stored('b')).toEqual({ n: 30_000, sum: expectedSum(30_000) });
    // The consumer did meet the outage: writes failed (not acked) and were redone later.
    const metrics = await (await fetch(`${first.url}/metrics`)).text();
    expect(Number(/^ehub_usage_stream_write_failures_total (\d+)/m.exec(metrics)?.[1] ?? 0)).toBeGreaterThan(0);
    await rollupsAgree();
  });

  it('loses and doubles nothing when one of two consumer instances is killed mid-batch', async () => {
    // Ingest-only front so that all writing happens in the two consumers.
    const second = await serve();
    const all = events('c', 30_000);
    const batches = Array.from({ length: 30 }, (_, b) => all.slice(b * 1_000, (b + 1) * 1_000));
    // Queue half (the first hub also consumes; so do both), kill the first one as soon as some
    // of it is stored, then queue the rest: the kill falls in the middle of the load by
    // construction (the clean-clone CI run stored all 30,000 before a kill that waited for them).
    for (const b of batches.slice(0, 15)) expect((await post(second.url, ndjson(b))).body.queued).toBe(1_000);
    for (const until = Date.now() + 30_000; (await stored('c')).n === 0; await new Promise((r) => setTimeout(r, 20))) {
      if (Date.now() > until) throw new Error('timed out waiting for some events written');
    }
    first.proc.kill('SIGKILL');
    await first.exited;
    for (const b of batches.slice(15)) expect((await post(second.url, ndjson(b))).body.queued).toBe(1_000);
    // The second picks up what the first held once its AckWait (3 s here) passes.
    await waitFor('30,000 events stored', async () => (await stored('c')).n === 30_000, 90_000);
    await new Promise((r) => setTimeout(r, 4_000));
    expect(await stored('c')).toEqual({ n: 30_000, sum: expectedSum(30_000) });
    await rollupsAgree();
    // The stream is empty: every batch was acknowledged after its commit.
    const jsm = await jetstreamManager(nc);
    const info = await jsm.consumers.info(STREAM, 'writer');
    expect(info.num_pending + info.num_ack_pending).toBe(0);
  });
  it('answers 503 USAGE_STREAM_UNAVAILABLE when NATS is away, takes nothing of that batch, and works again once NATS is back', async () => {
    // A NATS server of this test's own (the shared one stays up), killed and started again on the same store.
    const natsPort = await freePort();
    const natsDir = path.join(dataDir, 'nats');
    const natsBin = fs.existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';
    const startNats = async () => {
      const p = spawn(natsBin, ['-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', natsDir], { stdio: 'ignore' });
      children.push(p);
      await waitFor('nats-server listening', () => accepts(natsPort), 10_000);
      return p;
    };
    let natsProc = await startNats();
    const own = await serve({ EHUB_USAGE_STREAM: `nats://127.0.0.1:${natsPort}`, EHUB_USAGE_STREAM_NAME: `${STREAM}_D` });
    expect((await post(own.url, ndjson(events('d1', 100)))).body.queued).toBe(100);
    await waitFor('d1 stored', async () => (await stored('d1')).n === 100, 30_000);

    natsProc.kill('SIGKILL');
    await new Promise((r) => natsProc.once('exit', r));
    const refused = await post(own.url, ndjson(events('d2', 100)));
    expect(refused.status).toBe(503);
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', subCode: 'USAGE_STREAM_UNAVAILABLE' });
    const gql = await fetch(`${own.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
      body: JSON.stringify({ query: 'mutation($e: [UsageEventInput!]!) { recordUsage(events: $e) { accepted queued } }', variables: { e: events('d3', 2) } }),
    });
    expect(((await gql.json()) as { errors: { extensions: { code: string; subCode: string } }[] }).errors[0]!.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', subCode: 'USAGE_STREAM_UNAVAILABLE' });

    natsProc = await startNats();
    // The hub reconnects by itself; the refused batch, sent again, is taken once.
    await waitFor('ingest through the stream again', async () => (await post(own.url, ndjson(events('d2', 100)))).status === 200, 30_000);
    await waitFor('d2 stored', async () => (await stored('d2')).n === 100, 30_000);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await stored('d2')).toEqual({ n: 100, sum: expectedSum(100) });
    expect(await stored('d3')).toEqual({ n: 0, sum: 0 });
    // A graceful stop: the consumer hands back what it pulled and the process ends cleanly.
    own.proc.kill('SIGTERM');
    expect(await own.exited).toBe(0);
    natsProc.kill('SIGTERM');
  });

  it('a NATS server gone quiet (frozen, its connection open) does not hold a shutdown: SIGTERM still ends the hub cleanly', async () => {
    const natsPort = await freePort();
    const natsBin = fs.existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';
    const natsProc = spawn(natsBin, ['-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', path.join(dataDir, 'nats-frozen')], { stdio: 'ignore' });
    children.push(natsProc);
    try {
      await waitFor('nats-server listening', () => accepts(natsPort), 10_000);
      // A long shutdown deadline: only a clean stop ends the process with 0 before it.
      const own = await serve({ EHUB_USAGE_STREAM: `nats://127.0.0.1:${natsPort}`, EHUB_USAGE_STREAM_NAME: `${STREAM}_F`, EHUB_SHUTDOWN_TIMEOUT_MS: '60000' });
      expect((await post(own.url, ndjson(events('f1', 10)))).body.queued).toBe(10);
      await waitFor('f1 stored', async () => (await stored('f1')).n === 10, 30_000);
      natsProc.kill('SIGSTOP');
      const started = Date.now();
      own.proc.kill('SIGTERM');
      expect(await own.exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(own.output()).toMatch(/NATS did not answer the drain; connection closed/);
      expect(own.output()).toMatch(/"msg":"stopped"/);
    } finally {
      natsProc.kill('SIGCONT');
      natsProc.kill('SIGTERM');
    }
  });
});

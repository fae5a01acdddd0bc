import type { ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { freePort, removePlacedCluster, startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded-postgres';
import { spawnServe } from '../../test/support/serve-process';
import { oneRunFigures, runBatch } from '../support/batch';
import { fmt } from '../support/report';
import type { Scenario } from '../support/types';

const EVENTS = Number(process.env.BENCH_USAGE_STREAM_EVENTS ?? 1_000_000);
const DIRECT_EVENTS = Number(process.env.BENCH_USAGE_STREAM_DIRECT_EVENTS ?? 200_000);
const OUTAGE_SECONDS = Number(process.env.BENCH_USAGE_STREAM_OUTAGE_S ?? 30);
const CONSUMERS = Number(process.env.BENCH_USAGE_STREAM_CONSUMERS ?? 1);
const NATS = process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222';
const BATCH = 1_000;
const ACCOUNTS = 100;
const CONCURRENCY = 4;

/**
 * Usage through NATS JetStream (EHUB_USAGE_STREAM, ADR 0049) with PostgreSQL stopped for 30 s
 * (BENCH_USAGE_STREAM_OUTAGE_S) in the middle of a 1,000,000-event load
 * (BENCH_USAGE_STREAM_EVENTS): NDJSON bodies of 1,000, 4 in flight, to a real `ehub serve`
 * on a PostgreSQL this scenario owns (so that it can stop it). Once a third of the bodies are
 * acknowledged, PostgreSQL is stopped; ingest keeps acknowledging; after the outage it is
 * started again and the consumer(s) (BENCH_USAGE_STREAM_CONSUMERS hubs) drain the stream.
 * Checked: every event stored exactly once (count and total), no acknowledged body lost.
 * Beside it, in the same run: direct ingest (the variable unset) of BENCH_USAGE_STREAM_DIRECT_EVENTS
 * events on the same database. Headline: events/s acknowledged through the stream; the
 * direct rate, the time to drain and the counts are printed.
 */
export const usageStream: Scenario = {
  name: 'usage-stream',
  description: `POST /v1/usage with EHUB_USAGE_STREAM: ${fmt(EVENTS)} events, PostgreSQL stopped ${OUTAGE_SECONDS} s mid-load; vs direct ingest of ${fmt(DIRECT_EVENTS)}`,
  async run() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ehub-bench-stream-'));
    const suffix = crypto.randomBytes(4).toString('hex');
    const stream = `EHUB_USAGE_BENCH_${suffix}`;
    const adminKey = `ehub_${crypto.randomBytes(4).toString('hex')}_${crypto.randomBytes(16).toString('hex')}`;
    const port = await freePort();
    const pgDir = path.join(dir, 'pg-owner');
    let pg: EmbeddedDatabase = await startEmbeddedPostgres({ dataDir: pgDir, port });
    const procs: ChildProcess[] = [];
    const nc = await connect({ servers: NATS });
    try {
      const admin = new Client({ connectionString: pg.url('postgres') });
      await admin.connect();
      await admin.query('CREATE DATABASE ehub');
      await admin.end();
      const dbUrl = pg.url('ehub');
      const serve = async (env: Record<string, string>) => {
        const s = await spawnServe(
          {
            PATH: process.env.PATH,
            HOME: process.env.HOME,
            NODE_ENV: 'production',
            LOG_LEVEL: 'info',
            DATABASE_URL: dbUrl,
            EHUB_DATA_DIR: path.join(dir, 'hub'),
            EHUB_ADMIN_KEY: adminKey,
            EHUB_JOBS_ENABLED: 'false',
            EHUB_RATE_LIMIT_MAX: '0',
            ...env,
          },
          { timeoutMs: 180_000 },
        );
        procs.push(s.proc);
        return s;
      };
      const sql = async <T>(text: string): Promise<T[]> => {
        const c = new Client({ connectionString: dbUrl });
        await c.connect();
        try {
          return (await c.query(text)).rows as T[];
        } finally {
          await c.end();
        }
      };

      // Setup and the direct run, on a hub without the variable.
      const direct = await serve({});
      const gql = async <T>(url: string, query: string, variables?: Record<string, unknown>): Promise<T> => {
        const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` }, body: JSON.stringify({ query, variables }) });
        const body = (await res.json()) as { data: T; errors?: unknown };
        if (body.errors) throw new Error(JSON.stringify(body.errors));
        return body.data;
      };
      await gql(direct.url, 'mutation($i: UpsertMeterInput!) { upsertMeter(input: $i) { id } }', { i: { key: 'bench.stream', name: 'bench.stream', aggregation: 'SUM', unit: 'unit' } });
      const accounts: string[] = [];
      for (let a = 0; a < ACCOUNTS; a++) {
        accounts.push((await gql<{ upsertAccount: { id: string } }>(direct.url, 'mutation($i: UpsertAccountInput!) { upsertAccount(input: $i) { id } }', { i: { name: `Stream ${a}` } })).upsertAccount.id);
      }
      const now = Date.now();
      const body = (source: string, b: number, count: number) => {
        const lines: string[] = [];
        for (let i = 0; i < BATCH && b * BATCH + i < count; i++) {
          const n = b * BATCH + i;
          lines.push(JSON.stringify({ id: `e-${n}`, source, accountId: accounts[n % ACCOUNTS], meter: 'bench.stream', quantity: (n % 7) + 1, occurredAt: new Date(now - (n % 3_600) * 1_000).toISOString(), deployment: 'CLOUD' }));
        }
        return lines.join('\n') + '\n';
      };
      const expectedSum = (count: number) => {
        let s = 0;
        for (let n = 0; n < count; n++) s += (n % 7) + 1;
        return s;
      };
      const post = async (url: string, text: string): Promise<{ accepted: number; queued?: number; rejected: unknown[] } | string> => {
        const res = await fetch(`${url}/v1/usage`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${adminKey}` }, body: text });
        const t = await res.text();
        return res.status === 200 ? (JSON.parse(t) as never) : `HTTP ${res.status}: ${t.slice(0, 300)}`;
      };

      const directBodies = Array.from({ length: Math.ceil(DIRECT_EVENTS / BATCH) }, (_, b) => body('direct', b, DIRECT_EVENTS));
      const directFigures = await runBatch(directBodies.length, CONCURRENCY, async (b) => {
        const a = await post(direct.url, directBodies[b]!);
        return typeof a === 'string' ? a : a.accepted === BATCH || b * BATCH + a.accepted === DIRECT_EVENTS ? null : `accepted ${a.accepted}`;
      });
      const directRate = Math.round(DIRECT_EVENTS / directFigures.durationSec);
      console.error(`  direct: ${fmt(DIRECT_EVENTS)} events in ${directFigures.durationSec} s = ${fmt(directRate)} events/s`);
      direct.proc.kill('SIGTERM');

      // The stream run: one hub takes the POSTs (and consumes), BENCH_USAGE_STREAM_CONSUMERS - 1 more only consume.
      const streamEnv = { EHUB_USAGE_STREAM: NATS, EHUB_USAGE_STREAM_NAME: stream, EHUB_USAGE_STREAM_SUBJECT: `ehub.bench.${suffix}`, EHUB_USAGE_STREAM_CONSUMER: 'writer' };
      const front = await serve(streamEnv);
      for (let i = 1; i < CONSUMERS; i++) await serve(streamEnv);
      const bodies = Array.from({ length: Math.ceil(EVENTS / BATCH) }, (_, b) => body('stream', b, EVENTS));
      let acked = 0;
      let outage: Promise<void> | undefined;
      let outageStart = 0;
      let outageEnd = 0;
      let ackedDuringOutage = 0;
      const started = performance.now();
      const figures = await runBatch(bodies.length, CONCURRENCY, async (b) => {
        const a = await post(front.url, bodies[b]!);
        if (typeof a === 'string') return a;
        acked += a.queued ?? 0;
        if (outageStart && !outageEnd) ackedDuringOutage += a.queued ?? 0;
        if (!outage && acked >= EVENTS / 3) {
          outage = (async () => {
            await pg.stop();
            outageStart = performance.now();
            console.error(`  PostgreSQL stopped after ${fmt(acked)} events acknowledged`);
            await new Promise((r) => setTimeout(r, OUTAGE_SECONDS * 1_000));
            pg = await startEmbeddedPostgres({ dataDir: pgDir, port });
            outageEnd = performance.now();
            console.error(`  PostgreSQL started again after ${((outageEnd - outageStart) / 1000).toFixed(1)} s`);
          })();
        }
        return a.queued === BATCH || b * BATCH + (a.queued ?? 0) === EVENTS ? null : `queued ${String(a.queued)}`;
      });
      const ackedAt = performance.now();
      const ackRate = Math.round(EVENTS / figures.durationSec);
      console.error(`  stream: ${fmt(EVENTS)} events acknowledged in ${figures.durationSec} s = ${fmt(ackRate)} events/s (${fmt(ackedDuringOutage)} of them while PostgreSQL was down)`);
      await outage;
      let stored = 0;
      for (;;) {
        const [r] = await sql<{ n: number }>("SELECT count(*)::int AS n FROM usage_event WHERE source = 'stream'").catch(() => [{ n: stored }]);
        stored = r!.n;
        if (stored >= EVENTS) break;
        if (performance.now() - ackedAt > 1_800_000) throw new Error(`usage-stream: only ${fmt(stored)} of ${fmt(EVENTS)} events stored 30 min after the last acknowledgement`);
        await new Promise((r2) => setTimeout(r2, 500));
      }
      const drainedAt = performance.now();
      await new Promise((r) => setTimeout(r, 2_000));
      const [check] = await sql<{ n: number; sum: string }>("SELECT count(*)::int AS n, sum(quantity)::text AS sum FROM usage_event WHERE source = 'stream'");
      const [rollup] = await sql<{ sum: string }>("SELECT sum(r.sum)::text AS sum FROM usage_rollup r JOIN meter m ON m.id = r.meter_id WHERE m.key = 'bench.stream' AND r.granularity = 'H'");
      const [directCheck] = await sql<{ n: number }>("SELECT count(*)::int AS n FROM usage_event WHERE source = 'direct'");
      const expected = expectedSum(EVENTS);
      const directExpected = expectedSum(DIRECT_EVENTS);
      const total = (performance.now() - started) / 1000;
      console.error(
        `  drained ${((drainedAt - ackedAt) / 1000).toFixed(1)} s after the last acknowledgement (${total.toFixed(1)} s from the first POST); ` +
          `stored ${fmt(check!.n)} of ${fmt(EVENTS)} events, total ${check!.sum} (expected ${expected}); hourly rollups of both runs ${rollup!.sum} (expected ${expected + directExpected}); direct ${fmt(directCheck!.n)}`,
      );
      if (check!.n !== EVENTS || Number(check!.sum) !== expected || Number(rollup!.sum) !== expected + directExpected || directCheck!.n !== DIRECT_EVENTS) {
        throw new Error('usage-stream: events lost or doubled (see above)');
      }
      return oneRunFigures(EVENTS, figures.durationSec, figures.serverEventLoopUtilization, {
        value: ackRate,
        unit: `events/s acknowledged through JetStream with PostgreSQL down ${OUTAGE_SECONDS} s (direct ingest ${fmt(directRate)} events/s; drained ${((drainedAt - ackedAt) / 1000).toFixed(1)} s after the last ack; ${fmt(check!.n)} stored exactly once)`,
      });
    } finally {
      for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      const jsm = await jetstreamManager(nc).catch(() => null);
      await jsm?.streams.delete(stream).catch(() => undefined);
      await nc.close();
      await pg.stop().catch(() => undefined);
      await removePlacedCluster(pgDir).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};

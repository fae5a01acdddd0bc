import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import os from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { performance } from 'node:perf_hooks';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import pino from 'pino';
import { systemContext } from '../../src/common/context';
import { SyncTrigger } from '../../src/sync/sync.entities';
import type { BenchContext, Scenario } from '../support/types';
import { oneRunFigures } from '../support/batch';
import { fmt } from '../support/report';

const ROWS = Number(process.env.BENCH_CSV_ROWS ?? 100_000);
const LINES = Number(process.env.BENCH_CSV_LINES ?? 5);
const USAGE_ROWS = Number(process.env.BENCH_CSV_USAGE_ROWS ?? 100_000);
/** The usage connection's pageSize; unset: the connector's default (20,000 usage rows). */
const USAGE_PAGE = process.env.BENCH_CSV_USAGE_PAGE ? Number(process.env.BENCH_CSV_USAGE_PAGE) : undefined;
const CUSTOMERS = 500;
const SKUS = ['BENCH-CSV-A', 'BENCH-CSV-B', 'BENCH-CSV-C'];
const METERS = ['bench.csv.calls', 'bench.csv.storage'];

type Sys = ReturnType<typeof systemContext>;
type Hub = BenchContext['hub'];

/** COPY of `file` into a scratch (temporary) table of `columns`: seconds, after checking every row arrived. */
async function copySeconds(hub: Hub, file: string, columns: string, rows: number): Promise<number> {
  const runner = hub.services.db.ds.createQueryRunner();
  const client = (await runner.connect()) as PoolClient;
  try {
    await client.query(`CREATE TEMP TABLE bench_csv_copy (${columns})`);
    const c0 = performance.now();
    await pipeline(createReadStream(file), client.query(copyFrom('COPY bench_csv_copy FROM STDIN (FORMAT csv, HEADER true)')));
    const seconds = (performance.now() - c0) / 1000;
    const { rows: r } = await client.query('SELECT count(*)::int AS n FROM bench_csv_copy');
    if (r[0].n !== rows) throw new Error(`COPY loaded ${r[0].n} rows, expected ${rows}`);
    await client.query('DROP TABLE bench_csv_copy');
    return seconds;
  } finally {
    await runner.release();
  }
}

/**
 * The floor of any import into the hub's usage table: COPY of the usage file into a scratch
 * table, then one `INSERT INTO usage_event … SELECT` of its rows (accounts by the connection's
 * references, meters by key) — the table's unique key and indexes, without attribution,
 * rollups, idempotency answers or bookkeeping. Seconds of both together; the rows are
 * deleted afterwards.
 */
async function usageFloorSeconds(hub: Hub, file: string, refSystem: string, rows: number): Promise<{ copy: number; insert: number }> {
  const runner = hub.services.db.ds.createQueryRunner();
  const client = (await runner.connect()) as PoolClient;
  try {
    await client.query(
      `CREATE TEMP TABLE bench_csv_floor (event_id text, customer_id text, sku text, metric text, quantity numeric, occurred_at timestamptz, user_id text, device_id text, deployment text)`,
    );
    const c0 = performance.now();
    await pipeline(createReadStream(file), client.query(copyFrom('COPY bench_csv_floor FROM STDIN (FORMAT csv, HEADER true)')));
    const c1 = performance.now();
    const inserted = await client.query(
      `INSERT INTO usage_event (account_id, source, event_id, meter_id, quantity, value, occurred_at, deployment, user_id, content_hash)
       SELECT r.entity_id, 'bench-floor', f.event_id, m.id, f.quantity, f.quantity, f.occurred_at, f.deployment, f.user_id, md5(f.event_id)
         FROM bench_csv_floor f
         JOIN external_ref r ON r.system = $1 AND r.object = 'Account' AND r.entity_type = 'ACCOUNT' AND r.external_id = f.customer_id
         JOIN meter m ON m.key = f.metric`,
      [refSystem],
    );
    const c2 = performance.now();
    if (inserted.rowCount !== rows) throw new Error(`the floor inserted ${inserted.rowCount} rows, expected ${rows}`);
    await client.query(`DELETE FROM usage_event WHERE source = 'bench-floor'`);
    await client.query('DROP TABLE bench_csv_floor');
    return { copy: (c1 - c0) / 1000, insert: (c2 - c1) / 1000 };
  } finally {
    await runner.release();
  }
}

interface Observed {
  seconds: number;
  read: number;
  line: number | null;
}

/**
 * Runs one pull of `object` and, meanwhile, reads the RUNNING run's progress from `sync_run`
 * every few seconds (what `syncRuns` shows an operator watching a long import).
 */
async function timedPull(hub: Hub, sys: Sys, connectionId: string, object: string) {
  const observed: Observed[] = [];
  const started = performance.now();
  let done = false;
  const watcher = (async () => {
    while (!done) {
      await new Promise((r) => setTimeout(r, 5_000));
      if (done) break;
      const [row] = await hub.services.db.manager.query(`SELECT read, cursor_to FROM sync_run WHERE connection_id = $1 AND object = $2 AND status = 'RUNNING'`, [connectionId, object]);
      if (row) {
        const line = row.cursor_to ? ((JSON.parse(row.cursor_to) as { line?: number }).line ?? null) : null;
        observed.push({ seconds: Math.round((performance.now() - started) / 100) / 10, read: row.read, line });
      }
    }
  })();
  const elu = performance.eventLoopUtilization();
  try {
    const runs = await hub.services.sync.runSync(sys, connectionId, { push: false, objects: [object], trigger: SyncTrigger.MANUAL });
    const seconds = (performance.now() - started) / 1000;
    const busy = performance.eventLoopUtilization(elu).utilization;
    return { run: runs.find((r) => r.object === object)!, seconds, busy, observed };
  } finally {
    done = true;
    await watcher;
  }
}

const progressText = (o: Observed[]) =>
  o.length ? o.filter((_, i) => i % Math.max(1, Math.floor(o.length / 6)) === 0 || i === o.length - 1).map((x) => `${x.seconds} s: ${fmt(x.read)} read, line ${x.line === null ? '?' : fmt(x.line)}`).join('; ') : 'none seen (it ended within 5 s)';

/**
 * The issue-12 figures: CSV import rows/s against PostgreSQL `COPY` of the same file into a
 * scratch table in the same run (the floor of getting those bytes into the database at all;
 * target: import ≥ 25 % of COPY's rows/s), for two files through one `csv` connection:
 *
 * (a) orders — a 100,000-row file (BENCH_CSV_ROWS; one row per order line, BENCH_CSV_LINES
 *     lines an order, over 500 customers): parse, validate, group, then every order submitted
 *     through OrderService (entitlements, audit, outbox), a few orders at a time;
 * (b) usage — a 100,000-row file (BENCH_CSV_USAGE_ROWS; one row per observation, two meters,
 *     500 customers): parse, validate, then each page of 20,000 rows (the default) through the
 *     usage ingest in lanes of whole customers, EHUB_SYNC_PULL_CONCURRENCY at a time (one
 *     set-based statement per batch: insert, attribute, roll up).
 *
 * Each part checks exact counts in the database afterwards, and records the progress figures
 * read from the RUNNING run while it imports.
 */
export const csvImport: Scenario = {
  name: 'csv-import',
  description: `CSV import vs COPY of the same file: ${fmt(ROWS)}-row orders file (${LINES} lines an order), ${fmt(USAGE_ROWS)}-row usage file`,
  async run(ctx) {
    const { services } = ctx.hub;
    const sys = systemContext(pino({ level: 'warn' }), 'bench:csv-import');
    const dir = await mkdtemp(join(tmpdir(), 'ehub-bench-csv-'));
    try {
      for (const sku of SKUS) {
        const key = `bench.${sku.toLowerCase()}`;
        await services.catalog.upsertFeature(sys, { key, name: key } as never);
        await services.catalog.upsertProduct(sys, {
          sku,
          name: sku,
          kind: 'SOFTWARE',
          listPrice: { amountMinor: '10000', currency: 'USD' },
          ssp: { amountMinor: '10000', currency: 'USD' },
          defaultModel: 'SUBSCRIPTION',
          features: [{ key, limit: 1 }],
        } as never);
      }
      // Usage of the first meter draws on the first sku's feature (attributed to the entitlements the orders granted).
      await services.catalog.upsertMeter(sys, { key: METERS[0]!, name: 'calls', aggregation: 'SUM', unit: 'calls', featureKey: `bench.${SKUS[0]!.toLowerCase()}` } as never);
      await services.catalog.upsertMeter(sys, { key: METERS[1]!, name: 'storage', aggregation: 'SUM', unit: 'GB' } as never);

      const customers = ['customer_id,name', ...Array.from({ length: CUSTOMERS }, (_, i) => `CB${i},CSV bench ${i}`)];
      const orders = ['order_id,customer_id,order_date,sku,quantity,unit_price,start_date,end_date'];
      for (let r = 0; r < ROWS; r++) {
        const o = Math.floor(r / LINES);
        orders.push(`BO-${o},CB${o % CUSTOMERS},2026-11-01,${SKUS[r % SKUS.length]},${1 + (r % 7)},120.50,2026-11-01,2027-10-31`);
      }
      const usage = ['event_id,customer_id,sku,metric,quantity,occurred_at,user_id,device_id,deployment'];
      const t0 = Date.now() - 30 * 86_400_000;
      let usageTenths = 0;
      for (let r = 0; r < USAGE_ROWS; r++) {
        const tenths = 1 + (r % 97);
        usageTenths += tenths;
        const at = new Date(t0 + r * 20_000).toISOString();
        usage.push(`UE-${r},CB${r % CUSTOMERS},${r % 2 ? '' : SKUS[0]},${METERS[r % 2]},${Math.floor(tenths / 10)}.${tenths % 10},${at},user-${r % 40},,CLOUD`);
      }
      for (const o of ['accounts', 'orders', 'usage']) await mkdir(join(dir, 'in', o), { recursive: true });
      await writeFile(join(dir, 'in', 'accounts', 'customers.csv'), customers.join('\n'));
      const ordersFile = join(dir, 'orders.csv');
      const usageFile = join(dir, 'usage.csv');
      await writeFile(ordersFile, orders.join('\n'));
      await writeFile(usageFile, usage.join('\n'));

      const conn = await services.sync.createConnection(sys, {
        name: 'bench-csv',
        type: 'csv',
        options: { inboxDir: join(dir, 'in'), pageSize: 500 },
        credentials: {},
        enabled: false,
        pullEnabled: true,
        pushEnabled: false,
        renewalDays: 90,
        maxAttempts: 8,
      });
      // The same reference system ("csv"), so its usage finds the customers the first one linked; its own usage source.
      const usageConn = await services.sync.createConnection(sys, {
        name: 'bench-csv-usage',
        type: 'csv',
        options: { inboxDir: join(dir, 'in'), ...(USAGE_PAGE ? { pageSize: USAGE_PAGE } : {}) },
        credentials: {},
        enabled: false,
        pullEnabled: true,
        pushEnabled: false,
        renewalDays: 90,
        maxAttempts: 8,
      });
      await services.sync.runSync(sys, conn.id, { push: false, objects: ['accounts'], trigger: SyncTrigger.MANUAL });
      const q = async (sql: string, params: unknown[] = []) => ((await services.db.manager.query(sql, params)) as { n: number }[])[0]!.n;

      // (a) orders. Baseline first (it leaves the hub's tables alone).
      const loadA = os.loadavg()[0]!;
      const copyA = await copySeconds(ctx.hub, ordersFile, 'order_id text, customer_id text, order_date date, sku text, quantity numeric, unit_price numeric, start_date date, end_date date', ROWS);
      await rename(ordersFile, join(dir, 'in', 'orders', 'orders.csv'));
      const a = await timedPull(ctx.hub, sys, conn.id, 'orders');
      const expectedOrders = Math.ceil(ROWS / LINES);
      if (a.run.created !== expectedOrders || a.run.failed !== 0) throw new Error(`orders: expected ${expectedOrders} orders and no failures, got ${a.run.created} created, ${a.run.failed} failed`);
      const heldOrders = await q(`SELECT count(*)::int AS n FROM sales_order WHERE source = 'csv'`);
      const heldLines = await q(`SELECT count(*)::int AS n FROM order_line l JOIN sales_order o ON o.id = l.order_id WHERE o.source = 'csv'`);
      if (heldOrders !== expectedOrders || heldLines !== ROWS) throw new Error(`orders: the hub holds ${heldOrders} orders with ${heldLines} lines, expected ${expectedOrders} with ${ROWS}`);

      // (b) usage.
      const loadB = os.loadavg()[0]!;
      const copyB = await copySeconds(ctx.hub, usageFile, 'event_id text, customer_id text, sku text, metric text, quantity numeric, occurred_at timestamptz, user_id text, device_id text, deployment text', USAGE_ROWS);
      await rename(usageFile, join(dir, 'in', 'usage', 'usage.csv'));
      const b = await timedPull(ctx.hub, sys, usageConn.id, 'usage');
      if (b.run.created !== USAGE_ROWS || b.run.failed !== 0) throw new Error(`usage: expected ${USAGE_ROWS} events and no failures, got ${b.run.created} created, ${b.run.failed} failed`);
      const [held] = (await services.db.manager.query(
        `SELECT count(*)::int AS n, (sum(quantity) * 10)::bigint::text AS tenths FROM usage_event WHERE source = $1`,
        [`sync:${usageConn.id}`],
      )) as { n: number; tenths: string }[];
      const [rolled] = (await services.db.manager.query(`SELECT (sum(sum) * 10)::bigint::text AS tenths, sum(count)::int AS n FROM usage_rollup WHERE granularity = 'D'`)) as { n: number; tenths: string }[];
      if (held!.n !== USAGE_ROWS || held!.tenths !== String(usageTenths) || rolled!.n !== USAGE_ROWS || rolled!.tenths !== String(usageTenths)) {
        throw new Error(`usage: the hub holds ${held!.n} events summing ${held!.tenths} tenths (daily rollups ${rolled!.n}, ${rolled!.tenths}); expected ${USAGE_ROWS} summing ${usageTenths}`);
      }
      const floor = await usageFloorSeconds(ctx.hub, join(dir, 'in', 'usage', 'usage.csv'), usageConn.refSystem, USAGE_ROWS);
      const attributed = await q(`SELECT count(*)::int AS n FROM usage_event WHERE source = $1 AND entitlement_id IS NOT NULL`, [`sync:${usageConn.id}`]);

      const rate = (rows: number, s: number) => Math.round(rows / s);
      const pct = (imp: number, copy: number) => ((imp / copy) * 100).toFixed(1);
      const aRate = rate(ROWS, a.seconds);
      const aCopy = rate(ROWS, copyA);
      const bRate = rate(USAGE_ROWS, b.seconds);
      const bCopy = rate(USAGE_ROWS, copyB);
      console.error(
        `  (a) orders: ${fmt(ROWS)} rows (${fmt(a.run.created)} orders) in ${a.seconds.toFixed(1)} s = ${fmt(aRate)} rows/s; COPY ${copyA.toFixed(2)} s = ${fmt(aCopy)} rows/s; ` +
          `import/COPY ${pct(aRate, aCopy)} % (target ≥ 25 %); load average ${loadA.toFixed(2)} before; event loop busy ${(a.busy * 100).toFixed(0)} %\n` +
          `      progress seen in sync_run: ${progressText(a.observed)}\n` +
          `  (b) usage: ${fmt(USAGE_ROWS)} rows in ${b.seconds.toFixed(1)} s = ${fmt(bRate)} rows/s; COPY ${copyB.toFixed(2)} s = ${fmt(bCopy)} rows/s; ` +
          `import/COPY ${pct(bRate, bCopy)} % (target ≥ 25 %); load average ${loadB.toFixed(2)} before; event loop busy ${(b.busy * 100).toFixed(0)} %; ${fmt(attributed)} events attributed to entitlements\n` +
          `      floor, same file, after the import: COPY into a scratch table ${floor.copy.toFixed(2)} s + INSERT INTO usage_event … SELECT (indexes, no attribution or rollups) ${floor.insert.toFixed(2)} s = ` +
          `${fmt(rate(USAGE_ROWS, floor.copy + floor.insert))} rows/s = ${pct(rate(USAGE_ROWS, floor.copy + floor.insert), bCopy)} % of COPY; import/floor ${pct(bRate, rate(USAGE_ROWS, floor.copy + floor.insert))} %\n` +
          `      progress seen in sync_run: ${progressText(b.observed)}`,
      );
      return oneRunFigures(ROWS + USAGE_ROWS, a.seconds + b.seconds, (a.busy * a.seconds + b.busy * b.seconds) / (a.seconds + b.seconds), {
        value: bRate,
        unit:
          `usage rows/s imported; COPY ${fmt(bCopy)} rows/s, import/COPY ${pct(bRate, bCopy)} %; COPY + INSERT…SELECT into usage_event ${fmt(rate(USAGE_ROWS, floor.copy + floor.insert))} rows/s (${pct(rate(USAGE_ROWS, floor.copy + floor.insert), bCopy)} % of COPY). ` +
          `Orders: ${fmt(aRate)} rows/s (${fmt(ROWS)} rows in ${a.seconds.toFixed(0)} s), COPY ${fmt(aCopy)} rows/s, import/COPY ${pct(aRate, aCopy)} % (target ≥ 25 %)`,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};

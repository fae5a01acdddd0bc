import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { performance } from 'node:perf_hooks';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import pino from 'pino';
import { systemContext } from '../../src/common/context';
import { SyncTrigger } from '../../src/sync/sync.entities';
import type { Scenario } from '../support/types';
import { oneRunFigures } from '../support/batch';
import { fmt } from '../support/report';

const ROWS = Number(process.env.BENCH_CSV_ROWS ?? 100_000);
const LINES = Number(process.env.BENCH_CSV_LINES ?? 5);
const CUSTOMERS = 500;
const SKUS = ['BENCH-CSV-A', 'BENCH-CSV-B', 'BENCH-CSV-C'];

/**
 * The issue-12 figure: a 100,000-row orders file (BENCH_CSV_ROWS; one row per order line,
 * BENCH_CSV_LINES lines an order, over 500 customers) imported by one pull of a `csv`
 * connection — parse, validate, group, then every order submitted through OrderService
 * (entitlements, audit, outbox) — against PostgreSQL `COPY` of the same file into a scratch
 * table in the same run: the floor of getting those bytes into the database at all.
 * Target: import ≥ 25 % of COPY's rows/s.
 */
export const csvImport: Scenario = {
  name: 'csv-import',
  description: `import of a ${fmt(ROWS)}-row orders CSV file (${LINES} lines an order) vs COPY of the same file`,
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
      const customers = ['customer_id,name', ...Array.from({ length: CUSTOMERS }, (_, i) => `CB${i},CSV bench ${i}`)];
      const orders = ['order_id,customer_id,order_date,sku,quantity,unit_price,start_date,end_date'];
      for (let r = 0; r < ROWS; r++) {
        const o = Math.floor(r / LINES);
        orders.push(`BO-${o},CB${o % CUSTOMERS},2026-11-01,${SKUS[r % SKUS.length]},${1 + (r % 7)},120.50,2026-11-01,2027-10-31`);
      }
      await mkdir(join(dir, 'in', 'accounts'), { recursive: true });
      await mkdir(join(dir, 'in', 'orders'), { recursive: true });
      await writeFile(join(dir, 'in', 'accounts', 'customers.csv'), customers.join('\n'));
      const file = join(dir, 'orders.csv');
      await writeFile(file, orders.join('\n'));

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
      await services.sync.runSync(sys, conn.id, { push: false, objects: ['accounts'], trigger: SyncTrigger.MANUAL });

      // Baseline first (it leaves the hub's tables alone): COPY the same bytes into a scratch table.
      const runner = services.db.ds.createQueryRunner();
      const client = (await runner.connect()) as PoolClient;
      let copySeconds: number;
      try {
        await client.query(
          'CREATE TEMP TABLE bench_csv_copy (order_id text, customer_id text, order_date date, sku text, quantity numeric, unit_price numeric, start_date date, end_date date)',
        );
        const c0 = performance.now();
        await pipeline(createReadStream(file), client.query(copyFrom('COPY bench_csv_copy FROM STDIN (FORMAT csv, HEADER true)')));
        copySeconds = (performance.now() - c0) / 1000;
        const { rows } = await client.query('SELECT count(*)::int AS n FROM bench_csv_copy');
        if (rows[0].n !== ROWS) throw new Error(`COPY loaded ${rows[0].n} rows, expected ${ROWS}`);
        await client.query('DROP TABLE bench_csv_copy');
      } finally {
        await runner.release();
      }

      await rename(file, join(dir, 'in', 'orders', 'orders.csv'));
      const elu = performance.eventLoopUtilization();
      const started = performance.now();
      const runs = await services.sync.runSync(sys, conn.id, { push: false, objects: ['orders'], trigger: SyncTrigger.MANUAL });
      const seconds = (performance.now() - started) / 1000;
      const busy = performance.eventLoopUtilization(elu);
      const run = runs.find((r) => r.object === 'orders')!;
      const expected = Math.ceil(ROWS / LINES);
      if (run.created !== expected || run.failed !== 0) throw new Error(`expected ${expected} orders and no failures, got ${run.created} created, ${run.failed} failed`);
      const importRate = ROWS / seconds;
      const copyRate = ROWS / copySeconds;
      const ratio = importRate / copyRate;
      console.error(
        `  import: ${fmt(ROWS)} rows (${fmt(run.created)} orders) in ${seconds.toFixed(1)} s = ${fmt(Math.round(importRate))} rows/s; ` +
          `COPY: ${copySeconds.toFixed(2)} s = ${fmt(Math.round(copyRate))} rows/s; import/COPY = ${(ratio * 100).toFixed(1)} % (target ≥ 25 %)`,
      );
      return oneRunFigures(ROWS, seconds, busy.utilization, {
        value: Math.round(importRate),
        unit: `rows/s imported (${fmt(run.created)} orders); COPY of the same file ${fmt(Math.round(copyRate))} rows/s; import/COPY ${(ratio * 100).toFixed(1)} % (target ≥ 25 %)`,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};

import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { runBatch } from '../support/batch';
import { freePort } from '../../src/db/embedded-postgres';
import type { DataSource } from 'typeorm';
import type { Figures, Scenario } from '../support/types';
import { fmt } from '../support/report';

const ROWS = Number(process.env.BENCH_REVENUE_ROWS ?? 1_000_000);
const MONTHS = 50;
const OBLIGATIONS = Math.max(1, Math.round(ROWS / MONTHS));
const ACCOUNTS = Math.min(1_000, OBLIGATIONS);
/**
 * The Node flags of the separate hub: none by default, as `npm start` and the Dockerfile run it
 * (the export runs in a worker thread with a small young generation of its own, and start-up
 * hands back its memory: ADR 0062). BENCH_HUB_NODE_FLAGS sets others, e.g.
 * `--max-semi-space-size=2` (the memory-constrained start of ADR 0050).
 */
const HUB_NODE_FLAGS = (process.env.BENCH_HUB_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);

/** The process's lifetime peak resident set (Linux), in bytes; null elsewhere. */
function vmHwm(): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * GET /v1/exports/revenue-waterfall.csv of 1,000,000 rows (BENCH_REVENUE_ROWS): 20,000 ratable
 * obligations × 50 months of ledger entries over 1,000 accounts, written straight into the
 * revenue tables with INSERT … SELECT generate_series (starts staggered over twelve months;
 * the export asks for 61 months, so every obligation yields exactly its 50 rows). One export
 * is streamed over HTTP and read to the end; the figures are rows/s and the peak RSS of this
 * process (the hub runs in it), sampled every 50 ms during the export.
 * Targets: ≥ 100,000 rows/s and peak RSS ≤ 200 MB (issue 15) for the separate hub process,
 * started with HUB_NODE_FLAGS (none by default, ADR 0062); the client checks the exact totals.
 */
export const revenueExport: Scenario = {
  name: 'revenue-export',
  description: `GET /v1/exports/revenue-waterfall.csv of ${fmt(OBLIGATIONS * MONTHS)} rows (${fmt(OBLIGATIONS)} obligations × ${MONTHS} months), streamed once`,
  async run(ctx) {
    const { ds } = ctx.hub.services.db;
    const t0 = performance.now();
    await seedWaterfall(ds);
    const expected = OBLIGATIONS * MONTHS;
    console.error(`  seeded ${fmt(OBLIGATIONS)} obligations and ${fmt(expected)} entries in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const inProcess = await exportOnce(ctx.hub.url.replace(/\/graphql$/, ''), ctx.hub.adminKey, expected, () => process.memoryUsage().rss);
    report('hub in the bench process', inProcess);

    // The same export from a hub of its own (`ehub serve` on the same database): its peak RSS is
    // the export's alone, not the bench's (load-generator workers, earlier scenarios…).
    const child = await startChildHub((ds.options as { url: string }).url);
    let own: Measured;
    try {
      own = await exportOnce(child.url, ctx.hub.adminKey, expected, () => child.rss());
      own.hwm = child.hwm();
    } finally {
      await child.stop();
    }
    report('separate hub process (ehub serve)', own);
    const figures = own.figures;
    const rowsPerSec = Math.round(own.rows / figures.durationSec);
    const met = rowsPerSec >= 100_000 && own.peak <= 200 * 2 ** 20;
    console.error(`  targets ≥ 100,000 rows/s and peak RSS ≤ 200 MB (separate hub process, node ${HUB_NODE_FLAGS.join(' ') || 'with V8 defaults'}): ${met ? 'met' : 'MISSED'}`);
    return {
      ...figures,
      headline: { value: rowsPerSec, unit: `rows/s, hub peak RSS ${mb(own.peak)} MB (in the bench process: ${fmt(Math.round(inProcess.rows / inProcess.figures.durationSec))} rows/s, peak ${mb(inProcess.peak)} MB)` },
    };
  },
};

/**
 * Writes OBLIGATIONS ratable obligations × MONTHS monthly ledger entries of 10,000 minor units
 * straight into the revenue tables, set-based (INSERT … SELECT generate_series), over ACCOUNTS
 * accounts, starts staggered over twelve months from 2023-01.
 */
export async function seedWaterfall(ds: DataSource): Promise<void> {
  const [{ id: productId }] = await ds.query(
    `INSERT INTO product (sku, name, kind, currency, list_price_minor, ssp_minor, default_model)
     VALUES ('BENCH-REV', 'Revenue bench subscription', 'SAAS', 'USD', 500000, 500000, 'SUBSCRIPTION') RETURNING id`,
  );
  await ds.query(`INSERT INTO account (name) SELECT 'Revenue bench ' || lpad(i::text, 5, '0') FROM generate_series(1, $1::int) i`, [ACCOUNTS]);
  await ds.query(
    `INSERT INTO sales_order (account_id, source, external_id, revision, order_date, currency)
     SELECT a.ids[1 + i % a.n], 'bench-rev', 'RB-' || lpad(i::text, 7, '0'), 1, (date '2023-01-01' + (i % 12) * interval '1 month')::date, 'USD'
       FROM generate_series(1, $1::int) i,
            (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n FROM account WHERE name LIKE 'Revenue bench %') a`,
    [OBLIGATIONS],
  );
  await ds.query(
    `INSERT INTO order_line (order_id, account_id, line_no, product_id, sku, action, model, quantity, unit_price_minor, currency, start_date, end_date, revision)
     SELECT so.id, so.account_id, 1, $1::uuid, 'BENCH-REV', 'NEW', 'SUBSCRIPTION', 1, 500000, 'USD', so.order_date,
            (so.order_date + interval '${MONTHS} months' - interval '1 day')::date, 1
       FROM sales_order so WHERE so.source = 'bench-rev'`,
    [productId],
  );
  await ds.query(
    `INSERT INTO revenue_obligation (account_id, order_id, order_line_id, product_id, pattern, currency, quantity, list_minor, ssp_minor, allocated_minor, start_date, end_date)
     SELECT ol.account_id, ol.order_id, ol.id, ol.product_id, 'RATABLE', 'USD', 1, 500000, 500000, ${MONTHS * 10_000}, ol.start_date, ol.end_date
       FROM order_line ol WHERE ol.sku = 'BENCH-REV'`,
  );
  await ds.query(
    `INSERT INTO revenue_entry (account_id, obligation_id, month, amount_minor, kind)
     SELECT o.account_id, o.id, (o.start_date + k * interval '1 month')::date, 10000, 'SCHEDULE'
       FROM revenue_obligation o, generate_series(0, ${MONTHS - 1}) k`,
  );
  for (const t of ['account', 'sales_order', 'order_line', 'revenue_obligation', 'revenue_entry']) await ds.query(`VACUUM ANALYZE ${t}`);
}

/** What the client counted and summed of the CSV it received. */
interface Tally {
  records: number;
  recognised: number;
  cumulative: number;
  deferred: number;
  lastRow: string;
}

/** One CSV record (the header included): counted; its last three cells (the amounts) summed. */
function tallyRow(t: Tally, line: string) {
  t.records++;
  t.lastRow = line;
  if (t.records === 1) return; // the header
  const c3 = line.lastIndexOf(',');
  const c2 = line.lastIndexOf(',', c3 - 1);
  const c1 = line.lastIndexOf(',', c2 - 1);
  t.recognised += Number(line.slice(c1 + 1, c2));
  t.cumulative += Number(line.slice(c2 + 1, c3));
  t.deferred += Number(line.slice(c3 + 1));
}

/**
 * The exact sums over the seeded waterfall: each obligation recognises 10,000 a month for
 * MONTHS months out of MONTHS × 10,000, so in month k (1…MONTHS) cumulative is k × 10,000 and
 * deferred (MONTHS − k) × 10,000.
 */
export function expectedTotals(obligations: number): { recognised: number; cumulative: number; deferred: number } {
  const triangle = (MONTHS * (MONTHS + 1)) / 2;
  return {
    recognised: obligations * MONTHS * 10_000,
    cumulative: obligations * triangle * 10_000,
    deferred: obligations * (MONTHS * MONTHS - triangle) * 10_000,
  };
}

interface Measured {
  totals: Tally;
  figures: Figures;
  rows: number;
  bytes: number;
  before: number;
  peak: number;
  hwm: number | null;
}

function report(where: string, m: Measured) {
  console.error(
    `  ${where}: ${fmt(m.rows)} rows (${mb(m.bytes)} MB of CSV) in ${m.figures.durationSec} s = ${fmt(Math.round(m.rows / m.figures.durationSec))} rows/s; ` +
      `RSS ${mb(m.before)} MB before, peak ${mb(m.peak)} MB during the export${m.hwm !== null ? ` (VmHWM ${mb(m.hwm)} MB)` : ''}; ` +
      `totals exact: recognised ${fmt(m.totals.recognised)}, cumulative ${fmt(m.totals.cumulative)}, deferred ${fmt(m.totals.deferred)}`,
  );
}

/** Streams the waterfall once from `base`, reading it to the end, sampling `rss()` every 50 ms. */
async function exportOnce(base: string, key: string, expected: number, rss: () => number): Promise<Measured> {
  const url = `${base}/v1/exports/revenue-waterfall.csv?from=2023-01&to=2028-01`;
  let rows = 0;
  let bytes = 0;
  let totals: Tally | null = null;
  const before = rss();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rss())), 50);
  try {
    const figures = await runBatch(1, 1, async () => {
      // node:http rather than fetch: the client may share the hub's process, so it buffers nothing.
      const { status, text, tally } = await new Promise<{ status: number; text: string; tally?: Tally }>((resolve, reject) => {
        const req = http.get(url, { headers: { authorization: `Bearer ${key}` } }, (res) => {
          if (res.statusCode !== 200) {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (body += d));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text: body }));
            return;
          }
          // Every record counted and its three amounts summed (exact: integers far below 2^53).
          const t = { records: 0, recognised: 0, cumulative: 0, deferred: 0, lastRow: '' };
          let carry = '';
          res.setEncoding('utf8');
          res.on('data', (text: string) => {
            bytes += Buffer.byteLength(text);
            const lines = (carry + text).split('\r\n');
            carry = lines.pop()!;
            for (const line of lines) tallyRow(t, line);
          });
          res.on('end', () => {
            if (carry) tallyRow(t, carry);
            resolve({ status: 200, text: '', tally: t });
          });
          res.on('error', reject);
        });
        req.on('error', reject);
      });
      if (status !== 200 || !tally) return `HTTP ${status}: ${text.slice(0, 300)}`;
      rows = tally.records - 1; // the header
      totals = tally;
      // The last row is an obligation's last month: fully recognised, nothing deferred.
      const last = tally.lastRow.split(',');
      if (rows !== expected) return `expected ${fmt(expected)} rows, got ${fmt(rows)}`;
      if (last.at(-2) !== String(MONTHS * 10_000) || last.at(-1) !== '0') return `unexpected last row: ${last.join(',')}`;
      const want = expectedTotals(expected / MONTHS);
      for (const k of ['recognised', 'cumulative', 'deferred'] as const) {
        if (tally[k] !== want[k]) return `${k}_minor sums to ${fmt(tally[k])}, expected ${fmt(want[k])}`;
      }
      return null;
    });
    if (figures.errors || figures.requests !== 1 || rows !== expected) throw new Error('revenue-export: the export failed (see the first failure above)');
    peak = Math.max(peak, rss());
    return { figures, rows, bytes, before, peak, hwm: vmHwm(), totals: totals! };
  } finally {
    clearInterval(sampler);
  }
}

/** `ehub serve` in a child process on `databaseUrl` (jobs off, production mode), ready to answer. */
async function startChildHub(databaseUrl: string): Promise<{ url: string; rss(): number; hwm(): number | null; stop(): Promise<void> }> {
  const port = await freePort();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ehub-bench-child-'));
  // The bench's admin key is in the database already: the child needs none of its own.
  const { EHUB_ADMIN_KEY: _unused, ...env } = process.env;
  // The compiled build, as the Docker image runs it (the on-the-fly TypeScript loader alone
  // adds ~100 MB of resident memory, which is not the hub's).
  execFileSync(process.execPath, [path.resolve(__dirname, '../../node_modules/typescript/bin/tsc'), '-p', path.resolve(__dirname, '../../tsconfig.json')], { stdio: 'inherit' });
  // With HUB_NODE_FLAGS (the memory-constrained start of ADR 0050 unless overridden).
  const child = spawn(process.execPath, [...HUB_NODE_FLAGS, path.resolve(__dirname, '../../dist/src/cli/main.js'), 'serve', '--port', String(port)], {
    env: { ...env, DATABASE_URL: databaseUrl, NODE_ENV: 'production', LOG_LEVEL: 'warn', EHUB_JOBS_ENABLED: 'false', EHUB_DATA_DIR: dataDir },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const status = (field: string): number | null => {
    try {
      const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : null;
    } catch {
      return null;
    }
  };
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await fs.rm(dataDir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`the child hub exited with ${child.exitCode}`);
    const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 600) {
      await stop();
      throw new Error('the child hub did not become ready in 60 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, rss: () => status('VmRSS') ?? 0, hwm: () => status('VmHWM'), stop };
}

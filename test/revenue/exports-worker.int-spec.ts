import http from 'node:http';
import { primeExport } from '../../src/revenue/exports';
import { ExportThreads } from '../../src/revenue/export-thread';
import { startTestHub, type TestHub } from '../support/test-hub';
import { seedBulkWaterfall } from './exports-seed';

/*
 * The HTTP exports run in worker threads (ADR 0062): each with a connection of its own
 * (application_name ehub-export), at most EHUB_EXPORT_CONCURRENCY at once, the thread and its
 * connection gone when the client goes away.
 */
const OBLIGATIONS = 3_000;
const MONTHS = 24;
const URL_PATH = '/v1/exports/revenue-waterfall.csv?from=2025-01&to=2026-12';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub({ EHUB_EXPORT_CONCURRENCY: '1' });
  await seedBulkWaterfall(hub.ds, OBLIGATIONS, MONTHS);
}, 120_000);
afterAll(async () => hub?.close());

/** The export's own connections, as PostgreSQL sees them: their states. */
async function exportConnections(): Promise<string[]> {
  const rows = (await hub.ds.query(`SELECT state FROM pg_stat_activity WHERE application_name = 'ehub-export' AND datname = current_database()`)) as { state: string }[];
  return rows.map((r) => r.state);
}

async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Opens the export and leaves it unread (paused): the worker stalls on back-pressure. */
function openPaused(): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    http
      .get(`${hub.url}${URL_PATH}`, { headers: { authorization: `Bearer ${hub.adminKey}` } }, (r) => {
        r.pause();
        resolve(r);
      })
      .on('error', reject);
  });
}

it('an export holds one connection of its own; one more than EHUB_EXPORT_CONCURRENCY is refused with 429 EXPORTS_BUSY; a client that leaves frees both', async () => {
  expect(await exportConnections()).toEqual([]);
  const first = await openPaused();
  try {
    expect(first.statusCode).toBe(200);
    // Stalled mid-export: its transaction is open on its own connection, not on the pool's.
    expect(await until(exportConnections, (s) => s.length === 1)).toEqual([expect.stringMatching(/^idle in transaction|active$/)]);

    const busy = await fetch(`${hub.url}${URL_PATH}`, { headers: { authorization: `Bearer ${hub.adminKey}` } });
    expect(busy.status).toBe(429);
    expect(busy.headers.get('retry-after')).toBe('5');
    const body = (await busy.json()) as { errors: { extensions: { code: string; subCode: string; limit: number } }[] };
    expect(body.errors[0]!.extensions).toMatchObject({ code: 'LIMIT_EXCEEDED', subCode: 'EXPORTS_BUSY', limit: 1 });
    expect(await exportConnections()).toHaveLength(1); // the refused one opened nothing
  } finally {
    first.destroy();
  }
  // The client went away: the worker is ended, its connection closed (the transaction rolled back).
  expect(await until(exportConnections, (s) => s.length === 0)).toEqual([]);

  // The slot is free again: a whole export, every row.
  const res = await fetch(`${hub.url}${URL_PATH}`, { headers: { authorization: `Bearer ${hub.adminKey}` } });
  expect(res.status).toBe(200);
  const lines = (await res.text()).split('\r\n');
  expect(lines.pop()).toBe('');
  expect(lines).toHaveLength(1 + OBLIGATIONS * MONTHS);
  expect(await until(exportConnections, (s) => s.length === 0)).toEqual([]);
}, 60_000);

it('a worker that cannot reach the database fails the export before its first byte, and frees its slot', async () => {
  const threads = new ExportThreads('postgres://nobody@127.0.0.1:1/none', { RECEIVABLE: '1', CONTRACT_LIABILITY: '2', CONTRACT_ASSET: '3', REVENUE: '4' }, 1);
  const range = { from: '2025-01-01', to: '2025-12-01', accountId: null };
  await expect(primeExport(threads.start('waterfall', range))).rejects.toThrow(/The waterfall export failed: .*ECONNREFUSED/);
  expect(threads.active).toBe(0);
  // A second attempt is not refused as busy: the failed one gave its slot back.
  await expect(primeExport(threads.start('journal', range))).rejects.toThrow(/The journal export failed/);
  expect(threads.active).toBe(0);
}, 30_000);

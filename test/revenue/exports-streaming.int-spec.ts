import http from 'node:http';
import { FETCH_SIZE, WATERFALL_FETCH_SIZE } from '../../src/revenue/exports';
import { startTestHub, type TestHub } from '../support/test-hub';
import { seedBulkWaterfall } from './exports-seed';

/*
 * The waterfall export streams end to end: database cursor → CSV → HTTP reply, with
 * back-pressure. Observed through the hub's own counters of what the export's cursor fetched
 * (ehub_export_fetches_total, ehub_export_source_rows_total on /metrics), against what the
 * client has read: a client that stops reading must stop the cursor, long before the end.
 */
const OBLIGATIONS = 12_000;
const MONTHS = 24;
const ROWS = OBLIGATIONS * MONTHS; // ≈ 60 MB of CSV: far more than socket buffers hold

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
  await seedBulkWaterfall(hub.ds, OBLIGATIONS, MONTHS);
}, 120_000);
afterAll(async () => hub?.close());

/** The export counters of this hub's /metrics for one export: FETCHes and source rows so far. */
async function counters(kind: 'waterfall' | 'journal' = 'waterfall'): Promise<{ fetches: number; rows: number }> {
  const text = await (await fetch(`${hub.url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name}\\{export="${kind}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  return { fetches: value('ehub_export_fetches_total'), rows: value('ehub_export_source_rows_total') };
}

/** Polls the counters until they stop moving (the server is blocked on a full socket). */
async function settled(): Promise<{ fetches: number; rows: number }> {
  let last = await counters();
  for (let still = 0; still < 5; ) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await counters();
    still = now.rows === last.rows ? still + 1 : 0;
    last = now;
  }
  return last;
}

interface Tally {
  lines: number;
  recognised: bigint;
  cumulative: bigint;
  deferred: bigint;
  header: string;
}

function tallyLine(t: Tally, line: string) {
  t.lines++;
  if (t.lines === 1) {
    t.header = line;
    return;
  }
  const cells = line.split(',');
  t.recognised += BigInt(cells.at(-3)!);
  t.cumulative += BigInt(cells.at(-2)!);
  t.deferred += BigInt(cells.at(-1)!);
}

it(`a client that stops reading stops the cursor; read to the end, the export is exact and took one FETCH per ${WATERFALL_FETCH_SIZE} obligations`, async () => {
  const start = await counters();
  let res!: http.IncomingMessage;
  // The response, paused as it arrives: nothing is read until resume().
  await new Promise<void>((resolve, reject) => {
    http
      .get(`${hub.url}/v1/exports/revenue-waterfall.csv?from=2025-01&to=2026-12`, { headers: { authorization: `Bearer ${hub.adminKey}` } }, (r) => {
        res = r;
        r.pause();
        resolve();
      })
      .on('error', reject);
  });
  expect(res.statusCode).toBe(200);
  try {
    await checks(res, start);
  } finally {
    // A failed check must not leave a paused reply behind: the hub's close() would wait for it.
    res.destroy();
  }
}, 120_000);

async function checks(res: http.IncomingMessage, start: { fetches: number; rows: number }) {
  const t: Tally = { lines: 0, recognised: 0n, cumulative: 0n, deferred: 0n, header: '' };
  // Stalled: the server fetched a few batches (what fills the socket buffers), not the export.
  const stalled = await settled();
  const fetchedWhileStalled = stalled.rows - start.rows;
  expect(fetchedWhileStalled).toBeGreaterThan(0);
  expect(fetchedWhileStalled).toBeLessThan(OBLIGATIONS / 2);
  expect(stalled.fetches - start.fetches).toBeLessThan(OBLIGATIONS / WATERFALL_FETCH_SIZE / 2);

  // Read on to the end: every row, exact totals.
  let carry = '';
  res.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    res.on('data', (text: string) => {
      const lines = (carry + text).split('\r\n');
      carry = lines.pop()!;
      for (const line of lines) tallyLine(t, line);
    });
    res.on('end', resolve);
    res.on('error', reject);
    res.resume();
  });
  expect(carry).toBe(''); // the file ends with CRLF
  expect(t.header.split(',')).toHaveLength(17);
  expect(t.lines - 1).toBe(ROWS);
  const triangle = BigInt((MONTHS * (MONTHS + 1)) / 2);
  expect(t.recognised).toBe(BigInt(OBLIGATIONS) * BigInt(MONTHS) * 10_000n);
  expect(t.cumulative).toBe(BigInt(OBLIGATIONS) * triangle * 10_000n);
  expect(t.deferred).toBe(BigInt(OBLIGATIONS) * (BigInt(MONTHS * MONTHS) - triangle) * 10_000n);

  // Round trips grow with the rows: one FETCH per batch (and a last, empty one when the count
  // is a multiple of the batch), every obligation read exactly once.
  const end = await counters();
  expect(end.rows - start.rows).toBe(OBLIGATIONS);
  expect(end.fetches - start.fetches).toBe(Math.floor(OBLIGATIONS / WATERFALL_FETCH_SIZE) + 1);
}

it(`the journal reads its events ${FETCH_SIZE} per FETCH, and balances to the cent`, async () => {
  const [{ id: accountId, entries }] = (await hub.ds.query(
    `SELECT a.id, count(e.*)::int AS entries FROM account a JOIN revenue_entry e ON e.account_id = a.id WHERE a.name = 'Bulk 001' GROUP BY a.id`,
  )) as { id: string; entries: number }[];
  expect(entries).toBeGreaterThan(FETCH_SIZE); // one recognition event per obligation and month
  const before = await counters('journal');
  const res = await fetch(`${hub.url}/v1/exports/journal-entries.csv?from=2025-01&to=2026-12&accountId=${accountId}`, { headers: { authorization: `Bearer ${hub.adminKey}` } });
  expect(res.status).toBe(200);
  const lines = (await res.text()).split('\r\n').slice(1, -1);
  // Nothing billed: each event debits the contract asset and credits revenue, 10,000 each.
  expect(lines).toHaveLength(entries * 2);
  let debit = 0n;
  let credit = 0n;
  for (const line of lines) {
    const cells = line.split(',');
    debit += BigInt(cells[5]!);
    credit += BigInt(cells[6]!);
  }
  expect(debit).toBe(BigInt(entries) * 10_000n);
  expect(credit).toBe(debit);
  const after = await counters('journal');
  expect(after.rows - before.rows).toBe(entries);
  expect(after.fetches - before.fetches).toBe(Math.floor(entries / FETCH_SIZE) + 1);
});

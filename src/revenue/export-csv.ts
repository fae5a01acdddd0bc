import { stringify } from 'csv-stringify/sync';
import type { PoolClient } from 'pg';
import { postEvent, type GlRole } from './exports-journal';

/*
 * The finance exports' CSV, made from a database cursor (ADR 0062): the SQL, the cursor loop and
 * the records. Light on purpose — csv-stringify and the journal's posting rules only, no
 * GraphQL, no ORM — because it runs in the export worker thread (export-worker.ts) as well as
 * in the hub's own thread (the CLI's `ehub export`, the ERP push).
 */

/** Rows fetched from the server-side cursor at a time: memory stays at about one batch. */
export const FETCH_SIZE = 5_000;
/** Waterfall source rows are obligations (one per month of their span each): fewer at a time. */
export const WATERFALL_FETCH_SIZE = 500;

/** Told of every FETCH on an export's cursor: which export, and how many rows it brought. */
export type FetchObserver = (kind: ExportKind, rows: number) => void;
/** CSV text is handed on in pieces of about this many characters (small strings die young; 8 K peaked lowest in the export worker, ADR 0062). */
const CHUNK_CHARS = 8_192;
/** What an export covers: months `from`..`to` inclusive (first days, YYYY-MM-01), one account or all. */
export interface ExportRange {
  from: string;
  to: string;
  accountId: string | null;
}

/** One journal line as the export prints it (amounts in minor units). */
export interface JournalPosting {
  date: string;
  entryId: string;
  kind: 'INVOICE' | 'RECOGNITION';
  role: GlRole;
  debit: bigint;
  credit: bigint;
  currency: string;
  ref: string;
  accountId: string;
  accountName: string;
  orderId: string;
  orderSource: string;
  orderExternalId: string | null;
  lineNo: string | null;
}

/** A streamed export: the header, then CSV text (whole records) batch by batch, and how far it got. */
export interface CsvExport<Chunk extends string | Uint8Array = string> {
  header: readonly string[];
  chunks: AsyncGenerator<Chunk>;
  /** Source rows read from the database so far (obligations for the waterfall, events for the journal). */
  readonly progress: { rows: number };
}

/** "2027-03" → months since year 0 (2027 × 12 + 2), and back. */
export function monthIndex(m: string): number {
  return Number(m.slice(0, 4)) * 12 + Number(m.slice(5, 7)) - 1;
}

function monthLabel(i: number): string {
  return `${String(Math.floor(i / 12)).padStart(4, '0')}-${String((i % 12) + 1).padStart(2, '0')}`;
}

/** One CSV record's fields, quoted where needed, without the line end. */
export function csvRecord(fields: readonly string[]): string {
  return stringify([fields], { eof: false });
}

/**
 * Free-text cells that a spreadsheet would run as a formula (=, +, -, @, tab, CR first) get a
 * leading apostrophe (OWASP "CSV injection"). Only names and external ids: numbers stay numbers.
 */
export function safeText(v: string | null): string {
  if (v === null) return '';
  return /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
}

export const WATERFALL_COLUMNS = [
  'month',
  'account_id',
  'account_name',
  'order_id',
  'order_source',
  'order_external_id',
  'line_no',
  'product_sku',
  'bundle_sku',
  'obligation_id',
  'pattern',
  'status',
  'currency',
  'allocated_minor',
  'recognised_minor',
  'cumulative_minor',
  'deferred_minor',
] as const;

export const JOURNAL_COLUMNS = [
  'date',
  'entry_id',
  'entry_type',
  'gl_account_code',
  'gl_account',
  'debit_minor',
  'credit_minor',
  'currency',
  'reference_id',
  'account_id',
  'account_name',
  'order_id',
  'order_source',
  'order_external_id',
  'line_no',
] as const;

/*
 * The waterfall's source: one row per obligation (in output order) whose active span meets
 * [from, to], with what was recognised before `from` and its net entries per month of the range
 * as "YYYY-MM amount,…". The rows per month are made from it in JavaScript (see waterfall()):
 * PostgreSQL sends 20,000 rows instead of a million, and the obligation's own cells are
 * quoted once, not once per month. The obligations are sorted before the per-obligation lookups
 * (index on revenue_entry (obligation_id, month)), whose nested loop keeps that order.
 */
const WATERFALL_SQL = `
  SELECT ob.id::text, ob.account_id::text, ob.account_name, ob.order_id::text, ob.source, ob.external_id, ob.line_no::text,
         ob.sku, ob.bundle_sku, ob.pattern, ob.status, ob.currency, ob.allocated_minor::text,
         to_char(least(ob.start_date, e.first_m), 'YYYY-MM') AS first_month,
         to_char(greatest(coalesce(ob.end_date, ob.start_date), e.last_m), 'YYYY-MM') AS last_month,
         coalesce(e.before_amount, 0)::text, e.months
    FROM (
      SELECT o.id, o.account_id, a.name AS account_name, o.order_id, so.source, so.external_id, ol.line_no, p.sku, bp.sku AS bundle_sku,
             o.pattern, o.status, o.currency, o.allocated_minor, o.start_date, o.end_date
        FROM revenue_obligation o
        JOIN account a ON a.id = o.account_id
        JOIN sales_order so ON so.id = o.order_id
        JOIN order_line ol ON ol.id = o.order_line_id
        JOIN product p ON p.id = o.product_id
        LEFT JOIN product bp ON bp.id = o.bundle_product_id
       WHERE ($3::uuid IS NULL OR o.account_id = $3::uuid)
       ORDER BY o.account_id, o.order_id, ol.line_no, o.id
    ) ob
    LEFT JOIN LATERAL (
      SELECT min(month) AS first_m, max(month) AS last_m,
             sum(amount) FILTER (WHERE month < $1::date) AS before_amount,
             string_agg(to_char(month, 'YYYY-MM') || ' ' || amount, ',' ORDER BY month) FILTER (WHERE month >= $1::date) AS months
        FROM (SELECT month, sum(amount_minor) AS amount FROM revenue_entry
               WHERE obligation_id = ob.id AND month <= $2::date GROUP BY month) x
    ) e ON true
   WHERE least(date_trunc('month', ob.start_date)::date, e.first_m) <= $2::date
     AND greatest(coalesce(ob.end_date, ob.start_date), e.last_m) >= $1::date
   ORDER BY ob.account_id, ob.order_id, ob.line_no, ob.id`;

/*
 * The journal's source events, per contract (order) and currency in posting order: every
 * invoice and every obligation's net recognition per month up to the end of `to` (earlier ones
 * only build the opening position and are not printed). Invoices come before the month-end
 * recognition of their month.
 */
const JOURNAL_EVENTS_SQL = `
  SELECT ev.kind, to_char(ev.d, 'YYYY-MM-DD'), ev.ref::text, ev.amount::text, ev.currency, ev.order_id::text,
         so.account_id::text, a.name, so.source, so.external_id, ol.line_no::text
    FROM (
      SELECT 'INVOICE' AS kind, 0 AS seq, i.invoice_date AS d, i.id AS ref, i.amount_minor AS amount, i.currency,
             i.order_id, i.order_line_id
        FROM revenue_invoice i
       WHERE i.invoice_date < ($1::date + interval '1 month') AND ($2::uuid IS NULL OR i.account_id = $2::uuid)
      UNION ALL
      SELECT 'RECOGNITION', 1, (e.month + interval '1 month - 1 day')::date, o.id, sum(e.amount_minor), o.currency,
             o.order_id, o.order_line_id
        FROM revenue_entry e
        JOIN revenue_obligation o ON o.id = e.obligation_id
       WHERE e.month <= $1::date AND ($2::uuid IS NULL OR e.account_id = $2::uuid)
       GROUP BY e.month, o.id
    ) ev
    JOIN sales_order so ON so.id = ev.order_id
    JOIN account a ON a.id = so.account_id
    LEFT JOIN order_line ol ON ol.id = ev.order_line_id
   ORDER BY ev.order_id, ev.currency, ev.d, ev.seq, ol.line_no NULLS FIRST, ev.ref`;


/** What an export's cursor needs of a connection: pg's query(), and a way to give it back. */
export interface CursorConnection {
  client: { query: PoolClient['query'] };
  release(): Promise<void> | void;
}

/**
 * Rows of `sql` in batches from a server-side cursor, as arrays of strings (the SQL casts
 * every column to text, so bigints stay exact), in one read-only REPEATABLE READ transaction.
 * Leaving early (the client went away) rolls the transaction back and gives the connection back.
 */
export async function* cursorRows(
  connect: () => Promise<CursorConnection>,
  sql: string,
  params: unknown[],
  fetchSize: number,
  onBatch: (rows: number) => void,
): AsyncGenerator<(string | null)[][]> {
  const { client, release } = await connect();
  let open = false;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    open = true;
    await client.query({ text: `DECLARE revenue_export NO SCROLL CURSOR FOR ${sql}`, values: params });
    for (;;) {
      const res = await client.query<(string | null)[]>({ text: `FETCH ${fetchSize} FROM revenue_export`, rowMode: 'array' });
      onBatch(res.rows.length);
      if (res.rows.length) yield res.rows;
      if (res.rows.length < fetchSize) break;
    }
    await client.query('COMMIT');
    open = false;
  } finally {
    if (open) await client.query('ROLLBACK').catch(() => undefined);
    await release();
  }
}

/** The two exports, by name. */
export type ExportKind = 'waterfall' | 'journal';

/** The general-ledger codes of the four roles (EHUB_GL_*), as the journal prints them. */
export type GlCodes = Record<GlRole, string>;

/**
 * One export over a connection: the cursor on its source SQL and the CSV records made from it
 * (the header is the caller's to print, see csvStream). `onFetch` is told of every FETCH.
 */
export function openExport(kind: ExportKind, range: ExportRange, connect: () => Promise<CursorConnection>, gl: GlCodes, onFetch: FetchObserver = () => undefined): CsvExport {
  const progress = { rows: 0 };
  const onBatch = (rows: number) => {
    progress.rows += rows;
    onFetch(kind, rows);
  };
  if (kind === 'waterfall') {
    const rows = cursorRows(connect, WATERFALL_SQL, [range.from, range.to, range.accountId], WATERFALL_FETCH_SIZE, onBatch);
    return { header: WATERFALL_COLUMNS, chunks: waterfallChunks(rows, range), progress };
  }
  return { header: JOURNAL_COLUMNS, chunks: journalChunks(journalPostings(journalRows(connect, range, onBatch), range), gl), progress };
}

/** The journal's source events for the range (see JOURNAL_EVENTS_SQL), FETCH_SIZE at a time. */
export function journalRows(connect: () => Promise<CursorConnection>, range: ExportRange, onBatch: (rows: number) => void): AsyncGenerator<(string | null)[][]> {
  return cursorRows(connect, JOURNAL_EVENTS_SQL, [range.to, range.accountId], FETCH_SIZE, onBatch);
}

/** The source SQL and parameters of an export, e.g. to count its rows first. */
export function exportSource(kind: ExportKind, range: ExportRange): [string, unknown[]] {
  return kind === 'waterfall' ? [WATERFALL_SQL, [range.from, range.to, range.accountId]] : [JOURNAL_EVENTS_SQL, [range.to, range.accountId]];
}

/**
 * One row per obligation per month of its active span within the range: recognised = the net
 * of its entries for the month, cumulative = everything up to the end of the month (what was
 * recognised before `from` included), deferred = allocated − cumulative.
 */
export async function* waterfallChunks(source: AsyncIterable<(string | null)[][]>, range: ExportRange): AsyncGenerator<string> {
  const fromIdx = monthIndex(range.from.slice(0, 7));
  const toIdx = monthIndex(range.to.slice(0, 7));
  for await (const rows of source) {
    let out = '';
    for (const r of rows) {
      const [id, accountId, accountName, orderId, orderSource, externalId, lineNo, sku, bundleSku, pattern, status, currency, allocatedText, firstMonth, lastMonth, before, months] =
        r as string[];
      // The obligation's own cells, quoted once by csv-stringify (free text may hold commas, quotes…).
      const cells = csvRecord([accountId!, safeText(accountName!), orderId!, safeText(orderSource!), safeText(externalId!), lineNo!, safeText(sku!), safeText(bundleSku ?? null), id!, pattern!, status!, currency!, allocatedText!]);
      const allocated = BigInt(allocatedText!);
      const byMonth = new Map<number, string>();
      for (const part of months ? months.split(',') : []) byMonth.set(monthIndex(part.slice(0, 7)), part.slice(8));
      let cumulative = BigInt(before!);
      const last = Math.min(toIdx, monthIndex(lastMonth!));
      // Month labels, amounts and counts are digits and dashes: nothing to quote.
      for (let m = Math.max(fromIdx, monthIndex(firstMonth!)); m <= last; m++) {
        const recognised = byMonth.get(m) ?? '0';
        cumulative += BigInt(recognised);
        out += `${monthLabel(m)},${cells},${recognised},${cumulative},${allocated - cumulative}\r\n`;
      }
      if (out.length >= CHUNK_CHARS) {
        yield out;
        out = '';
      }
    }
    if (out) yield out;
  }
}

/**
 * The journal's postings for the range, batch by batch (what the journal CSV prints, one
 * object per line; the ERP push sums them per GL account): per contract (order), every
 * invoice and every obligation's monthly recognition is posted against the contract's
 * running position (see postEvent); events before `from` build the opening position and are
 * not yielded.
 */
export async function* journalPostings(source: AsyncIterable<(string | null)[][]>, range: ExportRange): AsyncGenerator<JournalPosting[]> {
  const firstDay = range.from;
  // The contract's running position (billed − recognised): one contract's at a time, since
  // its events arrive together.
  let contract = '';
  let position = 0n;
  for await (const rows of source) {
    const out: JournalPosting[] = [];
    for (const r of rows) {
      const [kind, date, ref, amount, currency, orderId, accountId, accountName, orderSource, externalId, lineNo] = r as string[];
      const key = `${orderId} ${currency}`;
      if (key !== contract) {
        contract = key;
        position = 0n;
      }
      const posted = postEvent(position, { kind: kind as 'INVOICE' | 'RECOGNITION', amount: BigInt(amount!) });
      position = posted.position;
      if (date! < firstDay) continue;
      const entryId = kind === 'INVOICE' ? `INV-${ref}` : `REV-${ref}-${date!.slice(0, 7)}`;
      for (const line of posted.lines) {
        out.push({
          date: date!,
          entryId,
          kind: kind as JournalPosting['kind'],
          role: line.role,
          debit: line.debit,
          credit: line.credit,
          currency: currency!,
          ref: ref!,
          accountId: accountId!,
          accountName: accountName!,
          orderId: orderId!,
          orderSource: orderSource!,
          orderExternalId: externalId ?? null,
          lineNo: lineNo ?? null,
        });
      }
    }
    if (out.length) yield out;
  }
}

/**
 * Journal lines for the range: per contract (order), every invoice and every obligation's
 * monthly recognition is posted against the contract's running position (see postEvent);
 * events before `from` build the opening position and are not printed.
 */
export async function* journalChunks(source: AsyncIterable<JournalPosting[]>, codes: GlCodes): AsyncGenerator<string> {
  const gl: Record<GlRole, string> = {
    RECEIVABLE: csvRecord([codes.RECEIVABLE, 'RECEIVABLE']),
    CONTRACT_LIABILITY: csvRecord([codes.CONTRACT_LIABILITY, 'CONTRACT_LIABILITY']),
    CONTRACT_ASSET: csvRecord([codes.CONTRACT_ASSET, 'CONTRACT_ASSET']),
    REVENUE: csvRecord([codes.REVENUE, 'REVENUE']),
  };
  let contract = '';
  let orderCells = '';
  for await (const batch of source) {
    let out = '';
    for (const p of batch) {
      const key = `${p.orderId} ${p.currency}`;
      if (key !== contract) {
        contract = key;
        orderCells = csvRecord([p.accountId, safeText(p.accountName), p.orderId, safeText(p.orderSource), safeText(p.orderExternalId)]);
      }
      out += `${p.date},${p.entryId},${p.kind},${gl[p.role]},${p.debit},${p.credit},${p.currency},${p.ref},${orderCells},${p.lineNo ?? ''}\r\n`;
      if (out.length >= CHUNK_CHARS) {
        yield out;
        out = '';
      }
    }
    if (out) yield out;
  }
}

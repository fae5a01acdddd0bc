import { isUuid } from '../common/ids';
import { Readable } from 'node:stream';
import type { PoolClient } from 'pg';
import type { Config } from '../config';
import type { RequestContext } from '../common/context';
import { badInput, notFound } from '../common/errors';
import type { Db } from '../db/db';
import type { GlRole } from './exports-journal';
import {
  csvRecord,
  exportSource,
  journalPostings,
  journalRows,
  monthIndex,
  openExport,
  type CsvExport,
  type CursorConnection,
  type ExportKind,
  type ExportRange,
  type FetchObserver,
  type GlCodes,
  type JournalPosting,
} from './export-csv';

export {
  csvRecord,
  FETCH_SIZE,
  JOURNAL_COLUMNS,
  safeText,
  WATERFALL_COLUMNS,
  WATERFALL_FETCH_SIZE,
  type CsvExport,
  type ExportKind,
  type ExportRange,
  type FetchObserver,
  type JournalPosting,
} from './export-csv';

/** Longest export range, in months (ten years): beyond it, ask for several files. */
export const MAX_EXPORT_MONTHS = 120;
const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** Raw query parameters, as the route and the CLI receive them. */
export interface ExportParams {
  from?: unknown;
  to?: unknown;
  accountId?: unknown;
}

/**
 * Validates from/to (YYYY-MM, from ≤ to, at most MAX_EXPORT_MONTHS months) and the optional
 * account id; BAD_USER_INPUT with a sub-code naming the problem otherwise.
 */
export function parseExportRange(params: ExportParams): ExportRange {
  const fields: { path: string; message: string }[] = [];
  for (const name of ['from', 'to'] as const) {
    const v = params[name];
    if (typeof v !== 'string' || !MONTH.test(v)) fields.push({ path: name, message: `${name} must be a month as YYYY-MM (e.g. 2027-01)` });
  }
  if (fields.length) {
    throw badInput('EXPORT_MONTH_INVALID', `Give from and to as months, YYYY-MM (e.g. ?from=2027-01&to=2027-12)`, fields);
  }
  const from = params.from as string;
  const to = params.to as string;
  const span = monthIndex(to) - monthIndex(from) + 1;
  if (span < 1) throw badInput('EXPORT_RANGE_REVERSED', `from (${from}) is after to (${to})`, [{ path: 'from', message: 'must not be after to' }]);
  if (span > MAX_EXPORT_MONTHS) {
    throw badInput('EXPORT_RANGE_TOO_LONG', `The range covers ${span} months, over the limit of ${MAX_EXPORT_MONTHS}; export it in several parts`, [
      { path: 'to', message: `at most ${MAX_EXPORT_MONTHS} months after from` },
    ]);
  }
  let accountId: string | null = null;
  if (params.accountId !== undefined && params.accountId !== '') {
    if (typeof params.accountId !== 'string' || !isUuid(params.accountId)) {
      throw badInput('EXPORT_ACCOUNT_ID_INVALID', 'accountId must be an account id (a UUID)', [{ path: 'accountId', message: 'must be a UUID' }]);
    }
    accountId = params.accountId.toLowerCase();
  }
  return { from: `${from}-01`, to: `${to}-01`, accountId };
}

/**
 * Finance exports (revenue waterfall, journal entries) read straight from the revenue tables
 * through a server-side cursor in one read-only REPEATABLE READ transaction: a consistent
 * snapshot, FETCH_SIZE rows in memory at a time, whatever the size of the export. This runs
 * them in the calling thread (the CLI, the ERP push); the HTTP routes run them in a worker
 * thread (export-thread.ts, ADR 0062).
 */
export class RevenueExports {
  constructor(
    readonly db: Db,
    readonly config: Config,
    private readonly onFetch: FetchObserver = () => undefined,
  ) {}

  /** Checks that the range's account exists and is visible to the caller (a scoped key: only its own). */
  async resolveRange(ctx: RequestContext, params: ExportParams): Promise<ExportRange> {
    const range = parseExportRange(params);
    const scope = ctx.principal?.accountId ?? null;
    if (scope && range.accountId && range.accountId !== scope) throw notFound('Account', range.accountId);
    if (scope) range.accountId = scope;
    if (range.accountId) {
      const found: unknown[] = await this.db.ds.query('SELECT 1 FROM account WHERE id = $1', [range.accountId]);
      if (found.length === 0) throw notFound('Account', range.accountId);
    }
    return range;
  }

  /** The revenue waterfall's CSV records (see waterfallChunks). */
  waterfall(range: ExportRange): CsvExport {
    return openExport('waterfall', range, () => this.connect(), this.glCodes(), this.onFetch);
  }

  /** The journal's CSV records (see journalChunks). */
  journal(range: ExportRange): CsvExport {
    return openExport('journal', range, () => this.connect(), this.glCodes(), this.onFetch);
  }

  /** The general-ledger code of each role (EHUB_GL_*), as the journal export prints it. */
  glCodes(): GlCodes {
    const c = this.config;
    return { RECEIVABLE: c.EHUB_GL_RECEIVABLE, CONTRACT_LIABILITY: c.EHUB_GL_CONTRACT_LIABILITY, CONTRACT_ASSET: c.EHUB_GL_CONTRACT_ASSET, REVENUE: c.EHUB_GL_REVENUE };
  }

  /** The general-ledger code of one role. */
  glCode(role: GlRole): string {
    return this.glCodes()[role];
  }

  /** The journal's postings for the range, batch by batch (see journalPostings in export-csv.ts). */
  journalPostings(range: ExportRange, progress: { rows: number } = { rows: 0 }): AsyncGenerator<JournalPosting[]> {
    const onBatch = (rows: number) => {
      progress.rows += rows;
      this.onFetch('journal', rows);
    };
    return journalPostings(journalRows(() => this.connect(), range, onBatch), range);
  }

  /** How many source rows an export will read (for a progress bar): waterfall rows or journal events. */
  async sourceRowCount(kind: ExportKind, range: ExportRange): Promise<number> {
    const [sql, params] = exportSource(kind, range);
    const [row] = (await this.db.ds.query(`SELECT count(*)::int AS n FROM (${sql}) x`, params)) as { n: number }[];
    return row!.n;
  }

  /** A connection of the hub's pool for one export's cursor. */
  private async connect(): Promise<CursorConnection> {
    const runner = this.db.ds.createQueryRunner();
    const client = (await runner.connect()) as PoolClient;
    return { client, release: () => runner.release() };
  }
}

/**
 * Runs an export up to its first batch (the query planned, executed and the first rows
 * fetched), so a failure there is still an ordinary error answer rather than a cut-off file.
 */
export async function primeExport<C extends string | Uint8Array>(exp: CsvExport<C>): Promise<CsvExport<C>> {
  const rest = exp.chunks;
  let first: IteratorResult<C> | null = await rest.next();
  // A hand-written iterator rather than a generator: return() must reach the cursor (and free
  // its connection) even when nothing was read yet.
  const chunks: AsyncGenerator<C> = {
    async next() {
      if (first) {
        const r = first;
        first = null;
        return r;
      }
      return rest.next();
    },
    async return(value) {
      first = null;
      return rest.return(value);
    },
    async throw(err) {
      first = null;
      return rest.throw(err);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
    async [Symbol.asyncDispose]() {
      await rest.return(undefined);
    },
  };
  return { header: exp.header, chunks, progress: exp.progress };
}

/**
 * The CSV of an export as a byte stream: the header line, then the records batch by batch
 * (RFC 4180: CRLF line ends, fields quoted by csv-stringify when they need it). Backpressure
 * reaches the cursor: the next batch is fetched only when the consumer took the previous one.
 */
export function csvStream(exp: CsvExport<string | Uint8Array> | CsvExport): Readable {
  async function* chunks(): AsyncGenerator<string | Uint8Array> {
    try {
      yield `${csvRecord(exp.header)}\r\n`;
      yield* exp.chunks;
    } finally {
      // Stopped early (the client went away): end the cursor's transaction, free its connection.
      await exp.chunks.return(undefined);
    }
  }
  const stream = Readable.from(chunks(), { objectMode: false });
  // Destroyed before it was ever read: the generator above never ran, so close the cursor here.
  stream.once('close', () => void exp.chunks.return(undefined).catch(() => undefined));
  return stream;
}

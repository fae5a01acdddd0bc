import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import type { ConnectorCallContext, ExternalAccount, ExternalOrder, ExternalReceivable, ExternalUsage, PullPage, PullProblem } from '../types';
import { listInbox, type InboxFile } from './files';
import { DEFAULT_PAGE_SIZE, type CsvObject, type CsvOptions } from './options';
import { accountFromRow, columnCountProblem, columnIndex, OrderAssembler, receivableFromRow, usageFromRow, type ColumnIndex, type RowProblem } from './rows';
import type { AccountColumn, OrderColumn, ReceivableColumn, UsageColumn } from './options';

/** Files remembered as imported (newest kept); an older one imported again is still a no-op row by row. */
const DONE_KEPT = 2000;

/**
 * Where a pull stands: the hashes of files imported to the end, and inside the file being
 * read, how many data records are handled (`skip`) and the file line reached (`line`, for
 * people watching `syncRuns`).
 */
export interface CsvCursor {
  v: 1;
  done: string[];
  file?: string;
  skip?: number;
  line?: number;
}

export function readCursor(text: string | null): CsvCursor {
  if (!text) return { v: 1, done: [] };
  try {
    const c = JSON.parse(text) as CsvCursor;
    if (c && c.v === 1 && Array.isArray(c.done)) return c;
  } catch {
    /* an unreadable cursor starts over: re-importing is a no-op per row */
  }
  return { v: 1, done: [] };
}

function problemOf(file: InboxFile, object: CsvObject, p: RowProblem): PullProblem {
  return { record: `${object}/${file.name}`, row: p.row, column: p.column, code: p.code, message: p.message };
}

/**
 * Reads the object's pending inbox files oldest first, row by row with csv-parse (streamed,
 * never split by lines), and yields pages of records and per-row problems. A page ends only
 * between orders, and its cursor says how far the file is handled.
 */
export async function* pullCsv<O extends CsvObject>(
  ctx: ConnectorCallContext,
  options: CsvOptions,
  object: O,
  cursorText: string | null,
): AsyncIterable<PullPage<O>> {
  const cursor = readCursor(cursorText);
  const done = new Set(cursor.done);
  const markDone = (sha: string): string => {
    done.add(sha);
    const list = [...done].slice(-DONE_KEPT);
    return JSON.stringify({ v: 1, done: list } satisfies CsvCursor);
  };
  for (const file of await listInbox(options.inboxDir, object)) {
    if (done.has(file.sha256)) continue;
    if (ctx.signal?.aborted) return;
    const skip = cursor.file === file.sha256 ? (cursor.skip ?? 0) : 0;
    ctx.log.info({ file: file.name, sha256: file.sha256, bytes: file.size, resumeAt: skip }, 'csv import: reading file');
    yield* readFile(ctx, options, object, file, skip, () => [...done].slice(-DONE_KEPT), markDone) as AsyncIterable<PullPage<O>>;
  }
}

async function* readFile(
  ctx: ConnectorCallContext,
  options: CsvOptions,
  object: CsvObject,
  file: InboxFile,
  skip: number,
  doneSoFar: () => string[],
  markDone: (sha: string) => string,
): AsyncIterable<PullPage<CsvObject>> {
  const parser = createReadStream(file.path).pipe(
    parse({ delimiter: options.delimiter, bom: true, info: true, relax_column_count: true, skip_empty_lines: true, skip_records_with_error: true }),
  );
  let index = -1; // data records seen (the header is not one)
  const problems: PullProblem[] = [];
  parser.on('skip', (err: Error & { code?: string; lines?: number }) => {
    if (index + 1 < skip) return; // reported by the pull that read it first
    problems.push(problemOf(file, object, { row: err.lines ?? 0, column: null, code: 'MALFORMED_CSV', message: `line ${err.lines}: ${err.message}` }));
  });
  let header: string[] | null = null;
  let cols: ColumnIndex<string> | null = null;
  let assembler: OrderAssembler | null = null;
  let records: (ExternalAccount | ExternalOrder | ExternalUsage | ExternalReceivable)[] = [];
  let line = 0;
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE[object];
  const at = (handled: number) => JSON.stringify({ v: 1, done: doneSoFar(), file: file.sha256, skip: handled, line } satisfies CsvCursor);

  for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    line = info.lines;
    if (!header) {
      header = record.map((h) => h.trim());
      const c = columnIndex(object, header, options.columns[object]);
      cols = c;
      if (c.missing.length) {
        parser.destroy();
        const problem = { row: 1, column: c.missing.join(', '), code: 'MISSING_COLUMN', message: `the header lacks the column${c.missing.length > 1 ? 's' : ''} ${c.missing.map((c) => `"${c}"`).join(', ')}; the file is not imported` };
        yield { records: [], problems: [problemOf(file, object, problem)], cursor: markDone(file.sha256) };
        return;
      }
      if (object === 'orders') assembler = new OrderAssembler(c as unknown as ColumnIndex<OrderColumn>, file.modifiedAt, options.crmSystem);
      continue;
    }
    index++;
    const countProblem = columnCountProblem(line, record, header);
    if (assembler) {
      if (index === skip) assembler.discardOpen();
      const out = assembler.add(index, line, record, countProblem);
      if (index < skip) continue;
      records.push(...out.orders);
      problems.push(...out.problems.map((p) => problemOf(file, object, p)));
    } else {
      if (index < skip) continue;
      const a = countProblem
        ? [countProblem]
        : object === 'usage'
          ? usageFromRow(cols as unknown as ColumnIndex<UsageColumn>, line, record, file.modifiedAt, options.defaultDeployment)
          : object === 'receivables'
            ? receivableFromRow(cols as unknown as ColumnIndex<ReceivableColumn>, line, record, file.modifiedAt)
            : accountFromRow(cols as unknown as ColumnIndex<AccountColumn>, line, record, file.modifiedAt, options.crmSystem);
      if (Array.isArray(a)) problems.push(...a.map((p) => problemOf(file, object, p)));
      else records.push(a);
    }
    if (records.length >= pageSize || problems.length >= pageSize) {
      const handled = assembler ? (assembler.openSince ?? index + 1) : index + 1;
      yield { records, problems: problems.splice(0), cursor: at(handled) };
      records = [];
      if (ctx.signal?.aborted) {
        parser.destroy();
        return;
      }
    }
  }
  if (assembler) {
    const out = assembler.flush();
    if (index >= skip) {
      records.push(...out.orders);
      problems.push(...out.problems.map((p) => problemOf(file, object, p)));
    }
  }
  ctx.log.info({ file: file.name, rows: index + 1 }, 'csv import: file read');
  yield { records, problems: problems.splice(0), cursor: markDone(file.sha256) };
}

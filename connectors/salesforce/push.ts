import { parse as parseCsv } from 'csv-parse/sync';
import type { JobInfoV2 } from 'jsforce/lib/api/bulk2';
import { stringify as stringifyCsv } from 'csv-stringify/sync';
import { ConnectorError, type ConnectorCallContext, type PushBatch, type PushObject, type PushResult } from '../types';
import { isRetryableRecordError } from './errors';
import { queryPages } from './pull';
import type { SalesforceSession } from './session';
import { id18, jsonDecimal, inLists } from './values';
import { Decimal, planWrites, type SfValue, type Write, type WritePlan } from './writes';
import { sleep } from '../abort';

/** sObject Collections take at most 200 records per request. */
const COLLECTION_SIZE = 200;

/** How one write ended. */
type Outcome = { ok: true; targetId: string | null } | { ok: false; errorCode: string; errorMessage: string; retryable: boolean };

interface SaveError {
  statusCode?: string;
  errorCode?: string;
  message?: string;
  fields?: string[];
}
interface SaveResult {
  id?: string | null;
  success: boolean;
  errors?: SaveError[];
}

function failure(errors: SaveError[] | undefined): Outcome {
  const list = errors && errors.length > 0 ? errors : [{ statusCode: 'UNKNOWN_ERROR', message: 'Salesforce reported a failure without an error' }];
  const code = list[0].statusCode ?? list[0].errorCode ?? 'UNKNOWN_ERROR';
  const message = list
    .map((e) => `${e.statusCode ?? e.errorCode ?? 'UNKNOWN_ERROR'}: ${e.message ?? ''}${e.fields && e.fields.length > 0 ? ` (${e.fields.join(', ')})` : ''}`)
    .join('; ');
  return { ok: false, errorCode: code, errorMessage: message, retryable: list.every((e) => isRetryableRecordError(e.statusCode ?? e.errorCode ?? '', e.message ?? '')) };
}

const jsonValue = (v: SfValue): unknown => (v instanceof Decimal ? jsonDecimal(v.text) : v);

/** Bulk API 2.0 CSV: empty leaves a field alone, `#N/A` clears it. */
const csvValue = (v: SfValue | undefined): string =>
  v === undefined ? '' : v === null ? '#N/A' : v instanceof Decimal ? v.text : String(v);

/** Drops create-only fields (the renewal's stage) from writes whose record already exists. */
async function stripCreateOnly(session: SalesforceSession, ctx: ConnectorCallContext, plan: WritePlan): Promise<void> {
  if (plan.createOnlyFields.length === 0 || plan.writes.length === 0) return;
  const existing = new Set<string>();
  for (const list of inLists(plan.writes.map((w) => w.key))) {
    const soql = `SELECT Id, ${plan.keyField} FROM ${plan.sobject} WHERE ${plan.keyField} IN (${list})`;
    for await (const rows of queryPages(session, ctx, soql, { all: false, guard: false })) {
      for (const r of rows) if (typeof r[plan.keyField] === 'string') existing.add(r[plan.keyField] as string);
    }
  }
  for (const w of plan.writes) {
    if (!existing.has(w.key)) continue;
    for (const f of plan.createOnlyFields) delete w.record[f];
  }
}

async function viaCollections(session: SalesforceSession, ctx: ConnectorCallContext, plan: WritePlan, writes: Write[]): Promise<Outcome[]> {
  const base = session.basePath;
  const url =
    plan.operation === 'update' ? `${base}/composite/sobjects` : `${base}/composite/sobjects/${plan.sobject}/${plan.keyField}`;
  const outcomes: Outcome[] = [];
  for (let i = 0; i < writes.length; i += COLLECTION_SIZE) {
    const chunk = writes.slice(i, i + COLLECTION_SIZE);
    const records = chunk.map((w) => {
      const fields = Object.fromEntries(Object.entries(w.record).map(([k, v]) => [k, jsonValue(v)]));
      return plan.operation === 'update'
        ? { attributes: { type: plan.sobject }, id: w.key, ...fields }
        : { attributes: { type: plan.sobject }, ...fields, [plan.keyField]: w.key };
    });
    const res = await session.call(ctx, () => session.conn.requestPatch<SaveResult[]>(url, { allOrNone: false, records }));
    if (!Array.isArray(res) || res.length !== chunk.length) {
      throw new ConnectorError(
        'UNAVAILABLE',
        'UNEXPECTED_RESPONSE',
        `sObject Collections answered ${Array.isArray(res) ? res.length : 'no'} results for ${chunk.length} records`,
      );
    }
    for (const r of res) outcomes.push(r.success ? { ok: true, targetId: r.id ?? null } : failure(r.errors));
  }
  return outcomes;
}

type CsvRow = Record<string, string>;
const readCsv = (text: unknown): CsvRow[] =>
  typeof text === 'string' && text.trim() !== ''
    ? (parseCsv(text, { columns: true, bom: true, skip_empty_lines: true, relax_column_count: true }) as CsvRow[])
    : [];

/** `REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --` → code and message. */
function bulkError(sfError: string | undefined): Outcome {
  const text = sfError ?? '';
  const m = /^([A-Z][A-Z0-9_]*):([\s\S]*)$/.exec(text);
  const code = m ? m[1] : 'UNKNOWN_ERROR';
  const message = m ? m[2] : text;
  return { ok: false, errorCode: code, errorMessage: `${code}: ${message}`, retryable: isRetryableRecordError(code, message) };
}

/** What the engine stores for a closed Bulk API 2.0 job (see `ConnectorCallContext.onSubmitted`). */
interface BulkHandle {
  kind: 'bulk2-ingest';
  jobId: string;
}

function parseHandle(handle: string): BulkHandle {
  let h: unknown;
  try {
    h = JSON.parse(handle);
  } catch {
    h = null;
  }
  const o = h as Partial<BulkHandle> | null;
  if (!o || o.kind !== 'bulk2-ingest' || typeof o.jobId !== 'string' || !/^[A-Za-z0-9]{15,18}$/.test(o.jobId)) {
    throw new ConnectorError('INVALID', 'INVALID_HANDLE', `Not a Salesforce Bulk API 2.0 job handle: ${handle.slice(0, 200)}`);
  }
  return { kind: 'bulk2-ingest', jobId: o.jobId };
}

/**
 * A Bulk API 2.0 ingest job: open, upload the CSV, report the job to the engine
 * (`onSubmitted`), close, then wait for and read its outcome (`collectBulk`). The upload is a
 * plain string PUT through `conn.request` (not `job.uploadData`, whose streamed body cannot be
 * replayed when the session is refreshed mid-call). Until the close, Salesforce does nothing
 * with the data, so a failure before it aborts the job and the batch may be sent again as a
 * new one; from the close on, the job is the only copy: any failure leaves it to
 * `resumePush`, which reads the same job again.
 */
async function viaBulk(session: SalesforceSession, ctx: ConnectorCallContext, plan: WritePlan, writes: Write[]): Promise<Outcome[]> {
  const { conn } = session;
  const columns = [plan.keyField];
  const seen = new Set(columns);
  for (const w of writes) {
    for (const f of Object.keys(w.record)) {
      if (!seen.has(f)) {
        seen.add(f);
        columns.push(f);
      }
    }
  }
  const rows = writes.map((w) => [w.key, ...columns.slice(1).map((c) => csvValue(w.record[c]))]);
  const csv = stringifyCsv([columns, ...rows], { record_delimiter: 'unix' });

  const job = conn.bulk2.createJob({
    object: plan.sobject,
    operation: plan.operation,
    ...(plan.operation === 'upsert' ? { externalIdFieldName: plan.keyField } : {}),
    contentType: 'CSV',
    lineEnding: 'LF',
  });
  await session.call(ctx, () => job.open());
  try {
    await session.call(ctx, () =>
      conn.request({
        method: 'PUT',
        url: `${session.basePath}/jobs/ingest/${job.id}/batches`,
        body: csv,
        headers: { 'Content-Type': 'text/csv' },
      }),
    );
    // Remembered before the close: once closed, Salesforce applies the job on its own.
    const handle: BulkHandle = { kind: 'bulk2-ingest', jobId: job.id };
    await ctx.onSubmitted?.(JSON.stringify(handle), writes.flatMap((w) => w.itemKeys));
  } catch (err) {
    // An open job is never processed: drop it, the batch goes again as a new job.
    job.abort().catch(() => undefined);
    throw err;
  }
  await session.call(ctx, () => job.close());
  return collectBulk(session, ctx, plan, writes, job.id);
}

/**
 * The outcome of a submitted job, read without writing anything: waits (up to bulkTimeoutMs)
 * for a final state, then matches its successful, failed and — for a Failed or Aborted job —
 * unprocessed records to the writes by Id / external id. A job still Open (the hub stopped
 * between reporting and closing it) is aborted: nothing of it was applied. Records the job
 * did not process come back NOT_PROCESSED (retryable), so only they are sent again. Every
 * failure to read throws, leaving the job to be read again later; a job still running after
 * the wait throws BULK_JOB_IN_PROGRESS and is never aborted (it would apply part of the batch).
 */
async function collectBulk(session: SalesforceSession, ctx: ConnectorCallContext, plan: WritePlan, writes: Write[], jobId: string): Promise<Outcome[]> {
  const { conn, options } = session;
  const job = conn.bulk2.job('ingest', { id: jobId });
  const deadline = Date.now() + options.bulkTimeoutMs;
  let info: JobInfoV2;
  for (;;) {
    info = await session.call(ctx, () => job.check());
    if (info.state === 'JobComplete' || info.state === 'Failed' || info.state === 'Aborted') break;
    if (info.state === 'Open') {
      await session.call(ctx, () => job.abort());
      continue; // read the state again: Aborted, or already closed by a call that got through
    }
    if (Date.now() >= deadline) {
      throw new ConnectorError(
        'UNAVAILABLE',
        'BULK_JOB_IN_PROGRESS',
        `Bulk API job ${jobId} still ${info.state} after ${options.bulkTimeoutMs} ms; its outcome is read again later`,
        options.bulkPollIntervalMs,
      );
    }
    await sleep(options.bulkPollIntervalMs, ctx.signal);
    session.checkUsable(ctx);
  }

  const complete = info.state === 'JobComplete';
  const successes = readCsv(await session.call(ctx, () => job.getSuccessfulResults(true)));
  // skipped only when the job says for certain that nothing failed
  const failures = !complete || info.numberRecordsFailed !== 0 ? readCsv(await session.call(ctx, () => job.getFailedResults(true))) : [];
  const unprocessed = complete ? [] : readCsv(await session.call(ctx, () => job.getUnprocessedRecords(true)));

  const norm = (k: string): string => (plan.operation === 'update' ? id18(k).toLowerCase() : k);
  const notProcessed = (why: string): Outcome => ({ ok: false, errorCode: 'NOT_PROCESSED', errorMessage: why, retryable: true });
  const byKey = new Map<string, Outcome>();
  const ended = `Bulk API job ${jobId} ended ${info.state}${info.errorMessage ? ` (${info.errorMessage})` : ''}`;
  for (const r of unprocessed) byKey.set(norm(r[plan.keyField] ?? ''), notProcessed(`${ended} before processing this record`));
  for (const r of successes) byKey.set(norm(r[plan.keyField] ?? r.sf__Id ?? ''), { ok: true, targetId: r.sf__Id || null });
  for (const r of failures) byKey.set(norm(r[plan.keyField] ?? r.sf__Id ?? ''), bulkError(r.sf__Error));
  if (!complete) ctx.log.warn({ jobId, state: info.state, processed: successes.length + failures.length, unprocessed: unprocessed.length }, 'salesforce bulk job did not complete; unprocessed records are sent again');
  return writes.map((w) => byKey.get(norm(w.key)) ?? notProcessed(`${ended} and returned no result for ${w.key}`));
}

/**
 * A push: plans the writes, then sends them through sObject Collections (≤ bulkThreshold
 * items) or a Bulk API 2.0 job, and answers every item exactly once.
 */
export async function pushBatch<O extends PushObject>(session: SalesforceSession, ctx: ConnectorCallContext, batch: PushBatch<O>): Promise<PushResult[]> {
  session.checkUsable(ctx);
  session.guardBudget();
  const plan = planWrites(session.options, batch);
  const results: PushResult[] = [...plan.refused];
  if (plan.writes.length === 0) return results;

  await stripCreateOnly(session, ctx, plan);
  // writes with nothing to set (every mapped field disabled) need no call
  const writes = plan.writes.filter((w) => {
    if (plan.stampField) w.record[plan.stampField] = new Date().toISOString();
    if (Object.keys(w.record).length > 0 || plan.operation === 'upsert') return true;
    for (const key of w.itemKeys) results.push({ key, ok: true, targetId: w.key });
    return false;
  });
  if (writes.length === 0) return results;

  const outcomes =
    batch.items.length > session.options.bulkThreshold
      ? await viaBulk(session, ctx, plan, writes)
      : await viaCollections(session, ctx, plan, writes);
  answer(plan, writes, outcomes, results);
  return results;
}

/** One result per item of each write, from the write's outcome. */
function answer(plan: WritePlan, writes: Write[], outcomes: Outcome[], results: PushResult[]): void {
  writes.forEach((w, i) => {
    const o = outcomes[i];
    for (const key of w.itemKeys) {
      results.push(
        o.ok
          ? { key, ok: true, targetId: o.targetId ?? (plan.operation === 'update' ? w.key : null) }
          : { key, ok: false, errorCode: o.errorCode, errorMessage: o.errorMessage, retryable: o.retryable },
      );
    }
  });
}

/**
 * The outcome of a batch already handed to Salesforce as a bulk job (`handle`), read from
 * that job; nothing is written. `batch` holds the items as they were sent, so the writes (and
 * which items each answers) are planned exactly as they were then.
 */
export async function resumeBatch<O extends PushObject>(session: SalesforceSession, ctx: ConnectorCallContext, batch: PushBatch<O>, handle: string): Promise<PushResult[]> {
  const { jobId } = parseHandle(handle);
  session.checkUsable(ctx);
  const plan = planWrites(session.options, batch);
  const results: PushResult[] = [...plan.refused];
  // as in pushBatch: a write with nothing to set was answered without a call
  const writes = plan.writes.filter((w) => {
    if (plan.stampField || Object.keys(w.record).length > 0 || plan.operation === 'upsert') return true;
    for (const key of w.itemKeys) results.push({ key, ok: true, targetId: w.key });
    return false;
  });
  if (writes.length === 0) return results;
  answer(plan, writes, await collectBulk(session, ctx, plan, writes, jobId), results);
  return results;
}

import { parse as parseCsv } from 'csv-parse/sync';
import type { JobInfoV2 } from 'jsforce/lib/api/bulk2';
import { stringify as stringifyCsv } from 'csv-stringify/sync';
import { ConnectorError, type ConnectorCallContext, type PushBatch, type PushObject, type PushResult } from '../types';
import { isRetryableRecordError } from './errors';
import { queryPages } from './pull';
import type { SalesforceSession } from './session';
import { id18, jsonDecimal, inLists } from './values';
import { Decimal, planWrites, type SfValue, type Write, type WritePlan } from './writes';

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

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

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

/**
 * A Bulk API 2.0 ingest job: open, upload the CSV, close, poll, read the results and match
 * them to the writes by Id / external id. The upload is a plain string PUT through
 * `conn.request` (not `job.uploadData`, whose streamed body cannot be replayed when the
 * session is refreshed mid-call). A Failed or Aborted job throws UNAVAILABLE so the engine
 * resends the batch (every write is idempotent).
 */
async function viaBulk(session: SalesforceSession, ctx: ConnectorCallContext, plan: WritePlan, writes: Write[]): Promise<Outcome[]> {
  const { conn, options } = session;
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
  const abort = (): void => {
    job.abort().catch(() => undefined);
  };
  let info: JobInfoV2 | undefined;
  try {
    await session.call(ctx, () =>
      conn.request({
        method: 'PUT',
        url: `${session.basePath}/jobs/ingest/${job.id}/batches`,
        body: csv,
        headers: { 'Content-Type': 'text/csv' },
      }),
    );
    await session.call(ctx, () => job.close());
    const deadline = Date.now() + options.bulkTimeoutMs;
    for (;;) {
      info = await session.call(ctx, () => job.check());
      if (info.state === 'JobComplete') break;
      if (info.state === 'Failed' || info.state === 'Aborted') {
        throw new ConnectorError(
          'UNAVAILABLE',
          info.state === 'Failed' ? 'BULK_JOB_FAILED' : 'BULK_JOB_ABORTED',
          `Bulk API job ${job.id} ended ${info.state}${info.errorMessage ? `: ${info.errorMessage}` : ''}`,
        );
      }
      if (Date.now() >= deadline) {
        abort();
        throw new ConnectorError('UNAVAILABLE', 'BULK_JOB_TIMEOUT', `Bulk API job ${job.id} still ${info.state} after ${options.bulkTimeoutMs} ms`);
      }
      await sleep(options.bulkPollIntervalMs, ctx.signal);
    }
  } catch (err) {
    // an open job left behind would hold the upload; a finished or failed one needs nothing
    if (err instanceof ConnectorError && (err.code === 'BULK_JOB_FAILED' || err.code === 'BULK_JOB_ABORTED' || err.kind === 'RATE_LIMITED' || err.kind === 'AUTH')) throw err;
    if (!info) abort();
    throw err;
  }

  const successes = readCsv(await session.call(ctx, () => job.getSuccessfulResults(true)));
  // skipped only when the job says for certain that nothing failed
  const failures = info.numberRecordsFailed !== 0 ? readCsv(await session.call(ctx, () => job.getFailedResults(true))) : [];

  const norm = (k: string): string => (plan.operation === 'update' ? id18(k).toLowerCase() : k);
  const byKey = new Map<string, Outcome>();
  for (const r of successes) byKey.set(norm(r[plan.keyField] ?? r.sf__Id ?? ''), { ok: true, targetId: r.sf__Id || null });
  for (const r of failures) byKey.set(norm(r[plan.keyField] ?? r.sf__Id ?? ''), bulkError(r.sf__Error));
  return writes.map(
    (w) =>
      byKey.get(norm(w.key)) ?? {
        ok: false,
        errorCode: 'NOT_PROCESSED',
        errorMessage: `Bulk API job ${job.id} returned no result for ${w.key}`,
        retryable: true,
      },
  );
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
  return results;
}

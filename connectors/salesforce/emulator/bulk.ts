import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { Clock, formatDatetime } from './clock';
import { ApiError, NOT_FOUND_MESSAGE, type SfError } from './errors';
import type { FaultController } from './faults';
import { findField, findSObject, type FieldDef, type SObjectDef } from './schema';
import { TypeMismatch, xsdTypeOf, type PreparedInput, type Store, type WriteContext, type WriteOutcome } from './store';
import type { FieldValue } from './types';

/**
 * Bulk API 2.0 ingest jobs: create (Open) → upload CSV → UploadComplete → InProgress →
 * JobComplete | Failed | Aborted, with successful / failed / unprocessed record results as
 * CSV. Rows are applied through the same store write paths as REST, in slices so the server
 * keeps answering (and polling sees InProgress) while a large job runs.
 */

type Operation = 'insert' | 'update' | 'upsert' | 'delete';
type JobState = 'Open' | 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted';

const DELIMITERS: Record<string, string> = { COMMA: ',', TAB: '\t', PIPE: '|', SEMICOLON: ';', CARET: '^', BACKQUOTE: '`' };
const SLICE = 5000;

interface RowOutcome {
  id: string;
  created: boolean;
  error?: string;
}

interface IngestJob {
  id: string;
  obj: SObjectDef;
  operation: Operation;
  externalIdField?: FieldDef;
  lineEnding: 'LF' | 'CRLF';
  columnDelimiter: string;
  state: JobState;
  createdById: string;
  createdDate: string;
  systemModstamp: string;
  apiVersion: string;
  uploads: Buffer[];
  header: string[];
  rows: string[][];
  outcomes: Array<RowOutcome | undefined>;
  processed: number;
  failed: number;
  errorMessage?: string;
  startedAt?: number;
  finishedAt?: number;
  /** Who closed it (the rows are written as that user). */
  userId?: string;
  timer?: NodeJS.Timeout;
}

function jobError(status: number, errorCode: string, message: string): ApiError {
  return ApiError.of(status, errorCode, message);
}

/** Salesforce's failed-result text: `CODE:message:fields --`. */
function errorText(e: SfError): string {
  const fields = e.fields?.length ? `${e.fields.join(',')} ` : '';
  return `${e.errorCode}:${e.message}:${fields}--`;
}

export class BulkIngest {
  private readonly jobs = new Map<string, IngestJob>();
  /** While true, closed jobs wait in UploadComplete (see SalesforceEmulator.holdBulkJobs). */
  private held = false;

  constructor(
    private readonly store: Store,
    private readonly faults: FaultController,
    private readonly clock: Clock,
    private readonly processingDelay: () => number,
  ) {}

  create(body: unknown, version: string, userId: string): Record<string, unknown> {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw jobError(400, 'JSON_PARSER_ERROR', 'The request body must be a JSON object');
    const b = body as Record<string, unknown>;
    const obj = findSObject(String(b.object ?? ''));
    if (!obj) throw jobError(400, 'INVALIDENTITY', `Entity '${String(b.object ?? '')}' is not supported by the Bulk API.`);
    const operation = String(b.operation ?? '');
    if (!['insert', 'update', 'upsert', 'delete'].includes(operation)) {
      throw jobError(400, 'INVALIDJOB', `InvalidJob : Invalid operation: ${operation || '(none)'}. The emulator supports insert, update, upsert and delete.`);
    }
    if (b.contentType !== undefined && b.contentType !== 'CSV') throw jobError(400, 'INVALIDJOB', 'InvalidJob : contentType must be CSV');
    const lineEnding = String(b.lineEnding ?? 'LF');
    if (lineEnding !== 'LF' && lineEnding !== 'CRLF') throw jobError(400, 'INVALIDJOB', `InvalidJob : Invalid lineEnding: ${lineEnding}`);
    const columnDelimiter = String(b.columnDelimiter ?? 'COMMA');
    if (!DELIMITERS[columnDelimiter]) throw jobError(400, 'INVALIDJOB', `InvalidJob : Invalid columnDelimiter: ${columnDelimiter}`);
    let externalIdField: FieldDef | undefined;
    if (operation === 'upsert') {
      const name = String(b.externalIdFieldName ?? '');
      if (!name) throw jobError(400, 'INVALIDJOB', `InvalidJob : External ID was blank for ${obj.name}. An External ID must be specified for upsert.`);
      externalIdField = findField(obj, name);
      if (!externalIdField || !(externalIdField.externalId || externalIdField.name === 'Id')) {
        throw jobError(400, 'INVALIDJOB', `InvalidJob : Field name provided, ${name} does not match an External ID, Salesforce Id, or indexed field for ${obj.name}`);
      }
    }
    const now = formatDatetime(this.clock.nowMs());
    const job: IngestJob = {
      id: this.store.ids.next('750'),
      obj,
      operation: operation as Operation,
      externalIdField,
      lineEnding,
      columnDelimiter,
      state: 'Open',
      createdById: userId,
      createdDate: now,
      systemModstamp: now,
      apiVersion: version,
      uploads: [],
      header: [],
      rows: [],
      outcomes: [],
      processed: 0,
      failed: 0,
    };
    this.jobs.set(job.id, job);
    return this.info(job, true);
  }

  private job(id: string): IngestJob {
    const job = this.jobs.get(id);
    if (!job) throw jobError(404, 'NOT_FOUND', NOT_FOUND_MESSAGE);
    return job;
  }

  upload(id: string, data: Buffer): void {
    const job = this.job(id);
    if (job.state !== 'Open') throw jobError(409, 'INVALIDJOBSTATE', `Job ${id} is not open for data uploads (state ${job.state})`);
    job.uploads.push(data);
  }

  setState(id: string, body: unknown, sessionUserId: string): Record<string, unknown> {
    const job = this.job(id);
    const state = body && typeof body === 'object' ? (body as Record<string, unknown>).state : undefined;
    if (state === 'UploadComplete') {
      if (job.state !== 'Open') throw jobError(409, 'INVALIDJOBSTATE', `Job ${id} is not Open (state ${job.state})`);
      job.state = 'UploadComplete';
      job.userId = sessionUserId;
      this.touch(job);
      if (!this.held) job.timer = setTimeout(() => this.start(job, sessionUserId), this.processingDelay());
    } else if (state === 'Aborted') {
      if (job.state !== 'Open' && job.state !== 'UploadComplete' && job.state !== 'InProgress') {
        throw jobError(409, 'INVALIDJOBSTATE', `Job ${id} can no longer be aborted (state ${job.state})`);
      }
      if (job.timer) clearTimeout(job.timer);
      job.state = 'Aborted';
      this.touch(job);
    } else {
      throw jobError(400, 'INVALIDJOBSTATE', `Invalid state: ${String(state)}. Use UploadComplete or Aborted.`);
    }
    return this.info(job, false);
  }

  hold(held: boolean): void {
    this.held = held;
    if (held) return;
    for (const job of this.jobs.values()) {
      if (job.state === 'UploadComplete' && !job.timer) job.timer = setTimeout(() => this.start(job, job.userId ?? job.createdById), this.processingDelay());
    }
  }

  get(id: string): Record<string, unknown> {
    return this.info(this.job(id), false);
  }

  list(): Record<string, unknown> {
    return { done: true, records: [...this.jobs.values()].map((j) => this.info(j, false)), nextRecordsUrl: null };
  }

  delete(id: string): void {
    const job = this.job(id);
    if (job.state === 'Open' || job.state === 'InProgress') {
      throw jobError(409, 'INVALIDJOBSTATE', `Job ${id} can't be deleted in state ${job.state}; abort it first`);
    }
    if (job.timer) clearTimeout(job.timer);
    this.jobs.delete(id);
  }

  successfulResults(id: string): string {
    const job = this.job(id);
    const rows: string[][] = [];
    job.outcomes.forEach((o, i) => {
      if (o && !o.error) rows.push([o.id, String(o.created), ...job.rows[i]]);
    });
    return stringify([['sf__Id', 'sf__Created', ...job.header], ...rows], { quoted: true, record_delimiter: 'unix' });
  }

  failedResults(id: string): string {
    const job = this.job(id);
    const rows: string[][] = [];
    job.outcomes.forEach((o, i) => {
      if (o?.error) rows.push([o.id, o.error, ...job.rows[i]]);
    });
    return stringify([['sf__Id', 'sf__Error', ...job.header], ...rows], { quoted: true, record_delimiter: 'unix' });
  }

  unprocessedRecords(id: string): string {
    const job = this.job(id);
    if (!job.header.length && job.uploads.length) this.parse(job);
    const rows: string[][] = [];
    job.rows.forEach((r, i) => {
      if (!job.outcomes[i]) rows.push(r);
    });
    return stringify([job.header, ...rows], { quoted: true, record_delimiter: 'unix' });
  }

  close(): void {
    for (const j of this.jobs.values()) if (j.timer) clearTimeout(j.timer);
  }

  count(): number {
    return this.jobs.size;
  }

  // ───────────────────────────────────────────── processing

  private touch(job: IngestJob): void {
    job.systemModstamp = formatDatetime(this.clock.nowMs());
  }

  private fail(job: IngestJob, message: string): void {
    job.state = 'Failed';
    job.errorMessage = message;
    job.finishedAt = Date.now();
    this.touch(job);
  }

  /** Parses the uploaded CSV into header and rows; returns an error message or null. */
  private parse(job: IngestJob): string | null {
    const text = Buffer.concat(job.uploads).toString('utf8');
    job.uploads = [];
    let records: string[][];
    try {
      records = parse(text, { delimiter: DELIMITERS[job.columnDelimiter], bom: true, skip_empty_lines: true, relax_column_count: false }) as string[][];
    } catch (e) {
      return `InvalidBatch : Failed to parse CSV: ${e instanceof Error ? e.message : String(e)}`;
    }
    if (!records.length) return 'InvalidBatch : No data found in the uploaded content';
    job.header = records[0];
    job.rows = records.slice(1);
    return null;
  }

  private start(job: IngestJob, userId: string): void {
    job.timer = undefined;
    if (job.state !== 'UploadComplete') return;
    job.state = 'InProgress';
    job.startedAt = Date.now();
    this.touch(job);
    const parseError = this.parse(job);
    if (parseError) return this.fail(job, parseError);
    const failAfter = this.faults.takeBulkFailure();
    const failMessage = 'InternalServerError : An internal error occurred while processing the job (emulated fault)';
    if (failAfter === 0) return this.fail(job, failMessage);
    const columns: Array<FieldDef | undefined> = [];
    for (const name of job.header) {
      const f = findField(job.obj, name);
      if (!f) return this.fail(job, `InvalidBatch : Field name not found : ${name}`);
      if (columns.includes(f)) return this.fail(job, `InvalidBatch : Duplicate field name: ${name}`);
      columns.push(f);
    }
    const idCol = columns.findIndex((f) => f?.name === 'Id');
    const extCol = job.externalIdField ? columns.indexOf(job.externalIdField) : -1;
    if (job.operation === 'upsert' && extCol < 0) {
      return this.fail(job, `InvalidBatch : Field name not found : ${job.externalIdField?.name ?? ''}`);
    }
    if ((job.operation === 'update' || job.operation === 'delete') && idCol < 0) {
      return this.fail(job, 'InvalidBatch : Field name not found : Id');
    }
    job.outcomes = new Array<RowOutcome | undefined>(job.rows.length);
    const ctx: WriteContext = { source: 'bulk', userId, recordFault: this.faults.recordFault };
    let next = 0;
    const step = (): void => {
      job.timer = undefined;
      if (job.state !== 'InProgress') return;
      const end = Math.min(job.rows.length, next + SLICE, failAfter ?? Number.POSITIVE_INFINITY);
      for (; next < end; next++) {
        const out = this.applyRow(job, columns, idCol, extCol, job.rows[next], ctx);
        job.outcomes[next] = out;
        job.processed++;
        if (out.error) job.failed++;
      }
      this.touch(job);
      // an emulated failure part way: the rows after it stay unprocessed
      if (failAfter !== null && next >= failAfter && next < job.rows.length) return this.fail(job, failMessage);
      if (next < job.rows.length) {
        job.timer = setTimeout(step, 0);
        return;
      }
      job.state = 'JobComplete';
      job.finishedAt = Date.now();
    };
    step();
  }

  private applyRow(job: IngestJob, columns: Array<FieldDef | undefined>, idCol: number, extCol: number, row: string[], ctx: WriteContext): RowOutcome {
    const rowId = idCol >= 0 ? (row[idCol] ?? '') : '';
    const failed = (e: SfError, id = ''): RowOutcome => ({ id, created: false, error: errorText(e) });
    if (job.operation === 'delete') {
      if (!rowId) return failed({ errorCode: 'MISSING_ARGUMENT', message: 'Id not specified in a delete call', fields: [] });
      return this.outcome(this.store.remove(job.obj, rowId, ctx), rowId);
    }
    const prepared: PreparedInput = { values: [], errors: [] };
    for (let c = 0; c < columns.length; c++) {
      const f = columns[c] as FieldDef;
      const raw = row[c] ?? '';
      // Bulk API 2.0: an empty cell leaves the field unchanged; #N/A sets it to null.
      if (raw === '' || (c === idCol && job.operation !== 'insert') || c === extCol) continue;
      const v = this.store.coerce(f, raw, 'csv');
      if (v instanceof TypeMismatch) {
        prepared.errors.push({
          errorCode: 'INVALID_FIELD',
          message: `Failed to deserialize field at col ${c + 1}. Due to, '${raw}' is not a valid value for the type ${xsdTypeOf(f)}`,
          fields: [f.name],
        });
      } else if (v !== null && typeof v === 'object') prepared.errors.push(v);
      else prepared.values.push([f, v as FieldValue]);
    }
    if (job.operation === 'insert') {
      if (idCol >= 0 && rowId) prepared.values.push([columns[idCol] as FieldDef, rowId]);
      return this.outcome(this.store.insert(job.obj, prepared, ctx), '');
    }
    if (job.operation === 'update') {
      if (!rowId) return failed({ errorCode: 'MISSING_ARGUMENT', message: 'Id not specified in an update call', fields: [] });
      return this.outcome(this.store.update(job.obj, rowId, prepared, ctx), rowId);
    }
    const extField = job.externalIdField as FieldDef;
    const extValue = row[extCol] ?? '';
    if (!extValue) return failed({ errorCode: 'MISSING_ARGUMENT', message: `${extField.name} not specified`, fields: [extField.name] });
    if (extField.name !== 'Id' && idCol >= 0 && rowId) prepared.values.push([columns[idCol] as FieldDef, rowId]);
    const res = this.store.upsert(job.obj, extField, extValue, prepared, ctx);
    if ('multiple' in res) {
      return failed({ errorCode: 'DUPLICATE_EXTERNAL_ID', message: `${extField.name}: more than one record found for external id field: [${res.multiple.join(', ')}]`, fields: [extField.name] });
    }
    return this.outcome(res, '');
  }

  private outcome(res: WriteOutcome, fallbackId: string): RowOutcome {
    if (res.ok) return { id: res.id, created: res.created };
    return { id: res.id ?? fallbackId, created: false, error: errorText(res.errors[0]) };
  }

  private info(job: IngestJob, withContentUrl: boolean): Record<string, unknown> {
    const info: Record<string, unknown> = {
      id: job.id,
      operation: job.operation,
      object: job.obj.name,
      createdById: job.createdById,
      createdDate: job.createdDate,
      systemModstamp: job.systemModstamp,
      state: job.state,
    };
    if (job.externalIdField) info.externalIdFieldName = job.externalIdField.name;
    Object.assign(info, {
      concurrencyMode: 'Parallel',
      contentType: 'CSV',
      apiVersion: Number(job.apiVersion),
      jobType: 'V2Ingest',
      lineEnding: job.lineEnding,
      columnDelimiter: job.columnDelimiter,
    });
    if (withContentUrl || job.state === 'Open') info.contentUrl = `services/data/v${job.apiVersion}/jobs/ingest/${job.id}/batches`;
    const elapsed = job.startedAt ? (job.finishedAt ?? Date.now()) - job.startedAt : 0;
    Object.assign(info, {
      numberRecordsProcessed: job.processed,
      numberRecordsFailed: job.failed,
      retries: 0,
      totalProcessingTime: elapsed,
      apiActiveProcessingTime: elapsed,
      apexProcessingTime: 0,
    });
    if (job.errorMessage) info.errorMessage = job.errorMessage;
    return info;
  }
}

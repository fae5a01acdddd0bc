/**
 * The CSV connector: for ERPs without an API the hub speaks. Customers, orders (one row per
 * order line) and usage (one row per observation) arrive as CSV files — dropped into a watched folder (`inboxDir/<object>/`) or
 * uploaded to `POST /v1/imports/<connection>/<object>`, which stores them there — and are
 * pulled oldest first, streamed through csv-parse, with a per-object column mapping. Bad rows
 * are reported with their row, column and a code; good rows are applied; an order with a bad
 * row is refused whole. The synced fields go out as one CSV file per push in `outboxDir`.
 * See docs/csv-import.md.
 */
import { access, constants, mkdir } from 'node:fs/promises';
import {
  type Connector,
  type ConnectorCallContext,
  type ConnectorConfig,
  type ConnectorFactory,
  type ConnectorStats,
  type HealthReport,
  type PullObject,
  type PullPage,
  type PullRequest,
  type PushBatch,
  type PushObject,
  type PushResult,
} from '../types';
import { CSV_OBJECTS, parseOptions, validateConfig, type CsvObject, type CsvOptions } from './options';
import { objectDir } from './files';
import { pullCsv } from './pull';
import { pushCsv } from './push';

export { storeUpload } from './files';
export { CSV_OBJECTS, parseOptions, type CsvObject } from './options';

const PUSHES = ['account-fields', 'renewal-opportunity', 'entitlement', 'usage-record', 'journal-entry'] as const;

export class CsvConnector implements Connector {
  readonly type = 'csv';
  private files = 0;

  constructor(readonly options: CsvOptions) {}

  async healthCheck(): Promise<HealthReport> {
    const problems: string[] = [];
    for (const object of CSV_OBJECTS) {
      try {
        await mkdir(objectDir(this.options.inboxDir, object), { recursive: true });
        await access(objectDir(this.options.inboxDir, object), constants.R_OK | constants.W_OK);
      } catch (err) {
        problems.push(`inbox ${objectDir(this.options.inboxDir, object)}: ${(err as Error).message}`);
      }
    }
    if (this.options.outboxDir) {
      try {
        await mkdir(this.options.outboxDir, { recursive: true });
        await access(this.options.outboxDir, constants.W_OK);
      } catch (err) {
        problems.push(`outbox ${this.options.outboxDir}: ${(err as Error).message}`);
      }
    }
    return {
      ok: problems.length === 0,
      message: problems.length ? problems.join('; ') : `Reading ${this.options.inboxDir}${this.options.outboxDir ? `, writing ${this.options.outboxDir}` : ''}`,
      apiUsage: null,
    };
  }

  async *pull<O extends PullObject>(ctx: ConnectorCallContext, request: PullRequest & { object: O }): AsyncIterable<PullPage<O>> {
    if (!(CSV_OBJECTS as readonly string[]).includes(request.object)) return;
    yield* pullCsv(ctx, this.options, request.object as CsvObject, request.cursor) as AsyncIterable<PullPage<O>>;
  }

  async push<O extends PushObject>(_ctx: ConnectorCallContext, batch: PushBatch<O>): Promise<PushResult[]> {
    const results = await pushCsv(this.options, batch as PushBatch);
    if (results.length) this.files++;
    return results;
  }

  stats(): ConnectorStats {
    // A file written counts as the one "call" a push makes.
    return { apiCalls: this.files, apiUsage: null };
  }

  async close(): Promise<void> {}
}

export const csvConnector: ConnectorFactory = {
  type: 'csv',
  description: 'CSV files: customers, orders, receivables (invoices, credit memos, payments) and usage from a watched folder or HTTP upload; synced fields, usage records and journal entries out as CSV files',
  pulls: CSV_OBJECTS,
  pushes: PUSHES,
  validate: (config: ConnectorConfig) => validateConfig(config),
  create: (config: ConnectorConfig) => new CsvConnector(parseOptions(config.options)),
};

/**
 * The NetSuite connector (SuiteTalk REST web services, `client.ts`): pulls customers,
 * contacts, sales orders with their item lines and receivables (invoices, credit memos,
 * payments) incrementally through SuiteQL, and pushes account fields, usage records for
 * billing and revenue journal entries. See docs/adr/0025-netsuite-client.md.
 */
import {
  ConnectorError,
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
import { NetSuiteClient, type NetSuiteAuth, type NetSuiteClientOptions } from './client';
import { parseConfig, type NetSuiteCredentials, type NetSuiteOptions } from './options';
import { pullPages } from './pull';
import { pushBatch } from './push';

const PULLS = ['accounts', 'contacts', 'orders', 'receivables'] as const;
const PUSHES = ['account-fields', 'usage-record', 'journal-entry'] as const;

export class NetSuiteConnector implements Connector {
  readonly type = 'netsuite';
  readonly client: NetSuiteClient;

  constructor(
    readonly options: NetSuiteOptions,
    credentials: NetSuiteCredentials,
    /** Tests: the emulator's clock and faster backoff. */
    clientOverrides: Partial<NetSuiteClientOptions> = {},
  ) {
    const auth: NetSuiteAuth =
      options.authMode === 'm2m'
        ? { mode: 'm2m', clientId: credentials.clientId!, certificateId: credentials.certificateId!, privateKey: credentials.privateKey! }
        : { mode: 'tba', consumerKey: credentials.consumerKey!, consumerSecret: credentials.consumerSecret!, tokenId: credentials.tokenId!, tokenSecret: credentials.tokenSecret! };
    this.client = new NetSuiteClient({
      accountId: options.accountId,
      baseUrl: options.baseUrl,
      auth,
      concurrency: options.concurrency,
      maxAttempts: options.maxAttempts,
      requestTimeoutMs: options.requestTimeoutMs,
      ...clientOverrides,
    });
  }

  async healthCheck(ctx: ConnectorCallContext): Promise<HealthReport> {
    try {
      await this.client.suiteql('SELECT id FROM subsidiary ORDER BY id', { limit: 1, signal: ctx.signal });
      return { ok: true, message: `Authenticated to ${this.client.baseUrl} (account ${this.options.accountId}, ${this.options.authMode})`, apiUsage: null };
    } catch (err) {
      const e = err instanceof ConnectorError ? err : new ConnectorError('UNAVAILABLE', 'UNEXPECTED', String(err));
      ctx.log.warn({ err: { kind: e.kind, code: e.code, message: e.message } }, 'netsuite health check failed');
      return { ok: false, message: `NetSuite ${e.kind.toLowerCase()} (${e.code}): ${e.message}`, apiUsage: null };
    }
  }

  pull<O extends PullObject>(ctx: ConnectorCallContext, request: PullRequest & { object: O }): AsyncIterable<PullPage<O>> {
    return pullPages(this.client, ctx, this.options, request.object, request.cursor) as AsyncIterable<PullPage<O>>;
  }

  async push<O extends PushObject>(ctx: ConnectorCallContext, batch: PushBatch<O>): Promise<PushResult[]> {
    const results = await pushBatch(this.client, ctx, this.options, batch as PushBatch<PushObject>, () => new Date());
    ctx.log.debug({ object: batch.object, items: batch.items.length, failed: results.filter((r) => !r.ok).length }, 'netsuite push done');
    return results;
  }

  stats(): ConnectorStats {
    return { apiCalls: this.client.apiCalls, apiUsage: null };
  }

  async close(): Promise<void> {
    /* fetch keeps no state of ours */
  }
}

/** The NetSuite connector factory (type `netsuite`). */
export const netsuiteConnector: ConnectorFactory = {
  type: 'netsuite',
  description: 'Oracle NetSuite ERP (SuiteTalk REST): pulls customers, contacts, sales orders and receivables; pushes account fields, usage records and journal entries.',
  pulls: PULLS,
  pushes: PUSHES,
  validate(config: ConnectorConfig) {
    return parseConfig(config).problems;
  },
  create(config: ConnectorConfig): Connector {
    const { problems, parsed } = parseConfig(config);
    if (!parsed) throw new ConnectorError('INVALID', 'INVALID_OPTIONS', `Invalid NetSuite connection: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`);
    return new NetSuiteConnector(parsed.options, parsed.credentials);
  },
};

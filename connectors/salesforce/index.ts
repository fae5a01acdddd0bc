/**
 * The Salesforce connector (jsforce 3): pulls Accounts, Contacts and Opportunities with their
 * line items incrementally by (SystemModstamp, Id) through queryAll, and pushes account
 * fields, renewal and true-up opportunities and entitlement records through sObject Collections or, for
 * large batches, Bulk API 2.0. Options and credentials: see docs/salesforce-setup.md.
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
import { parseConfig, type SalesforceCredentials, type SalesforceOptions } from './options';
import { pullPages } from './pull';
import { pushBatch, resumeBatch } from './push';
import type { SalesforceSession } from './session';


const PULLS = ['accounts', 'contacts', 'orders'] as const;
const PUSHES = ['account-fields', 'renewal-opportunity', 'trueup-opportunity', 'entitlement', 'support-entitlement'] as const;

/** A connector bound to one org; see the module doc. */
export class SalesforceConnector implements Connector {
  readonly type = 'salesforce';
  private readonly session: SalesforceSession;

  constructor(options: SalesforceOptions, credentials: SalesforceCredentials) {
    // jsforce loads with the first Salesforce connection, not with every hub and CLI start (~0.3 s).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { SalesforceSession: Session } = require('./session') as typeof import('./session');
    this.session = new Session(options, credentials);
  }

  async healthCheck(ctx: ConnectorCallContext): Promise<HealthReport> {
    const s = this.session;
    try {
      const limits = await s.call(ctx, () => s.conn.limits());
      const daily = limits?.DailyApiRequests;
      if (daily && typeof daily.Max === 'number' && typeof daily.Remaining === 'number' && !s.apiUsage) {
        s.apiUsage = { used: daily.Max - daily.Remaining, limit: daily.Max };
      }
      const u = s.apiUsage;
      return {
        ok: true,
        message: `Authenticated to ${s.conn.instanceUrl} (API v${s.options.apiVersion})${u ? `; API requests today ${u.used}/${u.limit}` : ''}`,
        apiUsage: u,
      };
    } catch (err) {
      const e = err instanceof ConnectorError ? err : new ConnectorError('UNAVAILABLE', 'UNEXPECTED', String(err));
      ctx.log.warn({ err: { kind: e.kind, code: e.code, message: e.message } }, 'salesforce health check failed');
      return { ok: false, message: `Salesforce ${e.kind.toLowerCase()} (${e.code}): ${e.message}`, apiUsage: s.apiUsage };
    }
  }

  pull<O extends PullObject>(ctx: ConnectorCallContext, request: PullRequest & { object: O }): AsyncIterable<PullPage<O>> {
    return pullPages(this.session, ctx, request.object, request.cursor);
  }

  async push<O extends PushObject>(ctx: ConnectorCallContext, batch: PushBatch<O>): Promise<PushResult[]> {
    const results = await pushBatch(this.session, ctx, batch);
    const failed = results.filter((r) => !r.ok).length;
    ctx.log.debug({ object: batch.object, items: batch.items.length, failed }, 'salesforce push done');
    return results;
  }

  async resumePush<O extends PushObject>(ctx: ConnectorCallContext, batch: PushBatch<O>, handle: string): Promise<PushResult[]> {
    const results = await resumeBatch(this.session, ctx, batch, handle);
    ctx.log.debug({ object: batch.object, items: batch.items.length, handle }, 'salesforce bulk job read');
    return results;
  }

  stats(): ConnectorStats {
    return { apiCalls: this.session.apiCalls, apiUsage: this.session.apiUsage ? { ...this.session.apiUsage } : null };
  }

  async close(): Promise<void> {
    this.session.close();
  }
}

/** The Salesforce connector factory (type `salesforce`). */
export const salesforceConnector: ConnectorFactory = {
  type: 'salesforce',
  description: 'Salesforce CRM: pulls accounts, contacts and won opportunities; pushes account fields, renewal and true-up opportunities, entitlements and support entitlements.',
  pulls: PULLS,
  pushes: PUSHES,
  validate(config: ConnectorConfig) {
    return parseConfig(config).problems;
  },
  create(config: ConnectorConfig): Connector {
    const { problems, parsed } = parseConfig(config);
    if (!parsed) {
      throw new ConnectorError('INVALID', 'INVALID_OPTIONS', `Invalid Salesforce connection: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`);
    }
    return new SalesforceConnector(parsed.options, parsed.credentials);
  },
};

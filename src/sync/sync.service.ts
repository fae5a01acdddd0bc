import { inSpan } from '../telemetry/tracing';
import { tracedConnector } from './sync-tracing';
import type { Logger } from 'pino';
import type { Connector, ConnectorFactory } from '../../connectors/types';
import { connectorFactories } from '../../connectors';
import type { AccountService } from '../accounts/account.service';
import { systemContext, type RequestContext } from '../common/context';
import { AppError, badInput, conflict, notFound, type FieldError } from '../common/errors';
import { isUuid } from '../common/ids';
import { assertUnscoped } from '../auth/scope';
import { paginate, type Connection } from '../common/pagination';
import { SecretBox } from '../common/secret-box';
import { stableStringify } from '../common/stable-json';
import { todayIn } from '../common/dates';
import type { Config } from '../config';
import type { Db } from '../db/db';
import type { OrderService } from '../orders/order.service';
import { UsageService } from '../usage/usage.service';
import { ReceivableService } from '../receivables/receivable.service';
import { ComplianceService } from '../compliance/compliance.service';
import { OutboxStatus, SyncConnection, SyncOutboxItem, SyncRun, SyncRunKind, SyncTrigger } from './sync.entities';
import { markUsagePeriod, resetSyncPushCache } from './sync-outbox';
import { RENEWAL_KEY_PREFIX } from './sync-payloads';
import { SyncPuller, type PullProgress } from './sync-pull';
import { SyncPusher, type PushProgress } from './sync-push';
import { RunRecorder } from './sync-runs';
import type {
  CreateSyncConnectionInput,
  OutboxListArgs,
  SyncConnectionHealth,
  SyncConnectorType,
  SyncRunListArgs,
  UpdateSyncConnectionInput,
} from './sync.types';
import { PULL_OBJECTS } from './sync.types';

/** The AES-GCM associated data of a connection's credentials: they only open on their own row. */
export const credentialsContext = (id: string) => `sync_connection:${id}:credentials`;

const connectionNotFound = (id: string) => new AppError('NOT_FOUND', 'SYNC_CONNECTION_NOT_FOUND', `Sync connection ${id} was not found`, { entity: 'SyncConnection', id });

/** The connection as the audit log records it: never its credentials. */
function auditView(c: SyncConnection): Record<string, unknown> {
  const { credentialsCiphertext: _, ...rest } = c;
  return { ...rest, hasCredentials: Boolean(c.credentialsCiphertext) };
}

export interface SyncProgress {
  phase: 'pull' | 'push' | 'renewals';
  object?: string;
  read?: number;
  delivered?: number;
  failed?: number;
  unchanged?: number;
}

export interface RunSyncOptions {
  full?: boolean;
  objects?: readonly string[] | null;
  /** Pull at all (default true); false with push: only renewals and the push. */
  pull?: boolean;
  push?: boolean;
  trigger?: SyncTrigger;
  signal?: AbortSignal;
  onProgress?: (p: SyncProgress) => void;
  /** Called with each pull run's id as soon as it is recorded. */
  onRunStarted?: (runId: string) => void;
}

/**
 * Connections to external systems and the runs that sync them: pulls (SyncPuller), the
 * outbox (SyncPusher), renewal opportunities. One sync of a connection runs at a time
 * across every hub instance (a session advisory lock per connection).
 */
export class SyncService {
  private readonly box: SecretBox;
  private readonly puller: SyncPuller;
  private readonly pusher: SyncPusher;

  constructor(
    private readonly db: Db,
    private readonly config: Config,
    deps: { accounts: AccountService; orders: OrderService; usage?: UsageService; receivables?: ReceivableService; compliance?: ComplianceService },
    private readonly factories: Record<string, ConnectorFactory> = connectorFactories,
  ) {
    this.box = new SecretBox(config);
    this.puller = new SyncPuller(db, deps.accounts, deps.orders, deps.usage ?? new UsageService(db, config), config.EHUB_SYNC_PULL_CONCURRENCY, {
      receivables: deps.receivables ?? new ReceivableService(db),
      compliance: deps.compliance ?? new ComplianceService(db, config),
    });
    this.pusher = new SyncPusher(db, config);
  }

  connectorTypes(): SyncConnectorType[] {
    return Object.values(this.factories).map((f) => ({ type: f.type, description: f.description, pulls: [...f.pulls], pushes: [...f.pushes] }));
  }

  // ── connections ──

  async listConnections(ctx: RequestContext, args: { first: number; after?: string | null }): Promise<Connection<SyncConnection>> {
    hubWide(ctx);
    return paginate(this.db.manager.createQueryBuilder(SyncConnection, 'c'), 'c', args);
  }

  async getConnection(ctx: RequestContext, id: string): Promise<SyncConnection> {
    hubWide(ctx);
    const c = isUuid(id) ? await this.db.manager.findOne(SyncConnection, { where: { id } }) : null;
    if (!c) throw connectionNotFound(id);
    return c;
  }

  async connectionByName(name: string): Promise<SyncConnection> {
    const c = await this.db.manager.findOne(SyncConnection, { where: { name } });
    if (!c) throw new AppError('NOT_FOUND', 'SYNC_CONNECTION_NOT_FOUND', `There is no sync connection named "${name}"`, { entity: 'SyncConnection', name });
    return c;
  }

  private factory(type: string): ConnectorFactory {
    const f = this.factories[type];
    if (!f) {
      throw badInput('SYNC_CONNECTOR_UNKNOWN', `There is no connector of type "${type}"; known: ${Object.keys(this.factories).join(', ')}`, [
        { path: 'input.type', message: 'unknown connector type' },
      ]);
    }
    return f;
  }

  private validate(type: string, options: Record<string, unknown>, credentials: Record<string, string>): void {
    const problems: FieldError[] = [];
    if (!options || typeof options !== 'object' || Array.isArray(options)) problems.push({ path: 'input.options', message: 'must be a JSON object' });
    if (credentials && (typeof credentials !== 'object' || Array.isArray(credentials) || Object.values(credentials).some((v) => typeof v !== 'string'))) {
      problems.push({ path: 'input.credentials', message: 'must be a JSON object of strings' });
    }
    if (!problems.length) {
      for (const p of this.factory(type).validate({ options, credentials })) {
        problems.push({ path: p.path.startsWith('credentials') ? `input.${p.path}` : `input.options.${p.path.replace(/^options\.?/, '')}`, message: p.message });
      }
    }
    if (problems.length) throw badInput('SYNC_CONNECTION_INVALID', `The connection is invalid: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`, problems);
  }

  async createConnection(ctx: RequestContext, input: CreateSyncConnectionInput, managedBy: 'API' | 'ENV' = 'API'): Promise<SyncConnection> {
    hubWide(ctx);
    const credentials = input.credentials ?? {};
    this.validate(input.type, input.options, credentials);
    const id = crypto.randomUUID();
    const sealed = await this.box.seal(JSON.stringify(credentials), credentialsContext(id), ctx.log);
    const created = await this.db.tx(ctx, async (tx) => {
      const taken = await tx.manager.findOne(SyncConnection, { where: { name: input.name } });
      if (taken) throw conflict('SYNC_CONNECTION_NAME_TAKEN', `A sync connection named "${input.name}" already exists`, { id: taken.id });
      await tx.manager.query(
        `INSERT INTO sync_connection (id, name, type, enabled, pull_enabled, push_enabled, ref_system, order_source, renewal_days, max_attempts, options, credentials_ciphertext, managed_by, deal_source)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $13, $14)`,
        [
          id,
          input.name,
          input.type,
          input.enabled ?? true,
          input.pullEnabled ?? true,
          input.pushEnabled ?? true,
          (input.refSystem ?? input.type).toLowerCase(),
          input.orderSource ?? input.type,
          input.renewalDays ?? 90,
          input.maxAttempts ?? 8,
          JSON.stringify(input.options),
          sealed,
          managedBy,
          input.dealSource ?? 'CRM',
        ],
      );
      const c = await tx.manager.findOneOrFail(SyncConnection, { where: { id } });
      tx.audit({ entity: 'SyncConnection', entityId: id, action: 'CREATE', after: auditView(c) });
      return c;
    });
    resetSyncPushCache();
    ctx.log.info({ connection: created.name, type: created.type }, 'sync connection created');
    return created;
  }

  async updateConnection(ctx: RequestContext, id: string, input: UpdateSyncConnectionInput): Promise<SyncConnection> {
    const current = await this.getConnection(ctx, id);
    const options = input.options ?? current.options;
    const credentials = input.credentials ?? undefined;
    if (input.options || credentials) this.validate(current.type, options, credentials ?? (await this.credentials(current)));
    const sealed = credentials ? await this.box.seal(JSON.stringify(credentials), credentialsContext(id), ctx.log) : null;
    const updated = await this.db.tx(ctx, async (tx) => {
      const before = await tx.manager.findOne(SyncConnection, { where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!before) throw connectionNotFound(id);
      const set: Record<string, unknown> = {};
      if (input.options) set.options = options;
      if (sealed) set.credentialsCiphertext = sealed;
      for (const k of ['enabled', 'pullEnabled', 'pushEnabled', 'renewalDays', 'maxAttempts', 'dealSource'] as const) {
        if (input[k] !== undefined && input[k] !== null && input[k] !== before[k]) set[k] = input[k];
      }
      if (Object.keys(set).length === 0) return before;
      await tx.manager.update(SyncConnection, { id }, { ...set, updatedAt: () => 'now()' });
      const after = await tx.manager.findOneOrFail(SyncConnection, { where: { id } });
      tx.audit({ entity: 'SyncConnection', entityId: id, action: 'UPDATE', before: auditView(before), after: { ...auditView(after), credentialsReplaced: Boolean(sealed) } });
      return after;
    });
    resetSyncPushCache();
    return updated;
  }

  async deleteConnection(ctx: RequestContext, id: string): Promise<SyncConnection> {
    const c = await this.getConnection(ctx, id);
    await this.db.tx(ctx, async (tx) => {
      await tx.manager.delete(SyncConnection, { id });
      tx.audit({ entity: 'SyncConnection', entityId: id, action: 'DELETE', before: auditView(c) });
    });
    resetSyncPushCache();
    return c;
  }

  /**
   * The connection from EHUB_SALESFORCE_OPTIONS / _CREDENTIALS, created or brought in line
   * at start-up (the environment wins over changes made over GraphQL to an ENV connection).
   */
  async ensureEnvConnection(log: Logger): Promise<SyncConnection | null> {
    const raw = this.config.EHUB_SALESFORCE_OPTIONS;
    if (!raw) return null;
    const parse = (text: string | undefined, name: string): Record<string, unknown> => {
      if (!text) return {};
      try {
        const v = JSON.parse(text);
        if (v && typeof v === 'object' && !Array.isArray(v)) return v;
      } catch {
        /* reported below */
      }
      throw new Error(`${name} must be a JSON object`);
    };
    const options = parse(raw, 'EHUB_SALESFORCE_OPTIONS');
    const credentials = parse(this.config.EHUB_SALESFORCE_CREDENTIALS, 'EHUB_SALESFORCE_CREDENTIALS') as Record<string, string>;
    const ctx = systemContext(log, 'startup:sync-connection');
    const existing = await this.db.manager.findOne(SyncConnection, { where: { name: 'salesforce' } });
    if (!existing) return this.createConnection(ctx, { name: 'salesforce', type: 'salesforce', options, credentials, enabled: true, pullEnabled: true, pushEnabled: true, renewalDays: 90, maxAttempts: 8 }, 'ENV');
    // Unchanged since the last start: no write, no new ciphertext, no audit row.
    const same = stableStringify(existing.options) === stableStringify(options) && stableStringify(await this.credentials(existing)) === stableStringify(credentials);
    return same ? existing : this.updateConnection(ctx, existing.id, { options, credentials });
  }

  private async credentials(c: SyncConnection): Promise<Record<string, string>> {
    const [row] = await this.db.manager.query('SELECT credentials_ciphertext FROM sync_connection WHERE id = $1', [c.id]);
    if (!row?.credentials_ciphertext) return {};
    return JSON.parse(await this.box.open(row.credentials_ciphertext, credentialsContext(c.id)));
  }

  /** A connector for the connection, with its credentials opened (close it after use). */
  async connector(c: SyncConnection): Promise<Connector> {
    // Each call a span when OpenTelemetry is on (ADR 0044); a thin pass-through otherwise.
    return tracedConnector(this.factory(c.type).create({ options: c.options, credentials: await this.credentials(c) }));
  }

  async testConnection(ctx: RequestContext, id: string): Promise<SyncConnectionHealth> {
    const c = await this.getConnection(ctx, id);
    const connector = await this.connector(c);
    try {
      const h = await connector.healthCheck({ log: ctx.log });
      return { ok: h.ok, message: h.message, apiUsed: h.apiUsage?.used ?? null, apiLimit: h.apiUsage?.limit ?? null };
    } finally {
      await connector.close();
    }
  }

  // ── runs ──

  /**
   * Pulls (accounts, contacts, deals — in that order, so deals find their accounts), then
   * queues renewals and pushes the outbox. One sync per connection at a time, hub-wide:
   * a second one is a CONFLICT (SYNC_RUNNING).
   */
  async runSync(ctx: RequestContext, connectionId: string, opts: RunSyncOptions = {}): Promise<SyncRun[]> {
    const c = await this.getConnection(ctx, connectionId);
    const wanted: readonly string[] = opts.objects?.length ? opts.objects : PULL_OBJECTS;
    const attributes = { 'ehub.sync.connection.type': c.type, 'ehub.sync.connection.name': c.name, 'ehub.sync.trigger': opts.trigger ?? SyncTrigger.MANUAL };
    return inSpan('sync.run', attributes, (span) => this.exclusive(c, async () => {
      const runs: SyncRun[] = [];
      const connector = await this.connector(c);
      try {
        const trigger = opts.trigger ?? SyncTrigger.MANUAL;
        const pulls = this.factory(c.type).pulls;
        for (const object of PULL_OBJECTS.filter((o) => (opts.pull ?? true) && wanted.includes(o) && pulls.includes(o))) {
          const run = await inSpan('sync.pull', { 'ehub.sync.object': object }, async (pullSpan) => {
            const r = await this.puller.pull(ctx, c, connector, object, {
              trigger,
              full: opts.full ?? false,
              signal: opts.signal,
              onProgress: (p: PullProgress) => opts.onProgress?.({ phase: 'pull', object: p.object, read: p.read }),
              onRunStarted: opts.onRunStarted,
            });
            pullSpan.setAttributes(runAttributes([r]));
            return r;
          });
          runs.push(run);
        }
        if (opts.push ?? true) {
          opts.onProgress?.({ phase: 'renewals' });
          runs.push(await this.queueRenewals(ctx, c, trigger));
          const pushed = await inSpan('sync.push', {}, async (pushSpan) => {
            const r = await this.pusher.push(ctx, c, connector, {
              trigger,
              signal: opts.signal,
              onProgress: (p: PushProgress) => opts.onProgress?.({ phase: 'push', ...p }),
            });
            pushSpan.setAttributes(runAttributes(r ? [r] : []));
            return r;
          });
          if (pushed) runs.push(pushed);
        }
      } finally {
        await connector.close();
      }
      span.setAttributes(runAttributes(runs));
      return runs;
    }));
  }

  /** The scheduled pull: every enabled connection with pulls on. */
  async pullAll(log: Logger, signal?: AbortSignal): Promise<SyncRun[]> {
    const runs: SyncRun[] = [];
    for (const c of await this.db.manager.find(SyncConnection, { where: { enabled: true, pullEnabled: true }, order: { name: 'ASC' } })) {
      const ctx = systemContext(log, `job:sync-pull:${c.name}`);
      runs.push(...(await this.tryExclusive(c, log, () => this.runSync(ctx, c.id, { trigger: SyncTrigger.SCHEDULE, push: false, signal }))));
    }
    return runs;
  }

  /** The scheduled push: every enabled connection with pushes on. */
  async pushAll(log: Logger, signal?: AbortSignal): Promise<SyncRun[]> {
    const runs: SyncRun[] = [];
    for (const c of await this.db.manager.find(SyncConnection, { where: { enabled: true, pushEnabled: true }, order: { name: 'ASC' } })) {
      const ctx = systemContext(log, `job:sync-push:${c.name}`);
      const run = await this.pushOnce(ctx, c, SyncTrigger.SCHEDULE, signal);
      if (run) runs.push(run);
    }
    return runs;
  }

  /** The newest run of each connection (connections that never ran are absent), in one statement (index sync_run_connection_idx). */
  async lastRuns(connectionIds: readonly string[]): Promise<Map<string, SyncRun>> {
    const runs = await this.db.manager
      .getRepository(SyncRun)
      .createQueryBuilder('r')
      .distinctOn(['r.connectionId'])
      .where('r.connectionId = ANY(:ids)', { ids: [...connectionIds] })
      .orderBy('r.connectionId')
      .addOrderBy('r.startedAt', 'DESC')
      .addOrderBy('r.id', 'DESC')
      .getMany();
    return new Map(runs.map((r) => [r.connectionId, r]));
  }

  /** DEAD outbox items per connection (connections with none are absent), in one statement. */
  async deadLetterCounts(connectionIds: readonly string[]): Promise<Map<string, number>> {
    const rows: { connection_id: string; n: number }[] = await this.db.manager.query(
      `SELECT connection_id, count(*)::int AS n FROM sync_outbox WHERE status = 'DEAD' AND connection_id = ANY($1::uuid[]) GROUP BY connection_id`,
      [connectionIds],
    );
    return new Map(rows.map((r) => [r.connection_id, r.n]));
  }

  /** Delivers one connection's outbox now (claims keep concurrent pushes apart). */
  async pushOnce(ctx: RequestContext, c: SyncConnection, trigger: SyncTrigger, signal?: AbortSignal): Promise<SyncRun | null> {
    const attributes = { 'ehub.sync.connection.type': c.type, 'ehub.sync.connection.name': c.name, 'ehub.sync.trigger': trigger };
    return inSpan('sync.run', attributes, async (span) => {
      const connector = await this.connector(c);
      try {
        const run = await this.pusher.push(ctx, c, connector, { trigger, signal });
        span.setAttributes(runAttributes(run ? [run] : []));
        return run;
      } finally {
        await connector.close();
      }
    });
  }

  /** The daily renewals job: queue renewal opportunities, and drop old runs. */
  /**
   * Marks the usage records of the closed billing periods (calendar months, UTC) for every
   * connection whose connector pushes `usage-record`: a month is closed once it ended
   * EHUB_SYNC_USAGE_SETTLE_MS ago; the last EHUB_SYNC_USAGE_LOOKBACK_MONTHS closed months are
   * looked at, so late usage re-sends a month's records (the push delivers them). Returns the
   * rows marked per month.
   */
  async markUsagePeriods(log: Logger, now: Date = new Date()): Promise<Record<string, number>> {
    const settled = new Date(now.getTime() - this.config.EHUB_SYNC_USAGE_SETTLE_MS);
    // The month before the one `settled` falls in is the latest whose end + settle has passed.
    const months: string[] = [];
    for (let i = 1; i <= this.config.EHUB_SYNC_USAGE_LOOKBACK_MONTHS; i++) {
      const d = new Date(Date.UTC(settled.getUTCFullYear(), settled.getUTCMonth() - i, 1));
      months.push(d.toISOString().slice(0, 7));
    }
    const marked: Record<string, number> = {};
    for (const month of months) {
      marked[month] = await markUsagePeriod(this.db.manager, month);
      if (marked[month]) log.info({ month, rows: marked[month] }, 'sync: usage records of a closed billing period marked');
    }
    return marked;
  }

  async renewalsAll(log: Logger): Promise<SyncRun[]> {
    const runs: SyncRun[] = [];
    for (const c of await this.db.manager.find(SyncConnection, { where: { enabled: true, pushEnabled: true }, order: { name: 'ASC' } })) {
      runs.push(await this.queueRenewals(systemContext(log, `job:sync-renewals:${c.name}`), c, SyncTrigger.SCHEDULE));
    }
    await this.db.manager.query(`DELETE FROM sync_run WHERE started_at < now() - $1 * interval '1 day'`, [this.config.EHUB_SYNC_RUN_RETENTION_DAYS]);
    return runs;
  }

  /**
   * Queues one renewal opportunity per (order, end date) of live term entitlements ending
   * within the connection's renewalDays, for accounts linked to it. Created once and then
   * left to the CRM's users (ON CONFLICT DO NOTHING): a renewal they work on is never
   * overwritten by the hub.
   */
  async queueRenewals(ctx: RequestContext, c: SyncConnection, trigger: SyncTrigger, today: string = todayIn(this.config.EHUB_TIME_ZONE)): Promise<SyncRun> {
    const run = await RunRecorder.start(this.db, { connectionId: c.id, kind: SyncRunKind.RENEWALS, object: 'renewals', trigger });
    try {
      const rows: { inserted: boolean }[] = await this.db.manager.query(
        `INSERT INTO sync_outbox (connection_id, object, record_key, account_id)
         SELECT DISTINCT $1::uuid, 'renewal-opportunity', $5 || ':' || e.order_id || ':' || e.end_date::text, e.account_id
           FROM entitlement e
           JOIN external_ref r ON r.entity_type = 'ACCOUNT' AND r.entity_id = e.account_id AND r.system = $2 AND r.object = 'Account'
          WHERE e.status = 'ACTIVE' AND e.ended_reason IS NULL AND e.model <> 'PERPETUAL'
            AND e.end_date BETWEEN $3::date AND $3::date + $4::int
         ON CONFLICT (connection_id, object, record_key) DO NOTHING
         RETURNING true AS inserted`,
        [c.id, c.refSystem, today, c.renewalDays, RENEWAL_KEY_PREFIX],
      );
      run.counts.created = rows.length;
      return run.finish();
    } catch (err) {
      return run.finish(err);
    }
  }

  private async exclusive<T>(c: SyncConnection, fn: () => Promise<T>): Promise<T> {
    const runner = this.db.ds.createQueryRunner();
    await runner.connect();
    try {
      const [{ locked }] = await runner.query(`SELECT pg_try_advisory_lock(hashtext('ehub.sync'), hashtext($1)) AS locked`, [c.id]);
      if (!locked) throw conflict('SYNC_RUNNING', `A sync of connection "${c.name}" is already running; wait for it to finish`, { connectionId: c.id });
      try {
        return await fn();
      } finally {
        await runner.query(`SELECT pg_advisory_unlock(hashtext('ehub.sync'), hashtext($1))`, [c.id]);
      }
    } finally {
      await runner.release();
    }
  }

  private async tryExclusive(c: SyncConnection, log: Logger, fn: () => Promise<SyncRun[]>): Promise<SyncRun[]> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof AppError && err.subCode === 'SYNC_RUNNING') {
        log.info({ connection: c.name }, 'sync skipped: another sync of this connection is running');
        return [];
      }
      throw err;
    }
  }

  // ── reading runs and the outbox ──

  async listRuns(ctx: RequestContext, args: SyncRunListArgs): Promise<Connection<SyncRun>> {
    hubWide(ctx);
    const qb = this.db.manager.createQueryBuilder(SyncRun, 'r');
    const f = args.filter;
    if (f?.connectionId) qb.andWhere('r.connectionId = :cid', { cid: f.connectionId });
    if (f?.kind) qb.andWhere('r.kind = :kind', { kind: f.kind });
    if (f?.status) qb.andWhere('r.status = :status', { status: f.status });
    return paginate(qb, 'r', args, 'startedAt', (args.newestFirst ?? true) ? 'DESC' : 'ASC');
  }

  async listOutbox(ctx: RequestContext, args: OutboxListArgs): Promise<Connection<SyncOutboxItem>> {
    hubWide(ctx);
    const qb = this.db.manager.createQueryBuilder(SyncOutboxItem, 'o');
    const f = args.filter;
    const statuses = f?.status?.length ? f.status : [OutboxStatus.PENDING, OutboxStatus.IN_FLIGHT, OutboxStatus.SUBMITTED, OutboxStatus.FAILED, OutboxStatus.DEAD];
    qb.where('o.status IN (:...statuses)', { statuses });
    if (f?.connectionId) qb.andWhere('o.connectionId = :cid', { cid: f.connectionId });
    if (f?.object) qb.andWhere('o.object = :object', { object: f.object });
    if (f?.accountId) qb.andWhere('o.accountId = :aid', { aid: f.accountId });
    return paginate(qb, 'o', args);
  }

  /** A DEAD, FAILED or DONE item goes out again with fresh attempts (DONE: its values are re-sent). */
  async replayOutboxItem(ctx: RequestContext, id: string): Promise<SyncOutboxItem> {
    hubWide(ctx);
    if (!isUuid(id)) throw notFound('OutboxItem', id);
    return this.db.tx(ctx, async (tx) => {
      const before = await tx.manager.findOne(SyncOutboxItem, { where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!before) throw notFound('OutboxItem', id);
      // Due already, being delivered, or waiting on a job whose outcome is still to be read (sending it again now would write it twice).
      if (before.status === OutboxStatus.PENDING || before.status === OutboxStatus.IN_FLIGHT || before.status === OutboxStatus.SUBMITTED) return before;
      await tx.manager.query(
        `UPDATE sync_outbox SET status = 'PENDING', attempts = 0, next_attempt_at = now(), dead_at = NULL, payload_hash = NULL, updated_at = now() WHERE id = $1`,
        [id],
      );
      const after = await tx.manager.findOneOrFail(SyncOutboxItem, { where: { id } });
      tx.audit({ entity: 'OutboxItem', entityId: id, action: 'REPLAY', before: { status: before.status, lastError: before.lastError }, after: { status: after.status } });
      return after;
    });
  }

  /** Every DEAD item of a connection goes out again; returns how many. */
  async replayDeadOutbox(ctx: RequestContext, connectionId: string): Promise<number> {
    return this.replayOutbox(ctx, connectionId, { statuses: [OutboxStatus.DEAD] });
  }

  /**
   * Sends a connection's items in these statuses (optionally only of these accounts) again,
   * with fresh attempts and their values re-sent even if unchanged; one statement. Returns how many.
   */
  async replayOutbox(ctx: RequestContext, connectionId: string, which: { statuses: OutboxStatus[]; accountIds?: string[] }): Promise<number> {
    await this.getConnection(ctx, connectionId);
    return this.db.tx(ctx, async (tx) => {
      const [rows]: [{ id: string }[], number] = await tx.manager.query(
        `UPDATE sync_outbox SET status = 'PENDING', attempts = 0, next_attempt_at = now(), dead_at = NULL, payload_hash = NULL, updated_at = now()
          WHERE connection_id = $1 AND status = ANY($2) AND status NOT IN ('IN_FLIGHT','SUBMITTED') AND ($3::uuid[] IS NULL OR account_id = ANY($3)) RETURNING id`,
        [connectionId, which.statuses, which.accountIds ?? null],
      );
      tx.audit({ entity: 'SyncConnection', entityId: connectionId, action: 'REPLAY_OUTBOX', after: { statuses: which.statuses, accounts: which.accountIds?.length ?? null, items: rows.length } });
      return rows.length;
    });
  }

  /** Forgets a pull cursor: the next pull reads that object from the beginning (idempotent). */
  async resetCursor(ctx: RequestContext, connectionId: string, object: string): Promise<boolean> {
    await this.getConnection(ctx, connectionId);
    if (!(PULL_OBJECTS as readonly string[]).includes(object)) {
      throw badInput('SYNC_OBJECT_UNKNOWN', `object must be one of ${PULL_OBJECTS.join(', ')}`, [{ path: 'object', message: 'unknown object' }]);
    }
    return this.db.tx(ctx, async (tx) => {
      const [, n]: [unknown, number] = await tx.manager.query('DELETE FROM sync_cursor WHERE connection_id = $1 AND object = $2', [connectionId, object]);
      tx.audit({ entity: 'SyncConnection', entityId: connectionId, action: 'RESET_CURSOR', after: { object } });
      return n > 0;
    });
  }
}

/** Sync is hub-wide (every account's records): account-scoped keys may not see or run it. */
function hubWide(ctx: RequestContext): void {
  assertUnscoped(ctx, 'see or run CRM/ERP sync, which spans every account');
}

/** What a sync run's span says of its runs: how many, and how many records each way (ADR 0044). */
function runAttributes(runs: SyncRun[]): Record<string, number | string> {
  const sum = (k: 'read' | 'created' | 'updated' | 'failed') => runs.reduce((n, r) => n + (r[k] ?? 0), 0);
  const failed = runs.some((r) => r.status === 'FAILED') ? 'FAILED' : runs.some((r) => r.status === 'PARTIAL') ? 'PARTIAL' : 'SUCCEEDED';
  return { 'ehub.sync.runs': runs.length, 'ehub.sync.read': sum('read'), 'ehub.sync.created': sum('created'), 'ehub.sync.updated': sum('updated'), 'ehub.sync.failed': sum('failed'), 'ehub.sync.outcome': failed };
}

import type { DataSource, EntityManager } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import type { RequestContext } from '../common/context';
import { transaction } from './data-source';
import { DomainEvents, type DomainEvent } from './events';
import { AppError } from '../common/errors';

const executionTimeout = (deadline: number) =>
  new AppError('LIMIT_EXCEEDED', 'EXECUTION_TIMEOUT', 'The request ran past its time budget (EHUB_REQUEST_TIMEOUT_MS) before this change could start; nothing was changed', {
    deadline: new Date(deadline).toISOString(),
  });

/** A change to record in the audit log, written in the same transaction as the change. */
export interface AuditEntry {
  entity: string;
  entityId?: string | null;
  action: 'CREATE' | 'UPDATE' | 'DELETE' | (string & {});
  before?: unknown;
  after?: unknown;
}

/** What a service gets inside a transaction: the manager to use, and the audit recorder. */
export interface Tx {
  manager: EntityManager;
  audit(entry: AuditEntry): void;
  /**
   * Work to run at the end of the transaction, just before the audit rows and the commit
   * (in registration order): writes that take contended row locks (the sync outbox) hold
   * them for as short a time as possible.
   */
  beforeCommit(work: () => Promise<void>): void;
  /** Records a fact for the subscribers (`Db.events`), handed to them just before the commit. */
  publish(event: DomainEvent): void;
}

function auditReplacer(key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (key === 'secretHash' || key === 'credentials') return undefined;
  if (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer') return undefined;
  return v;
}

/** JSON-safe copy of an entity for the audit log (bigint, Buffer and Date handled; secrets dropped). */
export function auditSnapshot(value: unknown): unknown {
  const json = auditJson(value);
  return json === null ? null : JSON.parse(json);
}

/** `auditSnapshot` as JSON text (what the audit row stores), without the copy. */
function auditJson(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return JSON.stringify(value, auditReplacer) ?? null;
}

/**
 * The hub's handle on the database: the DataSource plus `tx`, the one way services write.
 * `tx` runs everything in one transaction (retrying serialization failures) and writes the
 * audit rows collected during it just before commit, so a change and its audit record are
 * committed together or not at all.
 */
export class Db {
  /** Who acts on the facts transactions publish (the sync outbox, the webhooks). */
  readonly events = new DomainEvents();

  /** Replica reads answered by the primary because the replica could not be reached (for /metrics). */
  readonly replica = { reads: 0, fallbacks: 0 };
  private lastFallbackLog = 0;

  /**
   * `readDs`: a read replica (DATABASE_READ_URL, ADR 0051) for the read-only analytics
   * queries (`readQuery`); none: they read the primary.
   */
  constructor(
    readonly ds: DataSource,
    readonly readDs: DataSource | null = null,
    private readonly onFallback?: (err: unknown) => void,
  ) {}

  get manager(): EntityManager {
    return this.ds.manager;
  }

  /**
   * A read-only analytics query (usage series, utilisation, adoption, ...): on the read
   * replica when there is one — answers as of the replica's replay, a few seconds behind at
   * most in normal operation — else on the primary. A replica that cannot be reached
   * (connection refused or lost, shutting down, in recovery conflict) answers from the
   * primary instead of failing the request; any other error is the query's own and is thrown.
   * Never for data a request must read back after writing it.
   */
  async readQuery<R = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R[]> {
    if (!this.readDs) return this.ds.manager.query(sql, params);
    this.replica.reads++;
    const reader = await this.reader();
    if (reader) {
      try {
        return await reader.manager.query(sql, params);
      } catch (err) {
        if (!isUnreachable(err)) throw err;
        this.fellBack(err);
      }
    }
    return this.ds.manager.query(sql, params);
  }

  private lastConnectTry = 0;

  /** The replica's DataSource, connected — one that was down at start is tried again every 30 s; null meanwhile. */
  private async reader(): Promise<DataSource | null> {
    const r = this.readDs!;
    if (r.isInitialized) return r;
    if (Date.now() - this.lastConnectTry < 30_000) {
      this.replica.fallbacks++;
      return null;
    }
    this.lastConnectTry = Date.now();
    try {
      await r.initialize();
      return r;
    } catch (err) {
      this.fellBack(err);
      return null;
    }
  }

  private fellBack(err: unknown): void {
    this.replica.fallbacks++;
    if (Date.now() - this.lastFallbackLog > 60_000) {
      this.lastFallbackLog = Date.now();
      this.onFallback?.(err);
    }
  }

  /**
   * For the few hot read paths (licensing checks): a named prepared statement straight on the
   * pg pool, so PostgreSQL parses and plans it once per connection instead of on every call
   * (planning a big query costs more than running it), and TypeORM's per-query runner is
   * skipped. Reads only; not for use inside a transaction.
   */
  async preparedQuery<R>(name: string, text: string, values: unknown[]): Promise<R[]> {
    const pool = (this.ds.driver as PostgresDriver).master as { query(q: { name: string; text: string; values: unknown[] }): Promise<{ rows: R[] }> };
    Db.preparedQueries.count++;
    return (await pool.query({ name, text, values })).rows;
  }

  /** Statements sent through preparedQuery (tests count them alongside TypeORM's). */
  static readonly preparedQueries = { count: 0 };

  async tx<T>(ctx: RequestContext, fn: (tx: Tx) => Promise<T>): Promise<T> {
    return transaction(this.ds, async (manager) => {
      if (ctx.deadline !== undefined) {
        // The request's database time is bounded by what is left of its budget: a statement
        // (or a lock wait) running past it is cancelled by PostgreSQL (57014, STATEMENT_TIMEOUT).
        const left = Math.ceil(ctx.deadline - Date.now());
        if (left <= 0) throw executionTimeout(ctx.deadline);
        await manager.query(`SET LOCAL statement_timeout = ${left}`);
      }
      const entries: AuditEntry[] = [];
      const finals: (() => Promise<void>)[] = [];
      const published: DomainEvent[] = [];
      const result = await fn({ manager, audit: (e) => entries.push(e), beforeCommit: (work) => finals.push(work), publish: (e) => published.push(e) });
      for (const work of finals) await work();
      // Subscribers last: they write rows many transactions share (the sync outbox), so those
      // locks are held only for the end of the transaction.
      await this.events.dispatch(manager, published);
      if (entries.length > 0) {
        await writeAudit(manager, ctx, entries);
        ctx.auditWrites += entries.length;
      }
      return result;
    });
  }
}

/**
 * A named prepared statement on the transaction's own connection: PostgreSQL parses and
 * plans it once per connection instead of on every call (ADR 0047; the set-based writes of
 * fulfilment are big CTEs whose planning costs about as much as running them). `name` must
 * always go with the same `text`. Outside a transaction (no query runner) a plain query.
 */
export async function preparedTx<R = Record<string, unknown>>(manager: EntityManager, name: string, text: string, values: unknown[]): Promise<R[]> {
  const runner = manager.queryRunner;
  if (!runner) return manager.query(text, values) as Promise<R[]>;
  const client = (await runner.connect()) as { query(q: { name: string; text: string; values: unknown[] }): Promise<{ rows: R[] }> };
  Db.preparedQueries.count++;
  return (await client.query({ name, text, values })).rows;
}

/** Audit rows in one statement, ids in the order given (a plain multi-row insert: no ORM mapping on every transaction). */
export async function writeAudit(manager: EntityManager, ctx: RequestContext, entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await preparedTx(
    manager,
    'ehub_audit_write',
    `INSERT INTO audit_log (key_id, operation, entity, entity_id, action, before, after, request_id)
     SELECT $1, $2, x.entity, x.entity_id, x.action, x.before::jsonb, x.after::jsonb, $3
       FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) WITH ORDINALITY AS x(entity, entity_id, action, before, after, n)
      ORDER BY x.n`,
    [
      ctx.principal?.keyId ?? null,
      ctx.operation,
      ctx.requestId,
      entries.map((e) => e.entity),
      entries.map((e) => e.entityId ?? null),
      entries.map((e) => e.action),
      entries.map((e) => auditJson(e.before)),
      entries.map((e) => auditJson(e.after)),
    ],
  );
}

/**
 * The replica is not there (rather than the query being wrong): no connection, a connection
 * lost or refused, the server shutting down or starting, or a query cancelled by a recovery
 * conflict (class 08, 57P01–57P03, 40001 from a hot standby's conflict, 53300 too many clients).
 */
export function isUnreachable(err: unknown): boolean {
  const e = err as { code?: string; driverError?: { code?: string; message?: string }; message?: string };
  const code = e?.driverError?.code ?? e?.code;
  if (code && (code.startsWith('08') || ['57P01', '57P02', '57P03', '53300', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND'].includes(code))) return true;
  const msg = e?.driverError?.message ?? e?.message ?? '';
  return /Connection terminated|timeout exceeded when trying to connect|connect ECONNREFUSED|conflict with recovery/i.test(msg);
}

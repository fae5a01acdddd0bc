import type { DataSource, EntityManager } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import type { RequestContext } from '../common/context';
import { AuditLog } from '../audit/audit-log.entity';
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

/** JSON-safe copy of an entity for the audit log (bigint, Buffer and Date handled; secrets dropped). */
export function auditSnapshot(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  return JSON.parse(
    JSON.stringify(value, (key, v) => {
      if (typeof v === 'bigint') return v.toString();
      if (key === 'secretHash' || key === 'credentials') return undefined;
      if (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer') return undefined;
      return v;
    }),
  );
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

  constructor(readonly ds: DataSource) {}

  get manager(): EntityManager {
    return this.ds.manager;
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

export async function writeAudit(manager: EntityManager, ctx: RequestContext, entries: AuditEntry[]): Promise<void> {
  await manager.insert(
    AuditLog,
    entries.map((e) => ({
      keyId: ctx.principal?.keyId ?? null,
      operation: ctx.operation,
      entity: e.entity,
      entityId: e.entityId ?? null,
      action: e.action,
      before: auditSnapshot(e.before),
      after: auditSnapshot(e.after),
      requestId: ctx.requestId,
    })) as QueryDeepPartialEntity<AuditLog>[],
  );
}

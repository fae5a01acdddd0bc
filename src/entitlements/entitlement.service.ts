import { isUuid } from '../common/ids';
import type { EntityManager } from 'typeorm';
import type { RequestContext } from '../common/context';
import { badInput, notFound } from '../common/errors';
import { paginate, type Connection } from '../common/pagination';
import { accountScope, assertRecordVisible } from '../auth/scope';
import type { Db, Tx } from '../db/db';
import { auditSnapshot, preparedTx } from '../db/db';
import type { EntitlementListArgs } from '../orders/order.types';
import { Entitlement, EntitlementEvent, EntitlementFeature } from './entitlement.entity';
import { EntitlementStatus } from './entitlement.enums';
import { effectiveStatus } from './effective-status';
import { groupBy } from '../common/collections';


/** A feature grant to write: total limit as a decimal string, null = unlimited. */
export interface FeatureGrant {
  featureId: string;
  featureKey: string;
  limitTotal: string | null;
}

/** An entitlement to grant (`EntitlementService.createMany`). */
export interface NewEntitlement {
  accountId: string;
  productId: string;
  sku: string;
  orderId: string;
  orderLineId: string;
  model: string;
  quantity: number;
  term: Term;
  overagePolicy: string | null;
  resetPeriod: string | null;
  features: FeatureGrant[];
  note?: string;
}

/** One row of an entitlement's history. */
interface HistoryEvent {
  entitlementId: string;
  accountId: string;
  kind: string;
  orderLineId: string | null;
  before: unknown;
  after: unknown;
  note?: string;
}

/** A term in contract dates (end inclusive, null = perpetual). */
export interface Term {
  startDate: string;
  endDate: string | null;
  graceDays: number;
}

/** An entitlement with its features: what the history snapshots record. */
export type EntitlementSnapshot = Record<string, unknown> & { features: { featureKey: string; limitTotal: string | null }[] };

/**
 * Entitlements: reads for the API, the write primitives fulfilment uses (always inside the
 * caller's transaction), suspension, and the lifecycle job. Dates become instants in the
 * contract time zone here and only here (SQL `AT TIME ZONE`), so the rule "endDate is the
 * last day, inclusive" lives in one place.
 */
export class EntitlementService {
  constructor(
    private readonly db: Db,
    private readonly timeZone: string,
  ) {}

  // ------------------------------------------------------------------ reads

  async get(ctx: RequestContext, id: string): Promise<Entitlement> {
    if (!isUuid(id)) throw notFound('Entitlement', id);
    const e = await this.db.manager.findOne(Entitlement, { where: { id } });
    if (!e) throw notFound('Entitlement', id);
    assertRecordVisible(ctx, e.accountId, 'Entitlement', id);
    return e;
  }

  async list(ctx: RequestContext, args: EntitlementListArgs): Promise<Connection<Entitlement>> {
    const f = args.filter ?? {};
    const qb = this.db.manager.createQueryBuilder(Entitlement, 'e');
    const scope = accountScope(ctx);
    if (scope) {
      if (f.accountId && f.accountId !== scope) throw notFound('Account', f.accountId);
      qb.andWhere('e.accountId = :scope', { scope });
    }
    if (f.accountId) qb.andWhere('e.accountId = :accountId', { accountId: f.accountId });
    if (f.status) qb.andWhere('e.status = :status', { status: f.status });
    if (f.model) qb.andWhere('e.model = :model', { model: f.model });
    if (f.sku) qb.andWhere('e.sku = :sku', { sku: f.sku });
    if (f.orderId) qb.andWhere('e.orderId = :orderId', { orderId: f.orderId });
    if (f.feature) {
      qb.andWhere('EXISTS (SELECT 1 FROM entitlement_feature ef WHERE ef.entitlement_id = e.id AND ef.feature_key = :feature)', {
        feature: f.feature,
      });
    }
    if (f.activeAt) {
      qb.andWhere('e.startsAt <= :at AND (e.graceEndsAt IS NULL OR e.graceEndsAt > :at)', { at: f.activeAt });
    }
    return paginate(qb, 'e', args);
  }

  async featuresOf(manager: EntityManager, ids: readonly string[]): Promise<Map<string, EntitlementFeature[]>> {
    const rows = ids.length
      ? await manager.createQueryBuilder(EntitlementFeature, 'f').where('f.entitlementId = ANY(:ids)', { ids }).orderBy('f.featureKey').getMany()
      : [];
    return groupBy(rows, (r) => r.entitlementId);
  }

  async historyOf(manager: EntityManager, ids: readonly string[]): Promise<Map<string, EntitlementEvent[]>> {
    const rows = ids.length
      ? await manager.createQueryBuilder(EntitlementEvent, 'h').where('h.entitlementId = ANY(:ids)', { ids }).orderBy('h.id').getMany()
      : [];
    return groupBy(rows, (r) => r.entitlementId);
  }

  async byOrders(manager: EntityManager, orderIds: readonly string[]): Promise<Map<string, Entitlement[]>> {
    const rows = orderIds.length
      ? await manager.createQueryBuilder(Entitlement, 'e').where('e.orderId = ANY(:ids)', { ids: orderIds }).orderBy('e.createdAt').addOrderBy('e.id').getMany()
      : [];
    return groupBy(rows, (r) => r.orderId);
  }

  // ------------------------------------------------------------------ write primitives (inside a transaction)

  /** Inserts one entitlement with its features (see `createMany`). */
  async create(tx: Tx, ctx: RequestContext, v: NewEntitlement): Promise<Entitlement> {
    const [e] = await this.createMany(tx, ctx, [v]);
    return e!;
  }

  /**
   * Inserts entitlements with their features and GRANTED history events, instants computed
   * from the contract dates. Fulfilment's hot path, set-based (ADR 0047): one statement
   * whatever the number of entitlements. The events' `after` is built in SQL as
   * `snapshot()` builds it in JS (`SNAPSHOT_SQL`), and returned for the audit rows.
   * Returns the entitlements in the order given; each `orderLineId` grants at most one.
   */
  async createMany(tx: Tx, ctx: RequestContext, items: readonly NewEntitlement[]): Promise<Entitlement[]> {
    if (items.length === 0) return [];
    const rows: (Record<string, unknown> & { after: Record<string, unknown> })[] = await preparedTx(tx.manager, 'ehub_entitlements_grant',
      `WITH v AS (
         SELECT * FROM jsonb_to_recordset($1::jsonb) AS v(i int, account_id uuid, product_id uuid, sku text, order_id uuid, order_line_id uuid, model text,
                  quantity numeric, start_date date, end_date date, grace_days int, overage_policy text, reset_period text, features jsonb, note text)
       ), e AS (
         INSERT INTO entitlement (account_id, product_id, sku, order_id, order_line_id, model, quantity, start_date, end_date,
           grace_days, overage_policy, reset_period, starts_at, ends_at, grace_ends_at, status)
         SELECT v.account_id, v.product_id, v.sku, v.order_id, v.order_line_id, v.model, v.quantity, v.start_date, v.end_date,
                v.grace_days, v.overage_policy, v.reset_period, t.starts_at, t.ends_at, t.grace_ends_at,
                CASE WHEN t.grace_ends_at <= now() THEN 'EXPIRED' ELSE 'ACTIVE' END
           FROM v CROSS JOIN LATERAL (${TERM_SQL('v.start_date', 'v.end_date', 'v.grace_days', '$2')}) t
          ORDER BY v.i
         RETURNING *
       ), a AS (
         SELECT e.*, v.i, v.note, ${SNAPSHOT_SQL('e', 'v.features')} AS after FROM e JOIN v ON v.order_line_id = e.order_line_id
       ), f AS (
         INSERT INTO entitlement_feature (entitlement_id, account_id, feature_id, feature_key, limit_total)
         SELECT a.id, a.account_id, x."featureId", x."featureKey", x."limitTotal"
           FROM a CROSS JOIN LATERAL jsonb_to_recordset((SELECT v.features FROM v WHERE v.i = a.i)) AS x("featureId" uuid, "featureKey" text, "limitTotal" numeric)
       ), ev AS (
         INSERT INTO entitlement_event (entitlement_id, account_id, kind, order_line_id, key_id, request_id, note, after)
         SELECT a.id, a.account_id, 'GRANTED', a.order_line_id, $3, $4, a.note, a.after FROM a ORDER BY a.i
       )
       SELECT ${ENTITLEMENT_COLUMNS}, after FROM a ORDER BY i`,
      [
        JSON.stringify(
          items.map((v, i) => ({
            i,
            account_id: v.accountId,
            product_id: v.productId,
            sku: v.sku,
            order_id: v.orderId,
            order_line_id: v.orderLineId,
            model: v.model,
            quantity: v.quantity,
            start_date: v.term.startDate,
            end_date: v.term.endDate,
            grace_days: v.term.graceDays,
            overage_policy: v.overagePolicy,
            reset_period: v.resetPeriod,
            features: v.features.map((f) => ({ featureId: f.featureId, featureKey: f.featureKey, limitTotal: f.limitTotal })),
            note: v.note ?? null,
          })),
        ),
        this.timeZone,
        ctx.principal?.keyId ?? null,
        ctx.requestId,
      ],
    );
    if (rows.length !== items.length) throw new Error(`${items.length} entitlements to grant, ${rows.length} granted`);
    return rows.map((r) => {
      const e = toEntitlement(r);
      tx.audit({ entity: 'Entitlement', entityId: e.id, action: 'CREATE', after: r.after });
      return e;
    });
  }

  /**
   * Changes an entitlement in place (term, quantity, terms, features, status, reasons) and
   * records one history event with before and after. Returns the updated row. Callers mark
   * the sync outbox dirty (an `entitlements.changed` fact).
   */
  async change(
    tx: Tx,
    ctx: RequestContext,
    id: string,
    kind: string,
    orderLineId: string | null,
    c: {
      term?: Term;
      quantity?: number;
      overagePolicy?: string | null;
      resetPeriod?: string | null;
      features?: FeatureGrant[];
      status?: EntitlementStatus;
      endedReason?: string | null;
      suspendedReason?: string | null;
      note?: string;
    },
  ): Promise<Entitlement> {
    const current = await tx.manager.findOneOrFail(Entitlement, { where: { id } });
    const before = await this.snapshot(tx.manager, current);
    const term = c.term ?? { startDate: current.startDate, endDate: current.endDate, graceDays: current.graceDays };
    await tx.manager.query(
      `UPDATE entitlement e SET
         start_date = $2::date, end_date = $3::date, grace_days = $4,
         starts_at = t.starts_at, ends_at = t.ends_at, grace_ends_at = t.grace_ends_at,
         quantity = $6, overage_policy = $7, reset_period = $8, status = $9, ended_reason = $10, suspended_reason = $11,
         version = e.version + 1, updated_at = now()
       FROM (${TERM_SQL('$2', '$3', '$4', '$5')}) t
       WHERE e.id = $1`,
      [
        id,
        term.startDate,
        term.endDate,
        term.graceDays,
        this.timeZone,
        c.quantity ?? current.quantity,
        c.overagePolicy !== undefined ? c.overagePolicy : current.overagePolicy,
        c.resetPeriod !== undefined ? c.resetPeriod : current.resetPeriod,
        c.status ?? current.status,
        c.endedReason !== undefined ? c.endedReason : current.endedReason,
        c.suspendedReason !== undefined ? c.suspendedReason : current.suspendedReason,
      ],
    );
    if (c.features) await this.replaceFeatures(tx.manager, id, current.accountId, c.features);
    const changed = await tx.manager.findOneOrFail(Entitlement, { where: { id } });
    const after = await this.snapshot(tx.manager, changed);
    await this.recordEvent(tx, ctx, id, current.accountId, kind, orderLineId, before, after, c.note);
    tx.audit({ entity: 'Entitlement', entityId: id, action: kind, before, after });
    return changed;
  }

  /** Locks an entitlement row for the rest of the transaction. */
  async lock(manager: EntityManager, id: string): Promise<Entitlement | null> {
    if (!isUuid(id)) return null; // never a row id: NOT_FOUND, not a PostgreSQL cast error
    return manager.createQueryBuilder(Entitlement, 'e').setLock('pessimistic_write').where('e.id = :id', { id }).getOne();
  }

  /** The entitlement (as just read) with its features, as history and audit record it. */
  async snapshot(manager: EntityManager, e: Entitlement): Promise<EntitlementSnapshot> {
    const features = (await this.featuresOf(manager, [e.id])).get(e.id) ?? [];
    return {
      ...(auditSnapshot(e) as Record<string, unknown>),
      features: features.map((f) => ({ featureKey: f.featureKey, limitTotal: f.limitTotal })),
    };
  }

  private async replaceFeatures(manager: EntityManager, id: string, accountId: string, features: FeatureGrant[]): Promise<void> {
    await manager.query('DELETE FROM entitlement_feature WHERE entitlement_id = $1', [id]);
    await this.insertFeaturesMany(manager, features.map((f) => ({ entitlementId: id, accountId, ...f })));
  }

  /** Feature rows of any number of entitlements in one statement. */
  private async insertFeaturesMany(manager: EntityManager, rows: readonly (FeatureGrant & { entitlementId: string; accountId: string })[]): Promise<void> {
    if (rows.length === 0) return;
    await manager.query(
      `INSERT INTO entitlement_feature (entitlement_id, account_id, feature_id, feature_key, limit_total)
       SELECT f.entitlement_id, f.account_id, f.id, f.key, f.lim
         FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::numeric[]) AS f(entitlement_id, account_id, id, key, lim)`,
      [rows.map((f) => f.entitlementId), rows.map((f) => f.accountId), rows.map((f) => f.featureId), rows.map((f) => f.featureKey), rows.map((f) => f.limitTotal)],
    );
  }

  private async recordEvent(
    tx: Tx,
    ctx: RequestContext,
    entitlementId: string,
    accountId: string,
    kind: string,
    orderLineId: string | null,
    before: unknown,
    after: unknown,
    note?: string,
  ): Promise<void> {
    await this.recordEvents(tx, ctx, [{ entitlementId, accountId, kind, orderLineId, before, after, note }]);
  }

  /** History events in one statement, ids in the order given. */
  private async recordEvents(tx: Tx, ctx: RequestContext, events: readonly HistoryEvent[]): Promise<void> {
    if (events.length === 0) return;
    const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));
    await tx.manager.query(
      `INSERT INTO entitlement_event (entitlement_id, account_id, kind, order_line_id, key_id, request_id, note, before, after)
       SELECT x.entitlement_id, x.account_id, x.kind, x.order_line_id, $1, $2, x.note, x.before::jsonb, x.after::jsonb
         FROM unnest($3::uuid[], $4::uuid[], $5::text[], $6::uuid[], $7::text[], $8::text[], $9::text[])
              WITH ORDINALITY AS x(entitlement_id, account_id, kind, order_line_id, note, before, after, n)
        ORDER BY x.n`,
      [
        ctx.principal?.keyId ?? null,
        ctx.requestId,
        events.map((e) => e.entitlementId),
        events.map((e) => e.accountId),
        events.map((e) => e.kind),
        events.map((e) => e.orderLineId),
        events.map((e) => e.note ?? null),
        events.map((e) => json(e.before)),
        events.map((e) => json(e.after)),
      ],
    );
  }

  // ------------------------------------------------------------------ suspension

  async suspend(ctx: RequestContext, id: string, reason: string): Promise<Entitlement> {
    const why = reason.trim();
    if (!why) throw badInput('ENTITLEMENT_SUSPEND_REASON_REQUIRED', 'Say why the entitlement is suspended', [{ path: 'reason', message: 'must not be empty' }]);
    return this.db.tx(ctx, async (tx) => {
      const e = await this.lock(tx.manager, id);
      if (!e) throw notFound('Entitlement', id);
      assertRecordVisible(ctx, e.accountId, 'Entitlement', id);
      if (e.status === EntitlementStatus.SUSPENDED && e.suspendedReason === why) return e; // replay
      const status = effectiveStatus(e);
      if (status === EntitlementStatus.CANCELLED || status === EntitlementStatus.EXPIRED) {
        throw badInput('ENTITLEMENT_NOT_ACTIVE', `Entitlement ${id} is ${status} and cannot be suspended`);
      }
      const changed = await this.change(tx, ctx, id, 'SUSPENDED', null, { status: EntitlementStatus.SUSPENDED, suspendedReason: why, note: why });
      tx.publish({ kind: 'entitlements.changed', accountIds: [e.accountId], entitlementIds: [id] });
      return changed;
    });
  }

  async resume(ctx: RequestContext, id: string): Promise<Entitlement> {
    return this.db.tx(ctx, async (tx) => {
      const e = await this.lock(tx.manager, id);
      if (!e) throw notFound('Entitlement', id);
      assertRecordVisible(ctx, e.accountId, 'Entitlement', id);
      if (e.status !== EntitlementStatus.SUSPENDED) return e; // already resumed: replay is a no-op
      // Back to what the dates say (the lifecycle job may have skipped it while suspended).
      const status = e.graceEndsAt && e.graceEndsAt.getTime() <= Date.now() ? EntitlementStatus.EXPIRED : EntitlementStatus.ACTIVE;
      const changed = await this.change(tx, ctx, id, 'RESUMED', null, { status, suspendedReason: null });
      tx.publish({ kind: 'entitlements.changed', accountIds: [e.accountId], entitlementIds: [id] });
      return changed;
    });
  }

  // ------------------------------------------------------------------ lifecycle job

  /**
   * Moves stored statuses to what the dates say: ACTIVE/SUSPENDED past their grace end →
   * EXPIRED, ended early (cancelled, upgraded) past their end → CANCELLED; one history event
   * each. Checks never depend on this having run; reports and filters do.
   */
  async runLifecycle(ctx: RequestContext, now: Date = new Date()): Promise<{ expired: number; cancelled: number }> {
    return this.db.tx(ctx, async (tx) => {
      // TypeORM answers an UPDATE ... RETURNING with [rows, affectedCount].
      const [rows]: [{ id: string; account_id: string; status: string }[], number] = await tx.manager.query(
        `WITH due AS (
           SELECT id, CASE WHEN ended_reason IS NOT NULL THEN 'CANCELLED' ELSE 'EXPIRED' END AS next
             FROM entitlement
            WHERE status IN ('ACTIVE','SUSPENDED')
              AND ((ended_reason IS NULL AND grace_ends_at <= $1) OR (ended_reason IS NOT NULL AND ends_at <= $1))
            ORDER BY id
            FOR UPDATE SKIP LOCKED
            LIMIT 5000
         )
         UPDATE entitlement e SET status = due.next, version = e.version + 1, updated_at = now()
           FROM due WHERE e.id = due.id
         RETURNING e.id, e.account_id, e.status`,
        [now],
      );
      if (rows.length) {
        await tx.manager.query(
          `INSERT INTO entitlement_event (entitlement_id, account_id, kind, request_id, note)
           SELECT id, account_id, status, $4, 'by the lifecycle job' FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS r(id, account_id, status)`,
          [rows.map((r) => r.id), rows.map((r) => r.account_id), rows.map((r) => r.status), ctx.requestId],
        );
      }
      tx.publish({ kind: 'entitlements.changed', accountIds: rows.map((r) => r.account_id), entitlementIds: rows.map((r) => r.id) });
      return {
        expired: rows.filter((r) => r.status === 'EXPIRED').length,
        cancelled: rows.filter((r) => r.status === 'CANCELLED').length,
      };
    });
  }
}

/** Columns of `entitlement` as `toEntitlement` reads them (dates as text: pg would make them local Dates). */
export const ENTITLEMENT_COLUMNS = `id, account_id, product_id, sku, order_id, order_line_id, model, status, quantity::text AS quantity,
  start_date::text AS start_date, end_date::text AS end_date, starts_at, ends_at, grace_days, grace_ends_at, overage_policy,
  reset_period, suspended_reason, ended_reason, version, created_at, updated_at`;

/** A raw `entitlement` row (ENTITLEMENT_COLUMNS) as the entity, without a second read. */
export function toEntitlement(r: Record<string, unknown>): Entitlement {
  return Object.assign(new Entitlement(), {
    id: r.id,
    accountId: r.account_id,
    productId: r.product_id,
    sku: r.sku,
    orderId: r.order_id,
    orderLineId: r.order_line_id,
    model: r.model,
    status: r.status,
    quantity: Number(r.quantity),
    startDate: r.start_date,
    endDate: r.end_date,
    startsAt: r.starts_at,
    endsAt: r.ends_at,
    graceDays: r.grace_days,
    graceEndsAt: r.grace_ends_at,
    overagePolicy: r.overage_policy,
    resetPeriod: r.reset_period,
    suspendedReason: r.suspended_reason,
    endedReason: r.ended_reason,
    version: r.version,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  });
}

/**
 * The instants of a term in a time zone: a service period's end date is its last day,
 * inclusive, so the entitlement ends at the start of the following day; grace adds days.
 */
export function TERM_SQL(start: string, end: string, grace: string, tz: string): string {
  return `SELECT (${start}::date)::timestamp AT TIME ZONE ${tz} AS starts_at,
                 CASE WHEN ${end}::date IS NULL THEN NULL ELSE ((${end}::date) + 1)::timestamp AT TIME ZONE ${tz} END AS ends_at,
                 CASE WHEN ${end}::date IS NULL THEN NULL ELSE ((${end}::date) + 1 + ${grace}::int)::timestamp AT TIME ZONE ${tz} END AS grace_ends_at`;
}

/**
 * An entitlement row (alias `e`) with its features (a jsonb array of { featureKey, limitTotal })
 * as JSON, exactly as `auditSnapshot(toEntitlement(row))` plus `features` writes it in JS:
 * camelCase keys, quantity a number, dates as text, instants as ISO strings in UTC with
 * milliseconds. History and audit rows written in SQL and in JS must not differ.
 */
export function SNAPSHOT_SQL(e: string, features: string): string {
  const iso = (c: string) => `to_char(${e}.${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
  return `jsonb_build_object(
    'id', ${e}.id, 'accountId', ${e}.account_id, 'productId', ${e}.product_id, 'sku', ${e}.sku, 'orderId', ${e}.order_id,
    'orderLineId', ${e}.order_line_id, 'model', ${e}.model, 'status', ${e}.status, 'quantity', ${e}.quantity::float8,
    'startDate', ${e}.start_date::text, 'endDate', ${e}.end_date::text, 'startsAt', ${iso('starts_at')}, 'endsAt', ${iso('ends_at')},
    'graceDays', ${e}.grace_days, 'graceEndsAt', ${iso('grace_ends_at')}, 'overagePolicy', ${e}.overage_policy, 'resetPeriod', ${e}.reset_period,
    'suspendedReason', ${e}.suspended_reason, 'endedReason', ${e}.ended_reason, 'version', ${e}.version,
    'createdAt', ${iso('created_at')}, 'updatedAt', ${iso('updated_at')},
    'features', (SELECT COALESCE(jsonb_agg(jsonb_build_object('featureKey', x->>'featureKey', 'limitTotal', x->'limitTotal') ORDER BY n), '[]'::jsonb)
                   FROM jsonb_array_elements(${features}) WITH ORDINALITY AS f(x, n)))`;
}

import { isUuid } from '../common/ids';
import type { EntityManager } from 'typeorm';
import type { RequestContext } from '../common/context';
import { AppError, badInput, conflict, notFound, type FieldError } from '../common/errors';
import { paginate, type Connection } from '../common/pagination';
import { toDecimalString, multiplyDecimal, trimDecimal } from '../common/decimal';
import { accountScope, assertAccountVisible, assertRecordVisible } from '../auth/scope';
import type { Db, Tx } from '../db/db';
import { auditSnapshot, preparedTx } from '../db/db';
import { MonetizationModel } from '../catalog/catalog.enums';
import type { CatalogService } from '../catalog/catalog.service';
import type { Product } from '../catalog/catalog.entities';
import { normalizeExternalRefs, resolveExternalRef } from '../accounts/external-ref.service';
import { Entitlement } from '../entitlements/entitlement.entity';
import { EntitlementStatus, OrderLineAction, OveragePolicy, ResetPeriod } from '../entitlements/entitlement.enums';
import type { EntitlementService, FeatureGrant, Term } from '../entitlements/entitlement.service';
import type { RevenueService } from '../revenue/revenue.service';
import { Order, OrderRevision } from './order.entity';
import { OrderLine, type LineLimit } from './order-line.entity';
import type { OrderInput, OrderLineInput, OrderListArgs } from './order.types';
import { contentHash, stableStringify } from '../common/stable-json';
import { addDays } from '../common/dates';
import { groupBy } from '../common/collections';
import { canonicalTerms, termsShapeErrors, writeEntitlementTerms, type CanonicalTerms } from '../support/terms';

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
/** Models whose entitlement must have an end date. */
const TERM_REQUIRED = new Set<string>([MonetizationModel.SUBSCRIPTION]);
const METERED_LIKE = new Set<string>([MonetizationModel.METERED, MonetizationModel.USAGE, MonetizationModel.OUTCOME]);

/** An order line as fulfilment sees it: input normalised, defaults applied, product resolved. */
interface PlannedLine {
  index: number;
  input: CanonicalLine;
  product: Product;
  model: MonetizationModel;
  /** The line (of an earlier order or revision) this one renews or amends. */
  target: OrderLine | null;
  /** The product's flattened features (read once per order for all its products). */
  effective: { featureId: string; featureKey: string; limitPerUnit: string | null }[];
  /** Ids of the features the order's lines give limits for (read once per order). */
  featureIds: ReadonlyMap<string, string>;
}

/** The canonical form of a line: what the idempotency hash covers and what is stored. */
interface CanonicalLine {
  lineNo: number;
  externalLineId: string | null;
  sku: string;
  quantity: string;
  unitPrice: string;
  startDate: string;
  endDate: string | null;
  model: MonetizationModel | null;
  action: OrderLineAction;
  renewsLineRef: string | null;
  amendsLineRef: string | null;
  overagePolicy: OveragePolicy | null;
  resetPeriod: ResetPeriod | null;
  limits: LineLimit[] | null;
  graceDays: number;
  /** Only present when given, so the hashes of orders without it do not change. */
  ssp?: string;
  /** Only present when given, so the hashes of orders without it do not change. */
  overageUnitPrice?: string;
  /** Contract terms (ADR 0037); only present when given, so the hashes of orders without them do not change. */
  terms?: CanonicalTerms;
}

function canonicalLine(l: OrderLineInput): CanonicalLine {
  const ssp = l.ssp === null || l.ssp === undefined ? {} : { ssp: BigInt(l.ssp).toString() };
  const overage = l.overageUnitPrice === null || l.overageUnitPrice === undefined ? {} : { overageUnitPrice: BigInt(l.overageUnitPrice).toString() };
  const terms = l.terms ? { terms: canonicalTerms(l.terms) } : {};
  return {
    ...ssp,
    ...overage,
    ...terms,
    lineNo: l.lineNo,
    externalLineId: l.externalLineId ?? null,
    sku: l.sku,
    quantity: toDecimalString(l.quantity),
    unitPrice: BigInt(l.unitPrice).toString(),
    startDate: l.startDate,
    endDate: l.endDate ?? null,
    model: l.model ?? null,
    action: l.action ?? OrderLineAction.NEW,
    renewsLineRef: l.renewsLineRef ?? null,
    amendsLineRef: l.amendsLineRef ?? null,
    overagePolicy: l.overagePolicy ?? null,
    resetPeriod: l.resetPeriod ?? null,
    limits: l.limits?.length
      ? [...l.limits]
          .map((x) => ({ feature: x.feature, limit: x.limit === null || x.limit === undefined ? null : toDecimalString(x.limit) }))
          .sort((a, b) => a.feature.localeCompare(b.feature))
      : null,
    graceDays: l.graceDays ?? 0,
  };
}

/** Stable JSON (sorted keys) so equal inputs hash equally whatever their key order. */
function multiply(perUnit: string | null, quantity: string): string | null {
  return perUnit === null ? null : trimDecimal(multiplyDecimal(perUnit, quantity));
}

/**
 * Orders → entitlements, exactly once. `submit` stores the order and fulfils every line in
 * one transaction: the same (source, externalId, revision) again returns the order and
 * changes nothing; a higher revision applies the difference to the existing entitlements.
 */
export class OrderService {
  constructor(
    private readonly db: Db,
    private readonly catalog: CatalogService,
    private readonly entitlements: EntitlementService,
    private readonly revenue?: RevenueService,
  ) {}

  // ------------------------------------------------------------------ reads

  async get(ctx: RequestContext, id: string): Promise<Order> {
    if (!isUuid(id)) throw notFound('Order', id);
    const o = await this.db.manager.findOne(Order, { where: { id } });
    if (!o) throw notFound('Order', id);
    assertRecordVisible(ctx, o.accountId, 'Order', id);
    return o;
  }

  async list(ctx: RequestContext, args: OrderListArgs): Promise<Connection<Order>> {
    const qb = this.db.manager.createQueryBuilder(Order, 'o');
    const scope = accountScope(ctx);
    if (scope) {
      if (args.accountId && args.accountId !== scope) throw notFound('Account', args.accountId);
      qb.andWhere('o.accountId = :scope', { scope });
    }
    if (args.accountId) qb.andWhere('o.accountId = :a', { a: args.accountId });
    if (args.source) qb.andWhere('o.source = :s', { s: args.source });
    if (args.externalId) qb.andWhere('o.externalId = :x', { x: args.externalId });
    return paginate(qb, 'o', args);
  }

  async linesOf(manager: EntityManager, orderIds: readonly string[]): Promise<Map<string, OrderLine[]>> {
    const rows = orderIds.length
      ? await manager.createQueryBuilder(OrderLine, 'l').where('l.orderId = ANY(:ids)', { ids: orderIds }).orderBy('l.lineNo').getMany()
      : [];
    return groupBy(rows, (r) => r.orderId);
  }

  // ------------------------------------------------------------------ submit

  async submit(ctx: RequestContext, input: OrderInput): Promise<Order> {
    const lines = [...input.lines].map(canonicalLine).sort((a, b) => a.lineNo - b.lineNo);
    const refs = input.accountRef ? normalizeExternalRefs([input.accountRef]) : [];
    const canonical = {
      source: input.source,
      externalId: input.externalId,
      revision: input.revision ?? 1,
      accountId: input.accountId ?? null,
      accountRef: refs[0] ?? null,
      orderDate: input.orderDate,
      currency: input.currency,
      lines,
      // Only present when given, so the hashes of orders without one do not change.
      ...(input.invoiceSchedule ? { invoiceSchedule: input.invoiceSchedule.map((i) => ({ date: i.date, amountMinor: BigInt(i.amountMinor).toString() })) } : {}),
    };
    const requestHash = contentHash(canonical);
    this.validateShape(canonical.lines, input);

    return this.db.tx(ctx, async (tx) => {
      // One writer per order at a time: replays and revisions of the same order serialize.
      // (The account given by id is looked up in the same statement: one round trip fewer.)
      const [locked]: { account_found: boolean }[] = await preparedTx(tx.manager, 'ehub_order_lock',
        `SELECT pg_advisory_xact_lock(hashtext('ehub.order'), hashtext($1)), EXISTS (SELECT 1 FROM account WHERE id = $2::uuid) AS account_found`,
        [`${input.source}/${input.externalId}`, canonical.accountId],
      );
      const accountId = await this.resolveAccount(ctx, tx.manager, canonical.accountId, canonical.accountRef, locked!.account_found);

      // Most submissions are new orders: a prepared probe first, the ORM's full read only for an order that exists.
      const [known] = await preparedTx<{ id: string }>(tx.manager, 'ehub_order_known', 'SELECT id FROM sales_order WHERE source = $1 AND external_id = $2', [
        input.source,
        input.externalId,
      ]);
      const existing = known ? await tx.manager.findOne(Order, { where: { id: known.id } }) : null;
      if (existing) {
        assertRecordVisible(ctx, existing.accountId, 'Order', `${input.source}/${input.externalId}`);
        const seen = await tx.manager.findOne(OrderRevision, { where: { orderId: existing.id, revision: canonical.revision } });
        if (seen) {
          if (seen.requestHash === requestHash) return existing; // a replay: nothing changes
          throw conflict(
            'ORDER_REVISION_CONFLICT',
            `Order ${input.source}/${input.externalId} revision ${canonical.revision} was already received with different content; send a higher revision to change it`,
            { orderId: existing.id, revision: canonical.revision },
          );
        }
        if (canonical.revision < existing.revision) {
          throw conflict(
            'ORDER_REVISION_STALE',
            `Order ${input.source}/${input.externalId} is at revision ${existing.revision}; revision ${canonical.revision} is older`,
            { orderId: existing.id, currentRevision: existing.revision },
          );
        }
        if (existing.accountId !== accountId) {
          throw conflict('ORDER_ACCOUNT_MISMATCH', `Order ${input.source}/${input.externalId} belongs to another account; an order cannot move`);
        }
      }

      const planned = await this.plan(tx.manager, canonical.lines, accountId, input.source, existing?.id ?? null);
      const before = existing ? auditSnapshot(existing) : null;
      let order: Order;
      if (existing) {
        await tx.manager.update(Order, { id: existing.id }, { revision: canonical.revision, orderDate: input.orderDate, currency: input.currency });
        order = await tx.manager.findOneOrFail(Order, { where: { id: existing.id } });
        await tx.manager.insert(OrderRevision, {
          orderId: order.id,
          accountId,
          revision: canonical.revision,
          requestHash,
          input: canonical,
          keyId: ctx.principal?.keyId ?? null,
          requestId: ctx.requestId,
        });
      } else {
        // The order and its first revision in one statement.
        const [row]: { id: string; created_at: Date; updated_at: Date }[] = await preparedTx(tx.manager, 'ehub_order_create',
          `WITH o AS (
             INSERT INTO sales_order (account_id, source, external_id, revision, order_date, currency) VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING id, created_at, updated_at
           ), r AS (
             INSERT INTO order_revision (order_id, revision, account_id, request_hash, input, key_id, request_id)
             SELECT o.id, $4, $1, $7, $8::jsonb, $9, $10 FROM o
           )
           SELECT id, created_at, updated_at FROM o`,
          [accountId, input.source, input.externalId, canonical.revision, input.orderDate, input.currency, requestHash, JSON.stringify(canonical), ctx.principal?.keyId ?? null, ctx.requestId],
        );
        order = Object.assign(new Order(), {
          id: row!.id,
          accountId,
          source: input.source,
          externalId: input.externalId,
          revision: canonical.revision,
          orderDate: input.orderDate,
          currency: input.currency,
          createdAt: row!.created_at,
          updatedAt: row!.updated_at,
        });
      }

      if (existing) await this.applyRevision(tx, ctx, order, planned, input.currency);
      else await this.fulfilLines(tx, ctx, order, planned, input.currency);

      tx.audit({ entity: 'Order', entityId: order.id, action: existing ? 'REVISE' : 'CREATE', before, after: { ...order, lines } });
      await this.revenue?.syncOrder(tx, ctx, order.id, canonical.invoiceSchedule ?? null, { created: !existing });
      // CRM fields (status, ARR, renewal date) and entitlement summaries follow the order.
      tx.publish({ kind: 'order.fulfilled', accountId, orderId: order.id });
      return order;
    });
  }

  /** Checks that need no database: dates, quantities, duplicates. Throws one BAD_USER_INPUT listing all. */
  private validateShape(lines: CanonicalLine[], input: OrderInput): void {
    const errors: FieldError[] = [];
    const at = (l: CanonicalLine) => input.lines.findIndex((x) => x.lineNo === l.lineNo);
    if (!input.accountId && !input.accountRef) errors.push({ path: 'input.accountId', message: 'give accountId or accountRef' });
    if (input.accountId && input.accountRef) errors.push({ path: 'input.accountRef', message: 'give accountId or accountRef, not both' });
    const seen = new Set<number>();
    for (const l of lines) {
      const p = `input.lines.${at(l)}`;
      if (seen.has(l.lineNo)) errors.push({ path: `${p}.lineNo`, message: `line number ${l.lineNo} appears twice` });
      seen.add(l.lineNo);
      if (!ISO_DATE.test(l.startDate)) errors.push({ path: `${p}.startDate`, message: 'must be YYYY-MM-DD' });
      if (l.endDate && l.endDate < l.startDate) {
        errors.push({ path: `${p}.endDate`, message: `line ${l.lineNo}: the end date ${l.endDate} is before the start date ${l.startDate}` });
      }
      const needsQuantity = l.action !== OrderLineAction.CANCELLATION;
      if (needsQuantity && Number(l.quantity) <= 0) {
        errors.push({ path: `${p}.quantity`, message: `line ${l.lineNo}: quantity must be greater than 0 on ${l.action}` });
      }
      if (l.action === OrderLineAction.RENEWAL && !l.renewsLineRef) {
        errors.push({ path: `${p}.renewsLineRef`, message: `line ${l.lineNo}: a RENEWAL must say which line it renews` });
      }
      if ([OrderLineAction.AMENDMENT, OrderLineAction.CANCELLATION, OrderLineAction.UPGRADE].includes(l.action) && !l.amendsLineRef) {
        errors.push({ path: `${p}.amendsLineRef`, message: `line ${l.lineNo}: ${l.action} must say which line it changes (amendsLineRef)` });
      }
      if (BigInt(l.unitPrice) < 0n) errors.push({ path: `${p}.unitPrice`, message: 'must not be negative' });
      const keys = new Set<string>();
      if (l.overageUnitPrice !== undefined && BigInt(l.overageUnitPrice) < 0n) {
        errors.push({ path: `${p}.overageUnitPrice`, message: `line ${l.lineNo}: overageUnitPrice must be >= 0` });
      }
      if (l.terms) errors.push(...termsShapeErrors(l.terms, p, l.startDate));
      for (const [j, lim] of (l.limits ?? []).entries()) {
        if (keys.has(lim.feature)) errors.push({ path: `${p}.limits.${j}.feature`, message: `feature ${lim.feature} appears twice` });
        keys.add(lim.feature);
      }
    }
    if (errors.length) throw badInput('ORDER_INVALID', `The order is invalid: ${errors.map((e) => e.message).join('; ')}`, errors);
  }

  private async resolveAccount(
    ctx: RequestContext,
    manager: EntityManager,
    accountId: string | null,
    ref: { system: string; object: string; externalId: string } | null,
    accountFound: boolean,
  ): Promise<string> {
    if (accountId) {
      if (!accountFound) throw notFound('Account', accountId);
      assertAccountVisible(ctx, accountId);
      return accountId;
    }
    const found = ref ? await resolveExternalRef(manager, ref.system, ref.object, ref.externalId) : null;
    // Another account's reference reads as unknown to a scoped key (nothing about it leaks).
    const scope = accountScope(ctx);
    if (!found || found.entityType !== 'ACCOUNT' || (scope && scope !== found.entityId)) {
      throw new AppError('NOT_FOUND', 'ACCOUNT_NOT_FOUND', `No account is linked to ${ref?.system}/${ref?.object}/${ref?.externalId}`, {
        fields: [{ path: 'input.accountRef', message: 'no account with this reference' }],
      });
    }
    return found.entityId;
  }

  /** Resolves products and line references; every problem is reported at once, naming its line. */
  private async plan(
    manager: EntityManager,
    lines: CanonicalLine[],
    accountId: string,
    source: string,
    orderId: string | null,
  ): Promise<PlannedLine[]> {
    const catalog = await this.catalog.productsWithFeaturesBySku(manager, [...new Set(lines.map((l) => l.sku))]);
    const errors: FieldError[] = [];
    const out: PlannedLine[] = [];
    const featureKeys = [...new Set(lines.flatMap((l) => (l.limits ?? []).map((x) => x.feature)))];
    const featureIds = new Map<string, string>(
      featureKeys.length ? (await manager.query('SELECT id, key FROM feature WHERE key = ANY($1)', [featureKeys])).map((r: { id: string; key: string }) => [r.key, r.id]) : [],
    );
    for (const [index, l] of lines.entries()) {
      const p = `input.lines.${index}`;
      const { product, effective } = catalog.get(l.sku) ?? {};
      if (!product) {
        errors.push({ path: `${p}.sku`, message: `line ${l.lineNo}: unknown sku ${l.sku}` });
        continue;
      }
      const model = (l.model ?? product.defaultModel) as MonetizationModel;
      if (TERM_REQUIRED.has(model) && !l.endDate && [OrderLineAction.NEW, OrderLineAction.UPGRADE].includes(l.action)) {
        errors.push({ path: `${p}.endDate`, message: `line ${l.lineNo}: a ${model} line needs an end date` });
      }
      for (const [j, lim] of (l.limits ?? []).entries()) {
        if (!featureIds.has(lim.feature)) errors.push({ path: `${p}.limits.${j}.feature`, message: `line ${l.lineNo}: unknown feature ${lim.feature}` });
      }
      let target: OrderLine | null = null;
      const ref = l.action === OrderLineAction.RENEWAL ? l.renewsLineRef : l.action === OrderLineAction.NEW ? null : l.amendsLineRef;
      if (ref) {
        target = await this.resolveLineRef(manager, ref, accountId, source, orderId);
        if (!target) {
          const what = l.action === OrderLineAction.RENEWAL ? 'renewsLineRef' : 'amendsLineRef';
          errors.push({ path: `${p}.${what}`, message: `line ${l.lineNo}: ${l.action} of nothing: no line ${ref} of this account` });
        } else if (!(await this.entitlementForLine(manager, target))) {
          errors.push({ path: `${p}.${l.action === OrderLineAction.RENEWAL ? 'renewsLineRef' : 'amendsLineRef'}`, message: `line ${l.lineNo}: line ${ref} has no entitlement to ${l.action.toLowerCase()}` });
        }
      }
      out.push({ index, input: l, product, model, target, effective: effective ?? [], featureIds });
    }
    if (errors.length) throw badInput('ORDER_INVALID', `The order is invalid: ${errors.map((e) => e.message).join('; ')}`, errors);
    return out;
  }

  /**
   * A line reference: an external line id, `<externalId>#<lineNo>` in the same source, or
   * `<source>:<externalId>#<lineNo>`. Only lines of the same account resolve.
   */
  private async resolveLineRef(manager: EntityManager, ref: string, accountId: string, source: string, orderId: string | null): Promise<OrderLine | null> {
    const m = /^(?:([^:#]+):)?(.+)#(\d+)$/.exec(ref);
    if (m) {
      const [, src, externalId, lineNo] = m;
      const [row] = await manager.query(
        `SELECT l.id FROM order_line l JOIN sales_order o ON o.id = l.order_id
          WHERE o.source = $1 AND o.external_id = $2 AND l.line_no = $3 AND l.account_id = $4`,
        [src ?? source, externalId, Number(lineNo), accountId],
      );
      if (row) return manager.findOneOrFail(OrderLine, { where: { id: row.id } });
    }
    const rows: { id: string }[] = await manager.query(
      `SELECT id FROM order_line WHERE external_line_id = $1 AND account_id = $2 ORDER BY (order_id = $3) DESC, (status = 'ACTIVE') DESC, created_at DESC LIMIT 1`,
      [ref, accountId, orderId],
    );
    return rows[0] ? manager.findOneOrFail(OrderLine, { where: { id: rows[0].id } }) : null;
  }

  /** The entitlement a line stands for: its own (NEW, UPGRADE), or that of the line it renews or amends. */
  private async entitlementForLine(manager: EntityManager, line: OrderLine): Promise<Entitlement | null> {
    let current: OrderLine | null = line;
    for (let hops = 0; current && hops < 100; hops++) {
      const own = await manager.findOne(Entitlement, { where: { orderLineId: current.id } });
      if (own) return own;
      const next: string | null = current.renewsLineId ?? current.amendsLineId;
      current = next ? await manager.findOne(OrderLine, { where: { id: next } }) : null;
    }
    return null;
  }

  /**
   * Stores lines in one statement (ADR 0047) and returns their ids by line number. The
   * values are those TypeORM wrote one line at a time before: same types, jsonb limits and
   * terms (SQL NULL when absent), status ACTIVE at the order's revision.
   */
  private async insertLines(manager: EntityManager, order: Order, planned: readonly PlannedLine[], currency: string): Promise<Map<number, string>> {
    if (planned.length === 0) return new Map();
    const rows: { id: string; line_no: number }[] = await preparedTx(manager, 'ehub_order_lines_insert',
      `INSERT INTO order_line (order_id, account_id, line_no, external_line_id, product_id, sku, action, model, quantity, unit_price_minor,
         ssp_minor, overage_unit_price_minor, currency, start_date, end_date, renews_line_id, amends_line_id, overage_policy, reset_period,
         limits, grace_days, terms, status, revision)
       SELECT $1, $2, v.line_no, v.external_line_id, v.product_id, v.sku, v.action, v.model, v.quantity, v.unit_price_minor,
              v.ssp_minor, v.overage_unit_price_minor, $3, v.start_date, v.end_date, v.renews_line_id, v.amends_line_id, v.overage_policy, v.reset_period,
              v.limits, v.grace_days, v.terms, 'ACTIVE', $4
         FROM jsonb_to_recordset($5::jsonb) AS v(line_no int, external_line_id text, product_id uuid, sku text, action text, model text,
                quantity numeric, unit_price_minor bigint, ssp_minor bigint, overage_unit_price_minor bigint, start_date date, end_date date,
                renews_line_id uuid, amends_line_id uuid, overage_policy text, reset_period text, limits jsonb, grace_days int, terms jsonb)
        ORDER BY v.line_no
       RETURNING id, line_no`,
      [
        order.id,
        order.accountId,
        currency,
        order.revision,
        JSON.stringify(
          planned.map((p) => {
            const l = p.input;
            return {
              line_no: l.lineNo,
              external_line_id: l.externalLineId,
              product_id: p.product.id,
              sku: l.sku,
              action: l.action,
              model: p.model,
              quantity: Number(l.quantity),
              unit_price_minor: l.unitPrice,
              ssp_minor: l.ssp ?? null,
              overage_unit_price_minor: l.overageUnitPrice ?? null,
              start_date: l.startDate,
              end_date: l.endDate,
              renews_line_id: l.action === OrderLineAction.RENEWAL ? (p.target?.id ?? null) : null,
              amends_line_id: l.action !== OrderLineAction.RENEWAL && l.action !== OrderLineAction.NEW ? (p.target?.id ?? null) : null,
              overage_policy: l.overagePolicy,
              reset_period: l.resetPeriod,
              limits: l.limits,
              grace_days: l.graceDays,
              terms: l.terms ?? null,
            };
          }),
        ),
      ],
    );
    return new Map(rows.map((r) => [r.line_no, r.id]));
  }

  /**
   * New lines of an order (or a revision): stored in one statement, then every NEW line
   * granted at once (a constant number of statements, ADR 0047). Renewals, amendments,
   * upgrades and cancellations change existing entitlements one by one, in line order,
   * after the grants (their targets were resolved by `plan`, never among these lines).
   */
  private async fulfilLines(tx: Tx, ctx: RequestContext, order: Order, planned: readonly PlannedLine[], currency: string): Promise<void> {
    const { ids, created } = await this.insertAndGrant(tx, ctx, order, planned, currency);
    // A new order of NEW lines without contract terms: what it granted is, as stored, all
    // the entitlements of the order (nothing else in the transaction changes them).
    if (planned.every((p) => p.input.action === OrderLineAction.NEW && !p.input.terms)) {
      this.granted.set(order, [...created].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
    }
    for (const p of planned) if (p.input.action !== OrderLineAction.NEW) await this.fulfilLine(tx, ctx, order, p, ids.get(p.input.lineNo)!);
  }

  /**
   * The entitlements a just-submitted order granted, as `EntitlementService.byOrders` would read
   * them back after the commit (same rows, same order: one transaction's entitlements share
   * `created_at`, then by id), when the submission was a new order of NEW lines; else
   * undefined. submitOrder's answer then needs no read-back (ADR 0059).
   */
  grantedWith(order: Order): readonly Entitlement[] | undefined {
    return this.granted.get(order);
  }

  private readonly granted = new WeakMap<Order, Entitlement[]>();

  /** Stores the lines and grants the NEW ones; the other actions are left to the caller (line ids by line number, and the entitlements granted). */
  private async insertAndGrant(
    tx: Tx,
    ctx: RequestContext,
    order: Order,
    planned: readonly PlannedLine[],
    currency: string,
  ): Promise<{ ids: Map<number, string>; created: Entitlement[] }> {
    const ids = await this.insertLines(tx.manager, order, planned, currency);
    const created = await this.grantMany(tx, ctx, order, planned.filter((p) => p.input.action === OrderLineAction.NEW).map((p) => ({ p, lineId: ids.get(p.input.lineNo)! })));
    return { ids, created };
  }

  /** What the line grants: the product's flattened features × quantity, then the line's own limits. */
  private grants(p: PlannedLine): FeatureGrant[] {
    const base = p.effective;
    const byKey = new Map<string, FeatureGrant>(
      base.map((f) => [f.featureKey, { featureId: f.featureId, featureKey: f.featureKey, limitTotal: multiply(f.limitPerUnit, p.input.quantity) }]),
    );
    for (const o of p.input.limits ?? []) byKey.set(o.feature, { featureId: p.featureIds.get(o.feature)!, featureKey: o.feature, limitTotal: o.limit });
    return [...byKey.values()].sort((a, b) => a.featureKey.localeCompare(b.featureKey));
  }

  private terms(p: PlannedLine): { overagePolicy: string | null; resetPeriod: string | null } {
    if (p.model === MonetizationModel.METERED) {
      return { overagePolicy: p.input.overagePolicy ?? OveragePolicy.BLOCK, resetPeriod: p.input.resetPeriod ?? ResetPeriod.MONTHLY };
    }
    if (METERED_LIKE.has(p.model)) return { overagePolicy: p.input.overagePolicy ?? OveragePolicy.ALLOW, resetPeriod: p.input.resetPeriod ?? ResetPeriod.TERM };
    return { overagePolicy: null, resetPeriod: null };
  }

  private term(l: CanonicalLine): Term {
    return { startDate: l.startDate, endDate: l.endDate, graceDays: l.graceDays };
  }

  private describe(order: Order, l: CanonicalLine): string {
    return `${order.source}/${order.externalId} line ${l.lineNo}`;
  }

  /** Applies one line to the account's entitlements. */
  private async fulfilLine(tx: Tx, ctx: RequestContext, order: Order, p: PlannedLine, lineId: string): Promise<void> {
    const l = p.input;
    const where = this.describe(order, l);
    switch (l.action) {
      case OrderLineAction.NEW:
        await this.grantMany(tx, ctx, order, [{ p, lineId }]);
        return;
      case OrderLineAction.UPGRADE: {
        const old = await this.lockedTarget(tx, p);
        await this.entitlements.change(tx, ctx, old.id, 'UPGRADED', lineId, {
          term: { startDate: old.startDate, endDate: addDays(l.startDate, -1), graceDays: 0 },
          endedReason: `upgraded to ${l.sku} by ${where}`,
          status: l.startDate <= today() ? EntitlementStatus.CANCELLED : old.status,
        });
        await this.grantMany(tx, ctx, order, [{ p, lineId, note: `upgrade from ${old.sku} (${old.id})` }]);
        return;
      }
      case OrderLineAction.RENEWAL: {
        const e = await this.lockedTarget(tx, p);
        if (e.endDate === null) throw badInput('ORDER_INVALID', `${where}: the renewed entitlement is perpetual; nothing to extend`, [{ path: `input.lines.${p.index}.renewsLineRef`, message: 'renews a perpetual entitlement' }]);
        const endDate = l.endDate;
        if (!endDate || endDate <= e.endDate) {
          throw badInput('ORDER_INVALID', `${where}: a renewal must end after the current end date ${e.endDate}`, [
            { path: `input.lines.${p.index}.endDate`, message: `must be after ${e.endDate}` },
          ]);
        }
        await this.entitlements.change(tx, ctx, e.id, 'RENEWED', lineId, {
          term: { startDate: e.startDate, endDate, graceDays: l.graceDays },
          quantity: Number(l.quantity),
          features: this.grants(p),
          ...this.terms(p),
          status: e.status === EntitlementStatus.EXPIRED ? EntitlementStatus.ACTIVE : e.status,
          note: `renewed by ${where} until ${endDate}`,
        });
        await this.writeTerms(tx, e.id, e.accountId, p);
        return;
      }
      case OrderLineAction.AMENDMENT: {
        const e = await this.lockedTarget(tx, p);
        await this.entitlements.change(tx, ctx, e.id, 'AMENDED', lineId, {
          term: { startDate: e.startDate, endDate: l.endDate ?? e.endDate, graceDays: l.graceDays },
          quantity: Number(l.quantity),
          features: this.grants(p),
          ...this.terms(p),
          note: `amended by ${where}`,
        });
        await this.writeTerms(tx, e.id, e.accountId, p);
        return;
      }
      case OrderLineAction.CANCELLATION: {
        const e = await this.lockedTarget(tx, p);
        const lastDay = l.endDate ?? addDays(l.startDate, -1);
        await this.entitlements.change(tx, ctx, e.id, 'CANCELLED', lineId, {
          term: { startDate: e.startDate, endDate: lastDay < addDays(e.startDate, -1) ? addDays(e.startDate, -1) : lastDay, graceDays: 0 },
          endedReason: `cancelled by ${where}`,
          status: addDays(lastDay, 1) <= today() ? EntitlementStatus.CANCELLED : e.status,
        });
        return;
      }
    }
  }

  /** Grants the entitlements of lines in one go (`EntitlementService.createMany`), then their contract terms. */
  private async grantMany(tx: Tx, ctx: RequestContext, order: Order, lines: readonly { p: PlannedLine; lineId: string; note?: string }[]): Promise<Entitlement[]> {
    const created = await this.entitlements.createMany(
      tx,
      ctx,
      lines.map(({ p, lineId, note }) => ({
        accountId: order.accountId,
        productId: p.product.id,
        sku: p.product.sku,
        orderId: order.id,
        orderLineId: lineId,
        model: p.model,
        quantity: Number(p.input.quantity),
        term: this.term(p.input),
        ...this.terms(p),
        features: this.grants(p),
        note: note ?? `granted by ${this.describe(order, p.input)}`,
      })),
    );
    for (const [i, e] of created.entries()) await this.writeTerms(tx, e.id, order.accountId, lines[i]!.p);
    return created;
  }

  /**
   * The line's contract terms onto its entitlement (ADR 0037). A line without terms leaves
   * the entitlement's terms as they are: renewals and amendments carry them forward (a
   * maintenance or support end left open follows the entitlement's new end date).
   */
  private async writeTerms(tx: Tx, entitlementId: string, accountId: string, p: PlannedLine): Promise<void> {
    if (!p.input.terms) return;
    await writeEntitlementTerms(tx.manager, entitlementId, accountId, p.input.terms, `input.lines.${p.index}`);
    tx.publish({ kind: 'support.changed', accountIds: [accountId], entitlementIds: [entitlementId] });
  }

  private async lockedTarget(tx: Tx, p: PlannedLine): Promise<Entitlement> {
    const e = await this.entitlementForLine(tx.manager, p.target!);
    const locked = e && (await this.entitlements.lock(tx.manager, e.id));
    if (!locked) throw new Error(`line ${p.input.lineNo}: target entitlement vanished`);
    return locked;
  }

  /**
   * A higher revision: new lines are fulfilled, changed lines re-applied to the entitlement
   * they shaped (never a second grant), removed lines undone.
   */
  private async applyRevision(tx: Tx, ctx: RequestContext, order: Order, planned: PlannedLine[], currency: string): Promise<void> {
    const current = (await this.linesOf(tx.manager, [order.id])).get(order.id) ?? [];
    const byNo = new Map(current.map((l) => [l.lineNo, l]));
    const wanted = new Set(planned.map((p) => p.input.lineNo));

    for (const p of planned) {
      const old = byNo.get(p.input.lineNo);
      if (old?.status === 'REMOVED') {
        throw badInput('ORDER_INVALID', `line ${p.input.lineNo} was removed in an earlier revision; use a new line number`, [{ path: `input.lines.${p.index}.lineNo`, message: 'line number already used by a removed line' }]);
      }
    }
    // Lines added by the revision: stored, and the NEW ones granted, together; the others
    // (renewals, amendments... of earlier lines) apply in line order with the changed lines.
    const { ids: added } = await this.insertAndGrant(tx, ctx, order, planned.filter((p) => !byNo.has(p.input.lineNo)), currency);

    for (const p of planned) {
      const old = byNo.get(p.input.lineNo);
      if (!old) {
        if (p.input.action !== OrderLineAction.NEW) await this.fulfilLine(tx, ctx, order, p, added.get(p.input.lineNo)!);
        continue;
      }
      if (old.sku !== p.input.sku || old.action !== p.input.action) {
        throw badInput('ORDER_INVALID', `line ${p.input.lineNo}: a revision cannot change a line's sku or action; remove the line and add a new line number`, [
          { path: `input.lines.${p.index}.sku`, message: 'sku or action changed' },
        ]);
      }
      if (!this.lineChanged(old, p)) continue;
      await tx.manager.update(
        OrderLine,
        { id: old.id },
        {
          quantity: Number(p.input.quantity),
          unitPriceMinor: p.input.unitPrice,
          sspMinor: p.input.ssp ?? null,
          overageUnitPriceMinor: p.input.overageUnitPrice ?? null,
          startDate: p.input.startDate,
          endDate: p.input.endDate,
          model: p.model,
          overagePolicy: p.input.overagePolicy,
          resetPeriod: p.input.resetPeriod,
          limits: p.input.limits,
          graceDays: p.input.graceDays,
          terms: p.input.terms ?? null,
          externalLineId: p.input.externalLineId,
          revision: order.revision,
        },
      );
      await this.reapply(tx, ctx, order, p, old);
    }

    for (const old of current) {
      if (old.status === 'REMOVED' || wanted.has(old.lineNo)) continue;
      await tx.manager.update(OrderLine, { id: old.id }, { status: 'REMOVED', revision: order.revision });
      await this.undo(tx, ctx, order, old);
    }
  }

  private lineChanged(old: OrderLine, p: PlannedLine): boolean {
    const l = p.input;
    return (
      toDecimalString(old.quantity) !== l.quantity ||
      old.unitPriceMinor !== l.unitPrice ||
      (old.sspMinor ?? null) !== (l.ssp ?? null) ||
      (old.overageUnitPriceMinor ?? null) !== (l.overageUnitPrice ?? null) ||
      old.startDate !== l.startDate ||
      old.endDate !== l.endDate ||
      old.model !== p.model ||
      old.overagePolicy !== l.overagePolicy ||
      old.resetPeriod !== l.resetPeriod ||
      stableStringify(old.limits) !== stableStringify(l.limits) ||
      old.graceDays !== l.graceDays ||
      stableStringify(old.terms ?? null) !== stableStringify(l.terms ?? null) ||
      old.externalLineId !== l.externalLineId
    );
  }

  /** A changed line: the entitlement it shaped takes the new values (same entitlement, new event). */
  private async reapply(tx: Tx, ctx: RequestContext, order: Order, p: PlannedLine, line: OrderLine): Promise<void> {
    const l = p.input;
    const where = `${this.describe(order, l)} (revision ${order.revision})`;
    if (l.action === OrderLineAction.NEW || l.action === OrderLineAction.UPGRADE) {
      const e = await tx.manager.findOneOrFail(Entitlement, { where: { orderLineId: line.id } });
      await this.entitlements.lock(tx.manager, e.id);
      await this.entitlements.change(tx, ctx, e.id, 'REVISED', line.id, {
        term: this.term(l),
        quantity: Number(l.quantity),
        features: this.grants(p),
        ...this.terms(p),
        note: `revised by ${where}`,
      });
      await this.writeTerms(tx, e.id, e.accountId, p);
      return;
    }
    // Renewals, amendments and cancellations: apply again with the new values.
    await this.fulfilLine(tx, ctx, order, p, line.id);
  }

  /** A removed line: its grant is cancelled; a removed renewal, amendment or cancellation is rolled back. */
  private async undo(tx: Tx, ctx: RequestContext, order: Order, line: OrderLine): Promise<void> {
    const where = `${order.source}/${order.externalId} line ${line.lineNo} removed in revision ${order.revision}`;
    if (line.action === OrderLineAction.NEW || line.action === OrderLineAction.UPGRADE) {
      const e = await tx.manager.findOne(Entitlement, { where: { orderLineId: line.id } });
      if (e) {
        await this.entitlements.lock(tx.manager, e.id);
        await this.entitlements.change(tx, ctx, e.id, 'REMOVED', line.id, { status: EntitlementStatus.CANCELLED, endedReason: where, note: where });
      }
      if (line.action === OrderLineAction.UPGRADE) await this.restoreFromEvent(tx, ctx, line, 'UPGRADED', where);
      return;
    }
    const kind = line.action === OrderLineAction.RENEWAL ? 'RENEWED' : line.action === OrderLineAction.AMENDMENT ? 'AMENDED' : 'CANCELLED';
    await this.restoreFromEvent(tx, ctx, line, kind, where);
  }

  /** Puts an entitlement back as it was before the event this line caused. */
  private async restoreFromEvent(tx: Tx, ctx: RequestContext, line: OrderLine, kind: string, note: string): Promise<void> {
    const [ev] = await tx.manager.query(
      `SELECT entitlement_id, before FROM entitlement_event WHERE order_line_id = $1 AND kind = $2 ORDER BY id DESC LIMIT 1`,
      [line.id, kind],
    );
    if (!ev?.before) return;
    const b = ev.before as Record<string, unknown> & { features: { featureKey: string; limitTotal: string | null }[] };
    await this.entitlements.lock(tx.manager, ev.entitlement_id);
    const ids: { id: string; key: string }[] = b.features.length
      ? await tx.manager.query('SELECT id, key FROM feature WHERE key = ANY($1)', [b.features.map((f) => f.featureKey)])
      : [];
    const idOf = new Map(ids.map((r) => [r.key, r.id]));
    await this.entitlements.change(tx, ctx, ev.entitlement_id, 'RESTORED', line.id, {
      term: { startDate: b.startDate as string, endDate: (b.endDate as string | null) ?? null, graceDays: b.graceDays as number },
      quantity: Number(b.quantity),
      overagePolicy: (b.overagePolicy as string | null) ?? null,
      resetPeriod: (b.resetPeriod as string | null) ?? null,
      status: b.status as EntitlementStatus,
      endedReason: (b.endedReason as string | null) ?? null,
      features: b.features.map((f) => ({ featureId: idOf.get(f.featureKey)!, featureKey: f.featureKey, limitTotal: f.limitTotal })),
      note,
    });
  }
}

function today(): string {
  return new Date().toISOString().slice(0, 10);
}

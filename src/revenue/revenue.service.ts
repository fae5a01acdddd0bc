import type { EntityManager } from 'typeorm';
import type { Config } from '../config';
import type { Db, Tx } from '../db/db';
import { preparedTx } from '../db/db';
import type { RequestContext } from '../common/context';
import { badInput, notFound } from '../common/errors';
import { accountScope, assertAccountVisible, assertUnscoped } from '../auth/scope';
import { addDays, addMonths, monthOf, parseMonth, todayIn, type MonthAmount } from './periods';
import { allocate, defaultPattern, earnedUntil, initialSchedule, modificationAdjustments, RevenuePattern, type ScheduleTerms } from './revenue.rules';
import { groupBy } from '../common/collections';
import { multiplyDecimal, trimDecimal } from '../common/decimal';

/** An obligation as stored (revenue_obligation), with what its line and product say. */
export interface ObligationRow {
  id: string;
  account_id: string;
  order_id: string;
  order_line_id: string;
  product_id: string;
  bundle_product_id: string | null;
  pattern: RevenuePattern;
  currency: string;
  quantity: string;
  list_minor: string;
  ssp_minor: string | null;
  allocated_minor: string;
  start_date: string;
  end_date: string | null;
  status: 'ACTIVE' | 'CANCELLED';
  allocation_error: string | null;
}

/** What an order line should produce now (before comparison with what is stored). */
interface Desired {
  lineId: string;
  productId: string;
  bundleProductId: string | null;
  sku: string;
  pattern: RevenuePattern;
  quantity: string;
  listMinor: bigint;
  /** SSP of the obligation (per-unit SSP × quantity), null = unknown. */
  sspMinor: bigint | null;
  /** The line's price share this obligation carries before allocation (for weights of bundles). */
  startDate: string;
  endDate: string | null;
  allocated: bigint;
  error: string | null;
}

interface LineRow {
  id: string;
  line_no: number;
  sku: string;
  action: string;
  model: string;
  quantity: string;
  unit_price_minor: string;
  ssp_minor: string | null;
  start_date: string;
  end_date: string | null;
  amends_line_id: string | null;
  status: string;
  product_id: string;
  kind: string;
  product_ssp: string | null;
  product_list: string;
  policy_pattern: RevenuePattern | null;
  split_bundle: boolean | null;
}

/** An order's billing figures (minor units). */
interface BillingState {
  accountId: string;
  currency: string;
  allocated: bigint;
  unallocated: boolean;
  price: bigint;
  invoices: number;
  billed: bigint;
}

export interface InvoiceLine {
  date: string;
  amountMinor: string;
}

/** Exact decimal × integer, rounded half away from zero to an integer (minor units). */
export function mulQuantity(minor: bigint, quantity: string): bigint {
  const [i, f = ''] = quantity.split('.');
  const scale = 10n ** BigInt(f.length);
  const n = minor * BigInt(`${i}${f}`);
  const q = n / scale;
  const r = n % scale;
  const twice = (r < 0n ? -r : r) * 2n;
  return twice >= scale ? q + (n < 0n ? -1n : 1n) : q;
}

const str = (v: bigint) => v.toString();

/**
 * Revenue recognition: obligations, allocation, schedules, modifications, periods, billing.
 * The schedule is an append-only ledger (revenue_entry): recognised in month M = the sum of
 * the entries for M. Orders feed it through `syncOrder`, inside the order's transaction.
 */
export class RevenueService {
  constructor(
    readonly db: Db,
    readonly config: Config,
  ) {}

  get timeZone(): string {
    return this.config.EHUB_REPORTING_TIME_ZONE ?? this.config.EHUB_TIME_ZONE;
  }

  // ------------------------------------------------------------------ periods

  /** The first month after the last closed one (closing a month closes every month before it too). */
  async firstOpenMonth(manager: EntityManager): Promise<string | null> {
    const [row] = await manager.query(`SELECT to_char(max(month), 'YYYY-MM-DD') AS m FROM revenue_period`);
    return row?.m ? addMonths(row.m as string, 1) : null;
  }

  private openFrom(month: string, firstOpen: string | null): string {
    return firstOpen && firstOpen > month ? firstOpen : month;
  }

  async closePeriod(ctx: RequestContext, monthText: string): Promise<{ month: string; closedAt: Date }> {
    assertUnscoped(ctx, 'close a revenue period');
    const month = parseMonth(monthText);
    if (!month) throw badInput('REVENUE_MONTH_INVALID', `month must be YYYY-MM, got ${monthText}`, [{ path: 'month', message: 'must be YYYY-MM' }]);
    return this.db.tx(ctx, async (tx) => {
      await tx.manager.query(`SELECT pg_advisory_xact_lock(hashtext('ehub.revenue.period'))`);
      const inserted = await tx.manager.query(
        `INSERT INTO revenue_period (month, closed_by_key_id) VALUES ($1, $2) ON CONFLICT (month) DO NOTHING RETURNING month`,
        [month, ctx.principal?.keyId ?? null],
      );
      if (inserted.length) {
        tx.audit({ entity: 'RevenuePeriod', entityId: null, action: 'CLOSE', after: { month } });
        tx.publish({ kind: 'revenue.period.closed', month: month.slice(0, 7) });
      }
      const [row] = await tx.manager.query(`SELECT closed_at FROM revenue_period WHERE month = $1`, [month]);
      return { month: month.slice(0, 7), closedAt: row.closed_at as Date };
    });
  }

  async periods(): Promise<{ month: string; closedAt: Date }[]> {
    const rows = await this.db.manager.query(`SELECT to_char(month, 'YYYY-MM') AS month, closed_at FROM revenue_period ORDER BY month`);
    return rows.map((r: { month: string; closed_at: Date }) => ({ month: r.month, closedAt: r.closed_at }));
  }

  // ------------------------------------------------------------------ policy

  async setProductPolicy(ctx: RequestContext, sku: string, pattern: RevenuePattern | null, splitBundle: boolean): Promise<{ sku: string; pattern: RevenuePattern | null; splitBundle: boolean }> {
    assertUnscoped(ctx, 'set a product revenue policy');
    return this.db.tx(ctx, async (tx) => {
      const [p] = await tx.manager.query(`SELECT id FROM product WHERE sku = $1`, [sku]);
      if (!p) throw notFound('Product', sku);
      const [before] = await tx.manager.query(`SELECT pattern, split_bundle FROM revenue_product_policy WHERE product_id = $1`, [p.id]);
      await tx.manager.query(
        `INSERT INTO revenue_product_policy (product_id, pattern, split_bundle) VALUES ($1, $2, $3)
         ON CONFLICT (product_id) DO UPDATE SET pattern = EXCLUDED.pattern, split_bundle = EXCLUDED.split_bundle, updated_at = now()`,
        [p.id, pattern, splitBundle],
      );
      tx.audit({ entity: 'RevenueProductPolicy', entityId: p.id, action: before ? 'UPDATE' : 'CREATE', before: before ?? null, after: { sku, pattern, splitBundle } });
      return { sku, pattern, splitBundle };
    });
  }

  // ------------------------------------------------------------------ orders → obligations

  /**
   * Builds or refreshes the obligations, schedule and billing of an order, inside the order's
   * transaction. New obligations get SCHEDULE entries; changed or removed ones a prospective
   * modification (ADJUSTMENT entries in open months only); UPGRADE and CANCELLATION lines end
   * the obligations of the line they change. Never throws for a missing SSP: the obligation
   * is recorded unallocated with the reason (see allocation_error).
   */
  async syncOrder(tx: Tx, ctx: RequestContext, orderId: string, invoiceSchedule: InvoiceLine[] | null = null, opts: { created?: boolean } = {}): Promise<void> {
    const m = tx.manager;
    // The order, the last closed month (what firstOpenMonth reads) and the lines with their products, in one statement:
    // a row per line, the order's columns on each (one row with no line when the order has none).
    const rows: (LineRow & { order_id: string; account_id: string; order_date: string; currency: string; last_closed: string | null })[] = await preparedTx(m, 'ehub_revenue_order_lines',
      `SELECT o.id AS order_id, o.account_id, to_char(o.order_date, 'YYYY-MM-DD') AS order_date, o.currency,
              (SELECT to_char(max(month), 'YYYY-MM-DD') FROM revenue_period) AS last_closed,
              l.id, l.line_no, l.sku, l.action, l.model, l.quantity::text AS quantity, l.unit_price_minor::text AS unit_price_minor,
              l.ssp_minor::text AS ssp_minor, to_char(l.start_date, 'YYYY-MM-DD') AS start_date, to_char(l.end_date, 'YYYY-MM-DD') AS end_date,
              l.amends_line_id, l.status, p.id AS product_id, p.kind, p.ssp_minor::text AS product_ssp, p.list_price_minor::text AS product_list,
              pol.pattern AS policy_pattern, pol.split_bundle
         FROM sales_order o
         LEFT JOIN (order_line l JOIN product p ON p.id = l.product_id LEFT JOIN revenue_product_policy pol ON pol.product_id = p.id) ON l.order_id = o.id
        WHERE o.id = $1 ORDER BY l.line_no`,
      [orderId],
    );
    if (!rows.length) return;
    const order = { id: rows[0]!.order_id, account_id: rows[0]!.account_id, order_date: rows[0]!.order_date, currency: rows[0]!.currency, last_closed: rows[0]!.last_closed };
    const lines: LineRow[] = rows.filter((r) => r.id !== null);
    const firstOpen = order.last_closed ? addMonths(order.last_closed as string, 1) : null;
    const active = lines.filter((l) => l.status !== 'REMOVED');
    const desired = await this.desiredObligations(m, active);
    // An order created in this transaction has no obligations yet.
    const existing: ObligationRow[] = opts.created ? [] : await m.query(`SELECT ${OBLIGATION_COLUMNS} FROM revenue_obligation WHERE order_id = $1`, [orderId]);
    const byKey = new Map(existing.map((o) => [`${o.order_line_id}/${o.product_id}`, o]));
    const overage = await this.usageOfFixed(m, existing);
    const touchedOrders = new Map<string, string>([[orderId, order.order_date as string]]);

    const fresh: Desired[] = [];
    for (const d of desired) {
      const old = byKey.get(`${d.lineId}/${d.productId}`);
      byKey.delete(`${d.lineId}/${d.productId}`);
      if (!old) {
        fresh.push(d);
        continue;
      }
      if (old.status === 'CANCELLED') continue; // ended by a later upgrade or cancellation: stays ended
      // Usage-priced: the allocation is what usage recognised so far; a revision does not reset it.
      if (d.pattern === RevenuePattern.AS_CONSUMED && old.pattern === RevenuePattern.AS_CONSUMED) d.allocated = BigInt(old.allocated_minor);
      const changed =
        old.pattern !== d.pattern ||
        BigInt(old.allocated_minor) - (overage.get(old.id) ?? 0n) !== d.allocated ||
        old.start_date !== d.startDate ||
        old.end_date !== d.endDate ||
        old.quantity !== d.quantity ||
        old.allocation_error !== d.error;
      if (!changed) continue;
      const effective = order.order_date > d.startDate ? (order.order_date as string) : d.startDate;
      await this.modify(tx, old, { ...d, status: 'ACTIVE' }, effective, `order revision: ${d.sku}`, firstOpen);
    }
    await this.createObligations(tx, order, fresh, firstOpen);
    // Lines removed by a revision: their obligations end the day before the revision's date.
    for (const old of byKey.values()) {
      if (old.status === 'CANCELLED') continue;
      await this.cancel(tx, old, addDays(order.order_date as string, -1), 'line removed by an order revision', firstOpen);
    }
    // UPGRADE and CANCELLATION end the obligations of the line they change.
    for (const l of active) {
      if (!l.amends_line_id || (l.action !== 'UPGRADE' && l.action !== 'CANCELLATION')) continue;
      const lastDay = l.action === 'UPGRADE' ? addDays(l.start_date, -1) : (l.end_date ?? addDays(l.start_date, -1));
      const targets: ObligationRow[] = await m.query(`SELECT ${OBLIGATION_COLUMNS} FROM revenue_obligation WHERE order_line_id = $1 AND status = 'ACTIVE' FOR UPDATE`, [l.amends_line_id]);
      for (const t of targets) {
        await this.cancel(tx, t, lastDay, `${l.action.toLowerCase()} by line ${l.line_no} (${l.sku})`, firstOpen);
        touchedOrders.set(t.order_id, addDays(lastDay, 1));
      }
    }
    // An order created in this transaction: its billing state is what was just written (nothing billed yet), no need to read it back.
    const created: BillingState | undefined = opts.created
      ? {
          accountId: order.account_id as string,
          currency: order.currency as string,
          allocated: desired.filter((d) => d.pattern !== RevenuePattern.AS_CONSUMED).reduce((a, d) => a + d.allocated, 0n),
          unallocated: desired.some((d) => d.error !== null),
          price: active
            .filter((l) => l.action !== 'CANCELLATION' && l.model !== 'USAGE' && l.model !== 'OUTCOME')
            .reduce((a, l) => a + mulQuantity(BigInt(l.unit_price_minor), l.quantity), 0n),
          invoices: 0,
          billed: 0n,
        }
      : undefined;
    for (const [id, date] of touchedOrders) await this.rebill(tx, id, date, id === orderId ? invoiceSchedule : null, id === orderId ? created : undefined);
  }

  /** Obligations from lines: one per line, or one per component of a bundle whose policy says split. */
  private async desiredObligations(m: EntityManager, lines: LineRow[]): Promise<Desired[]> {
    const fixed: Desired[] = [];
    const out: Desired[] = [];
    let price = 0n;
    const splitIds = lines.filter((l) => l.split_bundle).map((l) => l.product_id);
    const components: { bundle_id: string; product_id: string; sku: string; quantity: number; kind: string; ssp: string | null; list: string; policy_pattern: RevenuePattern | null }[] = splitIds.length
      ? await m.query(
          `SELECT c.bundle_id, p.id AS product_id, p.sku, c.quantity, p.kind, p.ssp_minor::text AS ssp, p.list_price_minor::text AS list, pol.pattern AS policy_pattern
             FROM product_component c JOIN product p ON p.id = c.component_id LEFT JOIN revenue_product_policy pol ON pol.product_id = p.id
            WHERE c.bundle_id = ANY($1) ORDER BY p.sku`,
          [splitIds],
        )
      : [];
    for (const l of lines) {
      if (l.action === 'CANCELLATION') continue; // ends another line's obligations; no obligation of its own
      const lineTotal = mulQuantity(BigInt(l.unit_price_minor), l.quantity);
      const parts = l.split_bundle ? components.filter((c) => c.bundle_id === l.product_id) : [];
      const base = { lineId: l.id, startDate: l.start_date, endDate: l.end_date, allocated: 0n, error: null };
      const lineObligations: Desired[] = parts.length
        ? parts.map((c) => ({
            ...base,
            productId: c.product_id,
            bundleProductId: l.product_id,
            sku: c.sku,
            pattern: c.policy_pattern ?? defaultPattern(c.kind, l.model, l.end_date !== null),
            quantity: trimDecimal(multiplyDecimal(l.quantity, String(c.quantity))),
            listMinor: mulQuantity(BigInt(c.list), multiplyDecimal(l.quantity, String(c.quantity))),
            sspMinor: c.ssp === null ? null : mulQuantity(BigInt(c.ssp), multiplyDecimal(l.quantity, String(c.quantity))),
          }))
        : [
            {
              ...base,
              productId: l.product_id,
              bundleProductId: null,
              sku: l.sku,
              pattern: l.policy_pattern ?? defaultPattern(l.kind, l.model, l.end_date !== null),
              quantity: trimDecimal(l.quantity),
              listMinor: mulQuantity(BigInt(l.product_list), l.quantity),
              sspMinor: (l.ssp_minor ?? l.product_ssp) === null ? null : mulQuantity(BigInt((l.ssp_minor ?? l.product_ssp)!), l.quantity),
            },
          ];
      // Usage-priced obligations carry their variable consideration themselves (recognised as
      // consumed); only fixed consideration is allocated across obligations.
      const variable = lineObligations.every((o) => o.pattern === RevenuePattern.AS_CONSUMED);
      if (!variable) price += lineTotal;
      for (const o of lineObligations) {
        out.push(o);
        if (o.pattern !== RevenuePattern.AS_CONSUMED) fixed.push(o);
      }
    }
    const r = allocate(price, fixed.map((o) => ({ ssp: o.sspMinor })));
    if (r.ok) r.allocated.forEach((a, i) => (fixed[i]!.allocated = a));
    else {
      const names = r.missing.map((i) => fixed[i]!.sku);
      const error = `REVENUE_SSP_MISSING: no standalone selling price for ${[...new Set(names)].join(', ')}; set the product's ssp (or the line's ssp) to allocate this order`;
      for (const o of fixed) o.error = error;
    }
    return out;
  }

  /**
   * New obligations with their initial schedules: two statements however many (ADR 0047),
   * one for the obligations and one for every schedule entry.
   */
  private async createObligations(tx: Tx, order: { id: string; account_id: string; currency: string }, desired: readonly Desired[], firstOpen: string | null): Promise<void> {
    if (desired.length === 0) return;
    const rows: { id: string; order_line_id: string; product_id: string }[] = await preparedTx(tx.manager, 'ehub_revenue_obligations_insert',
      `INSERT INTO revenue_obligation (account_id, order_id, order_line_id, product_id, bundle_product_id, pattern, currency, quantity, list_minor, ssp_minor, allocated_minor, start_date, end_date, allocation_error)
       SELECT $1, $2, v.order_line_id, v.product_id, v.bundle_product_id, v.pattern, $3, v.quantity, v.list_minor, v.ssp_minor, v.allocated_minor, v.start_date, v.end_date, v.allocation_error
         FROM jsonb_to_recordset($4::jsonb) AS v(order_line_id uuid, product_id uuid, bundle_product_id uuid, pattern text, quantity numeric,
                list_minor bigint, ssp_minor bigint, allocated_minor bigint, start_date date, end_date date, allocation_error text)
       RETURNING id, order_line_id, product_id`,
      [
        order.account_id,
        order.id,
        order.currency,
        JSON.stringify(
          desired.map((d) => ({
            order_line_id: d.lineId,
            product_id: d.productId,
            bundle_product_id: d.bundleProductId,
            pattern: d.pattern,
            quantity: d.quantity,
            list_minor: str(d.listMinor),
            ssp_minor: d.sspMinor === null ? null : str(d.sspMinor),
            allocated_minor: str(d.allocated),
            start_date: d.startDate,
            end_date: d.endDate,
            allocation_error: d.error,
          })),
        ),
      ],
    );
    // An obligation is one (line, product): RETURNING promises no order, so match on that.
    const idOf = new Map(rows.map((r) => [`${r.order_line_id}/${r.product_id}`, r.id]));
    const entries: { obligationId: string; month: string; amount: bigint }[] = [];
    for (const d of desired) {
      const id = idOf.get(`${d.lineId}/${d.productId}`)!;
      if (!d.error) {
        const schedule = initialSchedule({ pattern: d.pattern, amount: d.allocated, startDate: d.startDate, endDate: d.endDate });
        for (const e of firstOpen ? foldClosed(schedule, firstOpen) : schedule) entries.push({ obligationId: id, ...e });
      }
      tx.audit({ entity: 'RevenueObligation', entityId: id, action: 'CREATE', after: { ...d, allocated: str(d.allocated), listMinor: str(d.listMinor), sspMinor: d.sspMinor === null ? null : str(d.sspMinor) } });
    }
    const due = entries.filter((e) => e.amount !== 0n);
    if (due.length) {
      await preparedTx(tx.manager, 'ehub_revenue_entries_insert',
        `INSERT INTO revenue_entry (account_id, obligation_id, month, amount_minor, kind)
         SELECT $1, x.obligation_id, x.month, x.amount, 'SCHEDULE' FROM unnest($2::uuid[], $3::date[], $4::bigint[]) WITH ORDINALITY AS x(obligation_id, month, amount, n) ORDER BY x.n`,
        [order.account_id, due.map((e) => e.obligationId), due.map((e) => e.month), due.map((e) => str(e.amount))],
      );
    }
  }

  /** Ends an obligation on `lastDay`: it keeps what the days served earned; the rest is released prospectively. */
  private async cancel(tx: Tx, old: ObligationRow, lastDay: string, reason: string, firstOpen: string | null): Promise<void> {
    const usage = (await this.usageOfFixed(tx.manager, [old])).get(old.id) ?? 0n;
    const terms = { ...termsOf(old), amount: BigInt(old.allocated_minor) - usage };
    const keep = old.pattern === RevenuePattern.AS_CONSUMED ? BigInt(old.allocated_minor) : earnedUntil(terms, lastDay);
    const endDate = old.end_date === null || lastDay < old.end_date ? (lastDay < old.start_date ? old.start_date : lastDay) : old.end_date;
    await this.modify(
      tx,
      old,
      { pattern: old.pattern, allocated: keep, startDate: old.start_date, endDate: old.pattern === RevenuePattern.RATABLE ? endDate : old.end_date, quantity: old.quantity, error: old.allocation_error, status: 'CANCELLED' },
      addDays(lastDay, 1),
      reason,
      firstOpen,
    );
  }

  /**
   * A prospective modification from `effective`: months before it (and closed months) keep
   * their entries; ADJUSTMENT entries bring the open months to the new schedule.
   * `next.allocated` is the fixed part: overage recognised as consumed on a fixed-price
   * obligation (USAGE entries) stays as it is, outside the re-spread, and is added back.
   */
  private async modify(
    tx: Tx,
    old: ObligationRow,
    next: { pattern: RevenuePattern; allocated: bigint; startDate: string; endDate: string | null; quantity: string; error: string | null; status: 'ACTIVE' | 'CANCELLED' },
    effective: string,
    reason: string,
    firstOpen: string | null,
  ): Promise<void> {
    const m = tx.manager;
    const from = this.openFrom(monthOf(effective), firstOpen);
    const usage = (await this.usageOfFixed(m, [old])).get(old.id) ?? 0n;
    const ledger = await this.ledger(m, old.id, old.pattern !== RevenuePattern.AS_CONSUMED);
    const nextTerms: ScheduleTerms = { pattern: next.pattern, amount: next.allocated, startDate: next.startDate, endDate: next.endDate };
    const adjustments = next.error ? [] : modificationAdjustments(ledger, nextTerms, from, monthOf(effective));
    const before = { pattern: old.pattern, allocated: old.allocated_minor, startDate: old.start_date, endDate: old.end_date, quantity: old.quantity, status: old.status, error: old.allocation_error };
    const after = { pattern: next.pattern, allocated: str(next.allocated + usage), startDate: next.startDate, endDate: next.endDate, quantity: next.quantity, status: next.status, error: next.error };
    const [mod] = await m.query(
      `INSERT INTO revenue_modification (account_id, obligation_id, effective_date, first_open_month, reason, before, after) VALUES ($1,$2,$3,$4,$5,$6,$7) RETURNING id`,
      [old.account_id, old.id, effective, from, reason, JSON.stringify(before), JSON.stringify(after)],
    );
    await m.query(
      `UPDATE revenue_obligation SET pattern = $2, allocated_minor = $3, start_date = $4, end_date = $5, quantity = $6, status = $7, allocation_error = $8, updated_at = now() WHERE id = $1`,
      [old.id, next.pattern, str(next.allocated + usage), next.startDate, next.endDate, next.quantity, next.status, next.error],
    );
    // An obligation allocated for the first time (its SSP was set since) gets its schedule now.
    const entries = old.allocation_error && !next.error ? foldClosed(initialSchedule(nextTerms), from) : adjustments;
    await this.insertEntries(m, old.account_id, old.id, entries, 'ADJUSTMENT', mod.id);
    tx.audit({ entity: 'RevenueObligation', entityId: old.id, action: 'MODIFY', before, after: { ...after, reason, effectiveDate: effective, firstOpenMonth: from } });
  }

  /** Billing: invoices bring what is billed for an order to what its obligations are allocated. */
  private async rebill(tx: Tx, orderId: string, date: string, schedule: InvoiceLine[] | null, known?: BillingState): Promise<void> {
    const m = tx.manager;
    const t = known ?? (await this.billingState(m, orderId));
    const o = { account_id: t.accountId, currency: t.currency };
    // Not allocated: bill the transaction price of the order's fixed-price lines.
    const target = t.unallocated ? t.price : t.allocated;
    if (t.invoices === 0 && schedule?.length) {
      const total = schedule.reduce((a, i) => a + BigInt(i.amountMinor), 0n);
      if (total !== target) {
        throw badInput('REVENUE_INVOICE_SCHEDULE_MISMATCH', `The invoice schedule totals ${total} but the order's fixed price is ${target} (minor units)`, [
          { path: 'input.invoiceSchedule', message: `must total ${target}` },
        ]);
      }
      await m.query(
        `INSERT INTO revenue_invoice (account_id, order_id, invoice_date, amount_minor, currency)
         SELECT $1, $2, x.invoice_date, x.amount, $3 FROM unnest($4::date[], $5::bigint[]) WITH ORDINALITY AS x(invoice_date, amount, n) ORDER BY x.n`,
        [o.account_id, orderId, o.currency, schedule.map((i) => i.date), schedule.map((i) => String(i.amountMinor))],
      );
      tx.audit({ entity: 'RevenueInvoice', entityId: orderId, action: 'CREATE', after: { schedule } });
      return;
    }
    const delta = target - t.billed;
    if (delta === 0n) return;
    await preparedTx(m, 'ehub_revenue_invoice_insert', `INSERT INTO revenue_invoice (account_id, order_id, invoice_date, amount_minor, currency) VALUES ($1,$2,$3,$4,$5)`, [o.account_id, orderId, date, str(delta), o.currency]);
    tx.audit({ entity: 'RevenueInvoice', entityId: orderId, action: 'CREATE', after: { date, amountMinor: str(delta) } });
  }

  /** What billing needs of an order, in one statement: its allocation, its fixed-price lines' price (billed when not allocated) and what is billed. */
  private async billingState(m: EntityManager, orderId: string): Promise<BillingState> {
    const [t] = await m.query(
      `SELECT (COALESCE(SUM(allocated_minor) FILTER (WHERE pattern <> 'AS_CONSUMED'), 0)
               - COALESCE((SELECT SUM(x.amount_minor) FROM revenue_entry x JOIN revenue_obligation y ON y.id = x.obligation_id
                            WHERE y.order_id = $1 AND y.pattern <> 'AS_CONSUMED' AND x.kind = 'USAGE'), 0))::text AS allocated,
              bool_or(allocation_error IS NOT NULL) AS unallocated,
              (SELECT COALESCE(SUM(round(l.unit_price_minor * l.quantity)), 0)::bigint::text FROM order_line l
                WHERE l.order_id = $1 AND l.status <> 'REMOVED' AND l.action <> 'CANCELLATION' AND l.model NOT IN ('USAGE','OUTCOME')) AS price,
              (SELECT COUNT(*)::int FROM revenue_invoice WHERE order_id = $1) AS invoices,
              (SELECT COALESCE(SUM(amount_minor), 0)::text FROM revenue_invoice WHERE order_id = $1) AS billed,
              (SELECT account_id FROM sales_order WHERE id = $1) AS account_id,
              (SELECT currency FROM sales_order WHERE id = $1) AS currency
         FROM revenue_obligation WHERE order_id = $1`,
      [orderId],
    );
    return {
      accountId: t.account_id,
      currency: t.currency,
      allocated: BigInt(t.allocated),
      unallocated: t.unallocated === true,
      price: BigInt(t.price),
      invoices: t.invoices,
      billed: BigInt(t.billed),
    };
  }

  /** An obligation's entries per month (without USAGE entries when `fixedOnly`). */
  private async ledger(m: EntityManager, obligationId: string, fixedOnly = false): Promise<MonthAmount[]> {
    const rows = await m.query(
      `SELECT to_char(month, 'YYYY-MM-DD') AS month, SUM(amount_minor)::text AS amount FROM revenue_entry
        WHERE obligation_id = $1 ${fixedOnly ? `AND kind <> 'USAGE'` : ''} GROUP BY month ORDER BY month`,
      [obligationId],
    );
    return rows.map((r: { month: string; amount: string }) => ({ month: r.month, amount: BigInt(r.amount) }));
  }

  /**
   * Overage recognised as consumed (USAGE entries) on fixed-price obligations (METERED lines
   * with an overage price), per obligation. Their allocation = fixed allocation + this, so
   * modifications re-spread the fixed part only and billing leaves it out.
   */
  private async usageOfFixed(m: EntityManager, obligations: ObligationRow[]): Promise<Map<string, bigint>> {
    const ids = obligations.filter((o) => o.pattern !== RevenuePattern.AS_CONSUMED).map((o) => o.id);
    if (!ids.length) return new Map();
    const rows: { obligation_id: string; amount: string }[] = await m.query(
      `SELECT obligation_id, SUM(amount_minor)::text AS amount FROM revenue_entry WHERE obligation_id = ANY($1) AND kind = 'USAGE' GROUP BY obligation_id`,
      [ids],
    );
    return new Map(rows.map((r) => [r.obligation_id, BigInt(r.amount)]));
  }

  private async insertEntries(m: EntityManager, accountId: string, obligationId: string, entries: MonthAmount[], kind: string, modificationId: string | null): Promise<void> {
    const rows = entries.filter((e) => e.amount !== 0n);
    if (!rows.length) return;
    await m.query(
      `INSERT INTO revenue_entry (account_id, obligation_id, month, amount_minor, kind, modification_id)
       SELECT $1, $2, x.month, x.amount, $3, $4 FROM unnest($5::date[], $6::bigint[]) AS x(month, amount)`,
      [accountId, obligationId, kind, modificationId, rows.map((e) => e.month), rows.map((e) => str(e.amount))],
    );
  }

  // ------------------------------------------------------------------ usage

  /**
   * Recognises usage-priced (AS_CONSUMED) obligations for a month: quantity from the daily
   * usage rollups of the line's entitlement (days in the reporting time zone) × the line's
   * unit price. METERED obligations whose line has an overage unit price get the overage
   * drawn in the month (consumption.overage, by created_at in the reporting time zone) × that
   * price, next to their ratable fixed fee. Idempotent: USAGE entries are brought to the month's figure, never doubled.
   * A closed month is not touched (late usage of it shows in the month it is recognised next).
   */
  async recogniseUsage(ctx: RequestContext, monthText: string): Promise<{ month: string; obligations: number; entries: number }> {
    assertUnscoped(ctx, 'recognise usage revenue');
    const month = parseMonth(monthText);
    if (!month) throw badInput('REVENUE_MONTH_INVALID', `month must be YYYY-MM, got ${monthText}`, [{ path: 'month', message: 'must be YYYY-MM' }]);
    return this.db.tx(ctx, async (tx) => {
      const m = tx.manager;
      const firstOpen = await this.firstOpenMonth(m);
      if (firstOpen && month < firstOpen) throw badInput('REVENUE_PERIOD_CLOSED', `${monthText} is closed; usage of a closed month cannot be recognised in it`, [{ path: 'month', message: 'closed' }]);
      const next = addMonths(month, 1);
      const rows: { id: string; account_id: string; target: string; existing: string }[] = await m.query(
        `SELECT o.id, o.account_id,
                CASE WHEN o.pattern = 'AS_CONSUMED' THEN
                  COALESCE((SELECT round(SUM(r.sum) * l.unit_price_minor) FROM entitlement e JOIN usage_rollup r ON r.entitlement_id = e.id
                     WHERE e.order_line_id = o.order_line_id AND r.granularity = 'D'
                       AND r.bucket >= ($1::date::timestamp AT TIME ZONE $3) AND r.bucket < ($2::date::timestamp AT TIME ZONE $3)), 0)
                ELSE
                  COALESCE((SELECT round(SUM(c.overage) * l.overage_unit_price_minor) FROM entitlement e JOIN consumption c ON c.entitlement_id = e.id
                     WHERE e.order_line_id = o.order_line_id AND c.allowed AND c.overage > 0
                       AND c.created_at >= ($1::date::timestamp AT TIME ZONE $3) AND c.created_at < ($2::date::timestamp AT TIME ZONE $3)), 0)
                END::bigint::text AS target,
                COALESCE((SELECT SUM(amount_minor) FROM revenue_entry x WHERE x.obligation_id = o.id AND x.month = $1 AND x.kind = 'USAGE'), 0)::text AS existing
           FROM revenue_obligation o JOIN order_line l ON l.id = o.order_line_id
          WHERE (o.pattern = 'AS_CONSUMED' OR (l.model = 'METERED' AND l.overage_unit_price_minor IS NOT NULL AND o.bundle_product_id IS NULL))
            AND o.start_date < $2 AND (o.end_date IS NULL OR o.end_date >= $1)
          FOR UPDATE OF o`,
        [month, next, this.timeZone],
      );
      let entries = 0;
      for (const r of rows) {
        const delta = BigInt(r.target) - BigInt(r.existing);
        if (delta === 0n) continue;
        await this.insertEntries(m, r.account_id, r.id, [{ month, amount: delta }], 'USAGE', null);
        await m.query(`UPDATE revenue_obligation SET allocated_minor = allocated_minor + $2, updated_at = now() WHERE id = $1`, [r.id, str(delta)]);
        entries++;
      }
      tx.audit({ entity: 'RevenueUsage', entityId: null, action: 'RECOGNISE', after: { month: monthText, obligations: rows.length, entries } });
      return { month: monthText, obligations: rows.length, entries };
    });
  }

  // ------------------------------------------------------------------ reads

  /**
   * Obligations with their allocation and monthly lines (month, amount, cumulative, deferred)
   * between `from` and `to` (YYYY-MM, inclusive; cumulative counts every earlier month too).
   */
  async schedule(ctx: RequestContext, filter: { accountId?: string | null; orderId?: string | null; from?: string | null; to?: string | null }): Promise<ScheduleView> {
    const scope = accountScope(ctx);
    if (filter.accountId) assertAccountVisible(ctx, filter.accountId);
    const from = filter.from ? parseMonth(filter.from) : null;
    const to = filter.to ? parseMonth(filter.to) : null;
    if ((filter.from && !from) || (filter.to && !to)) throw badInput('REVENUE_MONTH_INVALID', 'from and to must be YYYY-MM', [{ path: 'filter', message: 'months as YYYY-MM' }]);
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown) => {
      params.push(v);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (scope) add('o.account_id = ?', scope);
    if (filter.accountId) add('o.account_id = ?', filter.accountId);
    if (filter.orderId) add('o.order_id = ?', filter.orderId);
    const obligations: (ObligationRow & { line_no: number; sku: string; bundle_sku: string | null })[] = await this.db.manager.query(
      `SELECT ${obligationColumns('o')}, l.line_no, p.sku, b.sku AS bundle_sku
         FROM revenue_obligation o JOIN order_line l ON l.id = o.order_line_id JOIN product p ON p.id = o.product_id LEFT JOIN product b ON b.id = o.bundle_product_id
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY o.account_id, o.order_id, l.line_no, p.sku LIMIT 5001`,
      params,
    );
    if (obligations.length > 5000) throw badInput('REVENUE_SCHEDULE_TOO_LARGE', 'More than 5,000 obligations match; narrow the filter or use the revenue-waterfall export', []);
    const ids = obligations.map((o) => o.id);
    const entries: { obligation_id: string; month: string; amount: string }[] = ids.length
      ? await this.db.manager.query(
          `SELECT obligation_id, to_char(month, 'YYYY-MM-DD') AS month, SUM(amount_minor)::text AS amount FROM revenue_entry WHERE obligation_id = ANY($1) GROUP BY obligation_id, month ORDER BY obligation_id, month`,
          [ids],
        )
      : [];
    const mods: { id: string; obligation_id: string; effective_date: string; first_open_month: string; reason: string; before: unknown; after: unknown; created_at: Date }[] = ids.length
      ? await this.db.manager.query(
          `SELECT id, obligation_id, to_char(effective_date, 'YYYY-MM-DD') AS effective_date, to_char(first_open_month, 'YYYY-MM') AS first_open_month, reason, before, after, created_at
             FROM revenue_modification WHERE obligation_id = ANY($1) ORDER BY created_at, id`,
          [ids],
        )
      : [];
    const byObligation = groupBy(entries, (e) => e.obligation_id, [], (e): MonthAmount => ({ month: e.month, amount: BigInt(e.amount) }));
    const totals = new Map<string, { allocated: bigint; recognised: bigint; deferred: bigint }>();
    const out: ObligationView[] = obligations.map((o) => {
      const allocated = BigInt(o.allocated_minor);
      let cumulative = 0n;
      const lines: ScheduleLineView[] = [];
      let recognisedInRange = 0n;
      let cumulativeAtEnd = 0n;
      for (const e of byObligation.get(o.id) ?? []) {
        cumulative += e.amount;
        if (to && e.month > to) continue;
        cumulativeAtEnd = cumulative;
        if (from && e.month < from) continue;
        recognisedInRange += e.amount;
        lines.push({ month: e.month.slice(0, 7), amount: e.amount, cumulative, deferred: allocated - cumulative });
      }
      const t = totals.get(o.currency) ?? { allocated: 0n, recognised: 0n, deferred: 0n };
      t.allocated += allocated;
      t.recognised += recognisedInRange;
      t.deferred += allocated - cumulativeAtEnd;
      totals.set(o.currency, t);
      return {
        ...o,
        lineNo: o.line_no,
        bundleSku: o.bundle_sku,
        lines,
        recognised: recognisedInRange,
        deferred: allocated - cumulativeAtEnd,
        modifications: mods.filter((x) => x.obligation_id === o.id),
      };
    });
    return { obligations: out, totals: [...totals.entries()].map(([currency, t]) => ({ currency, ...t })) };
  }

  /** Today's month in the reporting calendar. */
  currentMonth(): string {
    return monthOf(todayIn(this.timeZone));
  }
}

export interface ScheduleLineView {
  month: string;
  amount: bigint;
  cumulative: bigint;
  deferred: bigint;
}

export interface ObligationView extends ObligationRow {
  lineNo: number;
  sku: string;
  bundleSku: string | null;
  lines: ScheduleLineView[];
  recognised: bigint;
  deferred: bigint;
  modifications: { id: string; effective_date: string; first_open_month: string; reason: string; before: unknown; after: unknown; created_at: Date }[];
}

export interface ScheduleView {
  obligations: ObligationView[];
  totals: { currency: string; allocated: bigint; recognised: bigint; deferred: bigint }[];
}

function obligationColumns(a = 'revenue_obligation'): string {
  return `${a}.id, ${a}.account_id, ${a}.order_id, ${a}.order_line_id, ${a}.product_id, ${a}.bundle_product_id, ${a}.pattern, ${a}.currency, ${a}.quantity::text AS quantity, ${a}.list_minor::text AS list_minor, ${a}.ssp_minor::text AS ssp_minor, ${a}.allocated_minor::text AS allocated_minor, to_char(${a}.start_date, 'YYYY-MM-DD') AS start_date, to_char(${a}.end_date, 'YYYY-MM-DD') AS end_date, ${a}.status, ${a}.allocation_error`;
}
const OBLIGATION_COLUMNS = obligationColumns();

function termsOf(o: ObligationRow): ScheduleTerms {
  return { pattern: o.pattern, amount: BigInt(o.allocated_minor), startDate: o.start_date, endDate: o.end_date };
}

function foldClosed(schedule: MonthAmount[], firstOpen: string): MonthAmount[] {
  const out = new Map<string, bigint>();
  for (const e of schedule) {
    const month = e.month < firstOpen ? firstOpen : e.month;
    out.set(month, (out.get(month) ?? 0n) + e.amount);
  }
  return [...out.entries()].map(([month, amount]) => ({ month, amount }));
}


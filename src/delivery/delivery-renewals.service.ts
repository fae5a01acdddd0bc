import type { EntityManager } from 'typeorm';
import type { RequestContext } from '../common/context';
import { scaledAmountMinor } from '../common/money';
import type { Db } from '../db/db';
import type { DomainEventSubscriber } from '../db/events';
import type { DeliveryStatusService } from './delivery-status.service';

/** One account's renewal signal of delivery, as stored by the last refresh. */
export interface DeliveryRenewalView {
  accountId: string;
  /** Active devices held back from their product's newest stable release by lapsed maintenance or warranty. */
  devices: number;
  /** The entitlements of those devices, whose maintenance a renewal would extend. */
  entitlementIds: string[];
  /** What renewing them is worth, per currency (minor units), largest first. */
  amounts: { currency: string; amountMinor: string }[];
  computedAt: Date;
}

interface PriceRow {
  id: string;
  unit_price_minor: string | null;
  quantity: string | null;
  currency: string | null;
  term_days: number | null;
}

/**
 * Per lapsed entitlement: the latest active line that granted, renewed, amended or upgraded
 * it — its unit price, quantity and currency, and its term in days (null: perpetual).
 */
const PRICES_SQL = `
SELECT e.id, price.unit_price_minor::text, price.quantity::text, price.currency, price.term_days
  FROM entitlement e
  LEFT JOIN LATERAL (
    SELECT l.unit_price_minor, l.quantity, l.currency, CASE WHEN l.end_date IS NULL THEN NULL ELSE (l.end_date - l.start_date + 1) END AS term_days
      FROM entitlement_event ev JOIN order_line l ON l.id = ev.order_line_id
     WHERE ev.entitlement_id = e.id AND l.status = 'ACTIVE' AND l.action IN ('NEW','RENEWAL','UPGRADE','AMENDMENT')
     ORDER BY ev.id DESC LIMIT 1
  ) price ON true
 WHERE e.id = ANY($1::uuid[])`;

/**
 * What a year of maintenance of one entitlement is worth, in minor units (rounded half up),
 * or null without a priced line: a term line's ARR (unit price × quantity × 365 ÷ term days:
 * renewing the term is renewing its maintenance); a perpetual line's licence value (unit
 * price × quantity) × `ratePercent` ÷ 100 — maintenance sold as a yearly share of the licence.
 */
export function maintenanceValueMinor(p: Pick<PriceRow, 'unit_price_minor' | 'quantity' | 'term_days'>, ratePercent: number): bigint | null {
  if (p.unit_price_minor === null || p.quantity === null) return null;
  return p.term_days
    ? scaledAmountMinor(p.unit_price_minor, p.quantity, 365n, BigInt(p.term_days))
    : scaledAmountMinor(p.unit_price_minor, p.quantity, BigInt(Math.round(ratePercent * 10_000)), 100n * 10_000n);
}

/**
 * The renewal signal of delivery (issue 14, ADR 0048, docs/delivery.md#renewal-signal): per
 * account, the devices held back from their product's newest stable release by lapsed
 * maintenance or warranty, and what renewing that maintenance is worth. `refresh` computes
 * it (the `delivery-renewals` job for every account; a release published or yanked for its
 * product's accounts; a fulfilled order or new terms for that account), stores it in
 * `account_delivery_renewal`, and publishes `delivery.changed` for the accounts whose signal
 * changed, so the CRM and ERP fields follow (`updatesHeldBack`, `maintenanceRenewal`).
 */
export class DeliveryRenewalService {
  constructor(
    private readonly db: Db,
    private readonly status: DeliveryStatusService,
    private readonly ratePercent: number,
  ) {}

  /** Recomputes the signal of `accountIds` (null: every account); answers how many accounts have one and how many changed. */
  async refresh(ctx: RequestContext, accountIds: string[] | null, now: Date = new Date()): Promise<{ accounts: number; changed: number }> {
    return this.db.tx(ctx, async (tx) => {
      const r = await this.refreshIn(tx.manager, accountIds, now);
      if (r.changed.length) tx.publish({ kind: 'delivery.changed', accountIds: r.changed });
      return { accounts: r.accounts, changed: r.changed.length };
    });
  }

  /**
   * The domain-event subscriber: an order fulfilled (a renewal) or terms written (maintenance
   * extended) for an account that has a signal recomputes it in that transaction, so the
   * account fields the same change re-sends to the CRM no longer count what was renewed. New
   * signals (maintenance lapsing with time, devices activated) wait for the job: one indexed
   * read is all this costs a fulfilment.
   */
  readonly onEvents: DomainEventSubscriber = async (m, events) => {
    const touched = new Set<string>();
    for (const e of events) {
      if (e.kind === 'order.fulfilled') touched.add(e.accountId);
      else if (e.kind === 'support.changed') for (const a of e.accountIds) touched.add(a);
    }
    if (touched.size === 0) return;
    const having: { account_id: string }[] = await m.query(`SELECT account_id FROM account_delivery_renewal WHERE account_id = ANY($1::uuid[])`, [[...touched]]);
    if (having.length) await this.refreshIn(m, having.map((h) => h.account_id), new Date());
  };

  private async refreshIn(m: EntityManager, accountIds: readonly string[] | null, now: Date): Promise<{ accounts: number; changed: string[] }> {
    const lapsed = await this.status.lapsedByAccount(accountIds, now, m);
    const entitlementIds = [...new Set([...lapsed.values()].flatMap((l) => [...l.entitlementIds]))];
    const prices: PriceRow[] = entitlementIds.length ? await m.query(PRICES_SQL, [entitlementIds]) : [];
    const priceOf = new Map(prices.map((p) => [p.id, p]));
    const rows = [...lapsed.entries()].map(([accountId, l]) => {
      const amounts = new Map<string, bigint>();
      for (const id of l.entitlementIds) {
        const p = priceOf.get(id);
        const v = p ? maintenanceValueMinor(p, this.ratePercent) : null;
        if (v !== null && p!.currency) amounts.set(p!.currency, (amounts.get(p!.currency) ?? 0n) + v);
      }
      return {
        account_id: accountId,
        devices: l.devices,
        entitlement_ids: [...l.entitlementIds].sort(),
        amounts: Object.fromEntries([...amounts.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([c, v]) => [c, v.toString()])),
      };
    });
    // The stored signals in scope, locked; then only what differs is written.
    const old: { account_id: string; devices: number; entitlement_ids: string[]; amounts: Record<string, string> }[] = await m.query(
      `SELECT account_id, devices, entitlement_ids, amounts FROM account_delivery_renewal
        WHERE $1::uuid[] IS NULL OR account_id = ANY($1::uuid[]) OR account_id = ANY($2::uuid[])
        ORDER BY account_id FOR UPDATE`,
      [accountIds, rows.map((r) => r.account_id)],
    );
    const oldBy = new Map(old.map((o) => [o.account_id, o]));
    const same = (o: (typeof old)[number] | undefined, r: (typeof rows)[number]) =>
      o !== undefined && o.devices === r.devices && o.entitlement_ids.join() === r.entitlement_ids.join() && JSON.stringify(o.amounts) === JSON.stringify(r.amounts);
    const upserts = rows.filter((r) => !same(oldBy.get(r.account_id), r));
    const kept = new Set(rows.map((r) => r.account_id));
    const gone = old.filter((o) => !kept.has(o.account_id)).map((o) => o.account_id);
    if (upserts.length) {
      await m.query(
        `INSERT INTO account_delivery_renewal AS r (account_id, devices, entitlement_ids, amounts, computed_at)
         SELECT s.account_id, s.devices, s.entitlement_ids, s.amounts, $2
           FROM jsonb_to_recordset($1::jsonb) AS s(account_id uuid, devices int, entitlement_ids uuid[], amounts jsonb) ORDER BY s.account_id
         ON CONFLICT (account_id) DO UPDATE SET devices = EXCLUDED.devices, entitlement_ids = EXCLUDED.entitlement_ids,
           amounts = EXCLUDED.amounts, computed_at = EXCLUDED.computed_at`,
        [JSON.stringify(upserts), now],
      );
    }
    if (gone.length) await m.query(`DELETE FROM account_delivery_renewal WHERE account_id = ANY($1::uuid[])`, [gone]);
    const changed = [...upserts.map((u) => u.account_id), ...gone];
    return { accounts: rows.length, changed };
  }

  /** Refreshes the accounts with active devices of a product, and those whose signal names its entitlements (a release was published or yanked). */
  async refreshProduct(ctx: RequestContext, productId: string, now: Date = new Date()): Promise<{ accounts: number; changed: number }> {
    const rows: { account_id: string }[] = await this.db.manager.query(
      `SELECT DISTINCT a.account_id FROM activation a JOIN entitlement e ON e.id = a.entitlement_id WHERE e.product_id = $1 AND a.deactivated_at IS NULL
       UNION SELECT r.account_id FROM account_delivery_renewal r
              WHERE r.entitlement_ids && ARRAY(SELECT id FROM entitlement WHERE product_id = $1)`,
      [productId],
    );
    if (rows.length === 0) return { accounts: 0, changed: 0 };
    return this.refresh(ctx, rows.map((r) => r.account_id), now);
  }

  /** The stored signals of these accounts (loader batch); missing = none. */
  async of(accountIds: readonly string[], m: EntityManager = this.db.manager): Promise<Map<string, DeliveryRenewalView>> {
    const rows: { account_id: string; devices: number; entitlement_ids: string[]; amounts: Record<string, string>; computed_at: Date }[] = await m.query(
      `SELECT account_id, devices, entitlement_ids, amounts, computed_at FROM account_delivery_renewal WHERE account_id = ANY($1::uuid[])`,
      [accountIds],
    );
    return new Map(rows.map((r) => [r.account_id, toView(r)]));
  }
}

function toView(r: { account_id: string; devices: number; entitlement_ids: string[]; amounts: Record<string, string>; computed_at: Date }): DeliveryRenewalView {
  return {
    accountId: r.account_id,
    devices: r.devices,
    entitlementIds: r.entitlement_ids,
    amounts: Object.entries(r.amounts)
      .map(([currency, amountMinor]) => ({ currency, amountMinor }))
      .sort((a, b) => (BigInt(b.amountMinor) > BigInt(a.amountMinor) ? 1 : BigInt(b.amountMinor) < BigInt(a.amountMinor) ? -1 : a.currency.localeCompare(b.currency))),
    computedAt: r.computed_at,
  };
}

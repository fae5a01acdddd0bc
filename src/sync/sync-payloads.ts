import type { EntityManager } from 'typeorm';
import type { AccountFields, EntitlementSummary, JournalEntry, JournalLine, PushObject, PushPayloads, RenewalOpportunity, SupportEntitlementRecord, TrueupOpportunity, UsageRecord } from '../../connectors/types';
import type { RevenueExports } from '../revenue/exports';
import { JOURNAL_KEY_PREFIX, NO_SUBSIDIARY, SUPPORT_KEY_PREFIX, TRUEUP_KEY_PREFIX, USAGE_KEY_PREFIX } from './sync-outbox';
import { groupBy } from '../common/collections';
import { isUuid } from '../common/ids';
import { phaseSql } from '../licensing/licensing.sql';
import { minorToMajor } from './sync.rules';
import { trimDecimal } from '../common/decimal';
import { scaledAmountMinor } from '../common/money';
import { riskFromHealth, type Band } from '../health/health.rules';
import { churnAccountFields } from '../churn/churn.service';

/**
 * What the hub tells an external system, computed when the outbox delivers (so the latest
 * values win), in set-based queries over a batch of records. A null payload means there is
 * nothing to write (the account is no longer linked, the entitlement renewed past the
 * renewal's date...): the item is closed without an API call.
 *
 * Definitions (docs/salesforce-setup.md lists them for CRM admins):
 * - live entitlement: its effective phase (as checks see it, `phaseSql`) is ACTIVE or IN_GRACE.
 * - ARR: over live entitlements with an end date, the unit price of the latest line that
 *   granted, renewed, amended or upgraded it × its quantity, annualised by that line's term
 *   (× 365 ÷ days). Lines in the account's currency (else the first currency found).
 * - used / capacity: seats held / seats, devices active / devices, leases live / leases,
 *   METERED units drawn / entitled in the current period; USAGE, OUTCOME, PERPETUAL and
 *   SUBSCRIPTION have no capacity (utilisation skips them).
 */

const PHASE = phaseSql('e', 'now()');

/** Per entitlement: what a CRM user sees of it. */
const FACTS_SQL = `
  SELECT e.id, e.account_id, e.order_id, e.sku, p.name AS product_name, e.model, e.status, ${PHASE} AS phase,
         e.start_date::text AS start_date, e.end_date::text AS end_date, e.quantity::text AS quantity,
         CASE e.model
           WHEN 'NAMED_USER' THEN (SELECT count(*) FROM seat s WHERE s.entitlement_id = e.id AND s.released_at IS NULL)::numeric
           WHEN 'DEVICE_LOCKED' THEN (SELECT count(*) FROM activation a WHERE a.entitlement_id = e.id AND a.deactivated_at IS NULL)::numeric
           WHEN 'CONCURRENT' THEN (SELECT count(*) FROM lease l WHERE l.entitlement_id = e.id AND l.checked_in_at IS NULL AND l.expires_at > now())::numeric
           WHEN 'METERED' THEN (SELECT coalesce(sum(b.used), 0) FROM consumption_balance b
                                 WHERE b.entitlement_id = e.id AND b.period_start <= now() AND (b.period_end IS NULL OR b.period_end > now()))
         END AS used,
         CASE e.model
           WHEN 'METERED' THEN (SELECT sum(b.entitled) FROM consumption_balance b
                                 WHERE b.entitlement_id = e.id AND b.period_start <= now() AND (b.period_end IS NULL OR b.period_end > now()))
           WHEN 'NAMED_USER' THEN e.quantity WHEN 'DEVICE_LOCKED' THEN e.quantity WHEN 'CONCURRENT' THEN e.quantity
         END AS capacity,
         price.unit_price_minor, price.currency AS price_currency, price.term_days
    FROM entitlement e
    JOIN product p ON p.id = e.product_id
    LEFT JOIN LATERAL (
      SELECT l.unit_price_minor, l.currency, (l.end_date - l.start_date + 1) AS term_days
        FROM entitlement_event ev JOIN order_line l ON l.id = ev.order_line_id
       WHERE ev.entitlement_id = e.id AND l.status = 'ACTIVE' AND l.end_date IS NOT NULL
         AND l.action IN ('NEW','RENEWAL','UPGRADE','AMENDMENT')
       ORDER BY ev.id DESC LIMIT 1
    ) price ON e.end_date IS NOT NULL`;

export interface FactRow {
  id: string;
  account_id: string;
  order_id: string;
  sku: string;
  product_name: string;
  model: string;
  status: string;
  phase: string;
  live: boolean;
  start_date: string;
  end_date: string | null;
  quantity: string;
  used: string | null;
  capacity: string | null;
  unit_price_minor: string | null;
  price_currency: string | null;
  term_days: number | null;
}

/** Facts of the entitlements matching `where`; live = usable now (active or in grace). */
async function readFacts(m: EntityManager, where: string, params: unknown[]): Promise<FactRow[]> {
  const rows: Omit<FactRow, 'live'>[] = await m.query(`${FACTS_SQL} WHERE ${where}`, params);
  return rows.map((r) => ({ ...r, live: r.phase === 'ACTIVE' || r.phase === 'IN_GRACE' }));
}

/** Facts of every entitlement of the accounts in `$1` (uuid[]): customer360 reads them too, as a prepared statement. */
export const ACCOUNT_FACTS_SQL = `${FACTS_SQL} WHERE e.account_id = ANY($1::uuid[])`;

/** Facts of every entitlement of the book, or of one account when `$1` (uuid) is not null: the console's portfolio overview. */
export const BOOK_FACTS_SQL = `${FACTS_SQL} WHERE ($1::uuid IS NULL OR e.account_id = $1::uuid)`;

/** Rows of ACCOUNT_FACTS_SQL with `live` set. */
export function withLive(rows: Omit<FactRow, 'live'>[]): FactRow[] {
  return rows.map((r) => ({ ...r, live: r.phase === 'ACTIVE' || r.phase === 'IN_GRACE' }));
}

interface AccountRow {
  id: string;
  name: string;
  currency: string;
  ext: string | null;
}

/** Annualised minor units of one live entitlement (bigint, rounded half up), or null. */
export function arrMinor(f: FactRow): bigint | null {
  if (!f.live || !f.end_date || f.unit_price_minor === null || !f.term_days) return null;
  return scaledAmountMinor(f.unit_price_minor, f.quantity, 365n, BigInt(f.term_days));
}

/** The status a CRM user sees: the effective phase, grace counted as active. */
function effectiveStatus(f: FactRow): string {
  return f.live ? 'ACTIVE' : f.phase;
}

const STATUS_RANK = ['ACTIVE', 'SUSPENDED', 'NOT_STARTED', 'EXPIRED', 'CANCELLED'];

function decimal(v: string | number | null): string | null {
  return v === null || v === undefined ? null : trimDecimal(String(v));
}

async function accountsOf(m: EntityManager, ids: string[], refSystem: string): Promise<Map<string, AccountRow>> {
  const rows: AccountRow[] = await m.query(
    `SELECT a.id, a.name, a.currency,
            (SELECT r.external_id FROM external_ref r
              WHERE r.entity_type = 'ACCOUNT' AND r.entity_id = a.id AND r.system = $2 AND r.object = 'Account'
              ORDER BY r.created_at, r.id LIMIT 1) AS ext
       FROM account a WHERE a.id = ANY($1::uuid[])`,
    [ids, refSystem],
  );
  return new Map(rows.map((r) => [r.id, r]));
}

/** The synced fields of each account (keyed by account id); null where the account is not linked. */
export async function accountFieldPayloads(
  m: EntityManager,
  accountIds: string[],
  refSystem: string,
): Promise<Map<string, PushPayloads['account-fields'] | null>> {
  const accounts = await accountsOf(m, accountIds, refSystem);
  const facts = await readFacts(m, 'e.account_id = ANY($1::uuid[])', [accountIds]);
  const usage: { account_id: string; active_users: string; last_usage: Date | null }[] = await m.query(
    `SELECT a.id AS account_id,
            (SELECT count(DISTINCT u.user_id) FROM usage_event u
              WHERE u.account_id = a.id AND u.occurred_at > now() - interval '30 days' AND u.user_id IS NOT NULL) AS active_users,
            (SELECT max(u.occurred_at) FROM usage_event u WHERE u.account_id = a.id) AS last_usage
       FROM unnest($1::uuid[]) AS a(id)`,
    [accountIds],
  );
  const findings: { account_id: string; overuse: boolean; leakage_minor: string | null; currency: string | null }[] = await m.query(
    `SELECT account_id, bool_or(kind IN ('OVERUSE','UNENTITLED_USE','DEVICE_OVER_LIMIT','EXPIRED_USE')) AS overuse,
            sum(leakage_minor)::text AS leakage_minor, currency
       FROM compliance_finding
      WHERE account_id = ANY($1::uuid[]) AND status <> 'RESOLVED'
      GROUP BY account_id, currency`,
    [accountIds],
  );

  // Health (docs/health.md): the override while it lasts, else the computed score; the churn
  // risk band from the computed health band until a churn model is trained.
  const health: { account_id: string; score: string; band: string }[] = await m.query(
    `SELECT h.account_id, coalesce(o.score, h.score)::text AS score, h.band
       FROM account_health h
       LEFT JOIN account_health_override o ON o.account_id = h.account_id AND o.expires_at > now()
      WHERE h.account_id = ANY($1::uuid[])`,
    [accountIds],
  );
  const healthBy = new Map(health.map((h) => [h.account_id, h]));
  // Model fit (docs/model-fit.md): the stored summary, once the account has been analysed.
  const fits: { account_id: string; summary: string | null }[] = await m.query(
    `SELECT account_id, summary FROM account_model_fit WHERE account_id = ANY($1::uuid[])`,
    [accountIds],
  );
  const fitBy = new Map(fits.map((f) => [f.account_id, f.summary]));
  // The churn model's band and probability (when trained) and the forecast renewing ARR (docs/churn.md).
  const churnOf = await churnAccountFields(m, accountIds);
  // Support (ADR 0037): the level covering now with the latest end, else the latest lapsed end.
  const support: { account_id: string; name: string; support_end: string | null; active: boolean }[] = await m.query(
    `SELECT t.account_id, st.name, coalesce(t.support_end, e.end_date)::text AS support_end,
            (e.status NOT IN ('CANCELLED','SUSPENDED') AND e.start_date <= (now() AT TIME ZONE 'UTC')::date
              AND (coalesce(t.support_end, e.end_date) IS NULL OR coalesce(t.support_end, e.end_date) >= (now() AT TIME ZONE 'UTC')::date)) AS active
       FROM entitlement_terms t JOIN support_tier st ON st.id = t.support_tier_id JOIN entitlement e ON e.id = t.entitlement_id
      WHERE t.account_id = ANY($1::uuid[])`,
    [accountIds],
  );
  const supportBy = groupBy(support, (s) => s.account_id);
  // Delivery (ADR 0048): devices held back by lapsed maintenance and what renewing it is worth,
  // for accounts that have (or had) devices; others leave the CRM's value alone.
  const delivery: { account_id: string; devices: number | null; amounts: Record<string, string> | null }[] = await m.query(
    `SELECT x.id AS account_id, r.devices, r.amounts
       FROM unnest($1::uuid[]) AS x(id) LEFT JOIN account_delivery_renewal r ON r.account_id = x.id
      WHERE r.account_id IS NOT NULL OR EXISTS (SELECT 1 FROM activation a WHERE a.account_id = x.id)`,
    [accountIds],
  );
  const deliveryBy = new Map(delivery.map((d) => [d.account_id, d]));
  const factsBy = groupBy(facts, (f) => f.account_id);
  const usageBy = new Map(usage.map((u) => [u.account_id, u]));
  const findingsBy = groupBy(findings, (f) => f.account_id);
  const out = new Map<string, PushPayloads['account-fields'] | null>();
  for (const id of accountIds) {
    const a = accounts.get(id);
    if (!a?.ext) {
      out.set(id, null);
      continue;
    }
    const fs = factsBy.get(id) ?? [];
    const statuses = fs.map(effectiveStatus);
    const entitlementStatus = STATUS_RANK.find((s) => statuses.includes(s)) ?? 'NONE';
    const live = fs.filter((f) => f.live);
    const nextRenewalDate = live.map((f) => f.end_date).filter((d): d is string => d !== null).sort()[0] ?? null;

    // ARR in the account's currency when it has lines in it, else in the first currency found.
    const arrByCurrency = new Map<string, bigint>();
    for (const f of live) {
      const v = arrMinor(f);
      if (v !== null) arrByCurrency.set(f.price_currency!, (arrByCurrency.get(f.price_currency!) ?? 0n) + v);
    }
    const arrCurrency = arrByCurrency.has(a.currency) ? a.currency : ([...arrByCurrency.keys()].sort()[0] ?? a.currency);
    const arr = arrByCurrency.size ? minorToMajor(arrByCurrency.get(arrCurrency)!, arrCurrency) : '0';

    const ratios = live.filter((f) => f.capacity !== null && Number(f.capacity) > 0).map((f) => Number(f.used ?? 0) / Number(f.capacity));
    const utilizationPercent = ratios.length ? Math.round((ratios.reduce((x, y) => x + y, 0) / ratios.length) * 1000) / 10 : null;

    const u = usageBy.get(id);
    const fRows = findingsBy.get(id) ?? [];
    const leak = fRows.find((f) => f.currency === arrCurrency) ?? fRows.find((f) => f.currency !== null);
    const fields: AccountFields = {
      entitlementStatus,
      nextRenewalDate,
      arr,
      currency: arrCurrency,
      utilizationPercent,
      activeUsers: u ? Number(u.active_users) : 0,
      lastUsageAt: u?.last_usage ? new Date(u.last_usage).toISOString() : null,
      overuse: fRows.some((f) => f.overuse),
      estimatedLeakage: leak?.leakage_minor && leak.currency ? minorToMajor(leak.leakage_minor, leak.currency) : '0',
    };
    const h = healthBy.get(id);
    // Only once the account has a score: an absent field leaves the CRM's value alone.
    if (h) {
      fields.healthScore = Math.round(Number(h.score));
      fields.churnRisk = riskFromHealth(h.band as Band);
    }
    if (fitBy.has(id)) fields.modelFit = fitBy.get(id)!;
    Object.assign(fields, churnOf(id, arrCurrency, h !== undefined));
    const terms = supportBy.get(id);
    // Only once the account has had a support level: an absent field leaves the CRM's value alone.
    if (terms?.length) {
      const latest = (xs: typeof terms) => [...xs].sort((a, b) => (a.support_end === b.support_end ? a.name.localeCompare(b.name) : a.support_end === null ? -1 : b.support_end === null ? 1 : b.support_end.localeCompare(a.support_end)))[0];
      const active = terms.filter((t) => t.active);
      const chosen = latest(active.length ? active : terms)!;
      fields.supportLevel = active.length ? chosen.name : null;
      fields.supportEnd = chosen.support_end;
    }
    const d = deliveryBy.get(id);
    if (d) {
      fields.updatesHeldBack = d.devices ?? 0;
      // In the ARR's currency (the fields carry one); other currencies show on Account.deliveryRenewal.
      const minor = d.amounts?.[arrCurrency];
      fields.maintenanceRenewal = minor ? minorToMajor(minor, arrCurrency) : '0';
    }
    out.set(id, { accountExternalId: a.ext, ...fields });
  }
  return out;
}

/** Entitlement summaries keyed by entitlement id; null where the account is not linked. */
export async function entitlementPayloads(m: EntityManager, entitlementIds: string[], refSystem: string): Promise<Map<string, EntitlementSummary | null>> {
  const facts = await readFacts(m, 'e.id = ANY($1::uuid[])', [entitlementIds]);
  const accounts = await accountsOf(m, [...new Set(facts.map((f) => f.account_id))], refSystem);
  const out = new Map<string, EntitlementSummary | null>(entitlementIds.map((id) => [id, null]));
  for (const f of facts) {
    const ext = accounts.get(f.account_id)?.ext;
    if (!ext) continue;
    const quantity = f.capacity !== null && f.model === 'METERED' ? String(f.capacity) : f.quantity;
    const used = f.used ?? '0';
    const remaining = Math.max(0, Number(quantity) - Number(used));
    out.set(f.id, {
      entitlementId: f.id,
      accountExternalId: ext,
      sku: f.sku,
      productName: f.product_name,
      model: f.model,
      status: effectiveStatus(f),
      startDate: f.start_date,
      endDate: f.end_date,
      quantity: decimal(quantity)!,
      used: decimal(used)!,
      remaining: decimal(Number(remaining.toFixed(4)))!,
    });
  }
  return out;
}

/** Renewal keys are `ehub-renewal:<order id>:<end date>` (built in SQL by queueRenewals, parsed here). */
export const RENEWAL_KEY_PREFIX = 'ehub-renewal';

/** Renewal opportunities keyed by renewal key; null when nothing renews on that date any more. */
export async function renewalPayloads(m: EntityManager, keys: string[], refSystem: string): Promise<Map<string, RenewalOpportunity | null>> {
  const parsed = keys.map((k) => {
    const [, orderId, endDate] = k.split(':');
    return { key: k, orderId: orderId!, endDate: endDate! };
  });
  const out = new Map<string, RenewalOpportunity | null>(keys.map((k) => [k, null]));
  const valid = parsed.filter((p) => isUuid(p.orderId) && /^\d{4}-\d{2}-\d{2}$/.test(p.endDate));
  if (!valid.length) return out;
  const facts = await readFacts(m, '(e.order_id, e.end_date) IN (SELECT * FROM unnest($1::uuid[], $2::date[]))', [valid.map((p) => p.orderId), valid.map((p) => p.endDate)]);
  const accounts = await accountsOf(m, [...new Set(facts.map((f) => f.account_id))], refSystem);
  const orders: { id: string; external_id: string; currency: string }[] = await m.query(
    'SELECT id, external_id, currency FROM sales_order WHERE id = ANY($1::uuid[])',
    [[...new Set(valid.map((p) => p.orderId))]],
  );
  const byKey = groupBy(
    facts.filter((f) => f.live),
    (f) => `${f.order_id}|${f.end_date}`,
  );
  const orderById = new Map(orders.map((o) => [o.id, o]));
  for (const p of valid) {
    const fs = byKey.get(`${p.orderId}|${p.endDate}`) ?? [];
    const account = fs[0] ? accounts.get(fs[0].account_id) : undefined;
    const order = orderById.get(p.orderId);
    if (!fs.length || !account?.ext || !order) continue;
    const amount = fs.reduce((sum, f) => sum + (arrMinor(f) ?? 0n), 0n);
    out.set(p.key, {
      renewalKey: p.key,
      accountExternalId: account.ext,
      name: `Renewal: ${account.name} – ${[...new Set(fs.map((f) => f.sku))].sort().join(', ')} (ends ${p.endDate})`.slice(0, 120),
      amount: minorToMajor(amount, order.currency),
      currency: order.currency,
      closeDate: p.endDate,
      entitlementIds: fs.map((f) => f.id).sort(),
    });
  }
  return out;
}

/**
 * Support entitlements keyed by support key (`ehub-support:<entitlement id>`): the support
 * term of an entitlement with a support level (name, start, end, cases). Null — nothing is
 * written — when the terms no longer name a level or the account is not linked.
 */
export async function supportEntitlementPayloads(m: EntityManager, keys: string[], refSystem: string): Promise<Map<string, SupportEntitlementRecord | null>> {
  const out = new Map<string, SupportEntitlementRecord | null>(keys.map((k) => [k, null]));
  const byEntitlement = new Map<string, string>();
  for (const key of keys) {
    const [prefix, id] = key.split(':');
    if (prefix === SUPPORT_KEY_PREFIX && id && isUuid(id)) byEntitlement.set(id, key);
  }
  if (!byEntitlement.size) return out;
  const rows: {
    entitlement_id: string;
    account_id: string;
    start_date: string;
    support_end: string | null;
    cases_allowed: number | null;
    cases_used: number;
    tier_key: string;
    tier_name: string;
    sku: string;
    product_name: string | null;
  }[] = await m.query(
    `SELECT t.entitlement_id, t.account_id, e.start_date::text AS start_date, coalesce(t.support_end, e.end_date)::text AS support_end,
            t.cases_allowed, t.cases_used, st.key AS tier_key, st.name AS tier_name, e.sku, p.name AS product_name
       FROM entitlement_terms t
       JOIN support_tier st ON st.id = t.support_tier_id
       JOIN entitlement e ON e.id = t.entitlement_id
       LEFT JOIN product p ON p.id = e.product_id
      WHERE t.entitlement_id = ANY($1::uuid[])`,
    [[...byEntitlement.keys()]],
  );
  const accounts = await accountsOf(m, [...new Set(rows.map((r) => r.account_id))], refSystem);
  for (const r of rows) {
    const ext = accounts.get(r.account_id)?.ext;
    if (!ext) continue;
    const key = byEntitlement.get(r.entitlement_id)!;
    out.set(key, {
      supportKey: key,
      accountExternalId: ext,
      entitlementId: r.entitlement_id,
      name: `${r.tier_name} – ${r.product_name ? `${r.product_name} (${r.sku})` : r.sku}`.slice(0, 255),
      levelKey: r.tier_key,
      levelName: r.tier_name,
      startDate: r.start_date,
      endDate: r.support_end,
      casesAllowed: r.cases_allowed,
      casesRemaining: r.cases_allowed === null ? null : Math.max(0, r.cases_allowed - r.cases_used),
    });
  }
  return out;
}

/** `2026-11-01T00:00Z`: an instant to the minute, UTC (finding periods follow EHUB_TIME_ZONE's days). */
const minute = (d: Date): string => `${d.toISOString().slice(0, 16)}Z`;

/**
 * True-up opportunities keyed by true-up key (`ehub-trueup:<finding id>`): the finding's
 * estimated leakage as the amount and its evidence as the description. Null — nothing is
 * written, the CRM's deal is left as it is — when the finding is resolved, has no leakage,
 * or its account is not linked: resolving a finding closes nothing in the CRM by itself.
 */
export async function trueupPayloads(m: EntityManager, keys: string[], refSystem: string): Promise<Map<string, TrueupOpportunity | null>> {
  const out = new Map<string, TrueupOpportunity | null>(keys.map((k) => [k, null]));
  const byFinding = new Map<string, string>();
  for (const key of keys) {
    const [prefix, findingId] = key.split(':');
    if (prefix === TRUEUP_KEY_PREFIX && findingId && isUuid(findingId)) byFinding.set(findingId, key);
  }
  if (!byFinding.size) return out;
  const rows: {
    id: string;
    account_id: string;
    kind: string;
    feature_key: string | null;
    meter_key: string | null;
    unit: string;
    entitled: string | null;
    used: string;
    over: string;
    leakage_minor: string;
    currency: string;
    period_start: Date;
    period_end: Date | null;
    first_seen_at: Date;
    last_seen_at: Date;
    formula: string | null;
    sku: string | null;
    product_name: string | null;
  }[] = await m.query(
    `SELECT f.id, f.account_id, f.kind, f.feature_key, f.meter_key, f.unit, f.entitled::text, f.used::text, f.over::text,
            f.leakage_minor::text, f.currency, f.period_start, f.period_end, f.first_seen_at, f.last_seen_at, f.pricing->>'formula' AS formula,
            coalesce(e.sku, f.pricing->>'sku') AS sku, p.name AS product_name
       FROM compliance_finding f
       LEFT JOIN entitlement e ON e.id = f.entitlement_id
       LEFT JOIN product p ON p.id = coalesce(e.product_id, CASE WHEN f.pricing->>'productId' ~ '^[0-9a-f-]{36}$' THEN (f.pricing->>'productId')::uuid END)
      WHERE f.id = ANY($1::uuid[]) AND f.kind IN ('OVERUSE','UNENTITLED_USE') AND f.status <> 'RESOLVED'
        AND f.leakage_minor > 0 AND f.currency IS NOT NULL`,
    [[...byFinding.keys()]],
  );
  const accounts = await accountsOf(m, [...new Set(rows.map((r) => r.account_id))], refSystem);
  for (const r of rows) {
    const account = accounts.get(r.account_id);
    if (!account?.ext) continue;
    const key = byFinding.get(r.id)!;
    const amount = minorToMajor(r.leakage_minor, r.currency);
    const what = r.feature_key ?? r.meter_key ?? r.sku ?? 'usage';
    const product = r.product_name ? `${r.product_name}${r.sku ? ` (${r.sku})` : ''}` : (r.sku ?? 'no product grants it');
    const kindText = r.kind === 'OVERUSE' ? 'Overuse' : 'Unentitled use';
    const first = new Date(r.first_seen_at);
    const description = [
      `Entitlement Hub compliance finding ${r.id}`,
      `Kind: ${r.kind}`,
      `Product: ${product}`,
      ...(r.feature_key ? [`Feature: ${r.feature_key}`] : []),
      ...(r.meter_key ? [`Meter: ${r.meter_key}`] : []),
      `Period: ${minute(new Date(r.period_start))} to ${r.period_end ? minute(new Date(r.period_end)) : 'open'} (end exclusive)`,
      `Entitled: ${r.entitled === null ? 'none' : `${trimDecimal(r.entitled)} ${r.unit}`}; used: ${trimDecimal(r.used)} ${r.unit}; over: ${trimDecimal(r.over)} ${r.unit}`,
      `Estimated leakage: ${amount} ${r.currency}${r.formula ? ` (${r.formula})` : ''}`,
      `First seen ${first.toISOString().slice(0, 10)}, last seen ${new Date(r.last_seen_at).toISOString().slice(0, 10)}`,
    ].join('\n');
    out.set(key, {
      trueupKey: key,
      accountExternalId: account.ext,
      findingId: r.id,
      kind: r.kind,
      name: `True-up: ${account.name} – ${kindText} of ${what} (${new Date(r.period_start).toISOString().slice(0, 7)})`.slice(0, 120),
      amount,
      currency: r.currency,
      closeDate: new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), first.getUTCDate() + TRUEUP_CLOSE_DAYS)).toISOString().slice(0, 10),
      description,
    });
  }
  return out;
}

/** A true-up deal's suggested close date: this many days after the finding was first seen. */
const TRUEUP_CLOSE_DAYS = 30;

const MONTH_KEY = /^\d{4}-(0[1-9]|1[0-2])$/;

/** The last day of a month `YYYY-MM`, YYYY-MM-DD. */
function lastDay(month: string): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
}

/**
 * Usage records keyed by usage key (`ehub-usage:<entitlement>:<YYYY-MM>`), null where the
 * account is not linked or the entitlement is not usage-billed. The rated quantity of a
 * calendar month (UTC day buckets of the rollups, like every usage figure) is the sum of the
 * entitlement's SUM meters (their summed values; several SUM meters are added and named
 * `a+b`); COUNT, MAX, LATEST and UNIQUE_COUNT meters are observations, not billed (ADR 0027). METERED bills only what is beyond the
 * allowance of the consumption periods overlapping the month (`consumption_balance.entitled`);
 * USAGE bills all of it. The ERP line and order are those of the latest order line that
 * shaped the entitlement when its order was pulled from this connection.
 */
export async function usageRecordPayloads(m: EntityManager, keys: string[], conn: PayloadConnection): Promise<Map<string, UsageRecord | null>> {
  const out = new Map<string, UsageRecord | null>(keys.map((k) => [k, null]));
  const parsed = keys
    .map((key) => {
      const [prefix, entitlementId, month] = key.split(':');
      return { key, prefix, entitlementId: entitlementId!, month: month! };
    })
    .filter((p) => p.prefix === USAGE_KEY_PREFIX && isUuid(p.entitlementId) && MONTH_KEY.test(p.month));
  if (!parsed.length) return out;
  const rows: {
    key: string;
    month: string;
    account_id: string;
    sku: string;
    model: string;
    quantity: string | null;
    metric: string | null;
    allowance: string | null;
    order_ext: string | null;
    line_ext: string | null;
  }[] = await m.query(
    `SELECT k.key, to_char(k.month, 'YYYY-MM') AS month, e.account_id, e.sku, e.model, q.quantity::text, q.metric, al.allowance::text, ln.order_ext, ln.line_ext
       FROM unnest($1::text[], $2::uuid[], $3::date[]) AS k(key, entitlement_id, month)
       JOIN entitlement e ON e.id = k.entitlement_id AND e.model IN ('USAGE','METERED')
       LEFT JOIN LATERAL (
         SELECT sum(u.sum) AS quantity, string_agg(DISTINCT mt.key, '+' ORDER BY mt.key) AS metric
           FROM usage_rollup u JOIN meter mt ON mt.id = u.meter_id AND mt.aggregation = 'SUM'
          WHERE u.entitlement_id = e.id AND u.granularity = 'D'
            AND u.bucket >= (k.month::timestamp AT TIME ZONE 'UTC') AND u.bucket < ((k.month + interval '1 month')::timestamp AT TIME ZONE 'UTC')
       ) q ON true
       LEFT JOIN LATERAL (
         SELECT sum(b.entitled) AS allowance FROM consumption_balance b
          WHERE e.model = 'METERED' AND b.entitlement_id = e.id
            AND b.period_start < ((k.month + interval '1 month')::timestamp AT TIME ZONE 'UTC')
            AND (b.period_end IS NULL OR b.period_end > (k.month::timestamp AT TIME ZONE 'UTC'))
       ) al ON true
       LEFT JOIN LATERAL (
         SELECT sr.external_id AS order_ext,
                (SELECT j.key FROM jsonb_each_text(sr.line_numbers) j WHERE j.value = l.line_no::text ORDER BY j.key LIMIT 1) AS line_ext
           FROM entitlement_event ev
           JOIN order_line l ON l.id = ev.order_line_id
           JOIN sync_record sr ON sr.connection_id = $4 AND sr.object = 'orders' AND sr.hub_id = l.order_id
          WHERE ev.entitlement_id = e.id
          ORDER BY ev.id DESC LIMIT 1
       ) ln ON true`,
    [parsed.map((p) => p.key), parsed.map((p) => p.entitlementId), parsed.map((p) => `${p.month}-01`), conn.id],
  );
  const accounts = await accountsOf(m, [...new Set(rows.map((r) => r.account_id))], conn.refSystem);
  for (const r of rows) {
    const ext = accounts.get(r.account_id)?.ext;
    if (!ext) continue;
    let quantity = Number(r.quantity ?? 0);
    if (r.model === 'METERED') quantity = Math.max(0, quantity - Number(r.allowance ?? 0));
    const periodEnd = lastDay(r.month);
    out.set(r.key, {
      usageKey: r.key,
      accountExternalId: ext,
      subscriptionLineExternalId: r.line_ext,
      orderExternalId: r.order_ext,
      sku: r.sku,
      periodStart: `${r.month}-01`,
      periodEnd,
      usageDate: periodEnd,
      quantity: decimal(Number(quantity.toFixed(6)))!,
      metric: r.metric ?? '',
    });
  }
  return out;
}

/**
 * Journal entries keyed by entry key (`ehub-journal:<YYYY-MM>:<subsidiary or ->:<currency>`):
 * the postings the hub's journal CSV export prints for that month (the same code,
 * `RevenueExports.journalPostings`), of the accounts in that subsidiary for this connection
 * (their ERP reference's subsidiary, else the `defaultSubsidiary` option), in that currency,
 * summed per GL account — debits and credits apart, so each line has one of them. Null when
 * nothing was posted.
 */
export async function journalEntryPayloads(m: EntityManager, keys: string[], conn: PayloadConnection, exports: RevenueExports): Promise<Map<string, JournalEntry | null>> {
  const out = new Map<string, JournalEntry | null>(keys.map((k) => [k, null]));
  const wanted = new Map<string, Map<string, { debit: bigint; credit: bigint }>>();
  const byMonth = new Map<string, Set<string>>();
  for (const key of keys) {
    const parts = key.split(':');
    if (parts.length !== 4 || parts[0] !== JOURNAL_KEY_PREFIX || !MONTH_KEY.test(parts[1]!)) continue;
    wanted.set(key, new Map());
    if (!byMonth.has(parts[1]!)) byMonth.set(parts[1]!, new Set());
    byMonth.get(parts[1]!)!.add(key);
  }
  const defaultSubsidiary = typeof conn.options.defaultSubsidiary === 'string' && conn.options.defaultSubsidiary ? conn.options.defaultSubsidiary : null;
  const subsidiaryOf = new Map<string, string>();
  for (const [month, monthKeys] of byMonth) {
    for await (const batch of exports.journalPostings({ from: `${month}-01`, to: `${month}-01`, accountId: null })) {
      const unknown = [...new Set(batch.map((p) => p.accountId).filter((id) => !subsidiaryOf.has(id)))];
      if (unknown.length) {
        const subs: { id: string; subsidiary: string | null }[] = await m.query(
          `SELECT a.id, (SELECT r.subsidiary FROM external_ref r
                          WHERE r.entity_type = 'ACCOUNT' AND r.entity_id = a.id AND r.system = $2 AND r.object = 'Account'
                          ORDER BY r.created_at, r.id LIMIT 1) AS subsidiary
             FROM unnest($1::uuid[]) AS a(id)`,
          [unknown, conn.refSystem],
        );
        for (const s of subs) subsidiaryOf.set(s.id, s.subsidiary ?? defaultSubsidiary ?? NO_SUBSIDIARY);
      }
      for (const p of batch) {
        const key = `${JOURNAL_KEY_PREFIX}:${month}:${subsidiaryOf.get(p.accountId)}:${p.currency}`;
        if (!monthKeys.has(key)) continue;
        const sums = wanted.get(key)!;
        const gl = exports.glCode(p.role);
        const t = sums.get(gl) ?? { debit: 0n, credit: 0n };
        t.debit += p.debit;
        t.credit += p.credit;
        sums.set(gl, t);
      }
    }
  }
  for (const [key, sums] of wanted) {
    if (!sums.size) continue;
    const [, period, subsidiary, currency] = key.split(':') as [string, string, string, string];
    const memo = `Entitlement Hub revenue journal ${period}`;
    const lines: JournalLine[] = [];
    for (const account of [...sums.keys()].sort()) {
      const t = sums.get(account)!;
      if (t.debit > 0n) lines.push({ account, debit: minorToMajor(t.debit, currency), credit: '0', memo });
      if (t.credit > 0n) lines.push({ account, debit: '0', credit: minorToMajor(t.credit, currency), memo });
    }
    if (!lines.length) continue;
    out.set(key, { entryKey: key, period, subsidiary: subsidiary === NO_SUBSIDIARY ? null : subsidiary, currency, tranDate: lastDay(period), memo, lines });
  }
  return out;
}

/** What payloads need to know of the connection they are for. */
export interface PayloadConnection {
  id: string;
  refSystem: string;
  options: Record<string, unknown>;
}

/** Payloads of one object's items, keyed by record key. */
export async function payloadsFor(
  m: EntityManager,
  object: PushObject,
  recordKeys: string[],
  conn: PayloadConnection,
  exports: RevenueExports,
): Promise<Map<string, PushPayloads[PushObject] | null>> {
  const refSystem = conn.refSystem;
  if (object === 'account-fields') return accountFieldPayloads(m, recordKeys, refSystem);
  if (object === 'entitlement') return entitlementPayloads(m, recordKeys, refSystem);
  if (object === 'usage-record') return usageRecordPayloads(m, recordKeys, conn);
  if (object === 'journal-entry') return journalEntryPayloads(m, recordKeys, conn, exports);
  if (object === 'trueup-opportunity') return trueupPayloads(m, recordKeys, refSystem);
  if (object === 'support-entitlement') return supportEntitlementPayloads(m, recordKeys, refSystem);
  return renewalPayloads(m, recordKeys, refSystem);
}

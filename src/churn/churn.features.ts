import type { EntityManager } from 'typeorm';

/**
 * The churn model's features, computed in SQL for a set of terms, each as of its own
 * snapshot instant, from data timestamped before that instant only (docs/churn.md):
 *
 * - seats and device activations count as in use at the snapshot if assigned before it and
 *   not released before it (a release after the snapshot is not yet known at the snapshot,
 *   and does not change the answer: the row was in use then);
 * - leases, usage rollups (by bucket) and findings (by first_seen_at) in windows ending at
 *   the snapshot;
 * - the quantity sold is the term's own order line (known when it was sold); the metered
 *   allowance is the entitlement's limit scaled to that quantity.
 */
export const FEATURES = [
  'utilisation',
  'active_user_ratio',
  'usage_trend',
  'seat_shrink',
  'overdue_receivables',
  'open_findings',
  'tenure_years',
  'model_named_user',
  'model_concurrent',
  'model_device',
  'model_metered',
  'model_usage',
] as const;
export type FeatureName = (typeof FEATURES)[number];

/** A term with its features as of its snapshot. */
export interface TermSample {
  lineId: string;
  entitlementId: string;
  accountId: string;
  /**
   * A key of the account that is the same in every run (its first external reference,
   * `system:object:id`, else its name): the time split's coin hashes it, so which accounts
   * test does not depend on the random account ids.
   */
  accountKey?: string;
  sku: string;
  model: string;
  termEnd: string;
  snapshot: Date;
  /** ARR of the term: unit price × quantity × 365 / days of the term, in minor units. */
  arrMinor: number;
  currency: string;
  /** null for a term not ended yet. */
  renewed: boolean | null;
  daysToRenewal: number;
  /** In FEATURES order; null = no data (imputed with the training mean). */
  values: (number | null)[];
}

/**
 * The terms to score, as SQL returning (line_id, entitlement_id, account_id, sku, model,
 * quantity, start_date, end_date, unit_price_minor, currency, renewed, ent_start, snap).
 */
const LABELLED_TERMS = `
  SELECT l.id AS line_id, ev.entitlement_id, l.account_id, l.sku, l.model, l.quantity, l.start_date, l.end_date,
         l.unit_price_minor, l.currency, (r.renews_line_id IS NOT NULL) AS renewed, e.start_date AS ent_start,
         ((l.end_date - 90)::timestamp AT TIME ZONE 'UTC') AS snap
    FROM order_line l
    JOIN (SELECT order_line_id, min(entitlement_id::text)::uuid AS entitlement_id FROM entitlement_event
           WHERE order_line_id IS NOT NULL AND kind IN ('GRANTED','RENEWED') GROUP BY 1) ev ON ev.order_line_id = l.id
    JOIN entitlement e ON e.id = ev.entitlement_id
    LEFT JOIN (SELECT DISTINCT renews_line_id FROM order_line WHERE action = 'RENEWAL' AND status = 'ACTIVE') r ON r.renews_line_id = l.id
   WHERE l.status = 'ACTIVE' AND l.action IN ('NEW','RENEWAL') AND l.end_date IS NOT NULL AND l.end_date < $1::date`;

/**
 * Open terms on day $1: ordered by then, ending on or after it, not renewed by an order dated
 * on or before it; scored as of $2, optionally of some accounts ($3).
 */
const OPEN_TERMS = `
  SELECT l.id AS line_id, ev.entitlement_id, l.account_id, l.sku, l.model, l.quantity, l.start_date, l.end_date,
         l.unit_price_minor, l.currency, NULL::boolean AS renewed, e.start_date AS ent_start, $2::timestamptz AS snap
    FROM order_line l
    JOIN (SELECT order_line_id, min(entitlement_id::text)::uuid AS entitlement_id FROM entitlement_event
           WHERE order_line_id IS NOT NULL AND kind IN ('GRANTED','RENEWED') AND ($3::uuid[] IS NULL OR account_id = ANY($3)) GROUP BY 1) ev ON ev.order_line_id = l.id
    JOIN entitlement e ON e.id = ev.entitlement_id AND e.status <> 'CANCELLED'
    JOIN sales_order o ON o.id = l.order_id AND o.order_date <= $1::date
   WHERE l.status = 'ACTIVE' AND l.action IN ('NEW','RENEWAL') AND l.end_date IS NOT NULL AND l.end_date >= $1::date
     AND ($3::uuid[] IS NULL OR l.account_id = ANY($3))
     AND NOT EXISTS (SELECT 1 FROM order_line r JOIN sales_order ro ON ro.id = r.order_id
                      WHERE r.renews_line_id = l.id AND r.status = 'ACTIVE' AND ro.order_date <= $1::date)`;

/** Features of the terms `terms` (a SQL query with the columns above). */
function featureSql(terms: string): string {
  return `
  WITH t AS MATERIALIZED (${terms})
  SELECT t.line_id, t.entitlement_id, t.account_id,
         coalesce((SELECT r.system || ':' || r.object || ':' || r.external_id FROM external_ref r
                    WHERE r.entity_type = 'ACCOUNT' AND r.entity_id = t.account_id
                    ORDER BY r.created_at, r.system, r.object, r.external_id LIMIT 1),
                  (SELECT a.name FROM account a WHERE a.id = t.account_id)) AS account_key,
         t.sku, t.model, t.end_date::text AS term_end, t.snap, t.renewed, t.currency,
         round(t.unit_price_minor * t.quantity * 365 / greatest(1, t.end_date - t.start_date + 1))::float8 AS arr_minor,
         (t.end_date - (t.snap AT TIME ZONE 'UTC')::date) AS days_to_renewal,
         (CASE t.model
            WHEN 'NAMED_USER' THEN seats.now_in_use / nullif(t.quantity, 0)
            WHEN 'DEVICE_LOCKED' THEN devices.now_in_use / nullif(t.quantity, 0)
            WHEN 'CONCURRENT' THEN leases.holders / nullif(t.quantity, 0)
            WHEN 'METERED' THEN usage.last30 / nullif(allowance.total, 0)
          END)::float8 AS utilisation,
         (CASE WHEN t.model = 'NAMED_USER' THEN active.daily / nullif(t.quantity, 0) END)::float8 AS active_user_ratio,
         (CASE WHEN usage.recent + usage.before > 0 AND t.ent_start <= (t.snap AT TIME ZONE 'UTC')::date - 180
               THEN ln((usage.recent + 1) / (usage.before + 1)) END)::float8 AS usage_trend,
         (CASE t.model
            WHEN 'NAMED_USER' THEN (seats.then_in_use - seats.now_in_use) / nullif(t.quantity, 0)
            WHEN 'DEVICE_LOCKED' THEN (devices.then_in_use - devices.now_in_use) / nullif(t.quantity, 0)
          END)::float8 AS seat_shrink,
         (CASE WHEN recv.docs > 0 THEN ln(1 + coalesce(recv.max_days, 0)) END)::float8 AS overdue_receivables,
         ln(1 + findings.open)::float8 AS open_findings,
         ((t.snap::date - tenure.since) / 365.0)::float8 AS tenure_years,
         (t.model = 'NAMED_USER')::int::float8 AS model_named_user,
         (t.model = 'CONCURRENT')::int::float8 AS model_concurrent,
         (t.model = 'DEVICE_LOCKED')::int::float8 AS model_device,
         (t.model = 'METERED')::int::float8 AS model_metered,
         (t.model = 'USAGE')::int::float8 AS model_usage
    FROM t
    CROSS JOIN LATERAL (
      SELECT count(*) FILTER (WHERE s.assigned_at < t.snap AND (s.released_at IS NULL OR s.released_at >= t.snap))::numeric AS now_in_use,
             count(*) FILTER (WHERE s.assigned_at < t.snap - interval '90 days' AND (s.released_at IS NULL OR s.released_at >= t.snap - interval '90 days'))::numeric AS then_in_use
        FROM seat s WHERE t.model = 'NAMED_USER' AND s.entitlement_id = t.entitlement_id AND s.assigned_at < t.snap) seats
    CROSS JOIN LATERAL (
      SELECT count(*) FILTER (WHERE a.activated_at < t.snap AND (a.deactivated_at IS NULL OR a.deactivated_at >= t.snap))::numeric AS now_in_use,
             count(*) FILTER (WHERE a.activated_at < t.snap - interval '90 days' AND (a.deactivated_at IS NULL OR a.deactivated_at >= t.snap - interval '90 days'))::numeric AS then_in_use
        FROM activation a WHERE t.model = 'DEVICE_LOCKED' AND a.entitlement_id = t.entitlement_id AND a.activated_at < t.snap) devices
    CROSS JOIN LATERAL (
      SELECT count(DISTINCT x.holder)::numeric AS holders FROM lease x
       WHERE t.model = 'CONCURRENT' AND x.entitlement_id = t.entitlement_id AND x.checked_out_at >= t.snap - interval '28 days' AND x.checked_out_at < t.snap) leases
    CROSS JOIN LATERAL (
      SELECT coalesce(sum(r.sum) FILTER (WHERE r.bucket >= t.snap - interval '90 days'), 0) AS recent,
             coalesce(sum(r.sum) FILTER (WHERE r.bucket < t.snap - interval '90 days'), 0) AS before,
             coalesce(sum(r.sum) FILTER (WHERE r.bucket >= t.snap - interval '30 days'), 0) AS last30
        FROM usage_rollup r
       WHERE r.entitlement_id = t.entitlement_id AND r.entitlement_id <> '00000000-0000-0000-0000-000000000000'::uuid AND r.granularity = 'D' AND r.bucket >= t.snap - interval '180 days' AND r.bucket < t.snap) usage
    CROSS JOIN LATERAL (
      SELECT coalesce(sum(r.count), 0) / 28.0 AS daily
        FROM usage_rollup r JOIN meter m ON m.id = r.meter_id AND m.aggregation = 'UNIQUE_COUNT'
       WHERE t.model = 'NAMED_USER' AND r.entitlement_id = t.entitlement_id AND r.entitlement_id <> '00000000-0000-0000-0000-000000000000'::uuid AND r.granularity = 'D'
         AND r.bucket >= t.snap - interval '28 days' AND r.bucket < t.snap) active
    CROSS JOIN LATERAL (
      SELECT sum(f.limit_total) * t.quantity / nullif(max(e.quantity), 0) AS total
        FROM entitlement_feature f JOIN entitlement e ON e.id = f.entitlement_id
       WHERE t.model = 'METERED' AND f.entitlement_id = t.entitlement_id) allowance
    CROSS JOIN LATERAL (
      SELECT count(*) AS docs,
             max((t.snap AT TIME ZONE 'UTC')::date - r.due_date)
               FILTER (WHERE r.kind = 'INVOICE' AND h.open_minor > 0 AND NOT h.deleted AND r.due_date < (t.snap AT TIME ZONE 'UTC')::date) AS max_days
        FROM receivable r
        JOIN LATERAL (SELECT x.open_minor, x.deleted FROM receivable_history x
                       WHERE x.receivable_id = r.id AND x.valid_from < t.snap ORDER BY x.valid_from DESC LIMIT 1) h ON true
       WHERE r.account_id = t.account_id AND r.doc_date < (t.snap AT TIME ZONE 'UTC')::date) recv
    CROSS JOIN LATERAL (
      SELECT count(*) AS open FROM compliance_finding c
       WHERE c.account_id = t.account_id AND c.first_seen_at < t.snap
         AND NOT (c.status = 'RESOLVED' AND coalesce(c.status_changed_at, c.first_seen_at) < t.snap)) findings
    CROSS JOIN LATERAL (
      SELECT coalesce(min(e.start_date), (t.snap AT TIME ZONE 'UTC')::date) AS since FROM entitlement e
       WHERE e.account_id = t.account_id AND e.starts_at < t.snap) tenure
   -- A stable order (not the random line ids first), so the shuffled-label check permutes the same way each run.
   ORDER BY t.end_date, account_key, t.sku, t.start_date, t.line_id`;
}

interface Row {
  line_id: string;
  entitlement_id: string;
  account_id: string;
  account_key: string | null;
  sku: string;
  model: string;
  term_end: string;
  snap: Date;
  renewed: boolean | null;
  currency: string;
  arr_minor: number;
  days_to_renewal: number;
  [feature: string]: unknown;
}

function toSample(r: Row): TermSample {
  return {
    lineId: r.line_id,
    entitlementId: r.entitlement_id,
    accountId: r.account_id,
    accountKey: r.account_key ?? r.account_id,
    sku: r.sku,
    model: r.model,
    termEnd: r.term_end,
    snapshot: new Date(r.snap),
    arrMinor: Number(r.arr_minor),
    currency: r.currency,
    renewed: r.renewed,
    daysToRenewal: Number(r.days_to_renewal),
    values: FEATURES.map((f) => (r[f] === null || r[f] === undefined ? null : Number(r[f]))),
  };
}

/** Every term that ended before `asOf` (YYYY-MM-DD), renewed or not, with features as of 90 days before its end. */
export async function labelledSamples(manager: EntityManager, asOf: string): Promise<TermSample[]> {
  const rows: Row[] = await manager.query(featureSql(LABELLED_TERMS), [asOf]);
  return rows.map(toSample);
}

/** Accounts with an open term on day `from` (those `Account.churnRisk` scores), without computing features. */
export async function openTermAccounts(manager: EntityManager, from: string, at: Date): Promise<string[]> {
  const rows: { account_id: string }[] = await manager.query(`SELECT DISTINCT account_id FROM (${OPEN_TERMS}) t ORDER BY 1`, [from, at, null]);
  return rows.map((r) => r.account_id);
}

/**
 * Per account, its open term ending soonest (ties: the larger ARR, then the line id), with
 * features as of `at`: what `Account.churnRisk` and the CRM fields score. Features are
 * computed for those terms only, not for every open term of the account.
 */
export async function soonestOpenSamples(
  run: EntityManager | ((sql: string, params: unknown[]) => Promise<Row[]>),
  from: string,
  at: Date,
  accountIds: string[],
): Promise<TermSample[]> {
  const params = [from, at, accountIds];
  const rows: Row[] = typeof run === 'function' ? await run(SOONEST_FEATURES_SQL, params) : await run.query(SOONEST_FEATURES_SQL, params);
  return rows.map(toSample);
}

/** The features of each account's soonest-ending open term ($1 day, $2 instant, $3 account ids); a prepared statement on hot paths. */
const SOONEST_FEATURES_SQL = featureSql(`
    SELECT DISTINCT ON (o.account_id) o.* FROM (${OPEN_TERMS}) o
     ORDER BY o.account_id, o.end_date, round(o.unit_price_minor * o.quantity * 365 / greatest(1, o.end_date - o.start_date + 1)) DESC, o.line_id`);

/** Open terms ending on or after `from`, with features as of `at` (now), optionally of some accounts only. */
export async function openSamples(manager: EntityManager, from: string, at: Date, accountIds: string[] | null = null): Promise<TermSample[]> {
  const rows: Row[] = await manager.query(featureSql(OPEN_TERMS), [from, at, accountIds]);
  return rows.map(toSample);
}


import { CONSUMABLE_MODELS, periodLateral, phaseSql, policySql } from '../licensing/licensing.sql';

/**
 * The set-based SQL of the compliance rules, one statement per finding kind. Every rule
 * query of an account run takes the same parameters, so they read alike:
 *   $1 account id, $2 contract time zone, $3 now, $4 lookback start
 * (a query that does not need one of them leaves it out and says so). Each returns
 * candidate findings in one shape (`Candidate` in compliance.service.ts): decimals as
 * text, leakage as whole minor units (rounded half away from zero), and the inputs of the
 * leakage estimate as `pricing`. docs/compliance.md states the rules and formulas.
 */

/** The calendar month containing instant `x`, in the contract time zone ($2). */
export const monthStart = (x: string) => `(date_trunc('month', (${x}) AT TIME ZONE $2::text) AT TIME ZONE $2::text)`;
export const monthEnd = (x: string) => `((date_trunc('month', (${x}) AT TIME ZONE $2::text) + interval '1 month') AT TIME ZONE $2::text)`;

/** When use of an entitlement stopped being allowed: its end (cancelled early: no grace), or the end of grace. Null = never. */
export const endOfUse = (e: string) => `(CASE WHEN ${e}.ended_reason IS NOT NULL THEN ${e}.ends_at ELSE coalesce(${e}.grace_ends_at, ${e}.ends_at) END)`;

/**
 * The quantity of entitlement `e` in effect at instant `t`, from its history (every grant,
 * revision, renewal and amendment records the entitlement after the change): the latest
 * change at or before `t`, else the grant (an order dated in the past was granted after `t`),
 * else the current quantity.
 */
export const quantityAt = (e: string, t: string) => `coalesce((
    SELECT (x.after->>'quantity')::numeric FROM entitlement_event x
     WHERE x.entitlement_id = ${e}.id AND x.after->>'quantity' IS NOT NULL
     ORDER BY (x.at <= ${t}) DESC, CASE WHEN x.at <= ${t} THEN x.at END DESC, x.at, x.id DESC
     LIMIT 1), ${e}.quantity)`;

/** The largest quantity of `e` in effect at any time in [from, to): a period is judged against its most generous quantity. */
export const maxQuantityIn = (e: string, from: string, to: string) => `greatest(${quantityAt(e, from)}, coalesce((
    SELECT max((x.after->>'quantity')::numeric) FROM entitlement_event x
     WHERE x.entitlement_id = ${e}.id AND x.after->>'quantity' IS NOT NULL AND x.at > ${from} AND x.at < ${to}), 0))`;

/** An instant as the API writes it everywhere (ISO 8601, UTC, milliseconds), for webhook payloads. */
export const isoSql = (x: string) => `to_char((${x}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** Decimal to exact text without trailing zeros. */
const dec = (x: string) => `trim_scale((${x})::numeric)::text`;
/** Whole minor units, half away from zero, as text. */
const minor = (x: string) => `round((${x})::numeric)::bigint::text`;

/**
 * Attributed usage per entitlement, meter and UTC hour (deployments merged), read from the
 * hourly rollups of the entitlements in CTE `src` (columns id, account_id, usage_from), plus
 * the distinct values of UNIQUE_COUNT meters. Hours are whole in every contract time zone
 * with a whole-hour offset; a period edge in a half-hour zone is placed to the hour.
 */
const hourlyCtes = (src: string) => `
  hourly AS (
    SELECT r.entitlement_id, r.meter_id, r.bucket, sum(r.sum) AS s, sum(r.count) AS c, max(r.max) AS mx,
           (array_agg(r.latest_value ORDER BY r.latest_at DESC NULLS LAST))[1] AS lv, max(r.latest_at) AS la
      FROM ${src} x
      JOIN usage_rollup r ON r.account_id = x.account_id AND r.entitlement_id = x.id AND r.granularity = 'H' AND r.bucket >= x.usage_from
     GROUP BY 1, 2, 3
  ),
  uniq AS (
    SELECT DISTINCT u.entitlement_id, u.meter_id, u.bucket, u.value
      FROM ${src} x
      JOIN usage_unique u ON u.account_id = x.account_id AND u.entitlement_id = x.id AND u.granularity = 'H' AND u.bucket >= x.usage_from
  )`;

/**
 * Usage of METERED, USAGE and OUTCOME entitlements per feature and reset period: the larger
 * of what consume() drew (consumption_balance) and what the feature's meters measured
 * (rollups attributed to the entitlement, aggregated as the meter says; several meters: the
 * largest). The two are records of the same use, so they are not added.
 * `entitled` is the feature's limit now for the current period (an amendment applies at once)
 * and the limit recorded on the balance for earlier periods.
 *
 * mode 'lookback' ($1 account, $2 tz, $3 now, $4 lookback start): every period ending after
 * the lookback start, each read from its own start. mode 'current' ($1 account or null for
 * all, $2 tz, $3 now): the current period of usable entitlements with a limit.
 */
export function consumablePeriodsSql(mode: 'lookback' | 'current'): string {
  const usageFrom =
    mode === 'current'
      ? 'cp.period_start'
      : `CASE coalesce(e.reset_period, 'TERM') WHEN 'TERM' THEN e.starts_at WHEN 'ANNUAL' THEN $4::timestamptz - interval '1 year'
              WHEN 'DAILY' THEN $4::timestamptz - interval '1 day' ELSE $4::timestamptz - interval '1 month' END`;
  const filter =
    mode === 'current'
      ? `AND ${phaseSql('e', '$3::timestamptz')} IN ('ACTIVE','IN_GRACE') AND ef.limit_total > 0`
      : `AND (${endOfUse('e')} IS NULL OR ${endOfUse('e')} > $4::timestamptz)`;
  return `
  WITH ent AS (
    SELECT e.id, e.account_id, e.model, e.quantity, e.product_id, e.sku, e.reset_period, e.start_date, e.starts_at, e.ends_at,
           e.grace_ends_at, ${policySql('e')} AS policy, ef.feature_id, ef.feature_key, ef.limit_total,
           ${usageFrom} AS usage_from, cp.period_start AS current_start
      FROM entitlement e
      JOIN entitlement_feature ef ON ef.entitlement_id = e.id
     CROSS JOIN ${periodLateral('e', '$3::timestamptz', '$2::text')} cp
     WHERE ($1::uuid IS NULL OR e.account_id = $1::uuid) AND e.model IN ${CONSUMABLE_MODELS} ${filter}
  ),
  src AS (SELECT DISTINCT id, account_id, usage_from FROM ent),
  ${hourlyCtes('src')},
  metered AS (
    SELECT ent.id AS entitlement_id, ent.feature_id, m.id AS meter_id, m.aggregation, m.unit, p.period_start, max(p.period_end) AS period_end,
           sum(h.s) AS s, sum(h.c) AS c, max(h.mx) AS mx, (array_agg(h.lv ORDER BY h.la DESC NULLS LAST))[1] AS lv
      FROM hourly h
      JOIN meter m ON m.id = h.meter_id
      JOIN ent ON ent.id = h.entitlement_id AND ent.feature_id = m.feature_id
     CROSS JOIN ${periodLateral('ent', 'h.bucket', '$2::text')} p
     GROUP BY ent.id, ent.feature_id, m.id, p.period_start
  ),
  uniq_periods AS (
    SELECT ent.id AS entitlement_id, ent.feature_id, u.meter_id, p.period_start, count(DISTINCT u.value) AS n
      FROM uniq u
      JOIN meter m ON m.id = u.meter_id
      JOIN ent ON ent.id = u.entitlement_id AND ent.feature_id = m.feature_id
     CROSS JOIN ${periodLateral('ent', 'u.bucket', '$2::text')} p
     GROUP BY 1, 2, 3, 4
  ),
  by_feature AS (
    SELECT mt.entitlement_id, mt.feature_id, mt.period_start, max(mt.period_end) AS period_end,
           max(CASE mt.aggregation WHEN 'SUM' THEN mt.s WHEN 'COUNT' THEN mt.c WHEN 'MAX' THEN mt.mx WHEN 'LATEST' THEN mt.lv
                                   ELSE coalesce(uq.n, 0) END) AS used,
           CASE WHEN count(DISTINCT mt.unit) = 1 THEN min(mt.unit) END AS unit
      FROM metered mt
      LEFT JOIN uniq_periods uq ON uq.entitlement_id = mt.entitlement_id AND uq.feature_id = mt.feature_id
                               AND uq.meter_id = mt.meter_id AND uq.period_start = mt.period_start
     GROUP BY 1, 2, 3
  ),
  bal AS (
    SELECT b.entitlement_id, b.feature_id, b.period_start, b.period_end, b.entitled, b.used
      FROM src JOIN consumption_balance b ON b.entitlement_id = src.id
  ),
  periods AS (
    SELECT coalesce(b.entitlement_id, f.entitlement_id) AS entitlement_id, coalesce(b.feature_id, f.feature_id) AS feature_id,
           coalesce(b.period_start, f.period_start) AS period_start, coalesce(f.period_end, b.period_end) AS period_end,
           greatest(coalesce(b.used, 0), coalesce(f.used, 0)) AS used, b.used AS drawn, f.used AS metered, b.entitled AS balance_entitled, f.unit
      FROM bal b
      FULL JOIN by_feature f ON f.entitlement_id = b.entitlement_id AND f.feature_id = b.feature_id AND f.period_start = b.period_start
  )
  SELECT ent.account_id AS "accountId", ent.id AS "entitlementId", ent.sku, ent.model, ent.product_id AS "productId",
         ${dec('ent.quantity')} AS quantity, ent.feature_key AS "featureKey", ent.policy,
         p.period_start AS "periodStart", p.period_end AS "periodEnd",
         ${dec(`CASE WHEN p.period_start >= ent.current_start THEN ent.limit_total ELSE coalesce(p.balance_entitled, ent.limit_total) END`)} AS entitled,
         ${dec('p.used')} AS used, ${dec('p.drawn')} AS drawn, ${dec('p.metered')} AS metered,
         coalesce(p.unit, (SELECT CASE WHEN count(DISTINCT m.unit) = 1 THEN min(m.unit) END FROM meter m WHERE m.feature_id = ent.feature_id), 'units') AS unit
    FROM periods p
    JOIN ent ON ent.id = p.entitlement_id AND ent.feature_id = p.feature_id
   WHERE ${mode === 'current' ? 'p.period_start = ent.current_start' : '(p.period_end IS NULL OR p.period_end > $4::timestamptz)'}
   ORDER BY ent.account_id, ent.id, ent.feature_key, p.period_start`;
}

/** The JSON record shape of consumable period rows handed back to SQL. */
export const PERIOD_RECORD = `("accountId" uuid, "entitlementId" uuid, sku text, model text, "productId" uuid, quantity numeric, "featureKey" text,
  policy text, "periodStart" timestamptz, "periodEnd" timestamptz, entitled numeric, used numeric, drawn numeric, metered numeric, unit text)`;

/**
 * OVERUSE of METERED / USAGE / OUTCOME features, from the period rows ($1 jsonb):
 * used above the period's limit. Leakage = over × list price × quantity ÷ entitled (the
 * list price of one unit of the feature as this entitlement grants it).
 */
export const consumableOveruseSql = `
  SELECT 'OVERUSE' AS kind, r."entitlementId" AS entitlement_id, r."featureKey" AS feature_key, NULL::uuid AS meter_id, NULL AS meter_key,
         r."periodStart" AS period_start, r."periodEnd" AS period_end, r.unit,
         ${dec('r.entitled')} AS entitled, ${dec('r.used')} AS used, ${dec('r.used - r.entitled')} AS over, NULL AS utilization,
         CASE WHEN r.entitled > 0 THEN ${minor('(r.used - r.entitled) * p.list_price_minor * r.quantity / r.entitled')} END AS leakage_minor,
         CASE WHEN r.entitled > 0 THEN p.currency END AS currency,
         jsonb_build_object('formula', 'over × list price × quantity ÷ entitled', 'productId', p.id, 'sku', p.sku,
           'listPriceMinor', p.list_price_minor::text, 'quantity', ${dec('r.quantity')}, 'entitled', ${dec('r.entitled')},
           'unitPriceMinor', CASE WHEN r.entitled > 0 THEN ${dec('round(p.list_price_minor * r.quantity / r.entitled, 6)')} END,
           'model', r.model, 'drawn', ${dec('r.drawn')}, 'metered', ${dec('r.metered')}) AS pricing
    FROM jsonb_to_recordset($1::jsonb) AS r${PERIOD_RECORD}
    JOIN product p ON p.id = r."productId"
   WHERE r.entitled IS NOT NULL AND r.used > r.entitled`;

/**
 * OVERUSE of capped features of the other models (a feature limit on a PERPETUAL,
 * SUBSCRIPTION... entitlement is a cap on what is used at once): per calendar month and
 * meter, the largest single reading (UNIQUE_COUNT: the distinct values) above the limit.
 * COUNT meters measure no amount in use and are not compared. ($1 account, $2 tz, $3 lookback start.)
 */
export const capOveruseSql = `
  WITH ent AS (
    SELECT e.id, e.account_id, e.model, e.quantity, e.product_id, ef.feature_id, ef.feature_key, ef.limit_total,
           ${monthStart('$3::timestamptz')} AS usage_from
      FROM entitlement e
      JOIN entitlement_feature ef ON ef.entitlement_id = e.id
     WHERE e.account_id = $1::uuid AND e.model NOT IN ${CONSUMABLE_MODELS} AND ef.limit_total IS NOT NULL
       AND (${endOfUse('e')} IS NULL OR ${endOfUse('e')} > $3::timestamptz)
  ),
  src AS (SELECT DISTINCT id, account_id, usage_from FROM ent),
  ${hourlyCtes('src')},
  readings AS (
    SELECT h.entitlement_id, h.meter_id, ${monthStart('h.bucket')} AS ms, max(h.mx) AS peak FROM hourly h GROUP BY 1, 2, 3
  ),
  distincts AS (
    SELECT u.entitlement_id, u.meter_id, ${monthStart('u.bucket')} AS ms, count(DISTINCT u.value) AS n FROM uniq u GROUP BY 1, 2, 3
  ),
  used AS (
    SELECT ent.*, m.id AS meter_id, m.key AS meter_key, m.unit, r.ms,
           CASE WHEN m.aggregation = 'UNIQUE_COUNT' THEN coalesce(d.n, 0) ELSE r.peak END AS used
      FROM readings r
      JOIN meter m ON m.id = r.meter_id AND m.aggregation <> 'COUNT'
      JOIN ent ON ent.id = r.entitlement_id AND ent.feature_id = m.feature_id
      LEFT JOIN distincts d ON d.entitlement_id = r.entitlement_id AND d.meter_id = r.meter_id AND d.ms = r.ms
  )
  SELECT 'OVERUSE' AS kind, u.id AS entitlement_id, u.feature_key, u.meter_id, u.meter_key,
         u.ms AS period_start, ${monthEnd('u.ms')} AS period_end, u.unit,
         ${dec('u.limit_total')} AS entitled, ${dec('u.used')} AS used, ${dec('u.used - u.limit_total')} AS over, NULL AS utilization,
         CASE WHEN u.limit_total > 0 THEN ${minor('(u.used - u.limit_total) * p.list_price_minor * u.quantity / u.limit_total')} END AS leakage_minor,
         CASE WHEN u.limit_total > 0 THEN p.currency END AS currency,
         jsonb_build_object('formula', 'over × list price × quantity ÷ entitled', 'productId', p.id, 'sku', p.sku,
           'listPriceMinor', p.list_price_minor::text, 'quantity', ${dec('u.quantity')}, 'entitled', ${dec('u.limit_total')},
           'unitPriceMinor', CASE WHEN u.limit_total > 0 THEN ${dec('round(p.list_price_minor * u.quantity / u.limit_total, 6)')} END,
           'model', u.model) AS pricing
    FROM used u
    JOIN product p ON p.id = u.product_id
   WHERE u.used > u.limit_total`;

/**
 * OVERUSE of NAMED_USER entitlements: more distinct users (case-insensitive) in a calendar
 * month's usage events than seats, the largest quantity in effect during the month.
 * Leakage = extra users × list price (one unit = one seat). ($1 account, $2 tz, $3 lookback start.)
 */
export const namedUserOveruseSql = `
  WITH months AS (
    SELECT e.id AS entitlement_id, ${monthStart('u.occurred_at')} AS ms, count(DISTINCT lower(u.user_id)) AS users
      FROM entitlement e
      JOIN usage_event u ON u.account_id = e.account_id AND u.entitlement_id = e.id AND u.user_id IS NOT NULL
                        AND u.occurred_at >= ${monthStart('$3::timestamptz')}
     WHERE e.account_id = $1::uuid AND e.model = 'NAMED_USER'
     GROUP BY 1, 2
  ),
  judged AS (
    SELECT mo.*, ${monthEnd('mo.ms')} AS me, e.product_id, e.model,
           floor(${maxQuantityIn('e', 'mo.ms', monthEnd('mo.ms'))}) AS seats
      FROM months mo JOIN entitlement e ON e.id = mo.entitlement_id
  )
  SELECT 'OVERUSE' AS kind, j.entitlement_id, NULL AS feature_key, NULL::uuid AS meter_id, NULL AS meter_key,
         j.ms AS period_start, j.me AS period_end, 'users' AS unit,
         ${dec('j.seats')} AS entitled, ${dec('j.users')} AS used, ${dec('j.users - j.seats')} AS over, NULL AS utilization,
         ${minor('(j.users - j.seats) * p.list_price_minor')} AS leakage_minor, p.currency,
         jsonb_build_object('formula', 'over × list price', 'productId', p.id, 'sku', p.sku, 'listPriceMinor', p.list_price_minor::text,
           'model', j.model, 'measure', 'distinct users in the month''s usage events') AS pricing
    FROM judged j
    JOIN product p ON p.id = j.product_id
   WHERE j.users > j.seats`;

/** Leases of entitlement `e` live at instant `t` (a lease holds a licence from checkout until it lapses or is checked in). */
const liveLeasesAt = (e: string, t: string) => `(SELECT count(*) FROM lease l
   WHERE l.entitlement_id = ${e} AND l.checked_out_at <= ${t} AND ${t} < least(l.expires_at, coalesce(l.checked_in_at, 'infinity'::timestamptz)))`;

/**
 * OVERUSE of CONCURRENT entitlements: more live leases than the quantity in effect at that
 * instant, judged at every checkout and every quantity change (a downgrade leaves leases
 * out); per calendar month, the worst instant. Leakage = excess leases × list price.
 * ($1 account, $2 tz, $3 lookback start.)
 */
export const concurrentOveruseSql = `
  WITH ent AS (SELECT e.* FROM entitlement e WHERE e.account_id = $1::uuid AND e.model = 'CONCURRENT'),
  points AS (
    SELECT ent.id AS entitlement_id, l.checked_out_at AS at FROM ent JOIN lease l ON l.entitlement_id = ent.id
     WHERE l.checked_out_at >= ${monthStart('$3::timestamptz')}
    UNION
    SELECT ent.id, x.at FROM ent JOIN entitlement_event x ON x.entitlement_id = ent.id
     WHERE x.after->>'quantity' IS NOT NULL AND x.at >= ${monthStart('$3::timestamptz')}
  ),
  judged AS (
    SELECT p.entitlement_id, p.at, ${monthStart('p.at')} AS ms, ${liveLeasesAt('p.entitlement_id', 'p.at')} AS live,
           floor(${quantityAt('e', 'p.at')}) AS cap
      FROM points p JOIN entitlement e ON e.id = p.entitlement_id
  ),
  worst AS (
    SELECT DISTINCT ON (entitlement_id, ms) * FROM judged WHERE live > cap ORDER BY entitlement_id, ms, live - cap DESC, at
  )
  SELECT 'OVERUSE' AS kind, w.entitlement_id, NULL AS feature_key, NULL::uuid AS meter_id, NULL AS meter_key,
         w.ms AS period_start, ${monthEnd('w.ms')} AS period_end, 'leases' AS unit,
         ${dec('w.cap')} AS entitled, ${dec('w.live')} AS used, ${dec('w.live - w.cap')} AS over, NULL AS utilization,
         ${minor('(w.live - w.cap) * p.list_price_minor')} AS leakage_minor, p.currency,
         jsonb_build_object('formula', 'over × list price', 'productId', p.id, 'sku', p.sku, 'listPriceMinor', p.list_price_minor::text,
           'model', e.model, 'measure', 'peak live leases', 'at', w.at) AS pricing
    FROM worst w
    JOIN entitlement e ON e.id = w.entitlement_id
    JOIN product p ON p.id = e.product_id`;

/**
 * DEVICE_OVER_LIMIT: a usable DEVICE_LOCKED entitlement with more active activations than
 * the whole part of its quantity now (activation enforces the limit, so this follows a
 * downgrade). Period: the current calendar month. Leakage = excess devices × list price.
 * ($1 account, $2 tz, $3 now.)
 */
export const deviceOverLimitSql = `
  WITH judged AS (
    SELECT e.id, e.product_id, e.model, floor(e.quantity) AS cap, count(a.id) AS active
      FROM entitlement e
      JOIN activation a ON a.entitlement_id = e.id AND a.deactivated_at IS NULL
     WHERE e.account_id = $1::uuid AND e.model = 'DEVICE_LOCKED' AND ${phaseSql('e', '$3::timestamptz')} IN ('ACTIVE','IN_GRACE')
     GROUP BY e.id
  )
  SELECT 'DEVICE_OVER_LIMIT' AS kind, j.id AS entitlement_id, NULL AS feature_key, NULL::uuid AS meter_id, NULL AS meter_key,
         ${monthStart('$3::timestamptz')} AS period_start, ${monthEnd('$3::timestamptz')} AS period_end, 'devices' AS unit,
         ${dec('j.cap')} AS entitled, ${dec('j.active')} AS used, ${dec('j.active - j.cap')} AS over, NULL AS utilization,
         ${minor('(j.active - j.cap) * p.list_price_minor')} AS leakage_minor, p.currency,
         jsonb_build_object('formula', 'over × list price', 'productId', p.id, 'sku', p.sku, 'listPriceMinor', p.list_price_minor::text,
           'model', j.model, 'measure', 'active activations now') AS pricing
    FROM judged j
    JOIN product p ON p.id = j.product_id
   WHERE j.active > j.cap`;

/**
 * UNENTITLED_USE and EXPIRED_USE, from the events ingestion flagged `unentitled` (exact, on
 * a partial index), per calendar month and meter. An event is EXPIRED_USE when an
 * entitlement of the account for the feature had ended (past grace; a cancellation has
 * none) before it — the latest such is named — and UNENTITLED_USE otherwise.
 * Leakage, UNENTITLED_USE: the cheapest way to buy the use at list price — used × list
 * price ÷ limit per unit of the cheapest active product granting the feature directly (one
 * unit's list price when it grants it unlimited), products in the account's currency first.
 * EXPIRED_USE: consumable models with a limit: used × list price × quantity ÷ entitled;
 * otherwise days of use × list price × quantity ÷ days of the term.
 * ($1 account, $2 tz, $3 lookback start.)
 */
export const unentitledUseSql = `
  WITH ev AS (
    SELECT u.meter_id, u.occurred_at, coalesce(u.value, u.quantity) AS v, u.unique_value,
           m.key AS meter_key, m.unit, m.aggregation, m.feature_id, f.key AS feature_key, ${monthStart('u.occurred_at')} AS ms,
           (SELECT x.id FROM entitlement x JOIN entitlement_feature xf ON xf.entitlement_id = x.id
             WHERE xf.account_id = u.account_id AND xf.feature_key = f.key AND ${endOfUse('x')} <= u.occurred_at
             ORDER BY ${endOfUse('x')} DESC, x.id LIMIT 1) AS expired_id
      FROM usage_event u
      JOIN meter m ON m.id = u.meter_id
      JOIN feature f ON f.id = m.feature_id
     WHERE u.account_id = $1::uuid AND u.unentitled AND u.occurred_at >= ${monthStart('$3::timestamptz')}
  ),
  agg AS (
    SELECT expired_id, meter_id, meter_key, unit, aggregation, feature_id, feature_key, ms,
           CASE aggregation WHEN 'SUM' THEN sum(v) WHEN 'COUNT' THEN count(*) WHEN 'MAX' THEN max(v)
                            WHEN 'UNIQUE_COUNT' THEN count(DISTINCT unique_value)
                            ELSE (array_agg(v ORDER BY occurred_at DESC))[1] END AS used,
           count(DISTINCT (occurred_at AT TIME ZONE $2::text)::date) AS days
      FROM ev GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
  ),
  priced AS (
    SELECT a.*, x.model, x.quantity, x.product_id AS x_product_id, xf.limit_total, (x.end_date - x.start_date + 1) AS term_days,
           cp.id AS cheap_id, cp.sku AS cheap_sku, cp.list_price_minor AS cheap_list, cp.currency AS cheap_currency, cp.limit_per_unit AS cheap_lpu
      FROM agg a
      LEFT JOIN entitlement x ON x.id = a.expired_id
      LEFT JOIN entitlement_feature xf ON xf.entitlement_id = x.id AND xf.feature_id = a.feature_id
      LEFT JOIN LATERAL (
        SELECT p.id, p.sku, p.list_price_minor, p.currency, pf.limit_per_unit
          FROM product_feature pf JOIN product p ON p.id = pf.product_id
         WHERE a.expired_id IS NULL AND pf.feature_id = a.feature_id AND p.status = 'ACTIVE' AND (pf.limit_per_unit IS NULL OR pf.limit_per_unit > 0)
         ORDER BY (p.currency = (SELECT currency FROM account WHERE id = $1::uuid)) DESC,
                  CASE WHEN pf.limit_per_unit IS NULL THEN p.list_price_minor ELSE a.used * p.list_price_minor / pf.limit_per_unit END, p.sku
         LIMIT 1) cp ON true
  )
  SELECT CASE WHEN r.expired_id IS NULL THEN 'UNENTITLED_USE' ELSE 'EXPIRED_USE' END AS kind,
         r.expired_id AS entitlement_id, r.feature_key, r.meter_id, r.meter_key,
         r.ms AS period_start, ${monthEnd('r.ms')} AS period_end, r.unit,
         CASE WHEN r.expired_id IS NULL THEN '0' END AS entitled, ${dec('r.used')} AS used, ${dec('r.used')} AS over, NULL AS utilization,
         CASE
           WHEN r.expired_id IS NULL AND r.cheap_id IS NULL THEN NULL
           WHEN r.expired_id IS NULL AND r.cheap_lpu IS NULL THEN r.cheap_list::text
           WHEN r.expired_id IS NULL THEN ${minor('r.used * r.cheap_list / r.cheap_lpu')}
           WHEN r.model IN ${CONSUMABLE_MODELS} AND r.limit_total > 0 THEN ${minor('r.used * xp.list_price_minor * r.quantity / r.limit_total')}
           ELSE ${minor('r.days * xp.list_price_minor * r.quantity / greatest(coalesce(r.term_days, 365), 1)')}
         END AS leakage_minor,
         CASE WHEN r.expired_id IS NULL THEN r.cheap_currency ELSE xp.currency END AS currency,
         CASE
           WHEN r.expired_id IS NULL AND r.cheap_id IS NULL THEN jsonb_build_object('formula', 'no active product grants the feature: not priced')
           WHEN r.expired_id IS NULL AND r.cheap_lpu IS NULL THEN jsonb_build_object('formula', 'list price of one unit of the cheapest product granting the feature (unlimited)',
             'productId', r.cheap_id, 'sku', r.cheap_sku, 'listPriceMinor', r.cheap_list::text)
           WHEN r.expired_id IS NULL THEN jsonb_build_object('formula', 'used × list price ÷ limit per unit of the cheapest product granting the feature',
             'productId', r.cheap_id, 'sku', r.cheap_sku, 'listPriceMinor', r.cheap_list::text, 'limitPerUnit', ${dec('r.cheap_lpu')},
             'unitPriceMinor', ${dec('round(r.cheap_list / r.cheap_lpu, 6)')})
           WHEN r.model IN ${CONSUMABLE_MODELS} AND r.limit_total > 0 THEN jsonb_build_object('formula', 'used × list price × quantity ÷ entitled',
             'productId', xp.id, 'sku', xp.sku, 'listPriceMinor', xp.list_price_minor::text, 'quantity', ${dec('r.quantity')},
             'entitled', ${dec('r.limit_total')}, 'unitPriceMinor', ${dec('round(xp.list_price_minor * r.quantity / r.limit_total, 6)')}, 'model', r.model)
           ELSE jsonb_build_object('formula', 'days of use × list price × quantity ÷ days of the term', 'productId', xp.id, 'sku', xp.sku,
             'listPriceMinor', xp.list_price_minor::text, 'quantity', ${dec('r.quantity')}, 'daysOfUse', r.days,
             'termDays', coalesce(r.term_days, 365), 'model', r.model)
         END AS pricing
    FROM priced r
    LEFT JOIN product xp ON xp.id = r.x_product_id`;

/**
 * UNDERUSE (shelfware): for each entitlement usable now and in force for the whole of its
 * latest complete window — windows of N days ($3) counted from its start — utilisation =
 * used ÷ entitled over the window:
 *   NAMED_USER distinct users of its usage events ÷ seats; CONCURRENT peak live leases ÷
 *   licences; DEVICE_LOCKED devices seen (usage events, activations seen in the window) ÷
 *   devices; METERED/USAGE/OUTCOME per feature with a limit: use in the window (drawn or
 *   metered, the larger) ÷ the limit pro-rated to the window; anything else: no usage event
 *   and no consumption at all is utilisation 0.
 * Returns every judged row with `underused`, so a run can resolve what recovered.
 * ($1 account, $2 now, $3 window days, $4 threshold.)
 */
export const underuseSql = `
  WITH w AS (
    SELECT e.*, k.ws, k.ws + make_interval(days => $3::int) AS we
      FROM entitlement e
     CROSS JOIN LATERAL (
       SELECT e.starts_at + make_interval(days => $3::int * (floor(extract(epoch FROM $2::timestamptz - e.starts_at) / ($3::int * 86400))::int - 1)) AS ws
     ) k
     WHERE e.account_id = $1::uuid AND $2::timestamptz >= e.starts_at + make_interval(days => $3::int)
       AND ${phaseSql('e', '$2::timestamptz')} IN ('ACTIVE','IN_GRACE')
       AND (e.ends_at IS NULL OR e.ends_at >= k.ws + make_interval(days => $3::int))
  ),
  feat AS (
    SELECT w.id, ef.feature_id, ef.feature_key, ef.limit_total,
           w.quantity, w.model, w.ws, w.we,
           ef.limit_total * $3::int / CASE coalesce(w.reset_period, 'TERM')
             WHEN 'DAILY' THEN 1 WHEN 'MONTHLY' THEN 365.2425 / 12 WHEN 'ANNUAL' THEN 365.2425
             ELSE nullif(extract(epoch FROM w.ends_at - w.starts_at) / 86400, 0) END AS window_entitled
      FROM w JOIN entitlement_feature ef ON ef.entitlement_id = w.id
     WHERE w.model IN ${CONSUMABLE_MODELS} AND ef.limit_total > 0
  ),
  feat_used AS (
    SELECT f.*, greatest(
      coalesce((SELECT sum(c.quantity) FROM consumption c
                 WHERE c.entitlement_id = f.id AND c.feature_key = f.feature_key AND c.allowed AND c.created_at >= f.ws AND c.created_at < f.we), 0),
      coalesce((SELECT max(t.used) FROM (
                 SELECT CASE m.aggregation WHEN 'SUM' THEN sum(r.sum) WHEN 'COUNT' THEN sum(r.count) WHEN 'MAX' THEN max(r.max)
                          WHEN 'LATEST' THEN (array_agg(r.latest_value ORDER BY r.latest_at DESC NULLS LAST))[1]
                          ELSE (SELECT count(DISTINCT uu.value) FROM usage_unique uu WHERE uu.account_id = $1::uuid AND uu.entitlement_id = f.id
                                  AND uu.meter_id = m.id AND uu.granularity = 'H' AND uu.bucket >= f.ws AND uu.bucket < f.we) END AS used
                   FROM usage_rollup r JOIN meter m ON m.id = r.meter_id AND m.feature_id = f.feature_id
                  WHERE r.account_id = $1::uuid AND r.entitlement_id = f.id AND r.granularity = 'H' AND r.bucket >= f.ws AND r.bucket < f.we
                  GROUP BY m.id, m.aggregation) t), 0)) AS used
      FROM feat f
     WHERE f.window_entitled IS NOT NULL
  ),
  seat_used AS (
    SELECT w.id, w.model, w.ws, w.we, floor(w.quantity) AS cap,
           CASE w.model
             WHEN 'NAMED_USER' THEN (SELECT count(DISTINCT lower(u.user_id)) FROM usage_event u
                                      WHERE u.account_id = w.account_id AND u.entitlement_id = w.id AND u.occurred_at >= w.ws AND u.occurred_at < w.we)
             WHEN 'CONCURRENT' THEN (SELECT coalesce(max(${liveLeasesAt('w.id', 'pt.at')}), 0)
                                       FROM (SELECT w.ws AS at UNION SELECT l.checked_out_at FROM lease l
                                              WHERE l.entitlement_id = w.id AND l.checked_out_at >= w.ws AND l.checked_out_at < w.we) pt)
             ELSE (SELECT count(DISTINCT d) FROM (
                     SELECT u.device AS d FROM usage_event u
                      WHERE u.account_id = w.account_id AND u.entitlement_id = w.id AND u.device IS NOT NULL AND u.occurred_at >= w.ws AND u.occurred_at < w.we
                     UNION
                     SELECT a.fingerprint FROM activation a
                      WHERE a.entitlement_id = w.id AND a.activated_at < w.we AND (a.deactivated_at IS NULL OR a.deactivated_at > w.ws)
                        AND a.last_seen_at >= w.ws) dd)
           END AS used
      FROM w WHERE w.model IN ('NAMED_USER','CONCURRENT','DEVICE_LOCKED')
  ),
  other AS (
    SELECT w.id, w.model, w.ws, w.we,
           (SELECT count(*) FROM usage_event u WHERE u.account_id = w.account_id AND u.entitlement_id = w.id AND u.occurred_at >= w.ws AND u.occurred_at < w.we)
           + (SELECT count(*) FROM consumption c WHERE c.entitlement_id = w.id AND c.allowed AND c.created_at >= w.ws AND c.created_at < w.we) AS events
      FROM w
     WHERE w.model NOT IN ('NAMED_USER','CONCURRENT','DEVICE_LOCKED') AND NOT EXISTS (SELECT 1 FROM feat_used fu WHERE fu.id = w.id)
  ),
  judged AS (
    SELECT id, feature_key, ws, we,
           coalesce((SELECT CASE WHEN count(DISTINCT m.unit) = 1 THEN min(m.unit) END FROM meter m WHERE m.feature_id = feat_used.feature_id), 'units') AS unit,
           window_entitled AS entitled, used, used / window_entitled AS utilization,
           'use in the window ÷ the limit pro-rated to the window' AS measure
      FROM feat_used
    UNION ALL
    SELECT id, NULL, ws, we, CASE model WHEN 'NAMED_USER' THEN 'users' WHEN 'CONCURRENT' THEN 'leases' ELSE 'devices' END,
           cap, used, used / nullif(cap, 0),
           CASE model WHEN 'NAMED_USER' THEN 'distinct users ÷ seats' WHEN 'CONCURRENT' THEN 'peak live leases ÷ licences' ELSE 'devices seen ÷ devices' END
      FROM seat_used
    UNION ALL
    SELECT id, NULL, ws, we, 'events', NULL, events, CASE WHEN events = 0 THEN 0 END, 'no usage at all'
      FROM other
  )
  SELECT 'UNDERUSE' AS kind, j.id AS entitlement_id, j.feature_key, NULL::uuid AS meter_id, NULL AS meter_key,
         j.ws AS period_start, j.we AS period_end, j.unit,
         ${dec('round(j.entitled, 4)')} AS entitled, ${dec('j.used')} AS used, '0' AS over, ${dec('round(j.utilization, 4)')} AS utilization,
         '0' AS leakage_minor, p.currency,
         jsonb_build_object('formula', 'shelfware is not leakage: 0', 'productId', p.id, 'sku', p.sku, 'measure', j.measure,
           'threshold', $4::numeric, 'windowDays', $3::int) AS pricing,
         (j.utilization IS NOT NULL AND j.utilization < $4::numeric) AS underused
    FROM judged j
    JOIN entitlement e ON e.id = j.id
    JOIN product p ON p.id = e.product_id`;

/**
 * Consumption thresholds crossed ($1 jsonb period rows, $2 thresholds in percent), not yet
 * raised: one row per (entitlement, feature, period, threshold). When several are crossed
 * at once, the lower ones are `superseded` (recorded, never raised later, no webhook).
 */
export const consumptionThresholdsSql = `
  WITH r AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS r${PERIOD_RECORD}),
  crossed AS (
    SELECT r.*, t.threshold,
           'usage.threshold:' || r."entitlementId" || ':' || r."featureKey" || ':' ||
             to_char(r."periodStart" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ':' || trim_scale(t.threshold)::text AS key
      FROM r CROSS JOIN unnest($2::numeric[]) AS t(threshold)
     WHERE r.entitled > 0 AND r.used * 100 >= t.threshold * r.entitled
  ),
  fresh AS (
    SELECT c.*, c.threshold < max(c.threshold) OVER (PARTITION BY c."entitlementId", c."featureKey", c."periodStart") AS superseded
      FROM crossed c WHERE NOT EXISTS (SELECT 1 FROM notification n WHERE n.key = c.key)
  )
  INSERT INTO notification (account_id, type, key, entitlement_id, feature_key, period_start, period_end, threshold, superseded, payload)
  SELECT f."accountId", 'usage.threshold', f.key, f."entitlementId", f."featureKey", f."periodStart", f."periodEnd", f.threshold, f.superseded,
         jsonb_build_object('accountId', f."accountId", 'entitlementId', f."entitlementId", 'sku', f.sku, 'model', f.model,
           'feature', f."featureKey", 'periodStart', ${isoSql('f."periodStart"')}, 'periodEnd', ${isoSql('f."periodEnd"')}, 'thresholdPercent', trim_scale(f.threshold),
           'entitled', ${dec('f.entitled')}, 'used', ${dec('f.used')}, 'percentUsed', trim_scale(round(f.used * 100 / f.entitled, 2)),
           'unit', f.unit, 'overagePolicy', f.policy)
    FROM fresh f
  ON CONFLICT (key) DO NOTHING
  RETURNING id, type, key, account_id AS "accountId", superseded, payload`;

/**
 * Expiry thresholds ($1 account or null, $2 days before the end, $3 now): active terms
 * (not ended early: a cancellation is not an expiry) ending within N days, once per term
 * end date and threshold; lower thresholds crossed at once supersede the higher ones.
 */
export const expiryThresholdsSql = `
  WITH due AS (
    SELECT e.id, e.account_id, e.sku, e.model, e.end_date, e.ends_at, e.grace_ends_at, t.days,
           'entitlement.expiring:' || e.id || ':' || e.end_date || ':' || t.days AS key
      FROM entitlement e CROSS JOIN unnest($2::int[]) AS t(days)
     WHERE ($1::uuid IS NULL OR e.account_id = $1::uuid) AND e.status = 'ACTIVE' AND e.ended_reason IS NULL AND e.ends_at IS NOT NULL
       AND e.starts_at <= $3::timestamptz AND e.ends_at > $3::timestamptz AND e.ends_at <= $3::timestamptz + make_interval(days => t.days)
  ),
  fresh AS (
    SELECT d.*, d.days > min(d.days) OVER (PARTITION BY d.id) AS superseded
      FROM due d WHERE NOT EXISTS (SELECT 1 FROM notification n WHERE n.key = d.key)
  )
  INSERT INTO notification (account_id, type, key, entitlement_id, period_start, period_end, threshold, superseded, payload)
  SELECT f.account_id, 'entitlement.expiring', f.key, f.id, NULL, f.ends_at, f.days, f.superseded,
         jsonb_build_object('accountId', f.account_id, 'entitlementId', f.id, 'sku', f.sku, 'model', f.model, 'endDate', f.end_date,
           'endsAt', ${isoSql('f.ends_at')}, 'graceEndsAt', ${isoSql('f.grace_ends_at')}, 'thresholdDays', f.days,
           'daysLeft', ceil(extract(epoch FROM f.ends_at - $3::timestamptz) / 86400)::int)
    FROM fresh f
  ON CONFLICT (key) DO NOTHING
  RETURNING id, type, key, account_id AS "accountId", superseded, payload`;

/**
 * Overage of consumptions under ALLOW_AND_NOTIFY not yet notified ($1 account or null,
 * $2 oldest consumption considered): one `consumption.overage` per consumption.
 */
export const overageNotificationsSql = `
  INSERT INTO notification (account_id, type, key, entitlement_id, feature_key, period_start, period_end, payload)
  SELECT c.account_id, 'consumption.overage', 'consumption.overage:' || c.id, c.entitlement_id, c.feature_key,
         (c.result->>'periodStart')::timestamptz, (c.result->>'periodEnd')::timestamptz,
         jsonb_build_object('accountId', c.account_id, 'entitlementId', c.entitlement_id, 'sku', e.sku, 'consumptionId', c.id,
           'idempotencyKey', c.idempotency_key, 'feature', c.feature_key, 'quantity', ${dec('c.quantity')}, 'overage', ${dec('c.overage')},
           'consumed', c.result->>'consumed', 'periodStart', c.result->>'periodStart', 'periodEnd', c.result->>'periodEnd', 'at', ${isoSql('c.created_at')})
    FROM consumption c
    JOIN entitlement e ON e.id = c.entitlement_id
   WHERE c.overage > 0 AND c.created_at >= $2::timestamptz AND ($1::uuid IS NULL OR c.account_id = $1::uuid)
     AND ${policySql('e')} = 'ALLOW_AND_NOTIFY'
     AND NOT EXISTS (SELECT 1 FROM notification n WHERE n.key = 'consumption.overage:' || c.id)
  ORDER BY c.created_at, c.id
  ON CONFLICT (key) DO NOTHING
  RETURNING id, type, key, account_id AS "accountId", superseded, payload`;

/**
 * SQL fragments shared by the analytics queries. Rollups exist per UTC hour ('H') and UTC
 * day ('D'); a window of arbitrary instants is read as whole days where it covers them and
 * as hours at its ragged ends, so a month of usage costs ~30 day rows, not ~720 hour rows,
 * and every figure (UNIQUE_COUNT too: sets of values union exactly) stays exact up to the
 * hour the window's ends fall in.
 */
import { BUCKET_TIME_ZONE } from './buckets';

/** A growing list of query parameters: `p.add(v)` returns its placeholder (`$n`). */
export class Params {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

const TZ = `'${BUCKET_TIME_ZONE}'`;

/** The start of the rollup day holding instant `t`. */
export function dayFloor(t: string): string {
  return `((((${t}) AT TIME ZONE ${TZ})::date)::timestamp AT TIME ZONE ${TZ})`;
}

/** `t` if a rollup day starts at it, else the start of the next day. */
export function dayCeil(t: string): string {
  return `(CASE WHEN ${dayFloor(t)} = (${t}) THEN (${t}) ELSE ((((${t}) AT TIME ZONE ${TZ})::date + 1)::timestamp AT TIME ZONE ${TZ}) END)`;
}

/**
 * The rows of `table` (usage_rollup or usage_unique) for `key` (SQL conditions on alias `r`,
 * e.g. account, meter and entitlement) in window `w`, which carries `ws`, `wq` (start and
 * end, exclusive) and `d_start`, `d_end` (= dayCeil(ws), dayFloor(wq)): day rows for the
 * whole days, hour rows before the first and after the last whole day (an hour row counts
 * when it starts inside the window: window ends are rounded to the hour). Three range scans
 * on the primary key (account, meter, granularity, bucket), disjoint by construction — a
 * window inside one day reads hours only.
 */
export function rollupRowsInWindow(table: 'usage_rollup' | 'usage_unique', key: string, w: string): string {
  const scan = (granularity: 'D' | 'H', from: string, to: string) =>
    `SELECT r.* FROM ${table} r WHERE ${key} AND r.granularity = '${granularity}' AND r.bucket >= ${from} AND r.bucket < ${to}`;
  return `(${scan('D', `${w}.d_start`, `${w}.d_end`)}
     UNION ALL ${scan('H', `${w}.ws`, `least(${w}.d_start, ${w}.wq)`)}
     UNION ALL ${scan('H', `greatest(${w}.d_end, least(${w}.d_start, ${w}.wq))`, `${w}.wq`)})`;
}

/** When use of an entitlement ends: its end for an early end (no grace after a cancellation), else the end of grace; NULL = never. */
export function endOfUse(e: string): string {
  return `(CASE WHEN ${e}.ended_reason IS NOT NULL THEN ${e}.ends_at ELSE coalesce(${e}.grace_ends_at, ${e}.ends_at) END)`;
}

/** The figure of one meter over a set of rollup rows, by its aggregation (`agg` is an SQL expression holding it). */
export function meterFigure(agg: string, n: string, sum: string, max: string, latest: string, unique: string): string {
  return `(CASE ${agg} WHEN 'SUM' THEN coalesce(${sum}, 0) WHEN 'COUNT' THEN coalesce(${n}, 0) WHEN 'MAX' THEN coalesce(${max}, 0)
                     WHEN 'LATEST' THEN coalesce(${latest}, 0) ELSE coalesce(${unique}, 0) END)`;
}

/** The latest value among rollup rows `r`: the row with the latest event wins (ties: the larger value). */
export const LATEST_OF_ROLLUPS = `(array_agg(r.latest_value ORDER BY r.latest_at DESC NULLS LAST, r.latest_value DESC NULLS LAST))[1]`;

/**
 * For windows `win` (entitlement_id, k, account_id, ws, wq, d_start, d_end) and the features
 * of their entitlements: the usage of each feature in each window, as CTEs `wm` (window ×
 * meter), `mu` (figures per meter) and `fu` (per feature: `used` — the meters' figures
 * added up — and `events`). Reads rollups attributed to the entitlement through the primary
 * key (account, meter, granularity, bucket).
 */
const KEY = 'r.account_id = wm.account_id AND r.meter_id = wm.meter_id AND r.entitlement_id = wm.entitlement_id';

export const FEATURE_USAGE_CTES = `
  wm AS (
    SELECT w.entitlement_id, w.k, w.account_id, w.ws, w.wq, w.d_start, w.d_end, f.feature_id, m.id AS meter_id, m.aggregation
      FROM win w
      JOIN entitlement_feature f ON f.entitlement_id = w.entitlement_id
      JOIN meter m ON m.feature_id = f.feature_id
  ),
  mu AS (
    SELECT wm.entitlement_id, wm.k, wm.feature_id, wm.aggregation, x.n, x.s, x.mx, x.latest,
           CASE WHEN wm.aggregation = 'UNIQUE_COUNT' THEN (
             SELECT count(DISTINCT r.value) FROM ${rollupRowsInWindow('usage_unique', KEY, 'wm')} r) END AS uq
      FROM wm
      CROSS JOIN LATERAL (
        SELECT coalesce(sum(r.count), 0) AS n, sum(r.sum) AS s, max(r.max) AS mx, ${LATEST_OF_ROLLUPS} AS latest
          FROM ${rollupRowsInWindow('usage_rollup', KEY, 'wm')} r
      ) x
  ),
  fu AS (
    SELECT entitlement_id, k, feature_id, sum(n) AS events, sum(${meterFigure('aggregation', 'n', 's', 'mx', 'latest', 'uq')}) AS used
      FROM mu GROUP BY entitlement_id, k, feature_id
  )`;

/**
 * What consume() drew (allowed draws) per window of `win` and feature key, as CTE `cu`
 * (entitlement_id, k, feature_key, consumed, draws): licensing clients of METERED, USAGE and
 * OUTCOME entitlements draw balances down without necessarily reporting usage events.
 */
export const CONSUMED_CTE = `
  cu AS (
    SELECT w.entitlement_id, w.k, c.feature_key, sum(c.quantity) AS consumed, count(*) AS draws
      FROM win w
      JOIN consumption c ON c.entitlement_id = w.entitlement_id AND c.allowed AND c.created_at >= w.ws AND c.created_at < w.wq
     GROUP BY w.entitlement_id, w.k, c.feature_key
  )`;

/**
 * Peak concurrency of devices (activations), seats and leases per window of `win`
 * (entitlement_id, k, ws, wn = the window's end, at most now), for the entitlements in
 * `ents` (id): CTEs `iv` (intervals), `marks` (+1 at a start, −1 at an end, clipped to the
 * window) and `peaks` (entitlement_id, k, kind, peak). Ends sort before starts at the same
 * instant: intervals are half-open, so a lease checked in as another is checked out is one.
 */
export const PEAK_CTES = `
  iv AS (
    SELECT a.entitlement_id, 'DEVICES' AS kind, a.activated_at AS s, a.deactivated_at AS e
      FROM activation a JOIN ents x ON x.id = a.entitlement_id
    UNION ALL
    SELECT s.entitlement_id, 'SEATS', s.assigned_at, s.released_at
      FROM seat s JOIN ents x ON x.id = s.entitlement_id
    UNION ALL
    SELECT l.entitlement_id, 'LEASES', l.checked_out_at, least(l.checked_in_at, l.expires_at)
      FROM lease l JOIN ents x ON x.id = l.entitlement_id
  ),
  marks AS (
    SELECT w.entitlement_id, w.k, iv.kind, greatest(iv.s, w.ws) AS t, 1 AS d
      FROM win w JOIN iv ON iv.entitlement_id = w.entitlement_id
     WHERE iv.s < w.wn AND (iv.e IS NULL OR iv.e > w.ws)
    UNION ALL
    SELECT w.entitlement_id, w.k, iv.kind, iv.e, -1
      FROM win w JOIN iv ON iv.entitlement_id = w.entitlement_id
     WHERE iv.s < w.wn AND iv.e > w.ws AND iv.e < w.wn
  ),
  peaks AS (
    SELECT entitlement_id, k, kind, max(level)::int AS peak
      FROM (SELECT entitlement_id, k, kind, sum(d) OVER (PARTITION BY entitlement_id, k, kind ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS level
              FROM marks) z
     GROUP BY entitlement_id, k, kind
  )`;

/**
 * The basis of a utilization from the model and whether the feature is measured (it has
 * meters, or the model is drawn down by consume()).
 */
export function basisSql(model: string, measured: string): string {
  return `(CASE ${model} WHEN 'DEVICE_LOCKED' THEN 'DEVICES' WHEN 'NAMED_USER' THEN 'SEATS' WHEN 'CONCURRENT' THEN 'LEASES'
                ELSE CASE WHEN ${measured} THEN 'USAGE' ELSE 'NONE' END END)`;
}

/** used / entitled × 100 rounded to 2 decimals, NULL when either is NULL or entitled is 0. */
export function percentSql(used: string, entitled: string): string {
  return `(CASE WHEN (${entitled}) > 0 AND (${used}) IS NOT NULL THEN round((${used}) / (${entitled}) * 100, 2)::float8 END)`;
}

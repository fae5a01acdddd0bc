/**
 * SQL fragments shared by the check query, consume and the balance loader, so "what phase
 * is this entitlement in" and "which reset period are we in" are computed the same way
 * everywhere, inside the one statement that needs them, from the instants (never from a job
 * having run). `e` is an alias of `entitlement`; `now` and `tz` are SQL expressions (usually
 * `now()` and a parameter holding the contract time zone).
 */

/**
 * The effective phase of an entitlement: SUSPENDED, CANCELLED, NOT_STARTED, ACTIVE, IN_GRACE
 * or EXPIRED. Mirrors effectivePhase() in src/entitlements/effective-status.ts (a test keeps
 * them in step).
 */
export function phaseSql(e: string, now: string): string {
  return `(CASE
    WHEN ${e}.status = 'SUSPENDED' THEN 'SUSPENDED'
    WHEN ${e}.status = 'CANCELLED' THEN 'CANCELLED'
    WHEN ${now} < ${e}.starts_at THEN 'NOT_STARTED'
    WHEN ${e}.ends_at IS NOT NULL AND ${now} >= ${e}.ends_at THEN
      CASE WHEN ${e}.ended_reason IS NOT NULL THEN 'CANCELLED'
           WHEN ${e}.grace_ends_at IS NULL OR ${now} >= ${e}.grace_ends_at THEN 'EXPIRED'
           ELSE 'IN_GRACE' END
    WHEN ${e}.status = 'EXPIRED' THEN 'EXPIRED'
    ELSE 'ACTIVE' END)`;
}

/**
 * A LATERAL sub-select yielding `period_start` and `period_end` (exclusive) of the reset
 * period containing `now`, in the contract time zone:
 * DAILY = the calendar day, MONTHLY = the calendar month (whatever day the term started),
 * ANNUAL = the year from the latest anniversary of start_date (a 29 February start has its
 * anniversary on 28 February in other years), TERM (and no reset period) = the whole term.
 * Period ends are cut at the end of use (the grace end, or the term end); starts are not, so
 * a period's key stays put.
 */
export function periodLateral(e: string, now: string, tz: string): string {
  return `LATERAL (
    SELECT
      CASE coalesce(${e}.reset_period, 'TERM')
        WHEN 'DAILY' THEN date_trunc('day', pl.t) AT TIME ZONE ${tz}
        WHEN 'MONTHLY' THEN date_trunc('month', pl.t) AT TIME ZONE ${tz}
        WHEN 'ANNUAL' THEN (${e}.start_date + make_interval(years => pl.y)) AT TIME ZONE ${tz}
        ELSE ${e}.starts_at
      END AS period_start,
      least(
        CASE coalesce(${e}.reset_period, 'TERM')
          WHEN 'DAILY' THEN (date_trunc('day', pl.t) + interval '1 day') AT TIME ZONE ${tz}
          WHEN 'MONTHLY' THEN (date_trunc('month', pl.t) + interval '1 month') AT TIME ZONE ${tz}
          WHEN 'ANNUAL' THEN (${e}.start_date + make_interval(years => pl.y + 1)) AT TIME ZONE ${tz}
        END,
        -- Cut at the end of use (grace included), so a period that starts in grace ends after it starts.
        coalesce(${e}.grace_ends_at, ${e}.ends_at)
      ) AS period_end
    FROM (
      SELECT l.t,
             l.dy - CASE WHEN ${e}.start_date + make_interval(years => l.dy) > l.t THEN 1 ELSE 0 END AS y
        FROM (SELECT (${now}) AT TIME ZONE ${tz} AS t,
                     (extract(year FROM (${now}) AT TIME ZONE ${tz}) - extract(year FROM ${e}.start_date))::int AS dy) l
    ) pl
  )`;
}

/** How consumption past the limit is treated: METERED defaults to BLOCK; USAGE and OUTCOME never block (soft caps). */
export function policySql(e: string): string {
  return `(CASE WHEN ${e}.model = 'METERED' THEN coalesce(${e}.overage_policy, 'BLOCK')
               WHEN ${e}.overage_policy = 'ALLOW_AND_NOTIFY' THEN 'ALLOW_AND_NOTIFY'
               ELSE 'ALLOW' END)`;
}

/** The models whose features are drawn down by consume() and kept in consumption_balance. */
export const CONSUMABLE_MODELS = `('METERED','USAGE','OUTCOME')`;

import type { EntityManager } from 'typeorm';
import { phaseSql } from '../licensing/licensing.sql';
import type { MonetizationModel } from '../catalog/catalog.enums';
import type { UsageFacts } from './modelfit.rules';

/**
 * What model fit reads, for a batch of accounts, in a fixed number of statements (never one
 * per account or product). Usage belongs to a product through the entitlement it was drawn
 * on; the window is [$2, $3) in UTC (the last 365 complete UTC days).
 */

const LIVE = `${phaseSql('e', 'now()')} IN ('ACTIVE','IN_GRACE')`;

/** The products an account held in the window, the model it holds each in now (else last), and its live seats. */
const SUBJECTS_SQL = `
  SELECT e.account_id, e.product_id, p.sku, p.name, p.currency,
         (array_agg(e.model ORDER BY (${LIVE}) DESC, e.start_date DESC, e.id DESC))[1] AS current_model,
         (sum(e.quantity) FILTER (WHERE ${LIVE} AND e.model IN ('NAMED_USER','CONCURRENT')))::float8 AS seats_owned
    FROM entitlement e JOIN product p ON p.id = e.product_id
   WHERE e.account_id = ANY($1::uuid[]) AND e.starts_at < $3::timestamptz AND (e.ends_at IS NULL OR e.ends_at > $2::timestamptz)
   GROUP BY e.account_id, e.product_id, p.sku, p.name, p.currency
   ORDER BY e.account_id, p.sku`;

/**
 * Per account and product: daily events and users, monthly and hourly peaks, distinct users
 * and devices, and what was paid for the analysis period [first usage day, $4) per currency:
 * per active line that granted, renewed, amended or upgraded, its amount (quantity × unit
 * price, the price of its whole term) times the share of its term inside the period, rounded
 * per line. A line stops counting the day before a later line amends, upgrades or cancels
 * it; a line without an end date counts in full when it starts inside the period.
 */
const USAGE_SQL = `
  WITH ev AS (
    SELECT u.account_id, e.product_id, u.occurred_at, u.user_id, u.device
      FROM usage_event u JOIN entitlement e ON e.id = u.entitlement_id
     WHERE u.account_id = ANY($1::uuid[]) AND u.occurred_at >= $2::timestamptz AND u.occurred_at < $3::timestamptz
  ), d AS (
    SELECT account_id, product_id, json_agg(json_build_object('day', day::text, 'events', events, 'users', users) ORDER BY day) AS days
      FROM (SELECT account_id, product_id, (occurred_at AT TIME ZONE 'UTC')::date AS day, count(*) AS events, count(DISTINCT user_id) AS users
              FROM ev GROUP BY 1, 2, 3) x
     GROUP BY 1, 2
  ), mo AS (
    SELECT account_id, product_id, max(users) AS users, max(devices) AS devices
      FROM (SELECT account_id, product_id, count(DISTINCT user_id) AS users, count(DISTINCT device) AS devices
              FROM ev GROUP BY account_id, product_id, date_trunc('month', occurred_at AT TIME ZONE 'UTC')) x
     GROUP BY 1, 2
  ), hr AS (
    SELECT account_id, product_id, max(users) AS users
      FROM (SELECT account_id, product_id, count(DISTINCT user_id) AS users FROM ev GROUP BY account_id, product_id, date_trunc('hour', occurred_at)) x
     GROUP BY 1, 2
  ), t AS (
    SELECT account_id, product_id, count(DISTINCT user_id) AS users, count(DISTINCT device) AS devices,
           count(DISTINCT user_id) FILTER (WHERE occurred_at >= $3::timestamptz - interval '30 days') AS users30,
           min((occurred_at AT TIME ZONE 'UTC')::date) AS from_day
      FROM ev GROUP BY 1, 2
  ), paid AS (
    SELECT t.account_id, t.product_id, json_agg(json_build_object('currency', p.currency, 'minor', p.minor::text) ORDER BY p.currency) AS paid
      FROM t CROSS JOIN LATERAL (
        SELECT l.currency,
               sum(CASE
                     WHEN l.end_date IS NULL THEN CASE WHEN l.start_date >= t.from_day THEN round(l.quantity * l.unit_price_minor) ELSE 0 END
                     ELSE round(l.quantity * l.unit_price_minor
                                * greatest(0, least(l.end_date, cut.last_day, $4::date - 1) - greatest(l.start_date, t.from_day) + 1)
                                / (l.end_date - l.start_date + 1))
                   END)::bigint AS minor
          FROM order_line l
          CROSS JOIN LATERAL (
            SELECT min(CASE WHEN a.action = 'CANCELLATION' THEN coalesce(a.end_date, a.start_date - 1) ELSE a.start_date - 1 END) AS last_day
              FROM order_line a WHERE a.amends_line_id = l.id AND a.status = 'ACTIVE'
          ) cut
         WHERE l.account_id = t.account_id AND l.product_id = t.product_id AND l.status = 'ACTIVE'
           AND l.action IN ('NEW','RENEWAL','AMENDMENT','UPGRADE')
           AND l.start_date < $4::date AND (l.end_date IS NULL OR l.end_date >= t.from_day)
         GROUP BY l.currency
      ) p
     GROUP BY t.account_id, t.product_id
  )
  SELECT t.account_id, t.product_id, t.users::int AS users, t.devices::int AS devices, t.users30::int AS users30,
         mo.users::int AS month_users, mo.devices::int AS month_devices, hr.users::int AS hour_users, d.days, paid.paid
    FROM t JOIN d USING (account_id, product_id) JOIN mo USING (account_id, product_id) JOIN hr USING (account_id, product_id)
    LEFT JOIN paid USING (account_id, product_id)`;

/** Billable units per account, product and meter (SUM meters: their summed values; COUNT meters: their events), from the daily rollups. */
const METER_SQL = `
  SELECT r.account_id, e.product_id, mt.key AS meter_key,
         trim_scale(CASE mt.aggregation WHEN 'SUM' THEN sum(r.sum) ELSE sum(r.count)::numeric END)::text AS units
    FROM usage_rollup r
    JOIN entitlement e ON e.id = r.entitlement_id
    JOIN meter mt ON mt.id = r.meter_id AND mt.aggregation IN ('SUM','COUNT')
   WHERE r.account_id = ANY($1::uuid[]) AND r.granularity = 'D' AND r.bucket >= $2::timestamptz AND r.bucket < $3::timestamptz
   GROUP BY r.account_id, e.product_id, mt.key, mt.aggregation`;

/** The most floating leases held at once per account and product (a sweep over check-outs and ends). */
const LEASES_SQL = `
  WITH l AS (
    SELECT l.account_id, e.product_id, greatest(l.checked_out_at, $2::timestamptz) AS t0,
           least(coalesce(l.checked_in_at, l.expires_at), l.expires_at, $3::timestamptz) AS t1
      FROM lease l JOIN entitlement e ON e.id = l.entitlement_id
     WHERE l.account_id = ANY($1::uuid[]) AND l.checked_out_at < $3::timestamptz
       AND least(coalesce(l.checked_in_at, l.expires_at), l.expires_at) > $2::timestamptz
  ), x AS (
    SELECT account_id, product_id, t0 AS t, 1 AS delta FROM l
    UNION ALL
    SELECT account_id, product_id, t1, -1 FROM l
  )
  SELECT account_id, product_id, max(held)::int AS peak
    FROM (SELECT account_id, product_id, sum(delta) OVER (PARTITION BY account_id, product_id ORDER BY t, delta ROWS UNBOUNDED PRECEDING) AS held FROM x) y
   GROUP BY 1, 2`;

export interface Subject {
  account_id: string;
  product_id: string;
  sku: string;
  name: string;
  currency: string;
  current_model: MonetizationModel;
  seats_owned: number | null;
}

export interface FitInputs {
  subjects: Subject[];
  /** By `${account}|${product}`. */
  facts: Map<string, UsageFacts>;
  /** What was paid for the analysis period, per currency, by `${account}|${product}` (only products with usage). */
  paid: Map<string, { currency: string; minor: bigint }[]>;
}

export const key = (accountId: string, productId: string) => `${accountId}|${productId}`;

/** Runs the reads side by side on the pool, one after another inside a transaction (one connection). */
async function all<T extends unknown[]>(m: EntityManager, reads: { [K in keyof T]: () => Promise<T[K]> }): Promise<T> {
  if (m.queryRunner) {
    const out: unknown[] = [];
    for (const r of reads) out.push(await r());
    return out as T;
  }
  return (await Promise.all(reads.map((r) => r()))) as T;
}

/** Subjects, usage facts and payments of a batch of accounts over the window ending `windowTo` (YYYY-MM-DD, exclusive). */
export async function readFitInputs(m: EntityManager, accountIds: readonly string[], windowFrom: Date, windowTo: Date, windowToDay: string): Promise<FitInputs> {
  const p = [[...accountIds], windowFrom, windowTo];
  const [subjects, usage, meters, leases]: [
    Subject[],
    {
      account_id: string;
      product_id: string;
      users: number;
      devices: number;
      users30: number;
      month_users: number;
      month_devices: number;
      hour_users: number;
      days: { day: string; events: number; users: number }[];
      paid: { currency: string; minor: string }[] | null;
    }[],
    { account_id: string; product_id: string; meter_key: string; units: string }[],
    { account_id: string; product_id: string; peak: number }[],
  ] = await all(m, [() => m.query(SUBJECTS_SQL, p), () => m.query(USAGE_SQL, [...p, windowToDay]), () => m.query(METER_SQL, p), () => m.query(LEASES_SQL, p)]);
  const usageBy = new Map(usage.map((u) => [key(u.account_id, u.product_id), u]));
  const leasesBy = new Map(leases.map((l) => [key(l.account_id, l.product_id), l.peak]));
  const metersBy = new Map<string, Record<string, string>>();
  for (const r of meters) {
    const k = key(r.account_id, r.product_id);
    (metersBy.get(k) ?? metersBy.set(k, {}).get(k)!)[r.meter_key] = r.units;
  }
  const facts = new Map<string, UsageFacts>();
  for (const s of subjects) {
    const k = key(s.account_id, s.product_id);
    const u = usageBy.get(k);
    facts.set(k, {
      windowTo: windowToDay,
      firstUsageDay: u?.days[0]?.day ?? null,
      days: u?.days.map((d) => ({ day: d.day, events: Number(d.events), users: Number(d.users) })) ?? [],
      distinctUsers: u?.users ?? 0,
      usersLast30Days: u?.users30 ?? 0,
      peakMonthlyUsers: u?.month_users ?? 0,
      peakMonthlyDevices: u?.month_devices ?? 0,
      distinctDevices: u?.devices ?? 0,
      peakHourlyUsers: u?.hour_users ?? 0,
      peakLeases: leasesBy.get(k) ?? 0,
      seatsOwned: s.seats_owned === null ? null : Number(s.seats_owned),
      meterUnits: metersBy.get(k) ?? {},
    });
  }
  const paid = new Map(usage.map((u) => [key(u.account_id, u.product_id), (u.paid ?? []).map((x) => ({ currency: x.currency.trim(), minor: BigInt(x.minor) }))]));
  return { subjects, facts, paid };
}

import { isUuid } from '../common/ids';
import type { Config } from '../config';
import type { RequestContext } from '../common/context';
import { AppError, badInput, notFound } from '../common/errors';
import type { Connection } from '../common/pagination';
import { accountScope, assertAccountVisible } from '../auth/scope';
import { Meter } from '../catalog/catalog.entities';
import { MAX_BUNDLE_LEVELS } from '../catalog/catalog.rules';
import type { MeterAggregation } from '../catalog/catalog.enums';
import type { Db } from '../db/db';
import type { Deployment } from '../entitlements/entitlement.enums';
import { ENTITLEMENT_COLUMNS, toEntitlement } from '../entitlements/entitlement.service';
import { CONSUMABLE_MODELS, periodLateral, phaseSql } from '../licensing/licensing.sql';
import { BUCKET_TIME_ZONE, TRUNC_UNIT, bucketWindow } from './buckets';
import {
  CONSUMED_CTE,
  FEATURE_USAGE_CTES,
  LATEST_OF_ROLLUPS,
  PEAK_CTES,
  Params,
  basisSql,
  dayCeil,
  dayFloor,
  endOfUse,
  percentSql,
  rollupRowsInWindow,
} from './analytics.sql';
import {
  UsageDimension,
  UsageGranularity,
  UtilizationBasis,
  type Adoption,
  type AdoptionFigures,
  type FeatureAdoption,
  type FeatureUtilization,
  type UnusedEntitlement,
  type UnusedEntitlementsArgs,
  type UsagePoint,
  type UsageSeries,
  type UsageSeriesArgs,
  type UsageSeriesKey,
  type UsageSeriesResult,
  type UtilizationPeriod,
} from './analytics.types';

/** At most this many points (series × buckets) in one usageSeries answer. */
export const MAX_POINTS = 10_000;
/** usageSeries grouped by USER or DEVICE reads raw events: at most this many days. */
export const MAX_EVENT_RANGE_DAYS = 31;
/** adoption windows: at most this many days. */
export const MAX_ADOPTION_DAYS = 366;
/** utilization: at most this many periods. */
export const MAX_PERIODS = 24;

const DAY_MS = 86_400_000;

/** The dimensions in the order series are keyed and sorted. */
const DIMENSIONS: { dim: UsageDimension; col: string; key: keyof UsageSeriesKey }[] = [
  { dim: UsageDimension.ACCOUNT, col: 'd_account', key: 'accountId' },
  { dim: UsageDimension.PRODUCT, col: 'd_product', key: 'productId' },
  { dim: UsageDimension.FEATURE, col: 'd_feature', key: 'feature' },
  { dim: UsageDimension.DEPLOYMENT, col: 'd_deployment', key: 'deployment' },
  { dim: UsageDimension.USER, col: 'd_user', key: 'user' },
  { dim: UsageDimension.DEVICE, col: 'd_device', key: 'device' },
];

interface MeterRow {
  id: string;
  key: string;
  name: string;
  aggregation: MeterAggregation;
  unit: string;
  value_property: string | null;
  feature_id: string | null;
  feature_key: string | null;
  status: string;
  created_at: string;
  updated_at: string;
}

function toMeter(r: MeterRow): Meter {
  return Object.assign(new Meter(), {
    id: r.id,
    key: r.key,
    name: r.name,
    aggregation: r.aggregation,
    unit: r.unit,
    valueProperty: r.value_property,
    featureId: r.feature_id,
    status: r.status,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  });
}

/** unusedEntitlements is ordered by renewal (end date, perpetual last), then id: its cursor holds both. */
function encodeRenewalCursor(endDate: string | null, id: string): string {
  return Buffer.from(`${endDate ?? 'infinity'}|${id}`).toString('base64url');
}

function decodeRenewalCursor(cursor: string): { endDate: string; id: string } {
  const [endDate, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!endDate || !id || !(endDate === 'infinity' || /^\d{4}-\d{2}-\d{2}$/.test(endDate)) || !isUuid(id)) {
    throw badInput('INVALID_CURSOR', 'The cursor is not one this API returned', [{ path: 'after', message: 'invalid cursor' }]);
  }
  return { endDate, id };
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const text = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/**
 * Usage analytics: usageSeries, utilization, adoption, unusedEntitlements. Read-only, and
 * set-based: each query is a fixed, small number of statements whatever the number of
 * accounts, entitlements or series (nested objects resolve through DataLoaders). Usage is
 * read from the rollups (usage_rollup, usage_unique) that ingestion keeps in the same
 * transaction as the events, always with the account (or entitlement) leading the index.
 */
export class AnalyticsService {
  constructor(
    readonly db: Db,
    readonly config: Config,
  ) {}

  // ---------------------------------------------------------------- usageSeries

  async usageSeries(ctx: RequestContext, args: UsageSeriesArgs): Promise<UsageSeriesResult> {
    const f = args.filter ?? {};
    const g = args.granularity ?? UsageGranularity.DAY;
    const groupBy = DIMENSIONS.filter((d) => (args.groupBy ?? []).includes(d.dim));
    const fromEvents = groupBy.some((d) => d.dim === UsageDimension.USER || d.dim === UsageDimension.DEVICE);

    if (!(args.from.getTime() < args.to.getTime())) {
      throw badInput('ANALYTICS_RANGE_INVALID', '`from` must be before `to`', [{ path: 'to', message: 'must be after from' }]);
    }
    const window = bucketWindow(args.from, args.to, g, MAX_POINTS);
    if (!window) {
      throw badInput('ANALYTICS_RANGE_TOO_LARGE', `The window holds more than ${MAX_POINTS} ${g.toLowerCase()} buckets: narrow it or use a coarser granularity`, [
        { path: 'from', message: `at most ${MAX_POINTS} buckets` },
      ]);
    }

    const scope = accountScope(ctx);
    if (scope && f.accountId) assertAccountVisible(ctx, f.accountId);
    const accountId = scope ?? f.accountId ?? null;
    if (fromEvents) {
      if (!accountId && !f.entitlementId) {
        throw badInput('ANALYTICS_ACCOUNT_REQUIRED', 'Grouping by USER or DEVICE reads raw events: give filter.accountId or filter.entitlementId', [
          { path: 'filter.accountId', message: 'required when grouping by USER or DEVICE' },
        ]);
      }
      if (window.to.getTime() - window.from.getTime() > MAX_EVENT_RANGE_DAYS * DAY_MS) {
        throw badInput('ANALYTICS_RANGE_TOO_LARGE', `Grouping by USER or DEVICE reads raw events: at most ${MAX_EVENT_RANGE_DAYS} days`, [
          { path: 'from', message: `at most ${MAX_EVENT_RANGE_DAYS} days when grouping by USER or DEVICE` },
        ]);
      }
    }

    const meters = await this.resolveMeters(ctx, { ...f, accountId });
    const aggregation = meters[0]!.aggregation;

    const p = new Params();
    const meterIds = p.add(meters.map((m) => m.id));
    const featureKeys = p.add(meters.map((m) => m.featureKey));
    const from = p.add(window.from.toISOString());
    const to = p.add(window.to.toISOString());
    const account = accountId ? p.add(accountId) : null;
    const deployment = f.deployment ? p.add(f.deployment) : null;
    const product = f.productId ? p.add(f.productId) : null;
    const entitlement = f.entitlementId ? p.add(f.entitlementId) : null;
    const needEntitlement = !!product || groupBy.some((d) => d.dim === UsageDimension.PRODUCT);

    /** The filters on a source aliased `a` (usage_rollup, usage_unique or usage_event). */
    const filters = (a: string): string =>
      [
        `${a}.meter_id = ANY(${meterIds}::uuid[])`,
        account ? `${a}.account_id = ${account}::uuid` : null,
        entitlement ? `${a}.entitlement_id = ${entitlement}::uuid` : null,
        deployment ? `${a}.deployment = ${deployment}` : null,
        product ? `e.product_id = ${product}::uuid` : null,
      ]
        .filter(Boolean)
        .join(' AND ');
    const dimExpr = (d: UsageDimension, a: string): string =>
      ({
        ACCOUNT: `${a}.account_id`,
        PRODUCT: 'e.product_id',
        FEATURE: 'mf.feature_key',
        DEPLOYMENT: `${a}.deployment`,
        USER: `${a}.user_id`,
        DEVICE: `${a}.device`,
      })[d];
    const select = (a: string, bucket: string) => [...groupBy.map((d) => `${dimExpr(d.dim, a)} AS ${d.col}`), `${bucket} AS bucket_start`].join(', ');
    // Grouped by output names; `bucket_start`, not `bucket`, which would name the rollup column itself.
    const groupCols = [...groupBy.map((d) => d.col), 'bucket_start'].join(', ');
    const joins = (a: string) =>
      `JOIN unnest(${meterIds}::uuid[], ${featureKeys}::text[]) AS mf(meter_id, feature_key) ON mf.meter_id = ${a}.meter_id
       ${needEntitlement ? `LEFT JOIN entitlement e ON e.id = ${a}.entitlement_id` : ''}`;
    const orderBy = (a: string) => [...groupBy.map((d) => `${a}${d.col} NULLS LAST`), `${a}bucket_start`].join(', ');
    const limit = MAX_POINTS + 1;

    let sql: string;
    if (fromEvents) {
      const value = {
        SUM: 'trim_scale(sum(ev.value))::text',
        COUNT: 'count(*)::text',
        MAX: 'trim_scale(max(ev.value))::text',
        LATEST: 'trim_scale((array_agg(ev.value ORDER BY ev.occurred_at DESC, ev.value DESC NULLS LAST))[1])::text',
        UNIQUE_COUNT: 'count(DISTINCT (ev.account_id, ev.unique_value)) FILTER (WHERE ev.unique_value IS NOT NULL)::text',
      }[aggregation];
      sql = `SELECT ${select('ev', `date_trunc('${TRUNC_UNIT[g]}', ev.occurred_at, '${BUCKET_TIME_ZONE}')`)}, count(*)::bigint AS n, ${value} AS value
               FROM usage_event ev ${joins('ev')}
              WHERE ${filters('ev')} AND ev.occurred_at >= ${from}::timestamptz AND ev.occurred_at < ${to}::timestamptz
              GROUP BY ${groupCols}
              ORDER BY ${orderBy('')}
              LIMIT ${limit}`;
    } else {
      const granularity = g === UsageGranularity.HOUR ? 'H' : 'D';
      const bucket = (a: string) =>
        g === UsageGranularity.HOUR || g === UsageGranularity.DAY ? `${a}.bucket` : `date_trunc('${TRUNC_UNIT[g]}', ${a}.bucket, '${BUCKET_TIME_ZONE}')`;
      const rowsOf = (a: string) =>
        `${filters(a)} AND ${a}.granularity = '${granularity}' AND ${a}.bucket >= ${from}::timestamptz AND ${a}.bucket < ${to}::timestamptz`;
      const value = {
        SUM: 'trim_scale(sum(r.sum))::text',
        COUNT: 'sum(r.count)::text',
        MAX: 'trim_scale(max(r.max))::text',
        LATEST: `trim_scale(${LATEST_OF_ROLLUPS})::text`,
        UNIQUE_COUNT: 'NULL::text',
      }[aggregation];
      const agg = `SELECT ${select('r', bucket('r'))}, sum(r.count)::bigint AS n, ${value} AS value
                     FROM usage_rollup r ${joins('r')}
                    WHERE ${rowsOf('r')}
                    GROUP BY ${groupCols}`;
      if (aggregation === 'UNIQUE_COUNT') {
        // Distinct values of the merged rows (deployments, entitlements, the days of a week)
        // are counted over the stored value sets: a user active on three days of a week counts
        // once. Values belong to their account: "alice" of two accounts is two users.
        const uniq = `SELECT ${select('u', bucket('u'))}, count(DISTINCT (u.account_id, u.value)) AS v
                        FROM usage_unique u ${joins('u')}
                       WHERE ${rowsOf('u')}
                       GROUP BY ${groupCols}`;
        const on = [...groupBy.map((d) => d.col), 'bucket_start'].map((c) => `q.${c} IS NOT DISTINCT FROM a.${c}`).join(' AND ');
        sql = `WITH a AS (${agg}), q AS (${uniq})
               SELECT a.*, coalesce(q.v, 0)::text AS uvalue FROM a LEFT JOIN q ON ${on}
                ORDER BY ${orderBy('a.')}
                LIMIT ${limit}`;
      } else {
        sql = `${agg} ORDER BY ${orderBy('')} LIMIT ${limit}`;
      }
    }

    const rows: Record<string, unknown>[] = await this.db.readQuery(sql, p.values);
    if (rows.length > MAX_POINTS) {
      throw new AppError(
        'LIMIT_EXCEEDED',
        'ANALYTICS_TOO_MANY_POINTS',
        `The answer would hold more than ${MAX_POINTS} points: narrow the filter or the window, group by fewer dimensions, or use a coarser granularity`,
        { limit: MAX_POINTS },
      );
    }

    const series: UsageSeries[] = [];
    let current: UsageSeries | null = null;
    let currentKey = '';
    for (const r of rows) {
      const k = groupBy.map((d) => String(r[d.col] ?? '\u0000')).join('\u0001');
      if (!current || k !== currentKey) {
        const key: UsageSeriesKey = { accountId: null, productId: null, feature: null, deployment: null, user: null, device: null };
        for (const d of groupBy) (key as unknown as Record<string, unknown>)[d.key] = r[d.col] ?? null;
        current = { key, points: [] };
        currentKey = k;
        series.push(current);
      }
      const point: UsagePoint = {
        bucket: new Date(r.bucket_start as string | Date),
        value: text(r.uvalue ?? r.value) ?? '0',
        count: num(r.n),
      };
      current.points.push(point);
    }

    return {
      meters,
      aggregation,
      unit: meters[0]!.unit,
      granularity: g,
      from: window.from,
      to: window.to,
      timeZone: BUCKET_TIME_ZONE,
      buckets: window.starts,
      series,
    };
  }

  /**
   * The meters a series counts, after checking every id of the filter exists and is visible
   * (one statement). One meter, or several sharing aggregation and unit; mixing would add
   * up different things, so it asks for a meter instead.
   */
  private async resolveMeters(
    ctx: RequestContext,
    f: { accountId: string | null; meter?: string | null; feature?: string | null; productId?: string | null; entitlementId?: string | null },
  ): Promise<(Meter & { featureKey: string | null })[]> {
    const p = new Params();
    const feature = p.add(f.feature ?? null);
    const account = p.add(f.accountId ?? null);
    const product = p.add(f.productId ?? null);
    const entitlement = p.add(f.entitlementId ?? null);
    let candidates: string;
    if (f.meter) candidates = `m.key = ${p.add(f.meter)}`;
    else if (f.feature) candidates = `f.key = ${feature}`;
    else if (f.productId) candidates = `m.feature_id IN (SELECT feature_id FROM product_features)`;
    else if (f.entitlementId) candidates = `m.feature_id IN (SELECT feature_id FROM entitlement_feature WHERE entitlement_id = ${entitlement}::uuid)`;
    else candidates = 'true';
    const [row] = (await this.db.manager.query(
      `WITH RECURSIVE tree (product_id, depth) AS (
         SELECT id, 0 FROM product WHERE id = ${product}::uuid
         UNION ALL
         SELECT pc.component_id, t.depth + 1 FROM tree t JOIN product_component pc ON pc.bundle_id = t.product_id WHERE t.depth < ${MAX_BUNDLE_LEVELS + 2}
       ),
       product_features AS (SELECT DISTINCT pf.feature_id FROM tree t JOIN product_feature pf ON pf.product_id = t.product_id)
       SELECT (SELECT id FROM feature WHERE key = ${feature}) AS feature_id,
              (${account}::uuid IS NULL OR EXISTS (SELECT 1 FROM account WHERE id = ${account}::uuid)) AS account_ok,
              (${product}::uuid IS NULL OR EXISTS (SELECT 1 FROM product WHERE id = ${product}::uuid)) AS product_ok,
              (SELECT account_id FROM entitlement WHERE id = ${entitlement}::uuid) AS entitlement_account,
              (SELECT coalesce(json_agg(json_build_object(
                        'id', m.id, 'key', m.key, 'name', m.name, 'aggregation', m.aggregation, 'unit', m.unit,
                        'value_property', m.value_property, 'feature_id', m.feature_id, 'feature_key', f.key,
                        'status', m.status, 'created_at', m.created_at, 'updated_at', m.updated_at) ORDER BY m.key), '[]'::json)
                 FROM meter m LEFT JOIN feature f ON f.id = m.feature_id
                WHERE ${candidates}) AS meters`,
      p.values,
    )) as { feature_id: string | null; account_ok: boolean; product_ok: boolean; entitlement_account: string | null; meters: MeterRow[] }[];

    if (!row!.account_ok) throw notFound('Account', f.accountId!);
    if (!row!.product_ok) throw notFound('Product', f.productId!);
    if (f.entitlementId) {
      if (!row!.entitlement_account) throw notFound('Entitlement', f.entitlementId);
      const scope = accountScope(ctx);
      if (scope && row!.entitlement_account !== scope) throw notFound('Entitlement', f.entitlementId);
    }
    if (f.feature && !row!.feature_id) {
      throw badInput('ANALYTICS_FEATURE_UNKNOWN', `There is no feature ${f.feature}`, [{ path: 'filter.feature', message: 'unknown feature' }]);
    }
    const meters = row!.meters.map((m) => Object.assign(toMeter(m), { featureKey: m.feature_key }));
    if (f.meter) {
      if (meters.length === 0) throw badInput('ANALYTICS_METER_UNKNOWN', `There is no meter ${f.meter}`, [{ path: 'filter.meter', message: 'unknown meter' }]);
      if (f.feature && meters[0]!.featureId !== row!.feature_id) {
        throw badInput('ANALYTICS_METER_FEATURE_MISMATCH', `Meter ${f.meter} does not draw on feature ${f.feature}`, [
          { path: 'filter.feature', message: `meter ${f.meter} belongs to ${meters[0]!.featureKey ?? 'no feature'}` },
        ]);
      }
    }
    if (meters.length === 0) {
      throw badInput(
        f.feature ? 'ANALYTICS_FEATURE_UNMETERED' : 'ANALYTICS_NO_METER',
        f.feature ? `Feature ${f.feature} has no meter: no usage is recorded for it` : 'No meter matches the filter: name one in filter.meter',
        [{ path: f.feature ? 'filter.feature' : 'filter.meter', message: 'no meter' }],
      );
    }
    const kinds = new Set(meters.map((m) => `${m.aggregation} ${m.unit}`));
    if (kinds.size > 1) {
      const list = meters.slice(0, 10).map((m) => `${m.key} (${m.aggregation}, ${m.unit})`);
      throw badInput(
        'ANALYTICS_METER_REQUIRED',
        `The filter matches meters with different aggregations or units, which cannot be added up: name one in filter.meter (${list.join(', ')}${meters.length > 10 ? ', …' : ''})`,
        [{ path: 'filter.meter', message: 'required: the matching meters mix aggregations or units' }],
      );
    }
    return meters;
  }

  // ---------------------------------------------------------------- utilization

  async utilization(
    ctx: RequestContext,
    args: { entitlementId?: string | null; accountId?: string | null; periods: number },
  ): Promise<FeatureUtilization[]> {
    if (!!args.entitlementId === !!args.accountId) {
      throw badInput('ANALYTICS_ONE_OF', 'Give exactly one of entitlementId and accountId', [
        { path: args.entitlementId ? 'accountId' : 'entitlementId', message: 'give exactly one of entitlementId and accountId' },
      ]);
    }
    if (!Number.isInteger(args.periods) || args.periods < 1 || args.periods > MAX_PERIODS) {
      throw badInput('ANALYTICS_PERIODS_INVALID', `periods must be between 1 and ${MAX_PERIODS}`, [{ path: 'periods', message: `1–${MAX_PERIODS}` }]);
    }
    await this.assertVisible(ctx, args.entitlementId ? { entitlementId: args.entitlementId } : { accountId: args.accountId! });

    const p = new Params();
    const tz = `${p.add(this.config.EHUB_TIME_ZONE)}::text`;
    const n = p.add(args.periods);
    const which = args.entitlementId
      ? `e.id = ${p.add(args.entitlementId)}::uuid`
      : `e.account_id = ${p.add(args.accountId)}::uuid AND ${phaseSql('e', 'now()')} IN ('ACTIVE','IN_GRACE','SUSPENDED')`;

    const rows: Record<string, unknown>[] = await this.db.readQuery(
      `WITH ents AS (
         SELECT e.id, e.account_id, e.model, e.quantity, e.start_date, e.starts_at, e.ends_at, e.grace_ends_at, e.created_at,
                ${phaseSql('e', 'now()')} AS phase,
                CASE WHEN e.model IN ${CONSUMABLE_MODELS} THEN coalesce(e.reset_period, 'TERM') ELSE 'MONTHLY' END AS period_kind,
                least(greatest(now(), e.starts_at), coalesce(${endOfUse('e')} - interval '1 millisecond', 'infinity'::timestamptz)) AS ref
           FROM entitlement e
          WHERE ${which}
       ),
       pe AS (
         SELECT x.id, k.k, x.period_kind AS reset_period, x.start_date, x.starts_at, x.ends_at, x.grace_ends_at,
                ((x.ref AT TIME ZONE ${tz}) - make_interval(
                    years => CASE WHEN x.period_kind = 'ANNUAL' THEN k.k ELSE 0 END,
                    months => CASE WHEN x.period_kind = 'MONTHLY' THEN k.k ELSE 0 END,
                    days => CASE WHEN x.period_kind = 'DAILY' THEN k.k ELSE 0 END)) AT TIME ZONE ${tz} AS ref_k
           FROM ents x CROSS JOIN generate_series(0, ${n}::int - 1) AS k(k)
          WHERE x.period_kind <> 'TERM' OR k.k = 0
       ),
       wp AS (
         SELECT pe.id AS entitlement_id, pe.k, x.account_id, p.period_start AS ws, p.period_end AS we,
                least(coalesce(p.period_end, 'infinity'::timestamptz), now() + interval '1 day') AS wq,
                least(coalesce(p.period_end, 'infinity'::timestamptz), now()) AS wn
           FROM pe JOIN ents x ON x.id = pe.id
          CROSS JOIN ${periodLateral('pe', 'pe.ref_k', tz)} p
          WHERE p.period_end IS NULL OR p.period_end > pe.starts_at
       ),
       win AS (SELECT wp.*, ${dayCeil('wp.ws')} AS d_start, ${dayFloor('wp.wq')} AS d_end FROM wp),
       feats AS (
         SELECT f.entitlement_id, f.feature_id, f.feature_key, f.limit_total,
                coalesce(array_agg(m.id ORDER BY m.key) FILTER (WHERE m.id IS NOT NULL), '{}') AS meter_ids,
                coalesce(array_agg(m.key ORDER BY m.key) FILTER (WHERE m.id IS NOT NULL), '{}') AS meter_keys,
                (array_agg(m.unit ORDER BY m.key) FILTER (WHERE m.id IS NOT NULL))[1] AS unit
           FROM entitlement_feature f JOIN ents x ON x.id = f.entitlement_id
           LEFT JOIN meter m ON m.feature_id = f.feature_id
          GROUP BY f.entitlement_id, f.feature_id, f.feature_key, f.limit_total
       ),
       ${FEATURE_USAGE_CTES},
       ${CONSUMED_CTE},
       ${PEAK_CTES},
       who AS (
         SELECT w.entitlement_id, w.k, f.feature_id, v.kind, v.v
           FROM win w JOIN feats f ON f.entitlement_id = w.entitlement_id
           JOIN usage_event ev ON ev.entitlement_id = w.entitlement_id AND ev.meter_id = ANY(f.meter_ids)
                              AND ev.occurred_at >= w.ws AND ev.occurred_at < w.wq
          CROSS JOIN LATERAL (VALUES ('U', ev.user_id), ('D', ev.device)) AS v(kind, v)
          WHERE v.v IS NOT NULL
         UNION
         SELECT w.entitlement_id, w.k, f.feature_id, 'U', s.email
           FROM win w JOIN feats f ON f.entitlement_id = w.entitlement_id
           JOIN seat s ON s.entitlement_id = w.entitlement_id AND s.assigned_at < w.wn AND (s.released_at IS NULL OR s.released_at > w.ws)
         UNION
         SELECT w.entitlement_id, w.k, f.feature_id, 'D', a.fingerprint
           FROM win w JOIN feats f ON f.entitlement_id = w.entitlement_id
           JOIN activation a ON a.entitlement_id = w.entitlement_id AND a.activated_at < w.wn AND (a.deactivated_at IS NULL OR a.deactivated_at > w.ws)
       ),
       people AS (
         SELECT entitlement_id, k, feature_id,
                count(DISTINCT v) FILTER (WHERE kind = 'U')::int AS users, count(DISTINCT v) FILTER (WHERE kind = 'D')::int AS devices
           FROM who GROUP BY entitlement_id, k, feature_id
       ),
       lu AS (
         SELECT f.entitlement_id, f.feature_id,
                (SELECT max(ev.occurred_at) FROM usage_event ev WHERE ev.entitlement_id = f.entitlement_id AND ev.meter_id = ANY(f.meter_ids)) AS at
           FROM feats f
       ),
       res AS (
         SELECT x.id AS u_entitlement_id, x.created_at AS u_created_at, x.phase AS u_phase, x.period_kind AS u_period,
                f.feature_key AS u_feature_key, f.meter_keys AS u_meter_keys, f.unit AS u_meter_unit,
                ${basisSql('x.model', `(cardinality(f.meter_ids) > 0 OR x.model IN ${CONSUMABLE_MODELS})`)} AS u_basis,
                f.limit_total AS u_limit, floor(x.quantity) AS u_slots,
                w.k AS u_k, w.ws AS u_start, w.we AS u_end,
                greatest(coalesce(fu.used, 0), coalesce(cu.consumed, 0)) AS u_used, coalesce(fu.events, 0) AS u_events,
                coalesce(pd.peak, 0) AS u_peak_devices, coalesce(ps.peak, 0) AS u_peak_seats, coalesce(pl.peak, 0) AS u_peak_leases,
                coalesce(pp.users, 0) AS u_users, coalesce(pp.devices, 0) AS u_devices,
                lu.at AS u_last_used
           FROM ents x
           JOIN feats f ON f.entitlement_id = x.id
           JOIN lu ON lu.entitlement_id = x.id AND lu.feature_id = f.feature_id
           JOIN win w ON w.entitlement_id = x.id
           LEFT JOIN fu ON fu.entitlement_id = x.id AND fu.k = w.k AND fu.feature_id = f.feature_id
           LEFT JOIN cu ON cu.entitlement_id = x.id AND cu.k = w.k AND cu.feature_key = f.feature_key
           LEFT JOIN peaks pd ON pd.entitlement_id = x.id AND pd.k = w.k AND pd.kind = 'DEVICES'
           LEFT JOIN peaks ps ON ps.entitlement_id = x.id AND ps.k = w.k AND ps.kind = 'SEATS'
           LEFT JOIN peaks pl ON pl.entitlement_id = x.id AND pl.k = w.k AND pl.kind = 'LEASES'
           LEFT JOIN people pp ON pp.entitlement_id = x.id AND pp.k = w.k AND pp.feature_id = f.feature_id
       ),
       figures AS (
         SELECT res.*,
                CASE u_basis WHEN 'USAGE' THEN u_limit WHEN 'NONE' THEN NULL ELSE u_slots END AS u_entitled,
                CASE u_basis WHEN 'USAGE' THEN u_used WHEN 'DEVICES' THEN u_peak_devices
                             WHEN 'SEATS' THEN u_peak_seats WHEN 'LEASES' THEN u_peak_leases END AS u_used_figure
           FROM res
       )
       SELECT ${ENTITLEMENT_COLUMNS}, figures.*, trim_scale(u_entitled)::text AS u_entitled_text, trim_scale(u_used_figure)::text AS u_used_text,
              ${percentSql('u_used_figure', 'u_entitled')} AS u_percent
         FROM figures JOIN entitlement ON entitlement.id = figures.u_entitlement_id
        ORDER BY u_created_at, u_entitlement_id, u_feature_key, u_k`,
      p.values,
    );

    const out: FeatureUtilization[] = [];
    let last: FeatureUtilization | null = null;
    for (const r of rows) {
      if (!last || last.entitlementId !== r.u_entitlement_id || last.featureKey !== r.u_feature_key) {
        const basis = r.u_basis as UtilizationBasis;
        const entitlement = toEntitlement(r);
        last = {
          entitlement,
          entitlementId: entitlement.id,
          accountId: entitlement.accountId,
          featureKey: r.u_feature_key as string,
          model: entitlement.model,
          phase: r.u_phase as string,
          basis,
          meters: r.u_meter_keys as string[],
          unit: { USAGE: text(r.u_meter_unit), DEVICES: 'devices', SEATS: 'seats', LEASES: 'licences', NONE: null }[basis],
          period: r.u_period as string,
          periods: [],
          current: null as unknown as UtilizationPeriod,
          lastUsedAt: r.u_last_used ? new Date(r.u_last_used as string) : null,
        };
        out.push(last);
      }
      const period: UtilizationPeriod = {
        start: new Date(r.u_start as string),
        end: r.u_end ? new Date(r.u_end as string) : null,
        current: num(r.u_k) === 0,
        entitled: text(r.u_entitled_text),
        used: text(r.u_used_text),
        utilizationPercent: r.u_percent === null ? null : Number(r.u_percent),
        events: num(r.u_events),
        peakConcurrentLeases: num(r.u_peak_leases),
        activeDevices: num(r.u_devices),
        activeUsers: num(r.u_users),
      };
      last.periods.push(period);
    }
    // The current period is the first (k = 0); a term that has not started has only that one.
    for (const u of out) u.current = u.periods[0]!;
    return out;
  }

  // ---------------------------------------------------------------- adoption

  async adoption(ctx: RequestContext, args: { productId: string; from: Date; to: Date }): Promise<Adoption> {
    const { from, to } = args;
    if (!(from.getTime() < to.getTime())) {
      throw badInput('ANALYTICS_RANGE_INVALID', '`from` must be before `to`', [{ path: 'to', message: 'must be after from' }]);
    }
    if (to.getTime() - from.getTime() > MAX_ADOPTION_DAYS * DAY_MS) {
      throw badInput('ANALYTICS_RANGE_TOO_LARGE', `An adoption window is at most ${MAX_ADOPTION_DAYS} days`, [
        { path: 'from', message: `at most ${MAX_ADOPTION_DAYS} days` },
      ]);
    }
    const previousFrom = new Date(from.getTime() - (to.getTime() - from.getTime()));
    if (!isUuid(args.productId)) throw notFound('Product', args.productId);
    const [exists] = (await this.db.manager.query(`SELECT EXISTS (SELECT 1 FROM product WHERE id = $1::uuid) AS ok`, [args.productId])) as { ok: boolean }[];
    if (!exists!.ok) throw notFound('Product', args.productId);

    const p = new Params();
    const product = p.add(args.productId);
    const f0 = p.add(from.toISOString());
    const t0 = p.add(to.toISOString());
    const f1 = p.add(previousFrom.toISOString());
    const scope = accountScope(ctx);
    const scoped = scope ? `AND e.account_id = ${p.add(scope)}::uuid` : '';

    const rows: Record<string, unknown>[] = await this.db.readQuery(
      `WITH RECURSIVE tree (product_id, depth) AS (
         SELECT id, 0 FROM product WHERE id = ${product}::uuid
         UNION ALL
         SELECT pc.component_id, t.depth + 1 FROM tree t JOIN product_component pc ON pc.bundle_id = t.product_id WHERE t.depth < ${MAX_BUNDLE_LEVELS + 2}
       ),
       wv AS (SELECT * FROM (VALUES (0, ${f0}::timestamptz, ${t0}::timestamptz), (1, ${f1}::timestamptz, ${f0}::timestamptz)) AS v(k, ws, wq)),
       w AS (SELECT k, ws, wq, ${dayCeil('ws')} AS d_start, ${dayFloor('wq')} AS d_end FROM wv),
       ents AS (
         SELECT w.k, e.id, e.account_id
           FROM entitlement e JOIN w ON e.starts_at < w.wq AND coalesce(${endOfUse('e')}, 'infinity'::timestamptz) > w.ws
          WHERE e.product_id = ${product}::uuid ${scoped}
       ),
       ef AS (SELECT x.k, x.id AS entitlement_id, x.account_id, f.feature_id FROM ents x JOIN entitlement_feature f ON f.entitlement_id = x.id),
       features AS (
         SELECT DISTINCT pf.feature_id FROM tree t JOIN product_feature pf ON pf.product_id = t.product_id
         UNION SELECT feature_id FROM ef
       ),
       em AS (SELECT ef.*, m.id AS meter_id FROM ef JOIN meter m ON m.feature_id = ef.feature_id),
       ewm AS (SELECT em.*, w.ws, w.wq, w.d_start, w.d_end FROM em JOIN w ON w.k = em.k),
       ru AS (
         SELECT ewm.k, ewm.feature_id, ewm.account_id, r.deployment, sum(r.count) AS n
           FROM ewm
          CROSS JOIN LATERAL ${rollupRowsInWindow(
            'usage_rollup',
            'r.account_id = ewm.account_id AND r.meter_id = ewm.meter_id AND r.entitlement_id = ewm.entitlement_id',
            'ewm',
          )} r
          GROUP BY ewm.k, ewm.feature_id, ewm.account_id, r.deployment
         HAVING sum(r.count) > 0
       ),
       entitled AS (SELECT k, feature_id, count(DISTINCT account_id)::int AS n FROM ef GROUP BY k, feature_id),
       used AS (SELECT k, feature_id, count(DISTINCT account_id)::int AS n, sum(n) AS events FROM ru GROUP BY k, feature_id),
       deps AS (
         SELECT feature_id, deployment, count(DISTINCT account_id)::int AS accounts, sum(n) AS events
           FROM ru WHERE k = 0 GROUP BY feature_id, deployment
       ),
       users AS (
         SELECT em.feature_id, count(DISTINCT (em.account_id, ev.user_id)) FILTER (WHERE ev.user_id IS NOT NULL)::int AS n
           FROM em JOIN usage_event ev ON ev.entitlement_id = em.entitlement_id AND ev.meter_id = em.meter_id
                                      AND ev.occurred_at >= ${f0}::timestamptz AND ev.occurred_at < ${t0}::timestamptz
          WHERE em.k = 0
          GROUP BY em.feature_id
       )
       SELECT f.id AS feature_id, f.key AS feature_key,
              coalesce((SELECT array_agg(m.key ORDER BY m.key) FROM meter m WHERE m.feature_id = f.id), '{}') AS meters,
              coalesce(e0.n, 0) AS entitled0, coalesce(u0.n, 0) AS using0, coalesce(u0.events, 0)::text AS events0,
              coalesce(e1.n, 0) AS entitled1, coalesce(u1.n, 0) AS using1,
              coalesce(us.n, 0) AS users,
              coalesce((SELECT json_agg(json_build_object('deployment', d.deployment, 'accounts', d.accounts, 'events', d.events::text)
                                        ORDER BY d.events DESC, d.deployment)
                          FROM deps d WHERE d.feature_id = f.id), '[]'::json) AS deployments
         FROM features x JOIN feature f ON f.id = x.feature_id
         LEFT JOIN entitled e0 ON e0.k = 0 AND e0.feature_id = f.id
         LEFT JOIN entitled e1 ON e1.k = 1 AND e1.feature_id = f.id
         LEFT JOIN used u0 ON u0.k = 0 AND u0.feature_id = f.id
         LEFT JOIN used u1 ON u1.k = 1 AND u1.feature_id = f.id
         LEFT JOIN users us ON us.feature_id = f.id
        ORDER BY f.key`,
      p.values,
    );

    const share = (used: number, entitled: number): number | null => (entitled > 0 ? Math.round((used / entitled) * 10_000) / 100 : null);
    const features: FeatureAdoption[] = rows.map((r) => {
      const entitled0 = num(r.entitled0);
      const using0 = num(r.using0);
      const events0 = num(r.events0);
      const previous: AdoptionFigures = {
        from: previousFrom,
        to: from,
        entitledAccounts: num(r.entitled1),
        usingAccounts: num(r.using1),
        sharePercent: share(num(r.using1), num(r.entitled1)),
      };
      const sharePercent = share(using0, entitled0);
      const deployments = (r.deployments as { deployment: Deployment; accounts: number; events: string }[]).map((d) => ({
        deployment: d.deployment,
        accounts: d.accounts,
        events: Number(d.events),
        sharePercent: events0 > 0 ? Math.round((Number(d.events) / events0) * 10_000) / 100 : 0,
      }));
      return {
        featureId: r.feature_id as string,
        featureKey: r.feature_key as string,
        meters: r.meters as string[],
        entitledAccounts: entitled0,
        usingAccounts: using0,
        sharePercent,
        activeUsers: num(r.users),
        events: events0,
        deployments,
        previous,
        shareDelta: sharePercent === null || previous.sharePercent === null ? null : Math.round((sharePercent - previous.sharePercent) * 100) / 100,
      };
    });
    return { productId: args.productId, from, to, previousFrom, features };
  }

  // ---------------------------------------------------------------- unusedEntitlements

  async unusedEntitlements(ctx: RequestContext, args: UnusedEntitlementsArgs): Promise<Connection<UnusedEntitlement>> {
    const scope = accountScope(ctx);
    if (scope && args.accountId) assertAccountVisible(ctx, args.accountId);
    const accountId = scope ?? args.accountId ?? null;
    if (accountId && !scope) await this.assertVisible(ctx, { accountId });

    const p = new Params();
    const tz = `${p.add(this.config.EHUB_TIME_ZONE)}::text`;
    const days = p.add(args.days);
    const threshold = p.add(args.threshold);
    const account = accountId ? `AND e.account_id = ${p.add(accountId)}::uuid` : '';
    let after = '';
    if (args.after) {
      const c = decodeRenewalCursor(args.after);
      after = `WHERE (u_renewal, u_id) > (${p.add(c.endDate)}::date, ${p.add(c.id)}::uuid)`;
    }
    const limit = p.add(args.first + 1);

    const rows: Record<string, unknown>[] = await this.db.readQuery(
      `WITH ents AS (
         SELECT e.id, e.account_id, e.model, e.quantity, e.reset_period, e.starts_at, e.ends_at, e.end_date
           FROM entitlement e
          WHERE ${phaseSql('e', 'now()')} IN ('ACTIVE','IN_GRACE') ${account}
       ),
       bounds AS (
         SELECT (((now() AT TIME ZONE ${tz})::date - ${days}::int)::timestamp AT TIME ZONE ${tz}) AS ws,
                now() + interval '1 day' AS wq, now() AS wn
       ),
       win AS (
         SELECT x.id AS entitlement_id, 0 AS k, x.account_id, b.ws, b.wq, b.wn, ${dayCeil('b.ws')} AS d_start, ${dayFloor('b.wq')} AS d_end
           FROM ents x CROSS JOIN bounds b
       ),
       -- The measured features: with meters, or drawn down by consume() (consumable models).
       feats AS (
         SELECT f.entitlement_id, f.feature_id, f.feature_key, f.limit_total,
                coalesce(bool_and(m.aggregation IN ('SUM','COUNT')), true) AS additive
           FROM entitlement_feature f JOIN ents x ON x.id = f.entitlement_id
           LEFT JOIN meter m ON m.feature_id = f.feature_id
          WHERE m.id IS NOT NULL OR x.model IN ${CONSUMABLE_MODELS}
          GROUP BY f.entitlement_id, f.feature_id, f.feature_key, f.limit_total
       ),
       ${FEATURE_USAGE_CTES},
       ${CONSUMED_CTE},
       ${PEAK_CTES},
       -- Per metered feature: the limit over the window (pro-rated for additive meters of
       -- consumable models: a monthly 1,000 calls is ~986 over 30 days), used, and the ratio.
       fx AS (
         SELECT f.entitlement_id, f.feature_key, greatest(coalesce(fu.used, 0), coalesce(cu.consumed, 0)) AS used,
                CASE WHEN x.model IN ${CONSUMABLE_MODELS} AND f.additive AND f.limit_total IS NOT NULL THEN
                       round(f.limit_total * (extract(epoch FROM b.wn - b.ws) / 86400) / (CASE coalesce(x.reset_period, 'TERM')
                           WHEN 'DAILY' THEN 1 WHEN 'MONTHLY' THEN 30.436875 WHEN 'ANNUAL' THEN 365.2425
                           ELSE coalesce(extract(epoch FROM x.ends_at - x.starts_at) / 86400, extract(epoch FROM b.wn - b.ws) / 86400) END), 4)
                     ELSE f.limit_total END AS entitled
           FROM feats f JOIN ents x ON x.id = f.entitlement_id CROSS JOIN bounds b
           LEFT JOIN fu ON fu.entitlement_id = f.entitlement_id AND fu.feature_id = f.feature_id
           LEFT JOIN cu ON cu.entitlement_id = f.entitlement_id AND cu.feature_key = f.feature_key
       ),
       best AS (
         SELECT DISTINCT ON (fx.entitlement_id) fx.*, ${percentSql('fx.used', 'fx.entitled')} AS pct
           FROM fx
          ORDER BY fx.entitlement_id, ${percentSql('fx.used', 'fx.entitled')} DESC NULLS LAST, fx.feature_key
       ),
       ev AS (SELECT entitlement_id, sum(events) AS events FROM fu GROUP BY entitlement_id),
       drawn AS (SELECT entitlement_id, sum(draws) AS draws FROM cu GROUP BY entitlement_id),
       scored AS (
         SELECT x.id AS u_id, x.end_date AS u_end_date, coalesce(x.end_date, 'infinity'::date) AS u_renewal,
                ${basisSql('x.model', 'best.entitlement_id IS NOT NULL')} AS u_basis,
                coalesce(ev.events, 0) AS u_events, coalesce(dr.draws, 0) AS u_draws, coalesce(pk.peak, 0) AS u_peak,
                best.feature_key AS u_best_feature, best.used AS u_best_used, best.entitled AS u_best_entitled, best.pct AS u_best_pct,
                floor(x.quantity) AS u_slots
           FROM ents x
           LEFT JOIN best ON best.entitlement_id = x.id
           LEFT JOIN ev ON ev.entitlement_id = x.id
           LEFT JOIN drawn dr ON dr.entitlement_id = x.id
           LEFT JOIN peaks pk ON pk.entitlement_id = x.id AND pk.kind = CASE x.model WHEN 'DEVICE_LOCKED' THEN 'DEVICES' WHEN 'NAMED_USER' THEN 'SEATS' WHEN 'CONCURRENT' THEN 'LEASES' END
       ),
       figures AS (
         SELECT s.*,
                CASE WHEN u_basis = 'USAGE' THEN u_best_feature END AS u_feature,
                CASE WHEN u_basis = 'USAGE' THEN u_best_entitled ELSE u_slots END AS u_entitled,
                CASE WHEN u_basis = 'USAGE' THEN u_best_used ELSE u_peak END AS u_used
           FROM scored s
          WHERE u_basis <> 'NONE'
       ),
       listed AS (
         SELECT f.*, ${percentSql('u_used', 'u_entitled')} AS u_percent
           FROM figures f
          WHERE (u_events = 0 AND u_draws = 0 AND u_peak = 0)
             OR (u_entitled > 0 AND u_used / u_entitled < ${threshold}::numeric)
       ),
       page AS (SELECT * FROM listed ${after} ORDER BY u_renewal, u_id LIMIT ${limit})
       SELECT (SELECT count(*) FROM listed)::int AS u_total, ${ENTITLEMENT_COLUMNS}, page.*,
              trim_scale(page.u_entitled)::text AS u_entitled_text, trim_scale(page.u_used)::text AS u_used_text,
              (SELECT max(ev.occurred_at) FROM usage_event ev WHERE ev.entitlement_id = page.u_id) AS u_last_used,
              (page.u_end_date - (now() AT TIME ZONE ${tz})::date) AS u_days
         FROM (SELECT 1) one
         LEFT JOIN page ON true
         LEFT JOIN entitlement ON entitlement.id = page.u_id
        ORDER BY page.u_renewal, page.u_id`,
      p.values,
    );

    const totalCount = num(rows[0]?.u_total);
    const items = rows.filter((r) => r.u_id);
    const hasNextPage = items.length > args.first;
    const edges = items.slice(0, args.first).map((r) => {
      const entitlement = toEntitlement(r);
      const node: UnusedEntitlement = {
        id: entitlement.id,
        entitlement,
        accountId: entitlement.accountId,
        productId: entitlement.productId,
        basis: r.u_basis as UtilizationBasis,
        featureKey: text(r.u_feature),
        entitled: text(r.u_entitled_text),
        used: text(r.u_used_text),
        utilizationPercent: r.u_percent === null ? null : Number(r.u_percent),
        events: num(r.u_events),
        lastUsedAt: r.u_last_used ? new Date(r.u_last_used as string) : null,
        endDate: entitlement.endDate,
        daysToRenewal: r.u_days === null ? null : Number(r.u_days),
      };
      return { cursor: encodeRenewalCursor(entitlement.endDate, entitlement.id), node };
    });
    return { edges, pageInfo: { hasNextPage, endCursor: edges.at(-1)?.cursor ?? null }, totalCount };
  }

  // ---------------------------------------------------------------- helpers

  /** NOT_FOUND for an account or entitlement that does not exist or another account's key may not see. */
  /** NOT_FOUND unless the account (or entitlement) exists and the key may see it. */
  async assertVisible(ctx: RequestContext, what: { accountId: string } | { entitlementId: string }): Promise<void> {
    if ('accountId' in what) {
      assertAccountVisible(ctx, what.accountId);
      if (!isUuid(what.accountId)) throw notFound('Account', what.accountId);
      const [row] = (await this.db.manager.query(`SELECT EXISTS (SELECT 1 FROM account WHERE id = $1::uuid) AS ok`, [what.accountId])) as { ok: boolean }[];
      if (!row!.ok) throw notFound('Account', what.accountId);
      return;
    }
    if (!isUuid(what.entitlementId)) throw notFound('Entitlement', what.entitlementId);
    const [row] = (await this.db.manager.query(`SELECT account_id FROM entitlement WHERE id = $1::uuid`, [what.entitlementId])) as { account_id: string }[];
    const scope = accountScope(ctx);
    if (!row || (scope && row.account_id !== scope)) throw notFound('Entitlement', what.entitlementId);
  }
}

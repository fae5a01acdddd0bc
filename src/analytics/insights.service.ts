import type { RequestContext } from '../common/context';
import { badInput, notFound } from '../common/errors';
import { isUuid } from '../common/ids';
import { accountScope } from '../auth/scope';
import { MAX_BUNDLE_LEVELS } from '../catalog/catalog.rules';
import type { Db } from '../db/db';
import type { AnalyticsService } from './analytics.service';
import { Params, endOfUse } from './analytics.sql';
import {
  AddOnReason,
  FeatureUseVerdict,
  MAX_PERSONA_DAYS,
  PersonaAttribute,
  type AddOnCandidate,
  type PackagedFeature,
  type PackagingInsight,
  type PackagingInsightArgs,
  type PersonaGroup,
  type UsagePersonas,
  type UsagePersonasArgs,
} from './insights.types';

const DAY_MS = 86_400_000;
const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const pct = (part: number, whole: number): number => (whole > 0 ? Math.round((part / whole) * 10_000) / 100 : 0);

/** Least used first: the order a product manager reads a package in (NOT_MEASURED last). */
const VERDICT_ORDER: Record<FeatureUseVerdict, number> = {
  [FeatureUseVerdict.UNUSED]: 0,
  [FeatureUseVerdict.RARELY_USED]: 1,
  [FeatureUseVerdict.USED]: 2,
  [FeatureUseVerdict.NOT_MEASURED]: 3,
};

/** The features a product grants, bundles flattened (its own and every component's, recursively). */
const productFeaturesSql = (product: string) => `
  WITH RECURSIVE tree (product_id, depth) AS (
    SELECT id, 0 FROM product WHERE id = ${product}::uuid
    UNION ALL
    SELECT pc.component_id, t.depth + 1 FROM tree t JOIN product_component pc ON pc.bundle_id = t.product_id WHERE t.depth < ${MAX_BUNDLE_LEVELS + 2}
  )
  SELECT DISTINCT pf.feature_id FROM tree t JOIN product_feature pf ON pf.product_id = t.product_id`;

/**
 * Product insight for product managers (issue 16, docs/analytics.md): packaging (which of a
 * bundle's features its holders use, which almost nobody does, which they use beyond what was
 * sold) and personas (usage grouped by who the users are). Read-only, a fixed number of
 * statements per answer, on the read replica when there is one.
 */
export class InsightsService {
  constructor(
    private readonly db: Db,
    private readonly analytics: AnalyticsService,
  ) {}

  // ---------------------------------------------------------------- packagingInsight

  async packagingInsight(ctx: RequestContext, args: PackagingInsightArgs): Promise<PackagingInsight> {
    // adoption() checks the window and the product, and gives each feature's entitled and using accounts.
    const adoption = await this.analytics.adoption(ctx, { productId: args.productId, from: args.from, to: args.to });
    const p = new Params();
    const product = p.add(args.productId);
    const f0 = p.add(args.from.toISOString());
    const t0 = p.add(args.to.toISOString());
    const scope = accountScope(ctx);
    const scoped = scope ? `AND e.account_id = ${p.add(scope)}::uuid` : '';

    const [head] = (await this.db.readQuery(
      `WITH holders AS (
         SELECT DISTINCT e.account_id FROM entitlement e
          WHERE e.product_id = ${product}::uuid ${scoped}
            AND e.starts_at < ${t0}::timestamptz AND coalesce(${endOfUse('e')}, 'infinity'::timestamptz) > ${f0}::timestamptz
       ),
       granted AS (${productFeaturesSql(product)}),
       overuse AS (
         SELECT f.feature_key, f.unit, f.account_id, f.used, f.over, f.leakage_minor, f.currency
           FROM compliance_finding f JOIN entitlement e ON e.id = f.entitlement_id
          WHERE f.kind = 'OVERUSE' AND e.product_id = ${product}::uuid AND f.feature_key IS NOT NULL ${scoped}
            AND f.period_start < ${t0}::timestamptz AND coalesce(f.period_end, 'infinity'::timestamptz) > ${f0}::timestamptz
       ),
       over AS (
         SELECT o.feature_key, o.unit, count(DISTINCT o.account_id)::int AS accounts, trim_scale(sum(o.used))::text AS used, trim_scale(sum(o.over))::text AS over,
                coalesce((SELECT json_agg(json_build_object('currency', l.currency, 'amountMinor', l.minor::text) ORDER BY l.currency)
                            FROM (SELECT x.currency, sum(x.leakage_minor) AS minor FROM overuse x
                                   WHERE x.feature_key = o.feature_key AND x.unit = o.unit AND x.leakage_minor IS NOT NULL AND x.currency IS NOT NULL
                                   GROUP BY x.currency) l), '[]'::json) AS leakage
           FROM overuse o
          GROUP BY o.feature_key, o.unit
       ),
       outside AS (
         SELECT ev.feature_key, m.unit, count(DISTINCT ev.account_id)::int AS accounts, trim_scale(sum(ev.quantity))::text AS used
           FROM holders h
           JOIN usage_event ev ON ev.account_id = h.account_id AND ev.unentitled
                              AND ev.occurred_at >= ${f0}::timestamptz AND ev.occurred_at < ${t0}::timestamptz
           JOIN meter m ON m.id = ev.meter_id
          WHERE ev.feature_key IS NOT NULL
            AND ev.feature_key NOT IN (SELECT f.key FROM granted g JOIN feature f ON f.id = g.feature_id)
          GROUP BY ev.feature_key, m.unit
       )
       SELECT p.sku, p.name, EXISTS (SELECT 1 FROM product_component pc WHERE pc.bundle_id = p.id) AS is_bundle,
              (SELECT count(*)::int FROM holders) AS holders,
              coalesce((SELECT json_agg(o) FROM over o), '[]'::json) AS over,
              coalesce((SELECT json_agg(x) FROM outside x), '[]'::json) AS outside
         FROM product p WHERE p.id = ${product}::uuid`,
      p.values,
    )) as { sku: string; name: string; is_bundle: boolean; holders: number; over: OverRow[]; outside: OutsideRow[] }[];
    if (!head) throw notFound('Product', args.productId);

    const overByFeature = new Map<string, number>();
    for (const o of head.over) overByFeature.set(o.feature_key, (overByFeature.get(o.feature_key) ?? 0) + o.accounts);
    const features: PackagedFeature[] = adoption.features.map((f) => {
      const verdict = !f.meters.length
        ? FeatureUseVerdict.NOT_MEASURED
        : f.usingAccounts === 0
          ? FeatureUseVerdict.UNUSED
          : (f.sharePercent ?? 0) < args.rarelyUsedBelowPercent
            ? FeatureUseVerdict.RARELY_USED
            : FeatureUseVerdict.USED;
      return {
        featureId: f.featureId,
        featureKey: f.featureKey,
        meters: f.meters,
        entitledAccounts: f.entitledAccounts,
        usingAccounts: f.usingAccounts,
        sharePercent: f.sharePercent,
        events: f.events,
        verdict,
        overLimitAccounts: overByFeature.get(f.featureKey) ?? 0,
      };
    });
    features.sort(
      (a, b) =>
        VERDICT_ORDER[a.verdict] - VERDICT_ORDER[b.verdict] || (a.sharePercent ?? 0) - (b.sharePercent ?? 0) || a.featureKey.localeCompare(b.featureKey),
    );

    const addOnCandidates: AddOnCandidate[] = [
      ...head.over.map((o) => ({
        featureKey: o.feature_key,
        reason: AddOnReason.OVER_LIMIT,
        accounts: o.accounts,
        holdersPercent: pct(o.accounts, head.holders),
        used: o.used,
        over: o.over,
        unit: o.unit,
        leakage: o.leakage,
      })),
      ...head.outside.map((x) => ({
        featureKey: x.feature_key,
        reason: AddOnReason.NOT_INCLUDED,
        accounts: x.accounts,
        holdersPercent: pct(x.accounts, head.holders),
        used: x.used,
        over: null,
        unit: x.unit,
        leakage: [],
      })),
    ].sort((a, b) => b.accounts - a.accounts || a.featureKey.localeCompare(b.featureKey) || a.reason.localeCompare(b.reason));

    return {
      productId: args.productId,
      sku: head.sku,
      name: head.name,
      isBundle: head.is_bundle,
      from: args.from,
      to: args.to,
      holders: head.holders,
      rarelyUsedBelowPercent: args.rarelyUsedBelowPercent,
      features,
      addOnCandidates,
    };
  }

  // ---------------------------------------------------------------- usagePersonas

  async usagePersonas(ctx: RequestContext, args: UsagePersonasArgs): Promise<UsagePersonas> {
    const { from, to } = args;
    if (!(from.getTime() < to.getTime())) {
      throw badInput('ANALYTICS_RANGE_INVALID', '`from` must be before `to`', [{ path: 'to', message: 'must be after from' }]);
    }
    if (to.getTime() - from.getTime() > MAX_PERSONA_DAYS * DAY_MS) {
      throw badInput('ANALYTICS_RANGE_TOO_LARGE', `A personas window is at most ${MAX_PERSONA_DAYS} days (it reads the raw events)`, [
        { path: 'from', message: `at most ${MAX_PERSONA_DAYS} days` },
      ]);
    }
    const property = args.property ?? null;
    if (args.groupBy === PersonaAttribute.EVENT_PROPERTY && !property) {
      throw badInput('PERSONA_PROPERTY_REQUIRED', 'Grouping by EVENT_PROPERTY needs `property`: the name of the usage events\' property, e.g. "role"', [
        { path: 'property', message: 'required with EVENT_PROPERTY' },
      ]);
    }
    if (args.groupBy !== PersonaAttribute.EVENT_PROPERTY && property) {
      throw badInput('PERSONA_PROPERTY_UNUSED', '`property` is for EVENT_PROPERTY only; contacts are grouped by their title or department', [
        { path: 'property', message: 'only with EVENT_PROPERTY' },
      ]);
    }
    const scope = accountScope(ctx);
    if (args.accountId) await this.analytics.assertVisible(ctx, { accountId: args.accountId });
    const accountId = scope ?? args.accountId ?? null;
    if (args.productId) {
      if (!isUuid(args.productId)) throw notFound('Product', args.productId);
      const [row] = (await this.db.manager.query(`SELECT EXISTS (SELECT 1 FROM product WHERE id = $1::uuid) AS ok`, [args.productId])) as { ok: boolean }[];
      if (!row!.ok) throw notFound('Product', args.productId);
    }
    if (args.meter) {
      const [row] = (await this.db.manager.query(`SELECT EXISTS (SELECT 1 FROM meter WHERE key = $1) AS ok`, [args.meter])) as { ok: boolean }[];
      if (!row!.ok) throw notFound('Meter', args.meter);
    }

    const p = new Params();
    const f0 = p.add(from.toISOString());
    const t0 = p.add(to.toISOString());
    const filters: string[] = [];
    if (accountId) filters.push(`ev.account_id = ${p.add(accountId)}::uuid`);
    if (args.meter) filters.push(`ev.meter_id = (SELECT id FROM meter WHERE key = ${p.add(args.meter)})`);
    if (args.productId) {
      filters.push(`ev.meter_id IN (SELECT m.id FROM meter m WHERE m.feature_id IN (${productFeaturesSql(p.add(args.productId))}))`);
    }
    const value =
      args.groupBy === PersonaAttribute.EVENT_PROPERTY
        ? `nullif(btrim(ev.properties ->> ${p.add(property)}), '')`
        : args.groupBy === PersonaAttribute.CONTACT_TITLE
          ? `(SELECT nullif(btrim(ct.title), '') FROM contact ct WHERE ct.account_id = ev.account_id AND ct.email = lower(ev.user_id))`
          : `(SELECT nullif(btrim(ct.department), '') FROM contact ct WHERE ct.account_id = ev.account_id AND ct.email = lower(ev.user_id))`;
    const first = p.add(args.first);

    const rows = (await this.db.readQuery(
      `WITH ev AS MATERIALIZED (
         SELECT ev.account_id, lower(ev.user_id) AS u, ev.quantity, ev.feature_key, ${value} AS v
           FROM usage_event ev
          WHERE ev.occurred_at >= ${f0}::timestamptz AND ev.occurred_at < ${t0}::timestamptz AND ev.user_id IS NOT NULL
            ${filters.map((f) => `AND ${f}`).join(' ')}
       ),
       per_user AS (
         SELECT account_id, u, mode() WITHIN GROUP (ORDER BY v) AS v, count(*) AS events, sum(quantity) AS q
           FROM ev GROUP BY account_id, u
       ),
       groups AS (
         SELECT v, count(*)::int AS users, count(DISTINCT account_id)::int AS accounts, sum(events)::text AS events, trim_scale(sum(q))::text AS quantity
           FROM per_user GROUP BY v
       ),
       listed AS (
         SELECT * FROM (SELECT g.*, row_number() OVER (ORDER BY g.users DESC, g.events::numeric DESC, g.v) AS rn FROM groups g WHERE g.v IS NOT NULL) r
          WHERE r.rn <= ${first}::int
         UNION ALL
         SELECT g.*, NULL FROM groups g WHERE g.v IS NULL
       ),
       feats AS (
         SELECT pu.v, ev.feature_key, count(*) AS n
           FROM ev JOIN per_user pu ON pu.account_id = ev.account_id AND pu.u = ev.u
          WHERE ev.feature_key IS NOT NULL AND (pu.v IN (SELECT v FROM listed) OR pu.v IS NULL)
          GROUP BY pu.v, ev.feature_key
       )
       SELECT l.v, l.users, l.accounts, l.events, l.quantity, l.rn,
              coalesce((SELECT array_agg(f.feature_key ORDER BY f.n DESC, f.feature_key)
                          FROM (SELECT * FROM feats f WHERE f.v IS NOT DISTINCT FROM l.v ORDER BY f.n DESC, f.feature_key LIMIT 3) f), '{}') AS top,
              (SELECT coalesce(sum(users), 0)::int FROM groups) AS total_users,
              (SELECT coalesce(sum(users), 0)::int FROM groups WHERE v IS NOT NULL) AS attributed_users,
              (SELECT count(*)::int FROM groups WHERE v IS NOT NULL) AS total_groups
         FROM listed l
        ORDER BY l.rn NULLS LAST`,
      p.values,
    )) as { v: string | null; users: number; accounts: number; events: string; quantity: string; top: string[]; total_users: number; attributed_users: number; total_groups: number }[];

    const totalUsers = rows[0]?.total_users ?? 0;
    const groups: PersonaGroup[] = rows.map((r) => ({
      value: r.v,
      users: r.users,
      usersPercent: pct(r.users, totalUsers),
      accounts: r.accounts,
      events: num(r.events),
      quantity: r.quantity,
      topFeatures: r.top,
    }));
    return {
      groupBy: args.groupBy,
      property,
      from,
      to,
      totalUsers,
      attributedUsers: rows[0]?.attributed_users ?? 0,
      totalGroups: rows[0]?.total_groups ?? 0,
      groups,
    };
  }
}

interface OverRow {
  feature_key: string;
  unit: string;
  accounts: number;
  used: string;
  over: string;
  leakage: { currency: string; amountMinor: string }[];
}

interface OutsideRow {
  feature_key: string;
  unit: string;
  accounts: number;
  used: string;
}

import type { EntityManager } from 'typeorm';
import { phaseSql } from '../licensing/licensing.sql';
import type { HealthInputs } from './health.rules';

/**
 * What the health score measures, read for a batch of accounts in a fixed number of
 * statements (not one per account or per entitlement), as of `at`. Definitions match the
 * CRM sync's where they overlap (docs/health.md): live = ACTIVE or IN_GRACE as checks see it.
 */
const LIVE = (e: string) => `${phaseSql(e, '$2::timestamptz')} IN ('ACTIVE','IN_GRACE')`;

/** Per live entitlement with a capacity: used ÷ capacity. */
const UTILISATION_SQL = `
  SELECT e.account_id, e.model,
         CASE e.model
           WHEN 'NAMED_USER' THEN (SELECT count(*) FROM seat s WHERE s.entitlement_id = e.id AND s.released_at IS NULL)::numeric / e.quantity
           WHEN 'DEVICE_LOCKED' THEN (SELECT count(*) FROM activation a WHERE a.entitlement_id = e.id AND a.deactivated_at IS NULL)::numeric / e.quantity
           -- Floating: the peak of leases held at once over the last 28 days.
           WHEN 'CONCURRENT' THEN (
             SELECT coalesce(max((SELECT count(*) FROM lease l2
                                   WHERE l2.entitlement_id = e.id AND l2.checked_out_at <= l1.checked_out_at
                                     AND coalesce(l2.checked_in_at, l2.expires_at) > l1.checked_out_at)), 0)
               FROM lease l1
              WHERE l1.entitlement_id = e.id AND l1.checked_out_at > $2::timestamptz - interval '28 days' AND l1.checked_out_at <= $2::timestamptz
           )::numeric / e.quantity
           -- Metered: the share drawn of the current period's allowance, against the share of the period gone.
           WHEN 'METERED' THEN (
             SELECT sum(b.used) / nullif(sum(b.entitled), 0)
                    / greatest(0.05, least(1, extract(epoch FROM ($2::timestamptz - min(b.period_start)))
                                         / nullif(extract(epoch FROM (coalesce(max(b.period_end), e.ends_at) - min(b.period_start))), 0)))
               FROM consumption_balance b
              WHERE b.entitlement_id = e.id AND b.period_start <= $2::timestamptz AND (b.period_end IS NULL OR b.period_end > $2::timestamptz)
           )
         END AS ratio
    FROM entitlement e
   WHERE e.account_id = ANY($1::uuid[]) AND e.model IN ('NAMED_USER','DEVICE_LOCKED','CONCURRENT','METERED') AND e.quantity > 0 AND ${LIVE('e')}`;

const ACCOUNT_SQL = `
  SELECT a.id AS account_id,
         (SELECT ($2::timestamptz AT TIME ZONE $3)::date - min(e.start_date) FROM entitlement e WHERE e.account_id = a.id AND ${LIVE('e')}) AS contract_age_days,
         (SELECT min(e.end_date) - ($2::timestamptz AT TIME ZONE $3)::date FROM entitlement e WHERE e.account_id = a.id AND e.end_date IS NOT NULL AND ${LIVE('e')}) AS days_to_renewal,
         (SELECT sum(e.quantity) FROM entitlement e WHERE e.account_id = a.id AND e.model IN ('NAMED_USER','CONCURRENT') AND ${LIVE('e')}) AS entitled_users,
         (SELECT count(DISTINCT u.user_id) FROM usage_event u
           WHERE u.account_id = a.id AND u.occurred_at > $2::timestamptz - interval '28 days' AND u.occurred_at <= $2::timestamptz AND u.user_id IS NOT NULL) AS active_users,
         (SELECT coalesce(sum(r.count) FILTER (WHERE r.bucket > $2::timestamptz - interval '90 days'), 0)
            FROM usage_rollup r WHERE r.account_id = a.id AND r.granularity = 'D'
             AND r.bucket > $2::timestamptz - interval '180 days' AND r.bucket <= $2::timestamptz) AS usage_last90,
         (SELECT coalesce(sum(r.count), 0)
            FROM usage_rollup r WHERE r.account_id = a.id AND r.granularity = 'D'
             AND r.bucket > $2::timestamptz - interval '180 days' AND r.bucket <= $2::timestamptz - interval '90 days') AS usage_previous90,
         (SELECT max(r.latest_at) FROM usage_rollup r WHERE r.account_id = a.id AND r.granularity = 'D' AND r.bucket <= $2::timestamptz) AS last_usage_at,
         EXISTS (SELECT 1 FROM entitlement e WHERE e.account_id = a.id) AS has_entitlements,
         (SELECT count(*) FROM compliance_finding f WHERE f.account_id = a.id AND f.status IN ('OPEN','ACKNOWLEDGED')) AS open_findings
    FROM unnest($1::uuid[]) AS a(id)`;

interface UtilRow {
  account_id: string;
  model: string;
  ratio: string | null;
}

interface AccountRow {
  account_id: string;
  contract_age_days: number | null;
  days_to_renewal: number | null;
  entitled_users: string | null;
  active_users: string;
  usage_last90: string;
  usage_previous90: string;
  last_usage_at: Date | null;
  has_entitlements: boolean;
  open_findings: string;
}

/** Overdue receivables per account, from an ERP (null per account when it reports none). */
export type OverdueReader = (m: EntityManager, accountIds: string[], at: Date) => Promise<Map<string, HealthInputs['overdueReceivables']>>;

export async function readHealthInputs(
  m: EntityManager,
  accountIds: string[],
  at: Date,
  timeZone: string,
  overdue: OverdueReader | null,
): Promise<Map<string, HealthInputs>> {
  const [util, rows, receivables]: [UtilRow[], AccountRow[], Map<string, HealthInputs['overdueReceivables']>] = await Promise.all([
    m.query(UTILISATION_SQL, [accountIds, at]),
    m.query(ACCOUNT_SQL, [accountIds, at, timeZone]),
    overdue ? overdue(m, accountIds, at) : Promise.resolve(new Map()),
  ]);
  const utilBy = new Map<string, UtilRow[]>();
  for (const u of util) if (u.ratio !== null) (utilBy.get(u.account_id) ?? utilBy.set(u.account_id, []).get(u.account_id)!).push(u);
  const out = new Map<string, HealthInputs>();
  for (const r of rows) {
    const us = utilBy.get(r.account_id) ?? [];
    const byModel: Record<string, { entitlements: number; ratio: number }> = {};
    for (const u of us) {
      const b = (byModel[u.model] ??= { entitlements: 0, ratio: 0 });
      b.ratio = (b.ratio * b.entitlements + Number(u.ratio)) / (b.entitlements + 1);
      b.entitlements++;
    }
    const entitled = r.entitled_users === null ? 0 : Number(r.entitled_users);
    out.set(r.account_id, {
      utilisation: us.length ? { ratio: us.reduce((s, u) => s + Number(u.ratio), 0) / us.length, byModel } : null,
      contractAgeDays: r.contract_age_days,
      activeUsers: entitled > 0 ? { active: Number(r.active_users), entitled } : null,
      usageTrend: { last90: Number(r.usage_last90), previous90: Number(r.usage_previous90) },
      daysToRenewal: r.days_to_renewal,
      overdueReceivables: receivables.get(r.account_id) ?? null,
      openFindings: r.has_entitlements || Number(r.open_findings) > 0 ? { count: Number(r.open_findings) } : null,
      daysSinceLastUsage: r.last_usage_at ? Math.max(0, Math.floor((at.getTime() - new Date(r.last_usage_at).getTime()) / 86_400_000)) : null,
    });
  }
  return out;
}

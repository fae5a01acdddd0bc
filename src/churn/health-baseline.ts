import { scoreHealth, type HealthConfig, type HealthInputs } from '../health/health.rules';
import type { BaselineScorer } from './churn.model';
import { FEATURES, type FeatureName, type TermSample } from './churn.features';

const at = (s: TermSample, f: FeatureName) => s.values[FEATURES.indexOf(f)] ?? null;

/**
 * The health score's rules (docs/health.md) as of a term's snapshot, from the term's own
 * features — the "rules-only health score" the churn model is compared with (issue 13) and the
 * churn risk used while no model is trained. The measures map one to one:
 *
 * - utilisation, with the contract age (tenure) choosing onboarding or mature bands;
 * - active users: the active-user ratio (named user);
 * - usage trend: the features' ln((recent + 1) ÷ (previous + 1)) back to a ratio;
 * - days to renewal: days from the snapshot to the term end;
 * - overdue receivables: ln(1 + days) back to days;
 * - open findings: ln(1 + count) back to a count;
 * - days since last usage: not a feature, so the measure is dropped and its weight shared,
 *   as the health score does for any measure without data.
 *
 * The score is 1 − health ÷ 100 (higher = riskier); a term without any measure scores 0.5.
 */
export function healthBaseline(config: HealthConfig): BaselineScorer {
  return {
    name: 'health score (rules only, as of the snapshot)',
    description: '1 − (the health score of the term\'s measures at its snapshot, with the configured weights and bands) ÷ 100',
    score(s) {
      const util = at(s, 'utilisation');
      const active = at(s, 'active_user_ratio');
      const trend = at(s, 'usage_trend');
      const overdue = at(s, 'overdue_receivables');
      const findings = at(s, 'open_findings');
      const tenure = at(s, 'tenure_years');
      const inputs: HealthInputs = {
        utilisation: util === null ? null : { ratio: util, byModel: { [s.model]: { entitlements: 1, ratio: util } } },
        contractAgeDays: tenure === null ? null : Math.round(tenure * 365),
        activeUsers: active === null ? null : { active: Math.round(active * 1000), entitled: 1000 },
        usageTrend: trend === null ? null : { last90: Math.exp(trend), previous90: 1 },
        daysToRenewal: s.daysToRenewal,
        overdueReceivables: overdue === null ? null : { days: Math.round(Math.expm1(overdue)), amount: null, currency: null },
        openFindings: findings === null ? null : { count: Math.round(Math.expm1(findings)) },
        daysSinceLastUsage: null,
      };
      const h = scoreHealth(inputs, config);
      return h.score === null ? 0.5 : 1 - h.score / 100;
    },
  };
}

import { DEFAULT_HEALTH_CONFIG } from '../health/health.rules';
import { FEATURES, type FeatureName, type TermSample } from './churn.features';
import { healthBaseline } from './health-baseline';

function sample(values: Partial<Record<FeatureName, number | null>>, daysToRenewal = 90, model = 'NAMED_USER'): TermSample {
  return {
    lineId: 'l',
    entitlementId: 'e',
    accountId: 'a',
    sku: 'X',
    model,
    termEnd: '2026-06-30',
    snapshot: new Date('2026-04-01T00:00:00Z'),
    arrMinor: 100,
    currency: 'USD',
    renewed: true,
    daysToRenewal,
    values: FEATURES.map((f) => values[f] ?? null),
  };
}

describe('healthBaseline: the health rules as of a term snapshot', () => {
  const b = healthBaseline(DEFAULT_HEALTH_CONFIG);

  it('scores each measure from its feature with the default weights and bands, dropping days since last usage', () => {
    // utilisation 0.5 mature → yellow 50 (25); active 0.25 → red 0 (15); trend ×0.8 → yellow 50 (15);
    // 90 days to renewal → yellow 50 (10); 40 days overdue → red 0 (10); no findings → green 100 (10).
    // (25·50 + 15·0 + 15·50 + 10·50 + 10·0 + 10·100) ÷ 85 = 3500 ÷ 85 = 41.2 → risk 0.588.
    const s = sample({
      utilisation: 0.5,
      active_user_ratio: 0.25,
      usage_trend: Math.log(0.8),
      overdue_receivables: Math.log(1 + 40),
      open_findings: 0,
      tenure_years: 2,
    });
    expect(b.score(s)).toBeCloseTo(0.588, 10);
  });

  it('uses onboarding bands for a young contract: 0.3 utilisation is yellow at 30 days, red when mature', () => {
    const young = sample({ utilisation: 0.3, tenure_years: 30 / 365 }, 200);
    const mature = sample({ utilisation: 0.3, tenure_years: 2 }, 200);
    // Only utilisation (25) and days to renewal (10, 200 days: green) have data.
    expect(b.score(young)).toBeCloseTo(1 - Math.round(((25 * 50 + 10 * 100) / 35) * 10) / 1000, 10);
    expect(b.score(mature)).toBeCloseTo(1 - Math.round(((25 * 0 + 10 * 100) / 35) * 10) / 1000, 10);
  });

  it('follows the configured weights', () => {
    const onlyOverdue = healthBaseline({ ...DEFAULT_HEALTH_CONFIG, weights: { ...DEFAULT_HEALTH_CONFIG.weights, daysToRenewal: 0 } });
    expect(onlyOverdue.score(sample({ overdue_receivables: Math.log(1 + 10) }))).toBeCloseTo(0.5, 10); // 10 days: yellow
    expect(onlyOverdue.score(sample({ overdue_receivables: 0 }))).toBeCloseTo(0, 10);
    expect(onlyOverdue.score(sample({}))).toBe(0.5); // no measure at all
  });
});

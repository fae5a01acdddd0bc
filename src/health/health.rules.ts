import { z } from 'zod';

/**
 * The explainable health score (docs/health.md, ADR 0031): each measure of an account is
 * scored into a band — GREEN 100 points, YELLOW 50, RED 0 — and the score is the weighted
 * average of the points of the measures that had data. A measure without data is dropped and
 * its weight shared among the others; `coverage` says how much of the total weight had data.
 * Pure: no database, no clock.
 */

export type Band = 'GREEN' | 'YELLOW' | 'RED';
export const BAND_POINTS: Record<Band, number> = { GREEN: 100, YELLOW: 50, RED: 0 };

export const MEASURES = [
  'utilisation',
  'activeUsers',
  'usageTrend',
  'daysToRenewal',
  'overdueReceivables',
  'openFindings',
  'daysSinceLastUsage',
] as const;
export type MeasureKey = (typeof MEASURES)[number];

/** Thresholds of one measure: higher is better (`min`) or lower is better (`max`). */
const higherIsBetter = z.strictObject({ green: z.number(), yellow: z.number() }).refine((b) => b.green >= b.yellow, 'green must be ≥ yellow (higher is better)');
const lowerIsBetter = z.strictObject({ green: z.number(), yellow: z.number() }).refine((b) => b.green <= b.yellow, 'green must be ≤ yellow (lower is better)');

export const healthConfigSchema = z.strictObject({
  weights: z.strictObject(Object.fromEntries(MEASURES.map((m) => [m, z.number().min(0).max(1000)])) as Record<MeasureKey, z.ZodNumber>),
  bands: z.strictObject({
    /** Utilisation (0–1) bands depend on contract age: lower expectations while a customer onboards. */
    utilisation: z.strictObject({ onboardingDays: z.number().int().min(0).max(3650), onboarding: higherIsBetter, mature: higherIsBetter }),
    /** Active users over 28 days ÷ entitled users (0–1+). */
    activeUsers: higherIsBetter,
    /** Usage over the last 90 days ÷ the 90 days before. */
    usageTrend: higherIsBetter,
    /** Days until the earliest live term ends (fewer is riskier). */
    daysToRenewal: higherIsBetter,
    /** Days the oldest open invoice is past due (0 = nothing overdue). */
    overdueReceivables: lowerIsBetter,
    /** Open or acknowledged compliance findings. */
    openFindings: lowerIsBetter,
    /** Days since the newest usage. */
    daysSinceLastUsage: lowerIsBetter,
  }),
  /** The score's own bands. */
  score: z.strictObject({ green: z.number().min(0).max(100), yellow: z.number().min(0).max(100) }).refine((b) => b.green >= b.yellow, 'green must be ≥ yellow'),
});
export type HealthConfig = z.infer<typeof healthConfigSchema>;

export const DEFAULT_HEALTH_CONFIG: HealthConfig = {
  weights: { utilisation: 25, activeUsers: 15, usageTrend: 15, daysToRenewal: 10, overdueReceivables: 10, openFindings: 10, daysSinceLastUsage: 15 },
  bands: {
    utilisation: { onboardingDays: 90, onboarding: { green: 0.4, yellow: 0.2 }, mature: { green: 0.7, yellow: 0.4 } },
    activeUsers: { green: 0.6, yellow: 0.3 },
    usageTrend: { green: 0.9, yellow: 0.7 },
    daysToRenewal: { green: 120, yellow: 45 },
    overdueReceivables: { green: 0, yellow: 30 },
    openFindings: { green: 0, yellow: 2 },
    daysSinceLastUsage: { green: 7, yellow: 30 },
  },
  score: { green: 70, yellow: 40 },
};

/**
 * The configuration from `EHUB_HEALTH_CONFIG` (JSON, any part of the defaults: the rest
 * keeps its default). Throws with every problem listed.
 */
export function parseHealthConfig(json: string | undefined | null): HealthConfig {
  if (!json?.trim()) return DEFAULT_HEALTH_CONFIG;
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new Error(`EHUB_HEALTH_CONFIG is not JSON: ${(err as Error).message}`);
  }
  const merged = deepMerge(DEFAULT_HEALTH_CONFIG, raw);
  const parsed = healthConfigSchema.safeParse(merged);
  if (!parsed.success) {
    throw new Error(`EHUB_HEALTH_CONFIG is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  if (MEASURES.every((m) => parsed.data.weights[m] === 0)) throw new Error('EHUB_HEALTH_CONFIG is invalid: weights: at least one measure needs a weight above 0');
  return parsed.data;
}

function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (base && over && typeof base === 'object' && typeof over === 'object' && !Array.isArray(base) && !Array.isArray(over)) {
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [k, v] of Object.entries(over as Record<string, unknown>)) out[k] = deepMerge((base as Record<string, unknown>)[k], v);
    return out;
  }
  return over;
}

/** What the database knows of an account as of the scoring instant; null = no data for that measure. */
export interface HealthInputs {
  /** Mean utilisation (0–1+) over live entitlements with a capacity, and how many there were per model. */
  utilisation: { ratio: number; byModel: Record<string, { entitlements: number; ratio: number }> } | null;
  /** Days since the oldest live entitlement started. */
  contractAgeDays: number | null;
  activeUsers: { active: number; entitled: number } | null;
  usageTrend: { last90: number; previous90: number } | null;
  daysToRenewal: number | null;
  /** Days the oldest open invoice is overdue (0 when nothing is) and the overdue amount, when the ERP reports receivables. */
  overdueReceivables: { days: number; amount: string | null; currency: string | null } | null;
  openFindings: { count: number } | null;
  daysSinceLastUsage: number | null;
}

export interface MeasureScore {
  key: MeasureKey;
  /** The measured value (a ratio or a count of days), null when there was no data. */
  value: number | null;
  band: Band | null;
  points: number | null;
  /** The configured weight, and the share of the score it carried after missing measures were dropped (0–1). */
  weight: number;
  effectiveWeight: number;
  /** A sentence for people: what was measured, against which band. */
  explanation: string;
}

export interface HealthResult {
  /** 0–100, one decimal; null when no measure had data. */
  score: number | null;
  band: Band | null;
  /** Share of the total weight whose measure had data (0–1). */
  coverage: number;
  measures: MeasureScore[];
}

const pct = (x: number) => `${Math.round(x * 1000) / 10} %`;

function higher(value: number, b: { green: number; yellow: number }): Band {
  return value >= b.green ? 'GREEN' : value >= b.yellow ? 'YELLOW' : 'RED';
}
function lower(value: number, b: { green: number; yellow: number }): Band {
  return value <= b.green ? 'GREEN' : value <= b.yellow ? 'YELLOW' : 'RED';
}

/** Scores one account's inputs. */
export function scoreHealth(inputs: HealthInputs, config: HealthConfig = DEFAULT_HEALTH_CONFIG): HealthResult {
  const b = config.bands;
  const parts: Array<Omit<MeasureScore, 'weight' | 'effectiveWeight' | 'points'>> = [];

  if (inputs.utilisation) {
    const onboarding = inputs.contractAgeDays !== null && inputs.contractAgeDays < b.utilisation.onboardingDays;
    const bands = onboarding ? b.utilisation.onboarding : b.utilisation.mature;
    const models = Object.entries(inputs.utilisation.byModel)
      .map(([m, v]) => `${m.toLowerCase().replace('_', ' ')} ${pct(v.ratio)} (${v.entitlements})`)
      .join(', ');
    parts.push({
      key: 'utilisation',
      value: round4(inputs.utilisation.ratio),
      band: higher(inputs.utilisation.ratio, bands),
      explanation: `${pct(inputs.utilisation.ratio)} of what was sold is in use (${models}); ${onboarding ? `onboarding bands (contract ${inputs.contractAgeDays} days old)` : 'mature-contract bands'}: green ≥ ${pct(bands.green)}, yellow ≥ ${pct(bands.yellow)}`,
    });
  } else parts.push(missing('utilisation', 'no live seat, device, floating or metered entitlement to measure'));

  if (inputs.activeUsers && inputs.activeUsers.entitled > 0) {
    const r = inputs.activeUsers.active / inputs.activeUsers.entitled;
    parts.push({
      key: 'activeUsers',
      value: round4(r),
      band: higher(r, b.activeUsers),
      explanation: `${inputs.activeUsers.active} active users over 28 days of ${inputs.activeUsers.entitled} entitled (${pct(r)}); green ≥ ${pct(b.activeUsers.green)}, yellow ≥ ${pct(b.activeUsers.yellow)}`,
    });
  } else parts.push(missing('activeUsers', 'no named-user or floating entitlement to count users against'));

  if (inputs.usageTrend && inputs.usageTrend.previous90 > 0) {
    const r = inputs.usageTrend.last90 / inputs.usageTrend.previous90;
    parts.push({
      key: 'usageTrend',
      value: round4(r),
      band: higher(r, b.usageTrend),
      explanation: `usage over the last 90 days is ${pct(r)} of the 90 before (${inputs.usageTrend.last90} vs ${inputs.usageTrend.previous90} events); green ≥ ${pct(b.usageTrend.green)}, yellow ≥ ${pct(b.usageTrend.yellow)}`,
    });
  } else parts.push(missing('usageTrend', 'no usage in the 90 days before the last 90 to compare with'));

  if (inputs.daysToRenewal !== null) {
    parts.push({
      key: 'daysToRenewal',
      value: inputs.daysToRenewal,
      band: higher(inputs.daysToRenewal, b.daysToRenewal),
      explanation: `the earliest live term ends in ${inputs.daysToRenewal} days; green ≥ ${b.daysToRenewal.green}, yellow ≥ ${b.daysToRenewal.yellow}`,
    });
  } else parts.push(missing('daysToRenewal', 'no live term entitlement (perpetual or none)'));

  if (inputs.overdueReceivables) {
    const d = inputs.overdueReceivables.days;
    parts.push({
      key: 'overdueReceivables',
      value: d,
      band: lower(d, b.overdueReceivables),
      explanation:
        d > 0
          ? `the oldest open invoice is ${d} days overdue${inputs.overdueReceivables.amount ? ` (${inputs.overdueReceivables.amount} ${inputs.overdueReceivables.currency ?? ''} overdue)` : ''}; green ≤ ${b.overdueReceivables.green}, yellow ≤ ${b.overdueReceivables.yellow} days`
          : 'nothing is overdue',
    });
  } else parts.push(missing('overdueReceivables', 'no receivables from an ERP for this account'));

  if (inputs.openFindings) {
    const n = inputs.openFindings.count;
    parts.push({
      key: 'openFindings',
      value: n,
      band: lower(n, b.openFindings),
      explanation: `${n} open compliance finding${n === 1 ? '' : 's'}; green ≤ ${b.openFindings.green}, yellow ≤ ${b.openFindings.yellow}`,
    });
  } else parts.push(missing('openFindings', 'compliance has not run for this account'));

  if (inputs.daysSinceLastUsage !== null) {
    const d = inputs.daysSinceLastUsage;
    parts.push({
      key: 'daysSinceLastUsage',
      value: d,
      band: lower(d, b.daysSinceLastUsage),
      explanation: `last usage ${d} day${d === 1 ? '' : 's'} ago; green ≤ ${b.daysSinceLastUsage.green}, yellow ≤ ${b.daysSinceLastUsage.yellow}`,
    });
  } else parts.push(missing('daysSinceLastUsage', 'no usage has ever been reported'));

  const total = MEASURES.reduce((s, m) => s + config.weights[m], 0);
  const present = parts.filter((p) => p.band !== null && config.weights[p.key] > 0);
  const presentWeight = present.reduce((s, p) => s + config.weights[p.key], 0);
  const measures: MeasureScore[] = parts.map((p) => {
    const weight = config.weights[p.key];
    const counted = p.band !== null && weight > 0;
    return {
      ...p,
      points: p.band ? BAND_POINTS[p.band] : null,
      weight,
      effectiveWeight: counted && presentWeight > 0 ? round4(weight / presentWeight) : 0,
    };
  });
  if (presentWeight === 0) return { score: null, band: null, coverage: 0, measures };
  const score = Math.round((present.reduce((s, p) => s + config.weights[p.key] * BAND_POINTS[p.band!], 0) / presentWeight) * 10) / 10;
  return { score, band: scoreBand(score, config), coverage: round4(presentWeight / total), measures };
}

export function scoreBand(score: number, config: HealthConfig = DEFAULT_HEALTH_CONFIG): Band {
  return score >= config.score.green ? 'GREEN' : score >= config.score.yellow ? 'YELLOW' : 'RED';
}

/** The churn-risk band the CRM shows when no churn model is trained: from the health band. */
export function riskFromHealth(band: Band | null): 'LOW' | 'MEDIUM' | 'HIGH' | null {
  return band === 'GREEN' ? 'LOW' : band === 'YELLOW' ? 'MEDIUM' : band === 'RED' ? 'HIGH' : null;
}

function missing(key: MeasureKey, why: string): Omit<MeasureScore, 'weight' | 'effectiveWeight' | 'points'> {
  return { key, value: null, band: null, explanation: `no data: ${why}; its weight is shared among the other measures` };
}

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

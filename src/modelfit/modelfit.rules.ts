import { MonetizationModel, PricingModel } from '../catalog/catalog.enums';

/**
 * Monetization-model fit, the pure part (ADR 0033, docs/model-fit.md): the usage shape of one
 * account's product over the analysis window, its re-rating under each priced model, and the
 * recommendation rule. Money is bigint minor units; quantities that can be fractional (meter
 * units) are decimal strings handled as scaled integers, never floats.
 */

export interface ModelFitConfig {
  /** Days of usage history (first usage in the window → window end) before a product is analysed. */
  minHistoryDays: number;
  /** Capacity models are sized at the observed peak plus this many percent, rounded up to whole units. */
  headroomPercent: number;
  /** A change is recommended only when it saves at least this share (percent) of the baseline. */
  minSavingPercent: number;
}

export const DEFAULT_MODEL_FIT_CONFIG: ModelFitConfig = { minHistoryDays: 90, headroomPercent: 10, minSavingPercent: 10 };
/** The analysis window: the last 365 complete UTC days. Amounts are per year. */
export const WINDOW_DAYS = 365;

/** What the database gives for one account and product over the window. */
export interface UsageFacts {
  /** YYYY-MM-DD, exclusive: the window is [windowTo − 365 days, windowTo). */
  windowTo: string;
  /** The first UTC day with usage in the window; null when there is none. */
  firstUsageDay: string | null;
  /** Days with usage: events and distinct users that day. */
  days: { day: string; events: number; users: number }[];
  distinctUsers: number;
  /** Distinct users over the last 30 days of the window. */
  usersLast30Days: number;
  /** The most distinct users (devices) seen in one calendar month of the window. */
  peakMonthlyUsers: number;
  peakMonthlyDevices: number;
  distinctDevices: number;
  /** The most distinct users seen in one clock hour. */
  peakHourlyUsers: number;
  /** The most floating leases held at once. */
  peakLeases: number;
  /** Named and concurrent seats of the product's live entitlements; null when it has none. */
  seatsOwned: number | null;
  /** Units per billable meter over the window (decimal strings), by meter key. */
  meterUnits: Record<string, string>;
}

export interface UsageShape {
  historyDays: number;
  activeDays: number;
  distinctUsers: number;
  peakMonthlyUsers: number;
  /** The larger of the hourly distinct-user peak and the floating-lease peak. */
  peakConcurrentUsers: number;
  averageDailyActiveUsers: number;
  peakDailyActiveUsers: number;
  /** Peak daily active users ÷ average daily active users (over every day of the history); null without users. */
  peakToAverage: number | null;
  seatsOwned: number | null;
  activeUsersLast30Days: number;
  /** Seats owned that no user used in the last 30 days, as a share of the seats; null without seats. */
  idleSeatShare: number | null;
  /** Coefficient of variation of daily events over every day of the history (0 = flat); null without events. */
  burstiness: number | null;
  distinctDevices: number;
  peakMonthlyDevices: number;
  meterUnits: { meterKey: string; units: string }[];
}

/** A model price as the rating reads it. */
export interface PriceTerms {
  model: PricingModel;
  unitPriceMinor: bigint;
  perUnits: number;
  meterKey: string | null;
  baseFeeMinor: bigint | null;
  includedUnits: string | null;
}

export interface ModelCharge {
  model: PricingModel;
  rateable: boolean;
  /** Why the model was or could not be rated, in words. */
  explanation: string;
  /** The observed driver: users, devices, or annualised meter units (decimal string). */
  unitsNeeded: string | null;
  /** What would be bought: capacity with headroom (whole units), or the annualised units. */
  unitsRated: string | null;
  chargeMinor: bigint | null;
}

export type BaselineSource = 'CATALOG' | 'PAID';

export interface Recommendation {
  /** KEEP, or the model to move to. */
  recommendation: string;
  recommendedModel: PricingModel | null;
  baselineMinor: bigint | null;
  baselineSource: BaselineSource | null;
  /** Baseline − the recommended model's charge, per year; null when keeping. */
  savingMinor: bigint | null;
  reason: string;
}

const DAY_MS = 86_400_000;
const round4 = (v: number) => Number(v.toFixed(4));

export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);
}

/** The shape of usage behind the rating (every figure over the history days, idle days counted as zero). */
export function usageShape(f: UsageFacts): UsageShape {
  const historyDays = f.firstUsageDay ? daysBetween(f.firstUsageDay, f.windowTo) : 0;
  const n = Math.max(1, historyDays);
  const userSum = f.days.reduce((s, d) => s + d.users, 0);
  const eventSum = f.days.reduce((s, d) => s + d.events, 0);
  const eventSq = f.days.reduce((s, d) => s + d.events * d.events, 0);
  const avgUsers = userSum / n;
  const peakDaily = f.days.reduce((m, d) => Math.max(m, d.users), 0);
  const mean = eventSum / n;
  const variance = Math.max(0, eventSq / n - mean * mean);
  return {
    historyDays,
    activeDays: f.days.length,
    distinctUsers: f.distinctUsers,
    peakMonthlyUsers: f.peakMonthlyUsers,
    peakConcurrentUsers: Math.max(f.peakHourlyUsers, f.peakLeases),
    averageDailyActiveUsers: round4(avgUsers),
    peakDailyActiveUsers: peakDaily,
    peakToAverage: avgUsers > 0 ? round4(peakDaily / avgUsers) : null,
    seatsOwned: f.seatsOwned,
    activeUsersLast30Days: f.usersLast30Days,
    idleSeatShare: f.seatsOwned && f.seatsOwned > 0 ? round4(Math.max(0, f.seatsOwned - f.usersLast30Days) / f.seatsOwned) : null,
    burstiness: mean > 0 ? round4(Math.sqrt(variance) / mean) : null,
    distinctDevices: f.distinctDevices,
    peakMonthlyDevices: f.peakMonthlyDevices,
    meterUnits: Object.entries(f.meterUnits)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([meterKey, units]) => ({ meterKey, units })),
  };
}

// ------------------------------------------------------------------ exact arithmetic

interface Scaled {
  n: bigint;
  scale: number;
}

/** "12.345" → 12345 at scale 3 (exact). */
export function parseDecimal(s: string): Scaled {
  const t = s.trim();
  if (!/^-?\d+(\.\d+)?$/.test(t)) throw new RangeError(`not a decimal: ${s}`);
  const [i, f = ''] = t.split('.');
  return { n: BigInt(i! + f), scale: f.length };
}

const pow10 = (k: number) => 10n ** BigInt(k);

/** num ÷ den rounded half up (both ≥ 0, den > 0). */
export function divRound(num: bigint, den: bigint): bigint {
  return (num * 2n + den) / (2n * den);
}

/** num ÷ den as a decimal string with at most 4 decimals (half up), trailing zeros dropped. */
export function ratioText(num: bigint, den: bigint): string {
  const v = divRound(num * 10_000n, den);
  const s = v.toString().padStart(5, '0');
  return `${s.slice(0, -4)}.${s.slice(-4)}`.replace(/\.?0+$/, '');
}

/** Whole units that cover `need` with `headroomPercent` to spare: ⌈need × (100 + h) ÷ 100⌉. */
export function withHeadroom(need: number, headroomPercent: number): number {
  const n = BigInt(need) * BigInt(100 + headroomPercent);
  return Number((n + 99n) / 100n);
}

// ------------------------------------------------------------------ rating

const CAPACITY: Partial<Record<PricingModel, { driver: (s: UsageShape) => number; what: string; none: string }>> = {
  [PricingModel.NAMED_USER]: { driver: (s) => s.peakMonthlyUsers, what: 'named users (the most distinct users in one month)', none: 'no user ids in the usage' },
  [PricingModel.CONCURRENT]: { driver: (s) => s.peakConcurrentUsers, what: 'concurrent users (the most distinct users in one hour, or leases held at once)', none: 'no user ids or leases in the usage' },
  [PricingModel.DEVICE_LOCKED]: { driver: (s) => s.peakMonthlyDevices, what: 'devices (the most distinct devices in one month)', none: 'no device ids in the usage' },
};

/**
 * What one priced model would have charged for a year of this usage:
 * - per user / concurrent user / device and year: the observed peak plus headroom, in whole units, × the unit price;
 * - USAGE: the meter's units annualised (× 365 ÷ history days) × the unit price ÷ perUnits;
 * - HYBRID: the base fee + the annualised units beyond the included ones × the overage price ÷ perUnits.
 * Rounded half up to the minor unit once, at the end.
 */
export function rateModel(price: PriceTerms, shape: UsageShape, cfg: ModelFitConfig): ModelCharge {
  const cap = CAPACITY[price.model];
  if (cap) {
    const need = cap.driver(shape);
    if (need <= 0) return { model: price.model, rateable: false, explanation: `Not rated: ${cap.none}`, unitsNeeded: null, unitsRated: null, chargeMinor: null };
    const rated = withHeadroom(need, cfg.headroomPercent);
    const charge = BigInt(rated) * price.unitPriceMinor;
    return {
      model: price.model,
      rateable: true,
      explanation: `${need} ${cap.what} + ${cfg.headroomPercent} % headroom = ${rated} × ${price.unitPriceMinor} a year`,
      unitsNeeded: String(need),
      unitsRated: String(rated),
      chargeMinor: charge,
    };
  }
  const units = price.meterKey ? shape.meterUnits.find((m) => m.meterKey === price.meterKey) : undefined;
  if (!units || shape.historyDays <= 0) {
    return { model: price.model, rateable: false, explanation: `Not rated: no usage of meter ${price.meterKey} in the window`, unitsNeeded: null, unitsRated: null, chargeMinor: null };
  }
  const u = parseDecimal(units.units);
  // Annual units = u.n × 365 ÷ (10^scale × history days), kept as a fraction.
  const num = u.n * BigInt(WINDOW_DAYS);
  const den = pow10(u.scale) * BigInt(shape.historyDays);
  const annual = ratioText(num, den);
  const per = BigInt(price.perUnits);
  if (price.model === PricingModel.USAGE) {
    const charge = divRound(num * price.unitPriceMinor, den * per);
    return {
      model: price.model,
      rateable: true,
      explanation: `${units.units} ${price.meterKey} in ${shape.historyDays} days = ${annual} a year × ${price.unitPriceMinor} per ${price.perUnits}`,
      unitsNeeded: annual,
      unitsRated: annual,
      chargeMinor: charge,
    };
  }
  const inc = parseDecimal(price.includedUnits ?? '0');
  // Over a common denominator D = den × 10^inc.scale.
  const overNum = num * pow10(inc.scale) - inc.n * den;
  const overage = overNum > 0n ? divRound(overNum * price.unitPriceMinor, den * pow10(inc.scale) * per) : 0n;
  const base = price.baseFeeMinor ?? 0n;
  return {
    model: price.model,
    rateable: true,
    explanation:
      overNum > 0n
        ? `base ${base} with ${price.includedUnits} ${price.meterKey} included + ${ratioText(overNum, den * pow10(inc.scale))} over × ${price.unitPriceMinor} per ${price.perUnits} (${annual} a year)`
        : `base ${base}: ${annual} ${price.meterKey} a year are within the ${price.includedUnits} included`,
    unitsNeeded: annual,
    unitsRated: annual,
    chargeMinor: base + overage,
  };
}

/** The pricing model an entitlement model is sold as; null for models with no fit price (PERPETUAL, SUBSCRIPTION, OUTCOME). */
export function pricingModelOf(model: MonetizationModel | null): PricingModel | null {
  switch (model) {
    case MonetizationModel.NAMED_USER:
      return PricingModel.NAMED_USER;
    case MonetizationModel.CONCURRENT:
      return PricingModel.CONCURRENT;
    case MonetizationModel.DEVICE_LOCKED:
      return PricingModel.DEVICE_LOCKED;
    case MonetizationModel.USAGE:
      return PricingModel.USAGE;
    case MonetizationModel.METERED:
      return PricingModel.HYBRID;
    default:
      return null;
  }
}

/** Tie order: predictable bills before pay-per-use. */
const ORDER = [PricingModel.NAMED_USER, PricingModel.CONCURRENT, PricingModel.DEVICE_LOCKED, PricingModel.HYBRID, PricingModel.USAGE];

const pct = (part: bigint, whole: bigint) => (whole > 0n ? Number(divRound(part * 1000n, whole)) / 10 : 0);

/**
 * The rule (ADR 0033): the baseline is the current model at catalog prices (so a discount
 * neither hides nor invents a better fit), else what was paid in the window. Recommend the
 * cheapest rateable model — capacity sized to the observed peak plus headroom — when it saves
 * at least `minSavingPercent` of the baseline; otherwise KEEP. Ties go to the current model,
 * then to the more predictable bill.
 */
export function recommend(current: MonetizationModel | null, charges: readonly ModelCharge[], paidMinor: bigint | null, cfg: ModelFitConfig): Recommendation {
  const keep = (reason: string, baselineMinor: bigint | null = null, baselineSource: BaselineSource | null = null): Recommendation => ({
    recommendation: 'KEEP',
    recommendedModel: null,
    baselineMinor,
    baselineSource,
    savingMinor: null,
    reason,
  });
  const rated = charges.filter((c) => c.rateable && c.chargeMinor !== null);
  if (!rated.length) return keep('No priced model could be rated from this usage.');
  const currentPricing = pricingModelOf(current);
  const currentCharge = rated.find((c) => c.model === currentPricing);
  const baseline: { minor: bigint; source: BaselineSource } | null = currentCharge
    ? { minor: currentCharge.chargeMinor!, source: 'CATALOG' }
    : paidMinor !== null && paidMinor > 0n
      ? { minor: paidMinor, source: 'PAID' }
      : null;
  if (!baseline) return keep(`Nothing to compare with: the current model (${current ?? 'none'}) has no catalog price here and nothing was paid in the window.`);
  const best = [...rated].sort(
    (a, b) =>
      (a.chargeMinor! < b.chargeMinor! ? -1 : a.chargeMinor! > b.chargeMinor! ? 1 : 0) ||
      Number(b.model === currentPricing) - Number(a.model === currentPricing) ||
      ORDER.indexOf(a.model) - ORDER.indexOf(b.model),
  )[0]!;
  const what = baseline.source === 'CATALOG' ? `${currentPricing} at catalog prices` : 'what was paid';
  if (best.model === currentPricing) return keep(`${currentPricing} is already the cheapest model that covers the observed usage.`, baseline.minor, baseline.source);
  const saving = baseline.minor - best.chargeMinor!;
  if (saving <= 0n) return keep(`No priced model costs less than ${what} (${baseline.minor}).`, baseline.minor, baseline.source);
  if (saving * 100n < BigInt(cfg.minSavingPercent) * baseline.minor) {
    return keep(
      `${best.model} would cost ${best.chargeMinor} a year against ${baseline.minor} (${what}): ${pct(saving, baseline.minor)} % less, below the ${cfg.minSavingPercent} % needed to recommend a change.`,
      baseline.minor,
      baseline.source,
    );
  }
  return {
    recommendation: best.model,
    recommendedModel: best.model,
    baselineMinor: baseline.minor,
    baselineSource: baseline.source,
    savingMinor: saving,
    reason: `${best.model} covers the observed usage${CAPACITY[best.model] ? ` with ${cfg.headroomPercent} % headroom` : ''} for ${best.chargeMinor} a year against ${baseline.minor} (${what}): ${saving} (${pct(saving, baseline.minor)} %) less.`,
  };
}

/** The CRM's one-line summary of an account's fit: KEEP, or the largest saving's model, product and amount. */
export function fitSummary(recommendations: readonly { sku: string; currency: string; rec: Recommendation }[], major: (minor: bigint, currency: string) => string): string {
  const changes = recommendations.filter((r) => r.rec.savingMinor !== null && r.rec.recommendedModel !== null);
  if (!changes.length) return 'KEEP';
  const top = [...changes].sort((a, b) => (a.rec.savingMinor! > b.rec.savingMinor! ? -1 : a.rec.savingMinor! < b.rec.savingMinor! ? 1 : a.sku.localeCompare(b.sku)))[0]!;
  return `${top.rec.recommendedModel} for ${top.sku}: ${major(top.rec.savingMinor!, top.currency)} ${top.currency} a year less`.slice(0, 255);
}

/**
 * Pure revenue rules: the recognition pattern of an obligation, allocation of a transaction
 * price by relative SSP, and the schedule (initial and after a prospective modification).
 * No database here; RevenueService feeds these and stores what they return.
 */
import { splitByLargestRemainder } from '../common/money';
import { addDays, foldInto, monthOf, ratableSchedule, type MonthAmount } from './periods';

export enum RevenuePattern {
  POINT_IN_TIME = 'POINT_IN_TIME',
  RATABLE = 'RATABLE',
  AS_CONSUMED = 'AS_CONSUMED',
  ON_DELIVERY = 'ON_DELIVERY',
}

/**
 * The default pattern from product kind and monetization model (a revenue_product_policy
 * row overrides it):
 * - SUPPORT and SAAS products, and SUBSCRIPTION lines: RATABLE over the service period.
 * - USAGE and OUTCOME lines: AS_CONSUMED (variable consideration, recognised from usage).
 * - SERVICE products: ON_DELIVERY (at the start date), or RATABLE when the line has an end date
 *   (a service delivered over a period, e.g. a managed service or a training programme).
 * - NAMED_USER, CONCURRENT and METERED lines with an end date: RATABLE (a term right of use);
 *   without an end date: POINT_IN_TIME.
 * - PERPETUAL and DEVICE_LOCKED licences, HARDWARE and IOT_DEVICE: POINT_IN_TIME at the start date.
 */
export function defaultPattern(kind: string, model: string, hasEndDate: boolean): RevenuePattern {
  if (model === 'USAGE' || model === 'OUTCOME') return RevenuePattern.AS_CONSUMED;
  if (kind === 'SERVICE') return hasEndDate ? RevenuePattern.RATABLE : RevenuePattern.ON_DELIVERY;
  if (kind === 'SUPPORT' || kind === 'SAAS' || model === 'SUBSCRIPTION') return hasEndDate ? RevenuePattern.RATABLE : RevenuePattern.POINT_IN_TIME;
  if (kind === 'HARDWARE' || kind === 'IOT_DEVICE') return RevenuePattern.POINT_IN_TIME;
  if (model === 'PERPETUAL' || model === 'DEVICE_LOCKED') return RevenuePattern.POINT_IN_TIME;
  return hasEndDate ? RevenuePattern.RATABLE : RevenuePattern.POINT_IN_TIME;
}

export interface AllocationInput {
  /** Standalone selling price of the obligation (per-unit SSP × quantity); null = unknown. */
  ssp: bigint | null;
}

export type AllocationResult = { ok: true; allocated: bigint[] } | { ok: false; missing: number[] };

/**
 * Allocates `total` by relative SSP with largest remainder, so the parts sum to `total`
 * exactly. A single obligation takes the whole price (no allocation needed, SSP or not); with
 * several, every SSP must be known: the indexes of those missing are returned, never guessed.
 */
export function allocate(total: bigint, obligations: AllocationInput[]): AllocationResult {
  if (obligations.length === 1) return { ok: true, allocated: [total] };
  const missing = obligations.flatMap((o, i) => (o.ssp === null ? [i] : []));
  if (missing.length) return { ok: false, missing };
  return { ok: true, allocated: splitByLargestRemainder(total, obligations.map((o) => o.ssp!)) };
}

export interface ScheduleTerms {
  pattern: RevenuePattern;
  amount: bigint;
  startDate: string;
  endDate: string | null;
}

/** The initial schedule of a fixed-price obligation (AS_CONSUMED ones get none: usage makes theirs). */
export function initialSchedule(t: ScheduleTerms): MonthAmount[] {
  if (t.pattern === RevenuePattern.AS_CONSUMED) return [];
  if (t.pattern === RevenuePattern.RATABLE && t.endDate) return ratableSchedule(t.amount, t.startDate, t.endDate);
  return [{ month: monthOf(t.startDate), amount: t.amount }];
}

/**
 * A prospective modification. `ledger` is what the obligation's entries say per month so far;
 * months before `firstOpen` (the first open month on or after the effective date) are kept
 * as they are. The new allocation less what those months hold is spread over the rest of the
 * new service period from the effective month (ratable) or put in the delivery month (point
 * in time), and anything that would fall before `firstOpen` (a closed month) lands in it. Returns the ADJUSTMENT entries
 * (target minus ledger) per open month; they sum to new allocation − old ledger total.
 */
export function modificationAdjustments(ledger: MonthAmount[], next: ScheduleTerms, firstOpen: string, effectiveMonth: string = firstOpen): MonthAmount[] {
  if (next.pattern === RevenuePattern.AS_CONSUMED) return [];
  const locked = ledger.filter((e) => e.month < firstOpen).reduce((a, e) => a + e.amount, 0n);
  const remaining = next.amount - locked;
  let target: MonthAmount[];
  if (next.pattern === RevenuePattern.RATABLE && next.endDate) {
    // Spread from the effective month; the part of closed months then lands in the first open one.
    const from = next.startDate > effectiveMonth ? next.startDate : effectiveMonth;
    target = next.endDate >= from ? ratableSchedule(remaining, from, next.endDate) : [{ month: firstOpen, amount: remaining }];
  } else {
    target = [{ month: monthOf(next.startDate), amount: remaining }];
  }
  target = foldInto(target, firstOpen);
  const diff = new Map<string, bigint>();
  for (const e of target) diff.set(e.month, (diff.get(e.month) ?? 0n) + e.amount);
  for (const e of ledger) if (e.month >= firstOpen) diff.set(e.month, (diff.get(e.month) ?? 0n) - e.amount);
  return [...diff.entries()]
    .filter(([, v]) => v !== 0n)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([month, amount]) => ({ month, amount }));
}

/**
 * The allocation an obligation keeps when its service ends early on `lastDay` (cancellation,
 * upgrade): the share of the allocation for the days served (floored); the rest is released
 * (credited). A point-in-time obligation already delivered keeps everything.
 */
export function earnedUntil(t: ScheduleTerms, lastDay: string): bigint {
  if (t.pattern !== RevenuePattern.RATABLE || !t.endDate) return lastDay >= t.startDate ? t.amount : 0n;
  if (lastDay >= t.endDate) return t.amount;
  if (lastDay < t.startDate) return 0n;
  const served = BigInt(Math.round((Date.parse(`${addDays(lastDay, 1)}T00:00:00Z`) - Date.parse(`${t.startDate}T00:00:00Z`)) / 86_400_000));
  const total = BigInt(Math.round((Date.parse(`${addDays(t.endDate, 1)}T00:00:00Z`) - Date.parse(`${t.startDate}T00:00:00Z`)) / 86_400_000));
  return (t.amount * served) / total;
}

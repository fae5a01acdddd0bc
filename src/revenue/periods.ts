/**
 * Calendar arithmetic for revenue: months are `YYYY-MM-01` date strings, service periods are
 * `YYYY-MM-DD` dates with an inclusive end. All of it is pure date arithmetic (no instants), so
 * leap years and month ends come from the proleptic Gregorian calendar via Date.UTC.
 */
import { addDays, fromUtc, toUtc } from '../common/dates';
import { splitByLargestRemainder } from '../common/money';

export { addDays, todayIn } from '../common/dates';

const DAY_MS = 86_400_000;

/** Days from `start` to `end`, both inclusive (0 when end < start). */
export function daysInclusive(start: string, end: string): number {
  return Math.max(0, Math.round((toUtc(end) - toUtc(start)) / DAY_MS) + 1);
}

/** The month of a date, as its first day. */
export function monthOf(date: string): string {
  return `${date.slice(0, 7)}-01`;
}

export function addMonths(month: string, n: number): string {
  const [y, m] = month.split('-').map(Number);
  return fromUtc(Date.UTC(y!, m! - 1 + n, 1));
}

export function lastDayOfMonth(month: string): string {
  return addDays(addMonths(month, 1), -1);
}

/** `YYYY-MM` → `YYYY-MM-01`; throws on anything else. */
export function parseMonth(text: string): string | null {
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(text);
  return m ? `${m[1]}-${m[2]}-01` : null;
}

export interface MonthAmount {
  month: string;
  amount: bigint;
}

/**
 * Ratable recognition by actual days: each calendar month gets the days of [start, end]
 * (end inclusive) falling in it, over the total days. Floors every month and gives the
 * rounding remainder to the last month, so the parts sum exactly to `amount`.
 */
export function ratableSchedule(amount: bigint, start: string, end: string): MonthAmount[] {
  const total = daysInclusive(start, end);
  if (total <= 0) return [{ month: monthOf(start), amount }];
  const out: MonthAmount[] = [];
  let given = 0n;
  for (let month = monthOf(start); month <= monthOf(end); month = addMonths(month, 1)) {
    const from = start > month ? start : month;
    const to = lastDayOfMonth(month) > end ? end : lastDayOfMonth(month);
    const days = BigInt(daysInclusive(from, to));
    const part = (amount * days) / BigInt(total); // BigInt division truncates toward zero
    out.push({ month, amount: part });
    given += part;
  }
  out[out.length - 1]!.amount += amount - given;
  return out;
}

/** Adds up entries by month (months sorted ascending; zero months dropped). */
export function byMonth(entries: Iterable<MonthAmount>): Map<string, bigint> {
  const m = new Map<string, bigint>();
  for (const e of entries) m.set(e.month, (m.get(e.month) ?? 0n) + e.amount);
  return new Map([...m.entries()].filter(([, v]) => v !== 0n).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Moves every amount before `firstOpen` into `firstOpen` (closed months never change). */
export function foldInto(schedule: MonthAmount[], firstOpen: string): MonthAmount[] {
  return [...byMonth(schedule.map((e) => (e.month < firstOpen ? { month: firstOpen, amount: e.amount } : e))).entries()].map(([month, amount]) => ({ month, amount }));
}

export { splitByLargestRemainder };

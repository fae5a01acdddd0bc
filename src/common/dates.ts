/**
 * Calendar dates as `YYYY-MM-DD` strings: pure date arithmetic through Date.UTC (no
 * instants, no local time), so month ends and leap years come from the Gregorian calendar.
 */
const DAY_MS = 86_400_000;

export function toUtc(date: string): number {
  const [y, m, d] = date.split('-').map(Number);
  return Date.UTC(y!, m! - 1, d!);
}

export function fromUtc(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function addDays(date: string, days: number): string {
  return fromUtc(toUtc(date) + days * DAY_MS);
}

/** Today's date in a time zone (the contract or reporting calendar). */
export function todayIn(timeZone: string, now = new Date()): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
}

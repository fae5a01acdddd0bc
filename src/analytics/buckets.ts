/**
 * Time buckets of usage series. Rollups are kept in UTC hours and UTC days (see
 * docs/usage.md), so every bucket here is a UTC instant: hours, days, ISO weeks (Monday
 * 00:00 UTC) and calendar months (the 1st, 00:00 UTC). Pure functions; the SQL side uses
 * `date_trunc(unit, t, 'UTC')`, which agrees with them.
 */
export type Granularity = 'HOUR' | 'DAY' | 'WEEK' | 'MONTH';

/** The time zone of every bucket (rollup buckets and series buckets). */
export const BUCKET_TIME_ZONE = 'UTC';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** The `date_trunc` unit of a granularity. */
export const TRUNC_UNIT: Record<Granularity, 'hour' | 'day' | 'week' | 'month'> = {
  HOUR: 'hour',
  DAY: 'day',
  WEEK: 'week',
  MONTH: 'month',
};

/** The start of the bucket containing `t`. */
export function floorBucket(t: Date, g: Granularity): Date {
  const ms = t.getTime();
  switch (g) {
    case 'HOUR':
      return new Date(Math.floor(ms / HOUR_MS) * HOUR_MS);
    case 'DAY':
      return new Date(Math.floor(ms / DAY_MS) * DAY_MS);
    case 'WEEK': {
      const day = new Date(Math.floor(ms / DAY_MS) * DAY_MS);
      const sinceMonday = (day.getUTCDay() + 6) % 7; // Sunday 0 → 6, Monday 1 → 0
      return new Date(day.getTime() - sinceMonday * DAY_MS);
    }
    case 'MONTH':
      return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), 1));
  }
}

/** The start of the bucket after the one starting at `start`. */
export function nextBucket(start: Date, g: Granularity): Date {
  switch (g) {
    case 'HOUR':
      return new Date(start.getTime() + HOUR_MS);
    case 'DAY':
      return new Date(start.getTime() + DAY_MS);
    case 'WEEK':
      return new Date(start.getTime() + 7 * DAY_MS);
    case 'MONTH':
      return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
  }
}

/** `t` if it starts a bucket, else the start of the next bucket. */
export function ceilBucket(t: Date, g: Granularity): Date {
  const f = floorBucket(t, g);
  return f.getTime() === t.getTime() ? f : nextBucket(f, g);
}

/**
 * The buckets overlapping [from, to): from the start of the bucket holding `from` to the
 * end of the bucket holding the last instant before `to`. Null when there would be more
 * than `max` (so a huge range is refused before any work).
 */
export function bucketWindow(from: Date, to: Date, g: Granularity, max: number): { from: Date; to: Date; starts: Date[] } | null {
  const start = floorBucket(from, g);
  const end = ceilBucket(to, g);
  // A cheap upper bound first, so a range of centuries by the hour never builds a list.
  const roughly = (end.getTime() - start.getTime()) / ({ HOUR: HOUR_MS, DAY: DAY_MS, WEEK: 7 * DAY_MS, MONTH: 28 * DAY_MS }[g]);
  if (roughly > max * 1.2 + 2) return null;
  const starts: Date[] = [];
  for (let b = start; b.getTime() < end.getTime(); b = nextBucket(b, g)) {
    if (starts.length >= max) return null;
    starts.push(b);
  }
  return { from: start, to: end, starts };
}

import { bucketWindow, ceilBucket, floorBucket, nextBucket } from './buckets';

const d = (s: string) => new Date(s);
const iso = (x: Date) => x.toISOString();

describe('usage buckets (UTC)', () => {
  it('floors to hour, day, ISO week (Monday) and month', () => {
    const t = d('2027-03-10T13:45:12.345Z'); // a Wednesday
    expect(iso(floorBucket(t, 'HOUR'))).toBe('2027-03-10T13:00:00.000Z');
    expect(iso(floorBucket(t, 'DAY'))).toBe('2027-03-10T00:00:00.000Z');
    expect(iso(floorBucket(t, 'WEEK'))).toBe('2027-03-08T00:00:00.000Z');
    expect(iso(floorBucket(t, 'MONTH'))).toBe('2027-03-01T00:00:00.000Z');
  });

  it('puts Sunday in the week that started the Monday before, and Monday in its own', () => {
    expect(iso(floorBucket(d('2027-03-14T23:59:59.999Z'), 'WEEK'))).toBe('2027-03-08T00:00:00.000Z');
    expect(iso(floorBucket(d('2027-03-15T00:00:00.000Z'), 'WEEK'))).toBe('2027-03-15T00:00:00.000Z');
    // A week across a year end: 2026-12-28 is a Monday.
    expect(iso(floorBucket(d('2027-01-02T10:00:00Z'), 'WEEK'))).toBe('2026-12-28T00:00:00.000Z');
  });

  it('steps months across year ends and leap years', () => {
    expect(iso(nextBucket(d('2027-12-01T00:00:00Z'), 'MONTH'))).toBe('2028-01-01T00:00:00.000Z');
    expect(iso(nextBucket(d('2028-02-01T00:00:00Z'), 'MONTH'))).toBe('2028-03-01T00:00:00.000Z');
    expect(iso(floorBucket(d('2028-02-29T23:00:00Z'), 'MONTH'))).toBe('2028-02-01T00:00:00.000Z');
  });

  it('ceils to the next bucket start unless already on one', () => {
    expect(iso(ceilBucket(d('2027-03-10T00:00:00Z'), 'DAY'))).toBe('2027-03-10T00:00:00.000Z');
    expect(iso(ceilBucket(d('2027-03-10T00:00:00.001Z'), 'DAY'))).toBe('2027-03-11T00:00:00.000Z');
  });

  it('lists the buckets overlapping [from, to)', () => {
    const w = bucketWindow(d('2027-03-10T12:00:00Z'), d('2027-03-13T00:00:00Z'), 'DAY', 100)!;
    expect(w.starts.map(iso)).toEqual(['2027-03-10T00:00:00.000Z', '2027-03-11T00:00:00.000Z', '2027-03-12T00:00:00.000Z']);
    expect(iso(w.from)).toBe('2027-03-10T00:00:00.000Z');
    expect(iso(w.to)).toBe('2027-03-13T00:00:00.000Z');
    const m = bucketWindow(d('2027-01-31T00:00:00Z'), d('2027-04-01T00:00:00Z'), 'MONTH', 100)!;
    expect(m.starts.map(iso)).toEqual(['2027-01-01T00:00:00.000Z', '2027-02-01T00:00:00.000Z', '2027-03-01T00:00:00.000Z']);
  });

  it('refuses windows of more than max buckets, cheaply', () => {
    expect(bucketWindow(d('2027-01-01T00:00:00Z'), d('2027-01-01T10:00:00Z'), 'HOUR', 10)!.starts).toHaveLength(10);
    expect(bucketWindow(d('2027-01-01T00:00:00Z'), d('2027-01-01T11:00:00Z'), 'HOUR', 10)).toBeNull();
    expect(bucketWindow(d('1000-01-01T00:00:00Z'), d('9000-01-01T00:00:00Z'), 'HOUR', 10_000)).toBeNull();
  });
});

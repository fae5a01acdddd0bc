import { addMonths, daysInclusive, foldInto, lastDayOfMonth, monthOf, parseMonth, ratableSchedule } from './periods';

const sum = (xs: { amount: bigint }[]) => xs.reduce((a, x) => a + x.amount, 0n);

describe('periods', () => {
  it('counts days inclusively across leap years', () => {
    expect(daysInclusive('2027-01-01', '2027-12-31')).toBe(365);
    expect(daysInclusive('2028-01-01', '2028-12-31')).toBe(366);
    expect(daysInclusive('2028-01-15', '2029-01-14')).toBe(366);
    expect(daysInclusive('2028-02-01', '2028-02-29')).toBe(29);
    expect(daysInclusive('2027-03-02', '2027-03-01')).toBe(0);
  });

  it('does month arithmetic at month ends', () => {
    expect(monthOf('2028-02-29')).toBe('2028-02-01');
    expect(addMonths('2028-12-01', 1)).toBe('2029-01-01');
    expect(addMonths('2028-01-01', -1)).toBe('2027-12-01');
    expect(lastDayOfMonth('2028-02-01')).toBe('2028-02-29');
    expect(lastDayOfMonth('2027-02-01')).toBe('2027-02-28');
    expect(parseMonth('2028-02')).toBe('2028-02-01');
    expect(parseMonth('2028-13')).toBeNull();
  });

  it('spreads a subscription from mid-January across a leap February by actual days', () => {
    // 366 days: Jan 17, Feb 29, Mar 31, ..., Dec 31, Jan 14 (next year).
    const s = ratableSchedule(366_00n, '2028-01-15', '2029-01-14');
    expect(s.map((e) => [e.month, e.amount])).toEqual([
      ['2028-01-01', 1700n],
      ['2028-02-01', 2900n],
      ['2028-03-01', 3100n],
      ['2028-04-01', 3000n],
      ['2028-05-01', 3100n],
      ['2028-06-01', 3000n],
      ['2028-07-01', 3100n],
      ['2028-08-01', 3100n],
      ['2028-09-01', 3000n],
      ['2028-10-01', 3100n],
      ['2028-11-01', 3000n],
      ['2028-12-01', 3100n],
      ['2029-01-01', 1400n],
    ]);
  });

  it('gives the rounding remainder to the last month', () => {
    const s = ratableSchedule(100n, '2027-01-01', '2027-03-31'); // 31/90, 28/90, 31/90
    expect(s.map((e) => e.amount)).toEqual([34n, 31n, 35n]);
  });

  it('property: ratable schedules always sum exactly to the amount', () => {
    let seed = 42;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 2000; i++) {
      const start = `${2024 + rnd(6)}-${String(1 + rnd(12)).padStart(2, '0')}-${String(1 + rnd(28)).padStart(2, '0')}`;
      const d = new Date(`${start}T00:00:00Z`);
      d.setUTCDate(d.getUTCDate() + rnd(1500));
      const end = d.toISOString().slice(0, 10);
      const amount = BigInt(rnd(1_000_000_000)) * (rnd(10) === 0 ? -1n : 1n);
      const s = ratableSchedule(amount, start, end);
      expect(sum(s)).toBe(amount);
      expect(s[0]!.month).toBe(monthOf(start));
      expect(s[s.length - 1]!.month).toBe(monthOf(end));
    }
  });

  it('folds closed months into the first open month', () => {
    const s = foldInto(
      [
        { month: '2027-01-01', amount: 10n },
        { month: '2027-02-01', amount: 20n },
        { month: '2027-03-01', amount: 30n },
      ],
      '2027-02-01',
    );
    expect(s).toEqual([
      { month: '2027-02-01', amount: 30n },
      { month: '2027-03-01', amount: 30n },
    ]);
  });
});

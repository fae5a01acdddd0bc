import { allocate, defaultPattern, earnedUntil, initialSchedule, modificationAdjustments, RevenuePattern } from './revenue.rules';
import type { MonthAmount } from './periods';

const sum = (xs: { amount: bigint }[]) => xs.reduce((a, x) => a + x.amount, 0n);

describe('revenue rules', () => {
  it('derives the pattern from kind and model', () => {
    expect(defaultPattern('SOFTWARE', 'PERPETUAL', false)).toBe(RevenuePattern.POINT_IN_TIME);
    expect(defaultPattern('SOFTWARE', 'DEVICE_LOCKED', true)).toBe(RevenuePattern.POINT_IN_TIME);
    expect(defaultPattern('HARDWARE', 'PERPETUAL', false)).toBe(RevenuePattern.POINT_IN_TIME);
    expect(defaultPattern('SAAS', 'SUBSCRIPTION', true)).toBe(RevenuePattern.RATABLE);
    expect(defaultPattern('SUPPORT', 'SUBSCRIPTION', true)).toBe(RevenuePattern.RATABLE);
    expect(defaultPattern('SOFTWARE', 'NAMED_USER', true)).toBe(RevenuePattern.RATABLE);
    expect(defaultPattern('SOFTWARE', 'USAGE', true)).toBe(RevenuePattern.AS_CONSUMED);
    expect(defaultPattern('SAAS', 'OUTCOME', false)).toBe(RevenuePattern.AS_CONSUMED);
    expect(defaultPattern('SERVICE', 'PERPETUAL', false)).toBe(RevenuePattern.ON_DELIVERY);
    expect(defaultPattern('SERVICE', 'SUBSCRIPTION', true)).toBe(RevenuePattern.RATABLE);
  });

  it('allocates a discount by relative SSP, exactly', () => {
    // Licence SSP 1000.00, support 200.00, services 300.00; the deal is 1200.00.
    const r = allocate(120_000n, [{ ssp: 100_000n }, { ssp: 20_000n }, { ssp: 30_000n }]);
    expect(r).toEqual({ ok: true, allocated: [80_000n, 16_000n, 24_000n] });
    const odd = allocate(100n, [{ ssp: 1n }, { ssp: 1n }, { ssp: 1n }]);
    expect(odd).toEqual({ ok: true, allocated: [34n, 33n, 33n] });
  });

  it('names the obligations without an SSP instead of guessing', () => {
    expect(allocate(100n, [{ ssp: 10n }, { ssp: null }])).toEqual({ ok: false, missing: [1] });
    expect(allocate(100n, [{ ssp: null }])).toEqual({ ok: true, allocated: [100n] });
  });

  it('property: allocations always sum exactly', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 2000; i++) {
      const n = 1 + rnd(8);
      const ssps = Array.from({ length: n }, () => ({ ssp: BigInt(rnd(10_000_000)) }));
      const total = BigInt(rnd(2_000_000_000));
      const r = allocate(total, ssps);
      if (!r.ok) throw new Error('unexpected');
      expect(r.allocated.reduce((a, b) => a + b, 0n)).toBe(total);
      expect(r.allocated.every((x) => x >= 0n)).toBe(true);
    }
  });

  it('re-spreads prospectively: earlier months unchanged, the rest to the new total', () => {
    const terms = { pattern: RevenuePattern.RATABLE, amount: 365_00n, startDate: '2027-01-01', endDate: '2027-12-31' };
    const ledger: MonthAmount[] = initialSchedule(terms);
    // From July the price doubles for the rest of the year: new allocation = 182.00 (Jan-Jun... as recognised) + 2 × rest.
    const locked = sum(ledger.filter((e) => e.month < '2027-07-01'));
    const next = { ...terms, amount: locked + 2n * (365_00n - locked) };
    const adj = modificationAdjustments(ledger, next, '2027-07-01');
    expect(adj.every((e) => e.month >= '2027-07-01')).toBe(true);
    const after = new Map<string, bigint>();
    for (const e of [...ledger, ...adj]) after.set(e.month, (after.get(e.month) ?? 0n) + e.amount);
    expect(after.get('2027-06-01')).toBe(3000n);
    expect(after.get('2027-07-01')).toBe(6200n);
    expect([...after.values()].reduce((a, b) => a + b, 0n)).toBe(next.amount);
  });

  it('cancellation keeps what was earned for the days served', () => {
    const terms = { pattern: RevenuePattern.RATABLE, amount: 365_00n, startDate: '2027-01-01', endDate: '2027-12-31' };
    expect(earnedUntil(terms, '2027-03-31')).toBe(9000n);
    expect(earnedUntil(terms, '2026-12-31')).toBe(0n);
    expect(earnedUntil({ ...terms, pattern: RevenuePattern.POINT_IN_TIME }, '2027-03-31')).toBe(365_00n);
  });
});

import fc from 'fast-check';
import { parse } from 'csv-parse/sync';
import { check } from '../../test/support/property';
import { csvRecord, safeText } from './exports';
import { addDays, addMonths, daysInclusive, lastDayOfMonth, monthOf, ratableSchedule, type MonthAmount } from './periods';
import { allocate, earnedUntil, initialSchedule, modificationAdjustments, RevenuePattern } from './revenue.rules';

const sum = (xs: MonthAmount[]) => xs.reduce((a, x) => a + x.amount, 0n);
const day = fc.date({ min: new Date(Date.UTC(2000, 0, 1)), max: new Date(Date.UTC(2099, 11, 31)), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
/** A service period: start and an inclusive end up to ~6 years later. */
const period = fc.tuple(day, fc.integer({ min: 0, max: 2200 })).map(([start, len]) => ({ start, end: addDays(start, len) }));
const amount = fc.bigInt({ min: 0n, max: 10n ** 15n });
const pattern = fc.constantFrom(...Object.values(RevenuePattern));

describe('allocation (property)', () => {
  it('allocates the whole transaction price, to the minor unit, never a negative part', () => {
    const obligations = fc.array(fc.record({ ssp: fc.bigInt({ min: 0n, max: 10n ** 12n }) }), { minLength: 1, maxLength: 10 });
    check(
      fc.property(amount, obligations, (total, obs) => {
        const r = allocate(total, obs);
        if (!r.ok) throw new Error('every SSP was known');
        expect(r.allocated).toHaveLength(obs.length);
        expect(r.allocated.reduce((a, b) => a + b, 0n)).toBe(total);
        for (const part of r.allocated) expect(part >= 0n).toBe(true);
      }),
    );
  });

  it('names exactly the obligations without an SSP (when there are several)', () => {
    const obligations = fc.array(fc.record({ ssp: fc.option(fc.bigInt({ min: 0n, max: 10n ** 9n })) }), { minLength: 2, maxLength: 8 });
    check(
      fc.property(amount, obligations, (total, obs) => {
        const missing = obs.flatMap((o, i) => (o.ssp === null ? [i] : []));
        const r = allocate(total, obs);
        expect(r.ok ? [] : r.missing).toEqual(missing);
      }),
    );
  });
});

describe('schedules (property)', () => {
  it('a ratable schedule sums to the amount, one entry per calendar month of the period, none negative', () => {
    check(
      fc.property(amount, period, (a, { start, end }) => {
        const s = ratableSchedule(a, start, end);
        expect(sum(s)).toBe(a);
        expect(s[0]!.month).toBe(monthOf(start));
        expect(s[s.length - 1]!.month).toBe(monthOf(end));
        s.forEach((e, i) => {
          if (i > 0) expect(e.month).toBe(addMonths(s[i - 1]!.month, 1));
          expect(e.amount >= 0n).toBe(true);
        });
      }),
    );
  });

  it('every pattern schedules exactly the amount (AS_CONSUMED: nothing up front)', () => {
    check(
      fc.property(pattern, amount, period, fc.boolean(), (p, a, { start, end }, open) => {
        const s = initialSchedule({ pattern: p, amount: a, startDate: start, endDate: open ? null : end });
        expect(sum(s)).toBe(p === RevenuePattern.AS_CONSUMED ? 0n : a);
      }),
    );
  });

  it('a modification adjusts only open months, by exactly the new amount less what is locked and scheduled', () => {
    check(
      fc.property(pattern, amount, amount, period, period, fc.integer({ min: -24, max: 48 }), (p, a0, a1, first, next, shift) => {
        fc.pre(p !== RevenuePattern.AS_CONSUMED);
        const ledger = initialSchedule({ pattern: p, amount: a0, startDate: first.start, endDate: first.end });
        const firstOpen = addMonths(monthOf(first.start), shift);
        const adj = modificationAdjustments(ledger, { pattern: p, amount: a1, startDate: next.start, endDate: next.end }, firstOpen);
        for (const e of adj) expect(e.month >= firstOpen).toBe(true);
        // After the adjustments, the obligation's entries add up to the new amount.
        expect(sum(ledger) + sum(adj)).toBe(a1);
      }),
    );
  });

  it('earnedUntil: between nothing and everything, and never less for a later last day', () => {
    check(
      fc.property(pattern, amount, period, day, day, (p, a, { start, end }, d1, d2) => {
        const t = { pattern: p, amount: a, startDate: start, endDate: end };
        const [early, late] = d1 <= d2 ? [d1, d2] : [d2, d1];
        const e1 = earnedUntil(t, early);
        const e2 = earnedUntil(t, late);
        expect(e1 >= 0n && e2 <= a).toBe(true);
        expect(e1 <= e2).toBe(true);
        if (late >= end) expect(e2).toBe(a);
      }),
    );
  });

  it('period arithmetic: a month ends the day before the next begins; inclusive day counts add up', () => {
    check(
      fc.property(period, (p) => {
        const last = lastDayOfMonth(monthOf(p.start));
        expect(addDays(last, 1)).toBe(addMonths(monthOf(p.start), 1));
        const mid = p.start <= last && last < p.end ? last : null;
        if (mid) expect(daysInclusive(p.start, mid) + daysInclusive(addDays(mid, 1), p.end)).toBe(daysInclusive(p.start, p.end));
      }),
    );
  });
});

describe('CSV exports (property)', () => {
  const cell = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom(',', '"', '\n', '\r', ' ', 'a', '=', '-', '+', '@', '\t', 'é', '😀') }));

  it('a record parses back to exactly its cells (commas, quotes, line breaks, unicode)', () => {
    check(
      fc.property(fc.array(cell, { minLength: 1, maxLength: 8 }), (cells) => {
        const [row] = parse(`${csvRecord(cells)}\n`, { relax_quotes: false }) as string[][];
        expect(row).toEqual(cells);
      }),
      300,
    );
  });

  it('free text never starts a cell with a formula character, and keeps its text', () => {
    check(
      fc.property(cell, (v) => {
        const s = safeText(v);
        expect(s).not.toMatch(/^[=+\-@\t\r]/);
        expect(s.endsWith(v)).toBe(true);
      }),
    );
  });
});

import fc from 'fast-check';
import { check } from '../../test/support/property';
import { addDays, fromUtc, todayIn, toUtc } from './dates';
import { multiplyDecimal, toDecimalString, trimDecimal } from './decimal';
import { MinorAmountScalar, splitByLargestRemainder } from './money';

/** A decimal string and its exact value as (integer, scale): the reference for the checks. */
const decimal = fc
  .record({ neg: fc.boolean(), int: fc.bigInt({ min: 0n, max: 10n ** 20n }), scale: fc.integer({ min: 0, max: 12 }) })
  .map(({ neg, int, scale }) => {
    const digits = int.toString().padStart(scale + 1, '0');
    const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
    return { text: neg && int !== 0n ? `-${text}` : text, n: neg ? -int : int, scale };
  });

/** Exact value of a plain decimal string as (integer, scale); throws on anything else. */
function exact(s: string): { n: bigint; scale: number } {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(s);
  if (!m) throw new Error(`not a plain decimal: ${JSON.stringify(s)}`);
  const frac = m[3] ?? '';
  const n = BigInt(m[2]! + frac);
  return { n: m[1] ? -n : n, scale: frac.length };
}
const sameValue = (a: { n: bigint; scale: number }, b: { n: bigint; scale: number }) => {
  const scale = Math.max(a.scale, b.scale);
  return a.n * 10n ** BigInt(scale - a.scale) === b.n * 10n ** BigInt(scale - b.scale);
};

describe('money (property)', () => {
  const weights = fc.array(fc.bigInt({ min: 0n, max: 10n ** 15n }), { minLength: 1, maxLength: 12 });
  const total = fc.bigInt({ min: -(10n ** 18n), max: 10n ** 18n });

  it('largest remainder: the parts always add up to the whole, to the minor unit', () => {
    check(
      fc.property(total, weights, (t, w) => {
        const parts = splitByLargestRemainder(t, w);
        expect(parts).toHaveLength(w.length);
        expect(parts.reduce((a, b) => a + b, 0n)).toBe(t);
      }),
    );
  });

  it('largest remainder: each part is within one minor unit of its exact share, with the sign of the total', () => {
    check(
      fc.property(total, weights, (t, w) => {
        const sum = w.reduce((a, b) => a + b, 0n);
        fc.pre(sum > 0n);
        const parts = splitByLargestRemainder(t, w);
        parts.forEach((p, i) => {
          const diff = p * sum - t * w[i]!; // part − exact share, scaled by sum
          expect(diff < 0n ? -diff : diff).toBeLessThan(sum);
          if (t >= 0n) expect(p >= 0n).toBe(true);
          else expect(p <= 0n).toBe(true);
        });
      }),
    );
  });

  it('MinorAmount: digit strings and safe integers round-trip; anything else is a GraphQL error', () => {
    check(
      fc.property(fc.bigInt({ min: -(10n ** 18n - 1n), max: 10n ** 18n - 1n }), (n) => {
        expect(MinorAmountScalar.parseValue(n.toString())).toBe(n.toString());
        expect(MinorAmountScalar.serialize(n)).toBe(n.toString());
      }),
    );
    check(
      fc.property(fc.oneof(fc.string(), fc.double(), fc.constant(null), fc.object(), fc.bigInt().map(String)), (v) => {
        let out: unknown;
        try {
          out = MinorAmountScalar.parseValue(v);
        } catch (err) {
          expect((err as Error).constructor.name).toBe('GraphQLError');
          return;
        }
        expect(String(out)).toMatch(/^-?\d{1,18}$/);
      }),
    );
  });
});

describe('decimal (property)', () => {
  it('multiplyDecimal is the exact product, as a plain decimal', () => {
    check(
      fc.property(decimal, decimal, (a, b) => {
        const got = exact(multiplyDecimal(a.text, b.text));
        expect(sameValue(got, { n: a.n * b.n, scale: a.scale + b.scale })).toBe(true);
      }),
      500,
    );
  });

  it('trimDecimal keeps the value and drops only trailing zeros', () => {
    check(
      fc.property(decimal, (a) => {
        const t = trimDecimal(a.text);
        expect(sameValue(exact(t), a)).toBe(true);
        if (t.includes('.')) expect(t).not.toMatch(/0$/);
      }),
    );
  });

  it('toDecimalString prints any finite number as a plain decimal (never an exponent) close to it', () => {
    check(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e300, max: 1e300 }), (v) => {
        const s = toDecimalString(v);
        exact(s); // plain decimal or throws
        const back = Number(s);
        expect(Math.abs(back - v)).toBeLessThanOrEqual(Math.max(Math.abs(v) * 1e-12, 1e-10));
      }),
      500,
    );
  });
});

describe('dates (property)', () => {
  const date = fc.date({ min: new Date(Date.UTC(1900, 0, 1)), max: new Date(Date.UTC(2200, 11, 31)), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));

  it('addDays is invertible and moves by whole days', () => {
    check(
      fc.property(date, fc.integer({ min: -20000, max: 20000 }), (d, n) => {
        const moved = addDays(d, n);
        expect(moved).toMatch(/^\d{4}-\d{2}-\d{2}$/);
        expect(addDays(moved, -n)).toBe(d);
        expect((toUtc(moved) - toUtc(d)) / 86_400_000).toBe(n);
        expect(fromUtc(toUtc(d))).toBe(d);
      }),
    );
  });

  it("todayIn gives a calendar date within a day of the UTC date, in any zone", () => {
    const zones = fc.constantFrom('UTC', 'Pacific/Kiritimati', 'Pacific/Pago_Pago', 'Europe/Berlin', 'America/New_York', 'Asia/Kathmandu', 'Australia/Lord_Howe');
    check(
      fc.property(zones, fc.date({ min: new Date(Date.UTC(1970, 0, 1)), max: new Date(Date.UTC(2200, 0, 1)), noInvalidDate: true }), (zone, now) => {
        const day = todayIn(zone, now);
        expect(day).toMatch(/^\d{4}-\d{2}-\d{2}$/);
        const utcDay = now.toISOString().slice(0, 10);
        expect([addDays(utcDay, -1), utcDay, addDays(utcDay, 1)]).toContain(day);
      }),
    );
  });
});

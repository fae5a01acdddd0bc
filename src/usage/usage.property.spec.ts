import { Readable } from 'node:stream';
import fc from 'fast-check';
import { check, fcParams } from '../../test/support/property';
import { readUsageNdjson, type NdjsonLimits } from './usage.ndjson';
import { canonicalJson, isRejection, normalizeDecimal, parseInstant, parseUsageEvent, parseUsageLine, type ParseLimits } from './usage.rules';

const LIMITS: ParseLimits = { now: Date.UTC(2027, 5, 1), maxSkewSeconds: 300, maxPropertiesBytes: 4096 };

/** Exact value of a plain decimal as (integer, scale). */
function exact(s: string): { n: bigint; scale: number } {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(s);
  if (!m) throw new Error(`not a plain decimal: ${s}`);
  const n = BigInt(m[2]! + (m[3] ?? ''));
  return { n: m[1] ? -n : n, scale: (m[3] ?? '').length };
}
const eq = (a: { n: bigint; scale: number }, b: { n: bigint; scale: number }) => {
  const s = Math.max(a.scale, b.scale);
  return a.n * 10n ** BigInt(s - a.scale) === b.n * 10n ** BigInt(s - b.scale);
};

describe('usage decimals (property)', () => {
  it('normalizeDecimal keeps the exact value of a decimal string written any way (exponent, zeros, sign)', () => {
    const written = fc
      .record({
        neg: fc.boolean(),
        n: fc.bigInt({ min: 0n, max: 10n ** 20n }),
        scale: fc.integer({ min: 0, max: 15 }),
        exp: fc.integer({ min: -10, max: 10 }),
        lead: fc.nat(3),
        trail: fc.nat(3),
      })
      .map(({ neg, n, scale, exp, lead, trail }) => {
        const digits = n.toString().padStart(scale + 1, '0');
        const body = `${'0'.repeat(lead)}${digits.slice(0, digits.length - scale)}${scale ? `.${digits.slice(-scale)}` : ''}${scale ? '0'.repeat(trail) : ''}`;
        // value = n × 10^(exp − scale)
        return { text: `${neg ? '-' : ''}${body}${exp ? `e${exp}` : ''}`, value: { n: neg ? -n : n, scale: scale - exp } };
      });
    check(
      fc.property(written, ({ text, value }) => {
        const out = normalizeDecimal(text);
        if (out === null) return; // only refused when absurdly long
        const got = exact(out);
        const v = value.scale >= 0 ? value : { n: value.n * 10n ** BigInt(-value.scale), scale: 0 };
        expect(eq(got, v)).toBe(true);
        expect(out).not.toMatch(/^-0$|^-?0\d|\.\d*0$/); // canonical: no -0, no leading or trailing zeros
        expect(normalizeDecimal(out)).toBe(out);
      }),
      500,
    );
  });

  it('normalizeDecimal takes any JSON value without throwing: a canonical decimal or null', () => {
    check(
      fc.property(fc.oneof(fc.string(), fc.double(), fc.jsonValue()), (v) => {
        const out = normalizeDecimal(v);
        if (out !== null) expect(out).toMatch(/^-?(0|[1-9]\d*)(\.\d*[1-9])?$/);
      }),
      500,
    );
  });
});

describe('usage events (property)', () => {
  it('parseInstant reads every ISO instant back to its millisecond, in any offset', () => {
    check(
      fc.property(fc.date({ min: new Date(Date.UTC(1970, 0, 1)), max: new Date(Date.UTC(2999, 11, 31)), noInvalidDate: true }), fc.integer({ min: -14 * 4, max: 14 * 4 }), (d, quarters) => {
        expect(parseInstant(d.toISOString())).toBe(d.getTime());
        const off = quarters * 15; // minutes
        const local = new Date(d.getTime() + off * 60_000).toISOString().slice(0, 23);
        const sign = off < 0 ? '-' : '+';
        const hhmm = `${String(Math.floor(Math.abs(off) / 60)).padStart(2, '0')}:${String(Math.abs(off) % 60).padStart(2, '0')}`;
        expect(parseInstant(`${local}${sign}${hhmm}`)).toBe(d.getTime());
      }),
    );
  });

  it('any line, JSON or not, is an event or a rejection with a code: never a throw', () => {
    const line = fc.oneof(fc.string({ unit: 'binary' }), fc.jsonValue().map((v) => JSON.stringify(v)));
    check(
      fc.property(line, (l) => {
        const e = parseUsageLine(l, 0, LIMITS);
        if (isRejection(e)) expect(e.code).toMatch(/^[A-Z_]+$/);
        else expect(e.hash).toBeTruthy();
      }),
      500,
    );
  });

  it('events with arbitrary fields are checked, never thrown; accepted ones have a plain quantity and a canonical instant', () => {
    const event = fc.record(
      {
        id: fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.integer(), fc.constant(null)),
        accountId: fc.oneof(fc.uuid(), fc.integer(), fc.constant(null)),
        accountRef: fc.oneof(fc.constant(undefined), fc.record({ system: fc.string(), object: fc.string(), externalId: fc.string() }), fc.jsonValue()),
        meter: fc.oneof(fc.constant('api-calls'), fc.string({ unit: 'binary' }), fc.integer()),
        quantity: fc.oneof(fc.double(), fc.string(), fc.constant('1e400'), fc.constant('-0.000'), fc.bigInt().map(String), fc.jsonValue()),
        occurredAt: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.string(), fc.constant('2027-02-29T00:00:00Z')),
        deployment: fc.oneof(fc.constantFrom('CLOUD', 'ON_PREM', 'SAAS', 'EMBEDDED', 'DEVICE'), fc.string()),
        user: fc.oneof(fc.constant(undefined), fc.string({ unit: 'binary' }), fc.integer()),
        properties: fc.oneof(fc.constant(undefined), fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue()), fc.jsonValue()),
      },
      { requiredKeys: [] },
    );
    check(
      fc.property(event, (raw) => {
        const e = parseUsageEvent(raw, 3, LIMITS);
        if (isRejection(e)) return expect(e.index).toBe(3);
        expect(e.quantity).toMatch(/^-?(0|[1-9]\d*)(\.\d*[1-9])?$/);
        expect(new Date(e.occurredAt).toISOString()).toBe(e.occurredAt);
      }),
      500,
    );
  });

  it('canonicalJson does not depend on key order', () => {
    check(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (obj) => {
        const reversed = Object.fromEntries(Object.entries(obj).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(obj));
        expect(JSON.parse(canonicalJson(obj))).toEqual(JSON.parse(JSON.stringify(obj)));
      }),
    );
  });
});

describe('NDJSON reader (property)', () => {
  const limits = (maxLineBytes: number): NdjsonLimits => ({ maxEvents: 50, maxBytes: 1 << 20, maxLineBytes, parse: LIMITS });
  const lineText = fc.oneof(
    fc.record({ id: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }), accountId: fc.constant('a'), meter: fc.constant('m'), quantity: fc.integer(), occurredAt: fc.constant('2027-01-01T00:00:00Z'), deployment: fc.constant('CLOUD') }).map((e) => JSON.stringify(e)),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.constantFrom('', '   ', '\r'),
  );

  /** Splits a buffer at the given byte offsets (even inside a multi-byte character). */
  const chunked = (buf: Buffer, cuts: number[]) => {
    const at = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
    const parts: Buffer[] = [];
    let prev = 0;
    for (const c of at) {
      parts.push(buf.subarray(prev, c));
      prev = c;
    }
    parts.push(buf.subarray(prev));
    return Readable.from(parts.filter((p) => p.length > 0));
  };

  it('how the body is split into chunks never changes what is read', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(lineText, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 12 }), fc.integer({ min: 8, max: 200 }), fc.boolean(), async (lines, cuts, maxLine, crlf) => {
        const body = Buffer.from(lines.join(crlf ? '\r\n' : '\n'), 'utf8');
        const whole = await readUsageNdjson(Readable.from([body]), limits(maxLine));
        const split = await readUsageNdjson(chunked(body, cuts), limits(maxLine));
        expect(split).toEqual(whole);
        if (whole.kind === 'ok') {
          // One outcome per non-blank line, in order, indexed by line number.
          const expected = lines.flatMap((l, i) => (l.trim() === '' ? [] : [i]));
          expect(whole.events.map((e) => e.index)).toEqual(expected);
        }
      }),
      fcParams(150),
    );
  });
});

/**
 * Salesforce-style record ids: 15 case-sensitive characters (3-char key prefix, then a
 * base-62 counter) plus the 3-character case-safe suffix that makes the 18-character form
 * case-insensitive. The counter alphabet is in ASCII order, so comparing two ids as strings
 * orders them by creation.
 */

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SUFFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';

/** The 3-character suffix of a 15-character id: one char per 5-char chunk, bit i set when char i is upper case. */
export function caseSafeSuffix(id15: string): string {
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const c = id15.charCodeAt(chunk * 5 + i);
      if (c >= 65 && c <= 90) bits |= 1 << i;
    }
    suffix += SUFFIX_ALPHABET[bits];
  }
  return suffix;
}

const ID_SHAPE = /^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$/i;

/**
 * The canonical 18-character form of a 15- or 18-character id (an 18-character id in any
 * letter case is restored from its suffix), or null when it is not an id at all.
 */
export function normalizeId(raw: string): string | null {
  if (!ID_SHAPE.test(raw)) return null;
  if (raw.length === 15) return raw + caseSafeSuffix(raw);
  const suffix = raw.slice(15).toUpperCase();
  let base = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    const bits = SUFFIX_ALPHABET.indexOf(suffix[chunk]);
    if (bits < 0) return null;
    for (let i = 0; i < 5; i++) {
      const c = raw[chunk * 5 + i];
      base += bits & (1 << i) ? c.toUpperCase() : c.toLowerCase();
    }
  }
  return base + caseSafeSuffix(base);
}

/** Generates increasing ids per key prefix. */
export class IdGenerator {
  private readonly counters = new Map<string, number>();

  /** `pod` is two characters after the prefix (e.g. "5e"), like a real org's instance marker. */
  constructor(private readonly pod = '8d') {}

  next(prefix: string): string {
    // Start well into the range so ids carry upper- and lower-case letters like real ones.
    const n = (this.counters.get(prefix) ?? 7_000_000_000) + 1;
    this.counters.set(prefix, n);
    let digits = '';
    let rest = n;
    for (let i = 0; i < 10; i++) {
      digits = BASE62[rest % 62] + digits;
      rest = Math.floor(rest / 62);
    }
    const id15 = prefix + this.pod + digits;
    return id15 + caseSafeSuffix(id15);
  }
}

import type { FieldError } from '../common/errors';

/** Feature and meter keys: `analytics.export`, `api-calls`, `gb_stored`. */
export const FEATURE_KEY_PATTERN = /^[a-z0-9][a-z0-9._-]{0,99}$/;
export const METER_KEY_PATTERN = FEATURE_KEY_PATTERN;
/** SKUs come from CRMs and ERPs: anything printable, but no leading or trailing spaces. */
export const SKU_PATTERN = /^[^\s\p{Cc}](?:[^\p{Cc}]{0,98}[^\s\p{Cc}])?$/u;
export const VALUE_PROPERTY_PATTERN = /^[A-Za-z_][A-Za-z0-9._-]{0,99}$/;

/**
 * How many levels a bundle may nest, counting the plain products at the bottom:
 * a bundle of bundles of bundles of products is 4. Deeper trees are hard to price and
 * to reason about, and the recursive queries stay cheap.
 */
export const MAX_BUNDLE_LEVELS = 4;

/** One path per repeated value after its first occurrence: `input.features.3.key`. */
export function duplicateFields<T>(items: readonly T[], key: (item: T) => string, path: (index: number) => string): FieldError[] {
  const seen = new Map<string, number>();
  const out: FieldError[] = [];
  items.forEach((item, i) => {
    const k = key(item);
    const first = seen.get(k);
    if (first === undefined) seen.set(k, i);
    else out.push({ path: path(i), message: `"${k}" is listed twice (also at position ${first})` });
  });
  return out;
}

/**
 * A limit from a GraphQL Float as a plain decimal string for a `numeric` column (no
 * exponent, no trailing zeros), so it compares equal to what PostgreSQL gives back.
 */
export function limitToDecimal(limit: number | null | undefined): string | null {
  if (limit === null || limit === undefined) return null;
  if (!Number.isFinite(limit) || limit < 0) throw new RangeError(`limit must be a finite number ≥ 0, got ${limit}`);
  const s = limit.toString();
  if (!/e/i.test(s)) return s;
  // Only tiny numbers reach here (inputs are capped far below 1e21): 1e-7 → 0.0000001.
  return limit.toFixed(20).replace(/\.?0+$/, '');
}

/** Whether two lists hold the same entries in any order (by the given identity). */
export function sameEntries<T>(a: readonly T[], b: readonly T[], id: (x: T) => string): boolean {
  if (a.length !== b.length) return false;
  const left = a.map(id).sort();
  const right = b.map(id).sort();
  return left.every((x, i) => x === right[i]);
}

/**
 * How many levels the deepest bundle containing a product would have, given the longest
 * chain of bundles above it (`levelsAbove`, 0 when it is in none) and the longest chain of
 * components below it (`levelsBelow`, 0 for a plain product).
 */
export function bundleLevels(levelsAbove: number, levelsBelow: number): number {
  return levelsAbove + 1 + levelsBelow;
}

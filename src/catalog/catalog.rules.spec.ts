import {
  FEATURE_KEY_PATTERN,
  MAX_BUNDLE_LEVELS,
  SKU_PATTERN,
  bundleLevels,
  duplicateFields,
  limitToDecimal,
  sameEntries,
} from './catalog.rules';

describe('catalog rules', () => {
  it('accepts sane feature keys and rejects the rest', () => {
    for (const ok of ['analytics.export', 'a', '0day', 'api-calls', 'gb_stored', 'x'.repeat(100)]) expect(FEATURE_KEY_PATTERN.test(ok)).toBe(true);
    for (const bad of ['', '.x', 'Analytics', 'a b', 'ä', 'x'.repeat(101), '-x']) expect(FEATURE_KEY_PATTERN.test(bad)).toBe(false);
  });

  it('accepts printable skus without surrounding spaces', () => {
    for (const ok of ['SW-1', 'a', 'Suite / Pro 2025', 'x'.repeat(100)]) expect(SKU_PATTERN.test(ok)).toBe(true);
    for (const bad of ['', ' SW', 'SW ', 'a\nb', 'x'.repeat(101)]) expect(SKU_PATTERN.test(bad)).toBe(false);
  });

  it('names every repeated entry after the first', () => {
    const fields = duplicateFields(['a', 'b', 'a', 'a'], (x) => x, (i) => `input.features.${i}.key`);
    expect(fields.map((f) => f.path)).toEqual(['input.features.2.key', 'input.features.3.key']);
    expect(fields[0]!.message).toMatch(/position 0/);
    expect(duplicateFields([], (x: string) => x, String)).toEqual([]);
  });

  it('turns float limits into plain decimal strings', () => {
    expect(limitToDecimal(null)).toBeNull();
    expect(limitToDecimal(undefined)).toBeNull();
    expect(limitToDecimal(5)).toBe('5');
    expect(limitToDecimal(2.5)).toBe('2.5');
    expect(limitToDecimal(0.1)).toBe('0.1');
    expect(limitToDecimal(0)).toBe('0');
    expect(limitToDecimal(1e-7)).toBe('0.0000001');
    expect(limitToDecimal(1e15)).toBe('1000000000000000');
    expect(() => limitToDecimal(-1)).toThrow(RangeError);
    expect(() => limitToDecimal(Number.NaN)).toThrow(RangeError);
  });

  it('compares lists regardless of order', () => {
    const id = (g: { f: string; l: string | null }) => `${g.f}|${g.l}`;
    expect(sameEntries([{ f: 'a', l: '1' }, { f: 'b', l: null }], [{ f: 'b', l: null }, { f: 'a', l: '1' }], id)).toBe(true);
    expect(sameEntries([{ f: 'a', l: '1' }], [{ f: 'a', l: '2' }], id)).toBe(false);
    expect(sameEntries([{ f: 'a', l: '1' }], [], id)).toBe(false);
    expect(sameEntries([{ f: 'a', l: '1' }, { f: 'b', l: '1' }], [{ f: 'a', l: '1' }, { f: 'a', l: '1' }], id)).toBe(false);
  });

  it('counts bundle levels from the chains above and below', () => {
    expect(bundleLevels(0, 0)).toBe(1); // a plain product
    expect(bundleLevels(0, 3)).toBe(MAX_BUNDLE_LEVELS); // bundle of bundles of bundles of products
    expect(bundleLevels(1, 3)).toBeGreaterThan(MAX_BUNDLE_LEVELS);
  });
});

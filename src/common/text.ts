/** NUL and lone surrogates: valid in JavaScript strings, refused by PostgreSQL text and jsonb. */
// eslint-disable-next-line no-control-regex -- NUL is exactly what this looks for
export const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The path of the first string (or object key) in a value that PostgreSQL cannot store,
 * e.g. `input.lines.2.sku`; null when there is none.
 */
export function unstorablePath(value: unknown, path: string): string | null {
  const at = (k: string | number) => (path ? `${path}.${k}` : String(k));
  if (typeof value === 'string') return UNSTORABLE.test(value) ? path : null;
  if (value === null || typeof value !== 'object') return null;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const p = unstorablePath(v, at(i));
      if (p) return p;
    }
    return null;
  }
  for (const [k, v] of Object.entries(value)) {
    if (UNSTORABLE.test(k)) return at(k);
    const p = unstorablePath(v, at(k));
    if (p) return p;
  }
  return null;
}

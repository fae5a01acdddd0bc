/**
 * Groups rows by a key, keeping their order (push, never copy: linear in the rows). With
 * `keys`, every key starts with an empty list, so callers of batched loaders get one for ids
 * that have no rows.
 */
export function groupBy<T, V = T>(rows: Iterable<T>, key: (row: T) => string, keys: Iterable<string> = [], value: (row: T) => V = (r) => r as unknown as V): Map<string, V[]> {
  const out = new Map<string, V[]>();
  for (const k of keys) out.set(k, []);
  for (const row of rows) {
    const k = key(row);
    const list = out.get(k);
    if (list) list.push(value(row));
    else out.set(k, [value(row)]);
  }
  return out;
}

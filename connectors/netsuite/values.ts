/**
 * SuiteQL answers every value as text: `'T'`/`'F'` booleans, dates in the user's display
 * format (`M/D/YYYY` by default; the connector asks `TO_CHAR(…, 'YYYY-MM-DD')` to be
 * independent of it), decimals as written. These parse them explicitly; decimals stay
 * strings, never floats.
 */

export function parseBool(v: string | null | undefined): boolean | null {
  if (v === 'T') return true;
  if (v === 'F') return false;
  return null;
}

/** `M/D/YYYY` (or `MM/DD/YYYY`) → `YYYY-MM-DD`; null for anything else or an impossible date. */
export function parseDisplayDate(v: string | null | undefined, format: 'M/D/YYYY' | 'D/M/YYYY' = 'M/D/YYYY'): string | null {
  if (!v) return null;
  const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(v.trim());
  if (!m) return null;
  const [a, b, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [mo, d] = format === 'M/D/YYYY' ? [a, b] : [b, a];
  return isoDate(y, mo, d);
}

/** `YYYY-MM-DD` checked to be a real date, else null. */
export function parseIsoDate(v: string | null | undefined): string | null {
  if (!v) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v.trim());
  return m ? isoDate(Number(m[1]), Number(m[2]), Number(m[3])) : null;
}

function isoDate(y: number, mo: number, d: number): string | null {
  const dt = new Date(Date.UTC(y, mo - 1, d));
  if (dt.getUTCFullYear() !== y || dt.getUTCMonth() !== mo - 1 || dt.getUTCDate() !== d) return null;
  return dt.toISOString().slice(0, 10);
}

/** `YYYY-MM-DD HH24:MI:SS` (the connector's TO_CHAR of lastmodifieddate, UTC) → ISO 8601 instant. */
export function parseTimestamp(v: string | null | undefined): string | null {
  if (!v) return null;
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})$/.exec(v.trim());
  if (!m) return null;
  const ms = Date.parse(`${m[1]}T${m[2]}Z`);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/**
 * A decimal as SuiteQL wrote it, normalised without arithmetic: `"1200.50"` → `"1200.5"`,
 * `".5"` → `"0.5"`, `"-0"` → `"0"`. Null for anything that is not a plain decimal.
 */
export function parseDecimal(v: string | null | undefined): string | null {
  if (v === null || v === undefined) return null;
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(v.trim());
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return null;
  const int = m[2].replace(/^0+(?=\d)/, '') || '0';
  const frac = (m[3] ?? '').replace(/0+$/, '');
  const body = frac ? `${int}.${frac}` : int;
  return body === '0' ? '0' : `${m[1]}${body}`;
}

/** The absolute value of a decimal string (NetSuite signs some amounts and quantities by posting side). */
export function absDecimal(v: string): string {
  return v.startsWith('-') ? v.slice(1) : v;
}

/** Escapes a value for a SuiteQL string literal. */
export function sqlString(v: string): string {
  return `'${v.replace(/'/g, "''")}'`;
}

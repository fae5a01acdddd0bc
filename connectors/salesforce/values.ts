/**
 * Value conversions between Salesforce's JSON and the canonical records: exact decimals,
 * domains, instants, SOQL literals and the pull cursor.
 */
import { ConnectorError } from '../types';

/** The fields whose numbers are kept as the exact text Salesforce sent. */
const DECIMAL_KEYS = new Set(['Quantity', 'UnitPrice', 'TotalPrice', 'Amount']);

type Reviver = (key: string, value: unknown, context?: { source?: string }) => unknown;

/**
 * Parses a REST response body keeping the numbers of DECIMAL_KEYS as their source text
 * (`1200.50` stays "1200.50", no binary float on the way). Node 22+ passes the source to
 * the reviver; older engines fall back to the float's shortest text.
 */
export function parseJsonKeepingDecimals(text: string): unknown {
  const reviver: Reviver = (key, value, context) =>
    typeof value === 'number' && DECIMAL_KEYS.has(key) ? normalizeDecimal(context?.source ?? String(value)) : value;
  return JSON.parse(text, reviver as (this: unknown, key: string, value: unknown) => unknown);
}

/** "1.2E+3" → "1200", "-5e-2" → "-0.05"; plain decimals are returned as they are. */
export function normalizeDecimal(text: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?[eE]([+-]?\d+)$/.exec(text.trim());
  if (!m) return text.trim();
  const [, sign, int, frac = '', expText] = m;
  const exp = Number(expText);
  let digits = int + frac;
  let point = int.length + exp;
  if (point <= 0) {
    digits = '0'.repeat(1 - point) + digits;
    point = 1;
  } else if (point > digits.length) {
    digits = digits + '0'.repeat(point - digits.length);
  }
  const whole = digits.slice(0, point).replace(/^0+(?=\d)/, '');
  const rest = digits.slice(point).replace(/0+$/, '');
  return `${sign}${whole}${rest ? `.${rest}` : ''}`;
}

const DECIMAL = /^-?\d+(\.\d+)?$/;
export const isDecimalString = (s: string): boolean => DECIMAL.test(s);

type RawJsonFn = (text: string) => unknown;
const rawJSON: RawJsonFn | undefined = (JSON as unknown as { rawJSON?: RawJsonFn }).rawJSON;

/**
 * A decimal string as a JSON number written digit for digit (`JSON.rawJSON`, Node 22+), so
 * "12345678901234.56" reaches a Currency(16,2) field without float rounding.
 */
export function jsonDecimal(s: string): unknown {
  return rawJSON ? rawJSON(s) : Number(s);
}

/** `https://www.Acme.com/about` → `acme.com`; null when nothing host-like is left. */
export function websiteDomain(website: string | null | undefined): string | null {
  if (!website) return null;
  let s = website.trim().toLowerCase();
  s = s.replace(/^[a-z][a-z0-9+.-]*:\/\//, ''); // scheme
  s = s.replace(/^[^/?#@]*@/, ''); // user:pass@
  s = s.split(/[/?#\\]/, 1)[0] ?? '';
  s = s.replace(/:\d*$/, ''); // port
  s = s.replace(/^www\d*\./, '').replace(/\.+$/, '');
  // a host name (internationalised ones too) with at least one dot; "n/a" or "acme" are not domains
  return s.includes('.') && /^[\p{L}\p{N}.-]+$/u.test(s) ? s : null;
}

/** Salesforce's `2024-03-01T10:00:00.000+0000` → `2024-03-01T10:00:00.000Z`. */
export function toIsoInstant(sf: string): string {
  const d = new Date(sf.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  if (Number.isNaN(d.getTime())) throw new ConnectorError('INVALID', 'INVALID_DATETIME', `Unreadable Salesforce datetime: ${sf}`);
  return d.toISOString();
}

/** A SOQL string literal: backslash escapes per the SOQL reference. */
export function soqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')}'`;
}

/** The position after the last record of a page: its SystemModstamp (ISO, ms) and Id. */
export interface PullCursor {
  ts: string;
  id: string;
}

export function encodeCursor(c: PullCursor): string {
  return JSON.stringify({ ts: c.ts, id: c.id });
}

/**
 * The orders cursor: where the Opportunity query stopped (null: nothing read yet) and where the
 * OpportunityLineItem changes query stopped (`lines`).
 */
export interface OrdersCursor {
  opp: PullCursor | null;
  lines: PullCursor | null;
}

export function encodeOrdersCursor(c: OrdersCursor): string {
  return JSON.stringify({ ...(c.opp ? { ts: c.opp.ts, id: c.opp.id } : {}), lines: c.lines ? { ts: c.lines.ts, id: c.lines.id } : null });
}

/**
 * Reads an orders cursor. One written before line changes were pulled on their own (no
 * `lines`) resumes the line changes from the opportunities' position: `{ ts, id: '' }`, i.e.
 * every line stamped at or after it.
 */
export function decodeOrdersCursor(cursor: string | null): OrdersCursor {
  if (cursor === null) return { opp: null, lines: null };
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(cursor) as Record<string, unknown>;
  } catch {
    return { opp: decodeCursor(cursor), lines: null }; // throws INVALID_CURSOR
  }
  const opp = v && typeof v === 'object' && 'ts' in v ? decodeCursor(JSON.stringify({ ts: v.ts, id: v.id })) : null;
  if (v && typeof v === 'object' && 'lines' in v) {
    return { opp, lines: v.lines === null ? null : decodeCursor(JSON.stringify(v.lines)) };
  }
  return { opp, lines: opp ? { ts: opp.ts, id: '' } : null };
}

export function decodeCursor(cursor: string | null): PullCursor | null {
  if (cursor === null) return null;
  try {
    const v: unknown = JSON.parse(cursor);
    if (v && typeof v === 'object') {
      const { ts, id } = v as Record<string, unknown>;
      if (
        typeof ts === 'string' &&
        !Number.isNaN(Date.parse(ts)) &&
        /^\d{4}-\d{2}-\d{2}T/.test(ts) &&
        typeof id === 'string' &&
        /^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$/.test(id)
      ) {
        return { ts: new Date(ts).toISOString(), id };
      }
    }
  } catch {
    // fall through
  }
  throw new ConnectorError('INVALID', 'INVALID_CURSOR', `Not a Salesforce pull cursor: ${cursor.slice(0, 100)}`);
}

/**
 * `WHERE` of an incremental pull: after the cursor in (SystemModstamp, Id) order. SOQL datetime
 * literals are unquoted; fractional seconds are accepted.
 */
export function afterCursorClause(c: PullCursor | null): string {
  if (!c) return '';
  if (c.id === '') return ` WHERE SystemModstamp >= ${c.ts}`;
  return ` WHERE SystemModstamp > ${c.ts} OR (SystemModstamp = ${c.ts} AND Id > ${soqlString(c.id)})`;
}

/** Truncates to at most `max` characters without splitting a surrogate pair. */
export function truncate(s: string, max: number): string {
  const chars = Array.from(s);
  return chars.length <= max ? s : chars.slice(0, max).join('');
}

const ID_SUFFIX = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';

/** A 15-character case-sensitive Salesforce id → its 18-character form (18 stay as they are). */
export function id18(id: string): string {
  if (id.length !== 15) return id;
  let suffix = '';
  for (let block = 0; block < 3; block++) {
    let flags = 0;
    for (let i = 0; i < 5; i++) {
      const ch = id.charAt(block * 5 + i);
      if (ch >= 'A' && ch <= 'Z') flags |= 1 << i;
    }
    suffix += ID_SUFFIX.charAt(flags);
  }
  return id + suffix;
}

/** Groups keys into `IN (...)` lists that keep the GET URL short. */
export function inLists(keys: string[], maxChars = 6000): string[] {
  const lists: string[] = [];
  let cur: string[] = [];
  let len = 0;
  for (const k of keys) {
    const lit = soqlString(k);
    if (cur.length > 0 && (len + lit.length > maxChars || cur.length >= 200)) {
      lists.push(cur.join(', '));
      cur = [];
      len = 0;
    }
    cur.push(lit);
    len += lit.length + 2;
  }
  if (cur.length > 0) lists.push(cur.join(', '));
  return lists;
}

/**
 * How the emulator stores values in SQLite and renders them as SuiteQL does.
 *
 * Dates are stored as `D:YYYY-MM-DD` and datetimes as `T:YYYY-MM-DDTHH:MM:SSZ` (UTC, whole
 * seconds like NetSuite's DATE columns), so they sort and compare as text and can be told apart
 * from ordinary strings when a row is rendered. SuiteQL renders both in the user's date display
 * format (`M/D/YYYY` by default: a datetime column such as `lastmodifieddate` loses its time
 * unless the query asks for it with `TO_CHAR`). Booleans are `'T'`/`'F'`; decimals are text.
 */

export const DATE_PREFIX = 'D:';
export const DATETIME_PREFIX = 'T:';

export function encDate(ymd: string): string {
  return `${DATE_PREFIX}${ymd}`;
}

export function encDatetime(ms: number): string {
  return `${DATETIME_PREFIX}${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}

/** A stored date/datetime as epoch ms (UTC), or null if the text is neither. */
export function decodeInstant(v: string): number | null {
  if (v.startsWith(DATE_PREFIX)) return Date.parse(`${v.slice(2)}T00:00:00Z`);
  if (v.startsWith(DATETIME_PREFIX)) return Date.parse(v.slice(2));
  return null;
}

/** `M/D/YYYY` of an instant (UTC parts). */
export function displayDate(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()}`;
}

/** A stored value rendered as SuiteQL answers it over REST (every value as text). */
export function renderValue(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  const s = String(v);
  const ms = decodeInstant(s);
  return ms === null ? s : displayDate(ms);
}

/** Format tokens of Oracle's TO_CHAR/TO_DATE/TO_TIMESTAMP that the emulator knows. */
type Tok = { lit: string } | { part: 'YYYY' | 'MM' | 'DD' | 'HH24' | 'MI' | 'SS' | 'FF3' };

function tokenizeFormat(fmt: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const parts = ['YYYY', 'HH24', 'FF3', 'MM', 'DD', 'MI', 'SS'] as const;
  outer: while (i < fmt.length) {
    if (fmt[i] === '"') {
      const j = fmt.indexOf('"', i + 1);
      toks.push({ lit: fmt.slice(i + 1, j < 0 ? fmt.length : j) });
      i = j < 0 ? fmt.length : j + 1;
      continue;
    }
    for (const p of parts) {
      if (fmt.slice(i, i + p.length).toUpperCase() === p) {
        toks.push({ part: p });
        i += p.length;
        continue outer;
      }
    }
    if (/[A-Za-z]/.test(fmt[i])) throw new Error(`unsupported date format element at "${fmt.slice(i)}"`);
    toks.push({ lit: fmt[i] });
    i++;
  }
  return toks;
}

/** TO_CHAR(date or datetime, fmt) over the stored encoding. */
export function toChar(v: unknown, fmt: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (fmt === null || fmt === undefined) return renderValue(v);
  const ms = decodeInstant(String(v));
  if (ms === null) return String(v);
  const d = new Date(ms);
  const pad = (x: number, w = 2): string => String(x).padStart(w, '0');
  return tokenizeFormat(String(fmt))
    .map((t) => {
      if ('lit' in t) return t.lit;
      switch (t.part) {
        case 'YYYY':
          return pad(d.getUTCFullYear(), 4);
        case 'MM':
          return pad(d.getUTCMonth() + 1);
        case 'DD':
          return pad(d.getUTCDate());
        case 'HH24':
          return pad(d.getUTCHours());
        case 'MI':
          return pad(d.getUTCMinutes());
        case 'SS':
          return pad(d.getUTCSeconds());
        case 'FF3':
          return pad(d.getUTCMilliseconds(), 3);
      }
    })
    .join('');
}

/** Parses text by an Oracle format; null when it does not match. */
export function parseByFormat(s: string, fmt: string): number | null {
  const parts: Record<string, number> = { YYYY: 1970, MM: 1, DD: 1, HH24: 0, MI: 0, SS: 0, FF3: 0 };
  let i = 0;
  for (const t of tokenizeFormat(fmt)) {
    if ('lit' in t) {
      if (s.slice(i, i + t.lit.length) !== t.lit) return null;
      i += t.lit.length;
      continue;
    }
    const width = t.part === 'YYYY' ? 4 : t.part === 'FF3' ? 3 : t.part === 'HH24' ? 2 : 2;
    const digits = s.slice(i, i + width);
    if (!/^\d+$/.test(digits) || digits.length !== width) return null;
    parts[t.part] = Number(digits);
    i += width;
  }
  if (i !== s.length) return null;
  const ms = Date.UTC(parts.YYYY, parts.MM - 1, parts.DD, parts.HH24, parts.MI, parts.SS, parts.FF3);
  const d = new Date(ms);
  if (d.getUTCMonth() !== parts.MM - 1 || d.getUTCDate() !== parts.DD) return null;
  return ms;
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** Encodes a REST field value for storage: dates, datetimes, booleans, numbers, text. */
export function encodeRestValue(v: unknown): string | number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean') return v ? 'T' : 'F';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') {
    if (DATE_RE.test(v)) return encDate(v);
    if (DATETIME_RE.test(v)) return encDatetime(Date.parse(v));
    return v;
  }
  return JSON.stringify(v);
}

/** A stored value as the record service renders it (dates ISO, datetimes ISO UTC, T/F → booleans). */
export function restValue(v: unknown, booleanColumn: boolean): unknown {
  if (v === null || v === undefined) return undefined;
  const s = String(v);
  if (s.startsWith(DATE_PREFIX)) return s.slice(2);
  if (s.startsWith(DATETIME_PREFIX)) return s.slice(2);
  if (booleanColumn && (s === 'T' || s === 'F')) return s === 'T';
  return s;
}

/** Exact decimal arithmetic on strings (scaled BigInt). */
export function decimalScale(s: string): { units: bigint; scale: number } {
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(s.trim());
  if (!m) throw new Error(`not a decimal: ${s}`);
  const frac = m[3] ?? '';
  return { units: BigInt(`${m[1]}${m[2] || '0'}${frac}`), scale: frac.length };
}

export function decimalAdd(a: string, b: string): string {
  return decimalCombine(a, b, (x, y) => x + y, false);
}

export function decimalMul(a: string, b: string): string {
  const x = decimalScale(a);
  const y = decimalScale(b);
  return formatScaled(x.units * y.units, x.scale + y.scale);
}

export function decimalEquals(a: string, b: string): boolean {
  return decimalCombine(a, b, (x, y) => x - y, false) === '0';
}

function decimalCombine(a: string, b: string, f: (x: bigint, y: bigint) => bigint, _unused: boolean): string {
  const x = decimalScale(a);
  const y = decimalScale(b);
  const scale = Math.max(x.scale, y.scale);
  const xs = x.units * 10n ** BigInt(scale - x.scale);
  const ys = y.units * 10n ** BigInt(scale - y.scale);
  return formatScaled(f(xs, ys), scale);
}

export function formatScaled(units: bigint, scale: number): string {
  const neg = units < 0n;
  let s = (neg ? -units : units).toString().padStart(scale + 1, '0');
  if (scale > 0) {
    s = `${s.slice(0, s.length - scale)}.${s.slice(s.length - scale)}`.replace(/\.?0+$/, '');
  }
  return `${neg && s !== '0' ? '-' : ''}${s}`;
}

import type { ValueTransformer } from 'typeorm';

/**
 * `numeric` columns come back from pg as strings. Quantities such as seats and devices are
 * small enough for a JS number; usage amounts stay strings (see DESIGN: never sum floats).
 */
export const decimalTransformer: ValueTransformer = {
  to: (v: number | string | null | undefined) => (v === null || v === undefined ? v : String(v)),
  from: (v: string | null) => (v === null ? null : Number(v)),
};

/** A decimal given as a number, normalised to a plain string (no exponent) for `numeric`. */
export function toDecimalString(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`not a finite number: ${v}`);
  if (Number.isInteger(v)) {
    // toFixed prints an exponent from 1e21 on: expand the shortest form JavaScript prints.
    const m = /^(-?)(\d)(?:\.(\d+))?e\+(\d+)$/.exec(String(v));
    if (!m) return v.toFixed(0);
    const frac = m[3] ?? '';
    return `${m[1]}${m[2]}${frac}${'0'.repeat(Number(m[4]) - frac.length)}`;
  }
  const s = v.toFixed(10).replace(/0+$/, '').replace(/\.$/, '');
  return s === '-0' ? '0' : s;
}

/** Exact product of two decimal strings (scaled to integers: no float rounding). */
export function multiplyDecimal(a: string, b: string): string {
  const [x, y] = [a, b].map((s) => {
    const [i, f = ''] = s.split('.');
    return { n: BigInt(i + f), scale: f.length };
  });
  const n = x!.n * y!.n;
  const scale = x!.scale + y!.scale;
  if (scale === 0) return n.toString();
  // Pad the digits without the sign: "-0.5" is -5 at scale 1, never "-.5".
  const s = (n < 0n ? -n : n).toString().padStart(scale + 1, '0');
  return `${n < 0n ? '-' : ''}${s.slice(0, -scale)}.${s.slice(-scale)}`;
}

/** "12.500" → "12.5", "3.000" → "3"; integers untouched. */
export function trimDecimal(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

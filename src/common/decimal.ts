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
  return Number.isInteger(v) ? v.toFixed(0) : v.toFixed(10).replace(/0+$/, '').replace(/\.$/, '');
}

import v8 from 'node:v8';
import vm from 'node:vm';

/*
 * Handing back what start-up used and no longer needs (ADR 0062). Loading the code, connecting
 * and building the schema grow V8's young generation to its ceiling (2 × 32–64 MB on a large
 * host), which V8 then keeps: an idle `ehub serve` sat at ~204 MB resident. One full,
 * memory-reducing collection at two points of the start (after the database is open, once
 * listening) shrinks it to a few MB (~130 MB resident); it grows again if and when a workload
 * needs it, so nothing is capped and no path pays for it. The collector is reached the way
 * V8 offers it, `--expose-gc` set for a moment and `gc` taken from a new context; the flag is
 * set back at once, so user code never sees a global `gc`.
 */

type Gc = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async'; flavor?: 'regular' | 'last-resort' }) => void;

let collect: Gc | null | undefined;

/** V8's collector, or null where it cannot be had (then nothing is done). */
function collector(): Gc | null {
  if (collect !== undefined) return collect;
  // Started with --expose-gc: use it, and leave the flag as it is.
  const exposed: unknown = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') return (collect = exposed as Gc);
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = vm.runInNewContext('typeof gc === "function" ? gc : null');
    collect = typeof gc === 'function' ? (gc as Gc) : null;
  } catch {
    collect = null;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
  return collect;
}

/** The process's resident set in bytes (Node reads it from the kernel on each call). */
export const residentBytes = (): number => process.memoryUsage.rss();

/**
 * One full collection that also shrinks the young generation and releases free pages (V8's
 * "last resort" flavour, ~100 ms at start-up). Returns the resident set before and after, or
 * null where the collector is not available.
 */
export function releaseMemory(): { before: number; after: number } | null {
  const gc = collector();
  if (!gc) return null;
  const before = residentBytes();
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  return { before, after: residentBytes() };
}

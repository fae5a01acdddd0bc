import { performance } from 'node:perf_hooks';
import type { Figures } from './types';

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! * 100) / 100;
}

/**
 * Runs `count` distinct requests (each built by `send(i)`) with `concurrency` in flight, for
 * workloads autocannon cannot express (every request different, a fixed amount of work).
 * `send` resolves to an error message, or null when the answer was right.
 */
export async function runBatch(count: number, concurrency: number, send: (i: number) => Promise<string | null>): Promise<Figures> {
  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  let firstFailure: string | null = null;
  const elu = performance.eventLoopUtilization();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) {
        const t = performance.now();
        const failure = await send(i).catch((err: unknown) => String(err));
        latencies.push(performance.now() - t);
        if (failure) {
          failures++;
          firstFailure ??= failure;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const busy = performance.eventLoopUtilization(elu);
  if (firstFailure) console.error(`  first failure: ${firstFailure}`);
  latencies.sort((a, b) => a - b);
  return {
    requestsPerSec: Math.round(count / seconds),
    requests: count,
    durationSec: Math.round(seconds * 100) / 100,
    connections: concurrency,
    latencyMs: {
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      avg: Math.round((latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length)) * 100) / 100,
      max: Math.round((latencies.at(-1) ?? 0) * 100) / 100,
    },
    errors: 0,
    timeouts: 0,
    non2xx: 0,
    mismatches: failures,
    statusCodes: {},
    serverEventLoopUtilization: Math.round(busy.utilization * 100) / 100,
  };
}

/** Figures of one timed run that is not a request load (a push, a pull): the count per second and the headline. */
export function oneRunFigures(count: number, seconds: number, eventLoopUtilization: number, headline: { value: number; unit: string }, mismatches = 0): Figures {
  return {
    requestsPerSec: Math.round(count / seconds),
    requests: count,
    durationSec: Math.round(seconds * 100) / 100,
    connections: 1,
    latencyMs: { p50: 0, p90: 0, p99: 0, avg: 0, max: 0 },
    errors: 0,
    timeouts: 0,
    non2xx: 0,
    mismatches,
    statusCodes: {},
    serverEventLoopUtilization: Math.round(eventLoopUtilization * 100) / 100,
    headline,
  };
}

import { parentPort, workerData } from 'node:worker_threads';
import autocannon from 'autocannon';
import type { Figures } from './types';

/**
 * Runs one autocannon load inside a worker thread (see load.ts) and posts back its figures.
 * Latencies are kept per response at full precision: autocannon's own histogram holds whole
 * milliseconds, too coarse for requests that take under one.
 */
export type WorkerFigures = Omit<Figures, 'serverEventLoopUtilization'>;

/** Outside the main thread autocannon hands back its raw counters (no aggregated histograms). */
interface RawResult {
  totalCompletedRequests: number;
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  mismatches: number;
  statusCodeStats?: Record<string, { count?: number }>;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function main(opts: autocannon.Options): Promise<WorkerFigures> {
  let latencies = new Float64Array(1 << 16);
  let n = 0;
  const result = await new Promise<RawResult>((resolve, reject) => {
    const instance = autocannon(opts, (err: unknown, r: autocannon.Result) => (err ? reject(err) : resolve(r as unknown as RawResult)));
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode < 200 || statusCode > 299) return;
      if (n === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2);
        bigger.set(latencies);
        latencies = bigger;
      }
      latencies[n++] = responseTime;
    });
  });
  const sorted = latencies.subarray(0, n).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const statusCodes: Record<string, number> = {};
  for (const [code, s] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = s.count ?? 0;
  return {
    // Completed requests over the measured time.
    requestsPerSec: Math.round(result.totalCompletedRequests / result.duration),
    requests: result.totalCompletedRequests,
    durationSec: result.duration,
    connections: opts.connections ?? 10,
    latencyMs: {
      p50: round(percentile(sorted, 50)),
      p90: round(percentile(sorted, 90)),
      p99: round(percentile(sorted, 99)),
      avg: round(n ? sum / n : 0),
      max: round(n ? sorted[n - 1]! : 0),
    },
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    mismatches: result.mismatches,
    statusCodes,
  };
}

main(workerData as autocannon.Options).then(
  (figures) => parentPort!.postMessage({ figures }),
  (err: unknown) => parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) }),
);

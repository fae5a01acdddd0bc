import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type autocannon from 'autocannon';
import type { WorkerFigures } from './load-worker';
import type { BenchOptions, Figures, LoadSpec } from './types';

function options(spec: LoadSpec, opts: BenchOptions, duration: number): autocannon.Options {
  return {
    url: spec.url,
    method: spec.method ?? 'POST',
    headers: { 'content-type': 'application/json', ...spec.headers },
    body: spec.body,
    expectBody: spec.expectBody,
    ...(spec.requests ? { requests: spec.requests } : {}),
    connections: spec.connections ?? opts.connections,
    duration,
    timeout: 10,
  };
}

/**
 * Runs autocannon in a worker thread, so the load generator does not share the server's event
 * loop: on a two-core machine the server's thread gets one core and the load the other.
 */
function inWorker(opts: autocannon.Options): Promise<WorkerFigures> {
  const file = path.join(__dirname, 'load-worker.ts');
  // The worker compiles TypeScript the way the main thread does (npm run bench uses @swc-node/register).
  const bootstrap = `require('@swc-node/register'); require(${JSON.stringify(file)});`;
  return new Promise((resolve, reject) => {
    // A young generation of its own size: Node flags given to compare hub variants (e.g.
    // NODE_OPTIONS=--max-semi-space-size=4) would otherwise shrink the load generator's too.
    const worker = new Worker(bootstrap, { eval: true, workerData: opts, resourceLimits: { maxYoungGenerationSizeMb: 96 } });
    worker.once('message', (m: { figures?: WorkerFigures; error?: string }) => {
      void worker.terminate();
      if (m.figures) resolve(m.figures);
      else reject(new Error(`load generator failed: ${m.error}`));
    });
    worker.once('error', reject);
  });
}

/** Warms up (unmeasured), then measures one load; the server runs in this process's main thread. */
export async function runLoad(spec: LoadSpec, opts: BenchOptions): Promise<Figures> {
  if (opts.warmup > 0) await inWorker(options(spec, opts, opts.warmup));
  const elu = performance.eventLoopUtilization();
  const figures = await inWorker(options(spec, opts, opts.duration));
  const busy = performance.eventLoopUtilization(elu);
  return { ...figures, serverEventLoopUtilization: Math.round(busy.utilization * 100) / 100 };
}

/** Why a load's figures cannot be trusted, or null when every request got the expected answer. */
export function failureOf(f: Figures): string | null {
  const bad = [
    f.errors && `${f.errors} connection errors`,
    f.timeouts && `${f.timeouts} timeouts`,
    f.non2xx && `${f.non2xx} non-2xx responses (${JSON.stringify(f.statusCodes)})`,
    f.mismatches && `${f.mismatches} responses with an unexpected body`,
    f.requests === 0 && 'no request completed',
  ].filter(Boolean);
  return bad.length ? bad.join(', ') : null;
}

import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawnServe } from '../../test/support/serve-process';
import { CHECK_QUERY, prepareCheck } from './check.scenario';
import type { Figures, Scenario } from '../support/types';

/** A stand-in collector: takes OTLP export requests, counts them and their bytes, answers 200. */
async function startSink(): Promise<{ url: string; requests: () => number; bytes: () => number; close: () => Promise<void> }> {
  let requests = 0;
  let bytes = 0;
  const server = http.createServer((req, res) => {
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    bytes: () => bytes,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** `ehub serve` as users run it (compiled on the fly), on the bench database, with `env` added. */
async function serve(databaseUrl: string, dataDir: string, env: Record<string, string>): Promise<{ proc: ChildProcess; url: string }> {
  const prof = process.env.BENCH_OTEL_PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_OTEL_PROF_DIR] : [];
  const served = await spawnServe(
    {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      DATABASE_URL: databaseUrl,
      EHUB_DATA_DIR: dataDir,
      EHUB_JOBS_ENABLED: 'false',
      EHUB_RATE_LIMIT_MAX: '100000000',
      EHUB_RATE_LIMIT_LICENSING_MAX: '100000000',
      ...env,
    },
    { timeoutMs: 120_000, nodeArgs: prof },
  );
  return { proc: served.proc, url: served.url };
}

/** Rounds of the three loads (BENCH_OTEL_ROUNDS, default 2). */
const ROUNDS = Math.max(1, Number(process.env.BENCH_OTEL_ROUNDS ?? 2));

/** Figures of several loads of one variant: requests summed over time; latencies the median of the loads'. */
function merge(list: Figures[]): Figures {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
  const requests = list.reduce((n, f) => n + f.requests, 0);
  const durationSec = list.reduce((n, f) => n + f.durationSec, 0);
  const lat = (k: keyof Figures['latencyMs']) => median(list.map((f) => f.latencyMs[k]));
  return {
    ...list[0]!,
    requests,
    durationSec,
    requestsPerSec: Math.round(requests / durationSec),
    latencyMs: { p50: lat('p50'), p90: lat('p90'), p99: lat('p99'), avg: lat('avg'), max: Math.max(...list.map((f) => f.latencyMs.max)) },
    errors: list.reduce((n, f) => n + f.errors, 0),
    timeouts: list.reduce((n, f) => n + f.timeouts, 0),
    non2xx: list.reduce((n, f) => n + f.non2xx, 0),
    mismatches: list.reduce((n, f) => n + f.mismatches, 0),
  };
}

/**
 * The cost of tracing (issue 17, ADR 0044): the same `check` load against two `ehub serve`
 * processes on the same database, one as shipped (OpenTelemetry off) and one with
 * OTEL_EXPORTER_OTLP_ENDPOINT set (every request traced: HTTP server span, GraphQL operation
 * span, PostgreSQL spans; batches exported as OTLP/protobuf to a sink in this process), then
 * with 10 % of traces sampled. Same run, same data; the loads alternate between the three.
 */
export const otel: Scenario = {
  name: 'otel',
  description: 'check over HTTP against `ehub serve` with OpenTelemetry off, on (every request traced, OTLP export), and on at 10 % sampling',
  async run(ctx) {
    const { variables, expectBody } = await prepareCheck(ctx);
    const config = ctx.hub.services.config;
    const sink = await startSink();
    const body = JSON.stringify({ query: CHECK_QUERY, variables, operationName: 'Check' });
    const variants: { label: string; env: Record<string, string> }[] = [
      { label: 'off', env: {} },
      { label: 'on', env: { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_SERVICE_NAME: 'ehub-bench' } },
      { label: 'on, 10 % sampled', env: { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_SERVICE_NAME: 'ehub-bench', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' } },
    ];
    // All three hubs start first (idle while not measured); the loads then alternate
    // off, on, sampled, off, on, sampled, so drift in a shared machine's load hits each alike.
    const hubs: { label: string; proc: ChildProcess; url: string }[] = [];
    const byLabel = new Map<string, Figures[]>();
    try {
      for (const v of variants) hubs.push({ label: v.label, ...(await serve(config.DATABASE_URL!, config.EHUB_DATA_DIR, v.env)) });
      for (let round = 0; round < ROUNDS; round++) {
        for (const h of hubs) {
          // The bench's admin key is in the shared database: every hub accepts it.
          const figures = await ctx.load({ url: `${h.url}/graphql`, headers: { authorization: `Bearer ${ctx.hub.adminKey}` }, body, expectBody });
          byLabel.set(h.label, [...(byLabel.get(h.label) ?? []), figures]);
        }
      }
    } finally {
      for (const h of hubs) {
        h.proc.kill('SIGTERM');
        await new Promise((r) => h.proc.once('exit', r));
      }
      await sink.close();
    }
    const results = variants.map((v) => ({ label: v.label, figures: merge(byLabel.get(v.label)!) }));
    const off = results[0]!.figures;
    const on = results[1]!.figures;
    for (const r of results) {
      console.log(
        `  otel ${r.label}: ${r.figures.requestsPerSec.toFixed(0)} req/s (${((100 * r.figures.requestsPerSec) / off.requestsPerSec).toFixed(1)} % of off), p50 ${r.figures.latencyMs.p50.toFixed(2)} ms, p99 ${r.figures.latencyMs.p99.toFixed(2)} ms`,
      );
    }
    console.log(`  otel sink: ${sink.requests()} OTLP export requests, ${(sink.bytes() / 1e6).toFixed(1)} MB`);
    if (sink.requests() === 0) throw new Error('otel: the traced hub exported nothing: tracing was not on');
    const sampled = results[2]!.figures;
    return {
      ...on,
      headline: { value: Math.round((1000 * on.requestsPerSec) / off.requestsPerSec) / 10, unit: `% of untraced check (${off.requestsPerSec.toFixed(0)} req/s); 10 % sampled: ${((100 * sampled.requestsPerSec) / off.requestsPerSec).toFixed(1)} %`, per: '% of untraced check' },
    };
  },
};

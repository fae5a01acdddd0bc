import type { Services } from '../../src/server/services';

/** What `npm run bench` was asked to do (flags win over BENCH_* environment variables). */
export interface BenchOptions {
  /** Seconds each scenario is measured for. */
  duration: number;
  /** Seconds of unmeasured load before each measurement (JIT, pools and caches warm up). */
  warmup: number;
  /** Concurrent HTTP connections the load generator keeps open. */
  connections: number;
  /** Scenario names to run; empty runs all. The baseline always runs. */
  only: string[];
  /**
   * How many times to run the baseline and the selected scenarios, one after the other (≥ 1).
   * Each round's ratios compare with that round's baseline; the report adds their median.
   */
  rounds: number;
}

/** One HTTP load: what autocannon sends, and what a correct answer looks like. */
export interface LoadSpec {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /**
   * The exact body every response must have. Any other body counts as a mismatch and fails
   * the run: a GraphQL server answers errors with HTTP 200, so status codes alone prove little.
   */
  expectBody?: string;
  /** Overrides the run's connection count for this load. */
  connections?: number;
  /**
   * Requests each connection sends in turn (autocannon `requests`: path, method, headers,
   * body each), e.g. one per device with its own credential; replaces url's path and headers.
   */
  requests?: { path: string; method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string }[];
}

/** The figures of one measured load. Latencies in milliseconds. */
export interface Figures {
  requestsPerSec: number;
  requests: number;
  durationSec: number;
  connections: number;
  latencyMs: { p50: number; p90: number; p99: number; avg: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  mismatches: number;
  statusCodes: Record<string, number>;
  /** Share of the run the server's event loop was busy (1 = CPU-bound on its one thread). */
  serverEventLoopUtilization: number;
  /**
   * A scenario's own figure when requests/s is not the point (e.g. order lines/s). With
   * --rounds, the summary gives the median of the rounds' values when they share a unit: `per`
   * names it when `unit` carries figures of its own round (e.g. '% of check-floor').
   */
  headline?: { value: number; unit: string; per?: string };
}

/** A hub started in this process for the benchmark. */
export interface BenchHub {
  url: string;
  adminKey: string;
  services: Services;
  /** Sends one GraphQL request and returns the raw status and body (for checks before a load). */
  post(query: string, variables?: Record<string, unknown>, key?: string | null): Promise<{ status: number; text: string }>;
}

/** What a scenario gets: the servers, the options, and the load runner. */
export interface BenchContext {
  hub: BenchHub;
  /** The baseline: a bare Fastify server answering `POST /bare` with a small JSON body. */
  bare: { url: string };
  options: BenchOptions;
  /** Warms up, then measures `spec` for `options.duration` seconds. */
  load(spec: LoadSpec): Promise<Figures>;
}

/** A named benchmark. Add one by writing `bench/scenarios/<name>.scenario.ts` and listing it in index.ts. */
export interface Scenario {
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<Figures>;
}

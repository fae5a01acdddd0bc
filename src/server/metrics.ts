import perfHooks, { PerformanceObserver, type ELDHistogram } from 'node:perf_hooks';
import client from 'prom-client';
import type { DataSource } from 'typeorm';
import { poolStats } from '../db/data-source';

/** The hub's Prometheus metrics, in a registry of its own (several apps may live in one test process). */
export class Metrics {
  readonly registry = new client.Registry();

  readonly httpDuration = new client.Histogram({
    name: 'ehub_http_request_duration_seconds',
    help: 'HTTP request duration by method, route and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly graphqlDuration = new client.Histogram({
    name: 'ehub_graphql_operation_duration_seconds',
    help: 'GraphQL operation duration by operation name and type',
    labelNames: ['operation', 'type'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly graphqlErrors = new client.Counter({
    name: 'ehub_graphql_errors_total',
    help: 'GraphQL errors by extensions.code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  readonly rateLimited = new client.Counter({
    name: 'ehub_rate_limited_requests_total',
    help: 'Requests refused with 429 by the rate limits, by bucket (api, licensing) and what was limited (key, address)',
    labelNames: ['bucket', 'by'] as const,
    registers: [this.registry],
  });

  readonly exportRows = new client.Counter({
    name: 'ehub_export_source_rows_total',
    help: 'Source rows the CSV exports read from their database cursor, by export (waterfall: obligations; journal: events)',
    labelNames: ['export'] as const,
    registers: [this.registry],
  });

  readonly exportFetches = new client.Counter({
    name: 'ehub_export_fetches_total',
    help: 'FETCHes (database round trips) the CSV exports made on their server-side cursor, by export',
    labelNames: ['export'] as const,
    registers: [this.registry],
  });

  /** Stops what the default metrics started (see close()). */
  private readonly stopDefaults: () => void;

  constructor(ds?: DataSource, replica?: { reads: number; fallbacks: number }) {
    this.stopDefaults = collectDefaultMetrics(this.registry);
    if (replica) {
      // DATABASE_READ_URL (ADR 0051): analytics reads sent to the replica, and those the primary answered because it could not be reached.
      new client.Gauge({
        name: 'ehub_db_replica_reads',
        help: 'Read-only analytics queries since start, by who answered them (replica, or primary when the replica could not be reached)',
        labelNames: ['answered_by'] as const,
        registers: [this.registry],
        collect() {
          this.set({ answered_by: 'replica' }, replica.reads - replica.fallbacks);
          this.set({ answered_by: 'primary' }, replica.fallbacks);
        },
      });
    }
    if (ds) {
      new client.Gauge({
        name: 'ehub_db_pool_connections',
        help: 'Database pool connections by state (total, idle, waiting clients)',
        labelNames: ['state'] as const,
        registers: [this.registry],
        collect() {
          const s = poolStats(ds);
          this.set({ state: 'total' }, s.total);
          this.set({ state: 'idle' }, s.idle);
          this.set({ state: 'waiting' }, s.waiting);
        },
      });
      // Read at scrape time: the sync outbox backlog and how long ago each sync last ran,
      // so an alert can fire on a growing backlog, dead letters or a stalled pull.
      new client.Gauge({
        name: 'ehub_sync_outbox_items',
        help: 'Sync outbox items not done, by connection and status (PENDING, IN_FLIGHT, SUBMITTED, FAILED, DEAD)',
        labelNames: ['connection', 'status'] as const,
        registers: [this.registry],
        async collect() {
          this.reset();
          const rows: { name: string; status: string; n: number }[] = await ds.query(
            `SELECT c.name, o.status, count(*)::int AS n FROM sync_outbox o JOIN sync_connection c ON c.id = o.connection_id WHERE o.status <> 'DONE' GROUP BY c.name, o.status`,
          );
          for (const r of rows) this.set({ connection: r.name, status: r.status }, r.n);
        },
      });
      new client.Gauge({
        name: 'ehub_sync_last_run_age_seconds',
        help: 'Seconds since the last finished sync run, by connection, kind (PULL, PUSH, RENEWALS), object and outcome',
        labelNames: ['connection', 'kind', 'object', 'status'] as const,
        registers: [this.registry],
        async collect() {
          this.reset();
          const rows: { name: string; kind: string; object: string; status: string; age: number }[] = await ds.query(
            `SELECT c.name, r.kind, r.object, r.status, extract(epoch FROM now() - max(r.finished_at))::float AS age
               FROM sync_run r JOIN sync_connection c ON c.id = r.connection_id
              WHERE r.finished_at IS NOT NULL
              GROUP BY c.name, r.kind, r.object, r.status`,
          );
          for (const r of rows) this.set({ connection: r.name, kind: r.kind, object: r.object, status: r.status }, Math.round(r.age));
        },
      });
    }
  }

  /**
   * Stops the default metrics' GC observer and event-loop monitor. Nothing else holds on to
   * this instance; without this, each one ever built stayed reachable through the GC observer
   * (and with it the hub whose gauges it reads). Called when the app closes.
   */
  close(): void {
    this.stopDefaults();
  }
}

/**
 * prom-client's default metrics (process CPU, memory, heap, handles, event-loop lag, GC) into
 * `registry`, and a function that stops them. prom-client starts a PerformanceObserver for GC
 * and an event-loop delay monitor and offers no way to stop either (prometheus/client_js#500,
 * #494): every registry ever given default metrics stayed reachable for the life of the
 * process (in the test suite, every test file's whole hub, ~35 MB each). The two are caught as
 * prom-client creates them, during this synchronous call only, so they can be stopped.
 */
export function collectDefaultMetrics(registry: client.Registry): () => void {
  const observers: PerformanceObserver[] = [];
  const monitors: ELDHistogram[] = [];
  const observe = PerformanceObserver.prototype.observe;
  const monitor = perfHooks.monitorEventLoopDelay;
  PerformanceObserver.prototype.observe = function (this: PerformanceObserver, ...args: Parameters<typeof observe>) {
    observers.push(this);
    return observe.apply(this, args);
  };
  perfHooks.monitorEventLoopDelay = (...args: Parameters<typeof monitor>) => {
    const histogram = monitor(...args);
    monitors.push(histogram);
    return histogram;
  };
  try {
    client.collectDefaultMetrics({ register: registry, prefix: 'ehub_' });
  } finally {
    PerformanceObserver.prototype.observe = observe;
    perfHooks.monitorEventLoopDelay = monitor;
  }
  return () => {
    for (const o of observers.splice(0)) o.disconnect();
    for (const h of monitors.splice(0)) h.disable();
  };
}

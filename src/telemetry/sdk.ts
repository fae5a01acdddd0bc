import type { Span } from '@opentelemetry/api';

/*
 * OpenTelemetry for the hub process (ADR 0044): off unless the standard variables switch it on
 * (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_TRACES_EXPORTER
 * other than `none`; OTEL_SDK_DISABLED=true wins). Then the Node SDK exports traces and
 * metrics as those variables say (OTLP over http/protobuf by default; OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, OTEL_BSP_*, OTEL_METRIC_EXPORT_INTERVAL, …),
 * with the HTTP (server and client), PostgreSQL (`pg`) and undici (fetch) instrumentations.
 *
 * It must start before `pg`, `http` and the rest are loaded: src/telemetry/register.ts is the
 * first import of the CLI. The SDK is required lazily, so a hub without telemetry loads none of it.
 */

export interface Telemetry {
  /** Flushes what is buffered and stops exporting (call before the process exits). */
  shutdown(): Promise<void>;
}

export function telemetryWanted(env: NodeJS.ProcessEnv): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').toLowerCase() === 'true') return false;
  const exporter = (env.OTEL_TRACES_EXPORTER ?? '').trim().toLowerCase();
  if (exporter && exporter !== 'none') return true;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/** A URL without its query string: signed download links, device queries and API queries stay out of traces. */
export function withoutQuery(url: string): string {
  const i = url.indexOf('?');
  return i < 0 ? url : url.slice(0, i);
}

/** Query strings hold link signatures, device tokens' queries and API query text: spans keep the path only. */
export function redactQueries(span: Span): void {
  const attrs = (span as { attributes?: Record<string, unknown> }).attributes ?? {};
  for (const k of ['http.url', 'http.target', 'url.full']) {
    const v = attrs[k];
    if (typeof v === 'string' && v.includes('?')) span.setAttribute(k, withoutQuery(v));
  }
  if (typeof attrs['url.query'] === 'string' && attrs['url.query']) span.setAttribute('url.query', 'REDACTED');
}

export function startTelemetry(env: NodeJS.ProcessEnv = process.env): Telemetry | null {
  if (!telemetryWanted(env)) return null;
  // The hub logs with pino to stdout; OpenTelemetry logs are not exported unless asked for.
  env.OTEL_LOGS_EXPORTER ??= 'none';
  env.OTEL_SERVICE_NAME ??= 'entitlement-hub';
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
  const { UndiciInstrumentation } = require('@opentelemetry/instrumentation-undici') as typeof import('@opentelemetry/instrumentation-undici');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const sdk = new NodeSDK({
    instrumentations: [
      new HttpInstrumentation({
        requestHook: redactQueries,
        // Probes are not worth a trace each.
        ignoreIncomingRequestHook: (req) => /^\/(healthz|readyz|metrics)(\?|$)/.test(req.url ?? ''),
      }),
      new UndiciInstrumentation({ requestHook: redactQueries }),
      // Statement text with placeholders only; values are never recorded (enhancedDatabaseReporting off).
      // Pool checkouts are not spans of their own: they cost a span per statement and say little.
      new PgInstrumentation({ enhancedDatabaseReporting: false, requireParentSpan: true, ignoreConnectSpans: true }),
    ],
  });
  sdk.start();
  let stopped: Promise<void> | null = null;
  return {
    shutdown: () => (stopped ??= sdk.shutdown().catch(() => undefined)),
  };
}

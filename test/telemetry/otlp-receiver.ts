import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One span as OTLP/JSON carries it, flattened (attribute values unwrapped). */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  kind: number;
  attributes: Record<string, string | number | boolean>;
  status: { code?: number; message?: string };
  service: string | null;
  scope: string;
}

type AnyValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean };
const unwrap = (v: AnyValue): string | number | boolean =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : v.doubleValue ?? v.boolValue ?? '');
const attrs = (list: { key: string; value: AnyValue }[] | undefined) => Object.fromEntries((list ?? []).map((a) => [a.key, unwrap(a.value)]));

/**
 * An OTLP/HTTP receiver (JSON encoding, OTEL_EXPORTER_OTLP_PROTOCOL=http/json) on 127.0.0.1:
 * what a collector would get, kept raw (`bodies`, to search for leaks) and as flat spans and
 * metric names.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly metricNames = new Set<string>();
  readonly bodies: string[] = [];
  private server!: http.Server;

  static async start(): Promise<OtlpReceiver> {
    const r = new OtlpReceiver();
    r.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        r.bodies.push(text);
        try {
          r.take(req.url ?? '', JSON.parse(text));
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        } catch {
          res.writeHead(400).end('not OTLP/JSON');
        }
      });
    });
    await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private take(path: string, body: Record<string, unknown>): void {
    if (path.startsWith('/v1/traces')) {
      for (const rs of (body.resourceSpans ?? []) as { resource?: { attributes?: { key: string; value: AnyValue }[] }; scopeSpans?: { scope?: { name?: string }; spans?: Record<string, unknown>[] }[] }[]) {
        const service = (attrs(rs.resource?.attributes)['service.name'] as string | undefined) ?? null;
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            this.spans.push({
              traceId: s.traceId as string,
              spanId: s.spanId as string,
              parentSpanId: (s.parentSpanId as string) || null,
              name: s.name as string,
              kind: s.kind as number,
              attributes: attrs(s.attributes as { key: string; value: AnyValue }[]),
              status: (s.status as ReceivedSpan['status']) ?? {},
              service,
              scope: ss.scope?.name ?? '',
            });
          }
        }
      }
    } else if (path.startsWith('/v1/metrics')) {
      for (const rm of (body.resourceMetrics ?? []) as { scopeMetrics?: { metrics?: { name: string }[] }[] }[]) {
        for (const sm of rm.scopeMetrics ?? []) for (const m of sm.metrics ?? []) this.metricNames.add(m.name);
      }
    }
  }

  /** The spans of one trace. */
  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((s) => s.traceId === traceId);
  }

  children(parent: ReceivedSpan): ReceivedSpan[] {
    return this.spans.filter((s) => s.parentSpanId === parent.spanId);
  }

  async waitFor(what: () => boolean, timeoutMs = 15_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!what()) {
      if (Date.now() > until) throw new Error(`OTLP receiver: timed out; spans so far: ${this.spans.map((s) => s.name).join(', ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

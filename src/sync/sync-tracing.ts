import { context, trace, type Span } from '@opentelemetry/api';
import type { Connector, ConnectorCallContext, PullObject, PullPage, PullRequest, PushBatch, PushObject, PushResult } from '../../connectors/types';
import { failSpan, tracer } from '../telemetry/tracing';

/**
 * A connector whose calls are spans (ADR 0044): one per health check, per page pulled and per
 * batch pushed, named `connector.<operation>`, carrying the connector type, the object, the
 * record count, the outcome and the API calls it took — never credentials or record contents.
 * Without an OpenTelemetry SDK the spans are no-ops (the wrapper costs a few property reads).
 * Connectors themselves know nothing of tracing.
 */
export function tracedConnector(connector: Connector): Connector {
  const type = connector.type;
  const apiCalls = () => connector.stats().apiCalls;
  const start = (operation: string, object: string | null): { span: Span; calls: number } => {
    const span = tracer.startSpan(`connector.${operation}`, {
      attributes: { 'ehub.connector.type': type, 'ehub.connector.api': `${type}.${operation}`, ...(object ? { 'ehub.sync.object': object } : {}) },
    });
    return { span, calls: apiCalls() };
  };
  const end = (s: { span: Span; calls: number }, records: number | null, outcome: string, failed = 0) => {
    s.span.setAttributes({ 'ehub.connector.api_calls': apiCalls() - s.calls, 'ehub.connector.outcome': outcome, 'ehub.connector.failed': failed });
    if (records !== null) s.span.setAttribute('ehub.connector.records', records);
    s.span.end();
  };
  const traced: Connector = {
    type,
    stats: () => connector.stats(),
    close: () => connector.close(),
    async healthCheck(ctx: ConnectorCallContext) {
      const s = start('healthCheck', null);
      try {
        const h = await context.with(trace.setSpan(context.active(), s.span), () => connector.healthCheck(ctx));
        end(s, null, h.ok ? 'ok' : 'unhealthy');
        return h;
      } catch (err) {
        failSpan(s.span, err);
        end(s, null, 'error');
        throw err;
      }
    },
    pull<O extends PullObject>(ctx: ConnectorCallContext, request: PullRequest & { object: O }): AsyncIterable<PullPage<O>> {
      const source = connector.pull(ctx, request);
      return {
        [Symbol.asyncIterator]() {
          const it = source[Symbol.asyncIterator]();
          return {
            async next() {
              const s = start('pull', request.object);
              try {
                const r = await context.with(trace.setSpan(context.active(), s.span), () => it.next());
                if (r.done) end(s, 0, 'done');
                else end(s, r.value.records.length, 'ok', r.value.problems?.length ?? 0);
                return r;
              } catch (err) {
                failSpan(s.span, err);
                end(s, null, 'error');
                throw err;
              }
            },
            return: it.return ? (v?: unknown) => it.return!(v as never) : undefined,
          } as AsyncIterator<PullPage<O>>;
        },
      };
    },
    async push<O extends PushObject>(ctx: ConnectorCallContext, batch: PushBatch<O>): Promise<PushResult[]> {
      return pushSpan('push', batch, () => connector.push(ctx, batch));
    },
    ...(connector.resumePush
      ? {
          async resumePush<O extends PushObject>(ctx: ConnectorCallContext, batch: PushBatch<O>, handle: string): Promise<PushResult[]> {
            return pushSpan('resumePush', batch, () => connector.resumePush!(ctx, batch, handle));
          },
        }
      : {}),
  };
  async function pushSpan<O extends PushObject>(operation: string, batch: PushBatch<O>, call: () => Promise<PushResult[]>): Promise<PushResult[]> {
    const s = start(operation, batch.object);
    try {
      const results = await context.with(trace.setSpan(context.active(), s.span), call);
      const failed = results.filter((r) => !r.ok).length;
      end(s, batch.items.length, failed === 0 ? 'ok' : failed === results.length ? 'failed' : 'partial', failed);
      return results;
    } catch (err) {
      failSpan(s.span, err);
      end(s, batch.items.length, 'error');
      throw err;
    }
  }
  return traced;
}

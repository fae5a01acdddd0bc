import { SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import { VERSION } from '../version';

/*
 * The hub's own spans (ADR 0044), through the vendor-neutral OpenTelemetry API only: without
 * an SDK (the default) every call here is a no-op. The SDK, the exporters and the automatic
 * instrumentations (HTTP, PostgreSQL, outgoing fetch) are set up by ./sdk.ts when the standard
 * OTEL_* variables ask for them.
 *
 * Attributes carry names, kinds, counts and outcomes: never credentials, keys, personal data,
 * record contents or query values.
 */
export const tracer = trace.getTracer('entitlement-hub', VERSION);

/** Runs `fn` in a new active span (child of the active one, or a new trace when `root`), ending it with the outcome. */
export async function inSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>, kind: SpanKind = SpanKind.INTERNAL, root = false): Promise<T> {
  return tracer.startActiveSpan(name, { attributes, kind, root }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      failSpan(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * Marks a span failed. Only the error's class and its code go out: messages can quote what a
 * remote system answered (names, ids), which traces must not carry.
 */
export function failSpan(span: Span, err: unknown): void {
  const code = (err as { code?: unknown; subCode?: unknown })?.subCode ?? (err as { code?: unknown })?.code;
  const type = err instanceof Error ? err.constructor.name : typeof err;
  span.setAttribute('error.type', typeof code === 'string' ? code : type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: typeof code === 'string' ? code : type });
}

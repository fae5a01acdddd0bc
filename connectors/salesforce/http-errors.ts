/**
 * What the Salesforce connector reads from failed exchanges, without jsforce: the errors
 * module uses these, and jsforce (the transport) loads only with the first connection.
 */
import { ConnectorError, type ApiUsage } from '../types';

/** `api-usage=25/15000` of a `Sforce-Limit-Info` header (not `per-app-api-usage=`). */
export function parseLimitInfo(header: string | undefined): ApiUsage | null {
  if (!header) return null;
  const m = /(?:^|[^-\w])api-usage=(\d+)\/(\d+)/.exec(header);
  return m ? { used: Number(m[1]), limit: Number(m[2]) } : null;
}

/** `[{"errorCode":"X","message":"..."}]` or `{"error":"x","error_description":"..."}` → code and message. */
export function describeErrorBody(body: string): { code: string | null; message: string } {
  try {
    const parsed: unknown = JSON.parse(body);
    const first: unknown = Array.isArray(parsed) ? parsed[0] : parsed;
    if (first && typeof first === 'object') {
      const e = first as Record<string, unknown>;
      const code = typeof e.errorCode === 'string' ? e.errorCode : typeof e.error === 'string' ? e.error : null;
      const message =
        typeof e.message === 'string' ? e.message : typeof e.error_description === 'string' ? e.error_description : body;
      return { code, message };
    }
  } catch {
    // not JSON (an HTML error page, a proxy's text)
  }
  return { code: null, message: body.slice(0, 300) };
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETDOWN',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** The deepest `code` in an error's cause chain (undici wraps socket errors twice). */
function causeCode(err: unknown): string | null {
  let e: unknown = err;
  let found: string | null = null;
  for (let depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') found = code;
    e = (e as { cause?: unknown }).cause;
  }
  return found;
}

/** A failure below HTTP (refused, reset, DNS, aborted) as UNAVAILABLE. */
export function networkError(err: unknown): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const code = causeCode(err);
  const message = err instanceof Error ? err.message : String(err);
  if (code && NETWORK_CODES.has(code)) return new ConnectorError('UNAVAILABLE', code, `Salesforce unreachable: ${code}`);
  const name = err && typeof err === 'object' ? (err as { name?: unknown }).name : undefined;
  if (name === 'AbortError' || name === 'TimeoutError' || /aborted|Request Timeout/i.test(message)) {
    return new ConnectorError('UNAVAILABLE', 'TIMEOUT', `Salesforce request aborted: ${message}`);
  }
  return new ConnectorError('UNAVAILABLE', code ?? 'NETWORK_ERROR', `Salesforce request failed: ${message}`);
}

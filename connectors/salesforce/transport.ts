// runtime values come from jsforce/lib: the package main exports only the default object
import { StreamPromise } from 'jsforce/lib';
import type { HttpRequest, HttpRequestOptions, HttpResponse } from 'jsforce';
import { Transport } from 'jsforce/lib/transport';
import { ConnectorError } from '../types';
import { describeErrorBody, networkError } from './http-errors';

/** What the connector learns from every exchange. */
export interface TransportHooks {
  /** Called once per HTTP request put on the wire (token requests included). */
  onRequest(req: HttpRequest): void;
  /** Called for every response that arrived, whatever its status. */
  onResponse(req: HttpRequest, res: HttpResponse): void;
  readonly timeoutMs: number;
  readonly rateLimitBackoffMs: number;
}

/**
 * jsforce's transport with three changes: every request is counted and every response seen
 * (stats, `Sforce-Limit-Info`, the refresh bookkeeping); jsforce's own retries are off (the
 * engine retries whole batches with backoff, and a hidden retry would make the call count
 * lie); and whole-request failures become ConnectorErrors here — 5xx and network errors
 * UNAVAILABLE, REQUEST_LIMIT_EXCEEDED RATE_LIMITED — while 401 passes through so jsforce's
 * session refresh still sees it.
 */
export class ConnectorTransport extends Transport {
  constructor(private readonly hooks: TransportHooks) {
    super();
  }

  override httpRequest(req: HttpRequest, options: HttpRequestOptions = {}): StreamPromise<HttpResponse> {
    const hooks = this.hooks;
    const send = (o: HttpRequestOptions): StreamPromise<HttpResponse> => super.httpRequest(req, o);
    return StreamPromise.create(() => {
      hooks.onRequest(req);
      // jsforce's own timer is a backstop that aborts the socket after ours has answered
      const inner = send({ ...options, timeout: hooks.timeoutMs + 1000, retry: { maxRetries: 0 } });
      const promise = new Promise<HttpResponse>((resolve, reject) => {
        // jsforce's timeout covers the wait for headers only; this one covers the body too.
        const timer = setTimeout(
          () => reject(new ConnectorError('UNAVAILABLE', 'TIMEOUT', `Salesforce did not answer within ${hooks.timeoutMs} ms`)),
          hooks.timeoutMs,
        );
        inner.then(
          (res) => {
            clearTimeout(timer);
            // jsforce resolves with undefined when the request failed below HTTP after a redirect
            if (!res) return reject(new ConnectorError('UNAVAILABLE', 'NETWORK_ERROR', 'Salesforce request failed'));
            hooks.onResponse(req, res);
            const failure = this.failureOf(res);
            if (failure) reject(failure);
            else resolve(res);
          },
          (err: unknown) => {
            clearTimeout(timer);
            reject(networkError(err));
          },
        );
      });
      return { stream: inner.stream(), promise };
    });
  }

  private failureOf(res: HttpResponse): ConnectorError | null {
    const status = res.statusCode;
    if (status < 400 || status === 401) return null;
    const body = typeof res.body === 'string' ? res.body : '';
    if (status >= 500) {
      const { code, message } = describeErrorBody(body);
      return new ConnectorError('UNAVAILABLE', `HTTP_${status}`, `Salesforce answered ${status}${code ? ` ${code}` : ''}: ${message}`);
    }
    if (body.includes('REQUEST_LIMIT_EXCEEDED') || status === 429) {
      const retryAfter = Number(res.headers['retry-after']);
      const wait = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : this.hooks.rateLimitBackoffMs;
      return new ConnectorError('RATE_LIMITED', 'REQUEST_LIMIT_EXCEEDED', `Salesforce API limit exceeded: ${describeErrorBody(body).message}`, wait);
    }
    return null;
  }
}

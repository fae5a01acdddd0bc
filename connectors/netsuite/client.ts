/**
 * A small typed client for NetSuite's SuiteTalk REST web services on `fetch`: OAuth 2.0
 * client credentials (M2M, JWT assertion signed PS256/ES256 with `jose`) or token-based
 * authentication (OAuth 1.0a HMAC-SHA256 with `oauth-1.0a`), a per-client concurrency cap,
 * and NetSuite's governance handled: `429 CONCURRENCY_LIMIT_EXCEEDED` is waited out with
 * jittered backoff without spending an attempt; 5xx and network failures are retried a
 * bounded number of times. See docs/adr/0025-netsuite-client.md.
 */
import { createHmac, createPrivateKey, randomBytes } from 'node:crypto';
import { importPKCS8, SignJWT, type KeyLike } from 'jose';
import OAuth from 'oauth-1.0a';
import { ConnectorError } from '../types';
import { sleep } from '../abort';

export type NetSuiteAuth =
  | { mode: 'm2m'; clientId: string; certificateId: string; privateKey: string }
  | { mode: 'tba'; consumerKey: string; consumerSecret: string; tokenId: string; tokenSecret: string };

export interface NetSuiteClientOptions {
  /** The account id as NetSuite shows it, e.g. `1234567_SB1` (TBA realm). */
  accountId: string;
  /** Default `https://<accountId>.suitetalk.api.netsuite.com` (lower case, `_` → `-`). */
  baseUrl?: string;
  auth: NetSuiteAuth;
  /** Requests in flight at once from this client; default 4 (NetSuite's account default is 5). */
  concurrency?: number;
  /** Attempts for 5xx / network failures (429s are not counted); default 5. */
  maxAttempts?: number;
  /** First backoff after a 5xx; doubles per attempt, with jitter; default 200 ms. */
  backoffMs?: number;
  /** Total time a request may spend waiting out 429s before RATE_LIMITED; default 120 s. */
  maxThrottleWaitMs?: number;
  /** Renew an M2M token this long before it expires; default 5 min. */
  renewEarlyMs?: number;
  requestTimeoutMs?: number;
  /** The clock for token expiry and signatures (tests pass the emulator's). */
  now?: () => number;
  fetch?: typeof fetch;
  random?: () => number;
}

/** One error detail of NetSuite's error body. */
export interface NetSuiteErrorDetail {
  code: string;
  detail: string;
  path: string | null;
}

/** The outcome of a write: ok with the record id (from `Location`), or the refusal. */
export type WriteOutcome =
  | { ok: true; id: string | null }
  | { ok: false; status: number; code: string; detail: string; path: string | null; retryable: boolean };

export interface SuiteQlPage<R = Record<string, string>> {
  items: R[];
  count: number;
  hasMore: boolean;
  offset: number;
  totalResults: number;
}

/** SuiteQL pages hold at most 1,000 rows; a query can page through at most 100,000. */
export const SUITEQL_PAGE_MAX = 1000;
export const SUITEQL_OFFSET_CEILING = 100_000;

const TOKEN_PATH = '/services/rest/auth/oauth2/v1/token';

/** `https://<account>.suitetalk.api.netsuite.com` for an account id (`1234567_SB1` → `1234567-sb1`). */
export function baseUrlFor(accountId: string): string {
  return `https://${accountId.toLowerCase().replace(/_/g, '-')}.suitetalk.api.netsuite.com`;
}

/** Parses NetSuite's error body; tolerant of other shapes. */
export function parseErrorBody(body: unknown): NetSuiteErrorDetail[] {
  const details = (body as { 'o:errorDetails'?: unknown })?.['o:errorDetails'];
  if (!Array.isArray(details)) return [];
  return details.map((d: Record<string, unknown>) => ({
    code: typeof d['o:errorCode'] === 'string' ? d['o:errorCode'] : 'UNKNOWN',
    detail: typeof d.detail === 'string' ? d.detail : '',
    path: typeof d['o:errorPath'] === 'string' ? d['o:errorPath'] : null,
  }));
}

class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly size: number) {}
  async acquire(): Promise<void> {
    if (this.active < this.size) {
      this.active++;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}

interface Response0 {
  status: number;
  headers: Headers;
  body: unknown;
}

export class NetSuiteClient {
  readonly baseUrl: string;
  apiCalls = 0;
  tokenRequests = 0;
  /** 429s waited out (not counted as attempts). */
  throttled = 0;
  private readonly sem: Semaphore;
  private token: { value: string; expiresAtMs: number } | null = null;
  private tokenPromise: Promise<string> | null = null;
  private readonly now: () => number;
  private readonly fetchFn: typeof fetch;
  private readonly random: () => number;
  private readonly oauth: OAuth | null;
  private signingKey: Promise<KeyLike> | null = null;

  constructor(readonly options: NetSuiteClientOptions) {
    this.baseUrl = (options.baseUrl ?? baseUrlFor(options.accountId)).replace(/\/+$/, '');
    this.sem = new Semaphore(options.concurrency ?? 4);
    this.now = options.now ?? Date.now;
    this.fetchFn = options.fetch ?? fetch;
    this.random = options.random ?? Math.random;
    const a = options.auth;
    if (a.mode === 'tba') {
      this.oauth = new OAuth({
        consumer: { key: a.consumerKey, secret: a.consumerSecret },
        signature_method: 'HMAC-SHA256',
        realm: options.accountId,
        hash_function: (base, key) => createHmac('sha256', key).update(base).digest('base64'),
      });
      // sign with the client's clock (the emulator's in tests) and a fresh 128-bit nonce
      this.oauth.getTimeStamp = () => Math.floor(this.now() / 1000);
      this.oauth.getNonce = () => randomBytes(16).toString('hex');
    } else {
      this.oauth = null;
    }
  }

  get tokenUrl(): string {
    return `${this.baseUrl}${TOKEN_PATH}`;
  }

  private alg(): 'PS256' | 'ES256' {
    const a = this.options.auth;
    if (a.mode !== 'm2m') throw new Error('not m2m');
    const type = createPrivateKey(a.privateKey).asymmetricKeyType;
    return type === 'ec' ? 'ES256' : 'PS256';
  }

  /** A cached M2M access token, renewed `renewEarlyMs` before it expires (one request at a time). */
  async accessToken(force = false): Promise<string> {
    const early = this.options.renewEarlyMs ?? 5 * 60_000;
    if (!force && this.token && this.token.expiresAtMs - early > this.now()) return this.token.value;
    this.tokenPromise ??= this.fetchToken().finally(() => {
      this.tokenPromise = null;
    });
    return this.tokenPromise;
  }

  private async fetchToken(): Promise<string> {
    const a = this.options.auth;
    if (a.mode !== 'm2m') throw new Error('not m2m');
    const alg = this.alg();
    this.signingKey ??= importPKCS8(createPrivateKey(a.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString(), alg);
    const key = await this.signingKey;
    const maxAttempts = this.options.maxAttempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      const iat = Math.floor(this.now() / 1000);
      const assertion = await new SignJWT({ scope: ['rest_webservices'] })
        .setProtectedHeader({ alg, kid: a.certificateId, typ: 'JWT' })
        .setIssuer(a.clientId)
        .setAudience(this.tokenUrl)
        .setIssuedAt(iat)
        .setExpirationTime(iat + 1800)
        .sign(key);
      const form = new URLSearchParams({
        grant_type: 'client_credentials',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      });
      let res: globalThis.Response;
      try {
        this.apiCalls++;
        this.tokenRequests++;
        res = await this.fetchFn(this.tokenUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: form.toString(),
          signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 60_000),
        });
      } catch (err) {
        if (attempt >= maxAttempts) throw new ConnectorError('UNAVAILABLE', 'NETWORK', `NetSuite token endpoint unreachable: ${(err as Error).message}`);
        await this.backoff(attempt);
        continue;
      }
      const text = await res.text();
      if (res.status >= 500) {
        if (attempt >= maxAttempts) throw new ConnectorError('UNAVAILABLE', `HTTP_${res.status}`, `NetSuite token endpoint answered ${res.status}`);
        await this.backoff(attempt);
        continue;
      }
      let body: { access_token?: string; expires_in?: string | number; error?: string; error_description?: string } = {};
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        /* not JSON */
      }
      if (res.status !== 200 || !body.access_token) {
        throw new ConnectorError('AUTH', body.error ?? `HTTP_${res.status}`, `NetSuite refused the client credentials: ${body.error_description ?? body.error ?? text.slice(0, 200)}`);
      }
      const expiresIn = Number(body.expires_in ?? 3600);
      this.token = { value: body.access_token, expiresAtMs: this.now() + expiresIn * 1000 };
      return body.access_token;
    }
  }

  private async authorization(method: string, url: string, forceToken: boolean): Promise<string> {
    if (this.oauth) {
      const a = this.options.auth as Extract<NetSuiteAuth, { mode: 'tba' }>;
      const data = this.oauth.authorize({ url, method }, { key: a.tokenId, secret: a.tokenSecret });
      return this.oauth.toHeader(data).Authorization;
    }
    return `Bearer ${await this.accessToken(forceToken)}`;
  }

  private backoff(attempt: number, signal?: AbortSignal): Promise<void> {
    const base = (this.options.backoffMs ?? 200) * 2 ** (attempt - 1);
    return sleep(Math.min(30_000, base / 2 + this.random() * base), signal);
  }

  /**
   * One REST request with governance: a concurrency slot, auth (signed anew per attempt),
   * 429s waited out without spending an attempt, one re-authentication on 401, 5xx and
   * network failures retried (only when `idempotent`). Answers 2xx and 4xx (other than 401
   * and 429) to the caller; throws ConnectorError otherwise.
   */
  async request(method: string, path: string, opts: { query?: Record<string, string | number>; body?: unknown; headers?: Record<string, string>; idempotent?: boolean; signal?: AbortSignal } = {}): Promise<Response0> {
    const u = new URL(`${this.baseUrl}${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) u.searchParams.set(k, String(v));
    const url = u.toString();
    const maxAttempts = this.options.maxAttempts ?? 5;
    const maxThrottleWait = this.options.maxThrottleWaitMs ?? 120_000;
    const idempotent = opts.idempotent ?? true;
    let attempt = 0;
    let throttleWait = 0;
    let throttles = 0;
    let reauthed = false;
    for (;;) {
      if (opts.signal?.aborted) throw aborted(method, path);
      await this.sem.acquire();
      let res: globalThis.Response;
      let text: string;
      try {
        const authorization = await this.authorization(method, url, false);
        this.apiCalls++;
        res = await this.fetchFn(url, {
          method,
          headers: {
            authorization,
            accept: 'application/json',
            ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...(opts.headers ?? {}),
          },
          body: opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body),
          // The request's own timeout, and the caller's signal: a shutdown does not wait for a NetSuite that hangs.
          signal: opts.signal ? AbortSignal.any([AbortSignal.timeout(this.options.requestTimeoutMs ?? 60_000), opts.signal]) : AbortSignal.timeout(this.options.requestTimeoutMs ?? 60_000),
        });
        text = await res.text();
      } catch (err) {
        if (err instanceof ConnectorError) throw err;
        if (opts.signal?.aborted) throw aborted(method, path);
        attempt++;
        if (!idempotent || attempt >= maxAttempts) {
          throw new ConnectorError('UNAVAILABLE', 'NETWORK', `NetSuite unreachable (${method} ${path}): ${(err as Error).message}`);
        }
        await this.backoff(attempt, opts.signal);
        continue;
      } finally {
        this.sem.release();
      }
      let body: unknown = null;
      if (text) {
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
      }
      const status = res.status;
      if (status === 429) {
        // governance: the request was not processed; wait and try again without spending an attempt
        this.throttled++;
        throttles++;
        const retryAfter = Number(res.headers.get('retry-after'));
        const base = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : Math.min(5_000, (this.options.backoffMs ?? 200) * 2 ** Math.min(throttles - 1, 5));
        const wait = base / 2 + this.random() * base;
        if (throttleWait + wait > maxThrottleWait) {
          const d = parseErrorBody(body)[0];
          throw new ConnectorError('RATE_LIMITED', d?.code ?? 'HTTP_429', `NetSuite kept refusing ${method} ${path} for concurrency (${throttles} times)`, 30_000);
        }
        throttleWait += wait;
        await sleep(wait, opts.signal);
        continue;
      }
      if (status === 401) {
        if (!reauthed) {
          reauthed = true;
          if (this.options.auth.mode === 'm2m') {
            this.token = null;
            await this.accessToken(true);
          }
          continue;
        }
        const d = parseErrorBody(body)[0];
        throw new ConnectorError('AUTH', d?.code ?? 'HTTP_401', `NetSuite refused the credentials: ${d?.detail ?? 'unauthorized'}`);
      }
      if (status >= 500) {
        attempt++;
        const d = parseErrorBody(body)[0];
        if (!idempotent || attempt >= maxAttempts) {
          throw new ConnectorError('UNAVAILABLE', `HTTP_${status}`, `NetSuite answered ${status} to ${method} ${path}${d ? `: ${d.code} ${d.detail}` : ''}`);
        }
        await this.backoff(attempt, opts.signal);
        continue;
      }
      return { status, headers: res.headers, body };
    }
  }

  /** One SuiteQL page (limit ≤ 1000; offset + limit within the 100,000-row ceiling). */
  async suiteql(q: string, opts: { limit?: number; offset?: number; signal?: AbortSignal } = {}): Promise<SuiteQlPage> {
    const limit = opts.limit ?? SUITEQL_PAGE_MAX;
    const offset = opts.offset ?? 0;
    if (limit < 1 || limit > SUITEQL_PAGE_MAX) throw new ConnectorError('INVALID', 'INVALID_PARAMETER', `SuiteQL limit ${limit} is outside 1..1000`);
    const res = await this.request('POST', '/services/rest/query/v1/suiteql', {
      query: { limit, offset },
      body: { q },
      headers: { prefer: 'transient' },
      signal: opts.signal,
    });
    if (res.status !== 200) {
      const d = parseErrorBody(res.body)[0];
      throw new ConnectorError('INVALID', d?.code ?? `HTTP_${res.status}`, `SuiteQL refused: ${d?.detail ?? JSON.stringify(res.body).slice(0, 300)}`);
    }
    const b = res.body as SuiteQlPage & { items: Record<string, unknown>[] };
    return {
      items: (b.items ?? []).map((i) => {
        const { links: _links, ...rest } = i;
        return rest as Record<string, string>;
      }),
      count: b.count,
      hasMore: b.hasMore,
      offset: b.offset,
      totalResults: b.totalResults,
    };
  }

  /**
   * Every row of a query by offset, in pages of up to 1,000, while the offset stays under the
   * 100,000-row ceiling; throws INVALID past it (use `keysetPages` for large tables).
   */
  async *suiteqlAll(q: string, opts: { pageSize?: number; signal?: AbortSignal } = {}): AsyncGenerator<Record<string, string>[]> {
    const size = opts.pageSize ?? SUITEQL_PAGE_MAX;
    for (let offset = 0; ; offset += size) {
      if (offset >= SUITEQL_OFFSET_CEILING) throw new ConnectorError('INVALID', 'OFFSET_CEILING', 'SuiteQL query passes the 100,000-row offset ceiling');
      const page = await this.suiteql(q, { limit: size, offset, signal: opts.signal });
      if (page.items.length) yield page.items;
      if (!page.hasMore) return;
    }
  }

  /**
   * Incremental SuiteQL pull in (lastmodifieddate, id) order strictly after `after`. Each page
   * is asked as its own keyset query (`offset` 0): the position is the last row seen, so the
   * 100,000-row offset ceiling never applies and a row modified during the pull can neither
   * shift a later row out of a page nor be read twice in one pass. `build(after)` returns the
   * query for rows strictly after the position; it must select `lmd` (TO_CHAR of
   * lastmodifieddate as 'YYYY-MM-DD HH24:MI:SS') and `id`, and order by lastmodifieddate, id.
   */
  async *keysetPages(
    build: (after: KeysetPosition | null) => string,
    after: KeysetPosition | null,
    opts: { pageSize?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<{ rows: Record<string, string>[]; position: KeysetPosition | null }> {
    const size = opts.pageSize ?? SUITEQL_PAGE_MAX;
    let pos = after;
    for (;;) {
      const page = await this.suiteql(build(pos), { limit: size, offset: 0, signal: opts.signal });
      const last = page.items[page.items.length - 1];
      if (last) {
        if (!last.lmd || !last.id) throw new ConnectorError('INVALID', 'KEYSET_COLUMNS', 'A keyset query must select lmd and id');
        pos = { lmd: last.lmd, id: last.id };
      }
      yield { rows: page.items, position: pos };
      if (!page.hasMore || page.items.length === 0) return;
    }
  }

  // ───────────────────────────────────────── record service

  async getRecord(type: string, id: string, opts: { expandSubResources?: boolean } = {}): Promise<Record<string, unknown> | null> {
    const res = await this.request('GET', `/services/rest/record/v1/${type}/${encodeURIComponent(id)}`, {
      query: opts.expandSubResources ? { expandSubResources: 'true' } : {},
    });
    if (res.status === 404) return null;
    if (res.status !== 200) {
      const d = parseErrorBody(res.body)[0];
      throw new ConnectorError('INVALID', d?.code ?? `HTTP_${res.status}`, d?.detail ?? `GET ${type}/${id} answered ${res.status}`);
    }
    return res.body as Record<string, unknown>;
  }

  /** POST a new record; not retried after a 5xx (it may have been created). */
  createRecord(type: string, body: Record<string, unknown>): Promise<WriteOutcome> {
    return this.write('POST', `/services/rest/record/v1/${type}`, body, false);
  }

  updateRecord(type: string, id: string, body: Record<string, unknown>): Promise<WriteOutcome> {
    return this.write('PATCH', `/services/rest/record/v1/${type}/${encodeURIComponent(id)}`, body, true);
  }

  /** PUT …/<type>/eid:<externalId>: creates or updates, never duplicates; safe to retry. */
  upsertByExternalId(type: string, externalId: string, body: Record<string, unknown>): Promise<WriteOutcome> {
    return this.write('PUT', `/services/rest/record/v1/${type}/eid:${encodeURIComponent(externalId)}`, body, true);
  }

  async deleteRecord(type: string, id: string): Promise<WriteOutcome> {
    const res = await this.request('DELETE', `/services/rest/record/v1/${type}/${encodeURIComponent(id)}`);
    return outcome(res);
  }

  private async write(method: string, path: string, body: Record<string, unknown>, idempotent: boolean): Promise<WriteOutcome> {
    const res = await this.request(method, path, { body: stringifyWithDecimals(body), idempotent });
    return outcome(res);
  }
}

function outcome(res: Response0): WriteOutcome {
  if (res.status >= 200 && res.status < 300) {
    const loc = res.headers.get('location');
    return { ok: true, id: loc ? decodeURIComponent(loc.replace(/\/+$/, '').split('/').pop() ?? '') || null : null };
  }
  const d = parseErrorBody(res.body)[0];
  return {
    ok: false,
    status: res.status,
    code: d?.code ?? `HTTP_${res.status}`,
    detail: d?.detail ?? (typeof res.body === 'string' ? res.body : JSON.stringify(res.body ?? '')).slice(0, 500),
    path: d?.path ?? null,
    // record-level refusals (validation, bad reference) do not heal by resending unchanged;
    // a lock or a conflict may
    retryable: res.status === 409 || d?.code === 'RCRD_LOCKED_BY_WF' || d?.code === 'RCRD_HAS_BEEN_CHANGED',
  };
}

/** Where a keyset pull stands: the last row's lastmodifieddate ('YYYY-MM-DD HH24:MI:SS') and id. */
export interface KeysetPosition {
  lmd: string;
  id: string;
}

/** A decimal string sent as a JSON number without passing through a float. */
export class JsonDecimal {
  constructor(readonly text: string) {
    if (!/^-?\d+(\.\d+)?$/.test(text)) throw new Error(`not a decimal: ${text}`);
  }
}

/** JSON.stringify that writes JsonDecimal values as bare numbers, digit for digit. */
export function stringifyWithDecimals(v: unknown): string {
  const marks: string[] = [];
  const json = JSON.stringify(v, (_k, val: unknown) => {
    if (val instanceof JsonDecimal) {
      marks.push(val.text);
      return `\u0000dec${marks.length - 1}\u0000`;
    }
    return val;
  });
  return json.replace(/"\\u0000dec(\d+)\\u0000"/g, (_m, i: string) => marks[Number(i)]);
}

/** The error of a request given up because its caller aborted (the hub is stopping). */
function aborted(method: string, path: string): ConnectorError {
  return new ConnectorError('UNAVAILABLE', 'ABORTED', `NetSuite ${method} ${path} abandoned: the call was aborted (the hub is stopping)`);
}

/**
 * The NetSuite emulator's HTTP server (node:http on 127.0.0.1, port 0 by default): the
 * token endpoint, the record service, SuiteQL, governance (a per-account concurrency limit),
 * fault switches, call stats, a controllable clock and a small control surface under
 * `/__emulator/`. See README.md in this folder.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { Authenticator, AuthFailure, TOKEN_PATH, type M2MClient, type TbaIntegration } from './auth';
import { Clock, seededRandom } from './clock';
import { RecordError, RecordService, type RecordRejector } from './records';
import { Seeder } from './seed';
import { Store } from './store';

/** The most rows a SuiteQL query can page through (NetSuite: 100,000 results). */
export const SUITEQL_MAX_ROWS = 100_000;

export type RequestFaultKind = 'HTTP_500' | 'HTTP_503' | 'CONCURRENCY_LIMIT_EXCEEDED' | 'EXPIRE_TOKEN' | 'APPLY_THEN_503';

export interface FaultSettings {
  /** Fraction 0..1 of data requests that fail with a 5xx (seeded random). */
  rate?: number;
  /** Kinds drawn for those; default HTTP_500 and HTTP_503. */
  kinds?: RequestFaultKind[];
  /** Every data request waits this long (holding its concurrency slot). */
  latencyMs?: number;
}

export interface EmulatorStats {
  requests: number;
  tokenRequests: number;
  /** `METHOD template` → count, e.g. `POST suiteql`, `PUT record/usage/{id}`. */
  byEndpoint: Record<string, number>;
  byAuthMode: { oauth2: number; tba: number };
  /** The most data requests in flight at once. */
  maxConcurrency: number;
  /** Requests answered 429 by the concurrency limit or a fault. */
  throttled: number;
  faultsInjected: number;
  /** Injected faults by kind (queued or drawn at random). */
  faultsByKind: Partial<Record<RequestFaultKind, number>>;
  /**
   * SuiteQL: queries answered, rows served, the highest offset asked, the largest
   * `totalResults` answered (a query whose rows reach past the offset ceiling shows here) and
   * the requests refused for an offset at or past the ceiling; `ms`: time spent evaluating them.
   */
  suiteql: { queries: number; rows: number; maxOffset: number; maxTotalResults: number; offsetRefusals: number; ms: number };
  /** Reasons of refused authentications, newest last. */
  authFailures: string[];
}

export interface NetSuiteEmulatorOptions {
  host?: string;
  port?: number;
  /** Account id as NetSuite shows it (TBA realm), default `1234567_SB1`. */
  accountId?: string;
  /** Concurrent requests per account before 429; default 5. */
  concurrencyLimit?: number;
  /** M2M clients; default one generated (see `credentials`). */
  m2mClients?: M2MClient[];
  /** TBA integrations; default one generated (see `credentials`). */
  tbaIntegrations?: TbaIntegration[];
  /** Rows a SuiteQL query pages through at most (NetSuite: 100,000); lower it to reach the ceiling with fewer rows. */
  suiteqlMaxRows?: number;
  /** PRNG seed for random faults; default 1. */
  seed?: number;
}

/** The handle tests and the demo hold. */
export interface NetSuiteEmulator {
  /** `http://127.0.0.1:<port>`: pass as the connector's `baseUrl`. */
  readonly url: string;
  readonly accountId: string;
  /** Working credentials for both auth modes (the default ones unless given). */
  readonly credentials: {
    m2m: { clientId: string; certificateId: string; privateKeyPem: string } | null;
    tba: TbaIntegration | null;
  };
  readonly clock: Clock;
  readonly store: Store;
  readonly seed: Seeder;
  readonly records: RecordService;
  readonly stats: EmulatorStats;
  readonly auth: Authenticator;
  readonly faults: {
    set(s: FaultSettings): void;
    /** The next data requests (any endpoint) fail with these, in order. */
    queue(...kinds: RequestFaultKind[]): void;
    /** The next requests to `endpoint` (`POST suiteql`, `PUT record/usage/{id}`, or the template alone) fail with these. */
    queueOn(endpoint: string, ...kinds: RequestFaultKind[]): void;
    /** The next n data requests answer 429 CONCURRENCY_LIMIT_EXCEEDED. */
    burst429(n: number): void;
    /** Refuse record writes the predicate picks (per record, 400 with its code). */
    rejectRecord(r: RecordRejector): void;
    expireTokens(): void;
    clear(): void;
  };
  setConcurrencyLimit(n: number): void;
  resetStats(): void;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;

const TITLES: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 405: 'Method Not Allowed', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' };

/** NetSuite's REST error body. */
export function errorBody(status: number, code: string, detail: string, path?: string): Json {
  return {
    type: `https://www.rfc-editor.org/rfc/rfc9110.html#section-15.${status >= 500 ? 6 : 5}.${status >= 500 ? status - 499 : status - 399}`,
    title: TITLES[status] ?? 'Error',
    status,
    'o:errorDetails': [{ detail, 'o:errorCode': code, ...(path ? { 'o:errorPath': path } : {}) }],
  };
}

class HttpAnswer {
  constructor(
    readonly status: number,
    readonly body: Json | null,
    readonly headers: Record<string, string> = {},
  ) {}
}

export async function startNetSuiteEmulator(opts: NetSuiteEmulatorOptions = {}): Promise<NetSuiteEmulator> {
  const clock = new Clock();
  const now = (): number => clock.nowMs();
  const store = await Store.open(now);
  const accountId = opts.accountId ?? '1234567_SB1';
  let limit = opts.concurrencyLimit ?? 5;
  const random = seededRandom(opts.seed ?? 1);

  let m2mCreds: NetSuiteEmulator['credentials']['m2m'] = null;
  let m2mClients = opts.m2mClients;
  if (!m2mClients) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const c = { clientId: `client-${randomBytes(8).toString('hex')}`, certificateId: `cert-${randomBytes(6).toString('hex')}` };
    m2mCreds = { ...c, privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
    m2mClients = [{ ...c, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }];
  }
  const tbaIntegrations = opts.tbaIntegrations ?? [
    {
      consumerKey: randomBytes(16).toString('hex'),
      consumerSecret: randomBytes(16).toString('hex'),
      tokenId: randomBytes(16).toString('hex'),
      tokenSecret: randomBytes(16).toString('hex'),
    },
  ];
  const auth = new Authenticator(accountId, [...m2mClients], tbaIntegrations, now);

  let url = '';
  const records = new RecordService(store, () => url);
  const freshStats = (): EmulatorStats => ({
    requests: 0,
    tokenRequests: 0,
    byEndpoint: {},
    byAuthMode: { oauth2: 0, tba: 0 },
    maxConcurrency: 0,
    throttled: 0,
    faultsInjected: 0,
    faultsByKind: {},
    suiteql: { queries: 0, rows: 0, maxOffset: 0, maxTotalResults: 0, offsetRefusals: 0, ms: 0 },
    authFailures: [],
  });
  const stats: EmulatorStats = freshStats();
  const maxRows = opts.suiteqlMaxRows ?? SUITEQL_MAX_ROWS;
  let settings: FaultSettings = {};
  let queued: RequestFaultKind[] = [];
  const queuedOn = new Map<string, RequestFaultKind[]>();
  let inFlight = 0;
  /** Aborted by close(): requests held by the latency fault stop waiting. */
  const closing = new AbortController();

  const faults: NetSuiteEmulator['faults'] = {
    set: (s) => {
      settings = { ...s };
    },
    queue: (...k) => {
      queued.push(...k);
    },
    queueOn: (endpoint, ...k) => {
      queuedOn.set(endpoint, [...(queuedOn.get(endpoint) ?? []), ...k]);
    },
    burst429: (n) => {
      for (let i = 0; i < n; i++) queued.push('CONCURRENCY_LIMIT_EXCEEDED');
    },
    rejectRecord: (r) => {
      records.rejectors.push(r);
    },
    expireTokens: () => auth.expireAll(),
    clear: () => {
      settings = {};
      queued = [];
      queuedOn.clear();
      records.rejectors.length = 0;
    },
  };

  const nextFault = (key: string, template: string): RequestFaultKind | null => {
    for (const k of [key, template]) {
      const q = queuedOn.get(k);
      if (q?.length) return q.shift()!;
    }
    if (queued.length) return queued.shift()!;
    const rate = settings.rate ?? 0;
    if (rate > 0 && random() < rate) {
      const kinds = settings.kinds?.length ? settings.kinds : (['HTTP_500', 'HTTP_503'] as RequestFaultKind[]);
      return kinds[Math.floor(random() * kinds.length)];
    }
    return null;
  };

  const readBody = (req: http.IncomingMessage): Promise<string> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });

  const parseJson = (text: string): Json => {
    if (!text) return {};
    try {
      const v = JSON.parse(text) as unknown;
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
      return v as Json;
    } catch {
      throw new RecordError(400, 'INVALID_CONTENT', 'The request body is not valid JSON.');
    }
  };

  const authenticate = (req: http.IncomingMessage, method: string, u: URL): void => {
    const h = req.headers.authorization ?? '';
    try {
      if (/^Bearer\s/i.test(h)) {
        auth.checkBearer(h.replace(/^Bearer\s+/i, ''));
        stats.byAuthMode.oauth2++;
      } else if (/^OAuth\s/i.test(h)) {
        auth.checkTba(h, method, u);
        stats.byAuthMode.tba++;
      } else {
        throw new AuthFailure('no Authorization header');
      }
    } catch (err) {
      if (err instanceof AuthFailure) {
        stats.authFailures.push(err.message);
        throw new HttpAnswer(
          401,
          errorBody(401, 'INVALID_LOGIN', 'Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail.'),
          { 'www-authenticate': 'Bearer' },
        );
      }
      throw err;
    }
  };

  const suiteql = (u: URL, req: http.IncomingMessage, body: string): HttpAnswer => {
    const prefer = String(req.headers.prefer ?? '');
    if (!/\btransient\b/i.test(prefer)) {
      return new HttpAnswer(400, errorBody(400, 'INVALID_PARAMETER', "The request is missing the required 'Prefer: transient' header.", 'Prefer'));
    }
    const lim = Number(u.searchParams.get('limit') ?? '1000');
    const off = Number(u.searchParams.get('offset') ?? '0');
    if (!Number.isInteger(lim) || lim < 1 || lim > 1000) return new HttpAnswer(400, errorBody(400, 'INVALID_PARAMETER', 'Invalid limit: it must be between 1 and 1000.', 'limit'));
    if (!Number.isInteger(off) || off < 0) return new HttpAnswer(400, errorBody(400, 'INVALID_PARAMETER', 'Invalid offset.', 'offset'));
    if (off >= maxRows) {
      stats.suiteql.offsetRefusals++;
      return new HttpAnswer(
        400,
        errorBody(400, 'INVALID_PARAMETER', `Invalid offset ${off}: a SuiteQL query returns at most ${maxRows} results; narrow the query instead of paging past them.`, 'offset'),
      );
    }
    const q = parseJson(body).q;
    if (typeof q !== 'string' || !q.trim()) return new HttpAnswer(400, errorBody(400, 'INVALID_PARAMETER', "The request body must have a query 'q'.", 'q'));
    if (!/^\s*(select|with)\b/i.test(q)) return new HttpAnswer(400, errorBody(400, 'INVALID_PARAMETER', 'Only SELECT queries are allowed.', 'q'));
    let page;
    const t0 = performance.now();
    try {
      page = store.suiteql(q, lim, off, maxRows);
    } catch (err) {
      return new HttpAnswer(400, errorBody(400, 'INVALID_PARAMETER', `Invalid search query. Detailed unprocessed description follows. ${(err as Error).message}`, 'q'));
    }
    stats.suiteql.queries++;
    stats.suiteql.ms += performance.now() - t0;
    stats.suiteql.rows += page.items.length;
    stats.suiteql.maxOffset = Math.max(stats.suiteql.maxOffset, off);
    stats.suiteql.maxTotalResults = Math.max(stats.suiteql.maxTotalResults, page.total);
    const self = `${url}/services/rest/query/v1/suiteql`;
    const hasMore = off + page.items.length < page.total;
    const links = [{ rel: 'self', href: `${self}?limit=${lim}&offset=${off}` }];
    links.push({ rel: 'first', href: `${self}?limit=${lim}&offset=0` });
    if (off > 0) links.push({ rel: 'previous', href: `${self}?limit=${lim}&offset=${Math.max(0, off - lim)}` });
    if (hasMore) links.push({ rel: 'next', href: `${self}?limit=${lim}&offset=${off + lim}` });
    return new HttpAnswer(200, {
      links,
      count: page.items.length,
      hasMore,
      items: page.items.map((i) => ({ links: [], ...i })),
      offset: off,
      totalResults: page.total,
    });
  };

  const recordCall = (method: string, u: URL, segs: string[], body: string): HttpAnswer => {
    const [type, key, sub] = segs;
    if (!type) return new HttpAnswer(404, errorBody(404, 'INVALID_RCRD_TYPE', 'A record type is required.'));
    if (method === 'GET' && !key) {
      return new HttpAnswer(200, records.list(type, Number(u.searchParams.get('limit') ?? '1000'), Number(u.searchParams.get('offset') ?? '0')));
    }
    if (method === 'GET' && key && !sub) return new HttpAnswer(200, records.get(type, key, u.searchParams.get('expandSubResources') === 'true'));
    if (method === 'GET' && key && sub) {
      const rec = records.get(type, key, true);
      const s = rec[sub];
      if (!s) return new HttpAnswer(404, errorBody(404, 'INVALID_SUBRESOURCE', `Sub-resource ${sub} does not exist.`));
      return new HttpAnswer(200, s as Json);
    }
    if (method === 'POST' && !key) {
      const id = records.write(type, null, parseJson(body), 'create');
      return new HttpAnswer(204, null, { location: records.url(type, id) });
    }
    if (method === 'PATCH' && key && !sub) {
      const id = records.write(type, key, parseJson(body), 'update');
      return new HttpAnswer(204, null, { location: records.url(type, id) });
    }
    if (method === 'PUT' && key && !sub) {
      if (!key.startsWith('eid:')) return new HttpAnswer(405, errorBody(405, 'INVALID_REQUEST', 'PUT is allowed for upserts by external id (eid:<value>) only.'));
      const id = records.write(type, key, parseJson(body), 'upsert');
      return new HttpAnswer(204, null, { location: records.url(type, id) });
    }
    if (method === 'DELETE' && key && !sub) {
      records.delete(type, key);
      return new HttpAnswer(204, null);
    }
    return new HttpAnswer(405, errorBody(405, 'INVALID_REQUEST', `${method} is not allowed here.`));
  };

  const control = (method: string, path: string, body: string): HttpAnswer => {
    const b = body ? (JSON.parse(body) as Json) : {};
    if (path === '/__emulator/' && method === 'GET') {
      const counts = Object.fromEntries(['customer', 'contact', 'item', 'transaction', 'transactionline', 'usage'].map((t) => [t, Number(store.scalar(`SELECT COUNT(*) FROM "${t}"`))]));
      return new HttpAnswer(200, { accountId, now: clock.now().toISOString(), concurrencyLimit: limit, counts, stats });
    }
    if (path === '/__emulator/stats' && method === 'GET') return new HttpAnswer(200, { ...stats });
    if (path === '/__emulator/faults' && method === 'POST') {
      faults.set(b as FaultSettings);
      if (Array.isArray(b.queue)) faults.queue(...(b.queue as RequestFaultKind[]));
      return new HttpAnswer(200, { ok: true });
    }
    if (path === '/__emulator/faults' && method === 'DELETE') {
      faults.clear();
      return new HttpAnswer(200, { ok: true });
    }
    if (path === '/__emulator/expire-tokens' && method === 'POST') {
      faults.expireTokens();
      return new HttpAnswer(200, { ok: true });
    }
    if (path === '/__emulator/clock' && method === 'POST') {
      if (typeof b.set === 'string') clock.set(b.set);
      if (typeof b.advanceMs === 'number') clock.advance(b.advanceMs);
      if (b.release === true) clock.release();
      return new HttpAnswer(200, { now: clock.now().toISOString() });
    }
    if (path === '/__emulator/concurrency' && method === 'POST') {
      limit = Number(b.limit);
      return new HttpAnswer(200, { limit });
    }
    if (path === '/__emulator/seed' && method === 'POST') {
      return new HttpAnswer(200, seed.generate(b as Parameters<Seeder['generate']>[0]) as unknown as Json);
    }
    return new HttpAnswer(404, errorBody(404, 'NOT_FOUND', `No control route ${method} ${path}`));
  };

  const seed = new Seeder(store, now);

  const handle = async (req: http.IncomingMessage): Promise<HttpAnswer> => {
    const method = (req.method ?? 'GET').toUpperCase();
    const u = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
    const path = u.pathname;
    const body = await readBody(req);
    if (path.startsWith('/__emulator/')) return control(method, path, body);
    stats.requests++;
    if (path === TOKEN_PATH) {
      stats.tokenRequests++;
      stats.byEndpoint[`${method} token`] = (stats.byEndpoint[`${method} token`] ?? 0) + 1;
      if (method !== 'POST') return new HttpAnswer(405, { error: 'invalid_request' });
      try {
        return new HttpAnswer(200, await auth.issueToken(new URLSearchParams(body), `${url}${TOKEN_PATH}`));
      } catch (err) {
        if (err instanceof AuthFailure) {
          stats.authFailures.push(err.message);
          return new HttpAnswer(400, { error: 'invalid_grant', error_description: err.message });
        }
        throw err;
      }
    }
    let template: string;
    let kind: 'record' | 'suiteql';
    let segs: string[] = [];
    if (path === '/services/rest/query/v1/suiteql') {
      template = 'suiteql';
      kind = 'suiteql';
    } else if (path.startsWith('/services/rest/record/v1/')) {
      segs = path.slice('/services/rest/record/v1/'.length).split('/').filter(Boolean).map(decodeURIComponent);
      template = ['record', segs[0] ?? '', segs[1] ? '{id}' : '', segs[2] ?? ''].filter(Boolean).join('/');
      kind = 'record';
    } else {
      return new HttpAnswer(404, errorBody(404, 'NOT_FOUND', `No resource at ${path}`));
    }
    const key = `${method} ${template}`;
    stats.byEndpoint[key] = (stats.byEndpoint[key] ?? 0) + 1;
    if (inFlight >= limit) {
      stats.throttled++;
      return new HttpAnswer(429, errorBody(429, 'CONCURRENCY_LIMIT_EXCEEDED', 'Concurrent request limit exceeded. Request blocked.'));
    }
    inFlight++;
    stats.maxConcurrency = Math.max(stats.maxConcurrency, inFlight);
    try {
      // Cut short when the emulator closes: a held request's timer would outlive it.
      if (settings.latencyMs) await delay(settings.latencyMs, undefined, { signal: closing.signal }).catch(() => undefined);
      if (closing.signal.aborted) return new HttpAnswer(503, errorBody(503, 'SERVICE_UNAVAILABLE', 'The emulator is closing.'));
      authenticate(req, method, u);
      const fault = nextFault(key, template);
      let applyThen503 = false;
      if (fault) {
        stats.faultsInjected++;
        stats.faultsByKind[fault] = (stats.faultsByKind[fault] ?? 0) + 1;
        if (fault === 'CONCURRENCY_LIMIT_EXCEEDED') {
          stats.throttled++;
          return new HttpAnswer(429, errorBody(429, 'CONCURRENCY_LIMIT_EXCEEDED', 'Concurrent request limit exceeded. Request blocked.'));
        }
        if (fault === 'HTTP_500') return new HttpAnswer(500, errorBody(500, 'UNEXPECTED_ERROR', 'An unexpected error occurred. Error ID: emulated'));
        if (fault === 'HTTP_503') return new HttpAnswer(503, errorBody(503, 'SERVICE_UNAVAILABLE', 'The service is temporarily unavailable.'));
        if (fault === 'EXPIRE_TOKEN') {
          auth.expireAll();
          authenticate(req, method, u);
        }
        if (fault === 'APPLY_THEN_503') applyThen503 = true;
      }
      const answer = kind === 'suiteql' ? suiteql(u, req, body) : recordCall(method, u, segs, body);
      if (applyThen503) return new HttpAnswer(503, errorBody(503, 'SERVICE_UNAVAILABLE', 'The service is temporarily unavailable.'));
      return answer;
    } finally {
      inFlight--;
    }
  };

  const server = http.createServer((req, res) => {
    handle(req)
      .catch((err: unknown) => {
        if (err instanceof HttpAnswer) return err;
        if (err instanceof RecordError) return new HttpAnswer(err.status, errorBody(err.status, err.code, err.detail, err.path));
        if (err instanceof SyntaxError) return new HttpAnswer(400, errorBody(400, 'INVALID_CONTENT', err.message));
        return new HttpAnswer(500, errorBody(500, 'UNEXPECTED_ERROR', String((err as Error)?.message ?? err)));
      })
      .then((a) => {
        const headers: Record<string, string> = { ...a.headers };
        if (a.body) headers['content-type'] = a.status >= 400 && a.body['o:errorDetails'] ? 'application/vnd.oracle.resource+json; type=error' : 'application/json';
        res.writeHead(a.status, headers);
        res.end(a.body ? JSON.stringify(a.body) : undefined);
      });
  });
  // long enough that a test seeding for seconds (a blocked event loop) does not find its
  // keep-alive socket closed under a request (ECONNRESET); clients close idle sockets first
  server.keepAliveTimeout = 10 * 60_000;
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve()));
  const addr = server.address() as AddressInfo;
  url = `http://${opts.host ?? '127.0.0.1'}:${addr.port}`;

  return {
    url,
    accountId,
    credentials: { m2m: m2mCreds, tba: opts.tbaIntegrations ? null : tbaIntegrations[0] },
    clock,
    store,
    seed,
    records,
    stats,
    auth,
    faults,
    setConcurrencyLimit: (n) => {
      limit = n;
    },
    resetStats: () => {
      Object.assign(stats, freshStats());
    },
    close: () =>
      new Promise<void>((resolve) => {
        closing.abort();
        server.closeAllConnections?.();
        server.close(() => resolve());
        store.db.close();
      }),
  };
}

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { BulkIngest } from './bulk';
import { Clock, formatDatetime } from './clock';
import { ApiError, NOT_FOUND_MESSAGE, SalesforceEmulatorError, type SfError } from './errors';
import { FaultController, seededRandom } from './faults';
import { normalizeId } from './ids';
import { Auth, type Session } from './oauth';
import { findField, findSObject, SOBJECTS, type FieldDef, type SObjectDef } from './schema';
import { attributesOf, compileQuery, type QueryPlan } from './soql';
import { Store, Transaction, type PreparedInput, type WriteContext, type WriteOutcome } from './store';
import type {
  EmulatorRequestLog,
  EmulatorStats,
  RequestFaultKind,
  SalesforceEmulator,
  SalesforceEmulatorOptions,
  SeedDealInput,
  SeedDealResult,
  SfRecord,
} from './types';

/**
 * The emulator's HTTP server (node:http) and its public handle. Routes follow the REST API
 * paths under /services/data/vNN.N/ (any version), /services/oauth2/* and a small control
 * surface under /__emulator/ for the demo.
 */

const VERSION_LABELS: Array<[string, string]> = [
  ['55.0', "Summer '22"],
  ['56.0', "Winter '23"],
  ['57.0', "Spring '23"],
  ['58.0', "Summer '23"],
  ['59.0', "Winter '24"],
  ['60.0', "Spring '24"],
  ['61.0', "Summer '24"],
  ['62.0', "Winter '25"],
  ['63.0', "Spring '25"],
  ['64.0', "Summer '25"],
  ['65.0', "Winter '26"],
];

const MAX_COLLECTION = 200;
const MAX_CURSORS = 100;
const MAX_LOG = 10_000;
const MAX_BODY = 150 * 1024 * 1024;

interface RequestCtx {
  req: http.IncomingMessage;
  method: string;
  version: string;
  segs: string[];
  query: URLSearchParams;
  body: Buffer;
  session: Session;
}

interface Reply {
  status: number;
  body?: unknown;
  /** Sent as-is with this content type (CSV). */
  text?: string;
  contentType?: string;
}

interface Cursor {
  id: string;
  plan: QueryPlan;
  rows: SfRecord[];
  size: number;
  version: string;
}

type CollectionOutcome = (WriteOutcome & { upsert?: boolean }) | { ok: false; id?: string; errors: SfError[]; upsert?: boolean };

function json(status: number, body: unknown): Reply {
  return { status, body };
}

function restErrors(errors: SfError[]): Array<{ message: string; errorCode: string; fields: string[] }> {
  return errors.map((e) => ({ message: e.message, errorCode: e.errorCode, fields: e.fields ?? [] }));
}

function parseJsonBody(body: Buffer): unknown {
  if (!body.length) throw ApiError.of(400, 'JSON_PARSER_ERROR', 'The request body is empty');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw ApiError.of(400, 'JSON_PARSER_ERROR', `Unexpected character in the request body: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function jsonObject(body: Buffer): Record<string, unknown> {
  const v = parseJsonBody(body);
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw ApiError.of(400, 'JSON_PARSER_ERROR', 'Expected a JSON object in the request body');
  return v as Record<string, unknown>;
}

function notFound(): ApiError {
  return ApiError.of(404, 'NOT_FOUND', NOT_FOUND_MESSAGE);
}

function methodNotAllowed(method: string, allowed: string[]): ApiError {
  return ApiError.of(405, 'METHOD_NOT_ALLOWED', `HTTP Method '${method}' not allowed. Allowed are ${allowed.join(',')}`);
}

function describeField(f: FieldDef): Record<string, unknown> {
  return {
    name: f.name,
    label: f.label,
    type: f.type,
    soapType: f.type === 'id' || f.type === 'reference' ? 'tns:ID' : f.type === 'datetime' ? 'xsd:dateTime' : f.type === 'int' ? 'xsd:int' : ['double', 'currency', 'percent'].includes(f.type) ? 'xsd:double' : f.type === 'boolean' ? 'xsd:boolean' : f.type === 'date' ? 'xsd:date' : 'xsd:string',
    length: f.length,
    byteLength: f.length * 3,
    precision: f.type === 'int' ? 0 : f.precision,
    scale: f.scale,
    digits: f.type === 'int' ? f.precision : 0,
    externalId: f.externalId,
    unique: f.unique,
    idLookup: f.name === 'Id' || f.externalId,
    nillable: f.nillable,
    createable: f.createable,
    updateable: f.updateable,
    calculated: f.calculated,
    defaultedOnCreate: f.defaultValue !== undefined || !f.createable,
    filterable: f.type !== 'textarea',
    sortable: f.type !== 'textarea',
    groupable: f.type !== 'textarea' && f.type !== 'double' && f.type !== 'currency' && f.type !== 'percent' && f.type !== 'datetime',
    custom: f.custom,
    caseSensitive: false,
    nameField: f.name === 'Name',
    autoNumber: false,
    cascadeDelete: false,
    referenceTo: f.referenceTo ?? [],
    relationshipName: f.relationshipName ?? null,
    picklistValues: (f.picklistValues ?? []).map((v) => ({ active: true, defaultValue: f.defaultValue === v, label: v, validFor: null, value: v })),
    defaultValue: typeof f.defaultValue === 'boolean' ? f.defaultValue : null,
  };
}

function sobjectUrls(o: SObjectDef, version: string): Record<string, string> {
  const base = `/services/data/v${version}/sobjects/${o.name}`;
  return { sobject: base, describe: `${base}/describe`, rowTemplate: `${base}/{ID}` };
}

function globalEntry(o: SObjectDef, version: string): Record<string, unknown> {
  return {
    name: o.name,
    label: o.label,
    labelPlural: o.labelPlural,
    keyPrefix: o.keyPrefix,
    custom: o.custom,
    createable: true,
    updateable: true,
    deletable: true,
    undeletable: true,
    queryable: true,
    retrieveable: true,
    searchable: true,
    layoutable: true,
    triggerable: true,
    replicateable: true,
    urls: sobjectUrls(o, version),
  };
}

class Emulator implements SalesforceEmulator {
  url = '';
  readonly clock = new Clock();
  readonly store = new Store(this.clock);
  readonly auth: Auth;
  readonly faults: FaultController;
  readonly stats: EmulatorStats = { apiCalls: 0, byEndpoint: {}, tokenRequests: 0 };
  readonly requests: EmulatorRequestLog[] = [];
  private apiUsed = 0;
  private readonly pageSize: number;
  private readonly dailyApiLimit: number;
  private readonly bulk: BulkIngest;
  private readonly cursors = new Map<string, Cursor>();
  private readonly server: http.Server;
  /** Aborted by close(): requests held by the latency fault stop waiting (their timers would outlive the emulator). */
  private readonly closing = new AbortController();

  constructor(private readonly opts: SalesforceEmulatorOptions) {
    this.pageSize = Math.max(1, opts.pageSize ?? 2000);
    this.dailyApiLimit = opts.dailyApiLimit ?? 1_000_000;
    this.store.strictRollupStamps = opts.strictRollupStamps ?? false;
    const orgId = this.store.ids.next('00D');
    this.auth = new Auth(
      orgId,
      opts.clients ?? [{ clientId: 'emulator-client', clientSecret: 'emulator-secret' }],
      opts.users ?? [{ username: 'integration@example.com', password: 'password' }],
      () => this.store.ids.next('005'),
      () => this.url,
    );
    for (const id of this.auth.userIds()) this.store.userIds.add(id);
    const seed = opts.seed ?? 1;
    this.faults = new FaultController(seededRandom(seed), this.store, () => this.auth.expireAll());
    const delayRandom = seededRandom(seed ^ 0x5bd1e995);
    this.bulk = new BulkIngest(this.store, this.faults, this.clock, () => opts.bulkProcessingDelayMs ?? Math.floor(delayRandom() * 51));
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) this.send(res, json(500, [{ message: e instanceof Error ? e.message : String(e), errorCode: 'UNKNOWN_EXCEPTION' }]));
        else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 5_000;
  }

  async listen(): Promise<void> {
    const host = this.opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? 0, host, () => resolve());
    });
    const addr = this.server.address() as AddressInfo;
    this.url = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
  }

  async close(): Promise<void> {
    this.closing.abort();
    this.bulk.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  holdBulkJobs(hold: boolean): void {
    this.bulk.hold(hold);
  }

  setStrictRollupStamps(strict: boolean): void {
    this.store.strictRollupStamps = strict;
  }

  resetStats(): void {
    this.stats.apiCalls = 0;
    this.stats.tokenRequests = 0;
    for (const k of Object.keys(this.stats.byEndpoint)) delete this.stats.byEndpoint[k];
    this.requests.length = 0;
  }

  // ───────────────────────────────────────────── data helpers

  private helperCtx(): WriteContext {
    return { source: 'helper', userId: this.auth.defaultUserId };
  }

  private helperObj(sobject: string): SObjectDef {
    const obj = findSObject(sobject);
    if (!obj) throw new SalesforceEmulatorError('INVALID_TYPE', `sObject type '${sobject}' is not supported`);
    return obj;
  }

  private helperResult(res: WriteOutcome): string {
    if (res.ok) return res.id;
    const e = res.errors[0];
    throw new SalesforceEmulatorError(e.errorCode, e.message, e.fields ?? []);
  }

  private helperPrepare(obj: SObjectDef, fields: SfRecord): PreparedInput {
    try {
      return this.store.prepare(obj, fields, 'json');
    } catch (e) {
      if (e instanceof ApiError) throw new SalesforceEmulatorError(e.errors[0].errorCode, e.errors[0].message);
      throw e;
    }
  }

  insert(sobject: string, fields: SfRecord): string {
    const obj = this.helperObj(sobject);
    return this.helperResult(this.store.insert(obj, this.helperPrepare(obj, fields), this.helperCtx()));
  }

  update(sobject: string, id: string, fields: SfRecord): void {
    const obj = this.helperObj(sobject);
    this.helperResult(this.store.update(obj, id, this.helperPrepare(obj, fields), this.helperCtx()));
  }

  delete(sobject: string, id: string): void {
    this.helperResult(this.store.remove(this.helperObj(sobject), id, this.helperCtx()));
  }

  undelete(sobject: string, id: string): void {
    this.helperResult(this.store.undelete(this.helperObj(sobject), id, this.helperCtx()));
  }

  get(sobject: string, id: string): SfRecord | undefined {
    const obj = this.helperObj(sobject);
    const nid = normalizeId(id);
    const r = nid ? this.store.table(obj.name).get(nid) : undefined;
    return r ? { ...r } : undefined;
  }

  records(sobject: string, opts: { includeDeleted?: boolean } = {}): SfRecord[] {
    const out: SfRecord[] = [];
    for (const r of this.store.table(this.helperObj(sobject).name).values()) {
      if (opts.includeDeleted || r.IsDeleted === false) out.push({ ...r });
    }
    return out;
  }

  seedDeal(input: SeedDealInput): SeedDealResult {
    const accountId = input.accountId ?? this.insert('Account', { Name: input.accountName ?? `Account ${this.store.table('Account').size + 1}`, CurrencyIsoCode: input.currency ?? 'USD' });
    const account = this.get('Account', accountId);
    if (!account) throw new SalesforceEmulatorError('INVALID_CROSS_REFERENCE_KEY', `no Account ${accountId}`);
    const currency = input.currency ?? (account.CurrencyIsoCode as string | null) ?? 'USD';
    const products = new Map<string, string>();
    for (const p of this.store.table('Product2').values()) {
      if (p.IsDeleted === false && typeof p.ProductCode === 'string' && !products.has(p.ProductCode)) products.set(p.ProductCode, p.Id as string);
    }
    const opportunityId = this.insert('Opportunity', {
      AccountId: accountId,
      Name: input.name ?? `${String(account.Name)} deal`,
      StageName: input.stageName ?? 'Closed Won',
      CloseDate: input.closeDate ?? formatDatetime(this.clock.nowMs()).slice(0, 10),
      CurrencyIsoCode: currency,
    });
    const lineIds = input.lines.map((l) => {
      let productId = products.get(l.productCode);
      if (!productId) {
        productId = this.insert('Product2', { Name: l.productName ?? l.productCode, ProductCode: l.productCode, IsActive: true });
        products.set(l.productCode, productId);
      }
      return this.insert('OpportunityLineItem', {
        OpportunityId: opportunityId,
        Product2Id: productId,
        Quantity: l.quantity,
        UnitPrice: l.unitPrice,
        ServiceDate: l.serviceDate ?? null,
        Ehub_End_Date__c: l.endDate ?? null,
      });
    });
    return { accountId, opportunityId, lineIds };
  }

  // ───────────────────────────────────────────── HTTP plumbing

  private send(res: http.ServerResponse, reply: Reply): void {
    if (reply.text !== undefined) {
      res.writeHead(reply.status, { 'Content-Type': reply.contentType ?? 'text/plain; charset=UTF-8', 'Content-Length': Buffer.byteLength(reply.text) });
      res.end(reply.text);
    } else if (reply.body === undefined) {
      res.writeHead(reply.status);
      res.end();
    } else {
      const text = JSON.stringify(reply.body);
      res.writeHead(reply.status, { 'Content-Type': 'application/json;charset=UTF-8', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    }
  }

  private readBody(req: http.IncomingMessage): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          reject(ApiError.of(413, 'REQUEST_ENTITY_TOO_LARGE', 'Request body too large'));
          req.destroy();
        } else chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });
  }

  private count(key: string, token: boolean): void {
    this.stats.apiCalls++;
    this.stats.byEndpoint[key] = (this.stats.byEndpoint[key] ?? 0) + 1;
    if (token) this.stats.tokenRequests++;
    this.apiUsed++;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://emulator');
    const path = u.pathname;
    const method = (req.method ?? 'GET').toUpperCase();
    let body: Buffer;
    try {
      body = await this.readBody(req);
    } catch (e) {
      if (e instanceof ApiError) return this.send(res, json(e.status, restErrors(e.errors)));
      throw e;
    }
    if (path.startsWith('/__emulator/')) return this.send(res, this.control(method, path, u.searchParams, body));

    res.on('finish', () => {
      this.requests.push({ method, path, status: res.statusCode });
      if (this.requests.length > MAX_LOG) this.requests.splice(0, this.requests.length - MAX_LOG);
    });
    if (!path.startsWith('/services/')) return this.send(res, json(404, restErrors(notFound().errors)));

    if (path.startsWith('/services/oauth2/')) {
      const name = path.slice('/services/'.length);
      this.count(`${method} ${name}`, name === 'oauth2/token');
      return this.send(res, this.oauth(method, name, req, body));
    }

    const versionMatch = /^\/services\/data\/v(\d+\.\d+)(\/.*)?$/.exec(path);
    const isVersions = path === '/services/data' || path === '/services/data/';
    const segs = versionMatch ? (versionMatch[2] ?? '').split('/').filter(Boolean).map((s) => decodeURIComponent(s)) : [];
    const key = isVersions ? 'GET versions' : versionMatch ? `${method} ${this.routeKey(segs)}` : `${method} unknown`;
    this.count(key, false);
    const usedBefore = this.apiUsed - 1;
    res.setHeader('Sforce-Limit-Info', `api-usage=${this.apiUsed}/${this.dailyApiLimit}`);
    if (!isVersions && !versionMatch) return this.send(res, json(404, restErrors(notFound().errors)));

    let session: Session | null = null;
    if (!isVersions) {
      session = this.auth.session(req.headers.authorization);
      if (!session) return this.send(res, json(401, [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]));
    }
    if (this.faults.latencyMs > 0) await delay(this.faults.latencyMs, undefined, { signal: this.closing.signal }).catch(() => undefined);
    if (this.closing.signal.aborted) return void res.destroy(); // closed while held: nothing is applied
    if (usedBefore >= this.dailyApiLimit) return this.send(res, this.faultReply('REQUEST_LIMIT_EXCEEDED', session));
    const fault = this.faults.nextRequestFault(key);
    if (fault && fault !== 'APPLY_THEN_503') return this.send(res, this.faultReply(fault, session));

    if (isVersions) {
      return this.send(res, json(200, VERSION_LABELS.map(([version, label]) => ({ label, url: `/services/data/v${version}`, version }))));
    }
    const ctx: RequestCtx = { req, method, version: (versionMatch as RegExpExecArray)[1], segs, query: u.searchParams, body, session: session as Session };
    let reply: Reply;
    try {
      reply = this.route(ctx);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      reply = json(e.status, restErrors(e.errors));
    }
    // the call took effect, but its answer is lost (a timeout after Salesforce acted)
    if (fault === 'APPLY_THEN_503') reply = this.faultReply('HTTP_503', session);
    this.send(res, reply);
  }

  private faultReply(kind: RequestFaultKind, session: Session | null): Reply {
    switch (kind) {
      case 'EXPIRE_SESSION':
        // The presented session really ends: the client has to get a new token.
        if (session) this.auth.revoke(session.token);
        return json(401, [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
      case 'HTTP_503':
      case 'APPLY_THEN_503':
        return json(503, [{ message: 'Server temporarily unavailable (emulated)', errorCode: 'SERVER_UNAVAILABLE' }]);
      case 'HTTP_500':
        return json(500, [{ message: 'An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-1234567890)', errorCode: 'UNKNOWN_EXCEPTION' }]);
      case 'REQUEST_LIMIT_EXCEEDED':
        return json(403, [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
    }
  }

  private oauth(method: string, name: string, req: http.IncomingMessage, body: Buffer): Reply {
    if (name === 'oauth2/token') {
      if (method !== 'POST') return json(400, { error: 'invalid_request', error_description: 'must use HTTP POST' });
      const r = this.auth.token(new URLSearchParams(body.toString('utf8')));
      return json(r.status, r.body);
    }
    if (name === 'oauth2/revoke') {
      const token = new URLSearchParams(body.toString('utf8')).get('token');
      if (token) this.auth.revoke(token);
      return { status: 200 };
    }
    if (name === 'oauth2/userinfo') {
      const s = this.auth.session(req.headers.authorization);
      if (!s) return json(403, 'Bad_OAuth_Token');
      return json(200, {
        sub: `${this.url}/id/${this.auth.orgId}/${s.userId}`,
        user_id: s.userId,
        organization_id: this.auth.orgId,
        preferred_username: s.username,
        email: s.username,
        active: true,
      });
    }
    return json(404, restErrors(notFound().errors));
  }

  /** The endpoint template for stats (e.g. `sobjects/{type}/{id}`). */
  private routeKey(segs: string[]): string {
    const [a, b, c, d] = segs;
    if (!a) return 'resources';
    if (a === 'sobjects') {
      if (!b) return 'sobjects';
      if (!c) return 'sobjects/{type}';
      if (c === 'describe' && !d) return 'sobjects/{type}/describe';
      return d ? 'sobjects/{type}/{field}/{value}' : 'sobjects/{type}/{id}';
    }
    if (a === 'query' || a === 'queryAll') return b ? `${a}/{locator}` : a;
    if (a === 'composite' && b === 'sobjects') return c ? 'composite/sobjects/{type}' + (d ? '/{field}' : '') : 'composite/sobjects';
    if (a === 'jobs' && b === 'ingest') return c ? (d ? `jobs/ingest/${d}` : 'jobs/ingest/{id}') : 'jobs/ingest';
    return a === 'limits' && !b ? 'limits' : segs.join('/');
  }

  private route(ctx: RequestCtx): Reply {
    const { method, segs } = ctx;
    const [a, b, c, d, e] = segs;
    if (!a) {
      if (method !== 'GET') throw methodNotAllowed(method, ['GET', 'HEAD']);
      const base = `/services/data/v${ctx.version}`;
      return json(200, { limits: `${base}/limits`, sobjects: `${base}/sobjects`, query: `${base}/query`, queryAll: `${base}/queryAll`, composite: `${base}/composite`, jobs: `${base}/jobs` });
    }
    if (a === 'limits' && !b) {
      if (method !== 'GET') throw methodNotAllowed(method, ['GET', 'HEAD']);
      return json(200, this.limits());
    }
    if (a === 'sobjects') {
      if (!b) {
        if (method !== 'GET') throw methodNotAllowed(method, ['GET', 'HEAD']);
        return json(200, { encoding: 'UTF-8', maxBatchSize: 200, sobjects: SOBJECTS.map((o) => globalEntry(o, ctx.version)) });
      }
      const obj = findSObject(b);
      if (!obj) throw notFound();
      if (!c) {
        if (method === 'GET') return json(200, { objectDescribe: globalEntry(obj, ctx.version), recentItems: [] });
        if (method === 'POST') return this.createOne(ctx, obj);
        throw methodNotAllowed(method, ['GET', 'HEAD', 'POST']);
      }
      if (c === 'describe' && !d) {
        if (method !== 'GET') throw methodNotAllowed(method, ['GET', 'HEAD']);
        return json(200, this.describe(obj, ctx.version));
      }
      if (!d) return this.recordById(ctx, obj, c);
      if (!e) return this.recordByExternalId(ctx, obj, c, d);
      throw notFound();
    }
    if ((a === 'query' || a === 'queryAll') && !c) {
      if (method !== 'GET') throw methodNotAllowed(method, ['GET', 'HEAD']);
      return b ? this.queryMore(b) : this.query(ctx, a === 'queryAll');
    }
    if (a === 'composite' && b === 'sobjects' && !e) return this.collections(ctx, c, d);
    if (a === 'jobs' && b === 'ingest' && !e) return this.ingest(ctx, c, d);
    throw notFound();
  }

  private limits(): Record<string, unknown> {
    const jobs = this.bulk.count();
    return {
      DailyApiRequests: { Max: this.dailyApiLimit, Remaining: Math.max(0, this.dailyApiLimit - this.apiUsed) },
      DailyBulkApiBatches: { Max: 15000, Remaining: Math.max(0, 15000 - jobs) },
      DailyBulkV2QueryJobs: { Max: 10000, Remaining: 10000 },
      DailyBulkV2QueryFileStorageMB: { Max: 1048576, Remaining: 1048576 },
      DataStorageMB: { Max: 1024, Remaining: 1000 },
      FileStorageMB: { Max: 1024, Remaining: 1024 },
      ConcurrentAsyncGetReportInstances: { Max: 200, Remaining: 200 },
    };
  }

  private describe(obj: SObjectDef, version: string): Record<string, unknown> {
    return {
      ...globalEntry(obj, version),
      fields: obj.fields.map(describeField),
      childRelationships: obj.childRelationships.map((r) => ({ ...r, deprecatedAndHidden: false, restrictedDelete: false, junctionIdListNames: [], junctionReferenceTo: [] })),
      recordTypeInfos: [],
      supportedScopes: [{ label: 'All', name: 'everything' }],
    };
  }

  private renderRecord(obj: SObjectDef, rec: SfRecord, version: string, fields?: string | null): Record<string, unknown> {
    const out: Record<string, unknown> = { attributes: attributesOf(obj.name, rec.Id as string, version) };
    const list = fields
      ? fields.split(',').map((n) => {
          const f = findField(obj, n.trim());
          if (!f) throw ApiError.of(400, 'INVALID_FIELD', `No such column '${n.trim()}' on entity '${obj.name}'.`);
          return f;
        })
      : obj.fields;
    for (const f of list) out[f.name] = rec[f.name];
    return out;
  }

  private writeCtx(ctx: RequestCtx, source: 'rest' | 'collection', tx?: Transaction): WriteContext {
    return { source, userId: ctx.session.userId, tx, recordFault: source === 'collection' ? this.faults.recordFault : undefined };
  }

  // ───────────────────────────────────────────── sObject rows

  private createOne(ctx: RequestCtx, obj: SObjectDef): Reply {
    const prepared = this.store.prepare(obj, jsonObject(ctx.body), 'json');
    const res = this.store.insert(obj, prepared, this.writeCtx(ctx, 'rest'));
    if (!res.ok) return json(400, restErrors(res.errors));
    return json(201, { id: res.id, success: true, errors: [] });
  }

  private singleWriteError(res: { errors: SfError[] }): Reply {
    const code = res.errors[0]?.errorCode;
    if (code === 'INVALID_CROSS_REFERENCE_KEY' && !res.errors[0].fields?.length) return json(404, restErrors(notFound().errors));
    if (code === 'ENTITY_IS_DELETED') return json(404, restErrors(res.errors));
    return json(400, restErrors(res.errors));
  }

  private recordById(ctx: RequestCtx, obj: SObjectDef, rawId: string): Reply {
    const id = normalizeId(rawId);
    if (!id || !id.startsWith(obj.keyPrefix)) throw notFound();
    switch (ctx.method) {
      case 'GET': {
        const rec = this.store.table(obj.name).get(id);
        if (!rec) throw notFound();
        if (rec.IsDeleted === true) throw ApiError.of(404, 'ENTITY_IS_DELETED', 'entity is deleted', []);
        return json(200, this.renderRecord(obj, rec, ctx.version, ctx.query.get('fields')));
      }
      case 'PATCH': {
        const prepared = this.store.prepare(obj, jsonObject(ctx.body), 'json');
        const res = this.store.update(obj, id, prepared, this.writeCtx(ctx, 'rest'));
        return res.ok ? { status: 204 } : this.singleWriteError(res);
      }
      case 'DELETE': {
        const res = this.store.remove(obj, id, this.writeCtx(ctx, 'rest'));
        return res.ok ? { status: 204 } : this.singleWriteError(res);
      }
      default:
        throw methodNotAllowed(ctx.method, ['GET', 'HEAD', 'PATCH', 'DELETE']);
    }
  }

  private externalIdField(obj: SObjectDef, name: string): FieldDef {
    const f = findField(obj, name);
    if (!f || !(f.externalId || f.name === 'Id')) throw ApiError.of(404, 'NOT_FOUND', `Provided external ID field does not exist or is not accessible: ${name}`);
    return f;
  }

  private multipleChoices(obj: SObjectDef, ids: string[], version: string): Reply {
    return json(300, ids.map((id) => `/services/data/v${version}/sobjects/${obj.name}/${id}`));
  }

  private recordByExternalId(ctx: RequestCtx, obj: SObjectDef, fieldName: string, value: string): Reply {
    const f = this.externalIdField(obj, fieldName);
    if (ctx.method === 'PATCH') {
      const prepared = this.store.prepare(obj, jsonObject(ctx.body), 'json');
      const res = this.store.upsert(obj, f, value, prepared, this.writeCtx(ctx, 'rest'));
      if ('multiple' in res) return this.multipleChoices(obj, res.multiple, ctx.version);
      if (!res.ok) return this.singleWriteError(res);
      return json(res.created ? 201 : 200, { id: res.id, success: true, errors: [], created: res.created });
    }
    const matches = this.store.findByExternalId(obj, f, value);
    if (matches.length > 1) return this.multipleChoices(obj, matches, ctx.version);
    if (!matches.length) throw notFound();
    if (ctx.method === 'GET') return json(200, this.renderRecord(obj, this.store.table(obj.name).get(matches[0]) as SfRecord, ctx.version, ctx.query.get('fields')));
    if (ctx.method === 'DELETE') {
      const res = this.store.remove(obj, matches[0], this.writeCtx(ctx, 'rest'));
      return res.ok ? { status: 204 } : this.singleWriteError(res);
    }
    throw methodNotAllowed(ctx.method, ['GET', 'HEAD', 'PATCH', 'DELETE']);
  }

  // ───────────────────────────────────────────── query

  private query(ctx: RequestCtx, includeDeleted: boolean): Reply {
    const soql = ctx.query.get('q');
    if (!soql) throw ApiError.of(400, 'MALFORMED_QUERY', 'A query string has to be specified');
    const plan = compileQuery(soql, this.store, { includeDeleted, nowMs: this.clock.nowMs() });
    const rows = plan.run();
    if (plan.countOnly) return json(200, { totalSize: rows.length, done: true, records: [] });
    if (plan.isAggregate) return json(200, { totalSize: 1, done: true, records: [plan.renderAggregate(rows)] });
    let size = this.pageSize;
    const opt = /batchSize\s*=\s*(\d+)/i.exec(String(ctx.req.headers['sforce-query-options'] ?? ''));
    if (opt && Number(opt[1]) > 0) size = Math.min(size, Number(opt[1]));
    const cursor: Cursor = { id: this.store.ids.next('01g'), plan, rows, size, version: ctx.version };
    return this.page(cursor, 0);
  }

  private page(cursor: Cursor, offset: number): Reply {
    const end = Math.min(cursor.rows.length, offset + cursor.size);
    const records = cursor.rows.slice(offset, end).map((r) => cursor.plan.render(r, cursor.version));
    const done = end >= cursor.rows.length;
    if (done) this.cursors.delete(cursor.id);
    else {
      this.cursors.set(cursor.id, cursor);
      if (this.cursors.size > MAX_CURSORS) this.cursors.delete(this.cursors.keys().next().value as string);
    }
    const body: Record<string, unknown> = { totalSize: cursor.rows.length, done };
    if (!done) body.nextRecordsUrl = `/services/data/v${cursor.version}/query/${cursor.id}-${end}`;
    body.records = records;
    return json(200, body);
  }

  private queryMore(locator: string): Reply {
    const m = /^(.+)-(\d+)$/.exec(locator);
    const cursor = m ? this.cursors.get(m[1]) : undefined;
    if (!m || !cursor) throw ApiError.of(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
    return this.page(cursor, Number(m[2]));
  }

  // ───────────────────────────────────────────── sObject collections

  private collections(ctx: RequestCtx, type: string | undefined, field: string | undefined): Reply {
    if (ctx.method === 'GET' && type && !field) return this.collectionRetrieve(ctx, type);
    if (ctx.method === 'DELETE' && !type) return this.collectionDelete(ctx);
    if (ctx.method === 'POST' && !type) return this.collectionWrite(ctx, 'create');
    if (ctx.method === 'PATCH' && !type) return this.collectionWrite(ctx, 'update');
    if (ctx.method === 'PATCH' && type && field) return this.collectionWrite(ctx, 'upsert', type, field);
    if (!type) throw methodNotAllowed(ctx.method, ['POST', 'PATCH', 'DELETE']);
    throw notFound();
  }

  private collectionRetrieve(ctx: RequestCtx, type: string): Reply {
    const obj = findSObject(type);
    if (!obj) throw notFound();
    const ids = (ctx.query.get('ids') ?? '').split(',').filter(Boolean);
    const fields = ctx.query.get('fields');
    if (!ids.length || !fields) throw ApiError.of(400, 'MALFORMED_QUERY', 'ids and fields are required');
    return json(
      200,
      ids.map((raw) => {
        const id = normalizeId(raw);
        const rec = id ? this.store.table(obj.name).get(id) : undefined;
        return rec && rec.IsDeleted === false ? this.renderRecord(obj, rec, ctx.version, fields) : null;
      }),
    );
  }

  private tooMany(n: number): void {
    if (n > MAX_COLLECTION) {
      throw ApiError.of(400, 'EXCEEDED_ID_LIMIT', `record limit reached. cannot submit more than ${MAX_COLLECTION} records into this call`);
    }
  }

  private collectionWrite(ctx: RequestCtx, mode: 'create' | 'update' | 'upsert', type?: string, fieldName?: string): Reply {
    const body = jsonObject(ctx.body);
    const records = body.records;
    if (!Array.isArray(records)) throw ApiError.of(400, 'JSON_PARSER_ERROR', "The request body must contain a 'records' array");
    this.tooMany(records.length);
    const allOrNone = body.allOrNone === true || body.allOrNone === 'true';
    const pathObj = type ? findSObject(type) : undefined;
    if (type && !pathObj) throw notFound();
    const extField = pathObj && fieldName ? findField(pathObj, fieldName) : undefined;
    if (mode === 'upsert' && (!extField || !(extField.externalId || extField.name === 'Id'))) {
      throw ApiError.of(400, 'INVALID_FIELD', `Provided external ID field does not exist or is not accessible: ${fieldName ?? ''}`);
    }

    // Deserialize everything first: a malformed record fails the whole request, as in Salesforce.
    const ops = records.map((raw: unknown, i: number): ((w: WriteContext) => CollectionOutcome) => {
      if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw ApiError.of(400, 'JSON_PARSER_ERROR', `records[${i}] is not an object`);
      const rec = raw as Record<string, unknown>;
      const attrs = rec.attributes as { type?: unknown } | undefined;
      const typeName = typeof attrs?.type === 'string' ? attrs.type : (pathObj?.name ?? '');
      const obj = findSObject(typeName);
      if (!obj) throw ApiError.of(400, 'INVALID_TYPE', typeName ? `sObject type '${typeName}' is not supported.` : 'The sObject type must be set in attributes.type');
      if (mode === 'create') {
        const p = this.store.prepare(obj, rec, 'json');
        return (w) => this.store.insert(obj, p, w);
      }
      if (mode === 'update') {
        const idKey = Object.keys(rec).find((k) => k.toLowerCase() === 'id');
        const p = this.store.prepare(obj, rec, 'json', ['attributes', ...(idKey ? [idKey] : [])]);
        const id = idKey ? rec[idKey] : undefined;
        if (typeof id !== 'string' || !id) return () => ({ ok: false, errors: [{ errorCode: 'MISSING_ARGUMENT', message: 'Id not specified in an update call', fields: [] }] });
        return (w) => this.store.update(obj, id, p, w);
      }
      const ext = extField as FieldDef;
      const extKey = Object.keys(rec).find((k) => k.toLowerCase() === ext.name.toLowerCase());
      const p = this.store.prepare(obj, rec, 'json', ['attributes', ...(extKey ? [extKey] : [])]);
      const value = extKey ? rec[extKey] : undefined;
      if (value === undefined || value === null || value === '') {
        return () => ({ ok: false, upsert: true, errors: [{ errorCode: 'MISSING_ARGUMENT', message: `${ext.name} not specified`, fields: [ext.name] }] });
      }
      return (w) => {
        const res = this.store.upsert(obj, ext, String(value), p, w);
        if ('multiple' in res) {
          return { ok: false, upsert: true, errors: [{ errorCode: 'DUPLICATE_EXTERNAL_ID', message: `${ext.name}: more than one record found for external id field: [${res.multiple.join(', ')}]`, fields: [ext.name] }] };
        }
        return { ...res, upsert: true };
      };
    });
    return this.runCollection(ctx, allOrNone, ops, mode === 'upsert');
  }

  private collectionDelete(ctx: RequestCtx): Reply {
    const ids = (ctx.query.get('ids') ?? '').split(',').filter(Boolean);
    this.tooMany(ids.length);
    const allOrNone = ctx.query.get('allOrNone') === 'true';
    return this.runCollection(
      ctx,
      allOrNone,
      ids.map((id) => (w: WriteContext) => this.store.remove(undefined, id, w)),
      false,
    );
  }

  private runCollection(ctx: RequestCtx, allOrNone: boolean, ops: Array<(w: WriteContext) => CollectionOutcome>, upsert: boolean): Reply {
    const tx = allOrNone ? new Transaction() : undefined;
    const w = this.writeCtx(ctx, 'collection', tx);
    let outcomes = ops.map((op) => op(w));
    if (tx && outcomes.some((o) => !o.ok)) {
      this.store.rollback(tx);
      outcomes = outcomes.map((o) =>
        o.ok
          ? {
              ok: false,
              errors: [{ errorCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK', message: 'Record rolled back because not all records were valid and the request was using AllOrNone header', fields: [] }],
            }
          : o,
      );
    }
    return json(
      200,
      outcomes.map((o) => {
        if (o.ok) return upsert ? { id: o.id, success: true, errors: [], created: o.created } : { id: o.id, success: true, errors: [] };
        const errors = o.errors.map((e) => ({ statusCode: e.errorCode, message: e.message, fields: e.fields ?? [] }));
        const out: Record<string, unknown> = { success: false, errors };
        if (o.id) out.id = o.id;
        if (upsert) out.created = false;
        return out;
      }),
    );
  }

  // ───────────────────────────────────────────── Bulk API 2.0

  private ingest(ctx: RequestCtx, jobId: string | undefined, sub: string | undefined): Reply {
    const m = ctx.method;
    if (!jobId) {
      if (m === 'POST') return json(200, this.bulk.create(parseJsonBody(ctx.body), ctx.version, ctx.session.userId));
      if (m === 'GET') return json(200, this.bulk.list());
      throw methodNotAllowed(m, ['GET', 'HEAD', 'POST']);
    }
    if (!sub) {
      if (m === 'GET') return json(200, this.bulk.get(jobId));
      if (m === 'PATCH') return json(200, this.bulk.setState(jobId, parseJsonBody(ctx.body), ctx.session.userId));
      if (m === 'DELETE') {
        this.bulk.delete(jobId);
        return { status: 204 };
      }
      throw methodNotAllowed(m, ['GET', 'HEAD', 'PATCH', 'DELETE']);
    }
    if (sub === 'batches') {
      if (m !== 'PUT') throw methodNotAllowed(m, ['PUT']);
      this.bulk.upload(jobId, ctx.body);
      return { status: 201 };
    }
    const csv = (text: string): Reply => ({ status: 200, text, contentType: 'text/csv' });
    if (m !== 'GET') throw methodNotAllowed(m, ['GET', 'HEAD']);
    if (sub === 'successfulResults') return csv(this.bulk.successfulResults(jobId));
    if (sub === 'failedResults') return csv(this.bulk.failedResults(jobId));
    if (sub === 'unprocessedrecords') return csv(this.bulk.unprocessedRecords(jobId));
    throw notFound();
  }

  // ───────────────────────────────────────────── control surface (not counted)

  private control(method: string, path: string, query: URLSearchParams, body: Buffer): Reply {
    try {
      if (path === '/__emulator/stats' && method === 'GET') {
        const records: Record<string, number> = {};
        for (const o of SOBJECTS) records[o.name] = this.records(o.name).length;
        return json(200, { ...this.stats, apiUsage: { used: this.apiUsed, limit: this.dailyApiLimit }, bulkJobs: this.bulk.count(), records });
      }
      if (path === '/__emulator/faults' && method === 'POST') {
        const b = body.length ? jsonObject(body) : {};
        if (b.clear === true) this.faults.clear();
        if (b.expireSessions === true) this.faults.expireSessions();
        if (Array.isArray(b.queue)) this.faults.queue(...(b.queue as RequestFaultKind[]));
        if (b.queueOn && typeof b.queueOn === 'object') {
          for (const [endpoint, faults] of Object.entries(b.queueOn as Record<string, unknown>)) {
            if (Array.isArray(faults)) this.faults.queueOn(endpoint, ...(faults as RequestFaultKind[]));
          }
        }
        const settingKeys = ['rate', 'kinds', 'recordErrorRate', 'recordErrorCodes', 'failBulkJobs', 'failBulkJobsAfterRows', 'latencyMs'];
        if (settingKeys.some((k) => k in b)) {
          this.faults.set({
            rate: typeof b.rate === 'number' ? b.rate : undefined,
            kinds: Array.isArray(b.kinds) ? (b.kinds as RequestFaultKind[]) : undefined,
            recordErrorRate: typeof b.recordErrorRate === 'number' ? b.recordErrorRate : undefined,
            recordErrorCodes: Array.isArray(b.recordErrorCodes) ? (b.recordErrorCodes as string[]) : undefined,
            failBulkJobs: typeof b.failBulkJobs === 'number' ? b.failBulkJobs : undefined,
            failBulkJobsAfterRows: typeof b.failBulkJobsAfterRows === 'number' ? b.failBulkJobsAfterRows : undefined,
            latencyMs: typeof b.latencyMs === 'number' ? b.latencyMs : undefined,
          });
        }
        return json(200, { ok: true });
      }
      if (path === '/__emulator/deals' && method === 'POST') {
        return json(201, this.seedDeal(jsonObject(body) as unknown as SeedDealInput));
      }
      const m = /^\/__emulator\/records\/([^/]+)$/.exec(path);
      if (m && method === 'GET') {
        const obj = findSObject(decodeURIComponent(m[1]));
        if (!obj) throw notFound();
        const records = this.records(obj.name, { includeDeleted: query.get('includeDeleted') === 'true' });
        return json(200, { totalSize: records.length, records });
      }
      throw notFound();
    } catch (e) {
      if (e instanceof ApiError) return json(e.status, restErrors(e.errors));
      if (e instanceof SalesforceEmulatorError) return json(400, [{ message: e.message, errorCode: e.errorCode, fields: e.fields }]);
      throw e;
    }
  }
}

/**
 * Starts a Salesforce emulator on `host:port` (default 127.0.0.1, a free port). Use `url` as
 * both the login URL and the instance URL; `close()` when done.
 */
export async function startSalesforceEmulator(opts: SalesforceEmulatorOptions = {}): Promise<SalesforceEmulator> {
  const emulator = new Emulator(opts);
  await emulator.listen();
  return emulator;
}

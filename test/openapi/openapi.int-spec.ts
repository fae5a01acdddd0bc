import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import pino from 'pino';
import { loadConfig } from '../../src/config';
import { createDataSource } from '../../src/db/data-source';
import { Db } from '../../src/db/db';
import { buildApp } from '../../src/server/app';
import { EXCLUDED_ROUTES, OPENAPI_FILE, openApiDiff, printOpenApi, type OpenApiDocument } from '../../src/server/openapi';
import { generateOpenApiDocument } from '../../src/server/openapi-document';
import { buildHubSchema } from '../../src/server/schema';
import { createServices } from '../../src/server/services';
import { startTestHub, type TestHub } from '../support/test-hub';
import { createAccount, day, grant, seedLicensingCatalog } from '../licensing/licensing-support';
import { put } from '../delivery/delivery-support';
import { scratchDir } from '../support/scratch';

/**
 * The OpenAPI document (issue 17, ADR 0046): valid OpenAPI 3.1, equal to the committed
 * openapi.json, covering every registered route but GraphQL's; and every documented operation
 * called for real, a success and an error each (where one can happen), with the real status,
 * content type and body checked against the document's response for that operation.
 */
let hub: TestHub;
let doc: OpenApiDocument;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);

/** Which statuses of which operation ("GET /v1/x/{id}") were seen and validated. */
const seen = new Map<string, Set<number>>();

const pointer = (...tokens: string[]) => tokens.map((t) => encodeURIComponent(t.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');

interface Answer {
  status: number;
  contentType: string;
  text: string;
}

/** Checks a real answer against the document: the status is documented, the media type too, and a JSON body matches the schema. */
function conform(operation: string, answer: Answer): void {
  const [method, path] = operation.split(' ') as [string, string];
  const op = doc.paths[path]?.[method.toLowerCase()] as { responses: Record<string, { content?: Record<string, { schema: unknown }> }> } | undefined;
  if (!op) throw new Error(`${operation} is not in the document`);
  const response = op.responses[String(answer.status)];
  if (!response) throw new Error(`${operation} answered ${answer.status}, which the document does not list (${Object.keys(op.responses).join(', ')}): ${answer.text.slice(0, 300)}`);
  if (!response.content) {
    expect(answer.text).toBe('');
  } else {
    const media = answer.contentType.split(';')[0]!.trim();
    if (!response.content[media]) throw new Error(`${operation} ${answer.status} answered ${media}; the document says ${Object.keys(response.content).join(', ')}`);
    if (media === 'application/json') {
      const validate = ajv.getSchema(`openapi#/${pointer('paths', path, method.toLowerCase(), 'responses', String(answer.status), 'content', media, 'schema')}`)!;
      const body: unknown = JSON.parse(answer.text);
      if (!validate(body)) throw new Error(`${operation} ${answer.status}: the body does not match the document: ${ajv.errorsText(validate.errors)}\n${answer.text.slice(0, 1000)}`);
    }
  }
  if (!seen.has(operation)) seen.set(operation, new Set());
  seen.get(operation)!.add(answer.status);
}

/** Calls the hub and checks the answer against the document; `url` defaults to the path. */
async function call(operation: string, opts: { url?: string; key?: string | null; body?: unknown; type?: string; headers?: Record<string, string>; base?: string } = {}): Promise<Answer & { json: () => Record<string, unknown> }> {
  const [method, path] = operation.split(' ') as [string, string];
  const key = opts.key === undefined ? hub.adminKey : opts.key;
  const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const res = await fetch(`${opts.base ?? hub.url}${opts.url ?? path}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': opts.type ?? 'application/json' } : {}), ...opts.headers },
    body,
  });
  const answer = { status: res.status, contentType: res.headers.get('content-type') ?? '', text: await res.text() };
  conform(operation, answer);
  return { ...answer, json: () => JSON.parse(answer.text) as Record<string, unknown> };
}

beforeAll(async () => {
  hub = await startTestHub();
  await seedLicensingCatalog(hub);
  const res = await fetch(`${hub.url}/openapi.json`);
  expect(res.status).toBe(200);
  doc = (await res.json()) as OpenApiDocument;
  ajv.addSchema(doc, 'openapi');
});
afterAll(async () => hub?.close());
/** The csv connection's folders (the imports route). */
const dir = scratchDir('ehub-openapi-');

describe('the document', () => {
  it('is valid OpenAPI 3.1, and is the committed openapi.json', async () => {
    // An ES module: loaded the way a CommonJS test may.
    const { Validator } = await import('@seriousme/openapi-schema-validator');
    const result = await new Validator().validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
    // Served by a hub with the test configuration, generated without a database, committed: one document.
    expect(printOpenApi(doc)).toBe(readFileSync(OPENAPI_FILE, 'utf8'));
  });

  it('documents every registered route but GraphQL\'s, each with an operationId, tags and a security requirement', () => {
    const routes = new Set<string>();
    // printRoutes draws the routes as a tree ("├── /v1/activations (POST)" and below it "│   └── /deactivate (POST)"):
    // a node's path is its parent's plus its own. HEAD twins of GET routes are Fastify's own.
    const parents: string[] = [];
    for (const line of hub.app.printRoutes({ commonPrefix: false }).split('\n')) {
      const at = line.indexOf('── ');
      if (at < 0) continue;
      const depth = Math.round((at - 1) / 4);
      const m = /^(\S+)(?: \(([A-Z, ]+)\))?/.exec(line.slice(at + 3))!;
      const full = (depth > 0 ? parents[depth - 1]! : '') + m[1]!;
      parents[depth] = full;
      for (const method of m[2]?.split(', ') ?? []) if (method !== 'HEAD' && method !== 'OPTIONS') routes.add(`${method} ${full}`);
    }
    expect(routes.size).toBeGreaterThan(20);
    const documented = new Set(Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`)));
    const missing = [...routes].filter((r) => !documented.has(r) && !EXCLUDED_ROUTES.includes(r.split(' ')[1]!));
    expect(missing).toEqual([]);
    expect([...routes].filter((r) => r.includes('/v1/')).every((r) => documented.has(r))).toBe(true);
    const ids = new Set<string>();
    for (const ops of Object.values(doc.paths)) {
      for (const op of Object.values(ops) as { operationId?: string; tags?: string[]; security?: unknown[] }[]) {
        expect(op.operationId).toBeTruthy();
        expect(op.tags?.length).toBeGreaterThan(0);
        expect(Array.isArray(op.security)).toBe(true);
        expect(ids.has(op.operationId!)).toBe(false);
        ids.add(op.operationId!);
      }
    }
  });

  it('the drift check: the generated document equals the committed file, and a changed route schema is reported', async () => {
    const committed = readFileSync(OPENAPI_FILE, 'utf8');
    const generated = await generateOpenApiDocument();
    expect(openApiDiff(committed, printOpenApi(generated))).toBeNull();
    // An undocumented change: the check answer loses a field, a route gains a status.
    const altered = structuredClone(generated);
    const check = altered.paths['/v1/check']!.post! as { responses: Record<string, { content: Record<string, { schema: { properties: Record<string, unknown> } }> }> };
    delete check.responses['200']!.content['application/json']!.schema.properties.remaining;
    const report = openApiDiff(committed, printOpenApi(altered));
    expect(report).toMatch(/openapi\.json differs from the routes' schemas from line \d+/);
    expect(report).toContain('"remaining"');
  });
});

describe('real answers conform to the document', () => {
  it('operations: health, readiness, metrics, JWKS and the document itself', async () => {
    await call('GET /healthz');
    await call('GET /readyz');
    const metrics = await call('GET /metrics', { key: null });
    expect(metrics.text).toContain('ehub_');
    await call('GET /.well-known/jwks.json', { key: null });
    await call('GET /openapi.json', { key: null });

    // Errors: a hub whose database is not open is not ready (503); one with a budget of one request per key answers 429.
    const log = pino({ level: 'silent' });
    const schema = await buildHubSchema();
    const closed = createServices(new Db(createDataSource('postgres://nobody@127.0.0.1:9/none')), hub.services.config);
    const down = await buildApp({ services: closed, schema, log });
    const limited = await buildApp({ services: { ...hub.services, config: loadConfig({ ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: hub.databaseUrl, EHUB_RATE_LIMIT_MAX: '1', EHUB_RATE_LIMIT_LICENSING_MAX: '1' }) }, schema, log });
    try {
      const inject = async (app: typeof down, operation: string, url: string) => {
        const res = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${hub.adminKey}` } });
        conform(operation, { status: res.statusCode, contentType: String(res.headers['content-type'] ?? ''), text: res.body });
        return res.statusCode;
      };
      expect(await inject(down, 'GET /readyz', '/readyz')).toBe(503);
      for (const [op, url] of [['GET /openapi.json', '/openapi.json'], ['GET /.well-known/jwks.json', '/.well-known/jwks.json']] as const) {
        await inject(limited, op, url);
        expect(await inject(limited, op, url)).toBe(429);
      }
    } finally {
      await down.close();
      await limited.close();
    }
  });

  it('licensing: check, consume, devices, seats and leases', async () => {
    const acct = await createAccount(hub, 'OpenAPI licensing');
    const dev = await grant(hub, acct, { sku: 'L-DEV', quantity: 1 });
    const seats = await grant(hub, acct, { sku: 'L-SEAT', quantity: 1 });
    const floating = await grant(hub, acct, { sku: 'L-FLOAT', quantity: 1 });
    await grant(hub, acct, { sku: 'L-METER', quantity: 1, limits: [{ feature: 'lic.api', limit: 100 }], resetPeriod: 'MONTHLY' });

    expect((await call('POST /v1/check', { body: { accountId: acct, feature: 'lic.api', quantity: 1 } })).status).toBe(200);
    expect((await call('POST /v1/check', { body: { accountId: acct, feature: 'lic.nothing' } })).json()).toMatchObject({ allowed: false });
    expect((await call('POST /v1/check', { body: { accountId: acct, feature: 'lic.core', quantity: '5', extra: 1 } })).status).toBe(400);
    expect((await call('POST /v1/check', { key: null, body: { accountId: acct, feature: 'lic.core' } })).status).toBe(401);
    expect((await call('POST /v1/check', { body: '<check/>', type: 'application/xml' })).status).toBe(415);

    const consume = { accountId: acct, feature: 'lic.api', quantity: 5, idempotencyKey: 'openapi-1' };
    expect((await call('POST /v1/consume', { body: consume })).status).toBe(200);
    expect((await call('POST /v1/consume', { body: consume })).json()).toMatchObject({ replayed: true });
    expect((await call('POST /v1/consume', { body: { ...consume, quantity: 6 } })).status).toBe(409);

    expect((await call('POST /v1/activations', { body: { entitlementId: dev, fingerprint: 'oa-1', name: 'Host', deployment: 'ON_PREM', shippedOn: '2026-01-02' } })).json()).toMatchObject({ active: true });
    expect((await call('POST /v1/activations', { body: { entitlementId: dev, fingerprint: 'oa-2' } })).status).toBe(409);
    expect((await call('POST /v1/activations/deactivate', { body: { entitlementId: dev, fingerprint: 'oa-1' } })).json()).toMatchObject({ active: false });
    expect((await call('POST /v1/activations/deactivate', { body: { entitlementId: '00000000-0000-4000-8000-000000000000', fingerprint: 'oa-1' } })).status).toBe(404);

    expect((await call('POST /v1/seats', { body: { entitlementId: seats, email: 'ann@example.com' } })).status).toBe(200);
    expect((await call('POST /v1/seats', { body: { entitlementId: seats, email: 'bob@example.com' } })).status).toBe(409);
    expect((await call('POST /v1/seats/release', { body: { entitlementId: seats, email: 'ann@example.com' } })).json()).toMatchObject({ active: false });
    expect((await call('POST /v1/seats/release', { body: { entitlementId: seats } })).status).toBe(400);

    const lease = (await call('POST /v1/leases', { body: { entitlementId: floating, holder: 'oa-build', ttlSeconds: 60 } })).json();
    expect((await call('POST /v1/leases', { body: { entitlementId: floating, holder: 'oa-other' } })).status).toBe(409);
    expect((await call('POST /v1/leases/{id}/heartbeat', { url: `/v1/leases/${String(lease.id)}/heartbeat`, body: { ttlSeconds: 120 } })).status).toBe(200);
    expect((await call('POST /v1/leases/{id}/heartbeat', { url: `/v1/leases/${String(lease.id)}/heartbeat`, body: { ttlSeconds: 'long' } })).status).toBe(400);
    expect((await call('POST /v1/leases/{id}/checkin', { url: `/v1/leases/${String(lease.id)}/checkin`, body: {} })).json()).toMatchObject({ live: false });
    expect((await call('POST /v1/leases/{id}/checkin', { url: '/v1/leases/00000000-0000-4000-8000-000000000000/checkin', body: {} })).status).toBe(404);
  });

  it('usage ingest, finance exports and CSV imports', async () => {
    const acct = await createAccount(hub, 'OpenAPI usage');
    const ndjson = [
      { id: 'oa-u-1', meter: 'no.such.meter', quantity: 1, occurredAt: new Date().toISOString(), deployment: 'CLOUD', accountId: acct },
      { id: 'oa-u-2' },
    ]
      .map((e) => JSON.stringify(e))
      .join('\n');
    const usage = await call('POST /v1/usage', { body: ndjson, type: 'application/x-ndjson' });
    expect(usage.json()).toMatchObject({ accepted: 0, rejected: [expect.objectContaining({ index: 0 }), expect.objectContaining({ index: 1, code: 'INVALID_EVENT' })] });
    expect((await call('POST /v1/usage', { body: { id: 'x' } })).status).toBe(415);
    expect((await call('POST /v1/usage', { key: null, body: ndjson, type: 'application/x-ndjson' })).status).toBe(401);

    for (const path of ['/v1/exports/revenue-waterfall.csv', '/v1/exports/journal-entries.csv']) {
      const csv = await call(`GET ${path}`, { url: `${path}?from=2026-01&to=2026-03` });
      expect(csv.status).toBe(200);
      expect(csv.text.split('\r\n')[0]).toMatch(/^[a-z_]+(,[a-z_]+)+$/);
      expect((await call(`GET ${path}`, { url: `${path}?from=2026-13&to=2026-03` })).status).toBe(400);
      expect((await call(`GET ${path}`, { url: `${path}?from=2026-01&to=2026-03&accountId=00000000-0000-4000-8000-000000000000` })).status).toBe(404);
    }

    await hub.ok('mutation($i: CreateSyncConnectionInput!) { createSyncConnection(input: $i) { id } }', { i: { name: 'oa-csv', type: 'csv', options: { inboxDir: join(dir, 'in'), outboxDir: join(dir, 'out') } } });
    const accounts = 'customer_id,name\nOA-1,OpenAPI One\nOA-2,OpenAPI Two\n';
    const imported = await call('POST /v1/imports/{connection}/{object}', { url: '/v1/imports/oa-csv/accounts?wait=true', body: accounts, type: 'text/csv' });
    expect(imported.json()).toMatchObject({ duplicate: false, run: { object: 'accounts', read: 2 } });
    expect((await call('POST /v1/imports/{connection}/{object}', { url: '/v1/imports/oa-csv/accounts', body: accounts, type: 'text/csv' })).json()).toMatchObject({ duplicate: true });
    const started = await call('POST /v1/imports/{connection}/{object}', { url: '/v1/imports/oa-csv/accounts', body: `${accounts}OA-3,Three\n`, type: 'text/csv' });
    expect(started.status).toBe(202);
    expect((await call('POST /v1/imports/{connection}/{object}', { url: '/v1/imports/oa-csv/invoices', body: accounts, type: 'text/csv' })).status).toBe(404);
    expect((await call('POST /v1/imports/{connection}/{object}', { url: '/v1/imports/oa-csv/accounts', body: { a: 1 } })).status).toBe(415);
    // Let the pull started in the background finish before the hub closes.
    await new Promise((r) => setTimeout(r, 500));
  });

  it('delivery and device updates: upload, poll, download (whole, range), report', async () => {
    const acct = await createAccount(hub, 'OpenAPI fleet');
    const ent = await grant(hub, acct, { sku: 'L-DEV', quantity: 2 });
    const rel = await hub.ok<{ upsertRelease: { id: string } }>('mutation ($i: UpsertReleaseInput!) { upsertRelease(input: $i) { id } }', {
      i: { product: 'L-DEV', version: '9.1.0', status: 'PUBLISHED', releaseDate: `${day(-1)}T12:00:00.000Z`, notes: 'OpenAPI' },
    });
    const releaseId = rel.upsertRelease.id;
    const upload = async (name: string, headers: Record<string, string>) => {
      const res = await put(`${hub.url}/v1/releases/${releaseId}/artifacts/${name}?platform=linux`, Buffer.from(`bytes of ${name}`), headers);
      const answer = { status: res.status, contentType: String(res.headers['content-type'] ?? ''), text: res.body.toString('utf8') };
      conform('PUT /v1/releases/{id}/artifacts/{name}', answer);
      return answer;
    };
    expect((await upload('oa-9.1.0.bin', { authorization: `Bearer ${hub.adminKey}`, 'content-type': 'application/octet-stream' })).status).toBe(201);
    expect((await upload('oa-other.bin', { authorization: `Bearer ${hub.adminKey}`, 'content-type': 'text/plain' })).status).toBe(415);

    const device = await hub.ok<{ activateDevice: { id: string; updateToken: string } }>(
      'mutation ($e: ID!) { activateDevice(entitlementId: $e, fingerprint: "oa-gw", platform: "linux") { id updateToken } }',
      { e: ent },
    );
    const { id, updateToken } = device.activateDevice;
    const offer = (await call('GET /v1/devices/{id}/update', { url: `/v1/devices/${id}/update?current=9.0.0`, key: updateToken })).json() as { artifacts: { url: string }[] };
    expect(offer.artifacts).toHaveLength(1);
    expect((await call('GET /v1/devices/{id}/update', { url: `/v1/devices/${id}/update?current=9.1.0`, key: updateToken })).status).toBe(204);
    expect((await call('GET /v1/devices/{id}/update', { url: `/v1/devices/${id}/update`, key: null })).status).toBe(401);

    const link = new URL(offer.artifacts[0]!.url);
    const download = `${link.pathname}${link.search}`;
    const whole = await call('GET /v1/downloads/{link}/{artifact}/{name}', { url: download, key: null });
    expect(whole.text).toBe('bytes of oa-9.1.0.bin');
    const part = await call('GET /v1/downloads/{link}/{artifact}/{name}', { url: download, key: null, headers: { range: 'bytes=0-4' } });
    expect([part.status, part.text]).toEqual([206, 'bytes']);
    expect((await call('GET /v1/downloads/{link}/{artifact}/{name}', { url: download, key: null, headers: { range: 'bytes=999-' } })).status).toBe(416);
    expect((await call('GET /v1/downloads/{link}/{artifact}/{name}', { url: link.pathname, key: null })).status).toBe(400);
    expect((await call('GET /v1/downloads/{link}/{artifact}/{name}', { url: download.replace(/signature=[^&]+/, 'signature=forged'), key: null })).status).toBe(403);

    const report = { release: releaseId, status: 'INSTALLED', reason: null };
    const op = 'POST /v1/devices/{id}/update-status';
    expect((await call(op, { url: `/v1/devices/${id}/update-status`, key: updateToken, body: report, headers: { 'idempotency-key': 'oa-r1' } })).status).toBe(201);
    expect((await call(op, { url: `/v1/devices/${id}/update-status`, key: updateToken, body: report, headers: { 'idempotency-key': 'oa-r1' } })).json()).toMatchObject({ replayed: true });
    expect((await call(op, { url: `/v1/devices/${id}/update-status`, key: updateToken, body: { ...report, status: 'DONE' } })).status).toBe(400);
  });

  it('every documented operation was called: a success each, and an error each where one can happen', () => {
    const operations = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    // The liveness probe and the metrics cannot fail on a running hub: no request makes them.
    const cannotFail = new Set(['GET /healthz', 'GET /metrics']);
    const missing = operations.flatMap((op) => {
      const statuses = [...(seen.get(op) ?? [])];
      const problems: string[] = [];
      if (!statuses.some((s) => s < 300)) problems.push(`${op}: no success`);
      if (!cannotFail.has(op) && !statuses.some((s) => s >= 400)) problems.push(`${op}: no error`);
      return problems;
    });
    expect(missing).toEqual([]);
  });
});

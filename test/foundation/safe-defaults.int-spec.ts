import { Writable } from 'node:stream';
import { startTestHub, gqlError, type TestHub } from '../support/test-hub';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/server/logger';

/**
 * What a plain `npm start` exposes (NODE_ENV unset): no stack traces or internal messages to
 * clients, introspection only with a key, security headers everywhere, no CORS; and what the
 * explicit development flag (EHUB_DEBUG=1) and a configured CORS list change.
 */
let prod: TestHub;
let debug: TestHub;
beforeAll(async () => {
  // NODE_ENV unset, as with `npm start` (the test helper otherwise passes NODE_ENV=test).
  prod = await startTestHub({ NODE_ENV: undefined });
  debug = await startTestHub({ NODE_ENV: undefined, EHUB_DEBUG: '1', EHUB_CORS_ORIGINS: 'https://console.example.com' });
});
afterAll(async () => {
  await prod?.close();
  await debug?.close();
});

const SCHEMA_QUERY = '{ __schema { queryType { name } } }';

describe('errors: no stack traces or internal messages without an explicit development flag', () => {
  it('an unauthenticated request gets UNAUTHENTICATED without a stack trace', async () => {
    const res = await prod.gql('{ me { role } }', {}, null);
    expect(gqlError(res).code).toBe('UNAUTHENTICATED');
    expect(JSON.stringify(res.errors)).not.toMatch(/stacktrace|\.ts:\d+|node_modules/);
  });

  it('an internal error: the client gets a generic message and the request id (the details go to the log)', async () => {
    const catalog = prod.services.catalog;
    const original = catalog.listProducts.bind(catalog);
    catalog.listProducts = async () => {
      throw new Error('connection to 10.0.0.7 refused at /srv/hub/src/catalog/catalog.service.ts:42');
    };
    try {
      const res = await prod.gql('{ products(first: 1) { totalCount } }');
      const e = res.errors![0]!;
      expect(e.extensions).toEqual({ code: 'INTERNAL', subCode: 'INTERNAL', requestId: res.headers.get('x-request-id') });
      expect(JSON.stringify(res.errors)).not.toMatch(/10\.0\.0\.7|catalog\.service|stacktrace/);
    } finally {
      catalog.listProducts = original;
    }
  });

  it('EHUB_DEBUG=1 (or NODE_ENV=development) sends stack traces; unset counts as production', async () => {
    const res = await debug.gql('{ me { role } }', {}, null);
    expect(gqlError(res).code).toBe('UNAUTHENTICATED');
    expect(res.errors![0]!.extensions!.stacktrace).toEqual(expect.arrayContaining([expect.stringMatching(/\S/)]));
    expect(loadConfig({}).NODE_ENV).toBe('production');
    expect(loadConfig({}).debug).toBe(false);
    expect(loadConfig({ NODE_ENV: 'test' }).debug).toBe(false);
    expect(loadConfig({ NODE_ENV: 'development' }).debug).toBe(true);
    expect(loadConfig({ EHUB_DEBUG: '1' }).debug).toBe(true);
    expect(() => loadConfig({ EHUB_DEBUG: 'yes please' })).toThrow(/EHUB_DEBUG/);
  });
});

describe('introspection', () => {
  it('needs an API key outside development; with one it works', async () => {
    const anon = await prod.gql(SCHEMA_QUERY, {}, null);
    expect(gqlError(anon)).toMatchObject({ code: 'UNAUTHENTICATED', subCode: 'INTROSPECTION_NEEDS_KEY', message: expect.stringContaining('admin.key') });
    expect(anon.data).toBeNull();
    const typeQuery = await prod.gql('{ __type(name: "Product") { name } }', {}, null);
    expect(gqlError(typeQuery).subCode).toBe('INTROSPECTION_NEEDS_KEY');
    expect((await prod.ok<{ __schema: { queryType: { name: string } } }>(SCHEMA_QUERY)).__schema.queryType.name).toBe('Query');
  });

  it('is open without a key under the development flag', async () => {
    expect((await debug.ok<{ __schema: { queryType: { name: string } } }>(SCHEMA_QUERY, {}, null)).__schema.queryType.name).toBe('Query');
  });
});

describe('security headers and CORS', () => {
  it('sends helmet headers and a content security policy on every response', async () => {
    for (const res of [
      await fetch(`${prod.url}/healthz`),
      await fetch(`${prod.url}/graphql`),
      await fetch(`${prod.url}/nope`),
      await fetch(`${prod.url}/v1/check`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
      (await prod.gql('{ hub { version } }')) as unknown as Response,
    ]) {
      const h = res.headers;
      expect(h.get('x-content-type-options')).toBe('nosniff');
      expect(h.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(h.get('referrer-policy')).toBe('no-referrer');
      expect(h.get('strict-transport-security')).toMatch(/max-age=/);
      const csp = h.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("default-src 'self'");
      expect(csp).not.toContain('upgrade-insecure-requests');
      expect(csp).toContain("frame-ancestors 'none'");
      expect(h.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(h.get('x-request-id')).toBeTruthy();
    }
  });

  it('GraphiQL works under the policy: no inline script or style, same-origin assets only', async () => {
    const html = await (await fetch(`${prod.url}/graphql`)).text();
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/); // every script has a src
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/);
    const srcs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(srcs.length).toBeGreaterThanOrEqual(6);
    for (const src of srcs) {
      expect(src).toMatch(/^\/graphiql\/assets\//);
      expect((await fetch(`${prod.url}${src}`)).status).toBe(200);
    }
  });

  it('GraphiQL first screen asks for the key and says where the first start put it', async () => {
    const html = await (await fetch(`${prod.url}/graphql`)).text();
    expect(html).toMatch(/<form id="ehub-key"/);
    expect(html).toContain('.ehub/admin.key');
    const js = await (await fetch(`${prod.url}/graphiql/assets/start.js`)).text();
    expect(js).toContain("'Bearer ' + key");
    expect(js).toContain('askForKey');
  });

  it('CORS is off by default: no Access-Control headers for another origin', async () => {
    const preflight = await fetch(`${prod.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const simple = await fetch(`${prod.url}/healthz`, { headers: { origin: 'https://evil.example' } });
    expect(simple.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('EHUB_CORS_ORIGINS allows the listed origins only', async () => {
    const ask = (origin: string) =>
      fetch(`${debug.url}/graphql`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
    const allowed = await ask('https://console.example.com');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://console.example.com');
    expect(allowed.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    expect((await ask('https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
    expect(() => loadConfig({ EHUB_CORS_ORIGINS: 'console.example.com' })).toThrow(/EHUB_CORS_ORIGINS/);
  });
});

describe('logs', () => {
  const capture = (isTTY: boolean) => {
    const chunks: string[] = [];
    const stream = Object.assign(
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          chunks.push(chunk.toString());
          cb();
        },
      }),
      { isTTY },
    );
    return { stream, text: () => chunks.join('') };
  };

  it('are one readable line per event on a terminal, JSON otherwise or with LOG_FORMAT=json', () => {
    const tty = capture(true);
    createLogger(loadConfig({}), { stream: tty.stream }).info({ port: 4000 }, 'hub listening');
    expect(tty.text()).toMatch(/INFO.*hub listening.*"port":4000/);
    expect(tty.text().trim().split('\n')).toHaveLength(1);
    expect(() => JSON.parse(tty.text())).toThrow();

    const pipe = capture(false);
    createLogger(loadConfig({}), { stream: pipe.stream }).info({ port: 4000 }, 'hub listening');
    expect(JSON.parse(pipe.text())).toMatchObject({ msg: 'hub listening', port: 4000, level: 30 });

    const forced = capture(true);
    createLogger(loadConfig({ LOG_FORMAT: 'json' }), { stream: forced.stream }).info('hub listening');
    expect(JSON.parse(forced.text())).toMatchObject({ msg: 'hub listening' });
  });
});

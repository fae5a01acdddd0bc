import { startTestHub, gqlError, type TestHub } from '../support/test-hub';
import { Role } from '../../src/auth/role';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub({ EHUB_BODY_LIMIT_BYTES: '65536' });
});
afterAll(async () => hub?.close());

describe('server basics', () => {
  it('answers an authenticated query and echoes a request id', async () => {
    const res = await hub.gql<{ hub: { version: string } }>('query { hub { version serverTime } }');
    expect(res.status).toBe(200);
    expect(res.data?.hub.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(res.headers.get('x-request-id')).toBeTruthy();
  });

  it('keeps a caller-supplied request id', async () => {
    const res = await fetch(`${hub.url}/healthz`, { headers: { 'x-request-id': 'abc-123' } });
    expect(res.headers.get('x-request-id')).toBe('abc-123');
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('is ready when the database is reachable and migrated', async () => {
    const res = await fetch(`${hub.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready' });
  });

  it('serves GraphiQL with bundled assets (no CDN)', async () => {
    const page = await fetch(`${hub.url}/graphql`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('graphiql');
    expect(html).not.toMatch(/https?:\/\//);
    for (const asset of ['react.js', 'react-dom.js', 'graphiql.js', 'graphiql.css']) {
      const res = await fetch(`${hub.url}/graphiql/assets/${asset}`);
      expect(res.status).toBe(200);
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    }
  });

  it('exposes Prometheus metrics with operation durations, errors by code and the DB pool', async () => {
    await hub.gql('query Probe { hub { version } }');
    await hub.gql('query { hub { version } }', {}, null);
    const text = await (await fetch(`${hub.url}/metrics`)).text();
    expect(text).toMatch(/ehub_graphql_operation_duration_seconds_count\{operation="Probe",type="query"\} \d+/);
    expect(text).toMatch(/ehub_graphql_errors_total\{code="UNAUTHENTICATED"\} \d+/);
    expect(text).toMatch(/ehub_http_request_duration_seconds_count\{method="POST",route="\/graphql",status_code="200"\}/);
    expect(text).toMatch(/ehub_db_pool_connections\{state="total"\} \d+/);
  });
});

describe('bad input gets a clear answer', () => {
  it('malformed GraphQL → 400 GRAPHQL_PARSE_FAILED', async () => {
    const res = await hub.gql('query { hub { version }');
    expect(res.status).toBe(400);
    expect(gqlError(res).code).toBe('GRAPHQL_PARSE_FAILED');
  });

  it('no key → UNAUTHENTICATED', async () => {
    const res = await hub.gql('query { hub { version } }', {}, null);
    expect(gqlError(res).code).toBe('UNAUTHENTICATED');
    expect(res.data).toBeNull();
  });

  it('an unknown or malformed key → 401 UNAUTHENTICATED', async () => {
    const bad = await hub.gql('query { hub { version } }', {}, 'ehub_abcdefgh_' + 'x'.repeat(40));
    expect(bad.status).toBe(401);
    expect(gqlError(bad).code).toBe('UNAUTHENTICATED');
    const malformed = await hub.gql('query { hub { version } }', {}, 'nonsense');
    expect(gqlError(malformed).code).toBe('UNAUTHENTICATED');
  });

  it('a body over the limit → 413', async () => {
    const res = await fetch(`${hub.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${hub.adminKey}` },
      body: JSON.stringify({ query: 'query { hub { version } }', variables: { pad: 'x'.repeat(70_000) } }),
    });
    expect(res.status).toBe(413);
    const body = (await res.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0]!.extensions.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('an unknown field is a GraphQL validation failure, not a crash', async () => {
    const res = await hub.gql('query { hub { nope } }');
    expect(res.status).toBe(400);
    expect(gqlError(res).code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('a READONLY key cannot call a mutation → FORBIDDEN, and nothing changes', async () => {
    const key = await hub.createKey(Role.READONLY);
    const before = await hub.ok<{ apiKeys: { totalCount: number } }>('query { apiKeys { totalCount } }');
    const res = await hub.gql('mutation { createApiKey(input: { name: "x", role: ADMIN }) { key } }', {}, key);
    expect(gqlError(res).code).toBe('FORBIDDEN');
    const after = await hub.ok<{ apiKeys: { totalCount: number } }>('query { apiKeys { totalCount } }');
    expect(after.apiKeys.totalCount).toBe(before.apiKeys.totalCount);
  });
});

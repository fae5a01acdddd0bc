import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { Role } from '../../src/auth/role';
import { gqlError, startTestHub, type TestHub } from '../support/test-hub';

/** OWASP GraphQL abuse cases: aliases, field duplication, cost of aggregates, time budget, rate limits. */

const aliasedCounts = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: accounts(first: 1) { totalCount }`).join(' ')} }`;

describe('GraphQL abuse limits', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('refuses 2,000 aliases of accounts { totalCount } with ALIAS_LIMIT, before running any', async () => {
    const res = await hub.gql(aliasedCounts(2000));
    expect(gqlError(res)).toMatchObject({ code: 'LIMIT_EXCEEDED', subCode: 'ALIAS_LIMIT' });
    expect(res.errors![0]!.extensions).toMatchObject({ limit: 50, found: 2000 });
    expect(res.data).toBeNull();
  });

  it('refuses one field repeated in a selection (aliased or not) with FIELD_DUPLICATION_LIMIT', async () => {
    const plain = await hub.gql(`{ hub { ${'version '.repeat(25)} } }`);
    expect(gqlError(plain)).toMatchObject({ code: 'LIMIT_EXCEEDED', subCode: 'FIELD_DUPLICATION_LIMIT' });
    expect(plain.errors![0]!.extensions).toMatchObject({ field: 'version', found: 25, limit: 20 });
    const aliased = await hub.gql(aliasedCounts(21));
    expect(gqlError(aliased)).toMatchObject({ code: 'LIMIT_EXCEEDED', subCode: 'FIELD_DUPLICATION_LIMIT' });
    // Within both limits the same query runs.
    const fine = await hub.ok<Record<string, { totalCount: number }>>(aliasedCounts(20));
    expect(Object.keys(fine)).toHaveLength(20);
  });

  describe('with the alias and duplication limits lifted', () => {
    let loose: TestHub;
    beforeAll(async () => {
      loose = await startTestHub({ EHUB_MAX_ALIASES: '100000', EHUB_MAX_FIELD_DUPLICATES: '100000' }, { attachTo: hub });
    });
    afterAll(async () => {
      await loose?.close();
    });

    it('prices totalCount by what it costs the database: 250 counts are over the cost limit', async () => {
      const res = await loose.gql(aliasedCounts(250));
      expect(gqlError(res)).toMatchObject({ code: 'LIMIT_EXCEEDED', subCode: 'QUERY_COST_LIMIT' });
      expect(res.errors![0]!.extensions).toMatchObject({ cost: 250 * 26, limit: 5000 });
      expect(res.data).toBeNull();
    });

    it('counts a connection total once, not per item: a full page with its total stays affordable', async () => {
      const data = await loose.ok<{ accounts: { totalCount: number; edges: unknown[] } }>(
        `{ accounts(first: 500) { totalCount pageInfo { hasNextPage } edges { cursor node { id name } } } }`,
      );
      expect(data.accounts.totalCount).toBe(data.accounts.edges.length);
    });
  });
});

describe('request time budget', () => {
  let hub: TestHub;
  let locker: Client;
  beforeAll(async () => {
    hub = await startTestHub({ EHUB_REQUEST_TIMEOUT_MS: '1500' });
    locker = new Client({ connectionString: hub.databaseUrl });
    await locker.connect();
  });
  afterAll(async () => {
    await locker?.end();
    await hub?.close();
  });

  it('cancels a statement that runs past the budget (STATEMENT_TIMEOUT); nothing changes', async () => {
    // Another session holds the audit table: every mutation's audit insert waits for it.
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE');
    let res;
    try {
      res = await hub.gql(`mutation { upsertFeature(input: { key: "budget.a", name: "A" }) { id } }`);
    } finally {
      await locker.query('ROLLBACK');
    }
    expect(gqlError(res)).toMatchObject({ code: 'LIMIT_EXCEEDED', subCode: 'STATEMENT_TIMEOUT' });
    expect(await hub.ds.query(`SELECT key FROM feature WHERE key = 'budget.a'`)).toEqual([]);
    // With the lock gone the same mutation goes through within the budget.
    await hub.ok(`mutation { upsertFeature(input: { key: "budget.a", name: "A" }) { id } }`);
  });

  it('stops resolving fields once the budget is spent (EXECUTION_TIMEOUT)', async () => {
    // The list waits for a lock released only after the budget; its items then fail fast.
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE account IN ACCESS EXCLUSIVE MODE');
    const release = new Promise((r) => setTimeout(r, 2500)).then(() => locker.query('ROLLBACK'));
    const res = await hub.gql(`{ accounts(first: 1) { totalCount edges { node { id name } } } }`);
    await release;
    expect(res.errors?.map((e) => e.extensions?.subCode)).toContain('EXECUTION_TIMEOUT');
    expect(gqlError(res)).toMatchObject({ code: 'LIMIT_EXCEEDED' });
  });
});

describe('rate limits', () => {
  let hub: TestHub;
  let key: string;
  beforeAll(async () => {
    hub = await startTestHub({ EHUB_RATE_LIMIT_MAX: '3', EHUB_RATE_LIMIT_LICENSING_MAX: '6', EHUB_RATE_LIMIT_WINDOW_MS: '600000' });
    key = await hub.createKey(Role.INTEGRATION);
  });
  afterAll(async () => {
    await hub?.close();
  });

  const check = `query { check(accountId: "${randomUUID()}", feature: "x.y") { allowed } }`;

  it('gives each key a token bucket: 429 with Retry-After once it is empty, RATE_LIMITED in the body', async () => {
    for (let i = 0; i < 3; i++) expect((await hub.gql('{ me { id } }', {}, key)).status).toBe(200);
    const refused = await hub.gql('{ me { id } }', {}, key);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(gqlError(refused)).toMatchObject({ code: 'LIMIT_EXCEEDED', subCode: 'RATE_LIMITED' });
    // Another key has its own bucket.
    expect((await hub.gql('{ me { id } }')).status).toBe(200);
  });

  it('gives the licensing hot path its own, larger bucket', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await hub.gql(check, {}, key)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429]);
    // A request mixing licensing with anything else draws on the general bucket (empty by now).
    expect((await hub.gql(`query { check(accountId: "${randomUUID()}", feature: "x.y") { allowed } me { id } }`, {}, key)).status).toBe(429);
  });

  it('limits requests without a key per client address, HTTP routes included, and shows refusals in /metrics', async () => {
    const usage = () => fetch(`${hub.url}/v1/usage`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: '{}\n' });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await usage()).status);
    expect(statuses.slice(0, 3)).not.toContain(429);
    expect(statuses[3]).toBe(429);
    const last = await usage();
    expect(last.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await last.json()) as { errors: { extensions: { subCode: string } }[] }).errors[0]!.extensions.subCode).toBe('RATE_LIMITED');

    const metrics = await fetch(`${hub.url}/metrics`); // never limited
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(text).toMatch(/ehub_rate_limited_requests_total\{bucket="api",by="key"\} [1-9]/);
    expect(text).toMatch(/ehub_rate_limited_requests_total\{bucket="licensing",by="key"\} [1-9]/);
    expect(text).toMatch(/ehub_rate_limited_requests_total\{bucket="api",by="address"\} [1-9]/);
  });
});

import { startTestHub, type TestHub } from '../support/test-hub';

/** What the schema fuzzer (schema-fuzz.int-spec.ts) found, each pinned by a focused test. */
let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(async () => hub?.close());

describe('found by the schema fuzzer', () => {
  it('a query over the cost limit is a 400 LIMIT_EXCEEDED, not a 500', async () => {
    const res = await hub.gql('query { notifications(first: 2147483647) { edges { node { id } } } }');
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'LIMIT_EXCEEDED', subCode: 'QUERY_COST_LIMIT' });
    expect(res.errors?.[0]?.extensions).not.toHaveProperty('http');
    expect(res.status).toBe(400);
  });

  it('text PostgreSQL cannot store (NUL, a lone surrogate) is BAD_USER_INPUT naming the field, in queries and mutations', async () => {
    const [{ n: before }] = await hub.ds.query('SELECT count(*)::int AS n FROM audit_log');
    const meter = await hub.gql('query($k: String!) { meter(key: $k) { id } }', { k: 'a\u0000b' });
    expect(meter.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'UNSTORABLE_TEXT', fields: [{ path: 'key' }] });
    const feature = await hub.gql('mutation($i: UpsertFeatureInput!) { upsertFeature(input: $i) { id } }', { i: { key: 'f.x', name: 'bad \ud800 name' } });
    expect(feature.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'UNSTORABLE_TEXT', fields: [{ path: 'input.name' }] });
    const [{ n: after }] = await hub.ds.query('SELECT count(*)::int AS n FROM audit_log');
    expect(after).toBe(before);
    expect(await hub.ds.query(`SELECT 1 FROM feature WHERE key = 'f.x'`)).toEqual([]);
  });

  it('recordUsage still rejects only the event with such text, not the batch', async () => {
    const res = await hub.gql('mutation($e: [UsageEventInput!]!) { recordUsage(events: $e) { accepted rejected { index code } } }', {
      e: [{ id: 'nul-1', accountId: '00000000-0000-4000-8000-000000000001', meter: 'm', quantity: 1, occurredAt: '2020-01-01T00:00:00Z', deployment: 'CLOUD', user: 'a\u0000b' }],
    });
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({ recordUsage: { accepted: 0, rejected: [{ index: 0, code: 'INVALID_EVENT' }] } });
  });

  it('suspending or resuming an entitlement by an id that is not a uuid is NOT_FOUND', async () => {
    for (const op of ['suspendEntitlement(id: "x", reason: "r")', 'resumeEntitlement(id: "2027-13-01")']) {
      const res = await hub.gql(`mutation { ${op} { id } }`);
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', subCode: 'ENTITLEMENT_NOT_FOUND' });
    }
  });
});

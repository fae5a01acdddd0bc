import { startTestHub, type TestHub } from '../support/test-hub';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(async () => hub?.close());

const UPSERT = `mutation ($input: UpsertAccountInput!) { upsertAccount(input: $input) { id externalRefs { externalId } } }`;
const ref = (externalId: string) => ({ system: 'salesforce', object: 'Account', externalId });

describe('concurrent upserts converge on one record', () => {
  it('10 concurrent upsertAccount with the same new external reference create exactly 1 account, without errors', async () => {
    // Several rounds, each with a fresh reference: one lucky round proves little.
    for (let round = 0; round < 5; round++) {
      const externalId = `001RACE${round}`;
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          hub.gql<{ upsertAccount: { id: string } }>(UPSERT, { input: { name: `Race ${round}`, segment: i % 2 ? 'SMB' : 'ENTERPRISE', externalRefs: [ref(externalId)] } }),
        ),
      );
      for (const r of results) expect(r.errors).toBeUndefined();
      const ids = new Set(results.map((r) => r.data!.upsertAccount.id));
      expect(ids.size).toBe(1);
      expect(await hub.ds.query(`SELECT entity_id FROM external_ref WHERE external_id = $1`, [externalId])).toEqual([{ entity_id: [...ids][0] }]);
      expect((await hub.ds.query(`SELECT count(*)::int AS n FROM account WHERE name = $1`, [`Race ${round}`]))[0].n).toBe(1);
    }
  });

  it('references given in different orders by concurrent requests neither deadlock nor split', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        hub.gql<{ upsertAccount: { id: string } }>(UPSERT, {
          input: { name: 'Order race', externalRefs: i % 2 ? [ref('001A'), { system: 'netsuite', object: 'customer', externalId: '9' }] : [{ system: 'netsuite', object: 'customer', externalId: '9' }, ref('001A')] },
        }),
      ),
    );
    for (const r of results) expect(r.errors).toBeUndefined();
    expect(new Set(results.map((r) => r.data!.upsertAccount.id)).size).toBe(1);
    expect((await hub.ds.query(`SELECT count(*)::int AS n FROM account WHERE name = 'Order race'`))[0].n).toBe(1);
  });

  it('10 concurrent upsertContact of one email (in different cases) create exactly 1 contact', async () => {
    const accountId = (await hub.ok<{ upsertAccount: { id: string } }>(UPSERT, { input: { name: 'Contact race' } })).upsertAccount.id;
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        hub.gql<{ upsertContact: { id: string } }>(`mutation ($input: UpsertContactInput!) { upsertContact(input: $input) { id } }`, {
          input: { accountId, email: i % 2 ? 'Race@Example.com' : 'race@example.com', name: 'Racer' },
        }),
      ),
    );
    for (const r of results) expect(r.errors).toBeUndefined();
    expect(new Set(results.map((r) => r.data!.upsertContact.id)).size).toBe(1);
    expect((await hub.ds.query(`SELECT count(*)::int AS n FROM contact WHERE account_id = $1`, [accountId]))[0].n).toBe(1);
  });
});

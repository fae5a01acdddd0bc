import { startTestHub, type TestHub } from '../support/test-hub';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(async () => hub?.close());

const BIG = `query {
  accounts(first: 50) {
    totalCount
    edges { node {
      name
      externalRefs { externalId }
      contacts(first: 5) { totalCount edges { node { email account { name } externalRefs { externalId } } } }
    } }
  }
}`;

type Big = {
  accounts: {
    totalCount: number;
    edges: { node: { name: string; externalRefs: unknown[]; contacts: { totalCount: number; edges: { node: { email: string; account: { name: string }; externalRefs: unknown[] } }[] } } }[];
  };
};

let made = 0;
async function addAccounts(n: number): Promise<void> {
  for (let i = 0; i < n; i++, made++) {
    const { upsertAccount } = await hub.ok<{ upsertAccount: { id: string } }>(
      `mutation ($input: UpsertAccountInput!) { upsertAccount(input: $input) { id } }`,
      { input: { name: `N+1 ${made}`, externalRefs: [{ system: 'salesforce', object: 'Account', externalId: `001NP${made}` }, { system: 'netsuite', object: 'customer', externalId: `${made}` }] } },
    );
    // 7 contacts each, so `first: 5` really cuts every account's list.
    for (let c = 0; c < 7; c++) {
      await hub.ok(`mutation ($input: UpsertContactInput!) { upsertContact(input: $input) { id } }`, {
        input: { accountId: upsertAccount.id, email: `c${c}@a${made}.io`, externalRefs: [{ system: 'salesforce', object: 'Contact', externalId: `003NP${made}_${c}` }] },
      });
    }
  }
}

describe('N+1: nested account fields are batched per request', () => {
  it('the statement count of a big accounts query does not grow from 10 to 40 accounts', async () => {
    await addAccounts(10);
    await hub.ok(BIG); // warm the key cache
    const small = await hub.countQueries(() => hub.ok<Big>(BIG));
    expect(small.result.accounts.totalCount).toBe(10);
    const first = small.result.accounts.edges[0]!.node;
    expect(first.externalRefs).toHaveLength(2);
    expect(first.contacts.totalCount).toBe(7);
    expect(first.contacts.edges).toHaveLength(5);
    expect(first.contacts.edges[0]!.node).toEqual({ email: 'c0@a0.io', account: { name: 'N+1 0' }, externalRefs: [{ externalId: '003NP0_0' }] });

    await addAccounts(30);
    const large = await hub.countQueries(() => hub.ok<Big>(BIG));
    expect(large.result.accounts.edges).toHaveLength(40);
    expect(large.result.accounts.edges.every((e) => e.node.contacts.edges.length === 5)).toBe(true);
    expect(large.count).toBe(small.count);
    // count + page of accounts, account refs, contact pages, contact refs, contact accounts.
    expect(small.count).toBeLessThanOrEqual(6);
  });
});

import { gqlError, startTestHub, type TestHub } from '../support/test-hub';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(async () => hub?.close());

const CONTACT = `id accountId email name createdAt updatedAt externalRefs { system object externalId } account { id name }`;
const UPSERT_CONTACT = `mutation ($input: UpsertContactInput!) { upsertContact(input: $input) { ${CONTACT} } }`;
const REMOVE_CONTACT = `mutation ($id: ID!) { removeContact(id: $id) { id email account { id } } }`;

interface ContactView {
  id: string;
  accountId: string;
  email: string;
  name: string | null;
  externalRefs: { system: string; object: string; externalId: string }[];
  account: { id: string; name: string };
}

async function newAccount(name: string): Promise<string> {
  return (await hub.ok<{ upsertAccount: { id: string } }>(`mutation ($n: String!) { upsertAccount(input: { name: $n }) { id } }`, { n: name })).upsertAccount.id;
}

async function upsertContact(input: Record<string, unknown>): Promise<ContactView> {
  return (await hub.ok<{ upsertContact: ContactView }>(UPSERT_CONTACT, { input })).upsertContact;
}

async function contactRows(accountId: string): Promise<{ email: string; name: string | null }[]> {
  return hub.ds.query(`SELECT email, name FROM contact WHERE account_id = $1 ORDER BY created_at, id`, [accountId]);
}

const sfContact = (id: string) => ({ system: 'salesforce', object: 'Contact', externalId: id });

describe('upsertContact', () => {
  it('creates a contact with a lowercased email, and its account resolves', async () => {
    const accountId = await newAccount('Acme');
    const c = await upsertContact({ accountId, email: 'Ann@X.com', name: 'Ann Example', externalRefs: [sfContact('003ANN')] });
    expect(c).toMatchObject({ accountId, email: 'ann@x.com', name: 'Ann Example', account: { id: accountId, name: 'Acme' } });
    expect(c.externalRefs).toEqual([{ system: 'salesforce', object: 'Contact', externalId: '003ANN' }]);
    const audit = await hub.ds.query(`SELECT entity, action FROM audit_log WHERE operation = 'upsertContact' ORDER BY id`);
    expect(audit).toEqual([
      { entity: 'Contact', action: 'CREATE' },
      { entity: 'ExternalRef', action: 'CREATE' },
    ]);
  });

  it('email is unique per account, case-insensitively: "Ann@X.com" and "ann@x.com" are one contact; the same input twice changes nothing', async () => {
    const accountId = await newAccount('Unique');
    const a = await upsertContact({ accountId, email: 'Ann@X.com', name: 'Ann' });
    const b = await upsertContact({ accountId, email: 'ann@x.com', name: 'Ann' });
    expect(b).toEqual(a);
    const c = await upsertContact({ accountId, email: 'ANN@x.COM', name: 'Ann B.' });
    expect(c.id).toBe(a.id);
    expect(await contactRows(accountId)).toEqual([{ email: 'ann@x.com', name: 'Ann B.' }]);
    // Name left out: kept; null: cleared.
    expect((await upsertContact({ accountId, email: 'ann@x.com' })).name).toBe('Ann B.');
    expect((await upsertContact({ accountId, email: 'ann@x.com', name: null })).name).toBeNull();
    // The same email in another account is another contact.
    const other = await newAccount('Other');
    const d = await upsertContact({ accountId: other, email: 'ann@x.com' });
    expect(d.id).not.toBe(a.id);
  });

  it('matches by external reference first, so a contact can change its email', async () => {
    const accountId = await newAccount('Mover');
    const a = await upsertContact({ accountId, email: 'old@mover.io', externalRefs: [sfContact('003MOVE')] });
    const b = await upsertContact({ accountId, email: 'new@mover.io', externalRefs: [sfContact('003MOVE')] });
    expect(b.id).toBe(a.id);
    expect(await contactRows(accountId)).toEqual([{ email: 'new@mover.io', name: null }]);
  });

  it('a reference matching one contact while the email belongs to another is CONFLICT CONTACT_EMAIL_TAKEN', async () => {
    const accountId = await newAccount('Clash');
    await upsertContact({ accountId, email: 'one@clash.io', externalRefs: [sfContact('003ONE')] });
    await upsertContact({ accountId, email: 'two@clash.io' });
    const res = await hub.gql(UPSERT_CONTACT, { input: { accountId, email: 'two@clash.io', externalRefs: [sfContact('003ONE')] } });
    expect(gqlError(res)).toMatchObject({ code: 'CONFLICT', subCode: 'CONTACT_EMAIL_TAKEN' });
    expect(await contactRows(accountId)).toEqual([
      { email: 'one@clash.io', name: null },
      { email: 'two@clash.io', name: null },
    ]);
  });

  it('a reference linked to another account or its contact is CONFLICT EXTERNAL_REF_TAKEN, and nothing is written', async () => {
    const a = await newAccount('Ref owner');
    const b = await newAccount('Ref thief');
    await hub.ok(`mutation ($id: ID!) { upsertAccount(input: { id: $id, name: "Ref owner", externalRefs: [{ system: "salesforce", object: "Account", externalId: "001OWN" }] }) { id } }`, { id: a });
    await upsertContact({ accountId: a, email: 'c@own.io', externalRefs: [sfContact('003OWN')] });
    const refs = (await hub.ds.query(`SELECT count(*)::int AS n FROM external_ref`))[0].n;

    for (const ref of [sfContact('003OWN'), { system: 'salesforce', object: 'Account', externalId: '001OWN' }]) {
      const res = await hub.gql(UPSERT_CONTACT, { input: { accountId: b, email: 'x@thief.io', externalRefs: [ref] } });
      const err = gqlError(res);
      expect(err).toMatchObject({ code: 'CONFLICT', subCode: 'EXTERNAL_REF_TAKEN' });
      expect(err.message).toContain(`salesforce/${ref.object}/${ref.externalId}`);
    }
    expect(await contactRows(b)).toEqual([]);
    expect((await hub.ds.query(`SELECT count(*)::int AS n FROM external_ref`))[0].n).toBe(refs);
  });

  it('a missing account is NOT_FOUND', async () => {
    const res = await hub.gql(UPSERT_CONTACT, { input: { accountId: '00000000-0000-4000-8000-000000000000', email: 'a@b.io' } });
    expect(gqlError(res)).toMatchObject({ code: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' });
  });

  it('invalid input is BAD_USER_INPUT with every offending field path', async () => {
    const accountId = await newAccount('Invalid');
    const res = await hub.gql(UPSERT_CONTACT, {
      input: { accountId: 'nope', email: 'not-an-email', name: 'n'.repeat(256), externalRefs: [{ system: 'sf', object: '', externalId: '1' }] },
    });
    const err = gqlError(res);
    expect(err.code).toBe('BAD_USER_INPUT');
    expect([...new Set((err.fields as { path: string }[]).map((f) => f.path))].sort()).toEqual(
      ['input.accountId', 'input.email', 'input.externalRefs.0.object', 'input.name'].sort(),
    );
    expect(await contactRows(accountId)).toEqual([]);
  });
});

describe('removeContact', () => {
  it('deletes the contact and its references, returns it, and frees its email and references', async () => {
    const accountId = await newAccount('Remover');
    const c = await upsertContact({ accountId, email: 'gone@remover.io', externalRefs: [sfContact('003GONE')] });
    const removed = await hub.ok<{ removeContact: { id: string; email: string; account: { id: string } } }>(REMOVE_CONTACT, { id: c.id });
    expect(removed.removeContact).toEqual({ id: c.id, email: 'gone@remover.io', account: { id: accountId } });
    expect(await contactRows(accountId)).toEqual([]);
    expect(await hub.ds.query(`SELECT 1 FROM external_ref WHERE entity_id = $1`, [c.id])).toEqual([]);
    const audit = await hub.ds.query(`SELECT entity, action FROM audit_log WHERE operation = 'removeContact' ORDER BY id`);
    expect(audit).toEqual([
      { entity: 'ExternalRef', action: 'DELETE' },
      { entity: 'Contact', action: 'DELETE' },
    ]);
    // The reference can now name a new contact.
    const again = await upsertContact({ accountId, email: 'back@remover.io', externalRefs: [sfContact('003GONE')] });
    expect(again.id).not.toBe(c.id);
    // Removing it twice: NOT_FOUND.
    expect(gqlError(await hub.gql(REMOVE_CONTACT, { id: c.id }))).toMatchObject({ code: 'NOT_FOUND', subCode: 'CONTACT_NOT_FOUND' });
    expect(gqlError(await hub.gql(REMOVE_CONTACT, { id: 'junk' })).code).toBe('NOT_FOUND');
  });
});

describe('contacts: lists, search and pagination (top level and nested under Account)', () => {
  let accountId: string;
  beforeAll(async () => {
    accountId = await newAccount('Lister');
    for (let i = 0; i < 7; i++) {
      await upsertContact({ accountId, email: `user${i}@lister.io`, name: i === 3 ? 'Zoe Searchable' : `User ${i}`, externalRefs: i === 5 ? [sfContact('003FIND_ME')] : [] });
    }
  });

  type Page = { totalCount: number; edges: { node: { email: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
  const PAGE = `totalCount edges { node { email } } pageInfo { hasNextPage endCursor }`;

  const topLevel = async (args: Record<string, unknown>): Promise<Page> =>
    (await hub.ok<{ contacts: Page }>(`query ($a: ID!, $first: Int, $after: String, $search: String) { contacts(accountId: $a, first: $first, after: $after, search: $search) { ${PAGE} } }`, { a: accountId, ...args })).contacts;
  const nested = async (args: Record<string, unknown>): Promise<Page> =>
    (await hub.ok<{ account: { contacts: Page } }>(`query ($a: ID!, $first: Int, $after: String, $search: String) { account(id: $a) { contacts(first: $first, after: $after, search: $search) { ${PAGE} } } }`, { a: accountId, ...args })).account.contacts;

  it.each([['contacts(accountId)', topLevel], ['Account.contacts', nested]])('%s pages without gaps and searches email, name and external id', async (_label, list) => {
    const emails: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 5; i++) {
      const page = await list({ first: 3, after });
      expect(page.totalCount).toBe(7);
      emails.push(...page.edges.map((e) => e.node.email));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(emails).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => `user${i}@lister.io`));
    expect((await list({ search: 'ZOE' })).edges.map((e) => e.node.email)).toEqual(['user3@lister.io']);
    expect((await list({ search: 'USER6@' })).edges.map((e) => e.node.email)).toEqual(['user6@lister.io']);
    expect((await list({ search: 'find_me' })).edges.map((e) => e.node.email)).toEqual(['user5@lister.io']);
    expect((await list({ search: 'nobody' })).totalCount).toBe(0);
  });

  it('the two lists give the same cursors, so they can be mixed', async () => {
    const a = await topLevel({ first: 2 });
    const b = await nested({ first: 2 });
    expect(b).toEqual(a);
    const past = await nested({ first: 10, after: a.pageInfo.endCursor });
    expect(past.totalCount).toBe(7);
    expect(past.edges).toHaveLength(5);
    const beyond = await nested({ first: 10, after: (await topLevel({ first: 10 })).pageInfo.endCursor });
    expect(beyond).toMatchObject({ totalCount: 7, edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
  });

  it('a bad cursor is BAD_USER_INPUT; a missing account is NOT_FOUND', async () => {
    expect(gqlError(await hub.gql(`query ($a: ID!) { account(id: $a) { contacts(after: "zzz") { totalCount } } }`, { a: accountId })).code).toBe('BAD_USER_INPUT');
    expect(gqlError(await hub.gql(`{ contacts(accountId: "00000000-0000-4000-8000-000000000000") { totalCount } }`)).code).toBe('NOT_FOUND');
  });
});

import { gqlError, startTestHub, type TestHub } from '../support/test-hub';
import { Role } from '../../src/auth/role';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(async () => hub?.close());

const ACCOUNT = `id name domain currency country segment status createdAt updatedAt externalRefs { system object externalId }`;
const UPSERT = `mutation ($input: UpsertAccountInput!) { upsertAccount(input: $input) { ${ACCOUNT} } }`;

interface AccountView {
  id: string;
  name: string;
  domain: string | null;
  currency: string;
  country: string | null;
  segment: string | null;
  status: string;
  updatedAt: string;
  externalRefs: { system: string; object: string; externalId: string }[];
}

async function upsert(input: Record<string, unknown>, key?: string): Promise<AccountView> {
  return (await hub.ok<{ upsertAccount: AccountView }>(UPSERT, { input }, key)).upsertAccount;
}

async function count(table: string): Promise<number> {
  const [row] = await hub.ds.query(`SELECT count(*)::int AS n FROM ${table}`);
  return row.n;
}

async function auditFor(entityId: string): Promise<{ entity: string; action: string }[]> {
  return hub.ds.query(`SELECT entity, action FROM audit_log WHERE entity_id = $1 ORDER BY id`, [entityId]);
}

describe('upsertAccount: create, read, update', () => {
  it('creates an account with defaults and normalized fields, readable by id', async () => {
    const a = await upsert({ name: '  Acme Corp ', domain: 'ACME.com', country: 'de', segment: 'ENTERPRISE' });
    expect(a).toMatchObject({ name: 'Acme Corp', domain: 'acme.com', currency: 'USD', country: 'DE', segment: 'ENTERPRISE', status: 'ACTIVE', externalRefs: [] });
    const read = await hub.ok<{ account: AccountView }>(`query ($id: ID!) { account(id: $id) { ${ACCOUNT} } }`, { id: a.id });
    expect(read.account).toEqual(a);
    expect(await auditFor(a.id)).toEqual([{ entity: 'Account', action: 'CREATE' }]);
  });

  it('updates by id: given fields change, left-out fields stay, null clears', async () => {
    const a = await upsert({ name: 'Beta', domain: 'beta.io', currency: 'EUR', country: 'FR', segment: 'SMB' });
    const b = await upsert({ id: a.id, name: 'Beta GmbH', country: null });
    expect(b).toMatchObject({ id: a.id, name: 'Beta GmbH', domain: 'beta.io', currency: 'EUR', country: null, segment: 'SMB' });
    expect(new Date(b.updatedAt).getTime()).toBeGreaterThanOrEqual(new Date(a.updatedAt).getTime());
    const audit = await hub.ds.query(`SELECT action, before->>'name' AS before, after->>'name' AS after FROM audit_log WHERE entity_id = $1 ORDER BY id`, [a.id]);
    expect(audit).toEqual([
      { action: 'CREATE', before: null, after: 'Beta' },
      { action: 'UPDATE', before: 'Beta', after: 'Beta GmbH' },
    ]);
  });

  it('an unknown id is NOT_FOUND and creates nothing', async () => {
    const before = await count('account');
    const res = await hub.gql(UPSERT, { input: { id: '00000000-0000-4000-8000-000000000000', name: 'Ghost' } });
    expect(gqlError(res)).toMatchObject({ code: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' });
    expect(await count('account')).toBe(before);
  });

  it('account(id) of a missing or malformed id is NOT_FOUND', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      const res = await hub.gql(`query ($id: ID!) { account(id: $id) { id } }`, { id });
      expect(gqlError(res)).toMatchObject({ code: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' });
    }
  });

  it('archives and restores an account; repeating either changes nothing', async () => {
    const a = await upsert({ name: 'Gamma' });
    const archive = `mutation ($id: ID!) { archiveAccount(id: $id) { id status updatedAt } }`;
    const first = await hub.ok<{ archiveAccount: { status: string; updatedAt: string } }>(archive, { id: a.id });
    expect(first.archiveAccount.status).toBe('ARCHIVED');
    const again = await hub.ok<{ archiveAccount: { status: string; updatedAt: string } }>(archive, { id: a.id });
    expect(again.archiveAccount).toEqual(first.archiveAccount);
    // An upsert does not un-archive: that takes restoreAccount.
    expect((await upsert({ id: a.id, name: 'Gamma' })).status).toBe('ARCHIVED');
    const restored = await hub.ok<{ restoreAccount: { status: string } }>(`mutation ($id: ID!) { restoreAccount(id: $id) { status } }`, { id: a.id });
    expect(restored.restoreAccount.status).toBe('ACTIVE');
    expect((await auditFor(a.id)).map((r) => r.action)).toEqual(['CREATE', 'ARCHIVE', 'RESTORE']);
    const missing = await hub.gql(archive, { id: '00000000-0000-4000-8000-000000000000' });
    expect(gqlError(missing).code).toBe('NOT_FOUND');
  });

  it('roles: READONLY and ANALYST read but cannot write; INTEGRATION and OPERATIONS may write', async () => {
    for (const role of [Role.READONLY, Role.ANALYST, Role.FINANCE]) {
      const key = await hub.createKey(role);
      expect((await hub.ok<{ accounts: { totalCount: number } }>('{ accounts { totalCount } }', {}, key)).accounts.totalCount).toBeGreaterThan(0);
      expect(gqlError(await hub.gql(UPSERT, { input: { name: 'Nope' } }, key)).code).toBe('FORBIDDEN');
    }
    for (const role of [Role.INTEGRATION, Role.OPERATIONS]) {
      const key = await hub.createKey(role);
      expect((await upsert({ name: `By ${role}` }, key)).name).toBe(`By ${role}`);
    }
  });
});

describe('external references', () => {
  const sf = (id: string) => ({ system: 'Salesforce', object: 'Account', externalId: id });

  it('matches by an existing reference, keeps existing links and adds new ones; system is lowercased', async () => {
    const a = await upsert({ name: 'Delta', externalRefs: [sf('001DELTA')] });
    expect(a.externalRefs).toEqual([{ system: 'salesforce', object: 'Account', externalId: '001DELTA' }]);
    const b = await upsert({ name: 'Delta Inc', externalRefs: [sf('001DELTA'), { system: 'netsuite', object: 'customer', externalId: '42' }] });
    expect(b.id).toBe(a.id);
    expect(b.name).toBe('Delta Inc');
    expect(b.externalRefs).toEqual([
      { system: 'salesforce', object: 'Account', externalId: '001DELTA' },
      { system: 'netsuite', object: 'customer', externalId: '42' },
    ]);
    // Matching by the second reference alone finds the same account; links are kept.
    const c = await upsert({ name: 'Delta Inc', externalRefs: [{ system: 'NETSUITE', object: 'customer', externalId: '42' }] });
    expect(c.id).toBe(a.id);
    expect(c.externalRefs).toHaveLength(2);
    const byRef = await hub.ok<{ accountByExternalRef: { id: string } }>(
      `query { accountByExternalRef(system: "netsuite", object: "customer", externalId: "42") { id } }`,
    );
    expect(byRef.accountByExternalRef.id).toBe(a.id);
    expect((await auditFor(a.id)).map((r) => `${r.entity}:${r.action}`)).toEqual(['Account:CREATE', 'Account:UPDATE']);
  });

  it('is idempotent: the same input twice gives the same account in the same state, and writes nothing the second time', async () => {
    const input = { name: 'Epsilon', domain: 'epsilon.example.com', currency: 'GBP', country: 'GB', externalRefs: [sf('001EPS')] };
    const first = await upsert(input);
    const accounts = await count('account');
    const refs = await count('external_ref');
    const audits = await hub.ds.query(`SELECT count(*)::int AS n FROM audit_log WHERE entity IN ('Account','ExternalRef')`);
    const second = await upsert(input);
    expect(second).toEqual(first);
    expect(await count('account')).toBe(accounts);
    expect(await count('external_ref')).toBe(refs);
    expect(await hub.ds.query(`SELECT count(*)::int AS n FROM audit_log WHERE entity IN ('Account','ExternalRef')`)).toEqual(audits);
  });

  it('a reference linked to another account is CONFLICT EXTERNAL_REF_TAKEN naming it, and nothing is written', async () => {
    const owner = await upsert({ name: 'Zeta', externalRefs: [sf('001ZETA')] });
    const other = await upsert({ name: 'Eta', externalRefs: [sf('001ETA')] });
    const accounts = await count('account');
    const refs = await count('external_ref');

    const res = await hub.gql(UPSERT, { input: { id: other.id, name: 'Eta renamed', externalRefs: [{ system: 'hubspot', object: 'company', externalId: '7' }, sf('001ZETA')] } });
    const err = gqlError(res);
    expect(err).toMatchObject({ code: 'CONFLICT', subCode: 'EXTERNAL_REF_TAKEN' });
    expect(err.message).toContain('salesforce/Account/001ZETA');
    expect(res.errors![0]!.extensions).toMatchObject({
      ref: { system: 'salesforce', object: 'Account', externalId: '001ZETA' },
      linkedTo: { entityType: 'ACCOUNT', entityId: owner.id },
    });
    const eta = await hub.ok<{ account: AccountView }>(`query ($id: ID!) { account(id: $id) { ${ACCOUNT} } }`, { id: other.id });
    expect(eta.account).toEqual(other);
    expect(await count('account')).toBe(accounts);
    expect(await count('external_ref')).toBe(refs);
  });

  it('two references naming two different accounts are CONFLICT EXTERNAL_REF_AMBIGUOUS', async () => {
    await upsert({ name: 'Theta', externalRefs: [sf('001THETA')] });
    await upsert({ name: 'Iota', externalRefs: [sf('001IOTA')] });
    const refs = await count('external_ref');
    const res = await hub.gql(UPSERT, { input: { name: 'Merged?', externalRefs: [sf('001THETA'), sf('001IOTA')] } });
    expect(gqlError(res)).toMatchObject({ code: 'CONFLICT', subCode: 'EXTERNAL_REF_AMBIGUOUS' });
    expect(await count('external_ref')).toBe(refs);
  });

  it('a reference linked to a contact cannot name an account', async () => {
    const a = await upsert({ name: 'Kappa' });
    await hub.ok(`mutation ($input: UpsertContactInput!) { upsertContact(input: $input) { id } }`, {
      input: { accountId: a.id, email: 'k@kappa.io', externalRefs: [{ system: 'salesforce', object: 'Contact', externalId: '003K' }] },
    });
    const res = await hub.gql(UPSERT, { input: { id: a.id, name: 'Kappa', externalRefs: [{ system: 'salesforce', object: 'Contact', externalId: '003K' }] } });
    expect(gqlError(res)).toMatchObject({ code: 'CONFLICT', subCode: 'EXTERNAL_REF_TAKEN' });
  });

  it('accountByExternalRef of an unknown reference is NOT_FOUND', async () => {
    const res = await hub.gql(`query { accountByExternalRef(system: "salesforce", object: "Account", externalId: "nope") { id } }`);
    expect(gqlError(res)).toMatchObject({ code: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' });
  });
});

describe('accounts: search, filter and pagination', () => {
  let hub2: TestHub;
  beforeAll(async () => {
    hub2 = await startTestHub();
    const up = (input: Record<string, unknown>) => hub2.ok(UPSERT, { input });
    await up({ name: 'Northwind Traders', domain: 'northwind.com', externalRefs: [{ system: 'salesforce', object: 'Account', externalId: '001NW' }] });
    await up({ name: 'Contoso', domain: 'contoso.com', externalRefs: [{ system: 'netsuite', object: 'customer', externalId: 'CUST-100_%' }] });
    await up({ name: 'Fabrikam', domain: 'fabrikam.net' });
    for (let i = 0; i < 7; i++) await up({ name: `Filler ${i}` });
  });
  afterAll(async () => hub2?.close());

  const search = async (term: string, status?: string) =>
    (
      await hub2.ok<{ accounts: { totalCount: number; edges: { node: { name: string } }[] } }>(
        `query ($s: String, $st: AccountStatus) { accounts(search: $s, status: $st) { totalCount edges { node { name } } } }`,
        { s: term, st: status },
      )
    ).accounts;

  it('searches name, domain and external ids, case-insensitively, with wildcards taken literally', async () => {
    expect((await search('NORTHWIND')).edges.map((e) => e.node.name)).toEqual(['Northwind Traders']);
    expect((await search('.NET')).edges.map((e) => e.node.name)).toEqual(['Fabrikam']);
    expect((await search('001nw')).edges.map((e) => e.node.name)).toEqual(['Northwind Traders']);
    expect((await search('cust-100_%')).edges.map((e) => e.node.name)).toEqual(['Contoso']);
    expect((await search('%')).totalCount).toBe(1);
    expect((await search('_')).totalCount).toBe(1);
    expect((await search('zzz')).totalCount).toBe(0);
  });

  it('filters by status', async () => {
    const { accounts } = await hub2.ok<{ accounts: { edges: { node: { id: string } }[] } }>(`{ accounts(search: "Fabrikam") { edges { node { id } } } }`);
    await hub2.ok(`mutation ($id: ID!) { archiveAccount(id: $id) { id } }`, { id: accounts.edges[0]!.node.id });
    expect((await search('', 'ARCHIVED')).edges.map((e) => e.node.name)).toEqual(['Fabrikam']);
    expect((await search('', 'ACTIVE')).totalCount).toBe(9);
    expect((await search('')).totalCount).toBe(10);
  });

  it('pages through all accounts with cursors, oldest first, without gaps or repeats', async () => {
    const names: string[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const res: { accounts: { totalCount: number; edges: { node: { name: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } =
        await hub2.ok(`query ($after: String) { accounts(first: 3, after: $after) { totalCount edges { node { name } } pageInfo { hasNextPage endCursor } } }`, { after });
      expect(res.accounts.totalCount).toBe(10);
      names.push(...res.accounts.edges.map((e) => e.node.name));
      if (!res.accounts.pageInfo.hasNextPage) break;
      after = res.accounts.pageInfo.endCursor;
    }
    expect(names).toHaveLength(10);
    expect(new Set(names).size).toBe(10);
    expect(names.slice(0, 3)).toEqual(['Northwind Traders', 'Contoso', 'Fabrikam']);
  });
});

describe('validation errors name the fields and change nothing', () => {
  it.each([
    ['input.name', { name: '' }],
    ['input.name', { name: '   ' }],
    ['input.name', { name: 'N'.repeat(256) }],
    ['input.domain', { name: 'A', domain: 'not a domain' }],
    ['input.domain', { name: 'A', domain: 'https://acme.com/' }],
    ['input.currency', { name: 'A', currency: 'XXY' }],
    ['input.currency', { name: 'A', currency: 'US' }],
    ['input.country', { name: 'A', country: 'ZZ' }],
    ['input.country', { name: 'A', country: 'USA' }],
    ['input.segment', { name: 'A', segment: '' }],
    ['input.id', { name: 'A', id: 'nope' }],
    ['input.externalRefs.0.system', { name: 'A', externalRefs: [{ system: '', object: 'Account', externalId: '1' }] }],
    ['input.externalRefs.1.object', { name: 'A', externalRefs: [{ system: 'sf', object: 'Account', externalId: '1' }, { system: 'sf', object: ' ', externalId: '1' }] }],
    ['input.externalRefs.0.externalId', { name: 'A', externalRefs: [{ system: 'sf', object: 'Account', externalId: '9'.repeat(256) }] }],
  ])('%s (case %#) → BAD_USER_INPUT with that path', async (path, input) => {
    const before = await count('account');
    const res = await hub.gql(UPSERT, { input });
    const err = gqlError(res);
    expect(err.code).toBe('BAD_USER_INPUT');
    expect((err.fields as { path: string }[]).map((f) => f.path)).toContain(path);
    expect(await count('account')).toBe(before);
  });
});

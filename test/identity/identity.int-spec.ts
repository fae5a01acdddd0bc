import { randomUUID } from 'node:crypto';
import { gqlError, startTestHub, type TestHub } from '../support/test-hub';
import { day, grant } from '../licensing/licensing-support';
import { recordUsage, seedUsageCatalog, hoursAgo } from '../usage/usage-support';
import { MERGE_POLICY, accountColumns } from '../../src/identity/account-merge';
import { Role } from '../../src/auth/role';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
  await seedUsageCatalog(hub);
});
afterAll(async () => hub?.close());

interface Ref {
  system: string;
  object: string;
  externalId: string;
}

async function account(name: string, extra: { domain?: string; country?: string; refs?: Ref[] } = {}): Promise<string> {
  const data = await hub.ok<{ upsertAccount: { id: string } }>('mutation($i: UpsertAccountInput!) { upsertAccount(input: $i) { id } }', {
    i: { name, domain: extra.domain ?? null, country: extra.country ?? null, externalRefs: extra.refs ?? [] },
  });
  return data.upsertAccount.id;
}

const RUN = `mutation { runIdentityMatching { accounts candidates queued autoMerged skipped } }`;
const MATCH = `id status confidence reason mergeId evidence { rule value score } accountA { id name } accountB { id name }`;
interface MatchView {
  id: string;
  status: string;
  confidence: number;
  reason: string | null;
  mergeId: string | null;
  evidence: { rule: string; value: string; score: number }[];
  accountA: { id: string; name: string };
  accountB: { id: string; name: string };
}

async function matches(status: string): Promise<MatchView[]> {
  const data = await hub.ok<{ identityMatches: { edges: { node: MatchView }[] } }>(
    `query($s: MatchStatus!) { identityMatches(status: $s, first: 100) { edges { node { ${MATCH} } } } }`,
    { s: status },
  );
  return data.identityMatches.edges.map((e) => e.node);
}

const pairOf = (list: MatchView[], a: string, b: string) => list.find((m) => [m.accountA.id, m.accountB.id].sort().join() === [a, b].sort().join());

async function byRef(ref: Ref): Promise<string> {
  const data = await hub.ok<{ accountByExternalRef: { id: string } }>(
    `query($s: String!, $o: String!, $e: String!) { accountByExternalRef(system: $s, object: $o, externalId: $e) { id } }`,
    { s: ref.system, o: ref.object, e: ref.externalId },
  );
  return data.accountByExternalRef.id;
}

const MERGE = `mutation($s: ID!, $m: ID!, $r: String!) { mergeAccounts(survivorId: $s, mergedId: $m, reason: $r) { id status movedCount survivor { id } merged { id mergedInto } tables { table moved removed } } }`;
const UNMERGE = `mutation($id: ID!) { unmergeAccounts(mergeId: $id, reason: "test") { id status } }`;

/**
 * Every row of every table that points at one of the accounts (found from the catalog, as the
 * merge does), the accounts themselves and every external reference of them or their
 * contacts: ordered JSON, so two dumps compare exactly.
 */
async function dump(ids: string[]): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const c of await accountColumns(hub.ds.manager)) {
    if (MERGE_POLICY[`${c.table}.${c.column}`] !== 'MOVE') continue;
    const rows: { j: unknown }[] = await hub.ds.query(`SELECT to_jsonb(t) AS j FROM "${c.table}" t WHERE "${c.column}" = ANY($1::uuid[]) ORDER BY to_jsonb(t)::text`, [ids]);
    out[`${c.table}.${c.column}`] = rows.map((r) => r.j);
  }
  out.account = (await hub.ds.query(`SELECT to_jsonb(a) AS j FROM account a WHERE id = ANY($1::uuid[]) ORDER BY id`, [ids])).map((r: { j: unknown }) => r.j);
  out.external_ref = (
    await hub.ds.query(
      `SELECT to_jsonb(r) AS j FROM external_ref r WHERE entity_id = ANY($1::uuid[]) OR entity_id IN (SELECT id FROM contact WHERE account_id = ANY($1::uuid[])) ORDER BY id`,
      [ids],
    )
  ).map((r: { j: unknown }) => r.j);
  return out;
}

async function rowsOfAccount(id: string): Promise<number> {
  const d = await dump([id]);
  return Object.entries(d)
    .filter(([k]) => k !== 'account')
    .reduce((n, [, rows]) => n + rows.length, 0);
}

describe('the catalog of columns pointing at accounts', () => {
  it('every account_id column and every foreign key to account has a merge policy, and every moved table a primary key', async () => {
    const cols = await accountColumns(hub.ds.manager);
    const unhandled = cols.filter((c) => MERGE_POLICY[`${c.table}.${c.column}`] === undefined).map((c) => `${c.table}.${c.column}`);
    expect(unhandled).toEqual([]);
    expect(cols.filter((c) => MERGE_POLICY[`${c.table}.${c.column}`] === 'MOVE' && c.primaryKey.length === 0)).toEqual([]);
    // And the policy names no column that no longer exists.
    const present = new Set(cols.map((c) => `${c.table}.${c.column}`));
    expect(Object.keys(MERGE_POLICY).filter((k) => !present.has(k))).toEqual([]);
  });
});

describe('identity matching', () => {
  it('the same customer from the CRM and the ERP ("ACME Corp." / "Acme Corporation", same domain) becomes one account with both references', async () => {
    const sf = { system: 'salesforce', object: 'Account', externalId: '001ACME' };
    const ns = { system: 'netsuite', object: 'customer', externalId: '4711' };
    const crm = await account('ACME Corp.', { domain: 'acme.com', country: 'US', refs: [sf] });
    const erp = await account('Acme Corporation', { domain: 'www.acme.com', refs: [ns] });
    const run = await hub.ok<{ runIdentityMatching: { autoMerged: number } }>(RUN);
    expect(run.runIdentityMatching.autoMerged).toBeGreaterThanOrEqual(1);
    expect(await byRef(sf)).toBe(crm);
    expect(await byRef(ns)).toBe(crm);
    const merged = pairOf(await matches('AUTO_MERGED'), crm, erp)!;
    expect(merged.confidence).toBeGreaterThanOrEqual(0.9);
    expect(merged.evidence.map((e) => e.rule)).toEqual(['DOMAIN', 'NAME']);
    expect(merged.evidence[0]!.value).toBe('acme.com');
    const [row] = await hub.ds.query(`SELECT merged_into FROM account WHERE id = $1`, [erp]);
    expect(row.merged_into).toBe(crm);
    // The merge re-sends the survivor's fields: its outbox has an item for it.
    // A second run finds nothing new for them.
    const again = await hub.ok<{ runIdentityMatching: { autoMerged: number } }>(RUN);
    expect(again.runIdentityMatching.autoMerged).toBe(0);
  });

  it('two different customers with similar names in different countries are neither merged nor queued', async () => {
    const de = await account('Globex GmbH', { country: 'DE' });
    const gb = await account('Globex Ltd', { country: 'GB' });
    await hub.ok(RUN);
    for (const status of ['PENDING', 'AUTO_MERGED', 'CONFIRMED']) expect(pairOf(await matches(status), de, gb)).toBeUndefined();
    const rows = await hub.ds.query(`SELECT merged_into FROM account WHERE id = ANY($1::uuid[])`, [[de, gb]]);
    expect(rows).toEqual([{ merged_into: null }, { merged_into: null }]);
  });

  it('webmail domains never match', async () => {
    const a = await account('Smith Plumbing', { domain: 'gmail.com' });
    const b = await account('Jones Bakery', { domain: 'gmail.com' });
    const c = await account('Rivera Design', { domain: 'outlook.com', country: 'US' });
    await hub.ok(RUN);
    const all = [...(await matches('PENDING')), ...(await matches('AUTO_MERGED'))];
    for (const [x, y] of [[a, b], [a, c], [b, c]] as const) expect(pairOf(all, x, y)).toBeUndefined();
    expect(all.flatMap((m) => m.evidence).filter((e) => e.rule === 'DOMAIN' && /gmail|outlook/.test(e.value))).toEqual([]);
  });

  it('an ambiguous pair waits in the review queue; confirming it merges them', async () => {
    const a = await account('Initech Software', { country: 'US' });
    const b = await account('Initech Software Inc', { country: 'US' });
    await hub.ok(RUN);
    const pending = pairOf(await matches('PENDING'), a, b)!;
    expect(pending).toBeDefined();
    expect(pending.confidence).toBeGreaterThanOrEqual(0.6);
    expect(pending.confidence).toBeLessThan(0.9);
    expect(pending.evidence.map((e) => e.rule)).toEqual(['NAME', 'COUNTRY']);
    // Nothing merged silently below the threshold.
    expect((await hub.ds.query(`SELECT count(*)::int AS n FROM account WHERE id = ANY($1::uuid[]) AND merged_into IS NOT NULL`, [[a, b]]))[0].n).toBe(0);

    const ops = await hub.createKey(Role.OPERATIONS);
    const confirmed = await hub.ok<{ confirmMatch: MatchView }>(`mutation($id: ID!) { confirmMatch(id: $id, reason: "same tax id") { ${MATCH} } }`, { id: pending.id }, ops);
    expect(confirmed.confirmMatch).toMatchObject({ status: 'CONFIRMED', reason: 'same tax id' });
    expect(confirmed.confirmMatch.mergeId).not.toBeNull();
    const [row] = await hub.ds.query(`SELECT merged_into FROM account WHERE id = $1`, [b]);
    expect(row.merged_into).toBe(a);

    // Deciding it again is a clear conflict and changes nothing.
    for (const op of [`confirmMatch(id: $id) { id }`, `rejectMatch(id: $id, reason: "no") { id }`]) {
      const res = await hub.gql(`mutation($id: ID!) { ${op} }`, { id: pending.id });
      expect(gqlError(res)).toMatchObject({ code: 'CONFLICT', subCode: 'MATCH_ALREADY_DECIDED' });
    }
  });

  it('a rejected pair is never proposed again', async () => {
    const a = await account('Umbrella Pharma', { domain: 'umbrella-corp.com' });
    const b = await account('Umbrella Labs', { domain: 'umbrella-corp.com' });
    await hub.ok(RUN);
    const pending = pairOf(await matches('PENDING'), a, b)!;
    expect(pending.evidence.map((e) => e.rule)).toEqual(['DOMAIN', 'NAME']);
    const readonly = await hub.createKey(Role.READONLY);
    expect(gqlError(await hub.gql(`mutation($id: ID!) { rejectMatch(id: $id, reason: "x") { id } }`, { id: pending.id }, readonly))).toMatchObject({ code: 'FORBIDDEN' });
    const rejected = await hub.ok<{ rejectMatch: MatchView }>(`mutation($id: ID!) { rejectMatch(id: $id, reason: "different subsidiaries") { ${MATCH} } }`, { id: pending.id });
    expect(rejected.rejectMatch).toMatchObject({ status: 'REJECTED', reason: 'different subsidiaries', mergeId: null });
    const run = await hub.ok<{ runIdentityMatching: { skipped: number } }>(RUN);
    expect(run.runIdentityMatching.skipped).toBeGreaterThanOrEqual(1);
    expect(pairOf(await matches('PENDING'), a, b)).toBeUndefined();
    expect(pairOf(await matches('REJECTED'), a, b)).toMatchObject({ id: pending.id, status: 'REJECTED' });
  });

  it('unknown or malformed match ids are NOT_FOUND', async () => {
    for (const id of [randomUUID(), 'nope']) {
      expect(gqlError(await hub.gql(`mutation($id: ID!) { confirmMatch(id: $id) { id } }`, { id }))).toMatchObject({ code: 'NOT_FOUND' });
    }
  });
});

describe('mergeAccounts / unmergeAccounts', () => {
  /** Two accounts with entitlements, orders, usage (in the same rollup buckets), contacts (one e-mail on both) and references. */
  async function seededPair(tag: string): Promise<{ a: string; b: string }> {
    const a = await account(`Quasar ${tag} Holdings`, { domain: `quasar-${tag}.example`, refs: [{ system: 'salesforce', object: 'Account', externalId: `001Q${tag}` }] });
    const b = await account(`Nebula ${tag} Trading`, { domain: `nebula-${tag}.example`, refs: [{ system: 'netsuite', object: 'customer', externalId: `NQ${tag}` }] });
    for (const id of [a, b]) await grant(hub, id, { sku: 'U-API', startDate: day(-10) });
    const at = hoursAgo(2);
    await recordUsage(hub, [
      { id: randomUUID(), accountId: a, meter: 'u.calls', quantity: 3, occurredAt: at, deployment: 'CLOUD' },
      { id: randomUUID(), accountId: b, meter: 'u.calls', quantity: 5, occurredAt: at, deployment: 'CLOUD' },
      { id: randomUUID(), accountId: b, meter: 'u.users', quantity: 1, occurredAt: at, deployment: 'CLOUD', properties: { userId: 'u1' } },
      // Usage of no entitlement lands in the same rollup buckets on both accounts: a unique-key collision.
      { id: randomUUID(), accountId: a, meter: 'u.misc', quantity: 2, occurredAt: at, deployment: 'CLOUD' },
      { id: randomUUID(), accountId: b, meter: 'u.misc', quantity: 7, occurredAt: at, deployment: 'CLOUD' },
    ]);
    const contact = `mutation($i: UpsertContactInput!) { upsertContact(input: $i) { id } }`;
    await hub.ok(contact, { i: { accountId: a, email: `shared@${tag}.example`, name: 'Shared A', externalRefs: [{ system: 'salesforce', object: 'Contact', externalId: `003A${tag}` }] } });
    await hub.ok(contact, { i: { accountId: b, email: `shared@${tag}.example`, name: 'Shared B', externalRefs: [{ system: 'netsuite', object: 'contact', externalId: `C-B${tag}` }] } });
    await hub.ok(contact, { i: { accountId: b, email: `only-b@${tag}.example`, name: 'Only B' } });
    return { a, b };
  }

  it('moves every row to the survivor in one transaction, and unmerge restores every affected row exactly', async () => {
    const { a, b } = await seededPair('m1');
    const before = await dump([a, b]);
    expect(before['usage_rollup.account_id']!.length).toBeGreaterThan(0);

    const res = await hub.ok<{ mergeAccounts: { id: string; status: string; movedCount: number; merged: { mergedInto: string }; tables: { table: string; moved: number; removed: number }[] } }>(
      MERGE,
      { s: a, m: b, r: 'duplicate' },
    );
    const merge = res.mergeAccounts;
    expect(merge.status).toBe('MERGED');
    expect(merge.merged.mergedInto).toBe(a);
    // Nothing is left on the merged account; the survivor holds both references.
    expect(await rowsOfAccount(b)).toBe(0);
    expect(await byRef({ system: 'netsuite', object: 'customer', externalId: 'NQm1' })).toBe(a);
    const tables = Object.fromEntries(merge.tables.map((t) => [t.table, t]));
    expect(tables.entitlement!.moved).toBe(1);
    expect(tables.sales_order!.moved).toBe(1);
    expect(tables.usage_event!.moved).toBe(3);
    // Collisions: the shared e-mail and the shared rollup buckets keep the survivor's row.
    expect(tables.contact).toMatchObject({ moved: 1, removed: 1 });
    expect(tables.usage_rollup!.removed).toBeGreaterThan(0);
    const contacts = await hub.ds.query(`SELECT email, name FROM contact WHERE account_id = $1 ORDER BY email`, [a]);
    expect(contacts).toEqual([
      { email: 'only-b@m1.example', name: 'Only B' },
      { email: 'shared@m1.example', name: 'Shared A' },
    ]);
    // The removed contact's reference follows the survivor's contact of the same e-mail.
    const [shared] = await hub.ds.query(`SELECT id FROM contact WHERE account_id = $1 AND email = 'shared@m1.example'`, [a]);
    const [ref] = await hub.ds.query(`SELECT entity_id FROM external_ref WHERE external_id = 'C-Bm1'`);
    expect(ref.entity_id).toBe(shared.id);
    // Audit trail and the CRM re-send.
    expect(await hub.ds.query(`SELECT action FROM audit_log WHERE entity = 'AccountMerge' AND entity_id = $1`, [merge.id])).toEqual([{ action: 'MERGE' }]);

    // A row the survivor gains after the merge stays with it.
    const added = await hub.ok<{ upsertContact: { id: string } }>(`mutation($i: UpsertContactInput!) { upsertContact(input: $i) { id } }`, {
      i: { accountId: a, email: 'later@m1.example', name: 'Later' },
    });

    const un = await hub.ok<{ unmergeAccounts: { status: string } }>(UNMERGE, { id: merge.id });
    expect(un.unmergeAccounts.status).toBe('UNMERGED');
    const after = await dump([a, b]);
    after['contact.account_id'] = after['contact.account_id']!.filter((r) => (r as { id: string }).id !== added.upsertContact.id);
    expect(after).toEqual(before);
    const [kept] = await hub.ds.query(`SELECT account_id FROM contact WHERE id = $1`, [added.upsertContact.id]);
    expect(kept.account_id).toBe(a);

    // Undoing it again is a clear conflict.
    expect(gqlError(await hub.gql(UNMERGE, { id: merge.id }))).toMatchObject({ code: 'CONFLICT', subCode: 'MERGE_ALREADY_UNDONE' });
  });

  it('bad inputs get clear codes and change nothing', async () => {
    const { a, b } = await seededPair('m2');
    const c = await account('Pulsar m2 Freight');
    const scoped = await hub.createKey(Role.OPERATIONS, a);
    const before = await dump([a, b, c]);
    expect(gqlError(await hub.gql(MERGE, { s: a, m: a, r: 'x' }))).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'MERGE_INTO_ITSELF' });
    expect(gqlError(await hub.gql(MERGE, { s: a, m: randomUUID(), r: 'x' }))).toMatchObject({ code: 'NOT_FOUND', subCode: 'ACCOUNT_NOT_FOUND' });
    expect(gqlError(await hub.gql(MERGE, { s: 'junk', m: b, r: 'x' }))).toMatchObject({ code: 'NOT_FOUND' });
    expect(gqlError(await hub.gql(MERGE, { s: a, m: b, r: '' }))).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(gqlError(await hub.gql(UNMERGE, { id: randomUUID() }))).toMatchObject({ code: 'NOT_FOUND' });
    const readonly = await hub.createKey(Role.READONLY);
    expect(gqlError(await hub.gql(MERGE, { s: a, m: b, r: 'x' }, readonly))).toMatchObject({ code: 'FORBIDDEN' });
    expect(gqlError(await hub.gql(MERGE, { s: a, m: b, r: 'x' }, scoped))).toMatchObject({ code: 'FORBIDDEN', subCode: 'AUTH_ACCOUNT_SCOPED_KEY' });
    expect(await dump([a, b, c])).toEqual(before);

    // Across a merge: an account merged away can neither absorb nor be merged again; a survivor merged since blocks the unmerge.
    const m1 = (await hub.ok<{ mergeAccounts: { id: string } }>(MERGE, { s: a, m: b, r: 'dup' })).mergeAccounts.id;
    const mid = await dump([a, b, c]);
    expect(gqlError(await hub.gql(MERGE, { s: c, m: b, r: 'x' }))).toMatchObject({ code: 'CONFLICT', subCode: 'ACCOUNT_ALREADY_MERGED' });
    expect(gqlError(await hub.gql(MERGE, { s: b, m: c, r: 'x' }))).toMatchObject({ code: 'CONFLICT', subCode: 'ACCOUNT_ALREADY_MERGED' });
    expect(await dump([a, b, c])).toEqual(mid);
    const m2 = (await hub.ok<{ mergeAccounts: { id: string } }>(MERGE, { s: c, m: a, r: 'dup' })).mergeAccounts.id;
    expect(gqlError(await hub.gql(UNMERGE, { id: m1 }))).toMatchObject({ code: 'CONFLICT', subCode: 'MERGE_SUPERSEDED' });
    // Undone in reverse order, everything is back.
    await hub.ok(UNMERGE, { id: m2 });
    await hub.ok(UNMERGE, { id: m1 });
    expect(await dump([a, b, c])).toEqual(before);
  });

  it('concurrent merges of the same account: one wins, the other gets ACCOUNT_ALREADY_MERGED', async () => {
    const x = await account('Vortex Concurrency One');
    const y = await account('Zephyr Concurrency Two');
    const z = await account('Lumen Concurrency Three');
    await grant(hub, z, { sku: 'U-API', startDate: day(-5) });
    const results = await Promise.all([hub.gql(MERGE, { s: x, m: z, r: 'race' }), hub.gql(MERGE, { s: y, m: z, r: 'race' })]);
    const ok = results.filter((r) => !r.errors);
    const failed = results.filter((r) => r.errors);
    expect(ok).toHaveLength(1);
    expect(failed).toHaveLength(1);
    expect(gqlError(failed[0]!)).toMatchObject({ code: 'CONFLICT', subCode: 'ACCOUNT_ALREADY_MERGED' });
    const winner = (ok[0]!.data as { mergeAccounts: { survivor: { id: string } } }).mergeAccounts.survivor.id;
    const [ent] = await hub.ds.query(`SELECT account_id FROM entitlement WHERE account_id = ANY($1::uuid[])`, [[x, y, z]]);
    expect(ent.account_id).toBe(winner);
    expect((await hub.ds.query(`SELECT count(*)::int AS n FROM account_merge WHERE merged_id = $1`, [z]))[0].n).toBe(1);
  });
});

describe('matching after pulls', () => {
  it('an account newly linked to another system triggers a matching run (domain event), without the sync engine knowing', async () => {
    const own = await startTestHub({ EHUB_IDENTITY_MATCH_AFTER_PULL: 'true', EHUB_IDENTITY_MATCH_DELAY_MS: '20' });
    try {
      const up = `mutation($i: UpsertAccountInput!) { upsertAccount(input: $i) { id } }`;
      const crm = (await own.ok<{ upsertAccount: { id: string } }>(up, { i: { name: 'Hooli Inc.', domain: 'hooli.com', externalRefs: [{ system: 'salesforce', object: 'Account', externalId: '001HOOLI' }] } })).upsertAccount.id;
      const erp = (await own.ok<{ upsertAccount: { id: string } }>(up, { i: { name: 'HOOLI', domain: 'hooli.com', externalRefs: [{ system: 'netsuite', object: 'customer', externalId: '99' }] } })).upsertAccount.id;
      let mergedInto: string | null = null;
      // Up to 30 s: the run is in the background (a loaded machine takes its time); usually well under a second.
      for (let i = 0; i < 600 && !mergedInto; i++) {
        await new Promise((r) => setTimeout(r, 50));
        [{ merged_into: mergedInto }] = await own.ds.query(`SELECT merged_into FROM account WHERE id = $1`, [erp]);
      }
      expect(mergedInto).toBe(crm);
    } finally {
      await own.close();
    }
  });
});

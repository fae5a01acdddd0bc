import { dropProxyEnv, createSalesforceConnection, SF_CLIENT, startEmulator } from '../support/salesforce';
dropProxyEnv();
import pino from 'pino';
import type { SalesforceEmulator } from '../../connectors/salesforce/emulator/types';
import { loadConfig } from '../../src/config';
import { SyncService } from '../../src/sync/sync.service';
import { Role } from '../../src/auth/role';
import { gqlError, startTestHub, type TestHub } from '../support/test-hub';

const CREATE = 'mutation($i: CreateSyncConnectionInput!) { createSyncConnection(input: $i) { id name type enabled refSystem orderSource options managedBy } }';

describe('sync connections', () => {
  let hub: TestHub;
  let emu: SalesforceEmulator;

  beforeAll(async () => {
    hub = await startTestHub();
    emu = await startEmulator();
  });
  afterAll(async () => {
    await emu?.close();
    await hub?.close();
  });

  it('refuses invalid options with one field error per problem, and changes nothing', async () => {
    const res = await hub.gql(CREATE, {
      i: { name: 'sf-bad', type: 'salesforce', options: { auth: 'magic', loginUrl: 'ftp://nope', bulkThreshold: -1 }, credentials: {} },
    });
    const e = gqlError(res);
    expect(e).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'SYNC_CONNECTION_INVALID' });
    const paths = (e.fields as { path: string }[]).map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['input.options.auth', 'input.options.loginUrl', 'input.options.bulkThreshold']));
    const unknown = gqlError(await hub.gql(CREATE, { i: { name: 'sf-x', type: 'netsuite-nope', options: {} } }));
    expect(unknown).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'SYNC_CONNECTOR_UNKNOWN' });
    const badName = gqlError(await hub.gql(CREATE, { i: { name: 'Bad Name!', type: 'salesforce', options: {} } }));
    expect(badName.code).toBe('BAD_USER_INPUT');
    const [n] = await hub.ds.query('SELECT count(*)::int AS n FROM sync_connection');
    expect(n.n).toBe(0);
  });

  it('stores credentials encrypted, never returns or audits them, and refuses a second connection of the same name', async () => {
    const id = await createSalesforceConnection(hub, emu);
    const [row] = await hub.ds.query('SELECT credentials_ciphertext, options::text AS options FROM sync_connection WHERE id = $1', [id]);
    expect(Buffer.isBuffer(row.credentials_ciphertext)).toBe(true);
    expect(row.credentials_ciphertext.toString('latin1')).not.toContain(SF_CLIENT.clientSecret);
    expect(row.options).not.toContain(SF_CLIENT.clientSecret);
    const [audit] = await hub.ds.query(`SELECT count(*)::int AS n, bool_or(after::text LIKE '%' || $1 || '%') AS leaked FROM audit_log WHERE entity = 'SyncConnection'`, [SF_CLIENT.clientSecret]);
    expect(audit).toEqual({ n: 1, leaked: false });
    const read = await hub.ok<{ syncConnection: Record<string, unknown> }>('query($id: ID!) { syncConnection(id: $id) { name refSystem orderSource options } }', { id });
    expect(JSON.stringify(read)).not.toContain(SF_CLIENT.clientSecret);
    expect(read.syncConnection).toMatchObject({ name: 'salesforce', refSystem: 'salesforce', orderSource: 'salesforce' });

    const again = gqlError(await hub.gql(CREATE, { i: { name: 'salesforce', type: 'salesforce', options: { auth: 'client_credentials', loginUrl: emu.url, clientId: 'x' }, credentials: { clientSecret: 'y' } } }));
    expect(again).toMatchObject({ code: 'CONFLICT', subCode: 'SYNC_CONNECTION_NAME_TAKEN' });

    const ok = await hub.ok<{ testSyncConnection: { ok: boolean; message: string; apiLimit: number | null } }>('mutation($id: ID!) { testSyncConnection(id: $id) { ok message apiLimit } }', { id });
    expect(ok.testSyncConnection.ok).toBe(true);
    await hub.ok('mutation($id: ID!, $i: UpdateSyncConnectionInput!) { updateSyncConnection(id: $id, input: $i) { id } }', { id, i: { credentials: { clientSecret: 'wrong-secret' } } });
    const bad = await hub.ok<{ testSyncConnection: { ok: boolean; message: string } }>('mutation($id: ID!) { testSyncConnection(id: $id) { ok message } }', { id });
    expect(bad.testSyncConnection.ok).toBe(false);
    expect(bad.testSyncConnection.message).not.toContain('wrong-secret');
    await hub.ok('mutation($id: ID!, $i: UpdateSyncConnectionInput!) { updateSyncConnection(id: $id, input: $i) { id } }', { id, i: { credentials: { clientSecret: SF_CLIENT.clientSecret } } });
  });

  it('lets operations watch and run syncs but not configure them; a second sync at once is a CONFLICT', async () => {
    const ops = await hub.createKey(Role.OPERATIONS);
    const [{ id }] = await hub.ds.query(`SELECT id FROM sync_connection WHERE name = 'salesforce'`);
    expect(gqlError(await hub.gql(CREATE, { i: { name: 'sf-ops', type: 'salesforce', options: {} } }, ops)).code).toBe('FORBIDDEN');
    emu.insert('Account', { Name: 'Ops Watch Ltd' });
    const RUN = 'mutation($c: ID!) { runSync(connectionId: $c, push: false) { object status read created } }';
    const [first, second] = await Promise.all([hub.gql(RUN, { c: id }, ops), hub.gql(RUN, { c: id }, ops)]);
    const results = [first, second];
    const conflicts = results.filter((r) => r.errors?.[0]?.extensions?.subCode === 'SYNC_RUNNING');
    const succeeded = results.filter((r) => !r.errors);
    expect(succeeded).toHaveLength(1);
    expect(conflicts).toHaveLength(1);
    const runs = await hub.ok<{ syncRuns: { totalCount: number; edges: { node: { object: string; kind: string } }[] } }>('{ syncRuns(first: 10) { totalCount edges { node { object kind } } } }', undefined, ops);
    expect(runs.syncRuns.edges.map((e) => e.node.object).slice(0, 3).sort()).toEqual(['accounts', 'contacts', 'orders']);
    expect(gqlError(await hub.gql('mutation($c: ID!) { resetSyncCursor(connectionId: $c, object: "deals") }', { c: id })).subCode).toBe('SYNC_OBJECT_UNKNOWN');
    expect(await hub.ok('mutation($c: ID!) { resetSyncCursor(connectionId: $c, object: "accounts") }', { c: id })).toEqual({ resetSyncCursor: true });
    // Each connection's newest run, as its own runs list answers it (null for one that never ran).
    const conns = await hub.ok<{ syncConnections: { edges: { node: { id: string; lastRun: { id: string; status: string } | null } }[] } }>(
      '{ syncConnections(first: 50) { edges { node { id lastRun { id status } } } } }',
      undefined,
      ops,
    );
    expect(conns.syncConnections.edges.find((e) => e.node.id === id)!.node.lastRun).not.toBeNull();
    for (const { node: c } of conns.syncConnections.edges) {
      const own = await hub.ok<{ syncRuns: { edges: { node: { id: string; status: string } }[] } }>('query($c: ID!) { syncRuns(filter: { connectionId: $c }, first: 1) { edges { node { id status } } } }', { c: c.id }, ops);
      expect(c.lastRun).toEqual(own.syncRuns.edges[0]?.node ?? null);
    }

    // Sync spans every account: an account-scoped key may neither run nor watch it.
    const [{ id: accountId }] = await hub.ds.query('SELECT id FROM account LIMIT 1');
    const scoped = await hub.createKey(Role.OPERATIONS, accountId);
    for (const res of [
      await hub.gql(RUN, { c: id }, scoped),
      await hub.gql('{ outbox { totalCount } }', undefined, scoped),
      await hub.gql('{ syncRuns { totalCount } }', undefined, scoped),
      await hub.gql('{ syncConnections { totalCount } }', undefined, scoped),
    ]) {
      expect(gqlError(res)).toMatchObject({ code: 'FORBIDDEN', subCode: 'AUTH_ACCOUNT_SCOPED_KEY' });
    }
  });

  it('takes a connection from EHUB_SALESFORCE_OPTIONS / _CREDENTIALS at start-up, and the environment wins on restart', async () => {
    const env = {
      NODE_ENV: 'test',
      DATABASE_URL: hub.databaseUrl,
      EHUB_DATA_DIR: (hub.services.config as { dataDir: string }).dataDir,
      EHUB_SALESFORCE_OPTIONS: JSON.stringify({ auth: 'client_credentials', loginUrl: emu.url, clientId: SF_CLIENT.clientId, bulkThreshold: 500 }),
      EHUB_SALESFORCE_CREDENTIALS: JSON.stringify({ clientSecret: SF_CLIENT.clientSecret }),
    };
    await hub.ds.query(`DELETE FROM sync_connection WHERE name = 'salesforce'`);
    const log = pino({ level: 'silent' });
    const make = (e: Record<string, string>) => new SyncService(hub.services.db, loadConfig(e), { accounts: hub.services.accounts, orders: hub.services.orders });
    const created = await make(env).ensureEnvConnection(log);
    expect(created).toMatchObject({ name: 'salesforce', managedBy: 'ENV', options: expect.objectContaining({ bulkThreshold: 500 }) });
    const updated = await make({ ...env, EHUB_SALESFORCE_OPTIONS: JSON.stringify({ auth: 'client_credentials', loginUrl: emu.url, clientId: SF_CLIENT.clientId, bulkThreshold: 700 }) }).ensureEnvConnection(log);
    expect(updated!.id).toBe(created!.id);
    expect(updated!.options).toMatchObject({ bulkThreshold: 700 });
    const health = await hub.services.sync.testConnection({ requestId: 't', log, principal: null, operation: 'test', auditWrites: 0 }, created!.id);
    expect(health.ok).toBe(true);
    await expect(make({ ...env, EHUB_SALESFORCE_OPTIONS: '[1,2]' }).ensureEnvConnection(log)).rejects.toThrow(/EHUB_SALESFORCE_OPTIONS must be a JSON object/);
    await expect(make({ ...env, EHUB_SALESFORCE_OPTIONS: JSON.stringify({ auth: 'nope' }) }).ensureEnvConnection(log)).rejects.toThrow(/invalid/i);
  });
});

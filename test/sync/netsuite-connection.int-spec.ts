import { startNetSuiteEmulator, type NetSuiteEmulator } from '../../connectors/netsuite/emulator';
import { noProxy } from '../../connectors/netsuite/spec-helpers';
import { gqlError, startTestHub, type TestHub } from '../support/test-hub';
import { runOf, runSync } from '../support/salesforce';

noProxy();

const CREATE = 'mutation($i: CreateSyncConnectionInput!) { createSyncConnection(input: $i) { id name type refSystem orderSource options } }';
const TEST = 'mutation($id: ID!) { testSyncConnection(id: $id) { ok message } }';

describe('sync connections of type netsuite', () => {
  let hub: TestHub;
  let emu: NetSuiteEmulator;
  let connectionId: string;

  beforeAll(async () => {
    hub = await startTestHub();
    emu = await startNetSuiteEmulator();
  });
  afterAll(async () => {
    await emu?.close();
    await hub?.close();
  });

  it('refuses invalid options and credentials with one field error per problem', async () => {
    const e = gqlError(await hub.gql(CREATE, { i: { name: 'ns-bad', type: 'netsuite', options: { accountId: 'no way', authMode: 'm2m', concurrency: 0 }, credentials: { clientId: 'c' } } }));
    expect(e).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'SYNC_CONNECTION_INVALID' });
    const paths = (e.fields as { path: string }[]).map((f) => f.path).sort();
    expect(paths).toEqual(['input.options.accountId', 'input.options.concurrency']);
    const creds = gqlError(await hub.gql(CREATE, { i: { name: 'ns-bad', type: 'netsuite', options: { accountId: emu.accountId, authMode: 'm2m' }, credentials: { clientId: 'c' } } }));
    expect((creds.fields as { path: string }[]).map((f) => f.path).sort()).toEqual(['input.credentials.certificateId', 'input.credentials.privateKey']);
  });

  it('creates an M2M connection against the emulator and its health check authenticates', async () => {
    const m = emu.credentials.m2m!;
    const made = await hub.ok<{ createSyncConnection: { id: string; type: string; refSystem: string } }>(CREATE, {
      i: { name: 'netsuite', type: 'netsuite', options: { accountId: emu.accountId, baseUrl: emu.url, authMode: 'm2m' }, credentials: { clientId: m.clientId, certificateId: m.certificateId, privateKey: m.privateKeyPem } },
    });
    expect(made.createSyncConnection).toMatchObject({ type: 'netsuite', refSystem: 'netsuite' });
    connectionId = made.createSyncConnection.id;
    const health = await hub.ok<{ testSyncConnection: { ok: boolean; message: string } }>(TEST, { id: made.createSyncConnection.id });
    expect(health.testSyncConnection).toEqual({ ok: true, message: expect.stringContaining('m2m') });
    expect(emu.stats.tokenRequests).toBe(1);
  });

  it('keeps each pulled customer\'s subsidiary on its reference (journal entries are grouped by it)', async () => {
    emu.seed.customers([{ companyName: 'Sub One Ltd', subsidiary: 3 }, { companyName: 'Default Sub Inc' }]);
    const runs = await runSync(hub, connectionId, { objects: ['accounts'] });
    expect(runOf(runs, 'accounts')).toMatchObject({ created: 2, failed: 0 });
    const refs: { name: string; subsidiary: string | null }[] = await hub.ds.query(
      `SELECT a.name, r.subsidiary FROM external_ref r JOIN account a ON a.id = r.entity_id WHERE r.system = 'netsuite' ORDER BY a.name`,
    );
    expect(refs).toEqual([
      { name: 'Default Sub Inc', subsidiary: '1' },
      { name: 'Sub One Ltd', subsidiary: '3' },
    ]);
    const again = await runSync(hub, connectionId, { objects: ['accounts'], full: true });
    expect(runOf(again, 'accounts')).toMatchObject({ created: 0, updated: 0, failed: 0 });
  });
});

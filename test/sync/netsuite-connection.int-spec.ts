import { startNetSuiteEmulator, type NetSuiteEmulator } from '../../connectors/netsuite/emulator';
import { noProxy } from '../../connectors/netsuite/spec-helpers';
import { gqlError, startTestHub, type TestHub } from '../support/test-hub';

noProxy();

const CREATE = 'mutation($i: CreateSyncConnectionInput!) { createSyncConnection(input: $i) { id name type refSystem orderSource options } }';
const TEST = 'mutation($id: ID!) { testSyncConnection(id: $id) { ok message } }';

describe('sync connections of type netsuite', () => {
  let hub: TestHub;
  let emu: NetSuiteEmulator;

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
    const health = await hub.ok<{ testSyncConnection: { ok: boolean; message: string } }>(TEST, { id: made.createSyncConnection.id });
    expect(health.testSyncConnection).toEqual({ ok: true, message: expect.stringContaining('m2m') });
    expect(emu.stats.tokenRequests).toBe(1);
  });
});

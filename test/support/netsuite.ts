import type { NetSuiteEmulator } from '../../connectors/netsuite/emulator';
import type { TestHub } from './test-hub';

/**
 * Creates the `netsuite` connection of a test hub against an emulator, over GraphQL, with
 * machine-to-machine credentials (the connector's primary mode); returns its id.
 */
export async function createNetSuiteConnection(hub: TestHub, ns: NetSuiteEmulator, options: Record<string, unknown> = {}, name = 'netsuite'): Promise<string> {
  const m = ns.credentials.m2m!;
  const made = await hub.ok<{ createSyncConnection: { id: string } }>('mutation($i: CreateSyncConnectionInput!) { createSyncConnection(input: $i) { id } }', {
    i: {
      name,
      type: 'netsuite',
      options: { accountId: ns.accountId, baseUrl: ns.url, authMode: 'm2m', ...options },
      credentials: { clientId: m.clientId, certificateId: m.certificateId, privateKey: m.privateKeyPem },
    },
  });
  return made.createSyncConnection.id;
}

import { startSalesforceEmulator } from '../../connectors/salesforce/emulator';
import type { SalesforceEmulator } from '../../connectors/salesforce/emulator/types';
import type { TestHub } from './test-hub';

export const SF_CLIENT = { clientId: 'ehub-test', clientSecret: 'test-secret-123' };

/** Local emulators only: jsforce reads proxy variables when it loads. */
export function dropProxyEnv(): void {
  for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy']) delete process.env[k];
}

export async function startEmulator(opts: { pageSize?: number; seed?: number } = {}): Promise<SalesforceEmulator> {
  return startSalesforceEmulator({ pageSize: opts.pageSize ?? 2000, seed: opts.seed ?? 7, clients: [SF_CLIENT], bulkProcessingDelayMs: 5 });
}

export interface SyncRunRow {
  kind: string;
  object: string;
  status: string;
  read: number;
  created: number;
  updated: number;
  unchanged: number;
  deleted: number;
  failed: number;
  apiCalls: number;
  error: string | null;
  errors: { record: string | null; code: string; message: string }[];
}

export const RUN_FIELDS = 'kind object status read created updated unchanged deleted failed apiCalls error errors { record code message }';

/** Creates a Salesforce connection to the emulator over GraphQL; returns its id. */
export async function createSalesforceConnection(hub: TestHub, emu: SalesforceEmulator, options: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<string> {
  const data = await hub.ok<{ createSyncConnection: { id: string } }>(
    'mutation($i: CreateSyncConnectionInput!) { createSyncConnection(input: $i) { id } }',
    {
      i: {
        name: 'salesforce',
        type: 'salesforce',
        options: { auth: 'client_credentials', loginUrl: emu.url, clientId: SF_CLIENT.clientId, bulkPollIntervalMs: 10, ...options },
        credentials: { clientSecret: SF_CLIENT.clientSecret },
        ...extra,
      },
    },
  );
  return data.createSyncConnection.id;
}

/** runSync over GraphQL; returns the runs. */
export async function runSync(hub: TestHub, connectionId: string, args: { full?: boolean; push?: boolean; objects?: string[] } = {}): Promise<SyncRunRow[]> {
  const data = await hub.ok<{ runSync: SyncRunRow[] }>(
    `mutation($c: ID!, $full: Boolean!, $push: Boolean!, $objects: [String!]) { runSync(connectionId: $c, full: $full, push: $push, objects: $objects) { ${RUN_FIELDS} } }`,
    { c: connectionId, full: args.full ?? false, push: args.push ?? false, objects: args.objects ?? null },
  );
  return data.runSync;
}

export function runOf(runs: SyncRunRow[], object: string): SyncRunRow {
  const r = runs.find((x) => x.object === object);
  if (!r) throw new Error(`no ${object} run in ${JSON.stringify(runs)}`);
  return r;
}

/** Products with these skus (SUBSCRIPTION, one feature each), over GraphQL. */
export async function seedSkus(hub: TestHub, skus: string[], model = 'SUBSCRIPTION'): Promise<void> {
  for (const sku of skus) {
    const key = `f.${sku.toLowerCase()}`;
    await hub.ok('mutation($i: UpsertFeatureInput!) { upsertFeature(input: $i) { id } }', { i: { key, name: key } });
    await hub.ok('mutation($i: UpsertProductInput!) { upsertProduct(input: $i) { id } }', {
      i: {
        sku,
        name: `Product ${sku}`,
        kind: 'SOFTWARE',
        listPrice: { amountMinor: 10000, currency: 'USD' },
        ssp: { amountMinor: 10000, currency: 'USD' },
        defaultModel: model,
        features: [{ key, limit: 1 }],
      },
    });
  }
}

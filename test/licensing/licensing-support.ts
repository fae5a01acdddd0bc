import { randomUUID } from 'node:crypto';
import type { TestHub } from '../support/test-hub';
import { createAccount, day } from '../support/orders';

/** Shared with every suite (test/support/orders.ts). */
export { createAccount, day };


/** Products of the licensing tests, one per model; every feature key starts with `lic.`. */
const PRODUCTS = [
  { sku: 'L-PERP', model: 'PERPETUAL', features: [{ key: 'lic.core', limit: null }, { key: 'lic.projects', limit: 10 }] },
  { sku: 'L-SUB', model: 'SUBSCRIPTION', features: [{ key: 'lic.core', limit: null }] },
  { sku: 'L-DEV', model: 'DEVICE_LOCKED', features: [{ key: 'lic.device', limit: null }] },
  { sku: 'L-SEAT', model: 'NAMED_USER', features: [{ key: 'lic.seat', limit: null }] },
  { sku: 'L-FLOAT', model: 'CONCURRENT', features: [{ key: 'lic.float', limit: null }] },
  { sku: 'L-METER', model: 'METERED', features: [{ key: 'lic.api', limit: 100 }] },
  { sku: 'L-USE', model: 'USAGE', features: [{ key: 'lic.usage', limit: null }] },
  { sku: 'L-OUT', model: 'OUTCOME', features: [{ key: 'lic.outcome', limit: null }] },
];

/** Creates the licensing test catalog over GraphQL. */
export async function seedLicensingCatalog(hub: TestHub): Promise<void> {
  const keys = [...new Set(PRODUCTS.flatMap((p) => p.features.map((f) => f.key)))];
  for (const key of keys) await hub.ok('mutation($i: UpsertFeatureInput!) { upsertFeature(input: $i) { id } }', { i: { key, name: key } });
  for (const p of PRODUCTS) {
    await hub.ok('mutation($i: UpsertProductInput!) { upsertProduct(input: $i) { id } }', {
      i: {
        sku: p.sku,
        name: p.sku,
        kind: 'SOFTWARE',
        listPrice: { amountMinor: 10000, currency: 'USD' },
        defaultModel: p.model,
        features: p.features,
      },
    });
  }
}


export interface GrantSpec {
  sku: string;
  quantity?: number;
  /** Defaults: yesterday to 2099-12-31. */
  startDate?: string;
  endDate?: string | null;
  [term: string]: unknown;
}

/**
 * Grants an entitlement through submitOrder (a one-line order of its own) and returns its id.
 * Dates are relative to now (time travel by order dates, no clock mocking).
 */
export async function grant(hub: TestHub, accountId: string, spec: GrantSpec): Promise<string> {
  const { sku, quantity = 1, startDate = day(-1), endDate = '2099-12-31', ...terms } = spec;
  const data = await hub.ok<{ submitOrder: { entitlements: { id: string }[] } }>(
    'mutation($input: OrderInput!) { submitOrder(input: $input) { entitlements { id } } }',
    {
      input: {
        source: 'licensing-test',
        externalId: `LIC-${randomUUID()}`,
        accountId,
        orderDate: startDate,
        currency: 'USD',
        lines: [{ lineNo: 1, sku, quantity, unitPrice: 1000, startDate, endDate, ...terms }],
      },
    },
  );
  const [e] = data.submitOrder.entitlements;
  if (!e || data.submitOrder.entitlements.length !== 1) throw new Error(`expected one entitlement, got ${JSON.stringify(data)}`);
  return e.id;
}

/** Row counts of every table (for "changed nothing" assertions). */
export async function rowCounts(hub: TestHub): Promise<Record<string, number>> {
  const tables: { table_name: string }[] = await hub.ds.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`,
  );
  const out: Record<string, number> = {};
  for (const { table_name } of tables) out[table_name] = (await hub.ds.query(`SELECT count(*)::int AS n FROM "${table_name}"`))[0].n;
  return out;
}

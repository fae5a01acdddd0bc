import type { TestHub } from './test-hub';

/** Dates relative to today (UTC), as YYYY-MM-DD. */
export function day(offset: number): string {
  const d = new Date();
  d.setUTCHours(0, 0, 0, 0);
  d.setUTCDate(d.getUTCDate() + offset);
  return d.toISOString().slice(0, 10);
}

/**
 * A small catalog covering every monetization model, created over GraphQL. Feature keys:
 * f.core, f.render, f.api, f.seat, f.device, f.float, f.usage, f.outcome.
 */
export async function seedCatalog(hub: TestHub): Promise<void> {
  for (const key of ['f.core', 'f.render', 'f.api', 'f.seat', 'f.device', 'f.float', 'f.usage', 'f.outcome']) {
    await hub.ok('mutation($i: UpsertFeatureInput!) { upsertFeature(input: $i) { id } }', { i: { key, name: key } });
  }
  const products = [
    { sku: 'PERP', model: 'PERPETUAL', features: [{ key: 'f.core', limit: 1 }] },
    { sku: 'SUB', model: 'SUBSCRIPTION', features: [{ key: 'f.core', limit: 1 }, { key: 'f.render', limit: 10 }] },
    { sku: 'DEV', model: 'DEVICE_LOCKED', features: [{ key: 'f.device', limit: 1 }] },
    { sku: 'SEAT', model: 'NAMED_USER', features: [{ key: 'f.seat', limit: 1 }] },
    { sku: 'FLOAT', model: 'CONCURRENT', features: [{ key: 'f.float', limit: 1 }] },
    { sku: 'USE', model: 'USAGE', features: [{ key: 'f.usage', limit: null }] },
    { sku: 'METER', model: 'METERED', features: [{ key: 'f.api', limit: 1000 }] },
    { sku: 'OUT', model: 'OUTCOME', features: [{ key: 'f.outcome', limit: null }] },
    { sku: 'SUB-PLUS', model: 'SUBSCRIPTION', features: [{ key: 'f.core', limit: 1 }, { key: 'f.render', limit: 50 }] },
  ];
  for (const p of products) {
    await hub.ok('mutation($i: UpsertProductInput!) { upsertProduct(input: $i) { id } }', {
      i: {
        sku: p.sku,
        name: p.sku,
        kind: 'SOFTWARE',
        listPrice: { amountMinor: 10000, currency: 'USD' },
        ssp: { amountMinor: 9000, currency: 'USD' },
        defaultModel: p.model,
        features: p.features,
      },
    });
  }
  await hub.ok('mutation($i: UpsertProductInput!) { upsertProduct(input: $i) { id } }', {
    i: {
      sku: 'SUITE',
      name: 'Suite',
      kind: 'SOFTWARE',
      listPrice: { amountMinor: 50000, currency: 'USD' },
      defaultModel: 'SUBSCRIPTION',
      components: [
        { sku: 'SUB', quantity: 2 },
        { sku: 'SEAT', quantity: 5 },
      ],
    },
  });
}

export async function createAccount(hub: TestHub, name: string, sfId?: string): Promise<string> {
  const data = await hub.ok<{ upsertAccount: { id: string } }>('mutation($i: UpsertAccountInput!) { upsertAccount(input: $i) { id } }', {
    i: { name, ...(sfId ? { externalRefs: [{ system: 'salesforce', object: 'Account', externalId: sfId }] } : {}) },
  });
  return data.upsertAccount.id;
}

export const SUBMIT = `mutation Submit($input: OrderInput!) {
  submitOrder(input: $input) {
    id revision
    lines { id lineNo sku status quantity }
    entitlements { id sku model status phase quantity startDate endDate graceDays features { featureKey limitTotal } }
  }
}`;

export interface SubmittedOrder {
  id: string;
  revision: number;
  lines: { id: string; lineNo: number; sku: string; status: string; quantity: number }[];
  entitlements: {
    id: string;
    sku: string;
    model: string;
    status: string;
    phase: string;
    quantity: number;
    startDate: string;
    endDate: string | null;
    graceDays: number;
    features: { featureKey: string; limitTotal: string | null }[];
  }[];
}

export interface LineSpec {
  lineNo?: number;
  sku: string;
  quantity?: number;
  unitPrice?: number;
  startDate?: string;
  endDate?: string | null;
  [k: string]: unknown;
}

/** An order input with sensible defaults: one year from today, USD, manual source. */
export function orderInput(accountId: string, externalId: string, lines: LineSpec[], extra: Record<string, unknown> = {}) {
  return {
    source: 'manual',
    externalId,
    accountId,
    orderDate: day(0),
    currency: 'USD',
    lines: lines.map((l, i) => ({
      lineNo: i + 1,
      quantity: 1,
      unitPrice: 10000,
      startDate: day(0),
      endDate: day(364),
      ...l,
    })),
    ...extra,
  };
}

export async function submitOrder(hub: TestHub, input: unknown, key?: string): Promise<SubmittedOrder> {
  return (await hub.ok<{ submitOrder: SubmittedOrder }>(SUBMIT, { input }, key)).submitOrder;
}

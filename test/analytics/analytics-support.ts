import { randomUUID } from 'node:crypto';
import type { TestHub } from '../support/test-hub';
import { createAccount, day } from '../support/orders';

/** Shared with every suite (test/support/orders.ts). */
export { createAccount, day };

/**
 * The analytics tests' catalog, all keys starting with `an.`: a METERED API product, a
 * subscription with one meter per aggregation, and the three slot models.
 */
export const FEATURES = ['an.api', 'an.storage', 'an.users', 'an.render', 'an.disk', 'an.float', 'an.seat', 'an.device'];

export const PRODUCTS = [
  { sku: 'AN-API', model: 'METERED', features: [{ key: 'an.api', limit: 1000 }] },
  {
    sku: 'AN-STORE',
    model: 'SUBSCRIPTION',
    features: [
      { key: 'an.storage', limit: 100 },
      { key: 'an.users', limit: 50 },
      { key: 'an.render', limit: 10 },
      { key: 'an.disk', limit: 500 },
    ],
  },
  { sku: 'AN-FLOAT', model: 'CONCURRENT', features: [{ key: 'an.float', limit: 1 }] },
  { sku: 'AN-SEAT', model: 'NAMED_USER', features: [{ key: 'an.seat', limit: 1 }] },
  { sku: 'AN-DEV', model: 'DEVICE_LOCKED', features: [{ key: 'an.device', limit: 1 }] },
] as const;

/** One meter per aggregation, a second SUM meter on an.api, and a feature-less one. */
export const METERS = [
  { key: 'an.calls', aggregation: 'SUM', unit: 'calls', valueProperty: null, featureKey: 'an.api' },
  { key: 'an.calls.batch', aggregation: 'SUM', unit: 'calls', valueProperty: null, featureKey: 'an.api' },
  { key: 'an.jobs', aggregation: 'COUNT', unit: 'jobs', valueProperty: null, featureKey: 'an.render' },
  { key: 'an.storage.peak', aggregation: 'MAX', unit: 'GB', valueProperty: 'gb', featureKey: 'an.storage' },
  { key: 'an.disk.now', aggregation: 'LATEST', unit: 'GB', valueProperty: null, featureKey: 'an.disk' },
  { key: 'an.users', aggregation: 'UNIQUE_COUNT', unit: 'users', valueProperty: 'userId', featureKey: 'an.users' },
  { key: 'an.misc', aggregation: 'SUM', unit: 'calls', valueProperty: null, featureKey: null },
] as const;

export async function seedAnalyticsCatalog(hub: TestHub): Promise<Record<string, string>> {
  for (const key of FEATURES) await hub.ok('mutation($i: UpsertFeatureInput!) { upsertFeature(input: $i) { id } }', { i: { key, name: key } });
  const ids: Record<string, string> = {};
  for (const p of PRODUCTS) {
    const { upsertProduct } = await hub.ok<{ upsertProduct: { id: string } }>('mutation($i: UpsertProductInput!) { upsertProduct(input: $i) { id } }', {
      i: { sku: p.sku, name: p.sku, kind: 'SOFTWARE', listPrice: { amountMinor: 10000, currency: 'USD' }, defaultModel: p.model, features: p.features },
    });
    ids[p.sku] = upsertProduct.id;
  }
  for (const m of METERS) {
    await hub.ok('mutation($i: UpsertMeterInput!) { upsertMeter(input: $i) { id } }', {
      i: { key: m.key, name: m.key, aggregation: m.aggregation, unit: m.unit, valueProperty: m.valueProperty, featureKey: m.featureKey },
    });
  }
  return ids;
}


/** Grants one entitlement through submitOrder (an order of its own) and returns its id. */
export async function grant(
  hub: TestHub,
  accountId: string,
  spec: { sku: string; quantity?: number; startDate?: string; endDate?: string | null; [term: string]: unknown },
): Promise<string> {
  const { sku, quantity = 1, startDate = day(-200), endDate = day(100), ...terms } = spec;
  const data = await hub.ok<{ submitOrder: { entitlements: { id: string }[] } }>(
    'mutation($input: OrderInput!) { submitOrder(input: $input) { entitlements { id } } }',
    {
      input: {
        source: 'analytics-test',
        externalId: `AN-${randomUUID()}`,
        accountId,
        orderDate: startDate,
        currency: 'USD',
        lines: [{ lineNo: 1, sku, quantity, unitPrice: 1000, startDate, endDate, ...terms }],
      },
    },
  );
  return data.submitOrder.entitlements[0]!.id;
}


export interface UsageEvent {
  id?: string;
  accountId: string;
  meter: string;
  quantity: number;
  occurredAt: string;
  deployment: string;
  user?: string;
  device?: string;
  properties?: Record<string, unknown>;
}

const RECORD = `mutation Record($events: [UsageEventInput!]!) { recordUsage(events: $events) { accepted duplicates conflicts rejected { index code message } } }`;

/** Records usage through recordUsage (as clients do), in batches of 1,000; fails on any rejection. */
export async function recordUsage(hub: TestHub, events: UsageEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 1000) {
    const batch = events.slice(i, i + 1000).map((e) => ({ id: e.id ?? randomUUID(), ...e }));
    const { recordUsage: answer } = await hub.ok<{ recordUsage: { accepted: number; rejected: unknown[] } }>(RECORD, { events: batch });
    if (answer.rejected.length || answer.accepted !== batch.length) throw new Error(`usage not accepted: ${JSON.stringify(answer)}`);
  }
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Monday 00:00 UTC of the current week. */
export function thisMonday(now = new Date()): Date {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  return new Date(d.getTime() - ((d.getUTCDay() + 6) % 7) * DAY);
}

/** The first day of the month `back` months before the current one, 00:00 UTC. */
export function monthStart(back: number, now = new Date()): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - back, 1));
}

/** `base` plus days and hours, ISO. */
export const at = (base: Date, days: number, hours = 0, minutes = 0) => new Date(base.getTime() + days * DAY + hours * HOUR + minutes * 60_000).toISOString();

export const USAGE_SERIES = `query Series($f: UsageSeriesFilter, $from: DateTimeISO!, $to: DateTimeISO!, $g: UsageGranularity, $by: [UsageDimension!]) {
  usageSeries(filter: $f, from: $from, to: $to, granularity: $g, groupBy: $by) {
    aggregation unit granularity from to timeZone buckets meters { key }
    series { key { accountId productId feature deployment user device } points { bucket value count } }
  }
}`;

export interface SeriesAnswer {
  aggregation: string;
  unit: string;
  granularity: string;
  from: string;
  to: string;
  timeZone: string;
  buckets: string[];
  meters: { key: string }[];
  series: {
    key: { accountId: string | null; productId: string | null; feature: string | null; deployment: string | null; user: string | null; device: string | null };
    points: { bucket: string; value: string; count: number }[];
  }[];
}

/** Points of a series as { bucket: value }, for compact expectations. */
export const pointsOf = (s: SeriesAnswer['series'][number]) => Object.fromEntries(s.points.map((p) => [p.bucket, p.value]));

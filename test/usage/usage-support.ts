import type { DataSource } from 'typeorm';
import type { TestHub } from '../support/test-hub';
import { EXPECTED_ROLLUPS_SQL, EXPECTED_UNIQUE_SQL } from '../../src/usage/usage.sql';

/**
 * Meters of the usage tests, one or more per aggregation; every key starts with `u.`.
 * `u.misc` draws on no feature (its usage is never "unentitled").
 */
export const METERS = [
  { key: 'u.calls', aggregation: 'SUM', valueProperty: null, featureKey: 'u.api' },
  { key: 'u.requests', aggregation: 'COUNT', valueProperty: null, featureKey: 'u.api' },
  { key: 'u.storage.peak', aggregation: 'MAX', valueProperty: 'gb', featureKey: 'u.storage' },
  { key: 'u.storage', aggregation: 'LATEST', valueProperty: null, featureKey: 'u.storage' },
  { key: 'u.users', aggregation: 'UNIQUE_COUNT', valueProperty: 'userId', featureKey: 'u.seat' },
  { key: 'u.misc', aggregation: 'SUM', valueProperty: null, featureKey: null },
] as const;

export const DEPLOYMENTS = ['CLOUD', 'ON_PREM', 'SAAS', 'EMBEDDED', 'DEVICE'] as const;

/** Features, products (U-API usage-based, U-STORE subscription, U-SEAT named users) and the meters, over GraphQL. */
export async function seedUsageCatalog(hub: TestHub): Promise<void> {
  for (const key of ['u.api', 'u.storage', 'u.seat']) {
    await hub.ok('mutation($i: UpsertFeatureInput!) { upsertFeature(input: $i) { id } }', { i: { key, name: key } });
  }
  const products = [
    { sku: 'U-API', model: 'USAGE', features: [{ key: 'u.api', limit: null }] },
    { sku: 'U-STORE', model: 'SUBSCRIPTION', features: [{ key: 'u.storage', limit: 100 }] },
    { sku: 'U-SEAT', model: 'NAMED_USER', features: [{ key: 'u.seat', limit: 1 }] },
  ];
  for (const p of products) {
    await hub.ok('mutation($i: UpsertProductInput!) { upsertProduct(input: $i) { id } }', {
      i: { sku: p.sku, name: p.sku, kind: 'SOFTWARE', listPrice: { amountMinor: 10000, currency: 'USD' }, defaultModel: p.model, features: p.features },
    });
  }
  for (const m of METERS) {
    await hub.ok('mutation($i: UpsertMeterInput!) { upsertMeter(input: $i) { id } }', {
      i: { key: m.key, name: m.key, aggregation: m.aggregation, unit: 'unit', valueProperty: m.valueProperty, featureKey: m.featureKey },
    });
  }
}

export interface UsageAnswer {
  accepted: number;
  duplicates: number;
  conflicts: number;
  rejected: { index: number; id: string | null; code: string; message: string }[];
}

export const ndjson = (events: unknown[]) => events.map((e) => JSON.stringify(e)).join('\n') + '\n';

/** POST /v1/usage with an NDJSON body (events, or the body text as is). */
export async function postUsage(
  hub: TestHub,
  events: unknown[] | string,
  key: string | null = hub.adminKey,
  contentType = 'application/x-ndjson',
): Promise<{ status: number; body: UsageAnswer & { errors?: { message: string; extensions: { code: string; subCode: string } }[] } }> {
  const res = await fetch(`${hub.url}/v1/usage`, {
    method: 'POST',
    headers: { 'content-type': contentType, ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: typeof events === 'string' ? events : ndjson(events),
  });
  return { status: res.status, body: (await res.json()) as never };
}

export const RECORD = `mutation Record($events: [UsageEventInput!]!) {
  recordUsage(events: $events) { accepted duplicates conflicts rejected { index id code message } }
}`;

export async function recordUsage(hub: TestHub, events: unknown[], key?: string): Promise<UsageAnswer> {
  return (await hub.ok<{ recordUsage: UsageAnswer }>(RECORD, { events }, key)).recordUsage;
}

/** An instant `hours` hours ago (negative: in the future), ISO. */
export const hoursAgo = (hours: number, from = Date.now()) => new Date(from - hours * 3_600_000).toISOString();

const ROLLUP_COLUMNS = `account_id::text, meter_id::text, granularity, bucket, entitlement_id::text, deployment,
  trim_scale(sum)::text AS sum, count::int AS count, trim_scale(max)::text AS max, trim_scale(latest_value)::text AS latest_value, latest_at`;

/** The stored rollups (sorted, numbers as plain decimal strings), optionally of some accounts. */
export async function storedRollups(ds: DataSource, accountIds: string[] | null = null) {
  const rollups = await ds.query(
    `SELECT ${ROLLUP_COLUMNS} FROM usage_rollup WHERE $1::uuid[] IS NULL OR account_id = ANY($1::uuid[]) ORDER BY 1, 2, 3, 4, 5, 6`,
    [accountIds],
  );
  const unique = await ds.query(
    `SELECT account_id::text, meter_id::text, granularity, bucket, entitlement_id::text, deployment, value
       FROM usage_unique WHERE $1::uuid[] IS NULL OR account_id = ANY($1::uuid[]) ORDER BY 1, 2, 3, 4, 5, 6, 7`,
    [accountIds],
  );
  return { rollups, unique };
}

/** What a rebuild from usage_event would store, in the same form as storedRollups. */
export async function recomputedRollups(ds: DataSource, accountIds: string[] | null = null) {
  const rollups = await ds.query(`SELECT ${ROLLUP_COLUMNS} FROM (${EXPECTED_ROLLUPS_SQL}) r ORDER BY 1, 2, 3, 4, 5, 6`, [accountIds]);
  const unique = await ds.query(
    `SELECT account_id::text, meter_id::text, granularity, bucket, entitlement_id::text, deployment, value FROM (${EXPECTED_UNIQUE_SQL}) u ORDER BY 1, 2, 3, 4, 5, 6, 7`,
    [accountIds],
  );
  return { rollups, unique };
}

export async function meterIds(hub: TestHub): Promise<Record<string, string>> {
  const rows: { key: string; id: string }[] = await hub.ds.query(`SELECT key, id::text FROM meter WHERE key LIKE 'u.%'`);
  return Object.fromEntries(rows.map((r) => [r.key, r.id]));
}

export async function eventCount(hub: TestHub, accountId?: string): Promise<number> {
  const [{ n }] = await hub.ds.query(`SELECT count(*)::int AS n FROM usage_event WHERE $1::uuid IS NULL OR account_id = $1`, [accountId ?? null]);
  return n;
}

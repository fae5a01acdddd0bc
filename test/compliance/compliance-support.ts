import { randomUUID } from 'node:crypto';
import type { TestHub } from '../support/test-hub';
import { createAccount, day } from '../support/orders';

/** Shared with every suite (test/support/orders.ts). */
export { createAccount, day };

/**
 * The compliance tests' catalog: features `c.*`, their meters `m.*`, and products whose
 * prices make every leakage figure a round, hand-checkable number (USD, minor units):
 *
 * | sku | model | list | grants |
 * |---|---|---|---|
 * | C-METER | METERED (ALLOW) | 50000 | c.api 1000 per unit per month → 50 per call |
 * | C-NOTIFY | METERED (ALLOW_AND_NOTIFY) | 50000 | c.notify 1000 per unit per month |
 * | C-SEAT | NAMED_USER | 12000 per seat | c.seat |
 * | C-FLOAT | CONCURRENT | 30000 per licence | c.float |
 * | C-DEV | DEVICE_LOCKED | 20000 per device | c.device |
 * | C-SUB | SUBSCRIPTION | 36500 | c.core (unlimited), c.projects 10 per unit (a cap) |
 * | C-EXTRA | SUBSCRIPTION | 9000 | c.extra 300 per unit → 30 per job |
 * | C-EXTRA-PRO | SUBSCRIPTION | 20000 | c.extra 1000 per unit → 20 per job (the cheapest way to buy jobs) |
 *
 * `c.orphan` is granted by no product (its unentitled use cannot be priced).
 */
export async function seedComplianceCatalog(hub: TestHub): Promise<void> {
  const features = ['c.api', 'c.notify', 'c.seat', 'c.float', 'c.device', 'c.core', 'c.projects', 'c.extra', 'c.orphan'];
  for (const key of features) await hub.ok('mutation($i: UpsertFeatureInput!) { upsertFeature(input: $i) { id } }', { i: { key, name: key } });
  const products = [
    { sku: 'C-METER', model: 'METERED', list: 50000, features: [{ key: 'c.api', limit: 1000 }] },
    { sku: 'C-NOTIFY', model: 'METERED', list: 50000, features: [{ key: 'c.notify', limit: 1000 }] },
    { sku: 'C-SEAT', model: 'NAMED_USER', list: 12000, features: [{ key: 'c.seat', limit: null }] },
    { sku: 'C-FLOAT', model: 'CONCURRENT', list: 30000, features: [{ key: 'c.float', limit: null }] },
    { sku: 'C-DEV', model: 'DEVICE_LOCKED', list: 20000, features: [{ key: 'c.device', limit: null }] },
    { sku: 'C-SUB', model: 'SUBSCRIPTION', list: 36500, features: [{ key: 'c.core', limit: null }, { key: 'c.projects', limit: 10 }] },
    { sku: 'C-EXTRA', model: 'SUBSCRIPTION', list: 9000, features: [{ key: 'c.extra', limit: 300 }] },
    { sku: 'C-EXTRA-PRO', model: 'SUBSCRIPTION', list: 20000, features: [{ key: 'c.extra', limit: 1000 }] },
  ];
  for (const p of products) {
    await hub.ok('mutation($i: UpsertProductInput!) { upsertProduct(input: $i) { id } }', {
      i: { sku: p.sku, name: p.sku, kind: 'SOFTWARE', listPrice: { amountMinor: p.list, currency: 'USD' }, defaultModel: p.model, features: p.features },
    });
  }
  const meters = [
    { key: 'm.api', aggregation: 'SUM', unit: 'calls', featureKey: 'c.api' },
    { key: 'm.notify', aggregation: 'SUM', unit: 'calls', featureKey: 'c.notify' },
    { key: 'm.seat', aggregation: 'COUNT', unit: 'logins', featureKey: 'c.seat' },
    { key: 'm.core', aggregation: 'COUNT', unit: 'sessions', featureKey: 'c.core' },
    { key: 'm.projects', aggregation: 'MAX', unit: 'projects', featureKey: 'c.projects' },
    { key: 'm.extra', aggregation: 'SUM', unit: 'jobs', featureKey: 'c.extra' },
    { key: 'm.orphan', aggregation: 'SUM', unit: 'things', featureKey: 'c.orphan' },
  ];
  for (const m of meters) {
    await hub.ok('mutation($i: UpsertMeterInput!) { upsertMeter(input: $i) { id } }', { i: { ...m, name: m.key } });
  }
}



/** The start of the UTC calendar month `offset` months from this one (the contract time zone of the tests is UTC). */
export function monthStart(offset = 0): Date {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
}

/** An instant on day `d` (1-based) of the month `offset` months from this one, at `hour` UTC. */
export const inMonth = (offset: number, d: number, hour = 12) => new Date(monthStart(offset).getTime() + (d - 1) * 86_400_000 + hour * 3_600_000);

/** An instant a minute ago, but never before this month began (so "this month" is stable). */
export const justNow = () => new Date(Math.max(Date.now() - 60_000, monthStart(0).getTime() + 1_000));

export const isoDate = (d: Date) => d.toISOString().slice(0, 10);

export interface Line {
  sku: string;
  quantity?: number;
  startDate?: string;
  endDate?: string | null;
  [term: string]: unknown;
}

/** Submits a one-line order and returns its entitlement id and the line reference (`<externalId>#1`). */
export async function order(hub: TestHub, accountId: string, line: Line): Promise<{ entitlementId: string; ref: string }> {
  const externalId = `CO-${randomUUID()}`;
  const { sku, quantity = 1, startDate = day(-90), endDate = day(275), ...terms } = line;
  const data = await hub.ok<{ submitOrder: { entitlements: { id: string }[] } }>(
    'mutation($input: OrderInput!) { submitOrder(input: $input) { entitlements { id } } }',
    {
      input: {
        source: 'compliance-test',
        externalId,
        accountId,
        orderDate: startDate,
        currency: 'USD',
        lines: [{ lineNo: 1, sku, quantity, unitPrice: 1000, startDate, endDate, ...terms }],
      },
    },
  );
  return { entitlementId: data.submitOrder.entitlements[0]?.id ?? '', ref: `${externalId}#1` };
}

export interface UsageEvent {
  meter: string;
  quantity?: number;
  at: Date;
  user?: string;
  device?: string;
  properties?: Record<string, unknown>;
}

/** Records usage through `recordUsage` and checks every event was accepted. */
export async function recordUsage(hub: TestHub, accountId: string, events: UsageEvent[]): Promise<void> {
  const data = await hub.ok<{ recordUsage: { accepted: number; rejected: unknown[] } }>(
    `mutation($events: [UsageEventInput!]!) { recordUsage(events: $events) { accepted rejected { index code message } } }`,
    {
      events: events.map((e) => ({
        id: randomUUID(),
        accountId,
        meter: e.meter,
        quantity: e.quantity ?? 1,
        occurredAt: e.at.toISOString(),
        deployment: 'CLOUD',
        user: e.user,
        device: e.device,
        properties: e.properties,
      })),
    },
  );
  if (data.recordUsage.rejected.length || data.recordUsage.accepted !== events.length) {
    throw new Error(`usage not accepted: ${JSON.stringify(data.recordUsage)}`);
  }
}

export const FINDING = `id kind accountId entitlementId featureKey meterKey periodStart periodEnd unit entitled used over utilization
  leakage { amountMinor currency } pricing status statusNote statusChangedAt statusChangedByKeyId autoResolved firstSeenAt lastSeenAt`;

export interface Finding {
  id: string;
  kind: string;
  accountId: string;
  entitlementId: string | null;
  featureKey: string | null;
  meterKey: string | null;
  periodStart: string;
  periodEnd: string | null;
  unit: string;
  entitled: string | null;
  used: string;
  over: string;
  utilization: string | null;
  leakage: { amountMinor: string; currency: string } | null;
  pricing: Record<string, unknown> | null;
  status: string;
  statusNote: string | null;
  statusChangedAt: string | null;
  statusChangedByKeyId: string | null;
  autoResolved: boolean;
  firstSeenAt: string;
  lastSeenAt: string;
}

export interface RunSummary {
  opened: number;
  updated: number;
  unchanged: number;
  reopened: number;
  resolved: number;
  notificationsRaised: number;
  findings: Finding[];
}

export async function runCompliance(hub: TestHub, accountId: string, key?: string): Promise<RunSummary> {
  return (
    await hub.ok<{ runCompliance: RunSummary }>(
      `mutation($a: ID!) { runCompliance(accountId: $a) { opened updated unchanged reopened resolved notificationsRaised findings { ${FINDING} } } }`,
      { a: accountId },
      key,
    )
  ).runCompliance;
}

export async function findings(
  hub: TestHub,
  filter: Record<string, unknown>,
  key?: string,
): Promise<{ totalCount: number; leakageTotals: { amountMinor: string; currency: string }[]; items: Finding[] }> {
  const data = await hub.ok<{
    complianceFindings: { totalCount: number; leakageTotals: { amountMinor: string; currency: string }[]; edges: { node: Finding }[] };
  }>(
    `query($f: ComplianceFindingFilterInput) { complianceFindings(filter: $f, first: 100) { totalCount leakageTotals { amountMinor currency } edges { node { ${FINDING} } } } }`,
    { f: filter },
    key,
  );
  const c = data.complianceFindings;
  return { totalCount: c.totalCount, leakageTotals: c.leakageTotals, items: c.edges.map((e) => e.node) };
}

/** The findings of a kind, as compact rows for exact comparisons. */
export const compact = (fs: Finding[], kind: string) =>
  fs
    .filter((f) => f.kind === kind)
    .map((f) => ({
      entitlementId: f.entitlementId,
      featureKey: f.featureKey,
      meterKey: f.meterKey,
      periodStart: f.periodStart,
      unit: f.unit,
      entitled: f.entitled,
      used: f.used,
      over: f.over,
      leakage: f.leakage?.amountMinor ?? null,
    }))
    .sort((a, b) => a.periodStart.localeCompare(b.periodStart) || String(a.meterKey).localeCompare(String(b.meterKey)));

export interface NotificationRow {
  type: string;
  key: string;
  entitlementId: string | null;
  featureKey: string | null;
  periodStart: string | null;
  threshold: string | null;
  superseded: boolean;
  deliveriesQueued: number;
  payload: Record<string, unknown>;
}

export async function notifications(hub: TestHub, accountId: string, key?: string): Promise<NotificationRow[]> {
  const data = await hub.ok<{ notifications: { edges: { node: NotificationRow }[] } }>(
    `query($a: ID) { notifications(accountId: $a, first: 200) { edges { node { type key entitlementId featureKey periodStart threshold superseded deliveriesQueued payload } } } }`,
    { a: accountId },
    key,
  );
  return data.notifications.edges.map((e) => e.node);
}

import { startTestHub, type TestHub } from '../support/test-hub';
import { systemContext } from '../../src/common/context';
import pino from 'pino';
import { createAccount, day, inMonth, justNow, monthStart, notifications, order, recordUsage, runCompliance, seedComplianceCatalog } from './compliance-support';

/**
 * Thresholds: consumption at 50/80/100 % of a period's entitlement and expiry at 90/60/30
 * days raise one notification each per period — never twice, again in the next period —
 * and each is queued as a webhook delivery in the same transaction; ALLOW_AND_NOTIFY
 * overage raises one `consumption.overage` per consumption.
 */
let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
  await seedComplianceCatalog(hub);
});
afterAll(async () => hub?.close());

const DAY = 86_400_000;
const ctx = () => systemContext(pino({ level: 'silent' }), 'test:thresholds');
/** One tick of the threshold job, at `now`. */
const tick = (now = new Date()) => hub.services.compliance.raiseNotifications(ctx(), { now });
const iso = (d: Date) => d.toISOString();

async function consume(accountId: string, quantity: number, key: string) {
  return (
    await hub.ok<{ consume: { allowed: boolean; overage: string } }>('mutation($i: ConsumeInput!) { consume(input: $i) { allowed overage } }', {
      i: { accountId, feature: 'c.notify', quantity, idempotencyKey: key },
    })
  ).consume;
}

/** Webhook deliveries queued per event key for an account. */
async function queued(accountId: string): Promise<Record<string, number>> {
  const rows: { key: string; n: number }[] = await hub.ds.query(
    `SELECT e.key, count(d.id)::int AS n FROM webhook_event e LEFT JOIN webhook_delivery d ON d.event_id = e.id WHERE e.account_id = $1 GROUP BY e.key`,
    [accountId],
  );
  return Object.fromEntries(rows.map((r) => [r.key, r.n]));
}

async function subscribe(accountId: string): Promise<void> {
  await hub.ok('mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { __typename } }', {
    i: { url: 'http://127.0.0.1:9/hooks', eventTypes: ['*'], accountId },
  });
}

const thresholds = async (accountId: string) =>
  (await notifications(hub, accountId))
    .filter((n) => n.type === 'USAGE_THRESHOLD')
    .map((n) => ({ period: n.periodStart, threshold: n.threshold, superseded: n.superseded }))
    .sort((a, b) => String(a.period).localeCompare(String(b.period)) || Number(a.threshold) - Number(b.threshold));

describe('consumption thresholds', () => {
  it('50, 80 and 100 % of the current period, each raised once and queued for the subscribed endpoint; overage once per consumption', async () => {
    const account = await createAccount(hub, 'Thresholds');
    await subscribe(account);
    const { entitlementId } = await order(hub, account, { sku: 'C-NOTIFY', overagePolicy: 'ALLOW_AND_NOTIFY' });
    const period = iso(monthStart(0));

    await consume(account, 499, 'k1');
    await tick();
    expect(await thresholds(account)).toEqual([]);

    await consume(account, 1, 'k2'); // 500 of 1 000
    await tick();
    await tick();
    await runCompliance(hub, account);
    expect(await thresholds(account)).toEqual([{ period, threshold: '50', superseded: false }]);

    await consume(account, 300, 'k3'); // 800
    await tick();
    expect(await consume(account, 250, 'k4')).toEqual({ allowed: true, overage: '50' }); // 1 050
    await tick();
    await tick();
    await runCompliance(hub, account);
    expect(await thresholds(account)).toEqual([
      { period, threshold: '50', superseded: false },
      { period, threshold: '80', superseded: false },
      { period, threshold: '100', superseded: false },
    ]);

    const all = await notifications(hub, account);
    const hundred = all.find((n) => n.type === 'USAGE_THRESHOLD' && n.threshold === '100')!;
    expect(hundred).toMatchObject({
      key: `usage.threshold:${entitlementId}:c.notify:${period.replace('.000Z', 'Z')}:100`,
      entitlementId,
      featureKey: 'c.notify',
      deliveriesQueued: 1,
      payload: { accountId: account, entitlementId, feature: 'c.notify', thresholdPercent: 100, entitled: '1000', used: '1050', percentUsed: 105, overagePolicy: 'ALLOW_AND_NOTIFY', sku: 'C-NOTIFY' },
    });
    const overage = all.filter((n) => n.type === 'CONSUMPTION_OVERAGE');
    expect(overage).toHaveLength(1);
    expect(overage[0]).toMatchObject({ entitlementId, featureKey: 'c.notify', deliveriesQueued: 1, payload: { idempotencyKey: 'k4', quantity: '250', overage: '50', feature: 'c.notify' } });

    // Every notification that was not superseded became exactly one queued delivery.
    const deliveries = await queued(account);
    expect(Object.keys(deliveries).sort()).toEqual(all.map((n) => n.key).sort());
    expect(Object.values(deliveries).every((n) => n === 1)).toBe(true);
  });

  it('several thresholds crossed at once raise the highest only; each period has its own; never again on re-runs', async () => {
    const account = await createAccount(hub, 'Jumps');
    await order(hub, account, { sku: 'C-NOTIFY' });
    const previous = iso(monthStart(-1));
    const current = iso(monthStart(0));
    await recordUsage(hub, account, [
      { meter: 'm.notify', quantity: 1100, at: inMonth(-1, 15) },
      { meter: 'm.notify', quantity: 600, at: justNow() },
    ]);
    const run = await runCompliance(hub, account);
    expect(run.notificationsRaised).toBeGreaterThanOrEqual(2);
    const first = [
      { period: previous, threshold: '50', superseded: true },
      { period: previous, threshold: '80', superseded: true },
      { period: previous, threshold: '100', superseded: false },
      { period: current, threshold: '50', superseded: false },
    ];
    expect(await thresholds(account)).toEqual(first);

    await runCompliance(hub, account);
    await tick();
    expect(await thresholds(account)).toEqual(first);

    // More use this period: 850 of 1 000 crosses 80 % — seen by the next tick of the frequent job.
    await recordUsage(hub, account, [{ meter: 'm.notify', quantity: 250, at: justNow() }]);
    await tick();
    await runCompliance(hub, account);
    expect(await thresholds(account)).toEqual([...first, { period: current, threshold: '80', superseded: false }]);
    // Superseded ones were recorded, never sent.
    expect((await notifications(hub, account)).filter((n) => n.superseded).every((n) => n.deliveriesQueued === 0)).toBe(true);
  });

  it('racing ticks and runs raise each threshold once', async () => {
    const account = await createAccount(hub, 'Race');
    await order(hub, account, { sku: 'C-NOTIFY' });
    await recordUsage(hub, account, [{ meter: 'm.notify', quantity: 900, at: justNow() }]);
    await Promise.all([tick(), tick(), tick(), runCompliance(hub, account), runCompliance(hub, account)]);
    expect(await thresholds(account)).toEqual([
      { period: iso(monthStart(0)), threshold: '50', superseded: true },
      { period: iso(monthStart(0)), threshold: '80', superseded: false },
    ]);
  });

  it('periods that ended more than 35 days ago are too late to notify (their overuse is still a finding)', async () => {
    const account = await createAccount(hub, 'Old news');
    await order(hub, account, { sku: 'C-NOTIFY', startDate: day(-130) });
    await recordUsage(hub, account, [{ meter: 'm.notify', quantity: 1200, at: inMonth(-3, 10) }]);
    const run = await runCompliance(hub, account);
    expect(await thresholds(account)).toEqual([]);
    expect(run.findings.filter((f) => f.kind === 'OVERUSE').map((f) => [f.periodStart, f.over])).toEqual([[iso(monthStart(-3)), '200']]);
  });
});

describe('expiry thresholds', () => {
  const expiring = async (accountId: string) =>
    (await notifications(hub, accountId))
      .filter((n) => n.type === 'ENTITLEMENT_EXPIRING')
      .map((n) => ({ e: n.entitlementId, days: n.threshold, superseded: n.superseded, left: n.payload.daysLeft }));

  it('90, 60 and 30 days before the end, once each per term; a renewal starts the count again', async () => {
    const account = await createAccount(hub, 'Expiring');
    const { entitlementId, ref } = await order(hub, account, { sku: 'C-SUB', startDate: day(-10), endDate: day(99) }); // ends at day(100) 00:00
    const now = Date.now();
    await tick(new Date(now));
    expect(await expiring(account)).toEqual([]);

    await tick(new Date(now + 15 * DAY));
    await tick(new Date(now + 16 * DAY));
    expect(await expiring(account)).toEqual([{ e: entitlementId, days: '90', superseded: false, left: 85 }]);
    await tick(new Date(now + 45 * DAY));
    await tick(new Date(now + 75 * DAY));
    await tick(new Date(now + 76 * DAY));
    expect(await expiring(account)).toEqual([
      { e: entitlementId, days: '90', superseded: false, left: 85 },
      { e: entitlementId, days: '60', superseded: false, left: 55 },
      { e: entitlementId, days: '30', superseded: false, left: 25 },
    ]);
    const n = (await notifications(hub, account)).find((x) => x.type === 'ENTITLEMENT_EXPIRING' && x.threshold === '30')!;
    expect(n.key).toBe(`entitlement.expiring:${entitlementId}:${day(99)}:30`);
    expect(n.payload).toMatchObject({ entitlementId, sku: 'C-SUB', endDate: day(99), thresholdDays: 30, daysLeft: 25 });

    // Renewed for another year: the new term end is counted down afresh.
    await order(hub, account, { sku: 'C-SUB', action: 'RENEWAL', renewsLineRef: ref, startDate: day(100), endDate: day(464) });
    await tick(new Date(now + 76 * DAY));
    expect(await expiring(account)).toHaveLength(3);
    await tick(new Date(now + 380 * DAY));
    expect((await expiring(account)).slice(3)).toEqual([{ e: entitlementId, days: '90', superseded: false, left: 85 }]);
  });

  it('a term already close to its end raises the nearest threshold only, and the others never', async () => {
    const account = await createAccount(hub, 'Short');
    const { entitlementId } = await order(hub, account, { sku: 'C-SUB', startDate: day(-10), endDate: day(19) });
    await tick();
    await tick(new Date(Date.now() + 2 * DAY));
    expect((await expiring(account)).sort((a, b) => Number(a.days) - Number(b.days))).toEqual([
      { e: entitlementId, days: '30', superseded: false, left: 20 },
      { e: entitlementId, days: '60', superseded: true, left: 20 },
      { e: entitlementId, days: '90', superseded: true, left: 20 },
    ]);
  });
});

import pino from 'pino';
import { startTestHub, gqlError, type TestHub } from '../support/test-hub';
import { createAccount, day, grant } from '../licensing/licensing-support';
import { systemContext } from '../../src/common/context';
import { UsageService } from '../../src/usage/usage.service';
import { UsagePartitionService } from '../../src/usage/usage.partitions';
import { recordUsage, seedUsageCatalog, storedRollups } from './usage-support';

/**
 * Usage retention (EHUB_USAGE_RETENTION_MONTHS, ADR 0053): the partitions job drops the raw
 * events of months before the window once their daily rollups count every event (the rollups
 * stay), keeps a month whose rollups do not, refuses to rebuild rollups of dropped months,
 * and ingest refuses events older than the window; partitions are kept created ahead.
 */
let hub: TestHub;
let old: string;
let recent: string;

beforeAll(async () => {
  hub = await startTestHub();
  await seedUsageCatalog(hub);
  old = await createAccount(hub, 'Old usage');
  recent = await createAccount(hub, 'Recent usage');
  await grant(hub, old, { sku: 'U-API', startDate: day(-900) });
});
afterAll(async () => hub?.close());

/** The 3rd of the month `n` months back, 10:00 UTC; this month (n = 0): a minute ago. */
const monthsAgo = (n: number) => {
  const d = new Date();
  return n === 0 ? new Date(d.getTime() - 60_000).toISOString() : new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - n, 3, 10)).toISOString();
};
const part = (iso: string) => `usage_event_p${iso.slice(0, 4)}${iso.slice(5, 7)}`;
const REBUILD = 'mutation($a: ID!) { rebuildUsageRollups(accountId: $a) { accountId events rollupRows } }';
const partitions = async (): Promise<string[]> =>
  ((await hub.ds.query(`SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'usage_event'::regclass`)) as { relname: string }[]).map(
    (r) => r.relname,
  );
const monthCount = async (iso: string) => {
  const [r] = await hub.ds.query(
    `SELECT (SELECT count(*)::int FROM usage_event WHERE occurred_at >= date_trunc('month', $1::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                AND occurred_at < (date_trunc('month', $1::timestamptz AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC') AS events,
            (SELECT coalesce(sum(count), 0)::int FROM usage_rollup WHERE granularity = 'D' AND bucket >= date_trunc('month', $1::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                AND bucket < (date_trunc('month', $1::timestamptz AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC') AS rolled`,
    [iso],
  );
  return r as { events: number; rolled: number };
};

describe('EHUB_USAGE_RETENTION_MONTHS = 3', () => {
  const months = [0, 1, 2, 3, 4, 5, 8];
  const ev = (account: string, m: number, i: number) => ({ id: `m${m}-${i}`, accountId: account, meter: 'u.calls', quantity: i + 1, occurredAt: monthsAgo(m), deployment: 'CLOUD' });
  let rollupsBefore: Awaited<ReturnType<typeof storedRollups>>;

  beforeAll(async () => {
    // Written while retention is off (the hub's default): every age accepted.
    const events = months.flatMap((m) => [0, 1, 2].map((i) => ev(old, m, i)));
    events.push({ id: 'ancient', accountId: old, meter: 'u.calls', quantity: 1, occurredAt: '2015-05-05T05:00:00.000Z', deployment: 'CLOUD' });
    expect(await recordUsage(hub, events)).toMatchObject({ accepted: events.length });
    expect(await recordUsage(hub, [ev(recent, 0, 0), ev(recent, 1, 0)])).toMatchObject({ accepted: 2 });
    // Months before the migration ran (the test template's) have no partition yet: their events, 2015's too, sit in the default partition.
    const [{ n }] = await hub.ds.query(`SELECT count(*)::int AS n FROM usage_event_default WHERE event_id = 'ancient'`);
    expect(n).toBe(1);
    // Month 8's rollups made incomplete: its partition must survive retention.
    await hub.ds.query(
      `UPDATE usage_rollup SET count = count - 1 WHERE granularity = 'D' AND account_id = $1 AND bucket = date_trunc('day', $2::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`,
      [old, monthsAgo(8)],
    );
    rollupsBefore = await storedRollups(hub.ds);
  });

  it('drops the complete months before the window with their keys, keeps their rollups and an incomplete month', async () => {
    const job = new UsagePartitionService(hub.services.db, { EHUB_USAGE_PARTITIONS_AHEAD: 5, EHUB_USAGE_RETENTION_MONTHS: 3 });
    const run = await job.run();
    // The default partition's month got its own partition, then went with retention; five months ahead exist.
    expect(run.created).toContain('usage_event_p201505');
    expect(run.created).toContain(part(monthsAgo(8)));
    expect(run.created).toContain(part(monthsAgo(-5)));
    const [{ n }] = await hub.ds.query(`SELECT count(*)::int AS n FROM usage_event_default`);
    expect(n).toBe(0);
    expect(run.dropped.sort()).toEqual(['usage_event_p201505', part(monthsAgo(5)), part(monthsAgo(4))].sort());
    expect(run.kept).toEqual([{ partition: part(monthsAgo(8)), events: 3, rolledUp: 2 }]);

    const now = await partitions();
    for (const m of [0, 1, 2, 3, 8, -5]) expect(now).toContain(part(monthsAgo(m)));
    for (const m of [4, 5]) expect(now).not.toContain(part(monthsAgo(m)));
    for (const m of [4, 5]) expect(await monthCount(monthsAgo(m))).toEqual({ events: 0, rolled: 3 });
    for (const m of [0, 3]) expect(await monthCount(monthsAgo(m))).toEqual({ events: 3 + (m === 0 ? 1 : 0), rolled: 3 + (m === 0 ? 1 : 0) });
    const [{ keys }] = await hub.ds.query(`SELECT count(*)::int AS keys FROM usage_event_key WHERE account_id = $1`, [old]);
    expect(keys).toBe(5 * 3); // months 0, 1, 2, 3, 8
    expect(await storedRollups(hub.ds)).toEqual(rollupsBefore);
    const [{ kept_from }] = await hub.ds.query(`SELECT kept_from FROM usage_retention`);
    expect(new Date(kept_from).toISOString()).toBe(new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() - 3, 1)).toISOString());

    // A second run has nothing left to do but keep the incomplete month.
    const again = await job.run();
    expect(again).toMatchObject({ created: [], dropped: [] });
    expect(again.kept).toHaveLength(1);
  });

  it('rebuildUsageRollups refuses an account with rollups of dropped months and changes nothing; others rebuild', async () => {
    const res = await hub.gql(REBUILD, { a: old });
    expect(gqlError(res)).toMatchObject({ code: 'CONFLICT', subCode: 'USAGE_EVENTS_DROPPED' });
    expect(await storedRollups(hub.ds)).toEqual(rollupsBefore);
    const ok = await hub.ok<{ rebuildUsageRollups: { events: number } }>(REBUILD, { a: recent });
    expect(ok.rebuildUsageRollups.events).toBe(2);
  });

  it('ingest refuses events before the window (BEYOND_RETENTION) and takes the rest', async () => {
    const usage = new UsageService(hub.services.db, { ...hub.services.config, EHUB_USAGE_RETENTION_MONTHS: 3 });
    const answer = await usage.recordUsage(systemContext(pino({ level: 'silent' }), 'test:retention'), [
      { ...ev(recent, 4, 9), occurredAt: new Date(monthsAgo(4)) },
      { ...ev(recent, 3, 9), occurredAt: new Date(monthsAgo(3)) },
    ] as never);
    expect(answer).toMatchObject({ accepted: 1, duplicates: 0, conflicts: 0 });
    expect(answer.rejected).toHaveLength(1);
    expect(answer.rejected[0]).toMatchObject({ index: 0, code: 'BEYOND_RETENTION' });
    expect(answer.rejected[0]!.message).toMatch(/EHUB_USAGE_RETENTION_MONTHS=3/);
  });
});

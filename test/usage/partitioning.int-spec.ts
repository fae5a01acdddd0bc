import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { startTestHub, type TestHub } from '../support/test-hub';
import { migrateOne, partitionsOf, relkind } from '../support/migrations';
import { createAccount, day, grant } from '../licensing/licensing-support';
import { UsagePartitions1764304000000 } from '../../migrations/1764304000000-UsagePartitions';
import { RECOMPUTE_SQL } from '../../src/usage/usage.sql';
import { meterIds, recomputedRollups, recordUsage, seedUsageCatalog, storedRollups } from './usage-support';

/**
 * usage_event partitioned by month (ADR 0053): the migration converts a populated table
 * (rows written by ingest and rows written straight into the old table, across many months)
 * without losing or changing an event, key or rollup; ingest afterwards keeps its
 * exactly-once answers; an event of a month without a partition lands in the default
 * partition and moves to its own when that month's partition is created.
 */
let hub: TestHub;
let account: string;
let meters: Record<string, string>;

beforeAll(async () => {
  hub = await startTestHub();
  await seedUsageCatalog(hub);
  meters = await meterIds(hub);
  account = await createAccount(hub, 'Partitioned');
  await grant(hub, account, { sku: 'U-API', startDate: day(-900) });
});
afterAll(async () => hub?.close());

/** The 2nd of the month `n` months back at `hour` UTC; this month (n = 0): a minute ago. */
const monthsAgo = (n: number, hour = 12) => {
  const d = new Date();
  return n === 0 ? new Date(d.getTime() - 60_000).toISOString() : new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - n, 2, hour)).toISOString();
};

const EVENT_COLUMNS = `id::text, account_id::text, source, event_id, meter_id::text, entitlement_id::text, feature_key, quantity::text, value::text,
  unique_value, occurred_at, received_at, deployment, user_id, device, properties, content_hash, unentitled`;

const allEvents = (ds: DataSource) => ds.query(`SELECT ${EVENT_COLUMNS} FROM usage_event ORDER BY id`);
const allKeys = (ds: DataSource) =>
  ds.query(`SELECT account_id::text, source, event_id, occurred_at, content_hash FROM usage_event_key ORDER BY account_id, source, event_id`);
const partitionOf = (d: string) => `usage_event_p${d.slice(0, 4)}${d.slice(5, 7)}`;

describe('the migration converts a populated usage_event', () => {
  const ingested = () => [0, 1, 2, 5, 14].map((m, i) => ({
    id: `ingest-${i}`,
    accountId: account,
    meter: i % 2 ? 'u.calls' : 'u.users',
    quantity: i + 1,
    user: `user-${i % 3}`,
    occurredAt: monthsAgo(m),
    deployment: 'CLOUD',
  }));
  let viaIngest: ReturnType<typeof ingested>;
  let before: { events: unknown[]; keys: unknown[]; rollups: Awaited<ReturnType<typeof storedRollups>> };

  it('down: back to the unpartitioned table with every event; rows written there directly', async () => {
    viaIngest = ingested();
    expect(await recordUsage(hub, viaIngest)).toMatchObject({ accepted: 5, duplicates: 0, conflicts: 0, rejected: [] });
    const written = await allEvents(hub.ds);
    expect(written).toHaveLength(5);

    await migrateOne(hub.ds, new UsagePartitions1764304000000(), 'down');
    expect(await relkind(hub.ds, 'usage_event')).toBe('r');
    expect(await relkind(hub.ds, 'usage_event_key')).toBeUndefined();
    expect(await allEvents(hub.ds)).toEqual(written);

    // The database as the previous migration left it, populated: 3,000 events over 30 months
    // (one far back, 2019) written straight into the old table, rollups rebuilt from them.
    await hub.ds.query(
      `INSERT INTO usage_event (account_id, source, event_id, meter_id, entitlement_id, feature_key, quantity, value, occurred_at, deployment, user_id, content_hash, unentitled)
       SELECT $1, 'old', 'old-' || g, CASE WHEN g % 2 = 0 THEN $2::uuid ELSE $3::uuid END, NULL, NULL, g % 7 + 1, g % 7 + 1,
              CASE WHEN g = 3000 THEN timestamptz '2019-06-15 08:00:00+00'
                   ELSE date_trunc('month', now()) - (g % 30) * interval '1 month' + (g % 20) * interval '1 day' + (g % 24) * interval '1 hour' END,
              'ON_PREM', 'u' || (g % 11), 'hash-' || g, false
         FROM generate_series(1, 3000) g`,
      [account, meters['u.calls'], meters['u.misc']],
    );
    // The rebuild as it was at that migration (the service's now also reads usage_retention, which the older schema lacks).
    await hub.ds.transaction(async (m) => {
      for (const sql of [RECOMPUTE_SQL.lock, RECOMPUTE_SQL.deleteRollups, RECOMPUTE_SQL.deleteUnique, RECOMPUTE_SQL.insertRollups, RECOMPUTE_SQL.insertUnique]) {
        await m.query(sql, sql === RECOMPUTE_SQL.lock ? [] : [null]);
      }
    });
    before = { events: await allEvents(hub.ds), keys: [], rollups: await storedRollups(hub.ds) };
    before.keys = await hub.ds.query(`SELECT account_id::text, source, event_id, occurred_at, content_hash FROM usage_event ORDER BY account_id, source, event_id`);
    expect(before.events).toHaveLength(3005);
    expect(before.rollups.rollups.length).toBeGreaterThan(100);
  });

  it('up: every event, key and rollup is there, in monthly partitions', async () => {
    await migrateOne(hub.ds, new UsagePartitions1764304000000(), 'up');
    expect(await relkind(hub.ds, 'usage_event')).toBe('p');
    expect(await relkind(hub.ds, 'usage_event_unpartitioned')).toBeUndefined();
    expect(await allEvents(hub.ds)).toEqual(before.events);
    expect(await allKeys(hub.ds)).toEqual(before.keys);
    expect(await storedRollups(hub.ds)).toEqual(before.rollups);
    expect(await recomputedRollups(hub.ds)).toEqual(before.rollups);

    // One partition per month holding events (31 months: 30 recent and 2019-06) and the next three; the default one empty.
    const parts = await partitionsOf(hub.ds, 'usage_event');
    expect(parts).toContain('usage_event_default');
    expect(parts).toContain('usage_event_p201906');
    for (const m of [0, 1, 29]) expect(parts).toContain(partitionOf(monthsAgo(m)));
    for (const m of [-1, -2, -3]) expect(parts).toContain(partitionOf(monthsAgo(m)));
    const [{ n: inDefault }] = await hub.ds.query(`SELECT count(*)::int AS n FROM usage_event_default`);
    expect(inDefault).toBe(0);
    // Each event is in the partition of its month.
    const misplaced = await hub.ds.query(
      `SELECT e.event_id FROM usage_event e WHERE e.tableoid::regclass::text <> 'usage_event_p' || to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYYMM')`,
    );
    expect(misplaced).toEqual([]);
    // Indexes made on the parent exist on every partition.
    const [{ n: withoutIndex }] = await hub.ds.query(
      `SELECT count(*)::int AS n FROM pg_inherits i WHERE i.inhparent = 'usage_event'::regclass
          AND (SELECT count(*) FROM pg_index x WHERE x.indrelid = i.inhrelid) < 3`,
    );
    expect(withoutIndex).toBe(0);
  });

  it('ingest stays exactly once: resends are duplicates, reused ids conflicts, new events get new ids', async () => {
    const again = await recordUsage(hub, viaIngest);
    expect(again).toMatchObject({ accepted: 0, duplicates: 5, conflicts: 0 });
    const changed = await recordUsage(hub, [{ ...viaIngest[1]!, quantity: 99 }]);
    expect(changed).toMatchObject({ accepted: 0, duplicates: 0, conflicts: 1 });
    expect(changed.rejected[0]!.code).toBe('CONFLICT');
    // A key written straight into the old table (its hash is not this event's): a conflict, not a second event.
    const reused = await recordUsage(hub, [{ id: 'old-17', source: 'old', accountId: account, meter: 'u.calls', quantity: 1, occurredAt: monthsAgo(3), deployment: 'CLOUD' }]);
    expect(reused).toMatchObject({ accepted: 0, conflicts: 1 });

    const fresh = { id: randomUUID(), accountId: account, meter: 'u.calls', quantity: 2, occurredAt: new Date(Date.now() - 30_000).toISOString(), deployment: 'CLOUD' };
    expect(await recordUsage(hub, [fresh])).toMatchObject({ accepted: 1 });
    expect(await recordUsage(hub, [fresh])).toMatchObject({ accepted: 0, duplicates: 1 });
    const [row] = await hub.ds.query(`SELECT id::int AS id FROM usage_event WHERE event_id = $1`, [fresh.id]);
    const maxBefore = Math.max(...before.events.map((e) => Number((e as { id: string }).id)));
    expect(row.id).toBeGreaterThan(maxBefore);
    const [{ n }] = await hub.ds.query(`SELECT count(*)::int AS n FROM usage_event`);
    const [{ k }] = await hub.ds.query(`SELECT count(*)::int AS k FROM usage_event_key`);
    expect(n).toBe(3006);
    expect(k).toBe(3006);
    expect(await storedRollups(hub.ds)).toEqual(await recomputedRollups(hub.ds));
  });

  it('a month without a partition: the default partition keeps the event until its partition is created', async () => {
    const ancient = { id: 'ancient', accountId: account, meter: 'u.calls', quantity: 4, occurredAt: '2015-03-04T05:06:07.000Z', deployment: 'CLOUD' };
    expect(await recordUsage(hub, [ancient])).toMatchObject({ accepted: 1 });
    const where = async () => (await hub.ds.query(`SELECT tableoid::regclass::text AS part FROM usage_event WHERE event_id = 'ancient'`))[0]?.part;
    expect(await where()).toBe('usage_event_default');
    const [{ created }] = await hub.ds.query(`SELECT usage_event_ensure_partition('2015-03-20') AS created`);
    expect(created).toBe(true);
    expect(await where()).toBe('usage_event_p201503');
    const [{ again }] = await hub.ds.query(`SELECT usage_event_ensure_partition('2015-03-01') AS again`);
    expect(again).toBe(false);
    expect(await recordUsage(hub, [ancient])).toMatchObject({ duplicates: 1 });
    expect(await storedRollups(hub.ds)).toEqual(await recomputedRollups(hub.ds));
  });

  it('a meter with usage still cannot be deleted (the guard reads the partitioned table)', async () => {
    const res = await hub.gql('mutation { deleteMeter(key: "u.misc") }');
    expect(res.errors?.[0]?.extensions?.subCode).toBe('CATALOG_IN_USE');
    const [{ n }] = await hub.ds.query(`SELECT count(*)::int AS n FROM meter WHERE id = $1`, [meters['u.misc']]);
    expect(n).toBe(1);
  });
});

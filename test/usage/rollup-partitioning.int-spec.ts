import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { startTestHub, type TestHub } from '../support/test-hub';
import { migrateOne, partitionsOf, relkind } from '../support/migrations';
import { createAccount, day, grant } from '../licensing/licensing-support';
import { UsageRollupPartitions1764304300000 } from '../../migrations/1764304300000-UsageRollupPartitions';
import { RECOMPUTE_SQL } from '../../src/usage/usage.sql';
import { meterIds, recomputedRollups, recordUsage, seedUsageCatalog, storedRollups } from './usage-support';

/**
 * usage_rollup partitioned by month of bucket (ADR 0061): the migration converts a populated
 * table (rollups of ingest and of events written straight into the database, over 30 months
 * and one far back) without losing or changing a rollup; the BI views that read it are
 * carried over with their grants; ingest afterwards keeps rollups equal to a rebuild from the
 * events; a bucket of a month without a partition waits in the default partition until the
 * partitions job creates its month's.
 */
let hub: TestHub;
let account: string;
let meters: Record<string, string>;
const reader = `bi_reader_${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  hub = await startTestHub();
  await seedUsageCatalog(hub);
  meters = await meterIds(hub);
  account = await createAccount(hub, 'Rollup partitions');
  await grant(hub, account, { sku: 'U-API', startDate: day(-1000) });
});
afterAll(async () => {
  await hub?.ds.query(`DROP OWNED BY ${reader}`).catch(() => undefined);
  await hub?.ds.query(`DROP ROLE IF EXISTS ${reader}`).catch(() => undefined);
  await hub?.close();
});

/** The 2nd of the month `n` months back at noon UTC; this month (n = 0): a minute ago. */
const monthsAgo = (n: number) => {
  const d = new Date();
  return n === 0 ? new Date(d.getTime() - 60_000).toISOString() : new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - n, 2, 12)).toISOString();
};
const partitionOf = (d: string) => `usage_rollup_p${d.slice(0, 4)}${d.slice(5, 7)}`;
const views = (ds: DataSource) =>
  Promise.all([
    ds.query(`SELECT account_id::text, meter_key, day, deployment, trim_scale(quantity)::text AS quantity, events::int AS events FROM bi.usage_daily ORDER BY 1, 2, 3, 4`),
    ds.query(`SELECT account_id::text, last_usage_at FROM bi.accounts ORDER BY 1`),
  ]);

const migrate = (direction: 'up' | 'down') => migrateOne(hub.ds, new UsageRollupPartitions1764304300000(), direction);

describe('the migration converts a populated usage_rollup', () => {
  const ingested = () =>
    [0, 1, 2, 5, 14].map((m, i) => ({
      id: `ingest-${i}`,
      accountId: account,
      meter: i % 2 ? 'u.calls' : 'u.users',
      quantity: i + 1,
      user: `user-${i % 3}`,
      occurredAt: monthsAgo(m),
      deployment: 'CLOUD',
    }));
  let viaIngest: ReturnType<typeof ingested>;
  let before: Awaited<ReturnType<typeof storedRollups>>;
  let viewsBefore: Awaited<ReturnType<typeof views>>;

  it('down: back to the unpartitioned table with every rollup; then populated as the older schema would be', async () => {
    viaIngest = ingested();
    expect(await recordUsage(hub, viaIngest)).toMatchObject({ accepted: 5, duplicates: 0, conflicts: 0, rejected: [] });
    const rollups = await storedRollups(hub.ds);
    expect(rollups.rollups.length).toBeGreaterThan(0);

    await migrate('down');
    expect(await relkind(hub.ds, 'usage_rollup')).toBe('r');
    expect(await relkind(hub.ds, 'usage_rollup_default')).toBeUndefined();
    const [{ fn }] = await hub.ds.query(`SELECT to_regprocedure('usage_rollup_ensure_partition(date)') IS NULL AS fn`);
    expect(fn).toBe(true);
    expect(await storedRollups(hub.ds)).toEqual(rollups);

    // 3,000 events over 30 months (one far back, 2019) written straight into usage_event, rollups rebuilt from them.
    await hub.ds.query(
      `INSERT INTO usage_event (account_id, source, event_id, meter_id, quantity, value, occurred_at, deployment, user_id, content_hash)
       SELECT $1, 'old', 'old-' || g, CASE WHEN g % 2 = 0 THEN $2::uuid ELSE $3::uuid END, g % 7 + 1, g % 7 + 1,
              CASE WHEN g = 3000 THEN timestamptz '2019-06-15 08:00:00+00'
                   ELSE date_trunc('month', now()) - (g % 30) * interval '1 month' + (g % 20) * interval '1 day' + (g % 24) * interval '1 hour' END,
              'ON_PREM', 'u' || (g % 11), 'hash-' || g
         FROM generate_series(1, 3000) g`,
      [account, meters['u.calls'], meters['u.misc']],
    );
    await hub.ds.query(
      `INSERT INTO usage_event_key (account_id, source, event_id, occurred_at, content_hash)
       SELECT account_id, source, event_id, occurred_at, content_hash FROM usage_event WHERE source = 'old'`,
    );
    await hub.ds.transaction(async (m) => {
      for (const sql of [RECOMPUTE_SQL.lock, RECOMPUTE_SQL.deleteRollups, RECOMPUTE_SQL.deleteUnique, RECOMPUTE_SQL.insertRollups, RECOMPUTE_SQL.insertUnique]) {
        await m.query(sql, sql === RECOMPUTE_SQL.lock ? [] : [null]);
      }
    });
    before = await storedRollups(hub.ds);
    expect(before.rollups.length).toBeGreaterThan(150);
    // A BI reader's grant on a view over the table (as `ehub bi grant` gives).
    await hub.ds.query(`CREATE ROLE ${reader} NOLOGIN`);
    await hub.ds.query(`GRANT USAGE ON SCHEMA bi TO ${reader}`);
    await hub.ds.query(`GRANT SELECT ON bi.usage_daily, bi.accounts TO ${reader}`);
    viewsBefore = await views(hub.ds);
    expect(viewsBefore[0].length).toBeGreaterThan(50);
  });

  it('up: every rollup is there, each in the partition of its month, the views read the new table with their grants', async () => {
    await migrate('up');
    expect(await relkind(hub.ds, 'usage_rollup')).toBe('p');
    expect(await relkind(hub.ds, 'usage_rollup_unpartitioned')).toBeUndefined();
    expect(await storedRollups(hub.ds)).toEqual(before);
    expect(await recomputedRollups(hub.ds)).toEqual(before);

    // One partition per month holding rollups (30 recent and 2019-06) and the next three; the default one empty.
    const parts = await partitionsOf(hub.ds, 'usage_rollup');
    expect(parts).toContain('usage_rollup_default');
    expect(parts).toContain('usage_rollup_p201906');
    for (const m of [0, 1, 29, -1, -2, -3]) expect(parts).toContain(partitionOf(monthsAgo(m)));
    expect(parts).toHaveLength(31 + 3 + 1);
    const [{ n: inDefault }] = await hub.ds.query(`SELECT count(*)::int AS n FROM usage_rollup_default`);
    expect(inDefault).toBe(0);
    const misplaced = await hub.ds.query(
      `SELECT bucket FROM usage_rollup WHERE tableoid::regclass::text <> 'usage_rollup_p' || to_char(bucket AT TIME ZONE 'UTC', 'YYYYMM')`,
    );
    expect(misplaced).toEqual([]);
    // Every partition has the key and the entitlement index, and room for HOT updates.
    const perPartition: { relname: string; indexes: number; reloptions: string[] | null }[] = await hub.ds.query(
      `SELECT c.relname, (SELECT count(*)::int FROM pg_index x WHERE x.indrelid = c.oid) AS indexes, c.reloptions
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'usage_rollup'::regclass`,
    );
    for (const p of perPartition) {
      expect({ name: p.relname, indexes: p.indexes, options: p.reloptions }).toEqual({ name: p.relname, indexes: 2, options: ['fillfactor=80'] });
    }

    // The views answer as before, from the partitioned table, and the reader keeps its grants.
    expect(await views(hub.ds)).toEqual(viewsBefore);
    const readers: { view: string }[] = await hub.ds.query(
      `SELECT DISTINCT v.oid::regclass::text AS view FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
        WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = 'usage_rollup'::regclass AND v.oid <> 'usage_rollup'::regclass ORDER BY 1`,
    );
    expect(readers.map((r) => r.view)).toEqual(['bi.accounts', 'bi.usage_daily']);
    const [{ daily, accounts }] = await hub.ds.query(
      `SELECT has_table_privilege($1, 'bi.usage_daily', 'SELECT') AS daily, has_table_privilege($1, 'bi.accounts', 'SELECT') AS accounts`,
      [reader],
    );
    expect({ daily, accounts }).toEqual({ daily: true, accounts: true });
  });

  it('ingest keeps rollups equal to a rebuild from the events; resends change nothing', async () => {
    expect(await recordUsage(hub, viaIngest)).toMatchObject({ accepted: 0, duplicates: 5 });
    const fresh = [0, 0, 1, 3].map((m, i) => ({
      id: randomUUID(),
      accountId: account,
      meter: i % 2 ? 'u.calls' : 'u.users',
      quantity: 3,
      user: `fresh-${i}`,
      occurredAt: m === 0 ? new Date(Date.now() - 30_000 - i).toISOString() : monthsAgo(m),
      deployment: 'SAAS',
    }));
    expect(await recordUsage(hub, fresh)).toMatchObject({ accepted: 4 });
    const after = await storedRollups(hub.ds);
    expect(after).not.toEqual(before);
    expect(after).toEqual(await recomputedRollups(hub.ds));
    const [{ n }] = await hub.ds.query(`SELECT count(*)::int AS n FROM usage_rollup_default`);
    expect(n).toBe(0);
  });

  it('a month without a partition: its rollups wait in the default partition until the partitions job creates the month', async () => {
    const ancient = { id: 'ancient', accountId: account, meter: 'u.misc', quantity: 4, occurredAt: '2015-03-04T05:06:07.000Z', deployment: 'CLOUD' };
    expect(await recordUsage(hub, [ancient])).toMatchObject({ accepted: 1 });
    const where = async () =>
      ((await hub.ds.query(`SELECT DISTINCT tableoid::regclass::text AS part FROM usage_rollup WHERE bucket < '2016-01-01'`)) as { part: string }[]).map((r) => r.part);
    expect(await where()).toEqual(['usage_rollup_default']);

    const run = await hub.services.usagePartitions.run();
    expect(run.created).toEqual(expect.arrayContaining(['usage_event_p201503', 'usage_rollup_p201503']));
    expect(await where()).toEqual(['usage_rollup_p201503']);
    expect((await hub.services.usagePartitions.run()).created).toEqual([]);
    const [{ again }] = await hub.ds.query(`SELECT usage_rollup_ensure_partition('2015-03-09') AS again`);
    expect(again).toBe(false);
    expect(await storedRollups(hub.ds)).toEqual(await recomputedRollups(hub.ds));
  });
});

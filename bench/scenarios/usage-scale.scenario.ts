import { performance } from 'node:perf_hooks';
import type { Figures, Scenario } from '../support/types';
import { runBatch } from '../support/batch';
import { fmt } from '../support/report';

/** Events stored before each measurement (BENCH_SCALE_STAGES, comma-separated, ascending). */
const STAGES = (process.env.BENCH_SCALE_STAGES ?? '2000000,50000000').split(',').map(Number);
const ACCOUNTS = Number(process.env.BENCH_SCALE_ACCOUNTS ?? 1_000);
/** Events ingested over HTTP at each stage (bodies of 1,000, BENCH_SCALE_CONCURRENCY in flight). */
const INGEST = Number(process.env.BENCH_SCALE_INGEST ?? 200_000);
const CONCURRENCY = Number(process.env.BENCH_SCALE_CONCURRENCY ?? 4);
const CHUNK = 1_000_000;
/** The stored events span this many months back (so that many monthly partitions). */
const MONTHS = 24;
const SERIES_CONNECTIONS = 8;
const BATCH = 1_000;
/** After each fill: VACUUM (ANALYZE) and CHECKPOINT (default), or only ANALYZE (BENCH_SCALE_SETTLE=0, the method before 2026-12-05 evening). */
const SETTLE = process.env.BENCH_SCALE_SETTLE !== '0';

const SERIES = `query Series($f: UsageSeriesFilter, $from: DateTimeISO!, $to: DateTimeISO!) {
  usageSeries(filter: $f, from: $from, to: $to, granularity: DAY) { aggregation unit series { points { bucket value count } } }
}`;

/**
 * Data that grows (issue 15, ADR 0053): ingest events/s (POST /v1/usage, NDJSON bodies of
 * 1,000) and usageSeries latency (one account, 90 days by day) with 2,000,000 events stored,
 * then with 50,000,000 (BENCH_SCALE_STAGES), same run, same hub, reported as ratios.
 *
 * The stored events are written straight into the partitioned usage_event, their keys into
 * usage_event_key and their hourly and daily rollups into usage_rollup, one statement per
 * 1,000,000 generated rows (generate_series, spread over the last 24 months and 1,000
 * accounts), so what is stored looks like what ingest would have left. Each stage then
 * ingests 200,000 new events over HTTP (5 % of them resends, 10 % up to three days late) and
 * measures usageSeries under load.
 */
export const usageScale: Scenario = {
  name: 'usage-scale',
  description: `ingest events/s and usageSeries latency with ${STAGES.map((s) => fmt(s)).join(' then ')} events stored (monthly partitions over ${MONTHS} months)`,
  async run(ctx) {
    const post = ctx.hub.post.bind(ctx.hub);
    const must = async <T>(q: string, v: Record<string, unknown>): Promise<T> => {
      const r = await post(q, v);
      const body = JSON.parse(r.text) as { data?: T; errors?: unknown[] };
      if (r.status !== 200 || body.errors?.length) throw new Error(`usage-scale setup failed: ${r.text}`);
      return body.data as T;
    };
    const { upsertMeter } = await must<{ upsertMeter: { id: string } }>('mutation($i: UpsertMeterInput!) { upsertMeter(input: $i) { id } }', {
      i: { key: 'scale.calls', name: 'Scale calls', aggregation: 'SUM', unit: 'calls' },
    });
    const meterId = upsertMeter.id;
    const key = await must<{ createApiKey: { key: string } }>('mutation { createApiKey(input: { name: "usage-scale bench", role: INTEGRATION }) { key } }', {});
    const { ds } = ctx.hub.services.db;
    const accounts: string[] = (
      (await ds.query(`INSERT INTO account (name) SELECT 'Scale ' || lpad(i::text, 5, '0') FROM generate_series(1, $1::int) i RETURNING id`, [ACCOUNTS])) as { id: string }[]
    )
      .map((a) => a.id)
      .sort();
    // Partitions for every month of the fill (the job would have created them as time went by).
    await ctx.hub.services.usagePartitions.run();
    await ds.query(
      `SELECT usage_event_ensure_partition(m), usage_rollup_ensure_partition(m) FROM (SELECT (date_trunc('month', now()) - g * interval '1 month')::date AS m FROM generate_series(0, $1::int) g) months`,
      [MONTHS],
    );

    let stored = 0;
    const fill = async (upTo: number) => {
      const t0 = performance.now();
      const from = stored;
      while (stored < upTo) {
        const lo = stored + 1;
        const hi = Math.min(upTo, stored + CHUNK);
        // Event i: account i mod N, a pseudo-random second of the last 24 months, one of three deployments.
        await ds.query(
          `WITH a AS (SELECT $5::uuid[] AS ids, cardinality($5::uuid[]) AS n),
           g AS MATERIALIZED (
             SELECT a.ids[1 + i % a.n] AS account_id, 'fill-' || i AS event_id, (1 + i % 10)::numeric AS q,
                    date_trunc('minute', now()) - interval '1 day' - ((i::bigint * 7919) % ($3::int * 86400)) * interval '1 second' AS t,
                    (ARRAY['CLOUD','ON_PREM','SAAS'])[1 + i % 3] AS d, md5(i::text) AS h
               FROM generate_series($1::bigint, $2::bigint) i, a),
           e AS (INSERT INTO usage_event (account_id, source, event_id, meter_id, quantity, value, occurred_at, deployment, user_id, content_hash)
                 SELECT account_id, 'fill', event_id, $4::uuid, q, q, t, d, 'user-' || (q::int % 50), h FROM g),
           k AS (INSERT INTO usage_event_key (account_id, source, event_id, occurred_at, content_hash) SELECT account_id, 'fill', event_id, t, h FROM g)
           INSERT INTO usage_rollup AS r (account_id, meter_id, granularity, bucket, entitlement_id, deployment, sum, count, max, latest_value, latest_at)
           SELECT g.account_id, $4::uuid, s.granularity, date_bin(s.stride, g.t, timestamptz '2000-01-01 00:00:00+00'), '00000000-0000-0000-0000-000000000000'::uuid, g.d,
                  sum(g.q), count(*), max(g.q), (array_agg(g.q ORDER BY g.t DESC, g.q DESC))[1], max(g.t)
             FROM g CROSS JOIN (VALUES ('H', interval '1 hour'), ('D', interval '1 day')) AS s(granularity, stride)
            GROUP BY 1, 2, 3, 4, 5, 6
           ON CONFLICT (account_id, meter_id, granularity, bucket, entitlement_id, deployment) DO UPDATE SET
             sum = r.sum + excluded.sum, count = r.count + excluded.count, max = greatest(r.max, excluded.max),
             latest_value = CASE WHEN (excluded.latest_at, excluded.latest_value) > (r.latest_at, r.latest_value) THEN excluded.latest_value ELSE r.latest_value END,
             latest_at = greatest(r.latest_at, excluded.latest_at)`,
          [lo, hi, MONTHS * 30, meterId, accounts],
        );
        stored = hi;
      }
      const s = (performance.now() - t0) / 1000;
      console.error(`  stored ${fmt(upTo - from)} more events (${fmt(upTo)} in all) in ${s.toFixed(1)} s = ${fmt(Math.round((upTo - from) / s))} rows/s`);
      // Settle what the fill left, as a database that grew over months would be: without this,
      // autovacuum's pass over the freshly inserted rows (tens of millions at the last stage)
      // runs during the measurement and is measured with it.
      const v0 = performance.now();
      if (SETTLE) {
        await ds.query('VACUUM (ANALYZE) usage_event, usage_event_key, usage_rollup');
        await ds.query('CHECKPOINT');
      } else {
        await ds.query('ANALYZE usage_event, usage_event_key, usage_rollup');
      }
      console.error(`  ${SETTLE ? 'VACUUM (ANALYZE) and CHECKPOINT' : 'ANALYZE only (BENCH_SCALE_SETTLE=0)'} in ${((performance.now() - v0) / 1000).toFixed(1)} s`);
      const sizes: { tbl: string; total: string; month: string | null }[] = await ds.query(
        `SELECT p.tbl, pg_size_pretty(sum(pg_total_relation_size(i.inhrelid))) AS total,
                pg_size_pretty(pg_total_relation_size(to_regclass(p.tbl || '_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMM')))) AS month
           FROM (VALUES ('usage_event'), ('usage_rollup')) p(tbl) JOIN pg_inherits i ON i.inhparent = p.tbl::regclass GROUP BY p.tbl ORDER BY 1`,
      );
      console.error(`  sizes with indexes: ${sizes.map((z) => `${z.tbl} ${z.total} (this month's partition ${z.month ?? 'none'})`).join(', ')}`);
    };

    /**
     * Where an ingest's time may go as the database grows: blocks read from outside shared
     * buffers (database-wide and per table/index of the write path), WAL and its full-page
     * images, buffers written by checkpoints. Deltas over the ingest.
     */
    const ioCounters = async (): Promise<Record<string, number>> => {
      const [db] = await ds.query(`SELECT blks_read::float8 AS read, blks_hit::float8 AS hit FROM pg_stat_database WHERE datname = current_database()`);
      const [wal] = await ds.query(`SELECT wal_fpi::float8 AS fpi, wal_bytes::float8 AS bytes FROM pg_stat_wal`);
      const tables: { rel: string; heap: number; idx: number }[] = await ds.query(
        `SELECT coalesce((SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = s.relid), s.relname) AS rel, -- a partition counts for its table
                sum(coalesce(heap_blks_read, 0))::float8 AS heap, sum(coalesce(idx_blks_read, 0))::float8 AS idx
           FROM pg_statio_user_tables s WHERE s.relname LIKE 'usage_%' GROUP BY 1`,
      );
      const out: Record<string, number> = { read: db.read, hit: db.hit, fpi: wal.fpi, walBytes: wal.bytes };
      for (const t of tables) {
        out[`${t.rel} heap`] = t.heap;
        out[`${t.rel} idx`] = t.idx;
      }
      return out;
    };
    const ioDelta = (a: Record<string, number>, b: Record<string, number>): string => {
      const d = (k: string) => (b[k] ?? 0) - (a[k] ?? 0);
      const reads = Object.keys(b)
        .filter((k) => k.includes(' ') && d(k) > 0)
        .sort((x, y) => d(y) - d(x))
        .slice(0, 6)
        .map((k) => `${k} ${fmt(d(k))}`);
      const hitRatio = d('hit') / Math.max(1, d('hit') + d('read'));
      return `blocks read ${fmt(d('read'))} (hit ratio ${(hitRatio * 100).toFixed(2)} %; ${reads.join(', ') || 'none by the usage tables'}), WAL ${fmt(Math.round(d('walBytes') / 2 ** 20))} MB with ${fmt(d('fpi'))} full-page images`;
    };

    let round = 0;
    const ingest = async (): Promise<{ eventsPerSec: number; durationSec: number }> => {
      round++;
      const now = Date.now();
      let seed = 42 + round;
      const rnd = () => {
        seed = (seed + 0x6d2b79f5) >>> 0;
        let t = seed;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
      };
      const bodies: Buffer[] = [];
      const sample: string[] = [];
      let unique = 0;
      for (let b = 0; b < Math.ceil(INGEST / BATCH); b++) {
        const lines: string[] = [];
        for (let i = 0; i < BATCH; i++) {
          if (b > 0 && rnd() < 0.05) {
            lines.push(sample[Math.floor(rnd() * sample.length)]!);
            continue;
          }
          const line = JSON.stringify({
            id: `r${round}-${b}-${i}`,
            accountId: accounts[Math.floor(rnd() * ACCOUNTS)],
            meter: 'scale.calls',
            quantity: 1 + Math.floor(rnd() * 7),
            occurredAt: new Date(now - (rnd() < 0.1 ? 3_600_000 + Math.floor(rnd() * 3 * 86_400_000) : Math.floor(rnd() * 600_000))).toISOString(),
            deployment: 'CLOUD',
          });
          unique++;
          lines.push(line);
          if (sample.length < 50_000) sample.push(line);
        }
        bodies.push(Buffer.from(lines.join('\n') + '\n'));
      }
      const url = ctx.hub.url.replace(/\/graphql$/, '/v1/usage');
      let accepted = 0;
      const figures = await runBatch(bodies.length, CONCURRENCY, async (b) => {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${key.createApiKey.key}` }, body: bodies[b]! });
        const text = await res.text();
        if (res.status !== 200) return `HTTP ${res.status}: ${text.slice(0, 300)}`;
        const answer = JSON.parse(text) as { accepted: number; rejected: unknown[] };
        accepted += answer.accepted;
        return answer.rejected.length ? `rejected: ${JSON.stringify(answer.rejected.slice(0, 3))}` : null;
      });
      if (accepted !== unique) throw new Error(`usage-scale: ${fmt(unique)} distinct events sent, ${fmt(accepted)} accepted`);
      stored += unique;
      return { eventsPerSec: Math.round((bodies.length * BATCH) / figures.durationSec), durationSec: figures.durationSec };
    };

    const day = 86_400_000;
    const today = Math.floor(Date.now() / day) * day;
    const target = accounts[Math.floor(accounts.length / 2)]!;
    const variables = { f: { accountId: target, meter: 'scale.calls' }, from: new Date(today - 89 * day).toISOString(), to: new Date(today + day).toISOString() };
    const series = async (): Promise<Figures> => {
      const probe = await post(SERIES, variables);
      const parsed = JSON.parse(probe.text) as { data?: { usageSeries?: { series: { points: unknown[] }[] } }; errors?: unknown[] };
      const points = parsed.data?.usageSeries?.series.reduce((n, s) => n + s.points.length, 0) ?? 0;
      if (probe.status !== 200 || parsed.errors?.length || points < 1) throw new Error(`usage-scale: the usageSeries probe failed (${probe.status}, ${points} points): ${probe.text.slice(0, 300)}`);
      return ctx.load({
        url: ctx.hub.url,
        headers: { authorization: `Bearer ${ctx.hub.adminKey}` },
        body: JSON.stringify({ query: SERIES, variables, operationName: 'Series' }),
        expectBody: probe.text,
        connections: SERIES_CONNECTIONS,
      });
    };

    const results: { stored: number; eventsPerSec: number; seriesP50: number; seriesP99: number; seriesRps: number; figures: Figures }[] = [];
    for (const stage of STAGES) {
      await fill(stage);
      const atStored = stored;
      // What else PostgreSQL did while it was measured: autovacuum workers, sampled every 500 ms.
      const vacuums = new Map<string, number>();
      const sampler = setInterval(() => {
        void ds
          .query(`SELECT c.relname FROM pg_stat_progress_vacuum v JOIN pg_class c ON c.oid = v.relid`)
          .then((rows: { relname: string }[]) => rows.forEach((r) => vacuums.set(r.relname, (vacuums.get(r.relname) ?? 0) + 1)))
          .catch(() => undefined);
      }, 500);
      let ing: { eventsPerSec: number; durationSec: number };
      let f: Figures;
      let io: string;
      try {
        const before = await ioCounters();
        ing = await ingest();
        io = ioDelta(before, await ioCounters());
        f = await series();
      } finally {
        clearInterval(sampler);
      }
      console.error(`  during the ingest: ${io}`);
      console.error(`  vacuum samples during the measurement: ${vacuums.size ? [...vacuums].map(([t, n]) => `${t} ×${n}`).join(', ') : 'none'}`);
      results.push({ stored: atStored, eventsPerSec: ing.eventsPerSec, seriesP50: f.latencyMs.p50, seriesP99: f.latencyMs.p99, seriesRps: f.requestsPerSec, figures: f });
      const [{ parts }] = await ds.query(`SELECT count(*)::int AS parts FROM pg_inherits WHERE inhparent = 'usage_event'::regclass`);
      console.error(
        `  at ${fmt(atStored)} stored (${parts} partitions): ingest ${fmt(ing.eventsPerSec)} events/s (${fmt(INGEST)} in ${ing.durationSec} s); ` +
          `usageSeries p50 ${f.latencyMs.p50} ms, p99 ${f.latencyMs.p99} ms, ${fmt(Math.round(f.requestsPerSec))} req/s`,
      );
    }
    const first = results[0]!;
    const last = results[results.length - 1]!;
    const ingestRatio = last.eventsPerSec / first.eventsPerSec;
    const p50Ratio = last.seriesP50 / Math.max(first.seriesP50, 0.001);
    console.error(
      `  ${fmt(last.stored)} vs ${fmt(first.stored)} stored: ingest ${(ingestRatio * 100).toFixed(0)} % of the rate, usageSeries p50 × ${p50Ratio.toFixed(2)}, p99 × ${(last.seriesP99 / Math.max(first.seriesP99, 0.001)).toFixed(2)}, req/s × ${(last.seriesRps / first.seriesRps).toFixed(2)}`,
    );
    return {
      ...last.figures,
      headline: {
        value: Math.round(ingestRatio * 100),
        unit: `% ingest rate at ${fmt(last.stored)} vs ${fmt(first.stored)} stored (${fmt(last.eventsPerSec)} vs ${fmt(first.eventsPerSec)} events/s); usageSeries p50 ${last.seriesP50} vs ${first.seriesP50} ms`,
      },
    };
  },
};

import { performance } from 'node:perf_hooks';
import type { Scenario } from '../support/types';
import { runBatch } from '../support/batch';
import { fmt } from '../support/report';
import { RECOMPUTE_SQL } from '../../src/usage/usage.sql';

const EVENTS = Number(process.env.BENCH_INGEST_EVENTS ?? 1_000_000);
const BATCH = 1_000;
const ACCOUNTS = Number(process.env.BENCH_INGEST_ACCOUNTS ?? 1_000);
const CONCURRENCY = Number(process.env.BENCH_INGEST_CONCURRENCY ?? 4);
const DUPLICATES = 0.05;
const LATE = 0.1;

/** Meters of the run: what most usage looks like (sums), with some of every other kind. */
const METERS = [
  { key: 'bench.calls', aggregation: 'SUM', valueProperty: null, share: 0.7 },
  { key: 'bench.requests', aggregation: 'COUNT', valueProperty: null, share: 0.1 },
  { key: 'bench.storage', aggregation: 'MAX', valueProperty: 'gb', share: 0.1 },
  { key: 'bench.users', aggregation: 'UNIQUE_COUNT', valueProperty: 'user', share: 0.1 },
] as const;
const DEPLOYMENTS = ['CLOUD', 'ON_PREM', 'SAAS', 'EMBEDDED', 'DEVICE'];

/**
 * Usage ingestion at volume: 1,000,000 events (BENCH_INGEST_EVENTS) as NDJSON bodies of
 * 1,000 over HTTP, several in flight (BENCH_INGEST_CONCURRENCY), across 1,000 accounts each
 * holding an entitlement the events are attributed to; each body mixes accounts (a central
 * pipeline, the harder case for rollup locks than one agent per account); 5 % of the events
 * are resends of earlier ones (duplicates); timestamps near real time (the last 10 minutes)
 * and 10 % late (an hour to three days old); deployments at random; four meters of different
 * aggregations. Every event is validated, hashed, attributed and rolled up by hour and day
 * in the transaction that stores it.
 *
 * Beside it, in the same run and on the same table: the database's own ceiling, one
 * `INSERT INTO usage_event ... SELECT ... FROM generate_series(...)` of as many rows (no
 * HTTP, no parsing, no rollups). Headline: events/s and their share of that ceiling. Also
 * printed, as a second reference: the same rows stored exactly once the way ingest stores them
 * (through usage_event_key into usage_event, one statement), still without HTTP or rollups,
 * and that plus the hourly and daily rollups of those rows built set-based afterwards.
 * Bodies are built before the clock starts, so the load generator costs the server little.
 */
export const ingest: Scenario = {
  name: 'ingest',
  description: `POST /v1/usage: ${fmt(EVENTS)} events in NDJSON bodies of ${fmt(BATCH)}, ${CONCURRENCY} in flight, ${fmt(ACCOUNTS)} accounts, ${DUPLICATES * 100} % duplicates; vs INSERT…SELECT generate_series`,
  async run(ctx) {
    const post = ctx.hub.post.bind(ctx.hub);
    const must = async <T>(q: string, v: Record<string, unknown>): Promise<T> => {
      const r = await post(q, v);
      const body = JSON.parse(r.text) as { data?: T; errors?: unknown[] };
      if (r.status !== 200 || body.errors?.length) throw new Error(`ingest setup failed: ${r.text}`);
      return body.data as T;
    };
    await must('mutation($i: UpsertFeatureInput!) { upsertFeature(input: $i) { id } }', { i: { key: 'bench.usage', name: 'bench.usage' } });
    await must('mutation($i: UpsertProductInput!) { upsertProduct(input: $i) { id } }', {
      i: { sku: 'BENCH-USAGE', name: 'Usage', kind: 'SAAS', listPrice: { amountMinor: 10000, currency: 'USD' }, defaultModel: 'USAGE', features: [{ key: 'bench.usage', limit: null }] },
    });
    for (const m of METERS) {
      await must('mutation($i: UpsertMeterInput!) { upsertMeter(input: $i) { id } }', {
        i: { key: m.key, name: m.key, aggregation: m.aggregation, unit: 'unit', valueProperty: m.valueProperty, featureKey: 'bench.usage' },
      });
    }
    const accounts: string[] = new Array(ACCOUNTS);
    await runBatch(ACCOUNTS, 8, async (a) => {
      const { upsertAccount } = await must<{ upsertAccount: { id: string } }>('mutation($i: UpsertAccountInput!) { upsertAccount(input: $i) { id } }', {
        i: { name: `Ingest ${a}` },
      });
      accounts[a] = upsertAccount.id;
      await must('mutation($i: OrderInput!) { submitOrder(input: $i) { id } }', {
        i: {
          source: 'bench',
          externalId: `INGEST-${a}`,
          accountId: upsertAccount.id,
          orderDate: '2020-01-01',
          currency: 'USD',
          lines: [{ lineNo: 1, sku: 'BENCH-USAGE', quantity: 1, unitPrice: 10000, startDate: '2020-01-01', endDate: '2099-12-31' }],
        },
      });
      return null;
    });
    const key = await must<{ createApiKey: { key: string } }>('mutation { createApiKey(input: { name: "ingest bench", role: INTEGRATION }) { key } }', {});

    // The database's ceiling first (then emptied), so both runs start from an empty table.
    const ds = ctx.hub.services.db.ds;
    const [{ meter_id: meterId, feature_key: featureKey }] = await ds.query(
      `SELECT m.id AS meter_id, f.key AS feature_key FROM meter m JOIN feature f ON f.id = m.feature_id WHERE m.key = 'bench.calls'`,
    );
    const ent: { account_id: string; id: string }[] = await ds.query(`SELECT account_id, id FROM entitlement WHERE sku = 'BENCH-USAGE' ORDER BY account_id`);
    // The generated rows of both references: the same for each, EVENTS of them over the entitlements.
    const params = [ent.map((e) => e.account_id), ent.map((e) => e.id), ent.length, meterId, featureKey, EVENTS];
    const generated = `e AS (SELECT array_agg(account_id ORDER BY account_id) AS accounts, array_agg(id ORDER BY account_id) AS ents FROM unnest($1::uuid[], $2::uuid[]) AS x(account_id, id)),
       src AS (SELECT e.accounts[1 + g % $3] AS a, 'c-' || g AS ev, e.ents[1 + g % $3] AS ent, g, now() - (g % 86400) * interval '1 second' AS t,
                      md5(g::text) || md5((g + 1)::text) AS h
                 FROM e, generate_series(1, $6::int) AS g)`;
    const insertEvents = `INSERT INTO usage_event (account_id, source, event_id, meter_id, entitlement_id, feature_key, quantity, value, occurred_at, deployment, user_id, content_hash)
       SELECT src.a, 'ceiling', src.ev, $4::uuid, src.ent, $5, (src.g % 7) + 1, (src.g % 7) + 1, src.t,
              (ARRAY['CLOUD','ON_PREM','SAAS','EMBEDDED','DEVICE'])[1 + src.g % 5], 'user-' || (src.g % 50), src.h
         FROM src`;
    /** Seconds `sql` takes. */
    const timed = async (sql: string, values: unknown[] = params) => {
      const t0 = performance.now();
      await ds.query(sql, values);
      return (performance.now() - t0) / 1000;
    };
    const empty = async (analyse: string) => {
      await ds.query('TRUNCATE usage_event, usage_event_key, usage_rollup, usage_unique');
      await ds.query(`VACUUM ANALYZE ${analyse}`);
    };
    const ceilingSeconds = await timed(`WITH ${generated} ${insertEvents}`);
    const ceiling = Math.round(EVENTS / ceilingSeconds);
    await empty('usage_event');
    console.error(`  ceiling: INSERT…SELECT generate_series of ${fmt(EVENTS)} rows in ${ceilingSeconds.toFixed(1)} s = ${fmt(ceiling)} rows/s`);

    // A second reference, not the target's: what exactly-once storage alone costs in SQL, the
    // same rows through usage_event_key (ON CONFLICT DO NOTHING) into usage_event, as ingest
    // stores them (ADR 0053), still without HTTP, parsing, attribution or rollups.
    const keyedSeconds = await timed(
      `WITH ${generated},
       k AS (INSERT INTO usage_event_key (account_id, source, event_id, occurred_at, content_hash)
             SELECT a, 'ceiling', ev, t, h FROM src ORDER BY a, ev
             ON CONFLICT (account_id, source, event_id) DO NOTHING RETURNING account_id, event_id)
       ${insertEvents} JOIN k ON k.account_id = src.a AND k.event_id = src.ev`,
    );
    const keyed = Math.round(EVENTS / keyedSeconds);
    // And their hourly and daily rollups, built in one set-based statement (the rebuild's SQL).
    const rollupSeconds = await timed(RECOMPUTE_SQL.insertRollups, [null]);
    const rolled = Math.round(EVENTS / (keyedSeconds + rollupSeconds));
    await empty('usage_event, usage_event_key, usage_rollup');
    console.error(
      `  references: the same rows through usage_event_key into usage_event in one statement = ${fmt(keyed)} rows/s (${((keyed / ceiling) * 100).toFixed(1)} % of the ceiling); ` +
        `with their hourly and daily rollups rebuilt after = ${fmt(rolled)} rows/s (${((rolled / ceiling) * 100).toFixed(1)} %)`,
    );

    // The bodies: 5 % of the events are resends of events of earlier bodies (same content).
    const now = Date.now();
    let seed = 42; // mulberry32: the same bodies in every run
    const rnd = () => {
      seed = (seed + 0x6d2b79f5) >>> 0;
      let t = seed;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
    };
    const batches = Math.ceil(EVENTS / BATCH);
    const sent: string[] = [];
    const bodies: Buffer[] = [];
    let unique = 0;
    for (let b = 0; b < batches; b++) {
      const lines: string[] = [];
      for (let i = 0; i < BATCH && b * BATCH + i < EVENTS; i++) {
        if (b > 0 && rnd() < DUPLICATES) {
          lines.push(sent[Math.floor(rnd() * sent.length)]!);
          continue;
        }
        const r = rnd();
        let acc = 0;
        const meter = METERS.find((m) => (acc += m.share) > r) ?? METERS[0];
        const user = `user-${Math.floor(rnd() * 50)}`;
        const line = JSON.stringify({
          id: `ev-${b}-${i}`,
          accountId: accounts[Math.floor(rnd() * ACCOUNTS)],
          meter: meter.key,
          quantity: 1 + Math.floor(rnd() * 7),
          // Near real time (the last 10 minutes), and 10 % late: an hour to three days old.
          occurredAt: new Date(now - (rnd() < LATE ? 3_600_000 + Math.floor(rnd() * 3 * 86_400_000) : Math.floor(rnd() * 600_000))).toISOString(),
          deployment: DEPLOYMENTS[Math.floor(rnd() * DEPLOYMENTS.length)],
          user,
          ...(meter.valueProperty === 'gb' ? { properties: { gb: Math.round(rnd() * 5000) / 10 } } : {}),
        });
        unique++;
        lines.push(line);
        // Keep a sample to resend from (bounded memory).
        if (sent.length < 100_000) sent.push(line);
        else sent[Math.floor(rnd() * sent.length)] = line;
      }
      bodies.push(Buffer.from(lines.join('\n') + '\n'));
    }

    const url = ctx.hub.url.replace(/\/graphql$/, '/v1/usage');
    let accepted = 0;
    let duplicates = 0;
    const figures = await runBatch(batches, CONCURRENCY, async (b) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${key.createApiKey.key}` },
        body: bodies[b]!,
      });
      const text = await res.text();
      if (res.status !== 200) return `HTTP ${res.status}: ${text.slice(0, 300)}`;
      const answer = JSON.parse(text) as { accepted: number; duplicates: number; rejected: unknown[] };
      accepted += answer.accepted;
      duplicates += answer.duplicates;
      return answer.rejected.length ? `rejected: ${JSON.stringify(answer.rejected.slice(0, 3))}` : null;
    });
    const [{ n: stored }] = await ds.query('SELECT count(*)::int AS n FROM usage_event');
    if (stored !== unique || accepted !== unique || accepted + duplicates !== EVENTS) {
      throw new Error(`ingest: ${fmt(unique)} distinct events sent, ${fmt(accepted)} accepted, ${fmt(duplicates)} duplicates, ${fmt(stored)} stored`);
    }
    const eventsPerSec = Math.round(EVENTS / figures.durationSec);
    const share = eventsPerSec / ceiling;
    console.error(
      `  ingest: ${fmt(EVENTS)} events (${fmt(unique)} distinct) in ${figures.durationSec} s = ${fmt(eventsPerSec)} events/s, ${(share * 100).toFixed(1)} % of the ceiling, ${((eventsPerSec / keyed) * 100).toFixed(1)} % of the keyed reference, ${((eventsPerSec / rolled) * 100).toFixed(1)} % of keyed + rollups`,
    );
    return {
      ...figures,
      headline: { value: eventsPerSec, unit: `events/s = ${(share * 100).toFixed(1)} % of INSERT…SELECT (${fmt(ceiling)} rows/s)`, per: 'events/s' },
    };
  },
};

import { endOfUse } from '../compliance/compliance.sql';
import { DEFAULT_SOURCE } from './usage.rules';

/**
 * The SQL of usage ingestion and rollups. Incremental maintenance (ingest) and the rebuild
 * from scratch (recomputeRollups) share the same grouping expressions, so "what a rollup row
 * holds" is written once.
 */

/** The entitlement id of rollup rows of usage drawn on no entitlement. */
export const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** Advisory-lock class taken shared by every ingest and exclusively by a rollup rebuild. */
export const ROLLUP_LOCK_CLASS = 0x55736167; // "Usag"

/** Hour and day buckets, in UTC (date_bin from a UTC origin does not depend on the session time zone). */
const GRANULARITIES = `(VALUES ('H', interval '1 hour'), ('D', interval '1 day')) AS g(granularity, stride)`;
const bucket = (t: string) => `date_bin(g.stride, ${t}, timestamptz '2000-01-01 00:00:00+00')`;

/** The key columns of usage_rollup (and, with `value`, of usage_unique), in key order. */
const KEY = 'account_id, meter_id, granularity, bucket, entitlement_id, deployment';

/**
 * Rollup rows from a set of events `src` (usage_event or the rows just inserted), grouped by
 * key and sorted by it: concurrent batches lock rollup rows in the same order (no deadlocks).
 * LATEST is the value of the latest occurred_at; equal instants keep the larger value, so the
 * answer does not depend on the order the events arrived in.
 */
function rollupRows(src: string, where = ''): string {
  return `
    SELECT s.account_id, s.meter_id, g.granularity, ${bucket('s.occurred_at')} AS bucket,
           coalesce(s.entitlement_id, '${NIL_UUID}'::uuid) AS entitlement_id, s.deployment,
           sum(s.value) AS sum, count(*) AS count, max(s.value) AS max,
           (array_agg(s.value ORDER BY s.occurred_at DESC, s.value DESC))[1] AS latest_value,
           max(s.occurred_at) AS latest_at
      FROM ${src} s CROSS JOIN ${GRANULARITIES}
     ${where}
     GROUP BY 1, 2, 3, 4, 5, 6
     ORDER BY 1, 2, 3, 4, 5, 6`;
}

/** Distinct values of UNIQUE_COUNT events per rollup key. */
function uniqueRows(src: string, where = ''): string {
  return `
    SELECT DISTINCT s.account_id, s.meter_id, g.granularity, ${bucket('s.occurred_at')} AS bucket,
           coalesce(s.entitlement_id, '${NIL_UUID}'::uuid) AS entitlement_id, s.deployment, s.unique_value AS value
      FROM ${src} s CROSS JOIN ${GRANULARITIES}
     WHERE s.unique_value IS NOT NULL ${where ? `AND ${where}` : ''}
     ORDER BY 1, 2, 3, 4, 5, 6, 7`;
}

/**
 * One statement per batch: insert the events exactly once (their idempotency keys go into
 * usage_event_key first, ON CONFLICT DO NOTHING; only the events whose key was inserted go
 * into the partitioned usage_event, ADR 0053) with the entitlement each draws on, and add exactly the
 * inserted rows to the hourly and daily rollups and distinct values. Answers the batch
 * positions (`i`) of the events that were not inserted (already stored: duplicates or
 * conflicts) with the stored content hash (`h`), or null when the stored row was committed by
 * a concurrent batch after this statement's snapshot (STORED_HASHES_SQL then reads it).
 *
 * $1 is a JSON array of events { i: position, a: account, s: source (null = default),
 * e: event id, k: meter (1-based index into $2 meter ids and $3 their feature keys),
 * q: quantity, v: value (null = the quantity), u: unique value, t: occurred_at,
 * d: deployment, usr, dev, p: properties, h: content hash, n: entitlement }. PostgreSQL parses the JSON in
 * one go, cheaper than binding fifteen arrays; absent keys are nulls, so defaults cost nothing.
 *
 * Attribution: `n` is the entitlement the event draws on, chosen in the hub from the
 * candidates CANDIDATES_SQL read in the same transaction just before (see chooseEntitlement,
 * ADR 0060); an event of a meter with a feature and no `n` is stored as unentitled.
 */
export const INGEST_SQL = `
WITH ev AS (
  SELECT x.i, x.a, coalesce(x.s, '${DEFAULT_SOURCE}') AS s, x.e, ($2::uuid[])[x.k] AS m, ($3::text[])[x.k] AS f,
         x.q, coalesce(x.v, x.q) AS v, x.u, x.t, x.d, x.usr, x.dev, x.p, x.h, x.n
    FROM json_to_recordset($1::json) AS x(i int, a uuid, s text, e text, k int, q numeric, v numeric, u text,
                                          t timestamptz, d text, usr text, dev text, p jsonb, h text, n uuid)
),
keys AS (
  INSERT INTO usage_event_key (account_id, source, event_id, occurred_at, content_hash)
  SELECT ev.a, ev.s, ev.e, ev.t, ev.h FROM ev ORDER BY ev.a, ev.s, ev.e
  ON CONFLICT (account_id, source, event_id) DO NOTHING
  RETURNING account_id, source, event_id
),
ins AS (
  INSERT INTO usage_event (account_id, source, event_id, meter_id, entitlement_id, feature_key, quantity, value, unique_value,
                           occurred_at, deployment, user_id, device, properties, content_hash, unentitled)
  SELECT ev.a, ev.s, ev.e, ev.m, ev.n, ev.f, ev.q, ev.v, ev.u, ev.t, ev.d, ev.usr, ev.dev, ev.p, ev.h, ev.f IS NOT NULL AND ev.n IS NULL
    FROM ev JOIN keys k ON k.account_id = ev.a AND k.source = ev.s AND k.event_id = ev.e
  RETURNING account_id, source, event_id, meter_id, entitlement_id, deployment, occurred_at, value, unique_value
),
rollup AS (
  INSERT INTO usage_rollup AS r (${KEY}, sum, count, max, latest_value, latest_at)
  ${rollupRows('ins')}
  ON CONFLICT (${KEY}) DO UPDATE SET
    sum = r.sum + excluded.sum,
    count = r.count + excluded.count,
    max = greatest(r.max, excluded.max),
    latest_value = CASE WHEN r.latest_at IS NULL OR (excluded.latest_at, excluded.latest_value) > (r.latest_at, r.latest_value)
                        THEN excluded.latest_value ELSE r.latest_value END,
    latest_at = greatest(r.latest_at, excluded.latest_at),
    updated_at = now()
),
uniq AS (
  INSERT INTO usage_unique (${KEY}, value)
  ${uniqueRows('ins')}
  ON CONFLICT DO NOTHING
)
SELECT n.i, (SELECT u.content_hash FROM usage_event_key u WHERE u.account_id = n.a AND u.source = n.s AND u.event_id = n.e) AS h
  FROM ev n
 WHERE NOT EXISTS (SELECT 1 FROM keys WHERE keys.account_id = n.a AND keys.source = n.s AND keys.event_id = n.e)`;

/**
 * The entitlements the batch's usage may draw on, for the (account, feature) pairs it names
 * ($1 account ids, $2 feature keys, pairwise): every entitlement of the account granting the
 * feature, except one cancelled outright (stored CANCELLED with its end still ahead: a removed
 * order line), which never takes usage. Suspended ones still count (the usage happened;
 * compliance flags it). Instants as microseconds since the epoch (exact; null: no end):
 * `start` the term's start, `term_end` its end, `use_end` the end of use (grace included,
 * none after an early end). chooseEntitlement picks one per event. One index probe per pair
 * (entitlement_feature_check_idx), not one per event and candidate (ADR 0060).
 */
export const CANDIDATES_SQL = `
SELECT ef.account_id AS a, ef.feature_key AS f, e.id, e.status = 'SUSPENDED' AS suspended,
       (extract(epoch FROM e.starts_at) * 1000000)::bigint::text AS start,
       (extract(epoch FROM e.ends_at) * 1000000)::bigint::text AS term_end,
       (extract(epoch FROM ${endOfUse('e')}) * 1000000)::bigint::text AS use_end
  FROM unnest($1::uuid[], $2::text[]) AS p(a, f)
  JOIN entitlement_feature ef ON ef.account_id = p.a AND ef.feature_key = p.f
  JOIN entitlement e ON e.id = ef.entitlement_id
 WHERE NOT (e.status = 'CANCELLED' AND coalesce(e.ends_at, 'infinity') > now())`;

/** The stored content hash of events not inserted, read in a new statement: it sees what concurrent batches committed meanwhile. */
export const STORED_HASHES_SQL = `
SELECT x.i, u.content_hash
  FROM json_to_recordset($1::json) AS x(i int, a uuid, s text, e text)
  JOIN usage_event_key u ON u.account_id = x.a AND u.source = x.s AND u.event_id = x.e`;

/**
 * What a batch needs before its insert, in one round trip: the shared rollup lock (a rebuild
 * waits for in-flight batches and holds new ones), the meters named (key-share locked, as a
 * foreign key would: a meter cannot be deleted under a batch, see the migration's guard), the
 * accounts named by id (those not known to exist already) and by external reference.
 */
export const LOOKUP_SQL = `
SELECT pg_advisory_xact_lock_shared(${ROLLUP_LOCK_CLASS}, 0)::text AS locked,
  (SELECT coalesce(json_agg(json_build_object('id', mm.id, 'key', mm.key, 'aggregation', mm.aggregation,
                                              'valueProperty', mm.value_property, 'featureKey', mm.feature_key)), '[]')
     FROM (SELECT m.id, m.key, m.aggregation, m.value_property, f.key AS feature_key
             FROM meter m LEFT JOIN feature f ON f.id = m.feature_id
            WHERE m.key = ANY($1::text[])
              FOR KEY SHARE OF m) mm) AS meters,
  (SELECT coalesce(json_agg(a.id), '[]') FROM account a WHERE a.id = ANY($2::uuid[])) AS accounts,
  (SELECT coalesce(json_agg(json_build_object('system', r.system, 'object', r.object, 'externalId', r.external_id, 'accountId', r.entity_id)), '[]')
     FROM unnest($3::text[], $4::text[], $5::text[]) AS k(system, object, external_id)
     JOIN external_ref r ON r.system = k.system AND r.object = k.object AND r.external_id = k.external_id AND r.entity_type = 'ACCOUNT') AS refs`;

/** Rebuild: drop the rollups of the accounts ($1 uuid[], null = all) and recompute them from usage_event. */
export const RECOMPUTE_SQL = {
  lock: `SELECT pg_advisory_xact_lock(${ROLLUP_LOCK_CLASS}, 0)`,
  /** The oldest rollup of the accounts from before the events retention kept (none: bucket null). */
  droppedRollups: `SELECT r.kept_from, (SELECT min(u.bucket) FROM usage_rollup u
                     WHERE u.bucket < r.kept_from AND ($1::uuid[] IS NULL OR u.account_id = ANY($1::uuid[]))) AS bucket
                     FROM usage_retention r`,
  deleteRollups: `DELETE FROM usage_rollup WHERE $1::uuid[] IS NULL OR account_id = ANY($1::uuid[])`,
  deleteUnique: `DELETE FROM usage_unique WHERE $1::uuid[] IS NULL OR account_id = ANY($1::uuid[])`,
  insertRollups: `WITH w AS (INSERT INTO usage_rollup (${KEY}, sum, count, max, latest_value, latest_at)
    ${rollupRows('usage_event', 'WHERE $1::uuid[] IS NULL OR s.account_id = ANY($1::uuid[])')}
    RETURNING 1) SELECT count(*)::int AS n FROM w`,
  insertUnique: `WITH w AS (INSERT INTO usage_unique (${KEY}, value)
    ${uniqueRows('usage_event', '($1::uuid[] IS NULL OR s.account_id = ANY($1::uuid[]))')}
    RETURNING 1) SELECT count(*)::int AS n FROM w`,
};

/** The rollups a rebuild would write, without writing them (for checks: compare with the stored ones). */
export const EXPECTED_ROLLUPS_SQL = rollupRows('usage_event', 'WHERE $1::uuid[] IS NULL OR s.account_id = ANY($1::uuid[])');
export const EXPECTED_UNIQUE_SQL = uniqueRows('usage_event', '($1::uuid[] IS NULL OR s.account_id = ANY($1::uuid[]))');

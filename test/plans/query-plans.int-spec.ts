import { PostgresQueryRunner } from 'typeorm/driver/postgres/PostgresQueryRunner';
import { Db } from '../../src/db/db';
import { startTestHub, type TestHub } from '../support/test-hub';
import { createAccount, day, grant, seedLicensingCatalog } from '../licensing/licensing-support';
import { seedUsageCatalog } from '../usage/usage-support';
import { resetSyncPushCache } from '../../src/sync/sync-outbox';

/**
 * Query plans of the hot paths (issue 15): every statement a hot operation really sends is
 * captured as sent (SQL and parameters), then EXPLAINed with sequential scans disabled. A
 * `Seq Scan` left on one of the tables that grow means no index can serve that statement:
 * on a large table it would read every row. (With `enable_seqscan = off` the planner takes any
 * usable index, whatever the table's size now, so the test needs no million-row fixture.)
 */
const GROWING = new Set(['entitlement', 'entitlement_feature', 'entitlement_event', 'activation', 'seat', 'lease', 'consumption', 'consumption_balance', 'usage_event', 'usage_rollup', 'order_line', 'sales_order']);

let hub: TestHub;
let captured: { sql: string; params: unknown[] }[] | null = null;
const original = PostgresQueryRunner.prototype.query;

beforeAll(async () => {
  hub = await startTestHub();
  await seedLicensingCatalog(hub);
  jest.spyOn(PostgresQueryRunner.prototype, 'query').mockImplementation(function (this: PostgresQueryRunner, sql: string, params?: unknown[] | object, ...rest: unknown[]) {
    captured?.push({ sql, params: Array.isArray(params) ? params : [] });
    return (original as (...a: unknown[]) => Promise<unknown>).call(this, sql, params, ...rest) as never;
  });
  // The licensing hot path sends named prepared statements straight to the pool.
  const prepared = Db.prototype.preparedQuery;
  jest.spyOn(Db.prototype, 'preparedQuery').mockImplementation(function (this: Db, name: string, text: string, values: unknown[]) {
    captured?.push({ sql: text, params: values });
    return prepared.call(this, name, text, values) as never;
  });
});
afterAll(async () => {
  jest.restoreAllMocks();
  await hub?.close();
});

/** The statements `fn` sends (its own, not the test's). */
async function statementsOf(fn: () => Promise<unknown>): Promise<{ sql: string; params: unknown[] }[]> {
  captured = [];
  try {
    await fn();
    return captured;
  } finally {
    captured = null;
  }
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

/** Whole-table reads of growing tables: sequential scans, and index scans with no index condition (the whole index in order). */
function seqScans(node: PlanNode, out: string[] = []): string[] {
  // A partition of usage_event (ADR 0053) counts as the growing table it is part of.
  const rel = node['Relation Name']?.replace(/^usage_event_(p\d{6}|default)$/, 'usage_event');
  if (rel && GROWING.has(rel)) {
    if (node['Node Type'] === 'Seq Scan') out.push(`Seq Scan on ${rel}`);
    if ((node['Node Type'] === 'Index Scan' || node['Node Type'] === 'Index Only Scan') && !node['Index Cond']) out.push(`full ${node['Index Name']} on ${rel}`);
  }
  for (const p of node.Plans ?? []) seqScans(p, out);
  return out;
}

const PLANNABLE = /^\s*(WITH|SELECT|INSERT|UPDATE|DELETE)\b/i;

/** The plan of every statement of `fn` (EXPLAINed with sequential scans disabled). */
async function plansOf(fn: () => Promise<unknown>): Promise<{ plan: PlanNode; statement: string }[]> {
  const stmts = (await statementsOf(fn)).filter((s) => PLANNABLE.test(s.sql));
  expect(stmts.length).toBeGreaterThan(0);
  const found: { plan: PlanNode; statement: string }[] = [];
  const runner = hub.ds.createQueryRunner();
  try {
    await runner.connect();
    for (const s of stmts) {
      await runner.query('BEGIN');
      try {
        await runner.query('SET LOCAL enable_seqscan = off');
        const [row] = await original.call(runner, `EXPLAIN (FORMAT JSON) ${s.sql}`, s.params);
        const plan = (row as { 'QUERY PLAN': { Plan: PlanNode }[] })['QUERY PLAN'][0]!.Plan;
        found.push({ plan, statement: s.sql.replace(/\s+/g, ' ').slice(0, 300) });
      } finally {
        await runner.query('ROLLBACK');
      }
    }
  } finally {
    await runner.release();
  }
  return found;
}

/** Every growing table a statement of `fn` would read whole. */
async function fullScans(fn: () => Promise<unknown>): Promise<{ scans: string[]; statement: string }[]> {
  return (await plansOf(fn)).map(({ plan, statement }) => ({ scans: seqScans(plan), statement })).filter((f) => f.scans.length > 0);
}

/** The partitions of usage_event a plan reads. */
function partitionsIn(node: PlanNode, out = new Set<string>()): Set<string> {
  const rel = node['Relation Name'];
  if (rel && /^usage_event_(p\d{6}|default)$/.test(rel)) out.add(rel);
  for (const p of node.Plans ?? []) partitionsIn(p, out);
  return out;
}

describe('hot statements use an index on every growing table', () => {
  let account: string;
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    account = await createAccount(hub, 'Plans');
    for (const sku of ['L-PERP', 'L-DEV', 'L-SEAT', 'L-FLOAT', 'L-METER']) ids[sku] = await grant(hub, account, { sku, quantity: 5, startDate: day(-40) });
    await hub.ok('mutation($e: ID!) { activateDevice(entitlementId: $e, fingerprint: "plan-dev-0") { id } }', { e: ids['L-DEV'] });
    await hub.ok('mutation($e: ID!) { assignSeat(entitlementId: $e, email: "p0@plans.example") { id } }', { e: ids['L-SEAT'] });
  });

  const cases: [string, () => Promise<unknown>][] = [
    ['check (feature)', () => hub.ok('query($a: ID!) { check(accountId: $a, feature: "lic.core") { allowed code } }', { a: account })],
    ['check (device)', () => hub.ok('query($a: ID!) { check(accountId: $a, feature: "lic.device", deviceFingerprint: "plan-dev-0") { allowed code } }', { a: account })],
    ['consume', () => hub.ok('mutation($a: ID!, $k: String!) { consume(input: { accountId: $a, feature: "lic.api", quantity: 1, idempotencyKey: $k }) { allowed } }', { a: account, k: `plan-${Date.now()}` })],
    ['activateDevice', () => hub.ok('mutation($e: ID!) { activateDevice(entitlementId: $e, fingerprint: "plan-dev-1") { id } }', { e: ids['L-DEV'] })],
    ['assignSeat', () => hub.ok('mutation($e: ID!) { assignSeat(entitlementId: $e, email: "p1@plans.example") { id } }', { e: ids['L-SEAT'] })],
    ['checkoutLease + heartbeatLease', async () => {
      const d = await hub.ok<{ checkoutLease: { id: string } }>('mutation($e: ID!) { checkoutLease(entitlementId: $e, holder: "plan-host") { id } }', { e: ids['L-FLOAT'] });
      await hub.ok('mutation($l: ID!) { heartbeatLease(leaseId: $l) { id } }', { l: d.checkoutLease.id });
    }],
    ['utilization (activation, seat and lease history)', () => hub.ok('query($a: ID!) { utilization(accountId: $a, periods: 3) { featureKey } }', { a: account })],
    ['unusedEntitlements', () => hub.ok('query($a: ID!) { unusedEntitlements(accountId: $a) { totalCount } }', { a: account })],
    ['adoption (entitlements by product)', async () => {
      const [p] = await hub.ds.query(`SELECT id FROM product WHERE sku = 'L-PERP'`);
      return hub.ok('query($p: ID!, $f: DateTimeISO!, $t: DateTimeISO!) { adoption(productId: $p, from: $f, to: $t) { productId } }', { p: p.id, f: `${day(-30)}T00:00:00Z`, t: new Date().toISOString() });
    }],
  ];

  it.each(cases)('%s', async (_name, fn) => {
    expect(await fullScans(fn)).toEqual([]);
  });

  it('fulfilment with a push connection: the sync marks find entitlement events by order line', async () => {
    const [conn]: { id: string }[] = await hub.ds.query(
      `INSERT INTO sync_connection (name, type, enabled, pull_enabled, push_enabled, ref_system, order_source)
       VALUES ('plans-push', 'salesforce', false, false, true, 'salesforce', 'plans') RETURNING id`,
    );
    resetSyncPushCache();
    try {
      const statements = await statementsOf(() => grant(hub, account, { sku: 'L-PERP', quantity: 1, startDate: day(-1) }));
      // The marks statement was sent (else this test proves nothing), and reads no table whole.
      expect(statements.some((s) => /INSERT INTO sync_outbox/.test(s.sql) && /entitlement_event/.test(s.sql))).toBe(true);
      expect(await fullScans(() => grant(hub, account, { sku: 'L-PERP', quantity: 1, startDate: day(-1) }))).toEqual([]);
    } finally {
      await hub.ds.query('DELETE FROM sync_outbox WHERE connection_id = $1', [conn!.id]);
      await hub.ds.query('DELETE FROM sync_connection WHERE id = $1', [conn!.id]);
      resetSyncPushCache();
    }
  });
});

describe('indexes', () => {
  it('no table carries two indexes on the same columns (each is written on every insert)', async () => {
    const dup: { table: string; indexes: string[] }[] = await hub.ds.query(
      `SELECT indrelid::regclass::text AS table, array_agg(indexrelid::regclass::text ORDER BY indexrelid::regclass::text) AS indexes
         FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public'
        GROUP BY indrelid, indkey::text, coalesce(pg_get_expr(indexprs, indrelid), ''), coalesce(pg_get_expr(indpred, indrelid), ''), indclass::text
       HAVING count(*) > 1`,
    );
    expect(dup).toEqual([]);
  });
});

describe('usage_event partitions (ADR 0053): hot usage statements read only their window', () => {
  let account: string;
  const monthStart = (back: number) => {
    const d = new Date();
    return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - back, 1));
  };
  const part = (d: Date) => `usage_event_p${d.toISOString().slice(0, 4)}${d.toISOString().slice(5, 7)}`;
  beforeAll(async () => {
    await seedUsageCatalog(hub);
    account = await createAccount(hub, 'Partition plans');
    // A year of monthly partitions, each holding events.
    const events = [];
    for (let m = 0; m < 12; m++) {
      await hub.ds.query(`SELECT usage_event_ensure_partition($1::date)`, [monthStart(m).toISOString().slice(0, 10)]);
      const at = m === 0 ? new Date(Date.now() - 60_000) : new Date(monthStart(m).getTime() + 5 * 86_400_000);
      events.push({ id: `plan-${m}`, accountId: account, meter: 'u.calls', quantity: 1, occurredAt: at.toISOString(), deployment: 'CLOUD', user: `u${m}` });
    }
    await hub.ok('mutation($e: [UsageEventInput!]!) { recordUsage(events: $e) { accepted } }', { e: events });
    await hub.ds.query('ANALYZE usage_event');
  });

  it('ingest reads no partition (exactly-once answers come from usage_event_key) and scans nothing whole', async () => {
    const ingest = () =>
      hub.ok('mutation($e: [UsageEventInput!]!) { recordUsage(events: $e) { accepted } }', {
        e: [{ id: `plan-new-${Date.now()}`, accountId: account, meter: 'u.calls', quantity: 1, occurredAt: new Date(Date.now() - 30_000).toISOString(), deployment: 'CLOUD' }],
      });
    const plans = await plansOf(ingest);
    const read = new Set(plans.flatMap(({ plan }) => [...partitionsIn(plan)]));
    expect([...read]).toEqual([]);
    expect(plans.flatMap(({ plan }) => seqScans(plan))).toEqual([]);
  });

  it('the ingest statement does work in proportion to its batch, not to its square (ADR 0058); attribution reads each (account, feature) once (ADR 0060)', async () => {
    // Ten accounts, each entitled to the meter's feature: every event of the batch is attributed.
    const accounts: string[] = [];
    for (let a = 0; a < 10; a++) {
      const id = await createAccount(hub, `Linear ${a}`);
      await grant(hub, id, { sku: 'U-API', startDate: day(-10), endDate: day(30) });
      accounts.push(id);
    }
    const BATCH = 1_000;
    const events = (tag: string) =>
      Array.from({ length: BATCH }, (_, i) => ({
        id: `linear-${tag}-${i}`,
        accountId: accounts[i % accounts.length],
        meter: 'u.calls',
        quantity: 1,
        occurredAt: new Date(Date.now() - (i % 600) * 1000).toISOString(),
        deployment: 'CLOUD',
      }));
    const sent = await statementsOf(() => hub.ok('mutation($e: [UsageEventInput!]!) { recordUsage(events: $e) { accepted } }', { e: events('sent') }));
    const ingest = sent.find((s) => /^\s*WITH ev AS/.test(s.sql));
    expect(ingest).toBeDefined();
    // The same statement with event ids not stored yet, analysed and rolled back.
    const rows = JSON.parse(ingest!.params[0] as string) as { e: string; n?: string }[];
    expect(rows).toHaveLength(BATCH);
    // Each event arrives with its entitlement, chosen in the hub from the candidates (ADR 0060)
    // read once per (account, feature): 10 pairs here, not 1,000 events.
    expect(rows.every((r) => typeof r.n === 'string')).toBe(true);
    const candidates = sent.filter((s) => s.sql.includes('AS p(a, f)'));
    expect(candidates).toHaveLength(1);
    expect((candidates[0]!.params[0] as string[]).length).toBe(accounts.length);
    for (const r of rows) r.e = `${r.e}-again`;
    interface Analysed extends PlanNode {
      'Actual Rows': number;
      'Actual Loops': number;
      Plans?: Analysed[];
    }
    const runner = hub.ds.createQueryRunner();
    let plan: Analysed;
    try {
      await runner.connect();
      await runner.query('BEGIN');
      const [row] = await original.call(runner, `EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) ${ingest!.sql}`, [JSON.stringify(rows), ...ingest!.params.slice(1)]);
      plan = (row as { 'QUERY PLAN': { Plan: Analysed }[] })['QUERY PLAN'][0]!.Plan;
    } finally {
      await runner.query('ROLLBACK');
      await runner.release();
    }
    // Rows produced by every node, over all its executions: a nested loop re-reading a
    // batch-sized set per event would produce ~BATCH² (500,000 here).
    const visited = (n: Analysed): number => n['Actual Rows'] * n['Actual Loops'] + (n.Plans ?? []).reduce((t, c) => t + visited(c), 0);
    const attributed = (n: Analysed): number =>
      (n['Node Type'] === 'Index Scan' && n['Relation Name'] === 'entitlement' ? n['Actual Rows'] * n['Actual Loops'] : 0) + (n.Plans ?? []).reduce((t, c) => t + attributed(c), 0);
    expect(attributed(plan)).toBe(0);
    expect(visited(plan)).toBeLessThan(40 * BATCH);
    // The candidates' statement, with sequential scans off as for the other plans (the tables are small here).
    const candPlan = await hub.ds.transaction(async (m) => {
      await m.query('SET LOCAL enable_seqscan = off');
      const [cand] = await m.query(`EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) ${candidates[0]!.sql}`, candidates[0]!.params);
      return (cand as { 'QUERY PLAN': { Plan: Analysed }[] })['QUERY PLAN'][0]!.Plan;
    });
    expect(seqScans(candPlan)).toEqual([]);
    expect(attributed(candPlan)).toBe(accounts.length);
  });

  it('usageSeries from events (by user, last 29 days) reads only the partitions of those days, through an index', async () => {
    // 29 days back to an hour ahead: whole UTC days, that is at most 31, even when the hour
    // ahead crosses midnight (30 days failed between 23:00 and 24:00 UTC: 32 days, over the limit).
    const from = new Date(Date.now() - 29 * 86_400_000);
    const series = () =>
      hub.ok(
        'query($f: UsageSeriesFilter, $from: DateTimeISO!, $to: DateTimeISO!) { usageSeries(filter: $f, from: $from, to: $to, granularity: DAY, groupBy: [USER]) { aggregation } }',
        { f: { accountId: account, meter: 'u.calls' }, from: from.toISOString(), to: new Date(Date.now() + 3_600_000).toISOString() },
      );
    const plans = await plansOf(series);
    const read = new Set(plans.flatMap(({ plan }) => [...partitionsIn(plan)]));
    const window = new Set([part(monthStart(0)), part(monthStart(1)), part(from)]);
    expect(read.size).toBeGreaterThan(0);
    for (const p of read) expect(window).toContain(p);
    expect(read).not.toContain('usage_event_default');
    expect(plans.flatMap(({ plan }) => seqScans(plan))).toEqual([]);
  });
});

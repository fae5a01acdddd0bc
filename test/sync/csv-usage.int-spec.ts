import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { systemContext } from '../../src/common/context';
import { gqlError, startTestHub, type TestHub } from '../support/test-hub';
import { seedUsageCatalog } from '../usage/usage-support';

/**
 * Usage from CSV files (the csv connector's `usage` object) through the hub's usage ingest:
 * what the hub holds afterwards equals sums computed here from the rows written, a file read
 * again records nothing, bad rows are listed with row, column and code while the good ones
 * apply, and a customer the connection never linked is NO_ACCOUNT_LINK.
 */

const CREATE = 'mutation($i: CreateSyncConnectionInput!) { createSyncConnection(input: $i) { id } }';
const RUN_FIELDS = 'id object status read created updated unchanged failed cursorTo errors { record row column code message }';

interface Run {
  id: string;
  object: string;
  status: string;
  read: number;
  created: number;
  unchanged: number;
  failed: number;
  cursorTo: string | null;
  errors: { record: string | null; row: number | null; column: string | null; code: string; message: string }[];
}

/** The file's header, with the event id column under a mapped name (options.columns.usage.eventId). */
const HEADER = 'Event No,customer_id,sku,metric,quantity,occurred_at,user_id,device_id,deployment';
const CUSTOMERS = ['C1', 'C2', 'C3', 'C4', 'C5'];
const GOOD = 240;

interface Good {
  id: string;
  customer: string;
  metric: 'u.calls' | 'u.misc';
  /** Tenths: the quantity written is tenths / 10, so sums are exact integers here. */
  tenths: number;
  day: string;
}

/** GOOD usage rows over five customers and two meters, a few days back; quantities with one decimal. */
function goodRows(now: number): Good[] {
  const rows: Good[] = [];
  for (let i = 0; i < GOOD; i++) {
    const at = new Date(now - (2 + (i % 3)) * 86_400_000 - (i % 24) * 3_600_000);
    rows.push({ id: `EV-${i}`, customer: CUSTOMERS[i % 5]!, metric: i % 4 === 0 ? 'u.misc' : 'u.calls', tenths: 1 + ((i * 7) % 55), day: at.toISOString() });
  }
  return rows;
}

const line = (g: Good) => `${g.id},${g.customer},${g.metric === 'u.calls' ? 'U-API' : ''},${g.metric},${Math.floor(g.tenths / 10)}.${g.tenths % 10},${g.day},user-${g.tenths % 6},,${g.tenths % 2 ? 'cloud' : ''}`;

describe('CSV usage import (csv connector, usage object)', () => {
  let hub: TestHub;
  let dir: string;
  let connectionId: string;
  let good: Good[];
  let file: string;

  const upload = async (object: string, body: string) => {
    const res = await fetch(`${hub.url}/v1/imports/erp/${object}?wait=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${hub.adminKey}`, 'content-type': 'text/csv' },
      body,
    });
    return { status: res.status, body: (await res.json()) as { duplicate?: boolean; file?: { sha256: string }; run?: Run | null } };
  };
  /** Sums and counts per customer and meter, read from the hub's events (by the connection's source) and, separately, from its daily rollups. */
  const held = async () => {
    const events: { customer: string; meter: string; n: number; sum: string }[] = await hub.ds.query(
      `SELECT r.external_id AS customer, m.key AS meter, count(*)::int AS n, trim_scale(sum(e.quantity))::text AS sum
         FROM usage_event e JOIN meter m ON m.id = e.meter_id
         JOIN external_ref r ON r.entity_id = e.account_id AND r.entity_type = 'ACCOUNT' AND r.system = 'csv'
        WHERE e.source = $1 GROUP BY 1, 2 ORDER BY 1, 2`,
      [`sync:${connectionId}`],
    );
    const rollups: { customer: string; meter: string; n: number; sum: string }[] = await hub.ds.query(
      `SELECT r.external_id AS customer, m.key AS meter, sum(u.count)::int AS n, trim_scale(sum(u.sum))::text AS sum
         FROM usage_rollup u JOIN meter m ON m.id = u.meter_id
         JOIN external_ref r ON r.entity_id = u.account_id AND r.entity_type = 'ACCOUNT' AND r.system = 'csv'
        WHERE u.granularity = 'D' GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    const [{ total }] = await hub.ds.query('SELECT count(*)::int AS total FROM usage_event');
    return { events, rollups, total: total as number };
  };
  /** The same figures computed from the rows this test wrote. */
  const expected = () => {
    const by = new Map<string, { customer: string; meter: string; n: number; tenths: number }>();
    for (const g of good) {
      const k = `${g.customer}|${g.metric}`;
      const e = by.get(k) ?? { customer: g.customer, meter: g.metric, n: 0, tenths: 0 };
      e.n++;
      e.tenths += g.tenths;
      by.set(k, e);
    }
    return [...by.values()]
      .sort((a, b) => (a.customer + a.meter < b.customer + b.meter ? -1 : 1))
      .map((e) => ({ customer: e.customer, meter: e.meter, n: e.n, sum: e.tenths % 10 ? `${Math.floor(e.tenths / 10)}.${e.tenths % 10}` : String(e.tenths / 10) }));
  };

  beforeAll(async () => {
    hub = await startTestHub();
    dir = await mkdtemp(join(tmpdir(), 'ehub-csv-usage-'));
    await seedUsageCatalog(hub);
    connectionId = (
      await hub.ok<{ createSyncConnection: { id: string } }>(CREATE, {
        i: { name: 'erp', type: 'csv', options: { inboxDir: join(dir, 'in'), pageSize: 50, columns: { usage: { eventId: 'Event No' } } } },
      })
    ).createSyncConnection.id;
    const customers = ['customer_id,name', ...CUSTOMERS.map((c) => `${c},Customer ${c}`)].join('\n');
    expect((await upload('accounts', customers)).body.run).toMatchObject({ status: 'SUCCEEDED', created: 5 });
  });
  afterAll(async () => {
    await hub?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('refuses a usage column mapping that is not a column of the usage file', async () => {
    const res = await hub.gql(CREATE, { i: { name: 'erp-bad', type: 'csv', options: { inboxDir: join(dir, 'x'), columns: { usage: { meter: 'm' } }, defaultDeployment: 'MOON' } } });
    const fields = ((gqlError(res).fields ?? []) as { path: string }[]).map((f) => f.path).sort();
    expect(fields).toEqual(['input.options.columns.usage.meter', 'input.options.defaultDeployment']);
  });

  it('imports a usage file through the usage ingest: good rows apply, bad rows are listed with row, column and code, an unknown customer is NO_ACCOUNT_LINK', async () => {
    good = goodRows(Date.now());
    const rows = [HEADER, ...good.map(line)];
    const at = new Date(Date.now() - 86_400_000).toISOString();
    // Rows 242–246: malformed (each refused alone by the connector).
    rows.push(`BAD-1,C1,U-API,u.calls,-3,${at},,,`); // 242 negative quantity
    rows.push(`BAD-2,C1,U-API,u.calls,1,2026-11-01,,,`); // 243 no time
    rows.push(`BAD-3,C2,U-API,,1,${at},,,`); // 244 no metric
    rows.push(`BAD-4,C3,,u.misc,1,${at},,,MOON`); // 245 unknown deployment
    rows.push(`BAD-5,C4,,u.misc,1,${at}`); // 246 too few cells
    // Well-formed, refused by the hub: a customer never imported, a meter that does not exist.
    rows.push(`NOLINK-1,C99,,u.misc,2,${at},,,`);
    rows.push(`NOMETER-1,C1,,u.nothing,2,${at},,,`);
    file = rows.join('\n') + '\n';

    const res = await upload('usage', file);
    expect(res.status).toBe(200);
    const run = res.body.run!;
    expect(run).toMatchObject({ object: 'usage', status: 'PARTIAL', read: GOOD + 2, created: GOOD, unchanged: 0, failed: 7 });
    const byRow = run.errors.filter((e) => e.row != null).map((e) => [e.row, e.column, e.code]);
    expect(byRow).toEqual([
      [242, 'quantity', 'INVALID_QUANTITY'],
      [243, 'occurred_at', 'INVALID_TIMESTAMP'],
      [244, 'metric', 'MISSING_VALUE'],
      [245, 'deployment', 'INVALID_DEPLOYMENT'],
      [246, null, 'ROW_COLUMN_COUNT'],
    ]);
    expect(run.errors.find((e) => e.record === 'NOLINK-1')).toMatchObject({ code: 'NO_ACCOUNT_LINK' });
    expect(run.errors.find((e) => e.record === 'NOMETER-1')).toMatchObject({ code: 'UNKNOWN_METER' });

    // The hub's events and its daily rollups both equal the sums of the good rows.
    const h = await held();
    expect(h.events).toEqual(expected());
    expect(h.rollups).toEqual(expected());
    expect(h.total).toBe(GOOD);
    // What the row said is kept: the sku, the user, the deployment (default CLOUD).
    const [ev] = await hub.ds.query(`SELECT user_id, deployment, properties FROM usage_event WHERE event_id = 'EV-1'`);
    expect(ev).toEqual({ user_id: `user-${good[1]!.tenths % 6}`, deployment: 'CLOUD', properties: { sku: 'U-API' } });
  });

  it('records nothing new when the same file comes again (upload) or is read again from the start, and shows progress in syncRuns', async () => {
    const before = await held();
    const again = await upload('usage', file);
    expect(again).toMatchObject({ status: 200, body: { duplicate: true, run: null } });

    await hub.ok('mutation($c: ID!) { resetSyncCursor(connectionId: $c, object: "usage") }', { c: connectionId });
    const seen: Promise<{ status: string; read: number }[]>[] = [];
    const [reread] = await hub.services.sync.runSync(systemContext(pino({ level: 'silent' }), 'test:csv-usage'), connectionId, {
      objects: ['usage'],
      push: false,
      onProgress: (p) => {
        if (p.phase === 'pull' && seen.length === 0) seen.push(hub.ds.query(`SELECT status, read FROM sync_run WHERE object = 'usage' ORDER BY started_at DESC LIMIT 1`));
      },
    });
    expect(reread).toMatchObject({ object: 'usage', status: 'PARTIAL', read: GOOD + 2, created: 0, unchanged: GOOD, failed: 7 });
    const [progress] = await seen[0]!;
    expect(progress!.status).toBe('RUNNING');
    expect(progress!.read).toBeGreaterThan(0);
    expect(progress!.read).toBeLessThan(GOOD + 2);
    expect(await held()).toEqual(before);

    const runs = (await hub.ok<{ syncRuns: { edges: { node: Run }[] } }>(`{ syncRuns(first: 10) { edges { node { ${RUN_FIELDS} } } } }`)).syncRuns.edges.map((e) => e.node);
    expect(runs.filter((r) => r.object === 'usage').map((r) => [r.created, r.unchanged, r.failed])).toEqual([
      [0, GOOD, 7],
      [GOOD, 0, 7],
    ]);
  });

  it('a row whose id was used for other content is a CONFLICT, not a second count', async () => {
    const before = await held();
    const g = good[3]!;
    const res = await upload('usage', `${HEADER}\n${line({ ...g, tenths: g.tenths + 1 })}\n`);
    expect(res.body.run).toMatchObject({ status: 'PARTIAL', read: 1, created: 0, failed: 1 });
    expect(res.body.run!.errors.map((e) => [e.record, e.code])).toEqual([[g.id, 'CONFLICT']]);
    expect(await held()).toEqual(before);
  });
});

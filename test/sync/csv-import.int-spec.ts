import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Role } from '../../src/auth/role';
import { systemContext } from '../../src/common/context';
import { gqlError, startTestHub, type TestHub } from '../support/test-hub';
import { seedSkus } from '../support/salesforce';

const CREATE = 'mutation($i: CreateSyncConnectionInput!) { createSyncConnection(input: $i) { id } }';
const RUN_FIELDS = 'id object status read created updated unchanged failed cursorTo errors { record row column code message }';
const MAX_BODY = 300_000;

interface Run {
  id: string;
  object: string;
  status: string;
  read: number;
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
  cursorTo: string | null;
  errors: { record: string | null; row: number | null; column: string | null; code: string; message: string }[];
}

const HEADER = 'order_id,customer_id,order_date,sku,quantity,unit_price,end_date';

/** `orders` orders of `lines` lines each, for customers C1..C20. */
function ordersCsv(orders: number, lines: number, prefix = 'SO'): string[] {
  const rows = [HEADER];
  for (let o = 1; o <= orders; o++) {
    for (let l = 1; l <= lines; l++) rows.push(`${prefix}-${o},C${(o % 20) + 1},2026-01-01,${l % 2 ? 'CSV-A' : 'CSV-B'},${l},100.00,2026-12-31`);
  }
  return rows;
}

describe('CSV import (csv connector)', () => {
  let hub: TestHub;
  let dir: string;
  let connectionId: string;

  const upload = async (object: string, body: string, opts: { key?: string; wait?: boolean; type?: string } = {}) => {
    const res = await fetch(`${hub.url}/v1/imports/csv/${object}${opts.wait === false ? '' : '?wait=true'}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${opts.key ?? hub.adminKey}`, 'content-type': opts.type ?? 'text/csv' },
      body,
    });
    return { status: res.status, body: (await res.json()) as { file?: { sha256: string }; duplicate?: boolean; runId?: string | null; run?: Run | null; errors?: { extensions: { code: string; subCode: string } }[] } };
  };
  /** What an import may change; the audit rows of the operator's own calls (runSync, resetSyncCursor) are left out. */
  const counts = async () => {
    const [r] = await hub.ds.query(
      `SELECT (SELECT count(*)::int FROM entitlement) AS entitlements, (SELECT count(*)::int FROM sales_order) AS orders,
              (SELECT count(*)::int FROM audit_log WHERE entity NOT IN ('Operation', 'SyncConnection')) AS audit, (SELECT count(*)::int FROM account) AS accounts`,
    );
    return r;
  };
  const runSync = async (objects: string[], full = false): Promise<Run[]> =>
    (await hub.ok<{ runSync: Run[] }>(`mutation($c: ID!, $o: [String!], $f: Boolean!) { runSync(connectionId: $c, objects: $o, full: $f, push: false) { ${RUN_FIELDS} } }`, { c: connectionId, o: objects, f: full })).runSync;

  beforeAll(async () => {
    hub = await startTestHub({ EHUB_IMPORT_MAX_BODY_BYTES: String(MAX_BODY) });
    dir = await mkdtemp(join(tmpdir(), 'ehub-csv-it-'));
    await seedSkus(hub, ['CSV-A', 'CSV-B']);
  });
  afterAll(async () => {
    await hub?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('refuses invalid options with one field error per problem', async () => {
    const e = gqlError(await hub.gql(CREATE, { i: { name: 'csv-bad', type: 'csv', options: { inboxDir: 'inbox', delimiter: ';;', columns: { orders: { qty: 'x' } } } } }));
    expect(e).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'SYNC_CONNECTION_INVALID' });
    expect((e.fields as { path: string }[]).map((f) => f.path).sort()).toEqual(['input.options.columns.orders.qty', 'input.options.delimiter', 'input.options.inboxDir']);
    connectionId = (await hub.ok<{ createSyncConnection: { id: string } }>(CREATE, { i: { name: 'csv', type: 'csv', options: { inboxDir: join(dir, 'in'), outboxDir: join(dir, 'out'), pageSize: 100 } } }))
      .createSyncConnection.id;
  });

  it('imports customers by upload; authenticates, checks roles, types and size', async () => {
    const customers = ['customer_id,name,domain', ...Array.from({ length: 20 }, (_, i) => `C${i + 1},Customer ${i + 1},c${i + 1}.example`)].join('\n');
    expect((await upload('accounts', customers, { key: 'nope' })).status).toBe(401);
    expect((await upload('accounts', customers, { key: await hub.createKey(Role.ANALYST) })).status).toBe(403);
    expect((await upload('invoices', customers)).body.errors?.[0]?.extensions.subCode).toBe('IMPORT_OBJECT_UNKNOWN');
    expect((await upload('accounts', customers, { type: 'application/octet-stream' })).status).toBe(415);
    const big = await upload('accounts', `customer_id,name\n${'C1,x\n'.repeat(MAX_BODY / 5 + 10)}`);
    expect(big.status).toBe(413);
    expect(await counts()).toMatchObject({ accounts: 0 });

    const res = await upload('accounts', customers, { key: await hub.createKey(Role.INTEGRATION) });
    expect(res.status).toBe(200);
    expect(res.body.run).toMatchObject({ object: 'accounts', status: 'SUCCEEDED', read: 20, created: 20, failed: 0 });
    expect(await counts()).toMatchObject({ accounts: 20 });
    // (C21 below)
    // Only the accepted upload is in the inbox, named by its hash.
    expect(await readdir(join(dir, 'in', 'accounts'))).toEqual([`${res.body.file!.sha256}.csv`]);

    // Without ?wait: 202 with the pull's run id, which syncRuns shows until it ends.
    const late = await upload('accounts', 'customer_id,name\nC21,Customer 21\n', { wait: false });
    expect(late).toMatchObject({ status: 202, body: { duplicate: false, runId: expect.any(String) } });
    let run: Run | null = null;
    for (let i = 0; i < 600 && (!run || run.status === 'RUNNING'); i++) {
      if (i) await new Promise((r) => setTimeout(r, 100));
      run = (await hub.ok<{ syncRuns: { edges: { node: Run }[] } }>(`{ syncRuns(first: 5) { edges { node { ${RUN_FIELDS} } } } }`)).syncRuns.edges.map((e) => e.node).find((r) => r.id === late.body.runId) ?? null;
    }
    expect(run).toMatchObject({ object: 'accounts', status: 'SUCCEEDED', read: 1, created: 1 });
  });

  it('applies the good rows of a file with 5 malformed rows and lists the 5 with row, column and code', async () => {
    const rows = ordersCsv(40, 2);
    // Five bad rows, each in an order of its own (so every other order is whole).
    rows.push('BAD-1,C1,2026-01-01,CSV-A,-1,100.00,2026-12-31'); // row 82
    rows.push('BAD-2,C1,2026-13-01,CSV-A,1,100.00,2026-12-31'); // row 83
    rows.push('BAD-3,C1,2026-01-01,CSV-A,1,ten,2026-12-31'); // row 84
    rows.push('BAD-4,C1,2026-01-01,,1,100.00,2026-12-31'); // row 85
    rows.push('BAD-5,C1,2026-01-01,CSV-A,1,100.00'); // row 86
    rows.push(...ordersCsv(3, 1, 'TAIL').slice(1));
    const res = await upload('orders', rows.join('\n') + '\n');
    expect(res.status).toBe(200);
    const run = res.body.run!;
    expect(run).toMatchObject({ object: 'orders', status: 'PARTIAL', read: 43, created: 43, failed: 5 });
    expect(run.errors.map((e) => [e.row, e.column, e.code])).toEqual([
      [82, 'quantity', 'INVALID_QUANTITY'],
      [83, 'order_date', 'INVALID_DATE'],
      [84, 'unit_price', 'INVALID_AMOUNT'],
      [85, 'sku', 'MISSING_VALUE'],
      [86, null, 'ROW_COLUMN_COUNT'],
    ]);
    expect(run.errors[0]!.record).toBe(`orders/${res.body.file!.sha256}.csv`);
    const [o] = await hub.ds.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE external_id LIKE 'BAD-%')::int AS bad FROM sales_order WHERE source = 'csv'`);
    expect(o).toEqual({ n: 43, bad: 0 });
    const [e] = await hub.ds.query(`SELECT count(*)::int AS n FROM entitlement`);
    expect(e.n).toBeGreaterThanOrEqual(43);
  });

  it('changes nothing when the same file comes again: by upload, under another name, or read again row by row', async () => {
    const file = ordersCsv(40, 2);
    const before = await counts();
    const again = await upload('orders', [...file, 'BAD-1,C1,2026-01-01,CSV-A,-1,100.00,2026-12-31', 'BAD-2,C1,2026-13-01,CSV-A,1,100.00,2026-12-31', 'BAD-3,C1,2026-01-01,CSV-A,1,ten,2026-12-31', 'BAD-4,C1,2026-01-01,,1,100.00,2026-12-31', 'BAD-5,C1,2026-01-01,CSV-A,1,100.00', ...ordersCsv(3, 1, 'TAIL').slice(1)].join('\n') + '\n');
    expect(again).toMatchObject({ status: 200, body: { duplicate: true, run: null } });
    // The same bytes dropped into the watched folder under another name: recognised by hash.
    const [stored] = await readdir(join(dir, 'in', 'orders'));
    await copyFile(join(dir, 'in', 'orders', stored!), join(dir, 'in', 'orders', 'export-copy.csv'));
    const [copy] = await runSync(['orders']);
    expect(copy).toMatchObject({ read: 0, created: 0, failed: 0 });
    // Read again from the start (cursor reset): every order is unchanged (the copy is skipped by its hash).
    expect(await hub.ok('mutation($c: ID!) { resetSyncCursor(connectionId: $c, object: "orders") }', { c: connectionId })).toEqual({ resetSyncCursor: true });
    const [reread] = await runSync(['orders']);
    expect(reread).toMatchObject({ read: 43, created: 0, updated: 0, unchanged: 43, failed: 5 });
    expect(await counts()).toEqual(before);
  });

  it('writes the synced account fields as a CSV file per push run', async () => {
    const runs = await hub.ok<{ runSync: { object: string; status: string; created: number; updated: number }[] }>(
      // A csv connection pulls no contacts: this runs only the renewals and the push.
      'mutation($c: ID!) { runSync(connectionId: $c, objects: ["contacts"], push: true) { object status created updated } }',
      { c: connectionId },
    );
    const push = runs.runSync.find((r) => r.object === 'outbox');
    expect(push?.status).toBe('SUCCEEDED');
    const files = (await readdir(join(dir, 'out'))).filter((f) => f.startsWith('account-fields-'));
    expect(files.length).toBeGreaterThan(0);
    const text = await readFile(join(dir, 'out', files[0]!), 'utf8');
    const [header, ...lines] = text.trim().split('\n');
    expect(header!.split(',')[0]).toBe('accountExternalId');
    expect(lines.map((l) => l.split(',')[0]).sort()).toEqual(expect.arrayContaining(['C1', 'C2']));
  });

  it('imports a 5,000-row orders file from the watched folder with its progress written per page', async () => {
    const before = await counts();
    await mkdir(join(dir, 'in', 'orders'), { recursive: true });
    await writeFile(join(dir, 'in', 'orders', '.partial-upload.csv'), 'not,a,file');
    await writeFile(join(dir, 'in', 'orders', 'big-export.csv'), ordersCsv(500, 10, 'BIG').join('\n'));
    const seen: Promise<{ status: string; read: number; cursor_to: string }[]>[] = [];
    const runs = await hub.services.sync.runSync(systemContext(pino({ level: 'silent' }), 'test:csv-big'), connectionId, {
      objects: ['orders'],
      push: false,
      onProgress: (p) => {
        if (p.phase === 'pull' && seen.length === 0) seen.push(hub.ds.query(`SELECT status, read, cursor_to FROM sync_run WHERE object = 'orders' ORDER BY started_at DESC LIMIT 1`));
      },
    });
    expect(runs[0]).toMatchObject({ status: 'SUCCEEDED', read: 500, created: 500, failed: 0 });
    const [progress] = await seen[0]!;
    expect(progress!.status).toBe('RUNNING');
    expect(progress!.read).toBeGreaterThan(0);
    expect(progress!.read).toBeLessThan(500);
    expect(JSON.parse(progress!.cursor_to).line).toBeGreaterThan(1);
    const after = await counts();
    expect(after.orders - before.orders).toBe(500);
    expect(after.entitlements).toBeGreaterThan(before.entitlements);
  }, 300_000); // 500 orders fulfilled through the ORM: minutes on a loaded 2-core machine
});

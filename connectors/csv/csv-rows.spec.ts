import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { csvConnector } from '.';
import { storeUpload } from './files';
import { parseOptions } from './options';
import { pullCsv } from './pull';
import type { ExternalOrder, ExternalUsage, PullPage } from '../types';

const log = { debug() {}, info() {}, warn() {}, error() {} };

async function pullAll(inboxDir: string, object: 'accounts' | 'orders' | 'usage', cursor: string | null = null, extra: Record<string, unknown> = {}) {
  const pages: PullPage[] = [];
  for await (const p of pullCsv({ log }, parseOptions({ inboxDir, ...extra }), object, cursor)) pages.push(p as PullPage);
  return pages;
}

describe('csv connector', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ehub-csv-'));
    await mkdir(join(dir, 'orders'), { recursive: true });
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('validates options with one problem per field', () => {
    const problems = csvConnector.validate({
      options: { inboxDir: 'relative/dir', delimiter: '::', defaultCurrency: 'usd', columns: { orders: { orderId: 'customer_id', nope: 'x' } }, extra: 1 },
      credentials: { secret: 'x' },
    });
    expect(problems.map((p) => p.path).sort()).toEqual(
      ['credentials.secret', 'options.columns.orders.nope', 'options.defaultCurrency', 'options.delimiter', 'options.extra', 'options.inboxDir'].sort(),
    );
    expect(csvConnector.validate({ options: { inboxDir: '/x', columns: { orders: { orderId: 'customer_id' } } }, credentials: {} }).map((p) => p.path)).toEqual([
      'options.columns.orders.orderId',
    ]);
    expect(csvConnector.validate({ options: { inboxDir: '/x' }, credentials: {} })).toEqual([]);
  });

  it('groups rows into orders, refuses an order with a bad row whole, and reports row, column and code', async () => {
    await writeFile(
      join(dir, 'orders', 'a.csv'),
      [
        'order_id,customer_id,order_date,sku,quantity,unit_price,end_date',
        'SO-1,C1,2026-01-01,A,2,10.50,2026-12-31',
        'SO-1,C1,2026-01-01,B,1,5,2026-12-31',
        'SO-2,C1,2026-01-02,A,zero,10,',
        'SO-2,C1,2026-01-02,B,1,10,',
        'SO-3,C2,2026-02-30,A,1,10,',
        'SO-4,C2,2026-01-01,A,1,10,',
        'SO-4,C3,2026-01-01,B,1,10,',
        'SO-1,C1,2026-01-01,C,1,10,',
        '"SO-5",C1,2026-01-01,A,1,"1,000.00",',
        'SO-6,C1,2026-01-01,A,1',
        'SO-7,C1,2026-01-01,A,3,0,2026-06-30',
      ].join('\n') + '\n',
    );
    const pages = await pullAll(dir, 'orders');
    const orders = pages.flatMap((p) => p.records as ExternalOrder[]);
    expect(orders.map((o) => o.externalId)).toEqual(['SO-1', 'SO-7']);
    expect(orders[0]!.lines.map((l) => [l.externalLineId, l.sku, l.quantity, l.unitPrice])).toEqual([
      ['SO-1/0001', 'A', '2', '10.50'],
      ['SO-1/0002', 'B', '1', '5'],
    ]);
    const problems = pages.flatMap((p) => p.problems ?? []).map((p) => [p.row, p.column, p.code]);
    expect(problems).toEqual([
      [4, 'quantity', 'INVALID_QUANTITY'],
      [6, 'order_date', 'INVALID_DATE'],
      [8, 'customer_id', 'ORDER_HEADER_MISMATCH'],
      [9, 'order_id', 'ORDER_NOT_CONTIGUOUS'],
      [10, 'unit_price', 'INVALID_AMOUNT'],
      [11, null, 'ROW_COLUMN_COUNT'],
    ]);
    // The file is done: a second pull from the final cursor reads nothing.
    const again = await pullAll(dir, 'orders', pages.at(-1)!.cursor);
    expect(again).toEqual([]);
  });

  it('resumes inside a file from a page cursor without repeating or losing an order', async () => {
    const rows = ['order_id;customer_id;order_date;sku;quantity;unit_price'];
    for (let o = 1; o <= 30; o++) for (let l = 1; l <= (o % 3) + 1; l++) rows.push(`SO-${o};C1;2026-01-01;S${l};1;1`);
    await writeFile(join(dir, 'orders', 'big.csv'), rows.join('\n'));
    const opts = { delimiter: ';', pageSize: 4 };
    const all = (await pullAll(dir, 'orders', null, opts)).flatMap((p) => p.records as ExternalOrder[]);
    expect(all.map((o) => o.externalId)).toEqual(Array.from({ length: 30 }, (_, i) => `SO-${i + 1}`));
    const pages = await pullAll(dir, 'orders', null, opts);
    const firstTwo = pages.slice(0, 2).flatMap((p) => p.records as ExternalOrder[]);
    const rest = (await pullAll(dir, 'orders', pages[1]!.cursor, opts)).flatMap((p) => p.records as ExternalOrder[]);
    expect([...firstTwo, ...rest]).toEqual(all);
  });

  it('refuses a file without a required column, and skips a file already imported under another name', async () => {
    await writeFile(join(dir, 'orders', 'a.csv'), 'order_id,customer_id\nSO-1,C1\n');
    const pages = await pullAll(dir, 'orders');
    expect(pages.flatMap((p) => p.problems ?? []).map((p) => [p.row, p.code])).toEqual([[1, 'MISSING_COLUMN']]);
    await writeFile(join(dir, 'orders', 'b.csv'), 'order_id,customer_id\nSO-1,C1\n');
    expect(await pullAll(dir, 'orders', pages.at(-1)!.cursor)).toEqual([]);
  });

  it('stores an upload by its content hash, recognises the same bytes again, and refuses a body over the limit', async () => {
    const body = 'customer_id,name\nC1,Acme\n';
    const first = await storeUpload(dir, 'accounts', Readable.from([Buffer.from(body)]), 1000);
    const second = await storeUpload(dir, 'accounts', Readable.from([Buffer.from(body)]), 1000);
    expect(first.kind).toBe('stored');
    expect(second).toMatchObject({ kind: 'duplicate', sha256: (first as { sha256: string }).sha256 });
    expect(await storeUpload(dir, 'accounts', Readable.from([Buffer.from(body)]), 10)).toMatchObject({ kind: 'too-large' });
    expect(await readdir(join(dir, 'accounts'))).toEqual([`${(first as { sha256: string }).sha256}.csv`]);
  });

  it('writes pushed account fields as one CSV file, renamed into place', async () => {
    const outboxDir = join(dir, 'out');
    const c = csvConnector.create({ options: { inboxDir: dir, outboxDir }, credentials: {} });
    const results = await c.push(
      { log },
      {
        object: 'account-fields',
        items: [{ key: 'k1', payload: { accountExternalId: 'C1', arr: '1200.00', currency: 'USD', overuse: false, churnProbability: 0.125, forecastArr: '900.00', modelFit: 'KEEP' } }],
      },
    );
    expect(results).toEqual([{ key: 'k1', ok: true, targetId: expect.stringMatching(/^account-fields-.*\.csv$/) }]);
    const files = await readdir(outboxDir);
    expect(files).toHaveLength(1);
    const text = await readFile(join(outboxDir, files[0]!), 'utf8');
    expect(text.split('\n')[0]).toBe(
      'accountExternalId,entitlementStatus,nextRenewalDate,arr,currency,utilizationPercent,activeUsers,lastUsageAt,overuse,estimatedLeakage,healthScore,churnRisk,churnProbability,forecastArr,modelFit,updatesHeldBack,maintenanceRenewal',
    );
    expect(text.split('\n')[1]).toBe('C1,,,1200.00,USD,,,,false,,,,0.125,900.00,KEEP,,');
  });

  it('reads usage rows one by one: mapped columns, normalised instants and deployments, bad rows with row, column and code, resumable mid-file', async () => {
    await mkdir(join(dir, 'usage'), { recursive: true });
    const rows = [
      'Usage No,customer_id,metric,quantity,occurred_at,deployment,user_id,sku',
      'U1,C1,api.calls,12.5,2026-11-01T10:00:00+01:00,on_prem,ann,PRO',
      'U2,C1,api.calls,0,2026-11-01T10:00:00Z,,,',
      'U3,C2,api.calls,-1,2026-11-01T10:00:00Z,,,', // row 4
      'U4,C2,api.calls,1,2026-11-31T10:00:00Z,,,', // row 5: no such day
      'U5,C2,,1,2026-11-01,MOON,,', // row 6: three problems
      'U6,C3,api.calls,3,2026-11-02T00:00:00Z,CLOUD,,',
    ];
    await writeFile(join(dir, 'usage', 'u.csv'), rows.join('\n'));
    const pages = await pullAll(dir, 'usage', null, { pageSize: 2, defaultDeployment: 'SAAS', columns: { usage: { eventId: 'Usage No' } } });
    const records = pages.flatMap((p) => p.records as ExternalUsage[]);
    expect(records.map((r) => [r.externalId, r.accountExternalId, r.metric, r.quantity, r.occurredAt, r.deployment, r.userId, r.sku])).toEqual([
      ['U1', 'C1', 'api.calls', '12.5', '2026-11-01T09:00:00.000Z', 'ON_PREM', 'ann', 'PRO'],
      ['U2', 'C1', 'api.calls', '0', '2026-11-01T10:00:00.000Z', 'SAAS', null, null],
      ['U6', 'C3', 'api.calls', '3', '2026-11-02T00:00:00.000Z', 'CLOUD', null, null],
    ]);
    expect(pages.flatMap((p) => p.problems ?? []).map((p) => [p.row, p.column, p.code])).toEqual([
      [4, 'quantity', 'INVALID_QUANTITY'],
      [5, 'occurred_at', 'INVALID_TIMESTAMP'],
      [6, 'metric', 'MISSING_VALUE'],
      [6, 'occurred_at', 'INVALID_TIMESTAMP'],
      [6, 'deployment', 'INVALID_DEPLOYMENT'],
    ]);
    // From the first page's cursor: only what follows it.
    const rest = await pullAll(dir, 'usage', pages[0]!.cursor, { pageSize: 2, columns: { usage: { eventId: 'Usage No' } } });
    expect(rest.flatMap((p) => p.records as ExternalUsage[]).map((r) => r.externalId)).toEqual(['U6']);
    expect(csvConnector.validate({ options: { inboxDir: '/x', defaultDeployment: 'MOON' }, credentials: {} }).map((p) => p.path)).toEqual(['options.defaultDeployment']);
    // Two usage columns read from one header.
    expect(csvConnector.validate({ options: { inboxDir: '/x', columns: { usage: { eventId: 'metric' } } }, credentials: {} }).map((p) => p.path)).toEqual(['options.columns.usage.eventId']);
  });
});

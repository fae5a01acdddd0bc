import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { csvConnector } from '.';
import { parseOptions } from './options';
import { pullCsv } from './pull';
import type { ExternalAccount, ExternalOrder, ExternalReceivable, PullPage } from '../types';

const log = { debug() {}, info() {}, warn() {}, error() {} };

async function pullAll(inboxDir: string, object: 'accounts' | 'orders' | 'receivables', extra: Record<string, unknown> = {}) {
  const pages: PullPage[] = [];
  for await (const p of pullCsv({ log }, parseOptions({ inboxDir, ...extra }), object, null)) pages.push(p as PullPage);
  return { records: pages.flatMap((p) => p.records), problems: pages.flatMap((p) => p.problems ?? []) };
}

describe('csv connector: receivables and CRM links', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ehub-csv-erp-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const drop = async (object: string, text: string) => {
    await mkdir(join(dir, object), { recursive: true });
    await writeFile(join(dir, object, 'a.csv'), text);
  };

  it('reads receivables with a column mapping, one problem per bad value with row and column', async () => {
    await drop(
      'receivables',
      [
        'Doc;Type;Cust;Date;Due;Cur;Total;Open',
        'I-1;Invoice;C1;2026-01-31;2026-03-02;usd;1200.50;200',
        'P-1;payment;C1;2026-02-05;;USD;1000;0',
        'M-1;Credit Memo;C1;2026-02-06;;USD;50;50',
        'X-1;refund;C1;2026-02-06;;USD;50;50',
        'X-2;invoice;C1;2026-02-06;;USD;50;60',
        'X-3;invoice;;2026-02-06;;USD;abc;1',
      ].join('\n'),
    );
    const columns = { documentId: 'Doc', kind: 'Type', accountId: 'Cust', date: 'Date', dueDate: 'Due', currency: 'Cur', amount: 'Total', openAmount: 'Open' };
    const { records, problems } = await pullAll(dir, 'receivables', { delimiter: ';', columns: { receivables: columns } });
    expect(records as ExternalReceivable[]).toEqual([
      expect.objectContaining({ externalId: 'I-1', kind: 'INVOICE', accountExternalId: 'C1', currency: 'USD', amount: '1200.50', openAmount: '200', dueDate: '2026-03-02' }),
      expect.objectContaining({ externalId: 'P-1', kind: 'PAYMENT', dueDate: null }),
      expect.objectContaining({ externalId: 'M-1', kind: 'CREDIT_MEMO' }),
    ]);
    expect(problems.map((p) => [p.row, p.column, p.code])).toEqual([
      [5, 'Type', 'INVALID_KIND'],
      [6, 'Open', 'OPEN_EXCEEDS_AMOUNT'],
      [7, 'Cust', 'MISSING_VALUE'],
      [7, 'Total', 'INVALID_AMOUNT'],
    ]);
  });

  it('links accounts and orders to the CRM system named by crmSystem', async () => {
    await drop('accounts', 'customer_id,name,crm_account_id\nN1,A,001X\nN2,B,\n');
    const { records } = await pullAll(dir, 'accounts', { crmSystem: 'sfdc-eu' });
    expect((records as ExternalAccount[]).map((a) => a.links ?? null)).toEqual([[{ system: 'sfdc-eu', object: 'Account', externalId: '001X' }], null]);
    await drop('orders', 'order_id,customer_id,order_date,sku,quantity,unit_price,crm_deal_id\nSO1,N1,2026-01-01,A,1,1,006Y\nSO1,N1,2026-01-01,B,1,1,006Z\nSO2,N1,2026-01-01,A,1,1,006Y\n');
    const orders = await pullAll(dir, 'orders');
    expect((orders.records as ExternalOrder[]).map((o) => o.links)).toEqual([[{ system: 'salesforce', object: 'Opportunity', externalId: '006Y' }]]);
    expect(orders.problems.map((p) => [p.row, p.column, p.code])).toEqual([[3, 'crm_deal_id', 'ORDER_HEADER_MISMATCH']]);
  });

  it('validates the crmSystem option and the receivables column mapping', () => {
    const problems = csvConnector.validate({ options: { inboxDir: '/x', crmSystem: 'Sales Force', columns: { receivables: { amount: 'open_amount', bogus: 'x' } } }, credentials: {} });
    expect(problems.map((p) => p.path).sort()).toEqual(['options.columns.receivables.bogus', 'options.crmSystem']);
    const dup = csvConnector.validate({ options: { inboxDir: '/x', columns: { receivables: { amount: 'open_amount' } } }, credentials: {} });
    expect(dup.map((p) => p.path)).toEqual(['options.columns.receivables.amount']);
  });
});

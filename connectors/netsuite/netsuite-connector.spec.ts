import type { ExternalAccount, ExternalOrder, ExternalReceivable, PullObject, PullPage, PushResult } from '../types';
import { startNetSuiteEmulator, type NetSuiteEmulator } from './emulator';
import { NetSuiteConnector, netsuiteConnector } from './index';
import { parseConfig } from './options';
import { decodeCursor, deletedQuery, encodeCursor } from './pull';
import { ctx, noProxy } from './spec-helpers';

describe('NetSuite connector', () => {
  let emu: NetSuiteEmulator;

  beforeAll(async () => {
    noProxy();
    emu = await startNetSuiteEmulator();
  });
  afterAll(async () => {
    await emu.close();
  });
  afterEach(() => {
    emu.faults.clear();
  });

  function connector(over: Record<string, unknown> = {}, mode: 'm2m' | 'tba' = 'm2m'): NetSuiteConnector {
    const m = emu.credentials.m2m!;
    const credentials: Record<string, string> =
      mode === 'm2m' ? { clientId: m.clientId, certificateId: m.certificateId, privateKey: m.privateKeyPem } : { ...emu.credentials.tba! };
    const { parsed, problems } = parseConfig({ options: { accountId: emu.accountId, baseUrl: emu.url, authMode: mode, ...over }, credentials });
    expect(problems).toEqual([]);
    return new NetSuiteConnector(parsed!.options, parsed!.credentials, { now: () => emu.clock.nowMs(), backoffMs: 5 });
  }

  async function pullAll<O extends PullObject>(c: NetSuiteConnector, object: O, cursor: string | null): Promise<{ pages: PullPage<O>[]; records: PullPage<O>['records']; cursor: string | null }> {
    const pages: PullPage<O>[] = [];
    for await (const p of c.pull(ctx, { object, cursor })) pages.push(p);
    return { pages, records: pages.flatMap((p) => p.records) as PullPage<O>['records'], cursor: pages.at(-1)?.cursor ?? cursor };
  }

  describe('options', () => {
    it('reports one problem per path', () => {
      const problems = netsuiteConnector.validate({
        options: { accountId: 'bad id!', authMode: 'm2m', concurrency: 0, crmIdField: 'Not-A-Field', accountFields: { arr: 'X Y' } },
        credentials: {},
      });
      expect(problems.map((p) => p.path).sort()).toEqual(['options.accountFields.arr', 'options.accountId', 'options.concurrency', 'options.crmIdField']);
      const creds = netsuiteConnector.validate({ options: { accountId: '1234567_SB1', authMode: 'm2m' }, credentials: { clientId: 'x', privateKey: 'not a pem' } });
      expect(creds.map((p) => p.path).sort()).toEqual(['credentials.certificateId', 'credentials.privateKey']);
      const tba = netsuiteConnector.validate({ options: { accountId: '1234567', authMode: 'tba' }, credentials: { consumerKey: 'k', consumerSecret: 's', tokenId: 't' } });
      expect(tba).toEqual([{ path: 'credentials.tokenSecret', message: 'is required for authMode tba' }]);
      expect(() => netsuiteConnector.create({ options: {}, credentials: {} })).toThrow(/Invalid NetSuite connection/);
    });

    it('defaults the base URL from the account id', () => {
      const c = netsuiteConnector.create({ options: { accountId: '1234567_SB1', authMode: 'tba' }, credentials: { consumerKey: 'k', consumerSecret: 's', tokenId: 't', tokenSecret: 'u' } }) as NetSuiteConnector;
      expect(c.client.baseUrl).toBe('https://1234567-sb1.suitetalk.api.netsuite.com');
    });
  });

  it('health check: ok with good credentials, a sentence without throwing with bad ones', async () => {
    expect(await connector().healthCheck(ctx)).toMatchObject({ ok: true, message: expect.stringContaining(emu.url) });
    const bad = connector({}, 'tba');
    (bad.client.options.auth as { tokenSecret: string }).tokenSecret = 'wrong';
    expect(await bad.healthCheck(ctx)).toMatchObject({ ok: false, message: expect.stringContaining('auth') });
  });

  describe('pulls', () => {
    let cust: number[];
    let items: number[];

    beforeAll(() => {
      emu.clock.set('2026-05-01T08:00:00Z');
      cust = emu.seed.customers([
        { companyName: 'Acme Corp', url: 'https://www.Acme.example/about', crmId: '001ACME', subsidiary: 1, currency: 'EUR' },
        { companyName: 'Beta Ltd', email: 'ap@beta.example' },
      ]);
      emu.seed.contacts([{ company: cust[0], firstName: 'Ada', lastName: 'Lovelace', email: 'Ada@Acme.example' }]);
      items = emu.seed.items([{ itemId: 'SKU-PRO', externalId: 'ext-pro' }, { itemId: 'SKU-ADDON' }]);
      emu.clock.advance(1000);
      emu.seed.transactions([
        {
          type: 'SalesOrd',
          entity: cust[0],
          tranId: 'SO-1',
          tranDate: '2026-05-01',
          currency: 'EUR',
          crmDealId: '006DEAL',
          lines: [
            { item: items[0], quantity: '10', rate: '1200.50', startDate: '2026-05-01', endDate: '2027-04-30' },
            { item: items[1], quantity: '2.5', rate: '0.333333' },
          ],
        },
        { type: 'SalesOrd', entity: cust[1], tranId: 'SO-2', tranDate: '2026-05-02', status: 'C', lines: [{ item: items[0], quantity: '1', rate: '5' }] },
        { type: 'CustInvc', entity: cust[0], tranId: 'INV-1', tranDate: '2026-05-03', dueDate: '2026-06-02', total: '12010.83', amountRemaining: '2010.83' },
        { type: 'CustPymt', entity: cust[0], tranId: 'PYMT-1', tranDate: '2026-05-10', total: '10000.00', unapplied: '0.00' },
        { type: 'CustCred', entity: cust[0], tranId: 'CM-1', tranDate: '2026-05-11', total: '99.99', unapplied: '99.99' },
      ]);
      emu.clock.release();
    });

    it('customers → accounts with the CRM link, subsidiary, currency and domain', async () => {
      const { records } = await pullAll(connector(), 'accounts', null);
      const acme = records.find((a) => a.name === 'Acme Corp') as ExternalAccount;
      expect(acme).toEqual({
        externalId: String(cust[0]),
        name: 'Acme Corp',
        domain: 'acme.example',
        currency: 'EUR',
        modifiedAt: '2026-05-01T08:00:00.000Z',
        deleted: false,
        subsidiary: '1',
        links: [{ system: 'salesforce', object: 'Account', externalId: '001ACME' }],
      });
      expect(records.find((a) => a.name === 'Beta Ltd')?.links).toEqual([]);
    });

    it('contacts', async () => {
      const { records } = await pullAll(connector({}, 'tba'), 'contacts', null);
      expect(records).toEqual([{ externalId: expect.any(String), accountExternalId: String(cust[0]), email: 'ada@acme.example', name: 'Ada Lovelace', modifiedAt: '2026-05-01T08:00:00.000Z', deleted: false }]);
    });

    it('sales orders with item lines: sku, exact quantities and rates, service dates, won by status, the deal link', async () => {
      const { records } = await pullAll(connector(), 'orders', null);
      const so1 = records.find((o) => o.name === 'SO-1') as ExternalOrder;
      expect(so1).toMatchObject({
        accountExternalId: String(cust[0]),
        orderDate: '2026-05-01',
        currency: 'EUR',
        won: true,
        deleted: false,
        links: [{ system: 'salesforce', object: 'Opportunity', externalId: '006DEAL' }],
      });
      expect(so1.lines).toEqual([
        { externalLineId: `${so1.externalId}-1`, sku: 'SKU-PRO', quantity: '10', unitPrice: '1200.5', startDate: '2026-05-01', endDate: '2027-04-30', modifiedAt: so1.modifiedAt },
        { externalLineId: `${so1.externalId}-2`, sku: 'SKU-ADDON', quantity: '2.5', unitPrice: '0.333333', startDate: null, endDate: null, modifiedAt: so1.modifiedAt },
      ]);
      const so2 = records.find((o) => o.name === 'SO-2') as ExternalOrder;
      expect(so2).toMatchObject({ won: false, lines: [], links: [] });
      const byExt = await pullAll(connector({ skuSource: 'externalid' }), 'orders', null);
      expect((byExt.records.find((o) => o.name === 'SO-1') as ExternalOrder).lines.map((l) => l.sku)).toEqual(['ext-pro', null]);
    });

    it('receivables: invoices, payments and credit memos with exact amounts, open amounts and due dates', async () => {
      const { records } = await pullAll(connector(), 'receivables', null);
      const by = (n: string) => records.find((r) => r.number === n) as ExternalReceivable;
      expect(by('INV-1')).toMatchObject({ kind: 'INVOICE', amount: '12010.83', openAmount: '2010.83', dueDate: '2026-06-02', date: '2026-05-03', status: 'Open', accountExternalId: String(cust[0]), currency: 'USD' });
      expect(by('PYMT-1')).toMatchObject({ kind: 'PAYMENT', amount: '10000', openAmount: '0', dueDate: null });
      expect(by('CM-1')).toMatchObject({ kind: 'CREDIT_MEMO', amount: '99.99', openAmount: '99.99' });
    });

    it('incremental: strictly after the cursor; a rerun gives nothing, a change comes once, an old cursor repeats safely', async () => {
      const c = connector({ pageSize: 2 });
      const first = await pullAll(c, 'orders', null);
      expect(first.records.map((o) => o.name).sort()).toEqual(['SO-1', 'SO-2']);
      const again = await pullAll(c, 'orders', first.cursor);
      expect(again.records).toEqual([]);
      expect(again.cursor).toBe(first.cursor);
      const so2 = first.records.find((o) => o.name === 'SO-2')!;
      emu.clock.set('2026-05-20T00:00:00Z');
      const w = await c.client.updateRecord('salesOrder', so2.externalId, { orderStatus: 'B' });
      emu.clock.release();
      expect(w).toEqual({ ok: true, id: so2.externalId });
      const next = await pullAll(c, 'orders', first.cursor);
      expect(next.records.map((o) => [o.name, o.won, o.lines.length, o.modifiedAt])).toEqual([['SO-2', true, 1, '2026-05-20T00:00:00.000Z']]);
      expect((await pullAll(c, 'orders', next.cursor)).records).toEqual([]);
      await expect(pullAll(c, 'orders', 'garbage')).rejects.toMatchObject({ kind: 'INVALID', code: 'INVALID_CURSOR' });
    });

    it('pages of many rows sharing one lastmodifieddate second lose and repeat nothing', async () => {
      emu.clock.set('2026-07-01T00:00:00Z');
      const ids = emu.seed.transactions(Array.from({ length: 53 }, (_, i) => ({ type: 'CustInvc' as const, entity: cust[1], tranDate: '2026-07-01', total: `${i}.01` })));
      emu.clock.release();
      const c = connector({ pageSize: 10 });
      const all = await pullAll(c, 'receivables', null);
      const tail = all.records.filter((r) => ids.includes(Number(r.externalId))).map((r) => Number(r.externalId));
      expect(tail).toEqual(ids);
      expect(new Set(all.records.map((r) => r.externalId)).size).toBe(all.records.length);
    });
  });

  describe('pushes', () => {
    let customer: number;
    let itemId: number;

    beforeAll(() => {
      [customer] = emu.seed.customers([{ companyName: 'Push Co' }]);
      [itemId] = emu.seed.items([{ itemId: 'SKU-METER' }]);
      emu.store.insert('account', { acctnumber: '1200', acctname: 'Accounts receivable' });
      emu.store.insert('account', { acctnumber: '4000-REV', acctname: 'Revenue' });
      emu.store.insert('account', { acctnumber: '2400', acctname: 'Deferred revenue' });
    });

    it('account fields → custentity fields (configurable names); an unknown customer fails alone', async () => {
      const c = connector({ accountFields: { churnRisk: 'custentity_risk', healthScore: null } });
      const results = await c.push(ctx, {
        object: 'account-fields',
        items: [
          { key: 'a', payload: { accountExternalId: String(customer), entitlementStatus: 'ACTIVE', arr: '98765.4321', overuse: true, churnRisk: 'LOW', healthScore: 80, nextRenewalDate: null } },
          { key: 'b', payload: { accountExternalId: '999999', arr: '1' } },
        ],
      });
      const by = (k: string) => results.find((r) => r.key === k) as PushResult;
      expect(by('a')).toEqual({ key: 'a', ok: true, targetId: String(customer) });
      expect(by('b')).toMatchObject({ ok: false, errorCode: 'NONEXISTENT_ID', retryable: false });
      const row = emu.store.one('SELECT * FROM customer WHERE id = ?', [customer])!;
      expect(row).toMatchObject({ custentity_ehub_entitlement_status: 'ACTIVE', custentity_ehub_arr: '98765.4321', custentity_ehub_overuse: 'T', custentity_risk: 'LOW', custentity_ehub_next_renewal: null });
      expect(row.custentity_ehub_health_score).toBeUndefined();
      expect(row.custentity_ehub_synced_at).toMatch(/^T:/);
    });

    const usage = (key: string, qty: string, sku = 'SKU-METER') => ({
      key,
      payload: { usageKey: key, accountExternalId: String(customer), subscriptionLineExternalId: null, orderExternalId: null, sku, periodStart: '2026-03-01', periodEnd: '2026-03-31', usageDate: '2026-03-31', quantity: qty, metric: 'api-calls' },
    });

    it('usage records upsert by usageKey: sent again (or after an answer lost to a 503) nothing doubles', async () => {
      const c = connector();
      const batch = { object: 'usage-record' as const, items: [usage('ehub-usage:e1:2026-03', '1500.25'), usage('ehub-usage:e2:2026-03', '7'), usage('ehub-usage:e3:2026-03', '1', 'SKU-NOPE')] };
      const r1 = await c.push(ctx, batch);
      expect(r1.filter((r) => r.ok).length).toBe(2);
      expect(r1.find((r) => !r.ok)).toMatchObject({ key: 'ehub-usage:e3:2026-03', errorCode: 'UNKNOWN_ITEM', retryable: false });
      emu.faults.queueOn('PUT record/usage/{id}', 'APPLY_THEN_503');
      const r2 = await c.push(ctx, batch);
      expect(r2.filter((r) => r.ok).length).toBe(2);
      const rows = emu.store.all("SELECT externalid, usagequantity, customer, item, custrecord_ehub_metric FROM usage WHERE externalid LIKE 'ehub-usage:e%' ORDER BY externalid");
      expect(rows).toEqual([
        { externalid: 'ehub-usage:e1:2026-03', usagequantity: '1500.25', customer, item: itemId, custrecord_ehub_metric: 'api-calls' },
        { externalid: 'ehub-usage:e2:2026-03', usagequantity: '7', customer, item: itemId, custrecord_ehub_metric: 'api-calls' },
      ]);
    });

    it('journal entries upsert by entryKey with the line sublist; unbalanced or unknown accounts fail per record', async () => {
      const c = connector();
      const entry = (key: string, credit: string, account = '2400') => ({
        key,
        payload: {
          entryKey: key,
          period: '2026-03',
          subsidiary: '1',
          currency: 'USD',
          tranDate: '2026-03-31',
          memo: 'Revenue 2026-03',
          lines: [
            { account, debit: '1000.10', credit: '0', memo: 'release', accountExternalId: String(customer) },
            { account: '4000-REV', debit: '0', credit, memo: 'revenue' },
          ],
        },
      });
      const results = await c.push(ctx, { object: 'journal-entry', items: [entry('ehub-journal:2026-03:1:USD', '1000.10'), entry('ehub-journal:2026-03:2:USD', '1000.01'), entry('ehub-journal:2026-03:3:USD', '1000.10', '9999')] });
      const by = (k: string) => results.find((r) => r.key === k) as PushResult;
      expect(by('ehub-journal:2026-03:1:USD').ok).toBe(true);
      expect(by('ehub-journal:2026-03:2:USD')).toMatchObject({ ok: false, errorCode: 'USER_ERROR', errorMessage: expect.stringContaining('debit'), retryable: false });
      expect(by('ehub-journal:2026-03:3:USD')).toMatchObject({ ok: false, errorCode: 'UNKNOWN_GL_ACCOUNT' });
      await c.push(ctx, { object: 'journal-entry', items: [entry('ehub-journal:2026-03:1:USD', '1000.10')] });
      const je = emu.store.all("SELECT t.id, t.foreigntotal, t.currency FROM \"transaction\" t WHERE t.type = 'Journal' AND t.externalid = 'ehub-journal:2026-03:1:USD'");
      expect(je).toEqual([{ id: expect.any(Number), foreigntotal: '1000.1', currency: 1 }]);
      const lines = emu.store.all("SELECT debitforeignamount AS d, creditforeignamount AS c, entity FROM transactionline WHERE \"transaction\" = ? AND mainline = 'F' ORDER BY id", [je[0].id]);
      expect(lines).toEqual([
        { d: '1000.1', c: null, entity: customer },
        { d: null, c: '1000.1', entity: null },
      ]);
    });

    it('a record a NetSuite workflow refuses fails alone with its code and path', async () => {
      emu.faults.rejectRecord(({ type, externalId }) => (type === 'usage' && externalId === 'ehub-usage:rej:2026-03' ? { code: 'USER_ERROR', detail: 'Period closed', path: 'usageDate' } : null));
      const r = await connector().push(ctx, { object: 'usage-record', items: [usage('ehub-usage:rej:2026-03', '1'), usage('ehub-usage:ok:2026-03', '2')] });
      expect(r.find((x) => x.key === 'ehub-usage:rej:2026-03')).toMatchObject({ ok: false, errorCode: 'USER_ERROR', errorMessage: 'Period closed (usageDate)' });
      expect(r.find((x) => x.key === 'ehub-usage:ok:2026-03')?.ok).toBe(true);
    });
  });

  describe('cursors', () => {
    it('carry the changed-records position and the deletions position; a cursor from before deletions were pulled reads them from the beginning', () => {
      const live = { lmd: '2026-05-01 08:00:00', id: '12' };
      const del = { lmd: '2026-05-02 09:30:00', id: '7' };
      expect(decodeCursor(encodeCursor(live, del))).toEqual({ live, del });
      expect(decodeCursor(encodeCursor(null, del))).toEqual({ live: null, del });
      expect(decodeCursor('{"v":1,"lmd":"2026-05-01 08:00:00","id":"12"}')).toEqual({ live, del: null });
      expect(decodeCursor(null)).toEqual({ live: null, del: null });
      expect(encodeCursor(null, null)).toBeNull();
      for (const bad of ['{"v":1,"lmd":"x","id":"1"}', '{"v":1,"lmd":null,"id":null}', '{"v":1,"lmd":"2026-05-01 08:00:00","id":"1","del":{"lmd":"2026-05-01 08:00:00"}}', 'nope']) {
        expect(() => decodeCursor(bad)).toThrow(/Not a NetSuite cursor/);
      }
      expect(deletedQuery(['invoice', 'creditMemo'], del)).toBe(
        "SELECT d.recordid AS id, d.recordtype, TO_CHAR(d.deleteddate, 'YYYY-MM-DD HH24:MI:SS') AS lmd FROM deletedrecord d WHERE d.recordtype IN ('invoice', 'creditMemo')" +
          " AND (d.deleteddate > TO_TIMESTAMP('2026-05-02 09:30:00', 'YYYY-MM-DD HH24:MI:SS') OR (d.deleteddate = TO_TIMESTAMP('2026-05-02 09:30:00', 'YYYY-MM-DD HH24:MI:SS') AND d.recordid > 7)) ORDER BY d.deleteddate, d.recordid",
      );
    });
  });
});

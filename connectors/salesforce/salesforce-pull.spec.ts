for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) delete process.env[k];

import type { ExternalOrder } from '../types';
import { startSalesforceEmulator, type SalesforceEmulator } from './emulator';
import { connectorError, connectTo, pullAll, quietCtx } from './spec-helpers';

describe('salesforce connector: pulls', () => {
  let emu: SalesforceEmulator;

  beforeEach(async () => {
    // three records per API page, so paging shows with a handful of records
    emu = await startSalesforceEmulator({ pageSize: 3 });
    emu.clock.set('2024-03-01T10:00:00.000Z');
  });
  afterEach(async () => {
    await emu.close();
  });

  it('pages accounts by (SystemModstamp, Id) under a frozen clock and resumes after the last page', async () => {
    const ids = ['Alpha', 'Beta', 'Gamma', 'Delta', 'Epsilon'].map((Name, i) =>
      emu.insert('Account', { Name, Website: i === 0 ? 'http://www.Alpha.example.com/home' : null }),
    );
    const c = connectTo(emu, { pageSize: 200 });
    const pages = await pullAll(c, 'accounts');
    // one PullPage per API page
    expect(pages.map((p) => p.records.length)).toEqual([3, 2]);
    const records = pages.flatMap((p) => p.records);
    // all stamps equal: the Id breaks the tie, ascending
    expect(records.map((r) => r.externalId)).toEqual([...ids].sort());
    expect(new Set(records.map((r) => r.modifiedAt))).toEqual(new Set(['2024-03-01T10:00:00.000Z']));
    const alpha = records.find((r) => r.name === 'Alpha');
    expect(alpha).toMatchObject({ domain: 'alpha.example.com', currency: null, deleted: false });
    expect(JSON.parse(pages[0].cursor ?? '')).toEqual({ ts: '2024-03-01T10:00:00.000Z', id: records[2].externalId });

    // from the first page's cursor: the rest, not the first three again (same stamp, higher Id)
    const rest = await pullAll(c, 'accounts', pages[0].cursor);
    expect(rest.flatMap((p) => p.records).map((r) => r.externalId)).toEqual(records.slice(3).map((r) => r.externalId));
    // a pull from an old cursor returns the same records again
    const again = await pullAll(c, 'accounts', pages[0].cursor);
    expect(again.flatMap((p) => p.records)).toEqual(rest.flatMap((p) => p.records));
    // nothing after the last cursor
    const last = pages[pages.length - 1].cursor;
    expect(await pullAll(c, 'accounts', last)).toEqual([]);

    // a change later comes alone; a deletion arrives as deleted
    emu.clock.advance(1000);
    emu.update('Account', ids[1], { Website: 'beta.io' });
    emu.clock.advance(1000);
    emu.delete('Account', ids[3]);
    const changes = (await pullAll(c, 'accounts', last)).flatMap((p) => p.records);
    expect(changes.map((r) => [r.externalId, r.domain, r.deleted, r.modifiedAt])).toEqual([
      [ids[1], 'beta.io', false, '2024-03-01T10:00:01.000Z'],
      [ids[3], null, true, '2024-03-01T10:00:02.000Z'],
    ]);
    expect(c.stats().apiCalls).toBe(emu.stats.apiCalls);
  });

  it('refuses a cursor it did not write', async () => {
    const c = connectTo(emu);
    expect(await connectorError(pullAll(c, 'accounts', 'not-a-cursor'))).toMatchObject({ kind: 'INVALID', code: 'INVALID_CURSOR' });
  });

  it('stops between pages when the call is aborted', async () => {
    for (let i = 0; i < 7; i++) emu.insert('Account', { Name: `A${i}` });
    const c = connectTo(emu);
    const ac = new AbortController();
    const pages = c.pull({ ...quietCtx, signal: ac.signal }, { object: 'accounts', cursor: null })[Symbol.asyncIterator]();
    const first = await pages.next();
    expect(first.done).toBe(false);
    expect(first.value?.records).toHaveLength(3);
    ac.abort();
    const calls = emu.stats.apiCalls;
    expect(await connectorError(pages.next())).toMatchObject({ kind: 'UNAVAILABLE', code: 'ABORTED' });
    expect(emu.stats.apiCalls).toBe(calls);
  });

  it('pulls contacts with their account, name, title and department', async () => {
    const acc = emu.insert('Account', { Name: 'Acme' });
    const id = emu.insert('Contact', { AccountId: acc, FirstName: 'Ada', LastName: 'Lovelace', Email: 'ada@acme.com', Title: 'Analyst', Department: 'Research' });
    const bare = emu.insert('Contact', { AccountId: acc, FirstName: 'Bo', LastName: 'Ng', Email: 'bo@acme.com' });
    const c = connectTo(emu);
    const contacts = (await pullAll(c, 'contacts')).flatMap((p) => p.records);
    expect(contacts).toEqual([
      { externalId: id, accountExternalId: acc, email: 'ada@acme.com', name: 'Ada Lovelace', title: 'Analyst', department: 'Research', modifiedAt: '2024-03-01T10:00:00.000Z', deleted: false },
      { externalId: bare, accountExternalId: acc, email: 'bo@acme.com', name: 'Bo Ng', title: null, department: null, modifiedAt: '2024-03-01T10:00:00.000Z', deleted: false },
    ]);
  });

  it('pulls won opportunities with all their lines, exact decimals, dates and the newest stamp', async () => {
    const deal = emu.seedDeal({
      accountName: 'Acme',
      stageName: 'Closed Won',
      closeDate: '2024-02-28',
      lines: [
        { productCode: 'SKU-A', quantity: 10, unitPrice: 1200.5, serviceDate: '2024-03-01', endDate: '2025-02-28' },
        { productCode: 'SKU-B', quantity: 2.5, unitPrice: 99.99, serviceDate: '2024-03-01' },
        { productCode: 'SKU-C', quantity: 1, unitPrice: 0.1 },
        { productCode: 'SKU-D', quantity: 3, unitPrice: 1 },
        { productCode: 'SKU-E', quantity: 4, unitPrice: 2 },
      ],
    });
    const c = connectTo(emu);
    const pages = await pullAll(c, 'orders');
    const orders = pages.flatMap((p) => p.records);
    expect(orders).toHaveLength(1);
    const o = orders[0];
    expect(o).toMatchObject({
      externalId: deal.opportunityId,
      accountExternalId: deal.accountId,
      orderDate: '2024-02-28',
      currency: 'USD',
      won: true,
      deleted: false,
      modifiedAt: '2024-03-01T10:00:00.000Z',
    });
    // five lines over two API pages of three, all present
    expect(o.lines.map((l) => l.externalLineId).sort()).toEqual([...deal.lineIds].sort());
    const a = o.lines.find((l) => l.sku === 'SKU-A');
    expect(a).toMatchObject({ quantity: '10', unitPrice: '1200.5', startDate: '2024-03-01', endDate: '2025-02-28' });
    expect(o.lines.find((l) => l.sku === 'SKU-B')).toMatchObject({ quantity: '2.5', unitPrice: '99.99', endDate: null });
    expect(o.lines.find((l) => l.sku === 'SKU-C')).toMatchObject({ unitPrice: '0.1', startDate: null });
    expect(c.stats().apiCalls).toBe(emu.stats.apiCalls);
  });

  it('reports reopened and deleted deals so the hub can withdraw them', async () => {
    const won = emu.seedDeal({ accountName: 'Acme', stageName: 'Closed Won', lines: [{ productCode: 'SKU-A', quantity: 1, unitPrice: 5 }] });
    const other = emu.seedDeal({ accountName: 'Beta', stageName: 'Closed Won', lines: [{ productCode: 'SKU-B', quantity: 1, unitPrice: 5 }] });
    const c = connectTo(emu);
    const first = await pullAll(c, 'orders');
    const cursor = first[first.length - 1].cursor;

    emu.clock.advance(60_000);
    emu.update('Opportunity', won.opportunityId, { StageName: 'Negotiation/Review' });
    emu.clock.advance(60_000);
    emu.delete('Opportunity', other.opportunityId);
    const changes = (await pullAll(c, 'orders', cursor)).flatMap((p) => p.records);
    const byId = new Map<string, ExternalOrder>(changes.map((o) => [o.externalId, o]));
    expect(byId.get(won.opportunityId)).toMatchObject({ won: false, deleted: false, modifiedAt: '2024-03-01T10:01:00.000Z' });
    expect(byId.get(won.opportunityId)?.lines).toEqual([]); // no longer won: nothing to fulfil, lines not fetched
    expect(byId.get(other.opportunityId)).toMatchObject({ won: false, deleted: true, lines: [] });
    expect(changes.map((o) => o.externalId)).toEqual([won.opportunityId, other.opportunityId]);
  });

  it('a line change bumps its deal, and lines have no end date when lineEndDateField is null', async () => {
    const deal = emu.seedDeal({ accountName: 'Acme', lines: [{ productCode: 'SKU-A', quantity: 1, unitPrice: 5, endDate: '2025-01-01' }] });
    const c = connectTo(emu, { lineEndDateField: null });
    const first = await pullAll(c, 'orders');
    expect(first[0].records[0].lines[0].endDate).toBeNull();
    emu.clock.advance(5_000);
    emu.update('OpportunityLineItem', deal.lineIds[0], { Quantity: 7 });
    const changed = (await pullAll(c, 'orders', first[0].cursor)).flatMap((p) => p.records);
    expect(changed).toHaveLength(1);
    expect(changed[0].modifiedAt).toBe('2024-03-01T10:00:05.000Z');
    expect(changed[0].lines[0]).toMatchObject({ quantity: '7', modifiedAt: '2024-03-01T10:00:05.000Z' });
  });

  it('multi-currency orgs: CurrencyIsoCode comes with accounts and deals', async () => {
    emu.insert('Account', { Name: 'Euro GmbH', CurrencyIsoCode: 'EUR' });
    emu.seedDeal({ accountName: 'Yen KK', currency: 'JPY', lines: [{ productCode: 'SKU-A', quantity: 1, unitPrice: 500 }] });
    const c = connectTo(emu, { multiCurrency: true });
    const accounts = (await pullAll(c, 'accounts')).flatMap((p) => p.records);
    expect(accounts.find((a) => a.name === 'Euro GmbH')?.currency).toBe('EUR');
    const orders = (await pullAll(c, 'orders')).flatMap((p) => p.records);
    expect(orders[0].currency).toBe('JPY');
  });
});

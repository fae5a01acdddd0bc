import { dropProxyEnv, createSalesforceConnection, runOf, runSync, seedSkus, startEmulator } from '../support/salesforce';
dropProxyEnv();
import type { SalesforceEmulator } from '../../connectors/salesforce/emulator/types';
import { startTestHub, type TestHub } from '../support/test-hub';

const SKUS = ['CRM-A', 'CRM-B', 'CRM-C'];
const DEALS = 500;
const ACCOUNTS = 100;

interface SeededLine {
  opp: string;
  lineId: string;
  sku: string;
  quantity: number;
  start: string;
  end: string;
}

describe('Salesforce pull: closed-won deals become entitlements (jsforce against the emulator)', () => {
  let hub: TestHub;
  let emu: SalesforceEmulator;
  let connectionId: string;
  const lines: SeededLine[] = [];
  const opps: string[] = [];

  const entitlementsBySfLine = async () => {
    const rows: { line: string; sku: string; quantity: string; start: string; end: string; status: string; id: string; revision: number }[] = await hub.ds.query(
      `SELECT l.external_line_id AS line, e.sku, e.quantity::text AS quantity, e.start_date::text AS start, e.end_date::text AS end, e.status, e.id, o.revision
         FROM entitlement e JOIN order_line l ON l.id = e.order_line_id JOIN sales_order o ON o.id = e.order_id
        WHERE o.source = 'salesforce'`,
    );
    return new Map(rows.map((r) => [r.line, r]));
  };
  const changeCounts = async () => {
    const [r] = await hub.ds.query(
      `SELECT (SELECT count(*) FROM entitlement_event)::int AS events, (SELECT count(*) FROM order_revision)::int AS revisions,
              (SELECT count(*) FROM account)::int AS accounts, (SELECT count(*) FROM contact)::int AS contacts,
              (SELECT count(*) FROM audit_log WHERE operation NOT IN ('runSync'))::int AS audits`,
    );
    return r as Record<string, number>;
  };

  beforeAll(async () => {
    hub = await startTestHub();
    emu = await startEmulator({ pageSize: 60 });
    await seedSkus(hub, SKUS);
    connectionId = await createSalesforceConnection(hub, emu);
    // A frozen clock: many records share a SystemModstamp, so paging must break ties by Id.
    emu.clock.set('2026-11-01T10:00:00.000Z');
    const accountIds: string[] = [];
    for (let a = 0; a < ACCOUNTS; a++) {
      accountIds.push(emu.insert('Account', { Name: `Customer ${a}`, Website: `https://www.customer${a}.example.com/home` }));
    }
    for (let i = 0; i < DEALS; i++) {
      if (i % 50 === 0) emu.clock.advance(1000);
      const start = `2026-${String((i % 12) + 1).padStart(2, '0')}-01`;
      const end = `2027-${String((i % 12) + 1).padStart(2, '0')}-01`;
      const seeded = SKUS.map((sku, j) => ({ productCode: sku, quantity: 1 + ((i + j) % 9), unitPrice: 100 + j * 25.5, serviceDate: start, endDate: end }));
      const deal = emu.seedDeal({ accountId: accountIds[i % ACCOUNTS], name: `Deal ${i}`, stageName: 'Closed Won', closeDate: start, lines: seeded });
      opps.push(deal.opportunityId);
      deal.lineIds.forEach((lineId, j) => lines.push({ opp: deal.opportunityId, lineId, sku: SKUS[j]!, quantity: seeded[j]!.quantity, start, end }));
    }
    // Deals that are not won are not orders.
    for (let i = 0; i < 20; i++) emu.seedDeal({ accountId: accountIds[i]!, stageName: i % 2 ? 'Prospecting' : 'Closed Lost', lines: [{ productCode: 'CRM-A', quantity: 1, unitPrice: 10 }] });
    for (let c = 0; c < 10; c++) {
      emu.insert('Contact', {
        AccountId: accountIds[c]!,
        FirstName: 'Pat',
        LastName: `User${c}`,
        Email: `pat${c}@customer${c}.example.com`,
        ...(c < 5 ? { Title: c % 2 ? 'Engineer' : 'Buyer', Department: 'Operations' } : {}),
      });
    }
  }, 120_000);

  afterAll(async () => {
    await emu?.close();
    await hub?.close();
  });

  it('turns 500 closed-won deals with 3 lines each into exactly the right entitlements', async () => {
    const runs = await runSync(hub, connectionId);
    expect(runOf(runs, 'accounts')).toMatchObject({ error: null, status: 'SUCCEEDED', read: ACCOUNTS, created: ACCOUNTS, failed: 0 });
    expect(runOf(runs, 'contacts')).toMatchObject({ status: 'SUCCEEDED', read: 10, created: 10, failed: 0 });
    const orders = runOf(runs, 'orders');
    expect(orders).toMatchObject({ status: 'SUCCEEDED', read: DEALS + 20, created: DEALS, unchanged: 20, failed: 0 });
    expect(orders.apiCalls).toBeGreaterThan(DEALS / 60); // paged through nextRecordsUrl

    const got = await entitlementsBySfLine();
    expect(got.size).toBe(DEALS * 3);
    for (const l of lines) {
      const e = got.get(l.lineId);
      expect(e && { sku: e.sku, quantity: Number(e.quantity), start: e.start, status: e.status }).toEqual({ sku: l.sku, quantity: l.quantity, start: l.start, status: 'ACTIVE' });
      // The end date is the line's last day of service, inclusive, as the CRM gives it.
      expect(e!.end).toBe(l.end);
    }
    const [linked] = await hub.ds.query(`SELECT count(*)::int AS n FROM external_ref WHERE system = 'salesforce' AND object = 'Account'`);
    expect(linked.n).toBe(ACCOUNTS);
    const [acct] = await hub.ds.query(`SELECT a.domain FROM account a JOIN external_ref r ON r.entity_id = a.id WHERE r.external_id = $1`, [emu.records('Account')[3]!.Id]);
    expect(acct.domain).toBe('customer3.example.com');
    const [contacts] = await hub.ds.query(`SELECT count(*)::int AS n FROM contact c JOIN external_ref r ON r.entity_id = c.id AND r.object = 'Contact'`);
    expect(contacts.n).toBe(10);
    // Title and Department come along (usagePersonas groups usage by them); absent ones are null.
    const attrs = await hub.ds.query(`SELECT email, title, department FROM contact WHERE email IN ('pat1@customer1.example.com', 'pat7@customer7.example.com') ORDER BY email`);
    expect(attrs).toEqual([
      { email: 'pat1@customer1.example.com', title: 'Engineer', department: 'Operations' },
      { email: 'pat7@customer7.example.com', title: null, department: null },
    ]);
  }, 180_000);

  it('running again, fully, or from an old cursor changes nothing', async () => {
    const before = await changeCounts();
    const again = await runSync(hub, connectionId);
    expect(runOf(again, 'orders')).toMatchObject({ read: 0, created: 0, updated: 0, failed: 0 });
    const [cursor] = await hub.ds.query(`SELECT cursor FROM sync_cursor WHERE object = 'orders'`);
    expect(cursor.cursor).toBeTruthy();

    const full = await runSync(hub, connectionId, { full: true });
    expect(runOf(full, 'accounts')).toMatchObject({ read: ACCOUNTS, created: 0, updated: 0, unchanged: ACCOUNTS });
    expect(runOf(full, 'orders')).toMatchObject({ read: DEALS + 20, created: 0, updated: 0, unchanged: DEALS + 20, failed: 0 });

    // An old cursor: the one before the last 100 deals.
    const oldCursor = JSON.stringify({ ts: emu.get('Opportunity', opps[DEALS - 100]!)!.SystemModstamp, id: opps[DEALS - 100] });
    await hub.ds.query(`UPDATE sync_cursor SET cursor = $1 WHERE object = 'orders'`, [oldCursor]);
    const old = await runSync(hub, connectionId, { objects: ['orders'] });
    expect(runOf(old, 'orders').read).toBeGreaterThan(0);
    expect(runOf(old, 'orders')).toMatchObject({ created: 0, updated: 0, failed: 0 });
    expect(await changeCounts()).toEqual(before);
  }, 120_000);

  it('a line quantity edited in Salesforce changes the entitlement on the next pull', async () => {
    emu.clock.advance(60_000);
    const target = lines[42]!;
    emu.update('OpportunityLineItem', target.lineId, { Quantity: 17 });
    const before = await entitlementsBySfLine();
    const runs = await runSync(hub, connectionId, { objects: ['orders'] });
    expect(runOf(runs, 'orders')).toMatchObject({ read: 1, updated: 1, created: 0, failed: 0 });
    const after = await entitlementsBySfLine();
    const e = after.get(target.lineId)!;
    expect(Number(e.quantity)).toBe(17);
    expect(e.id).toBe(before.get(target.lineId)!.id); // the same entitlement, revised
    expect(e.revision).toBe(2);
    const siblings = lines.filter((l) => l.opp === target.opp && l.lineId !== target.lineId);
    for (const s of siblings) expect(after.get(s.lineId)).toEqual({ ...before.get(s.lineId)!, revision: 2 });
  }, 60_000);

  it('a deleted deal and a reopened deal withdraw their entitlements; winning again grants anew', async () => {
    emu.clock.advance(60_000);
    const deleted = opps[10]!;
    const reopened = opps[11]!;
    emu.delete('Opportunity', deleted);
    emu.update('Opportunity', reopened, { StageName: 'Negotiation/Review' });
    const runs = await runSync(hub, connectionId, { objects: ['orders'] });
    expect(runOf(runs, 'orders')).toMatchObject({ deleted: 2, failed: 0 });
    const status = async (opp: string) =>
      (await hub.ds.query(
        `SELECT e.status, e.ended_reason FROM entitlement e JOIN sales_order o ON o.id = e.order_id WHERE o.external_id = $1 ORDER BY e.created_at`,
        [opp],
      )) as { status: string; ended_reason: string | null }[];
    for (const opp of [deleted, reopened]) {
      const rows = await status(opp);
      expect(rows).toHaveLength(3);
      for (const r of rows) expect(r.ended_reason).toMatch(/removed/);
    }

    emu.clock.advance(60_000);
    emu.update('Opportunity', reopened, { StageName: 'Closed Won' });
    const rewon = await runSync(hub, connectionId, { objects: ['orders'] });
    expect(runOf(rewon, 'orders')).toMatchObject({ error: null, errors: [], updated: 1, failed: 0 });
    const rows = await status(reopened);
    expect(rows).toHaveLength(6);
    expect(rows.slice(3).map((r) => r.ended_reason)).toEqual([null, null, null]);
  }, 60_000);

  it('a pull cut short by Salesforce errors fails as a run and resumes from its cursor on the next one', async () => {
    emu.clock.advance(60_000);
    const account = emu.records('Account')[1]!.Id as string;
    const fresh = [1, 2, 3].map((i) => emu.seedDeal({ accountId: account, lines: [{ productCode: 'CRM-B', quantity: i, unitPrice: 10, serviceDate: '2026-12-01', endDate: '2027-11-30' }] }).opportunityId);
    emu.faults.queue('HTTP_503');
    const failed = runOf(await runSync(hub, connectionId, { objects: ['orders'] }), 'orders');
    expect(failed).toMatchObject({ status: 'FAILED', created: 0 });
    expect(failed.error).toMatch(/503|unavailable/i);
    const resumed = runOf(await runSync(hub, connectionId, { objects: ['orders'] }), 'orders');
    expect(resumed).toMatchObject({ status: 'SUCCEEDED', read: 3, created: 3 });
    const [n] = await hub.ds.query(`SELECT count(*)::int AS n FROM sales_order WHERE external_id = ANY($1)`, [fresh]);
    expect(n.n).toBe(3);
  }, 60_000);

  it('a contact\'s title or department changed in Salesforce is changed in the hub on the next pull', async () => {
    emu.clock.advance(60_000);
    const pat2 = emu.records('Contact').find((c) => c.Email === 'pat2@customer2.example.com')!;
    emu.update('Contact', pat2.Id as string, { Department: 'Research' });
    const runs = await runSync(hub, connectionId, { objects: ['contacts'] });
    expect(runOf(runs, 'contacts')).toMatchObject({ read: 1, updated: 1, failed: 0 });
    const [c] = await hub.ds.query(`SELECT title, department FROM contact WHERE email = 'pat2@customer2.example.com'`);
    expect(c).toEqual({ title: 'Buyer', department: 'Research' });
  }, 60_000);

  it('a line whose product code matches no sku is reported, and the deal is fulfilled once the catalog has it', async () => {
    emu.clock.advance(60_000);
    const account = emu.records('Account')[0]!.Id as string;
    const deal = emu.seedDeal({ accountId: account, lines: [{ productCode: 'CRM-NEW', quantity: 4, unitPrice: 99.99, serviceDate: '2026-12-01', endDate: '2027-11-30' }] });
    const first = runOf(await runSync(hub, connectionId, { objects: ['orders'] }), 'orders');
    expect(first).toMatchObject({ error: null, status: 'PARTIAL', failed: 1, created: 0 });
    expect(first.errors).toEqual([expect.objectContaining({ record: deal.opportunityId, code: 'UNKNOWN_SKU', message: expect.stringContaining('"CRM-NEW"') })]);

    // Nothing changed anywhere: it stays failed without a new error on every pull.
    const idle = runOf(await runSync(hub, connectionId, { objects: ['orders'] }), 'orders');
    expect(idle).toMatchObject({ read: 0, failed: 0 });

    await seedSkus(hub, ['CRM-NEW']);
    const retried = runOf(await runSync(hub, connectionId, { objects: ['orders'] }), 'orders');
    expect(retried).toMatchObject({ created: 1, failed: 0 });
    const [e] = await hub.ds.query(
      `SELECT e.sku, e.quantity::int AS quantity FROM entitlement e JOIN sales_order o ON o.id = e.order_id WHERE o.external_id = $1`,
      [deal.opportunityId],
    );
    expect(e).toEqual({ sku: 'CRM-NEW', quantity: 4 });
  }, 60_000);
});

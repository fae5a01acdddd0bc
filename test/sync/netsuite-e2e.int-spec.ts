import { createHash } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import pino from 'pino';
import { systemContext } from '../../src/common/context';
import { SyncTrigger } from '../../src/sync/sync.entities';
import { startNetSuiteEmulator, type NetSuiteEmulator } from '../../connectors/netsuite/emulator';
import { noProxy } from '../../connectors/netsuite/spec-helpers';
import type { SalesforceEmulator } from '../../connectors/salesforce/emulator/types';
import { createSalesforceConnection, dropProxyEnv, runOf, runSync, seedSkus, startEmulator } from '../support/salesforce';
import { day } from '../support/orders';
import { createNetSuiteConnection } from '../support/netsuite';
import { startTestHub, type TestHub } from '../support/test-hub';

noProxy();
dropProxyEnv();
const silent = pino({ level: 'silent' });

/**
 * Issue 12's NetSuite "done when", through the hub's sync engine over HTTP: 300 customers
 * (60 of them already pulled from Salesforce and carrying its Account Id) and 500 sales
 * orders of 3 lines become exactly the right accounts and entitlements; reruns, a full pull and
 * a pull from an old cursor change nothing; invoices, credit memos and payments give each
 * account the open balance and overdue days computed here independently.
 */
const CUSTOMERS = 300;
const LINKED = 60;
const ORDERS = 500;
const SKUS = ['NS-A', 'NS-B', 'NS-C', 'NS-D'];
/** The last closed month (YYYY-MM) and a one-year term starting on its first day: revenue falls in it. */
const now = new Date();
const P = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
const TERM_START = `${P}-01`;
const TERM_END = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1 + 12, 0)).toISOString().slice(0, 10);

describe('NetSuite through the sync engine', () => {
  let hub: TestHub;
  let ns: NetSuiteEmulator;
  let sf: SalesforceEmulator;
  let nsConnection: string;
  const sfIds: string[] = [];
  const customerIds: number[] = [];
  const expectedLines: { customer: number; sku: string; quantity: string }[] = [];

  beforeAll(async () => {
    hub = await startTestHub();
    ns = await startNetSuiteEmulator();
    sf = await startEmulator();
    await seedSkus(hub, SKUS);
    // 60 customers known to the CRM first: pulled from Salesforce.
    for (let i = 0; i < LINKED; i++) sfIds.push(sf.insert('Account', { Name: `Shared Customer ${i}` }));
    const sfConnection = await createSalesforceConnection(hub, sf);
    expect(runOf(await runSync(hub, sfConnection, { objects: ['accounts'] }), 'accounts')).toMatchObject({ created: LINKED, failed: 0 });

    customerIds.push(
      ...ns.seed.customers(
        Array.from({ length: CUSTOMERS }, (_, i) => ({
          companyName: i < LINKED ? `Shared Customer ${i} (ERP name)` : `ERP Customer ${i}`,
          crmId: i < LINKED ? sfIds[i]! : null,
          currency: 'USD',
        })),
      ),
    );
    const items = ns.seed.items(SKUS.map((s) => ({ itemId: s })));
    ns.seed.transactions(
      Array.from({ length: ORDERS }, (_, o) => {
        const customer = customerIds[o % CUSTOMERS]!;
        const lines = [0, 1, 2].map((l) => {
          const skuIndex = (o + l) % SKUS.length;
          const quantity = String(1 + ((o * 3 + l) % 7));
          expectedLines.push({ customer, sku: SKUS[skuIndex]!, quantity });
          return { item: items[skuIndex]!, quantity, rate: `${100 + (o % 50)}.25`, startDate: TERM_START, endDate: TERM_END };
        });
        return { type: 'SalesOrd' as const, entity: customer, tranDate: TERM_START, lines };
      }),
    );
    nsConnection = await createNetSuiteConnection(hub, ns);
  }, 120_000);

  afterAll(async () => {
    await ns?.close();
    await sf?.close();
    await hub?.close();
  });

  /** Pushes the NetSuite connection's outbox until nothing is left to send. */
  const drain = async () => {
    const conn = await hub.services.sync.connectionByName('netsuite');
    for (let i = 0; i < 50; i++) {
      await hub.services.sync.pushOnce(systemContext(silent, 'test:push'), conn, SyncTrigger.MANUAL);
      const [open] = await hub.ds.query(`SELECT count(*)::int AS n FROM sync_outbox WHERE connection_id = $1 AND status IN ('PENDING','FAILED','IN_FLIGHT','SUBMITTED')`, [conn.id]);
      if (open.n === 0) return;
    }
    throw new Error('the outbox did not drain');
  };

  /** The number of hub accounts, and every entitlement of a NetSuite-linked account as comparable text. */
  const snapshot = async () => {
    const accounts: { n: number }[] = await hub.ds.query(`SELECT count(*)::int AS n FROM account`);
    const ents: { sku: string; quantity: string; ext: string }[] = await hub.ds.query(
      `SELECT e.sku, trim_scale(e.quantity)::text AS quantity, r.external_id AS ext, e.status, e.start_date::text AS s, e.end_date::text AS e, e.version
         FROM entitlement e JOIN external_ref r ON r.entity_id = e.account_id AND r.system = 'netsuite' AND r.entity_type = 'ACCOUNT'
        ORDER BY e.id`,
    );
    return { accounts: accounts[0]!.n, entitlements: ents, hash: createHash('sha256').update(JSON.stringify(ents)).digest('hex') };
  };

  it('pulls 300 customers and 500 orders of 3 lines into exactly the right accounts and entitlements; customers the CRM has are linked, not duplicated', async () => {
    const runs = await runSync(hub, nsConnection, { objects: ['accounts', 'orders'] });
    expect(runOf(runs, 'accounts')).toMatchObject({ read: CUSTOMERS, created: CUSTOMERS - LINKED, updated: LINKED, failed: 0 });
    expect(runOf(runs, 'orders')).toMatchObject({ read: ORDERS, created: ORDERS, failed: 0 });
    const s = await snapshot();
    expect(s.accounts).toBe(CUSTOMERS); // 60 from Salesforce + 240 new: nobody twice
    const linkedBoth: { n: number }[] = await hub.ds.query(
      `SELECT count(*)::int AS n FROM account a
        WHERE EXISTS (SELECT 1 FROM external_ref r WHERE r.entity_id = a.id AND r.system = 'salesforce')
          AND EXISTS (SELECT 1 FROM external_ref r WHERE r.entity_id = a.id AND r.system = 'netsuite')`,
    );
    expect(linkedBoth[0]!.n).toBe(LINKED);
    // One entitlement per order line, on the customer's account, with its sku and quantity.
    const want = expectedLines.map((l) => `${l.customer}|${l.sku}|${l.quantity}`).sort();
    expect(s.entitlements.map((e) => `${e.ext}|${e.sku}|${e.quantity}`).sort()).toEqual(want);
  }, 300_000);

  it('a rerun, a full pull and a pull from an old cursor change nothing', async () => {
    const before = await snapshot();
    const rerun = await runSync(hub, nsConnection, { objects: ['accounts', 'orders'] });
    expect(runOf(rerun, 'orders')).toMatchObject({ created: 0, updated: 0, failed: 0 });
    const full = await runSync(hub, nsConnection, { objects: ['accounts', 'orders'], full: true });
    expect(runOf(full, 'accounts')).toMatchObject({ read: CUSTOMERS, created: 0, updated: 0, failed: 0 });
    expect(runOf(full, 'orders')).toMatchObject({ read: ORDERS, created: 0, updated: 0, failed: 0 });
    await hub.ok('mutation($c: ID!, $o: String!) { resetSyncCursor(connectionId: $c, object: $o) }', { c: nsConnection, o: 'orders' });
    const old = await runSync(hub, nsConnection, { objects: ['orders'] });
    expect(runOf(old, 'orders')).toMatchObject({ read: ORDERS, created: 0, updated: 0, failed: 0 });
    const after = await snapshot();
    expect(after.accounts).toBe(before.accounts);
    expect(after.hash).toBe(before.hash);
  }, 300_000);

  it('gives each account the open balance and overdue days of its invoices, credit memos and payments, equal to sums computed here', async () => {
    const asOf = day(0);
    const docs: { customer: number; kind: 'CustInvc' | 'CustCred' | 'CustPymt'; total: number; open: number; due: string | null }[] = [];
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 120; i++) {
      const customer = customerIds[i % 40]!;
      const kind = i % 6 === 0 ? 'CustPymt' : i % 6 === 1 ? 'CustCred' : 'CustInvc';
      const total = 100 + Math.floor(rnd() * 900000) / 100;
      const open = kind === 'CustInvc' && i % 3 === 0 ? 0 : Math.floor(total * rnd() * 100) / 100;
      docs.push({ customer, kind, total, open, due: kind === 'CustInvc' ? day(-60 + (i % 90)) : null });
    }
    ns.seed.transactions(
      docs.map((d) => ({
        type: d.kind,
        entity: d.customer,
        tranDate: day(-90),
        dueDate: d.due,
        currency: 'USD',
        total: d.total.toFixed(2),
        ...(d.kind === 'CustInvc' ? { amountRemaining: d.open.toFixed(2) } : { unapplied: d.open.toFixed(2) }),
      })),
    );
    const runs = await runSync(hub, nsConnection, { objects: ['receivables'] });
    expect(runOf(runs, 'receivables')).toMatchObject({ read: docs.length, created: docs.length, failed: 0 });

    const cents = (x: number) => Math.round(x * 100);
    for (const customer of customerIds.slice(0, 40)) {
      const mine = docs.filter((d) => d.customer === customer);
      const openInvoices = mine.filter((d) => d.kind === 'CustInvc').reduce((s, d) => s + cents(d.open), 0);
      const unapplied = mine.filter((d) => d.kind !== 'CustInvc').reduce((s, d) => s + cents(d.open), 0);
      const overdueDocs = mine.filter((d) => d.kind === 'CustInvc' && d.open > 0 && d.due! < asOf);
      const maxDays = overdueDocs.length ? Math.max(...overdueDocs.map((d) => Math.round((Date.parse(asOf) - Date.parse(d.due!)) / 86_400_000))) : 0;
      const [acc] = await hub.ds.query(`SELECT entity_id AS id FROM external_ref WHERE system = 'netsuite' AND object = 'Account' AND external_id = $1`, [String(customer)]);
      const { account } = await hub.ok<{ account: { receivables: { openBalance: { amountMinor: string }; overdue: { amountMinor: string }; maxOverdueDays: number }[] } }>(
        `query($a: ID!, $d: String) { account(id: $a) { receivables(asOf: $d) { openBalance { amountMinor } overdue { amountMinor } maxOverdueDays } } }`,
        { a: acc.id, d: asOf },
      );
      expect({ customer, r: account.receivables }).toEqual({
        customer,
        r: [{ openBalance: { amountMinor: String(openInvoices - unapplied) }, overdue: { amountMinor: String(overdueDocs.reduce((s, d) => s + cents(d.open), 0)) }, maxOverdueDays: maxDays }],
      });
    }
    const again = await runSync(hub, nsConnection, { objects: ['receivables'], full: true });
    expect(runOf(again, 'receivables')).toMatchObject({ created: 0, updated: 0, failed: 0 });
  }, 300_000);

  it('sends a closed revenue period to NetSuite as one balanced journal entry per subsidiary, equal to the journal CSV, once', async () => {
    // The GL accounts the hub posts to (EHUB_GL_* defaults), as NetSuite's chart of accounts holds them.
    for (const [n, name] of [['4000', 'Revenue'], ['2400', 'Contract liability'], ['1300', 'Contract asset'], ['1200', 'Receivables']]) {
      ns.store.insert('account', { acctnumber: n, acctname: name });
    }
    await hub.ok('mutation($m: String!) { closePeriod(month: $m) { month } }', { m: P });
    const conn = { id: nsConnection };
    await drain();
    const [dead] = await hub.ds.query(`SELECT count(*)::int AS n FROM sync_outbox WHERE connection_id = $1 AND status = 'DEAD'`, [conn.id]);
    expect(dead.n).toBe(0);
    const lines: { externalid: string; acctnumber: string; debit: string | null; credit: string | null }[] = ns.store.all(
      `SELECT t.externalid, a.acctnumber, l.debitforeignamount AS debit, l.creditforeignamount AS credit
         FROM "transaction" t JOIN transactionline l ON l."transaction" = t.id JOIN account a ON a.id = l.account
        WHERE t.type = 'Journal' ORDER BY t.id, l.id`,
    ) as never;
    const entries = [...new Set(lines.map((l) => l.externalid))];
    expect(entries).toEqual([`ehub-journal:${P}:1:USD`]); // every customer is in subsidiary 1
    const cents = (v: string | null) => (v ? Math.round(Number(v) * 100) : 0);
    const got = new Map<string, { debit: number; credit: number }>();
    for (const l of lines) {
      const t = got.get(l.acctnumber) ?? { debit: 0, credit: 0 };
      t.debit += cents(l.debit);
      t.credit += cents(l.credit);
      got.set(l.acctnumber, t);
    }
    const debits = [...got.values()].reduce((s, t) => s + t.debit, 0);
    expect(debits).toBeGreaterThan(0);
    expect(debits).toBe([...got.values()].reduce((s, t) => s + t.credit, 0));

    const res = await fetch(`${hub.url}/v1/exports/journal-entries.csv?from=${P}&to=${P}`, { headers: { authorization: `Bearer ${hub.adminKey}` } });
    expect(res.status).toBe(200);
    const want = new Map<string, { debit: number; credit: number }>();
    for (const r of parse(await res.text(), { columns: true }) as Record<string, string>[]) {
      const t = want.get(r.gl_account_code!) ?? { debit: 0, credit: 0 };
      t.debit += Number(r.debit_minor);
      t.credit += Number(r.credit_minor);
      want.set(r.gl_account_code!, t);
    }
    expect(got).toEqual(want);

    // Sent again (as after a crash between send and acknowledge): upserted by external id, never a second entry.
    await hub.ds.query(`UPDATE sync_outbox SET status = 'PENDING', next_attempt_at = now(), dirty_version = dirty_version + 1 WHERE connection_id = $1 AND object = 'journal-entry'`, [conn.id]);
    await drain();
    const [count] = ns.store.all(`SELECT count(*) AS n FROM "transaction" WHERE type = 'Journal'`) as { n: number }[];
    expect(Number(count!.n)).toBe(1);
  }, 300_000);

  it("writes the closed month's usage of a usage-billed NetSuite order line as one usage record, equal to the rollups, never doubled", async () => {
    await seedSkus(hub, ['NS-USE'], 'USAGE');
    await hub.ok('mutation($i: UpsertMeterInput!) { upsertMeter(input: $i) { id } }', {
      i: { key: 'ns.calls', name: 'API calls', aggregation: 'SUM', unit: 'call', featureKey: 'f.ns-use' },
    });
    const [item] = ns.seed.items([{ itemId: 'NS-USE' }]);
    const [customer] = ns.seed.customers([{ companyName: 'Metered Customer', currency: 'USD' }]);
    ns.seed.transactions([{ type: 'SalesOrd', entity: customer!, tranDate: TERM_START, lines: [{ item: item!, quantity: '1', rate: '0.00', startDate: TERM_START, endDate: TERM_END }] }]);
    const pulled = await runSync(hub, nsConnection, { objects: ['accounts', 'orders'] });
    expect(runOf(pulled, 'orders')).toMatchObject({ created: 1, failed: 0 });
    const [acc] = await hub.ds.query(`SELECT entity_id AS id FROM external_ref WHERE system = 'netsuite' AND object = 'Account' AND external_id = $1`, [String(customer)]);
    const quantities = [120, 75.5, 4];
    const res = await fetch(`${hub.url}/v1/usage`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${hub.adminKey}` },
      body: quantities.map((q, i) => JSON.stringify({ id: `ns-u-${i}`, accountId: acc.id, meter: 'ns.calls', quantity: q, occurredAt: `${P}-1${i}T12:00:00Z`, deployment: 'CLOUD' })).join('\n') + '\n',
    });
    expect(res.status).toBe(200);

    const jobNow = new Date(`${new Date().toISOString().slice(0, 7)}-03T00:00:00Z`);
    const send = async () => {
      await hub.services.sync.markUsagePeriods(silent, jobNow);
      await drain();
    };
    // The first write is applied by NetSuite but its answer lost (503): the resend must upsert, not add.
    ns.faults.queueOn('PUT record/usage/{id}', 'APPLY_THEN_503');
    const faultsBefore = ns.stats.faultsInjected;
    await send();
    expect(ns.stats.faultsInjected).toBe(faultsBefore + 1);
    const [ent] = await hub.ds.query(`SELECT e.id FROM entitlement e WHERE e.account_id = $1 AND e.sku = 'NS-USE'`, [acc.id]);
    const [rollup] = await hub.ds.query(
      `SELECT trim_scale(sum(r.sum))::text AS total FROM usage_rollup r JOIN meter m ON m.id = r.meter_id
        WHERE r.account_id = $1 AND m.key = 'ns.calls' AND r.granularity = 'D' AND r.bucket >= $2::date AND r.bucket < ($2::date + interval '1 month')`,
      [acc.id, TERM_START],
    );
    expect(rollup.total).toBe('199.5');
    const records = ns.store.all(`SELECT externalid, customer, usagequantity, subscriptionline, usagedate FROM usage`) as Record<string, unknown>[];
    expect(records).toEqual([expect.objectContaining({ externalid: `ehub-usage:${ent.id}:${P}`, customer: customer, usagequantity: '199.5' })]);
    // Sent again after the period is re-marked (late usage, a replay): still one record.
    await hub.ds.query(`UPDATE sync_outbox SET status = 'PENDING', next_attempt_at = now(), dirty_version = dirty_version + 1 WHERE connection_id = $1 AND object = 'usage-record'`, [nsConnection]);
    await send();
    expect(ns.store.all(`SELECT count(*) AS n FROM usage`)).toEqual([{ n: 1 }]);
  }, 300_000);
});

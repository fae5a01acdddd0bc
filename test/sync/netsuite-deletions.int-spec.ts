import { startNetSuiteEmulator, type NetSuiteEmulator } from '../../connectors/netsuite/emulator';
import { noProxy } from '../../connectors/netsuite/spec-helpers';
import { dropProxyEnv, runOf, runSync, seedSkus } from '../support/salesforce';
import { createNetSuiteConnection } from '../support/netsuite';
import { startTestHub, type TestHub } from '../support/test-hub';

noProxy();
dropProxyEnv();

/**
 * NetSuite deletions through the engine: records deleted in NetSuite are read from SuiteQL's
 * `deletedrecord` table after each object's changed records and applied as the Salesforce pull
 * applies deleted rows: a deleted sales order withdraws what it granted (a revision without
 * lines), a deleted invoice leaves the account's receivables, a deleted contact is removed, a
 * deleted customer keeps its hub account (it may hold entitlements and usage). Pulled again,
 * from the cursor or from the beginning, nothing changes.
 */
describe('NetSuite deletions through the sync engine', () => {
  let hub: TestHub;
  let ns: NetSuiteEmulator;
  let connectionId: string;
  let customers: number[];
  let orders: number[];
  let invoices: number[];
  let contacts: number[];
  const OBJECTS = ['accounts', 'contacts', 'orders', 'receivables'];

  beforeAll(async () => {
    hub = await startTestHub();
    ns = await startNetSuiteEmulator();
    await seedSkus(hub, ['NS-DEL']);
    const [item] = ns.seed.items([{ itemId: 'NS-DEL' }]);
    customers = ns.seed.customers([0, 1, 2].map((i) => ({ companyName: `Deleting Customer ${i}`, currency: 'USD' })));
    contacts = ns.seed.contacts([0, 1].map((i) => ({ company: customers[0]!, firstName: 'Del', lastName: `Contact ${i}`, email: `del${i}@deleting.example` })));
    orders = ns.seed.transactions(
      [0, 1].map((i) => ({ type: 'SalesOrd' as const, entity: customers[0]!, tranDate: '2026-11-01', lines: [{ item: item!, quantity: String(2 + i), rate: '100.00', startDate: '2026-11-01', endDate: '2027-10-31' }] })),
    );
    invoices = ns.seed.transactions([0, 1].map((i) => ({ type: 'CustInvc' as const, entity: customers[1]!, tranDate: '2026-11-01', dueDate: '2026-12-01', total: `${100 + i}.00` })));
    connectionId = await createNetSuiteConnection(hub, ns);
    const runs = await runSync(hub, connectionId, { objects: OBJECTS });
    expect(runOf(runs, 'accounts')).toMatchObject({ created: 3, failed: 0 });
    expect(runOf(runs, 'contacts')).toMatchObject({ created: 2, failed: 0 });
    expect(runOf(runs, 'orders')).toMatchObject({ created: 2, failed: 0 });
    expect(runOf(runs, 'receivables')).toMatchObject({ created: 2, failed: 0 });
  }, 120_000);

  afterAll(async () => {
    await ns?.close();
    await hub?.close();
  });

  const state = async () => ({
    accounts: (await hub.ds.query(`SELECT count(*)::int AS n FROM account`))[0].n as number,
    contacts: ((await hub.ds.query(`SELECT c.email FROM contact c ORDER BY c.email`)) as { email: string }[]).map((c) => c.email),
    entitlements: (await hub.ds.query(
      `SELECT o.external_id AS "order", e.status, e.ended_reason IS NOT NULL AS ended FROM entitlement e JOIN sales_order o ON o.id = e.order_id ORDER BY o.external_id`,
    )) as { order: string; status: string; ended: boolean }[],
    receivables: (await hub.ds.query(`SELECT external_id AS id, deleted FROM receivable ORDER BY external_id`)) as { id: string; deleted: boolean }[],
  });

  it('reads deletions from deletedrecord and applies them as the Salesforce pull does; pulled again, nothing changes', async () => {
    ns.clock.advance(60_000);
    ns.records.delete('salesOrder', String(orders[0]));
    ns.records.delete('invoice', String(invoices[0]));
    ns.records.delete('contact', String(contacts[0]));
    ns.records.delete('customer', String(customers[2]));
    const runs = await runSync(hub, connectionId, { objects: OBJECTS });
    for (const o of OBJECTS) expect({ o, ...runOf(runs, o) }).toMatchObject({ o, read: 1, deleted: 1, created: 0, updated: 0, failed: 0, error: null });

    const s = await state();
    expect(s.accounts).toBe(3); // the deleted customer's account is kept
    expect(s.contacts).toEqual(['del1@deleting.example']);
    expect(s.entitlements.filter((e) => e.order === String(orders[0])).every((e) => e.ended)).toBe(true);
    expect(s.entitlements.filter((e) => e.order === String(orders[1]))).toEqual([{ order: String(orders[1]), status: 'ACTIVE', ended: false }]);
    expect(s.receivables).toEqual(
      [
        { id: String(invoices[0]), deleted: true },
        { id: String(invoices[1]), deleted: false },
      ].sort((a, b) => (a.id < b.id ? -1 : 1)),
    );
    const [acc] = await hub.ds.query(`SELECT entity_id AS id FROM external_ref WHERE system = 'netsuite' AND object = 'Account' AND external_id = $1`, [String(customers[1])]);
    const { account } = await hub.ok<{ account: { receivables: { openBalance: { amountMinor: string } }[] } }>(
      'query($a: ID!) { account(id: $a) { receivables { openBalance { amountMinor } } } }',
      { a: acc.id },
    );
    expect(account.receivables).toEqual([{ openBalance: { amountMinor: '10100' } }]); // the deleted 100.00 invoice left out

    // From the cursor: no deletion read twice. From the beginning: every deletion read again, nothing changes.
    const again = await runSync(hub, connectionId, { objects: OBJECTS });
    for (const o of OBJECTS) expect({ o, ...runOf(again, o) }).toMatchObject({ o, read: 0, deleted: 0, failed: 0 });
    const full = await runSync(hub, connectionId, { objects: ['contacts', 'orders', 'receivables'], full: true });
    for (const o of ['contacts', 'orders', 'receivables']) expect({ o, ...runOf(full, o) }).toMatchObject({ o, created: 0, updated: 0, deleted: 0, failed: 0 });
    expect(await state()).toEqual(s);
  }, 120_000);
});

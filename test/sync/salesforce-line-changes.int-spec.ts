import { createSalesforceConnection, dropProxyEnv, runOf, runSync, seedSkus, SF_CLIENT } from '../support/salesforce';
dropProxyEnv();
import { startSalesforceEmulator } from '../../connectors/salesforce/emulator';
import type { SalesforceEmulator } from '../../connectors/salesforce/emulator/types';
import { startTestHub, type TestHub } from '../support/test-hub';

/**
 * Issue 10: the pull must not depend on a line edit moving its opportunity's stamps. The
 * emulator runs in its strict mode, where the parent is written only when a rolled-up value
 * changes, as Salesforce promises no more than that.
 */
describe('Salesforce pull: line changes that leave the Amount as it was', () => {
  let hub: TestHub;
  let emu: SalesforceEmulator;
  let connectionId: string;
  let opp: string;
  let lineIds: string[];

  const entitlements = async () =>
    new Map<string, { quantity: string; start: string; end: string; status: string }>(
      (
        await hub.ds.query(
          `SELECT l.external_line_id AS line, e.quantity::text AS quantity, e.start_date::text AS start, e.end_date::text AS end, e.status
             FROM entitlement e JOIN order_line l ON l.id = e.order_line_id JOIN sales_order o ON o.id = e.order_id WHERE o.source = 'salesforce'`,
        )
      ).map((r: { line: string; quantity: string; start: string; end: string; status: string }) => [r.line, { quantity: r.quantity, start: r.start, end: r.end, status: r.status }]),
    );
  const oppStamp = () => emu.get('Opportunity', opp)!.SystemModstamp;
  const tick = () => emu.clock.advance(1000);

  beforeAll(async () => {
    hub = await startTestHub();
    emu = await startSalesforceEmulator({ clients: [SF_CLIENT], bulkProcessingDelayMs: 5, strictRollupStamps: true });
    emu.clock.set('2026-11-01T10:00:00.000Z');
    await seedSkus(hub, ['LINE-A', 'LINE-B']);
    connectionId = await createSalesforceConnection(hub, emu);
    const acc = emu.insert('Account', { Name: 'Strict Co' });
    const deal = emu.seedDeal({
      accountId: acc,
      lines: [
        { productCode: 'LINE-A', quantity: 3, unitPrice: 50, serviceDate: '2026-11-01', endDate: '2027-10-31' },
        { productCode: 'LINE-B', quantity: 7, unitPrice: 50, serviceDate: '2026-11-01', endDate: '2027-10-31' },
      ],
    });
    opp = deal.opportunityId;
    lineIds = deal.lineIds;
    tick();
    expect(runOf(await runSync(hub, connectionId), 'orders')).toMatchObject({ created: 1, failed: 0 });
  }, 60_000);

  afterAll(async () => {
    await emu?.close();
    await hub?.close();
  });

  it('a ServiceDate-only change reaches the entitlement on the next incremental pull', async () => {
    tick();
    const before = oppStamp();
    emu.update('OpportunityLineItem', lineIds[0]!, { ServiceDate: '2026-12-01' });
    expect(oppStamp()).toBe(before); // the opportunity did not move: only the line's own stamp shows the change
    tick();
    const orders = runOf(await runSync(hub, connectionId, { objects: ['orders'] }), 'orders');
    expect(orders).toMatchObject({ status: 'SUCCEEDED', updated: 1, failed: 0 });
    const first = (await entitlements()).get(lineIds[0]!)!;
    expect({ start: first.start, quantity: Number(first.quantity) }).toEqual({ start: '2026-12-01', quantity: 3 });
    // and nothing more on the next one
    tick();
    expect(runOf(await runSync(hub, connectionId, { objects: ['orders'] }), 'orders')).toMatchObject({ created: 0, updated: 0, failed: 0 });
  });

  it('a quantity change priced to keep the line total, and an end-date change, are pulled too', async () => {
    tick();
    const before = oppStamp();
    // 3 × 50 = 5 × 30: the line's total, and so the Amount, stay as they were
    emu.update('OpportunityLineItem', lineIds[0]!, { Quantity: 5, UnitPrice: 30 });
    emu.update('OpportunityLineItem', lineIds[1]!, { Ehub_End_Date__c: '2027-11-30' });
    expect(oppStamp()).toBe(before);
    tick();
    expect(runOf(await runSync(hub, connectionId, { objects: ['orders'] }), 'orders')).toMatchObject({ updated: 1, failed: 0 });
    const ents = await entitlements();
    expect(Number(ents.get(lineIds[0]!)!.quantity)).toBe(5);
    expect(ents.get(lineIds[1]!)).toMatchObject({ end: '2027-11-30' });
  });

  it('a cursor written before line changes were followed still resumes (from the opportunities\' position)', async () => {
    const [{ cursor }] = await hub.ds.query(`SELECT cursor FROM sync_cursor WHERE connection_id = $1 AND object = 'orders'`, [connectionId]);
    const parsed = JSON.parse(cursor);
    expect(parsed.lines).toMatchObject({ id: expect.any(String) });
    // the old format: only the opportunities' (ts, id)
    await hub.ds.query(`UPDATE sync_cursor SET cursor = $2 WHERE connection_id = $1 AND object = 'orders'`, [connectionId, JSON.stringify({ ts: parsed.ts, id: parsed.id })]);
    tick();
    emu.update('OpportunityLineItem', lineIds[1]!, { ServiceDate: '2027-01-15' });
    tick();
    expect(runOf(await runSync(hub, connectionId, { objects: ['orders'] }), 'orders')).toMatchObject({ status: 'SUCCEEDED', updated: 1, failed: 0 });
    expect((await entitlements()).get(lineIds[1]!)).toMatchObject({ start: '2027-01-15' });
  });
});

import { dropProxyEnv, createSalesforceConnection, startEmulator } from '../support/salesforce';
dropProxyEnv();
import pino from 'pino';
import type { SalesforceEmulator } from '../../connectors/salesforce/emulator/types';
import { systemContext } from '../../src/common/context';
import { SyncTrigger } from '../../src/sync/sync.entities';
import { startTestHub, type TestHub } from '../support/test-hub';
import { createAccount, inMonth, monthStart, recordUsage, runCompliance, seedComplianceCatalog } from '../compliance/compliance-support';

const silent = pino({ level: 'silent' });

/**
 * Revenue recovery (ADR 0034): an open overuse or unentitled-use finding whose leakage
 * reaches the connection's threshold becomes one true-up Opportunity in the CRM, upserted by
 * `ehub-trueup:<finding id>` with the evidence in its description; a change of leakage
 * updates the same record; resolving the finding leaves it alone.
 *
 * The compliance catalog prices a job of `c.extra` (granted by no entitlement of these
 * accounts: unentitled use) at 20 minor units (C-EXTRA-PRO, 200.00 USD for 1,000 jobs).
 * The threshold is 50.00 USD: 300 jobs (60.00) pass it, 100 jobs (20.00) do not.
 */
describe('true-up opportunities from compliance findings', () => {
  let hub: TestHub;
  let emu: SalesforceEmulator;
  let big: string;
  let small: string;
  let sfBig: string;
  let sfSmall: string;
  let findingId: string;

  const push = async () => {
    const conn = await hub.services.sync.connectionByName('salesforce');
    await hub.services.sync.pushOnce(systemContext(silent, 'test:push'), conn, SyncTrigger.MANUAL);
    const [open] = await hub.ds.query(`SELECT count(*)::int AS n FROM sync_outbox WHERE status <> 'DONE'`);
    expect(open.n).toBe(0);
  };
  const trueups = () => emu.records('Opportunity').filter((o) => o.Ehub_Trueup_Key__c);
  const lastMonth = monthStart(-1).toISOString().slice(0, 7);

  beforeAll(async () => {
    hub = await startTestHub({ EHUB_SYNC_BACKOFF_BASE_MS: '1', EHUB_SYNC_BACKOFF_MAX_MS: '5' });
    emu = await startEmulator();
    await seedComplianceCatalog(hub);
    sfBig = emu.insert('Account', { Name: 'Big Overuser' });
    sfSmall = emu.insert('Account', { Name: 'Small Overuser' });
    big = await createAccount(hub, 'Big Overuser', sfBig);
    small = await createAccount(hub, 'Small Overuser', sfSmall);
    await createSalesforceConnection(hub, emu, { trueup: { minLeakage: 50, type: 'Existing Customer - Upgrade' } });
  }, 60_000);

  afterAll(async () => {
    await emu?.close();
    await hub?.close();
  });

  it('a finding whose leakage reaches the threshold becomes exactly one Opportunity with the evidence and the amount; one below it none', async () => {
    await recordUsage(hub, big, [
      { meter: 'm.extra', quantity: 200, at: inMonth(-1, 5) },
      { meter: 'm.extra', quantity: 100, at: inMonth(-1, 6) },
    ]);
    await recordUsage(hub, small, [{ meter: 'm.extra', quantity: 100, at: inMonth(-1, 5) }]);
    const runBig = await runCompliance(hub, big);
    const runSmall = await runCompliance(hub, small);
    const f = runBig.findings.find((x) => x.kind === 'UNENTITLED_USE')!;
    findingId = f.id;
    // 300 jobs × 20 = 6000 minor (60.00 USD) ≥ 50.00; 100 × 20 = 2000 (20.00) < 50.00.
    expect(f.leakage).toEqual({ amountMinor: '6000', currency: 'USD' });
    expect(runSmall.findings.find((x) => x.kind === 'UNENTITLED_USE')!.leakage).toEqual({ amountMinor: '2000', currency: 'USD' });
    const rows: { record_key: string; account_id: string }[] = await hub.ds.query(`SELECT record_key, account_id FROM sync_outbox WHERE object = 'trueup-opportunity'`);
    expect(rows).toEqual([{ record_key: `ehub-trueup:${findingId}`, account_id: big }]);

    await push();
    const opps = trueups();
    expect(opps).toHaveLength(1);
    const o = opps[0]!;
    expect(o).toMatchObject({
      Ehub_Trueup_Key__c: `ehub-trueup:${findingId}`,
      AccountId: sfBig,
      Amount: 60,
      StageName: 'Prospecting',
      Type: 'Existing Customer - Upgrade',
      Name: `True-up: Big Overuser – Unentitled use of c.extra (${lastMonth})`,
    });
    expect(o.CloseDate).toBe(new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() + 30)).toISOString().slice(0, 10));
    const description = String(o.Description);
    expect(description.split('\n')).toEqual([
      `Entitlement Hub compliance finding ${findingId}`,
      'Kind: UNENTITLED_USE',
      'Product: C-EXTRA-PRO (C-EXTRA-PRO)',
      'Feature: c.extra',
      'Meter: m.extra',
      `Period: ${monthStart(-1).toISOString().slice(0, 16)}Z to ${monthStart(0).toISOString().slice(0, 16)}Z (end exclusive)`,
      'Entitled: 0 jobs; used: 300 jobs; over: 300 jobs',
      expect.stringMatching(/^Estimated leakage: 60\.00 USD \(.+\)$/),
      expect.stringMatching(/^First seen \d{4}-\d{2}-\d{2}, last seen \d{4}-\d{2}-\d{2}$/),
    ]);
    // Nothing for the small one.
    expect(emu.records('Opportunity').filter((x) => x.AccountId === sfSmall)).toEqual([]);
  });

  it('a change of leakage updates the same Opportunity (no second one), keeping the stage sales set', async () => {
    const before = trueups()[0]!;
    // Sales works the deal: its stage is theirs from now on.
    emu.update('Opportunity', String(before.Id), { StageName: 'Negotiation/Review' });
    await recordUsage(hub, big, [{ meter: 'm.extra', quantity: 100, at: inMonth(-1, 7) }]);
    const run = await runCompliance(hub, big);
    expect(run.updated).toBe(1);
    expect(run.findings.find((x) => x.id === findingId)!.leakage).toEqual({ amountMinor: '8000', currency: 'USD' });
    await push();
    const after = trueups();
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ Id: before.Id, Amount: 80, StageName: 'Negotiation/Review', CloseDate: before.CloseDate });
    expect(String(after[0]!.Description)).toContain('used: 400 jobs; over: 400 jobs');
    expect(String(after[0]!.Description)).toContain('Estimated leakage: 80.00 USD');
  });

  it('a compliance run that changes nothing sends nothing; a resend of the same deal does not duplicate it', async () => {
    emu.resetStats();
    const run = await runCompliance(hub, big);
    expect(run).toMatchObject({ opened: 0, updated: 0, reopened: 0, resolved: 0 });
    const [due] = await hub.ds.query(`SELECT count(*)::int AS n FROM sync_outbox WHERE status <> 'DONE'`);
    expect(due.n).toBe(0);
    // A resend (as after a lost acknowledgement): the upsert by key finds the same record.
    await hub.ds.query(`UPDATE sync_outbox SET status = 'PENDING', next_attempt_at = now() WHERE object = 'trueup-opportunity'`);
    await push();
    expect(trueups()).toHaveLength(1);
    expect(trueups()[0]).toMatchObject({ Amount: 80, StageName: 'Negotiation/Review' });
  });

  it('resolving the finding closes and deletes nothing in the CRM; reopening it updates the same deal', async () => {
    const before = trueups()[0]!;
    await hub.ok('mutation($id: ID!) { setComplianceFindingStatus(id: $id, status: RESOLVED, note: "customer bought C-EXTRA-PRO") { status } }', { id: findingId });
    await push();
    // The account's leakage follows the open findings; the deal stays as sales left it.
    expect(Number(emu.get('Account', sfBig)!.Ehub_Estimated_Leakage__c)).toBe(0);
    const [row] = await hub.ds.query(`SELECT dirty_version FROM sync_outbox WHERE object = 'trueup-opportunity'`);
    expect(trueups()).toEqual([before]);

    await hub.ok('mutation($id: ID!) { setComplianceFindingStatus(id: $id, status: OPEN) { status } }', { id: findingId });
    const [again] = await hub.ds.query(`SELECT dirty_version FROM sync_outbox WHERE object = 'trueup-opportunity'`);
    expect(again.dirty_version).toBe(row.dirty_version + 1);
    await push();
    expect(trueups()).toHaveLength(1);
    expect(trueups()[0]).toMatchObject({ Id: before.Id, Amount: 80 });
  });

  it('an account linked to the CRM after its finding opened gets its true-up when it is linked', async () => {
    const late = await createAccount(hub, 'Late Link');
    await recordUsage(hub, late, [{ meter: 'm.extra', quantity: 250, at: inMonth(-1, 5) }]);
    const run = await runCompliance(hub, late);
    const f = run.findings.find((x) => x.kind === 'UNENTITLED_USE')!;
    expect(f.leakage).toEqual({ amountMinor: '5000', currency: 'USD' }); // 250 × 20: exactly the threshold, 50.00
    const [before] = await hub.ds.query(`SELECT count(*)::int AS n FROM sync_outbox WHERE account_id = $1`, [late]);
    expect(before.n).toBe(0); // not linked: nothing to write to
    const sfLate = emu.insert('Account', { Name: 'Late Link' });
    await hub.ok('mutation($i: UpsertAccountInput!) { upsertAccount(input: $i) { id } }', {
      i: { id: late, name: 'Late Link', externalRefs: [{ system: 'salesforce', object: 'Account', externalId: sfLate }] },
    });
    await push();
    const deals = trueups().filter((o) => o.AccountId === sfLate);
    expect(deals.map((o) => [o.Ehub_Trueup_Key__c, o.Amount])).toEqual([[`ehub-trueup:${f.id}`, 50]]);
  });

  it('a connection whose options say trueup: null gets no true-up rows (the other connection does)', async () => {
    // A second org that does not want true-ups.
    const emu2 = await startEmulator({ seed: 11 });
    try {
      await hub.ok(
        'mutation($i: CreateSyncConnectionInput!) { createSyncConnection(input: $i) { id } }',
        {
          i: {
            name: 'salesforce-eu',
            type: 'salesforce',
            refSystem: 'salesforce',
            options: { auth: 'client_credentials', loginUrl: emu2.url, clientId: 'ehub-test', trueup: null },
            credentials: { clientSecret: 'test-secret-123' },
          },
        },
      );
      await recordUsage(hub, big, [{ meter: 'm.extra', quantity: 50, at: inMonth(-1, 8) }]);
      await runCompliance(hub, big);
      const rows: { name: string }[] = await hub.ds.query(
        `SELECT c.name FROM sync_outbox o JOIN sync_connection c ON c.id = o.connection_id WHERE o.object = 'trueup-opportunity' AND o.account_id = $1 ORDER BY 1`,
        [big],
      );
      expect(rows).toEqual([{ name: 'salesforce' }]);
    } finally {
      await emu2.close();
    }
  });
});

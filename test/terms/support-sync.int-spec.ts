import { dropProxyEnv, createSalesforceConnection, startEmulator } from '../support/salesforce';
dropProxyEnv();
import pino from 'pino';
import type { SalesforceEmulator } from '../../connectors/salesforce/emulator/types';
import { systemContext } from '../../src/common/context';
import { SyncTrigger } from '../../src/sync/sync.entities';
import { startTestHub, type TestHub } from '../support/test-hub';
import { createAccount, day, grant, seedLicensingCatalog } from '../licensing/licensing-support';

const silent = pino({ level: 'silent' });

/**
 * Support terms in the CRM (ADR 0037): an entitlement with a support level becomes one
 * standard Salesforce Entitlement upserted by `ehub-support:<entitlement id>`, its cases left
 * follow recordSupportCase, and the account carries the support level and end.
 */
describe('support terms reach Salesforce', () => {
  let hub: TestHub;
  let emu: SalesforceEmulator;
  let acct: string;
  let sfAcct: string;
  let ent: string;

  const push = async () => {
    const conn = await hub.services.sync.connectionByName('salesforce');
    await hub.services.sync.pushOnce(systemContext(silent, 'test:push'), conn, SyncTrigger.MANUAL);
    const stuck = await hub.ds.query(`SELECT object, record_key, status, last_error_code, last_error FROM sync_outbox WHERE status <> 'DONE'`);
    expect(stuck).toEqual([]);
    const [open] = await hub.ds.query(`SELECT count(*)::int AS n FROM sync_outbox WHERE status <> 'DONE'`);
    expect(open.n).toBe(0);
  };
  const supportRecords = () => emu.records('Entitlement');
  const tier = (name: string) =>
    hub.ok(`mutation ($i: SupportTierInput!) { upsertSupportTier(input: $i) { id } }`, {
      i: { key: 'gold', name, firstResponseMinutes: 60, resolutionMinutes: 480, coverageHours: '24x7' },
    });

  beforeAll(async () => {
    hub = await startTestHub({ EHUB_SYNC_BACKOFF_BASE_MS: '1', EHUB_SYNC_BACKOFF_MAX_MS: '5' });
    emu = await startEmulator();
    await seedLicensingCatalog(hub);
    await tier('Gold');
    sfAcct = emu.insert('Account', { Name: 'Supported Co' });
    acct = await createAccount(hub, 'Supported Co', sfAcct);
    await createSalesforceConnection(hub, emu, { supportEntitlement: { type: 'Phone Support' } });
  }, 60_000);

  afterAll(async () => {
    await emu?.close();
    await hub?.close();
  });

  it('an order line with a support level: one Entitlement upserted by ehub-support:<id>, and the account\'s support level and end', async () => {
    ent = await grant(hub, acct, { sku: 'L-SUB', startDate: day(-10), endDate: day(355), terms: { supportLevel: 'gold', supportEnd: day(200), casesAllowed: 3 } });
    const rows = await hub.ds.query(`SELECT record_key, account_id FROM sync_outbox WHERE object = 'support-entitlement'`);
    expect(rows).toEqual([{ record_key: `ehub-support:${ent}`, account_id: acct }]);
    await push();
    const records = supportRecords();
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      Ehub_Support_Key__c: `ehub-support:${ent}`,
      Name: 'Gold – L-SUB (L-SUB)',
      AccountId: sfAcct,
      StartDate: day(-10),
      EndDate: day(200),
      Type: 'Phone Support',
      IsPerIncident: true,
      RemainingCases: 3,
    });
    const account = emu.records('Account').find((a) => a.Id === sfAcct)!;
    expect(account).toMatchObject({ Ehub_Support_Level__c: 'Gold', Ehub_Support_End__c: day(200) });
  });

  it('a recorded case lowers RemainingCases on the same record; a renamed tier renames the level on the account and the record', async () => {
    await hub.ok(`mutation ($i: RecordSupportCaseInput!) { recordSupportCase(input: $i) { id } }`, { i: { accountId: acct, idempotencyKey: 'sync-1' } });
    await push();
    expect(supportRecords()).toHaveLength(1);
    expect(supportRecords()[0]).toMatchObject({ Ehub_Support_Key__c: `ehub-support:${ent}`, RemainingCases: 2, AccountId: sfAcct });

    await tier('Gold Plus');
    await push();
    expect(supportRecords()).toHaveLength(1);
    expect(supportRecords()[0]).toMatchObject({ Name: 'Gold Plus – L-SUB (L-SUB)', RemainingCases: 2 });
    expect(emu.records('Account').find((a) => a.Id === sfAcct)).toMatchObject({ Ehub_Support_Level__c: 'Gold Plus', Ehub_Support_End__c: day(200) });
  });

  it('an account whose only support lapsed: level cleared, the lapsed end kept', async () => {
    const sfOld = emu.insert('Account', { Name: 'Lapsed Co' });
    const old = await createAccount(hub, 'Lapsed Co', sfOld);
    const lapsed = await grant(hub, old, { sku: 'L-SUB', startDate: day(-100), endDate: day(-3), terms: { supportLevel: 'gold' } });
    await push();
    expect(emu.records('Account').find((a) => a.Id === sfOld)).toMatchObject({ Ehub_Support_Level__c: null, Ehub_Support_End__c: day(-3) });
    expect(supportRecords().find((r) => r.Ehub_Support_Key__c === `ehub-support:${lapsed}`)).toMatchObject({ EndDate: day(-3), IsPerIncident: false, RemainingCases: null });
  });
});

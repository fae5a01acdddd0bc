import { dropProxyEnv, createSalesforceConnection, startEmulator } from '../support/salesforce';
dropProxyEnv();
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import pino from 'pino';
import { startNetSuiteEmulator, type NetSuiteEmulator } from '../../connectors/netsuite/emulator';
import type { SalesforceEmulator } from '../../connectors/salesforce/emulator/types';
import { systemContext } from '../../src/common/context';
import { SyncTrigger } from '../../src/sync/sync.entities';
import { maintenanceValueMinor } from '../../src/delivery/delivery-renewals.service';
import { createNetSuiteConnection } from '../support/netsuite';
import { startTestHub, type TestHub } from '../support/test-hub';
import { createAccount, day, seedLicensingCatalog } from '../licensing/licensing-support';

const silent = pino({ level: 'silent' });

/**
 * The renewal signal of delivery (issue 14, ADR 0048): devices held back from the newest
 * stable release by lapsed maintenance count per account as a renewal opportunity with an
 * amount, shown on the account (GraphQL) and synced with the other account fields to
 * Salesforce (emulator, real jsforce), NetSuite (emulator, the hub's REST client) and CSV
 * files; a renewal order clears it and the CRM/ERP follow.
 */
describe('devices held back by lapsed maintenance: a renewal opportunity on the account, in the CRM and the ERP', () => {
  let hub: TestHub;
  let sf: SalesforceEmulator;
  let ns: NetSuiteEmulator;
  let dir: string;
  const acct: Record<'perpetual' | 'term' | 'covered', string> = { perpetual: '', term: '', covered: '' };
  const sfId: Record<string, string> = {};
  const nsId: Record<string, number> = {};
  let perpetualOrder: string;

  const submit = (accountId: string, externalId: string, line: Record<string, unknown>) =>
    hub.ok<{ submitOrder: { entitlements: { id: string }[] } }>('mutation($input: OrderInput!) { submitOrder(input: $input) { entitlements { id } } }', {
      input: { source: 'renewal-signal-test', externalId, accountId, orderDate: day(-400), currency: 'USD', lines: [{ lineNo: 1, sku: 'L-DEV', externalLineId: `${externalId}-1`, ...line }] },
    });
  /** `n` active devices of an entitlement, running `version`. */
  const devices = (ent: string, accountId: string, n: number, version: string, prefix: string) =>
    hub.ds.query(
      `INSERT INTO activation (entitlement_id, account_id, fingerprint, platform, activated_at, last_seen_at, software_version)
       SELECT $1, $2, $3 || g, 'linux', now(), now(), $4 FROM generate_series(1, $5::int) g`,
      [ent, accountId, prefix, version, n],
    );
  const pushAll = async () => {
    for (const name of ['salesforce', 'netsuite', 'erp']) {
      const conn = await hub.services.sync.connectionByName(name);
      await hub.services.sync.pushOnce(systemContext(silent, 'test:push'), conn, SyncTrigger.MANUAL);
    }
    const stuck = await hub.ds.query(`SELECT object, record_key, status, last_error FROM sync_outbox WHERE status <> 'DONE'`);
    expect(stuck).toEqual([]);
  };
  const signal = (id: string) =>
    hub.ok<{ account: { deliveryRenewal: { devices: number; entitlementIds: string[]; amounts: { currency: string; amountMinor: string }[] } | null } }>(
      `query($id: ID!) { account(id: $id) { deliveryRenewal { devices entitlementIds amounts { currency amountMinor } } } }`,
      { id },
    ).then((r) => r.account.deliveryRenewal);
  const seen = new Set<string>();
  const csvRows = async (): Promise<Record<string, string>[]> => {
    const out = join(dir, 'out');
    const rows: Record<string, string>[] = [];
    for (const f of (await readdir(out)).filter((f) => f.startsWith('account-fields-') && !seen.has(f)).sort()) {
      seen.add(f);
      rows.push(...(parse(await readFile(join(out, f), 'utf8'), { columns: true }) as Record<string, string>[]));
    }
    return rows;
  };
  const nsCustomer = (id: number) =>
    ns.store.all(`SELECT custentity_ehub_updates_held_back AS held, custentity_ehub_maint_renewal AS renewal FROM customer WHERE id = ?`, [id])[0] as { held: unknown; renewal: unknown };

  beforeAll(async () => {
    hub = await startTestHub({ EHUB_SYNC_BACKOFF_BASE_MS: '1', EHUB_SYNC_BACKOFF_MAX_MS: '5' });
    sf = await startEmulator();
    ns = await startNetSuiteEmulator({ seed: 14 });
    dir = await mkdtemp(join(tmpdir(), 'ehub-renewal-signal-'));
    await seedLicensingCatalog(hub);
    for (const k of Object.keys(acct) as (keyof typeof acct)[]) {
      sfId[k] = sf.insert('Account', { Name: `Fleet ${k}` });
      acct[k] = await createAccount(hub, `Fleet ${k}`, sfId[k]);
      [nsId[k]] = ns.seed.customers([{ companyName: `Fleet ${k}`, currency: 'USD' }]) as number[];
      await hub.ds.query(
        `INSERT INTO external_ref (system, object, external_id, entity_type, entity_id) VALUES ('netsuite', 'Account', $1, 'ACCOUNT', $3), ('erp', 'Account', $2, 'ACCOUNT', $3)`,
        [String(nsId[k]), `C-${k}`, acct[k]],
      );
    }
    await createSalesforceConnection(hub, sf);
    await createNetSuiteConnection(hub, ns);
    await hub.ok('mutation($i: CreateSyncConnectionInput!) { createSyncConnection(input: $i) { id } }', {
      i: { name: 'erp', type: 'csv', refSystem: 'erp', options: { inboxDir: join(dir, 'in'), outboxDir: join(dir, 'out') } },
    });
  }, 60_000);

  afterAll(async () => {
    await sf?.close();
    await ns?.close();
    await hub?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the maintenance value of a line: a perpetual licence at the rate, a term line at its ARR, nothing without a price', () => {
    expect(maintenanceValueMinor({ unit_price_minor: '100000', quantity: '10', term_days: null }, 20)).toBe(200_000n);
    expect(maintenanceValueMinor({ unit_price_minor: '100000', quantity: '4', term_days: 365 }, 20)).toBe(400_000n);
    expect(maintenanceValueMinor({ unit_price_minor: '100000', quantity: '4', term_days: 730 }, 20)).toBe(200_000n);
    expect(maintenanceValueMinor({ unit_price_minor: '333', quantity: '1.5', term_days: null }, 18)).toBe(90n); // 333 × 1.5 × 0.18 = 89.91
    expect(maintenanceValueMinor({ unit_price_minor: null, quantity: '4', term_days: null }, 20)).toBeNull();
  });

  it('a release published after maintenance lapsed: the held-back devices and what renewal is worth, on the account and in Salesforce, NetSuite and the CSV files', async () => {
    perpetualOrder = 'SIG-PERP';
    // Perpetual device licences (10 × 1,000.00 = 100000 minor each), maintenance ended 100 days ago: 3 devices on 2.3, one already on 2.4.
    const perp = (await submit(acct.perpetual, perpetualOrder, { quantity: 10, unitPrice: 100000, startDate: day(-400), endDate: null, terms: { maintenanceEnd: day(-100), afterExpiry: 'RESTRICT_TO_RELEASED' } })).submitOrder.entitlements[0]!.id;
    await devices(perp, acct.perpetual, 3, '2.3.0', 'perp-');
    await devices(perp, acct.perpetual, 1, '2.4.0', 'perp-new-');
    // A yearly term (4 × 1,000.00) whose maintenance ended 30 days ago: 2 devices.
    const term = (await submit(acct.term, 'SIG-TERM', { quantity: 4, unitPrice: 100000, startDate: day(-200), endDate: day(164), terms: { maintenanceEnd: day(-30), afterExpiry: 'RESTRICT_TO_RELEASED' } })).submitOrder.entitlements[0]!.id;
    await devices(term, acct.term, 2, '2.3.0', 'term-');
    // Covered: maintenance runs on.
    const covered = (await submit(acct.covered, 'SIG-COV', { quantity: 5, unitPrice: 100000, startDate: day(-200), endDate: null, terms: { maintenanceEnd: day(300), afterExpiry: 'RESTRICT_TO_RELEASED' } })).submitOrder.entitlements[0]!.id;
    await devices(covered, acct.covered, 2, '2.3.0', 'cov-');
    await pushAll();
    await csvRows();

    // Nothing is held back before there is a newer release.
    expect(await signal(acct.perpetual)).toBeNull();
    // Publishing 2.4.0 (released 5 days ago) judges the fleet of its product at once.
    await hub.ok(`mutation($i: UpsertReleaseInput!) { upsertRelease(input: $i) { id } }`, {
      i: { product: 'L-DEV', version: '2.4.0', status: 'PUBLISHED', releaseDate: `${day(-5)}T00:00:00.000Z` },
    });
    expect(await signal(acct.perpetual)).toEqual({ devices: 3, entitlementIds: [perp], amounts: [{ currency: 'USD', amountMinor: '200000' }] });
    expect(await signal(acct.term)).toEqual({ devices: 2, entitlementIds: [term], amounts: [{ currency: 'USD', amountMinor: '400000' }] });
    expect(await signal(acct.covered)).toBeNull();
    // deliveryStatus counts the same accounts as renewal opportunities.
    const status = await hub.ok<{ deliveryStatus: { renewalOpportunities: { accountId: string; devices: number }[] } }>(
      `query { deliveryStatus(product: "L-DEV") { renewalOpportunities { accountId devices } } }`,
      {},
    );
    expect(status.deliveryStatus.renewalOpportunities).toEqual([
      { accountId: acct.perpetual, devices: 3 },
      { accountId: acct.term, devices: 2 },
    ]);

    // The change is due at once in every connection, and lands in each system.
    await pushAll();
    const sfAccount = (k: string) => sf.records('Account').find((a) => a.Id === sfId[k])!;
    expect(sfAccount('perpetual')).toMatchObject({ Ehub_Updates_Held_Back__c: 3, Ehub_Maintenance_Renewal__c: 2000 });
    expect(sfAccount('term')).toMatchObject({ Ehub_Updates_Held_Back__c: 2, Ehub_Maintenance_Renewal__c: 4000 });
    expect(sfAccount('covered')).toMatchObject({ Ehub_Updates_Held_Back__c: 0, Ehub_Maintenance_Renewal__c: 0 });
    expect(Number(nsCustomer(nsId.perpetual!).held)).toBe(3);
    expect(Number(nsCustomer(nsId.perpetual!).renewal)).toBe(2000);
    expect(Number(nsCustomer(nsId.term!).renewal)).toBe(4000);
    const rows = await csvRows();
    const byCustomer = new Map(rows.map((r) => [r.accountExternalId, r]));
    expect(byCustomer.get('C-perpetual')).toMatchObject({ updatesHeldBack: '3', maintenanceRenewal: '2000.00', currency: 'USD' });
    expect(byCustomer.get('C-term')).toMatchObject({ updatesHeldBack: '2', maintenanceRenewal: '4000.00' });
  });

  it('a maintenance renewal (an amendment with new terms) clears the signal in its own transaction, and the CRM and ERP follow on the next push', async () => {
    await hub.ok('mutation($input: OrderInput!) { submitOrder(input: $input) { entitlements { id } } }', {
      input: {
        source: 'renewal-signal-test',
        externalId: 'SIG-PERP-R',
        accountId: acct.perpetual,
        orderDate: day(0),
        currency: 'USD',
        lines: [{ lineNo: 1, sku: 'L-DEV', quantity: 10, unitPrice: 100000, startDate: day(-400), endDate: null, action: 'AMENDMENT', amendsLineRef: `${perpetualOrder}-1`, terms: { maintenanceEnd: day(365), afterExpiry: 'RESTRICT_TO_RELEASED' } }],
      },
    });
    expect(await signal(acct.perpetual)).toBeNull();
    expect(await signal(acct.term)).not.toBeNull(); // the other account is untouched
    await pushAll();
    expect(sf.records('Account').find((a) => a.Id === sfId.perpetual)).toMatchObject({ Ehub_Updates_Held_Back__c: 0, Ehub_Maintenance_Renewal__c: 0 });
    expect(Number(nsCustomer(nsId.perpetual!).held)).toBe(0);
    const rows = await csvRows();
    expect(rows.find((r) => r.accountExternalId === 'C-perpetual')).toMatchObject({ updatesHeldBack: '0', maintenanceRenewal: '0' });
  });

  it('the job finds what time did: a lapse with no event is picked up by the delivery-renewals job, which changes nothing when run again', async () => {
    // The covered account's maintenance ends (as if time passed): no event, so only the job sees it.
    await hub.ds.query(`UPDATE entitlement_terms SET maintenance_end = $2 WHERE account_id = $1`, [acct.covered, day(-10)]);
    expect(await signal(acct.covered)).toBeNull();
    const ctx = systemContext(silent, 'test:job');
    const first = await hub.services.deliveryRenewals.refresh(ctx, null);
    expect(first).toEqual({ accounts: 2, changed: 1 });
    expect(await signal(acct.covered)).toMatchObject({ devices: 2, amounts: [{ currency: 'USD', amountMinor: '100000' }] }); // 5 × 1,000.00 × 20 %
    const [due] = await hub.ds.query(`SELECT count(*)::int AS n FROM sync_outbox WHERE account_id = $1 AND object = 'account-fields' AND status = 'PENDING'`, [acct.covered]);
    expect(due.n).toBe(3); // one per connection
    expect(await hub.services.deliveryRenewals.refresh(ctx, null)).toEqual({ accounts: 2, changed: 0 });
  });
});

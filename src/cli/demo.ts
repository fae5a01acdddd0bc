import type { SalesforceEmulator, SfRecord } from '../../connectors/salesforce/emulator/types';
import { systemContext, type RequestContext } from '../common/context';
import { AppError } from '../common/errors';
import type { UpsertAccountInput, UpsertContactInput } from '../accounts/account.types';
import type { UpsertFeatureInput, UpsertMeterInput, UpsertProductInput } from '../catalog/catalog.types';
import type { Services } from '../server/services';
import { OutboxStatus, SyncRunStatus, type SyncConnection, type SyncRun } from '../sync/sync.entities';
import { withServices } from './cli-context';
import { DEMO_ACCOUNTS, DEMO_FEATURES, DEMO_METERS, DEMO_PRODUCTS, DEMO_SALESFORCE_ACCOUNTS, type DemoSalesforceDeal } from './demo-data';
import { formatRuns } from './sync.command';
import { table } from './table';
import { trimDecimal } from '../common/decimal';
import { generateBook } from '../churn/book-generator';
import { seedAdoptionDemo } from './demo-adoption';
import { seedDeliveryDemo } from './demo-delivery';
import type { NetSuiteEmulator } from '../../connectors/netsuite/emulator';
import type * as NetSuiteDemo from './demo-netsuite';

/* eslint-disable @typescript-eslint/no-require-imports */
// The emulators (a SOQL parser, jsforce, ~0.5 s) load when a demo runs, not with every CLI start.
const salesforceEmulator = () => require('../../connectors/salesforce/emulator') as typeof import('../../connectors/salesforce/emulator');
const netsuiteDemo = () => require('./demo-netsuite') as typeof NetSuiteDemo;
const jsforceRequest = () => require('jsforce/lib/request') as typeof import('jsforce/lib/request');
/* eslint-enable @typescript-eslint/no-require-imports */

/** The sync connection the demo creates; refSystem and orderSource carry the same name. */
export const DEMO_CONNECTION = 'salesforce-demo';
/** The connected app the demo configures in the emulator (and the connection's credentials). */
const DEMO_CLIENT = { clientId: 'ehub-demo', clientSecret: 'ehub-demo-secret' };

export interface DemoOptions {
  book?: boolean;
  accounts: string;
  years: string;
  seed: string;
  salesforce?: boolean;
  netsuite?: boolean;
  emulatorPort: string;
  netsuitePort: string;
  keepRunning?: boolean;
}

/** `ehub demo` (its options declared in ./demo.command.ts): the sample catalog and accounts, a book, or the emulators and their syncs. */
export async function runDemo(opts: DemoOptions): Promise<void> {
  if (opts.book) {
    await runBookDemo(opts);
    return;
  }
  const port = Number(opts.emulatorPort);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`--emulator-port must be a port number (0–65535), not "${opts.emulatorPort}"`);
  const nsPort = Number(opts.netsuitePort);
  if (!Number.isInteger(nsPort) || nsPort < 0 || nsPort > 65_535) throw new Error(`--netsuite-port must be a port number (0–65535), not "${opts.netsuitePort}"`);
  // Assigned inside the callback, closed here: they outlive the database with --keep-running.
  const held: { emulator?: SalesforceEmulator; netsuite?: NetSuiteEmulator } = {};
  try {
    await withServices(async (s, log) => {
      const ctx = systemContext(log, 'cli:demo');
      await loadDemoData(s, ctx);
      if (!opts.salesforce && !opts.netsuite) {
        console.log(
          `Demo data loaded: ${DEMO_FEATURES.length} features, ${DEMO_METERS.length} meters, ${DEMO_PRODUCTS.length} products ` +
            `(one bundle), ${DEMO_ACCOUNTS.length} accounts with contacts. Try: { products { edges { node { sku name effectiveFeatures { feature { key } limit } } } } }`,
        );
        return;
      }
      console.log(`Demo catalog loaded: ${DEMO_PRODUCTS.length} products, ${DEMO_ACCOUNTS.length} accounts.`);
      if (opts.salesforce) {
        bypassProxyForLocalEmulator();
        held.emulator = await salesforceEmulator().startSalesforceEmulator({ host: '127.0.0.1', port, clients: [DEMO_CLIENT], bulkProcessingDelayMs: 5 });
        const runs = await runSalesforceDemo(s, ctx, held.emulator);
        if (runs.some((r) => r.status === SyncRunStatus.FAILED)) process.exitCode = 1;
        // Stopped with the demo: a hub running on this database must not keep calling it.
        if (!opts.keepRunning) await setDemoConnectionEnabled(s, ctx, false);
      }
      if (opts.netsuite) {
        // The connector calls 127.0.0.1 with fetch: never through a proxy.
        process.env.NO_PROXY = [process.env.NO_PROXY, '127.0.0.1', 'localhost'].filter(Boolean).join(',');
        held.netsuite = await netsuiteDemo().startNetSuiteEmulator({ host: '127.0.0.1', port: nsPort });
        // The Salesforce ids its customers carry: of the emulator just seeded, or of an earlier Salesforce demo.
        const sf = held.emulator ? netsuiteDemo().salesforceIdsFromEmulator(held.emulator) : await netsuiteDemo().salesforceIdsFromHub(s);
        if (opts.salesforce) console.log('');
        const runs = await netsuiteDemo().runNetSuiteDemo(s, ctx, held.netsuite, sf);
        if (runs.some((r) => r.status === SyncRunStatus.FAILED)) process.exitCode = 1;
        if (!opts.keepRunning) await netsuiteDemo().setNetSuiteDemoConnectionEnabled(s, ctx, false);
      }
    });
    const emulator = held.emulator;
    const netsuite = held.netsuite;
    if ((emulator || netsuite) && opts.keepRunning) {
      const lines = [''];
      if (emulator) {
        lines.push(
          `The Salesforce emulator keeps running at ${emulator.url} (Ctrl-C stops it).`,
          `A hub on this database (npm start) pulls it every 5 minutes and pushes every minute (default schedules); sync now with: npm run ehub -- sync ${DEMO_CONNECTION}`,
          'Add a won deal to see it arrive:',
          `  curl -s -X POST ${emulator.url}/__emulator/deals -H 'content-type: application/json' \\`,
          `    -d '{"accountName":"Kestrel Drones","lines":[{"productCode":"ANL-CLOUD","quantity":5,"unitPrice":600}]}'`,
          '',
        );
      }
      if (netsuite) {
        lines.push(
          `The NetSuite emulator keeps running at ${netsuite.url} (Ctrl-C stops it); pull now with: npm run ehub -- sync ${netsuiteDemo().DEMO_NETSUITE_CONNECTION}`,
          'Add generated customers and sales orders (items SKU-0001… are not in the catalog: they show as UNKNOWN_SKU):',
          `  curl -s -X POST ${netsuite.url}/__emulator/seed -H 'content-type: application/json' -d '{"customers":3,"salesOrders":3,"items":2,"linesPerOrder":1}'`,
          '',
        );
      }
      console.log(lines.join('\n'));
      const signal = await untilSignal();
      console.log(`${signal}: stopping the emulator${emulator && netsuite ? 's' : ''}.`);
      await emulator?.close();
      await netsuite?.close();
      held.emulator = undefined;
      held.netsuite = undefined;
      await withServices(async (s, log) => {
        const ctx = systemContext(log, 'cli:demo');
        await setDemoConnectionEnabled(s, ctx, false);
        await netsuiteDemo().setNetSuiteDemoConnectionEnabled(s, ctx, false);
      });
    }
  } finally {
    await held.emulator?.close();
    await held.netsuite?.close();
  }
}

async function runBookDemo(opts: DemoOptions): Promise<void> {
  const accounts = Number(opts.accounts);
  const years = Number(opts.years);
  const seed = Number(opts.seed);
  if (!Number.isInteger(accounts) || accounts < 1 || accounts > 100_000) throw new Error(`--accounts must be a whole number from 1 to 100000, not "${opts.accounts}"`);
  if (!Number.isFinite(years) || years < 0.5 || years > 10) throw new Error(`--years must be from 0.5 to 10, not "${opts.years}"`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 31) throw new Error(`--seed must be a whole number ≥ 0, not "${opts.seed}"`);
  await withServices(async (s, log) => {
    const ctx = systemContext(log, 'cli:demo-book');
    const book = await generateBook(s, ctx, {
      accounts,
      years,
      seed,
      progress: (done, total, phase) => process.stderr.write(`  ${phase}: ${done}/${total}\n`),
    });
    console.log(
      `Book "${book.source}" generated in ${(book.ms / 1000).toFixed(1)} s: ${book.accounts} accounts, ${book.lines} lines, ${book.orders} orders ` +
        `(${book.renewals} renewals); ${book.endedTerms} terms ended, ${book.notRenewed} not renewed; ${book.usageRollups} daily usage rollups, ` +
        `${book.seats} seat assignments, ${book.activations} device activations, ${book.leases} leases, ${book.findings} underuse findings.\n` +
        `Train the churn model on it: npm run ehub -- churn train   (or the trainChurnModel mutation)`,
    );
    const adoption = await seedAdoptionDemo(s, ctx, { seed });
    console.log(
      `Adoption: SUITE-ENT (a bundle) sold to ${adoption.holders} customers, ${adoption.events} usage events by ${adoption.users} named users with a role, ` +
        `${adoption.contacts} contacts with a title and department, ${adoption.findings} findings (the console's Adoption page: packaging and personas).`,
    );
    const delivery = await seedDeliveryDemo(s, ctx);
    console.log(`Delivery: GW-100 releases 4.1.0 and 4.2.0, 4.2.0 in a staged rollout${delivery.rolloutStarted ? ' (started)' : ''} (the console's Delivery page).`);
  });
}

async function loadDemoData(s: Services, ctx: RequestContext): Promise<void> {
  for (const f of DEMO_FEATURES) await s.catalog.upsertFeature(ctx, f as UpsertFeatureInput);
  for (const m of DEMO_METERS) await s.catalog.upsertMeter(ctx, m as UpsertMeterInput);
  // Components first: bundles refer to them.
  const ordered = [...DEMO_PRODUCTS].sort((a, b) => Number(Boolean(a.components)) - Number(Boolean(b.components)));
  for (const p of ordered) await s.catalog.upsertProduct(ctx, p as UpsertProductInput);
  for (const { contacts, ...a } of DEMO_ACCOUNTS) {
    const account = await s.accounts.upsert(ctx, a as UpsertAccountInput);
    for (const c of contacts) await s.accounts.contacts.upsert(ctx, { ...c, accountId: account.id } as UpsertContactInput);
  }
}

/**
 * jsforce reads HTTP(S)_PROXY when it loads and would send even 127.0.0.1 through the
 * proxy; the demo only talks to its own emulator, so its requests go direct.
 */
function bypassProxyForLocalEmulator(): void {
  const proxied = ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'].some((k) => process.env[k]);
  if (proxied) jsforceRequest().setDefaults({ followRedirect: true });
}

/**
 * Seeds the emulator, points the demo connection at it, runs a sync with the push, and
 * prints what happened on both sides. Returns the runs.
 */
async function runSalesforceDemo(s: Services, ctx: RequestContext, emu: SalesforceEmulator): Promise<SyncRun[]> {
  const seeded = seedEmulator(emu);
  const { connection, created, requeued } = await ensureDemoConnection(s, ctx, emu.url, seeded.accountIds);
  const out: string[] = [];
  out.push(
    `Salesforce emulator at ${emu.url}: ${seeded.accountIds.length} accounts, ${seeded.contacts} contacts, ${seeded.deals} opportunities.`,
    created
      ? `Sync connection "${DEMO_CONNECTION}" created.`
      : `Sync connection "${DEMO_CONNECTION}" pointed at the new emulator` +
          (requeued ? `; ${requeued} outbox items re-queued, since this emulator holds none of what the hub wrote before.` : '.'),
  );
  const runs = await s.sync.runSync(ctx, connection.id, { push: true });
  out.push('', 'Sync runs:', formatRuns(runs).trimEnd());
  out.push('', ...(await entitlementSection(s, connection, emu)));
  out.push('', ...writtenBackSection(emu));
  out.push('', ...renewalSection(emu));
  const orders = runs.find((r) => r.object === 'orders');
  out.push(
    '',
    orders && orders.created + orders.updated === 0 && orders.unchanged > 0
      ? 'Every deal was unchanged (same sample data, same Salesforce ids): the hub already held these entitlements; only the push re-sent what this fresh emulator lacked.'
      : 'Run it again: the same sample deals get the same Salesforce ids, and the pull finds every one unchanged.',
    `The runs over GraphQL: { syncRuns(first: 10) { edges { node { object status read created unchanged failed errors { code message } } } } }`,
  );
  process.stdout.write(out.join('\n') + '\n');
  return runs;
}

const isoDay = (d: Date) => d.toISOString().slice(0, 10);
const addMonths = (d: Date, n: number) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n, d.getUTCDate()));
const addDays = (d: Date, n: number) => new Date(d.getTime() + n * 86_400_000);

/** A deal's term and close date, from the first day of the current month (see DemoSalesforceDeal). */
function termOf(deal: DemoSalesforceDeal, monthStart: Date): { start: string; end: string; close: string } {
  const end = addDays(addMonths(monthStart, deal.endMonths), (deal.endDays ?? 0) - 1);
  const start = addMonths(addDays(end, 1), -deal.termMonths);
  const close = deal.stageName === 'Closed Won' ? start : addMonths(monthStart, 1);
  return { start: isoDay(start), end: isoDay(end), close: isoDay(close) };
}

/**
 * Creates the sample accounts, contacts and deals in a fresh emulator, always in the same
 * order: the emulator numbers records in creation order, so every demo run gives them the
 * same Salesforce ids — which is what makes a second run find them all unchanged.
 */
function seedEmulator(emu: SalesforceEmulator): { accountIds: string[]; contacts: number; deals: number } {
  const now = new Date();
  const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const accountIds: string[] = [];
  let contacts = 0;
  let deals = 0;
  for (const a of DEMO_SALESFORCE_ACCOUNTS) {
    const accountId = emu.insert('Account', { Name: a.name, Website: a.website, BillingCountry: a.country, Type: 'Customer - Direct' });
    accountIds.push(accountId);
    for (const c of a.contacts) {
      emu.insert('Contact', { AccountId: accountId, FirstName: c.firstName, LastName: c.lastName, Email: c.email, Title: c.title });
      contacts++;
    }
    for (const d of a.deals) {
      const term = termOf(d, monthStart);
      emu.seedDeal({
        accountId,
        name: d.name,
        stageName: d.stageName,
        closeDate: term.close,
        lines: d.lines.map((l) => ({ ...l, serviceDate: term.start, endDate: term.end })),
      });
      deals++;
    }
  }
  return { accountIds, contacts, deals };
}

function demoConnectionOptions(loginUrl: string): Record<string, unknown> {
  return { auth: 'client_credentials', loginUrl, clientId: DEMO_CLIENT.clientId, bulkPollIntervalMs: 50 };
}

async function findDemoConnection(s: Services): Promise<SyncConnection | null> {
  try {
    return await s.sync.connectionByName(DEMO_CONNECTION);
  } catch (err) {
    if (err instanceof AppError && err.subCode === 'SYNC_CONNECTION_NOT_FOUND') return null;
    throw err;
  }
}

/**
 * Creates the demo connection, or points it at this run's emulator (its port changes on
 * every start). An existing connection already delivered its outbox to an earlier
 * emulator, gone now: the items of the seeded accounts are replayed so this one gets them
 * too (accounts added by hand to an earlier emulator are not in this one; theirs are left).
 */
async function ensureDemoConnection(
  s: Services,
  ctx: RequestContext,
  loginUrl: string,
  seededAccountIds: string[],
): Promise<{ connection: SyncConnection; created: boolean; requeued: number }> {
  const options = demoConnectionOptions(loginUrl);
  const credentials = { clientSecret: DEMO_CLIENT.clientSecret };
  const existing = await findDemoConnection(s);
  if (!existing) {
    const connection = await s.sync.createConnection(ctx, {
      name: DEMO_CONNECTION,
      type: 'salesforce',
      options,
      credentials,
      enabled: true,
      pullEnabled: true,
      pushEnabled: true,
      refSystem: DEMO_CONNECTION,
      orderSource: DEMO_CONNECTION,
      renewalDays: 90,
      maxAttempts: 8,
    });
    return { connection, created: true, requeued: 0 };
  }
  if (existing.type !== 'salesforce') {
    throw new Error(`A sync connection named "${DEMO_CONNECTION}" exists with type "${existing.type}"; delete it (deleteSyncConnection) to run this demo`);
  }
  const connection = await s.sync.updateConnection(ctx, existing.id, { options, credentials, enabled: true, pullEnabled: true, pushEnabled: true });
  const linked: { entity_id: string }[] = await s.db.manager.query(
    `SELECT entity_id FROM external_ref WHERE system = $1 AND object = 'Account' AND entity_type = 'ACCOUNT' AND external_id = ANY($2)`,
    [connection.refSystem, seededAccountIds],
  );
  const requeued = await s.sync.replayOutbox(ctx, connection.id, {
    statuses: [OutboxStatus.DONE, OutboxStatus.FAILED, OutboxStatus.DEAD],
    accountIds: linked.map((r) => r.entity_id),
  });
  return { connection, created: false, requeued };
}

async function setDemoConnectionEnabled(s: Services, ctx: RequestContext, enabled: boolean): Promise<void> {
  const c = await findDemoConnection(s);
  if (c && c.enabled !== enabled) await s.sync.updateConnection(ctx, c.id, { enabled });
}

async function entitlementSection(s: Services, c: SyncConnection, emu: SalesforceEmulator): Promise<string[]> {
  const rows: { account: string; deal: string; sku: string; model: string; quantity: string; start_date: string; end_date: string | null; status: string }[] =
    await s.db.manager.query(
      `SELECT a.name AS account, o.external_id AS deal, e.sku, e.model, e.quantity::text AS quantity,
              e.start_date::text AS start_date, e.end_date::text AS end_date, e.status
         FROM entitlement e JOIN sales_order o ON o.id = e.order_id JOIN account a ON a.id = e.account_id
        WHERE o.source = $1
        ORDER BY a.name, o.external_id, e.start_date, e.sku`,
      [c.orderSource],
    );
  const dealName = (id: string) => String(emu.get('Opportunity', id)?.Name ?? id);
  const out = [`Entitlements the won deals became (orders from source "${c.orderSource}"):`];
  out.push(
    ...table(
      ['account', 'deal', 'sku', 'model', 'quantity', 'start', 'end', 'status'],
      rows.map((r) => [r.account, dealName(r.deal), r.sku, r.model, trimDecimal(r.quantity), r.start_date, r.end_date ?? '', r.status]),
    ).map((l) => `  ${l}`),
  );
  const failed: { external_id: string; error_code: string; error_message: string }[] = await s.db.manager.query(
    `SELECT external_id, error_code, error_message FROM sync_record WHERE connection_id = $1 AND object = 'orders' AND status = 'FAILED' ORDER BY external_id`,
    [c.id],
  );
  if (failed.length) {
    out.push('', 'Won deals not fulfilled (reported, kept, retried):');
    for (const f of failed) out.push(`  ${dealName(f.external_id)} (${f.external_id}): ${f.error_code} — ${f.error_message}`);
  }
  const open = emu.records('Opportunity').filter((o) => o.IsWon === false && !o.Ehub_Renewal_Key__c);
  if (open.length) {
    out.push('', 'Deals not won yet (nothing granted):');
    for (const o of open) out.push(`  ${String(o.Name)} (${String(o.Id)}): ${String(o.StageName)}`);
  }
  return out;
}

const show = (v: SfRecord[string] | undefined) => (v === null || v === undefined ? '' : String(v));

function writtenBackSection(emu: SalesforceEmulator): string[] {
  const out = ['Written back to the Salesforce Accounts:'];
  const entitlements = emu.records('Ehub_Entitlement__c');
  for (const a of emu.records('Account')) {
    out.push(`  ${String(a.Name)} (${String(a.Id)})`);
    const fields = Object.entries(a).filter(([k, v]) => k.startsWith('Ehub_') && v !== null);
    const width = Math.max(0, ...fields.map(([k]) => k.length));
    for (const [k, v] of fields) out.push(`    ${k.padEnd(width)}  ${show(v)}`);
    const mine = entitlements.filter((e) => e.Account__c === a.Id);
    if (mine.length) {
      out.push(`    Ehub_Entitlement__c: ${mine.map((e) => `${show(e.Sku__c)} × ${show(e.Quantity__c)} ${show(e.Status__c)} until ${show(e.End_Date__c) || '—'}`).join('; ')}`);
    }
  }
  return out;
}

function renewalSection(emu: SalesforceEmulator): string[] {
  const renewals = emu.records('Opportunity').filter((o) => o.Ehub_Renewal_Key__c);
  if (!renewals.length) return ['No renewal opportunities: no term ends within 90 days.'];
  const accountName = (id: SfRecord[string]) => show(emu.get('Account', String(id))?.Name);
  return [
    'Renewal opportunities created in Salesforce (terms ending within 90 days):',
    ...table(
      ['account', 'opportunity', 'stage', 'close date', 'amount'],
      renewals.map((o) => [accountName(o.AccountId), show(o.Name), show(o.StageName), show(o.CloseDate), `${show(o.Amount)} ${show(o.CurrencyIsoCode)}`]),
    ).map((l) => `  ${l}`),
  ];
}

/** Resolves with the first SIGINT or SIGTERM. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

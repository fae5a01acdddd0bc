/**
 * `ehub demo --netsuite`: a NetSuite emulator seeded with ERP customers, sales orders,
 * invoices, a credit memo and payments, a `netsuite` connection to it, and one pull, so a
 * newcomer sees the ERP side of the customer record arrive next to the Salesforce one.
 */
import { startNetSuiteEmulator, type NetSuiteEmulator } from '../../connectors/netsuite/emulator';
import type { SalesforceEmulator } from '../../connectors/salesforce/emulator/types';
import type { RequestContext } from '../common/context';
import { AppError } from '../common/errors';
import { minorToMajor } from '../common/money';
import { trimDecimal } from '../common/decimal';
import type { Services } from '../server/services';
import type { SyncConnection, SyncRun } from '../sync/sync.entities';
import { DEMO_NETSUITE_CUSTOMERS, DEMO_NETSUITE_ITEMS, type DemoNetSuiteOrder } from './demo-data';
import { formatRuns } from './sync.command';
import { table } from './table';

/** The NetSuite connection the demo creates; refSystem and orderSource carry the same name. */
export const DEMO_NETSUITE_CONNECTION = 'netsuite-demo';
/** The Salesforce demo's connection (its refSystem), which the NetSuite customers link to. */
const SALESFORCE_DEMO_SYSTEM = 'salesforce-demo';

const isoDay = (d: Date) => d.toISOString().slice(0, 10);
const addMonths = (d: Date, n: number) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n, d.getUTCDate()));
const addDays = (d: Date, n: number) => new Date(d.getTime() + n * 86_400_000);

/** The first day of the current month (UTC): the demo's dates are relative to it, so a rerun in the same month seeds the same records. */
export function demoMonthStart(now = new Date()): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

/** A sales order's term (as the Salesforce demo places a deal's). */
export function netsuiteTermOf(o: Pick<DemoNetSuiteOrder, 'endMonths' | 'termMonths'>, monthStart: Date): { start: string; end: string } {
  const end = addDays(addMonths(monthStart, o.endMonths), -1);
  const start = addMonths(addDays(end, 1), -o.termMonths);
  return { start: isoDay(start), end: isoDay(end) };
}

/** What the Salesforce demo gave its records: Account Ids by account name, Opportunity Ids by deal name. */
export interface SalesforceDemoIds {
  accounts: Map<string, string>;
  deals: Map<string, string>;
}

/** The Salesforce ids of the Salesforce demo's records, from the emulator it just seeded. */
export function salesforceIdsFromEmulator(emu: SalesforceEmulator): SalesforceDemoIds {
  return {
    accounts: new Map(emu.records('Account').map((a) => [String(a.Name), String(a.Id)])),
    deals: new Map(emu.records('Opportunity').map((o) => [String(o.Name), String(o.Id)])),
  };
}

/**
 * The Salesforce ids of the Salesforce demo's records as an earlier `ehub demo --salesforce`
 * left them in the hub (its accounts' references, and the deal each account's order came
 * from), so a NetSuite demo run on its own still links its customers to them. Empty when that
 * demo never ran.
 */
export async function salesforceIdsFromHub(s: Services): Promise<SalesforceDemoIds> {
  const accounts: { name: string; external_id: string }[] = await s.db.manager.query(
    `SELECT a.name, r.external_id FROM external_ref r JOIN account a ON a.id = r.entity_id
      WHERE r.system = $1 AND r.object = 'Account' AND r.entity_type = 'ACCOUNT'`,
    [SALESFORCE_DEMO_SYSTEM],
  );
  const byName = new Map(accounts.map((a) => [a.name, a.external_id]));
  const deals = new Map<string, string>();
  for (const c of DEMO_NETSUITE_CUSTOMERS) {
    for (const o of c.orders) {
      if (!o.copyOfSalesforceDeal || !c.salesforceAccount || !byName.has(c.salesforceAccount)) continue;
      // The deal's order in the hub: the Salesforce demo account's order with the same skus.
      const skus = [...new Set(o.lines.map((l) => l.item))].sort();
      const [row] = (await s.db.manager.query(
        `SELECT o.external_id FROM sales_order o JOIN external_ref r ON r.entity_id = o.account_id AND r.system = $1 AND r.object = 'Account'
          WHERE o.source = $1 AND r.external_id = $2
            AND (SELECT array_agg(DISTINCT l.sku ORDER BY l.sku) FROM order_line l WHERE l.order_id = o.id) = $3::text[]
          ORDER BY o.external_id, o.revision DESC LIMIT 1`,
        [SALESFORCE_DEMO_SYSTEM, byName.get(c.salesforceAccount), skus],
      )) as { external_id: string }[];
      if (row) deals.set(o.copyOfSalesforceDeal, row.external_id);
    }
  }
  return { accounts: byName, deals };
}

export interface NetSuiteSeeded {
  customers: { id: number; name: string; crmId: string | null }[];
  items: number;
  orders: number;
  /** Sales orders carrying a Salesforce Opportunity Id (granted once, from the CRM). */
  copies: number;
  documents: number;
  contacts: number;
}

/**
 * Seeds the sample customers (with the Salesforce Account Ids that are known), items, sales
 * orders, invoices, credit memos and payments in a fresh emulator, always in the same order.
 * A sales order booked from a Salesforce deal is seeded only when that deal's id is known: on
 * its own it would be an ERP-only order and grant a second time what the CRM deal grants.
 */
export function seedNetSuiteDemo(emu: NetSuiteEmulator, sf: SalesforceDemoIds, monthStart = demoMonthStart()): NetSuiteSeeded {
  const crmIdOf = (c: (typeof DEMO_NETSUITE_CUSTOMERS)[number]) => (c.salesforceAccount ? (sf.accounts.get(c.salesforceAccount) ?? null) : null);
  const ids = emu.seed.customers(
    DEMO_NETSUITE_CUSTOMERS.map((c) => ({ companyName: c.companyName, url: c.url, email: c.email, currency: 'USD', crmId: crmIdOf(c) })),
  );
  const customers = DEMO_NETSUITE_CUSTOMERS.map((c, i) => ({ id: ids[i]!, name: c.companyName, crmId: crmIdOf(c) }));
  let contacts = 0;
  DEMO_NETSUITE_CUSTOMERS.forEach((c, i) => {
    contacts += emu.seed.contacts(c.contacts.map((p) => ({ company: ids[i]!, firstName: p.firstName, lastName: p.lastName, email: p.email }))).length;
  });
  const itemIds = new Map(DEMO_NETSUITE_ITEMS.map((sku) => [sku, emu.seed.items([{ itemId: sku, displayName: sku }])[0]!] as const));
  let orders = 0;
  let copies = 0;
  let documents = 0;
  DEMO_NETSUITE_CUSTOMERS.forEach((c, i) => {
    const entity = ids[i]!;
    for (const o of c.orders) {
      const crmDealId = o.copyOfSalesforceDeal ? (sf.deals.get(o.copyOfSalesforceDeal) ?? null) : null;
      if (o.copyOfSalesforceDeal && !crmDealId) continue;
      const term = netsuiteTermOf(o, monthStart);
      emu.seed.transactions([
        {
          type: 'SalesOrd',
          entity,
          tranDate: term.start,
          status: o.status ?? 'B',
          currency: 'USD',
          memo: o.memo,
          crmDealId,
          lines: o.lines.map((l) => ({ item: itemIds.get(l.item)!, quantity: String(l.quantity), rate: String(l.rate), startDate: term.start, endDate: term.end })),
        },
      ]);
      orders++;
      if (crmDealId) copies++;
    }
    for (const d of c.documents) {
      emu.seed.transactions([
        {
          type: d.type,
          entity,
          tranDate: isoDay(addDays(monthStart, d.dateDays)),
          dueDate: d.dueDays === undefined ? null : isoDay(addDays(monthStart, d.dueDays)),
          currency: 'USD',
          memo: d.memo,
          total: d.total,
          ...(d.type === 'CustInvc' ? { amountRemaining: d.open, status: d.open === '0.00' ? 'B' : 'A' } : { unapplied: d.open }),
        },
      ]);
      documents++;
    }
  });
  return { customers, items: itemIds.size, orders, copies, documents, contacts };
}

function connectionOptions(emu: NetSuiteEmulator): Record<string, unknown> {
  return { accountId: emu.accountId, baseUrl: emu.url, authMode: 'm2m', crmSystem: SALESFORCE_DEMO_SYSTEM, defaultSubsidiary: '1' };
}

function connectionCredentials(emu: NetSuiteEmulator): Record<string, string> {
  const m = emu.credentials.m2m!;
  return { clientId: m.clientId, certificateId: m.certificateId, privateKey: m.privateKeyPem };
}

export async function findNetSuiteDemoConnection(s: Services): Promise<SyncConnection | null> {
  try {
    return await s.sync.connectionByName(DEMO_NETSUITE_CONNECTION);
  } catch (err) {
    if (err instanceof AppError && err.subCode === 'SYNC_CONNECTION_NOT_FOUND') return null;
    throw err;
  }
}

/**
 * Creates the demo's `netsuite` connection with the emulator's M2M credentials (a new key
 * pair on every start), or points the existing one at this run's emulator. Pull only: the
 * demo shows what arrives; pushing the synced fields back is a switch (pushEnabled).
 */
async function ensureConnection(s: Services, ctx: RequestContext, emu: NetSuiteEmulator): Promise<{ connection: SyncConnection; created: boolean }> {
  const existing = await findNetSuiteDemoConnection(s);
  if (!existing) {
    const connection = await s.sync.createConnection(ctx, {
      name: DEMO_NETSUITE_CONNECTION,
      type: 'netsuite',
      options: connectionOptions(emu),
      credentials: connectionCredentials(emu),
      enabled: true,
      pullEnabled: true,
      pushEnabled: false,
      refSystem: DEMO_NETSUITE_CONNECTION,
      orderSource: DEMO_NETSUITE_CONNECTION,
      renewalDays: 90,
      maxAttempts: 8,
    });
    return { connection, created: true };
  }
  if (existing.type !== 'netsuite') {
    throw new Error(`A sync connection named "${DEMO_NETSUITE_CONNECTION}" exists with type "${existing.type}"; delete it (deleteSyncConnection) to run this demo`);
  }
  const connection = await s.sync.updateConnection(ctx, existing.id, { options: connectionOptions(emu), credentials: connectionCredentials(emu), enabled: true, pullEnabled: true });
  return { connection, created: false };
}

export async function setNetSuiteDemoConnectionEnabled(s: Services, ctx: RequestContext, enabled: boolean): Promise<void> {
  const c = await findNetSuiteDemoConnection(s);
  if (c && c.enabled !== enabled) await s.sync.updateConnection(ctx, c.id, { enabled });
}

const major = (minor: string | null | undefined, currency: string) => (minor === null || minor === undefined ? '' : minorToMajor(minor, currency));

/**
 * Seeds the emulator, creates (or re-points) the demo connection, pulls customers, contacts,
 * sales orders and receivables, and prints what arrived and how to look at it. Returns the runs.
 */
export async function runNetSuiteDemo(s: Services, ctx: RequestContext, emu: NetSuiteEmulator, sf: SalesforceDemoIds): Promise<SyncRun[]> {
  const seeded = seedNetSuiteDemo(emu, sf);
  const { connection, created } = await ensureConnection(s, ctx, emu);
  const runs = await s.sync.runSync(ctx, connection.id, { push: false });
  const out: string[] = [];
  const linkedCount = seeded.customers.filter((c) => c.crmId).length;
  out.push(
    `NetSuite emulator at ${emu.url} (account ${emu.accountId}): ${seeded.customers.length} customers (${linkedCount} holding a Salesforce Account Id), ` +
      `${seeded.contacts} contacts, ${seeded.items} items, ${seeded.orders} sales orders, ${seeded.documents} invoices, credit memos and payments.`,
    created ? `Sync connection "${DEMO_NETSUITE_CONNECTION}" (type netsuite, OAuth 2.0 client credentials) created.` : `Sync connection "${DEMO_NETSUITE_CONNECTION}" pointed at the new emulator.`,
  );
  if (!linkedCount) {
    out.push('No Salesforce demo found: the customers arrive as new accounts. Run `ehub demo --salesforce --netsuite` to see the ERP and CRM records of one customer join.');
  }
  out.push('', 'Sync runs:', formatRuns(runs).trimEnd());

  // Customers: which hub account each became, and whether it joined a Salesforce one.
  const accounts: { customer: string; account_id: string; account: string; salesforce: string | null }[] = await s.db.manager.query(
    `SELECT r.external_id AS customer, a.id AS account_id, a.name AS account,
            (SELECT sr.external_id FROM external_ref sr WHERE sr.entity_id = a.id AND sr.system = $2 AND sr.object = 'Account' LIMIT 1) AS salesforce
       FROM external_ref r JOIN account a ON a.id = r.entity_id
      WHERE r.system = $1 AND r.object = 'Account' AND r.entity_type = 'ACCOUNT'
      ORDER BY r.external_id::int`,
    [connection.refSystem, SALESFORCE_DEMO_SYSTEM],
  );
  const nameOf = new Map(seeded.customers.map((c) => [String(c.id), c.name]));
  out.push(
    '',
    'NetSuite customers in the hub:',
    ...table(
      ['customer', 'NetSuite name', 'hub account', 'joined'],
      accounts.map((a) => [a.customer, nameOf.get(a.customer) ?? '', a.account, a.salesforce ? `linked to Salesforce Account ${a.salesforce}` : 'new account (ERP only)']),
    ).map((l) => `  ${l}`),
  );

  // Orders → entitlements.
  const ents: { account: string; order: string; sku: string; model: string; quantity: string; start_date: string; end_date: string | null; status: string }[] = await s.db.manager.query(
    `SELECT a.name AS account, o.external_id AS order, e.sku, e.model, e.quantity::text AS quantity, e.start_date::text AS start_date, e.end_date::text AS end_date, e.status
       FROM entitlement e JOIN sales_order o ON o.id = e.order_id JOIN account a ON a.id = e.account_id
      WHERE o.source = $1
      ORDER BY a.name, o.external_id::int, e.sku`,
    [connection.orderSource],
  );
  out.push(
    '',
    `Entitlements the NetSuite sales orders became (orders from source "${connection.orderSource}"):`,
    ...table(
      ['account', 'sales order', 'sku', 'model', 'quantity', 'start', 'end', 'status'],
      ents.map((e) => [e.account, e.order, e.sku, e.model, trimDecimal(e.quantity), e.start_date, e.end_date ?? '', e.status]),
    ).map((l) => `  ${l}`),
  );
  const states: { external_id: string; status: string; error_code: string | null; error_message: string | null }[] = await s.db.manager.query(
    `SELECT external_id, status, error_code, error_message FROM sync_record WHERE connection_id = $1 AND object = 'orders' AND status IN ('LINKED', 'FAILED') ORDER BY external_id::int`,
    [connection.id],
  );
  for (const st of states) {
    out.push(
      st.status === 'LINKED'
        ? `  Sales order ${st.external_id} was booked from a Salesforce deal the hub already grants: linked, not granted twice (${st.error_code}).`
        : `  Sales order ${st.external_id} not fulfilled: ${st.error_code} — ${st.error_message}`,
    );
  }
  const cancelled = DEMO_NETSUITE_CUSTOMERS.flatMap((c) => c.orders.filter((o) => o.status === 'C').map((o) => `${c.companyName}: ${o.memo}`));
  if (cancelled.length) out.push(`  Cancelled in NetSuite (status C, not won: nothing granted): ${cancelled.join('; ')}.`);

  // Receivables.
  const asOf = isoDay(new Date());
  const summaries = await s.receivables.summaries(
    accounts.map((a) => a.account_id),
    asOf,
  );
  const rows: string[][] = [];
  for (const a of accounts) {
    for (const r of summaries.get(a.account_id) ?? []) {
      rows.push([
        a.account,
        r.currency,
        major(r.openBalance.amountMinor, r.currency),
        major(r.overdue.amountMinor, r.currency),
        String(r.maxOverdueDays),
        r.lastPaymentDate ? `${r.lastPaymentDate} (${major(r.lastPayment?.amountMinor, r.currency)})` : '',
      ]);
    }
  }
  out.push(
    '',
    `Receivables from the invoices, credit memos and payments (as of ${asOf}):`,
    ...table(['account', 'currency', 'open balance', 'overdue', 'days overdue', 'last payment'], rows).map((l) => `  ${l}`),
  );
  const first = accounts.find((a) => a.salesforce) ?? accounts[0];
  out.push(
    '',
    'Look at it over GraphQL (npm start, then http://localhost:4000/graphql):',
    ...demoQueries(connection.id, first?.account_id ?? null).map((q) => `  ${q}`),
    'Run it again: the same sample records get the same NetSuite ids, and the pull finds every one unchanged.',
  );
  process.stdout.write(out.join('\n') + '\n');
  return runs;
}

/** The GraphQL queries the demo prints (one a line), to look at what arrived. */
export function demoQueries(connectionId: string, accountId: string | null): string[] {
  return [
    `{ syncRuns(first: 10, filter: { connectionId: "${connectionId}" }) { edges { node { object status read created updated unchanged failed } } } }`,
    ...(accountId
      ? [
          `{ customer360(account: "${accountId}") { account { name externalRefs { system object externalId } } receivables { currency openBalance { amountMinor currency } overdue { amountMinor } maxOverdueDays lastPaymentDate } } }`,
          `{ entitlements(filter: { accountId: "${accountId}" }) { edges { node { sku quantity status } } } }`,
        ]
      : []),
  ];
}

export { startNetSuiteEmulator };

import { dropProxyEnv } from '../support/salesforce';
dropProxyEnv();
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { startTestHub, type TestHub } from '../support/test-hub';
import { scratchDir } from '../support/scratch';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const CLI = ['-r', '@swc-node/register', path.join(ROOT, 'src/cli/main.ts')];
const SECRET_KEY = 'netsuite-demo-test-secret-key-0123456789abcdef';
const PROXY_VARS = ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy'];

let hub: TestHub;
const dataDir = scratchDir('ehub-netsuite-demo-');

beforeAll(async () => {
  hub = await startTestHub({ EHUB_SECRET_KEY: SECRET_KEY });
});
afterAll(async () => hub?.close());

function ehub(...args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: hub.databaseUrl, EHUB_SECRET_KEY: SECRET_KEY, EHUB_DATA_DIR: dataDir, NODE_OPTIONS: '', LOG_LEVEL: 'warn' };
  for (const k of PROXY_VARS) delete env[k];
  return run(process.execPath, [...CLI, ...args], { cwd: ROOT, env, maxBuffer: 8 * 1024 * 1024 });
}

/** The NetSuite part of the demo's output (after the Salesforce part, when both ran). */
const netsuitePart = (stdout: string) => {
  const at = stdout.indexOf('NetSuite emulator at ');
  if (at < 0) throw new Error(`no NetSuite part in:\n${stdout}`);
  return stdout.slice(at);
};

/** The rows of the first runs table in `text`, keyed `KIND object`. */
function runsTable(text: string): Map<string, Record<string, number | string>> {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => /^kind\s+object\s+status/.test(l));
  if (at < 0) throw new Error(`no runs table in:\n${text}`);
  const head = lines[at]!.split(/\s{2,}/);
  const rows = new Map<string, Record<string, number | string>>();
  for (const line of lines.slice(at + 1)) {
    if (!/^(PULL|PUSH|RENEWALS)\s/.test(line)) break;
    const cells = line.split(/\s{2,}/);
    const row = Object.fromEntries(head.map((h, i) => [h, /^\d+$/.test(cells[i] ?? '') ? Number(cells[i]) : (cells[i] ?? '')]));
    rows.set(`${row.kind} ${row.object}`, row);
  }
  return rows;
}

// Expected values, written out here from the demo's sample data (src/cli/demo-data.ts), not computed by its code.
const now = new Date();
const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const fromMonthStart = (days: number) => dayOf(monthStart + days * 86_400_000);
/** A term ending `endMonths` months after the first of this month, minus one day, lasting 12 months. */
const term12 = (endMonths: number) => ({
  start: dayOf(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + endMonths - 12, 1)),
  end: dayOf(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + endMonths, 1) - 86_400_000),
});
const today = dayOf(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
const daysSince = (day: string) => Math.round((Date.parse(today) - Date.parse(day)) / 86_400_000);

const ERP_ENTITLEMENTS = [
  { account: 'Fjord Marine Instruments AS', sku: 'GW-100', quantity: 20, ...term12(9) },
  { account: 'Fjord Marine Instruments AS', sku: 'SUP-PREM', quantity: 1, ...term12(9) },
  { account: 'Helios Solar Systems', sku: 'GW-100', quantity: 50, ...term12(12) },
  { account: 'Quarry Lane Hardware Ltd', sku: 'DSN-STD', quantity: 5, ...term12(11) },
  { account: 'Quarry Lane Hardware Ltd', sku: 'SVC-ONBOARD', quantity: 1, ...term12(11) },
].map((e) => `${e.account}|${e.sku}|${e.quantity}|${e.start}|${e.end}`);

/** Per hub account: open balance and overdue in cents, days overdue, last payment. */
const RECEIVABLES: Record<string, { open: string; overdue: string; days: number; lastPaymentDate: string | null; lastPayment: string | null }> = {
  'Bluefin Logistics': { open: '0', overdue: '0', days: 0, lastPaymentDate: fromMonthStart(-275), lastPayment: '3680000' },
  'Cedar Ridge Clinics': { open: '2410000', overdue: '0', days: 0, lastPaymentDate: null, lastPayment: null },
  // 20,000.00 open, 800.00 credit memo unapplied; due 20 days before the first of the month.
  'Helios Solar Systems': { open: '1920000', overdue: '2000000', days: daysSince(fromMonthStart(-20)), lastPaymentDate: null, lastPayment: null },
  // 9,200.00 invoiced, 5,000.00 paid: 4,200.00 open and overdue since 45 days before the first.
  'Fjord Marine Instruments AS': { open: '420000', overdue: '420000', days: daysSince(fromMonthStart(-45)), lastPaymentDate: fromMonthStart(-40), lastPayment: '500000' },
  'Quarry Lane Hardware Ltd': { open: '1500000', overdue: '0', days: 0, lastPaymentDate: null, lastPayment: null },
};

describe('ehub demo --netsuite', () => {
  jest.setTimeout(180_000);

  const erpEntitlements = async () =>
    (
      (await hub.ds.query(
        `SELECT a.name, e.sku, trim_scale(e.quantity)::text AS q, e.start_date::text AS s, e.end_date::text AS e, e.status
           FROM entitlement e JOIN sales_order o ON o.id = e.order_id JOIN account a ON a.id = e.account_id
          WHERE o.source = 'netsuite-demo' ORDER BY 1, 2`,
      )) as { name: string; sku: string; q: string; s: string; e: string; status: string }[]
    ).map((r) => `${r.name}|${r.sku}|${r.q}|${r.s}|${r.e}`);

  const receivables = async () => {
    const rows: { name: string; id: string }[] = await hub.ds.query(
      `SELECT a.name, a.id FROM account a JOIN external_ref r ON r.entity_id = a.id AND r.system = 'netsuite-demo' AND r.object = 'Account' ORDER BY a.name`,
    );
    const out: Record<string, unknown> = {};
    for (const r of rows) {
      const { account } = await hub.ok<{ account: { receivables: { openBalance: { amountMinor: string }; overdue: { amountMinor: string }; maxOverdueDays: number; lastPaymentDate: string | null; lastPayment: { amountMinor: string } | null }[] } }>(
        `query($a: ID!, $d: String) { account(id: $a) { receivables(asOf: $d) { openBalance { amountMinor } overdue { amountMinor } maxOverdueDays lastPaymentDate lastPayment { amountMinor } } } }`,
        { a: r.id, d: today },
      );
      const [x] = account.receivables;
      out[r.name] = x && { open: x.openBalance.amountMinor, overdue: x.overdue.amountMinor, days: x.maxOverdueDays, lastPaymentDate: x.lastPaymentDate, lastPayment: x.lastPayment?.amountMinor ?? null };
    }
    return out;
  };

  it('with --salesforce: ERP customers join the CRM accounts, ERP orders become entitlements (a copy of a CRM deal grants nothing), invoices and payments give receivables', async () => {
    const { stdout } = await ehub('demo', '--salesforce', '--netsuite');
    const ns = netsuitePart(stdout);
    expect(ns).toMatch(/^NetSuite emulator at http:\/\/127\.0\.0\.1:\d+ \(account \w+\): 5 customers \(3 holding a Salesforce Account Id\), 2 contacts, 6 items, 5 sales orders, 8 invoices/);
    const runs = runsTable(ns);
    expect([...runs.keys()]).toEqual(['PULL accounts', 'PULL contacts', 'PULL orders', 'PULL receivables']);
    expect(runs.get('PULL accounts')).toMatchObject({ status: 'SUCCEEDED', read: 5, created: 2, updated: 3, failed: 0 });
    expect(runs.get('PULL contacts')).toMatchObject({ status: 'SUCCEEDED', read: 2, created: 2, failed: 0 });
    // Helios, Fjord and Quarry Lane fulfilled; the cancelled one and Cedar Ridge's copy of its CRM deal grant nothing.
    expect(runs.get('PULL orders')).toMatchObject({ status: 'SUCCEEDED', read: 5, created: 3, unchanged: 2, failed: 0 });
    expect(runs.get('PULL receivables')).toMatchObject({ status: 'SUCCEEDED', read: 8, created: 8, failed: 0 });

    // Every account once: the demo's 3 plain accounts, Salesforce's 4 (3 of them also NetSuite customers), 2 ERP-only customers.
    const [{ n }] = await hub.ds.query(`SELECT count(*)::int AS n FROM account`);
    expect(n).toBe(3 + 4 + 2);
    const joined: { name: string }[] = await hub.ds.query(
      `SELECT a.name FROM account a
        WHERE EXISTS (SELECT 1 FROM external_ref r WHERE r.entity_id = a.id AND r.system = 'salesforce-demo')
          AND EXISTS (SELECT 1 FROM external_ref r WHERE r.entity_id = a.id AND r.system = 'netsuite-demo') ORDER BY a.name`,
    );
    // The CRM owns the name: "Helios Solar Systems", not the ERP's "Helios Solar Systems S.L.".
    expect(joined.map((j) => j.name)).toEqual(['Bluefin Logistics', 'Cedar Ridge Clinics', 'Helios Solar Systems']);
    expect(ns).toMatch(/Helios Solar Systems S\.L\.\s+Helios Solar Systems\s+linked to Salesforce Account 001\w{15}/);
    expect(ns).toMatch(/Quarry Lane Hardware Ltd\s+Quarry Lane Hardware Ltd\s+new account \(ERP only\)/);

    expect(await erpEntitlements()).toEqual([...ERP_ENTITLEMENTS].sort());
    // Cedar Ridge's ERP order is a copy of its Salesforce deal: linked, and the deal's 40 seats granted once.
    const [copy] = await hub.ds.query(
      `SELECT r.status, r.error_code FROM sync_record r JOIN sync_connection c ON c.id = r.connection_id WHERE c.name = 'netsuite-demo' AND r.object = 'orders' AND r.status <> 'APPLIED' AND r.status <> 'IGNORED'`,
    );
    expect(copy).toEqual({ status: 'LINKED', error_code: 'DUPLICATE_SOURCE' });
    const cedar: { sku: string; q: string }[] = await hub.ds.query(
      `SELECT e.sku, trim_scale(e.quantity)::text AS q FROM entitlement e JOIN account a ON a.id = e.account_id WHERE a.name = 'Cedar Ridge Clinics' ORDER BY e.sku`,
    );
    expect(cedar).toEqual([
      { sku: 'ANL-CLOUD', q: '40' },
      { sku: 'API-10M', q: '1' },
    ]);
    expect(ns).toContain('booked from a Salesforce deal the hub already grants: linked, not granted twice (DUPLICATE_SOURCE)');

    expect(await receivables()).toEqual(RECEIVABLES);
    expect(ns).toMatch(/Helios Solar Systems\s+USD\s+19200(\.00)?\s+20000(\.00)?\s+\d+/);

    const [conn] = await hub.ds.query(`SELECT type, ref_system, order_source, enabled, push_enabled, options FROM sync_connection WHERE name = 'netsuite-demo'`);
    const url = /NetSuite emulator at (http:\/\/127\.0\.0\.1:\d+)/.exec(ns)![1];
    expect(conn).toMatchObject({ type: 'netsuite', ref_system: 'netsuite-demo', order_source: 'netsuite-demo', push_enabled: false, options: { baseUrl: url, authMode: 'm2m', crmSystem: 'salesforce-demo' } });
    // The emulator stopped with the demo: the hub's schedules must not keep calling it.
    expect(conn.enabled).toBe(false);

    // The GraphQL queries it prints answer without errors and show the joined record.
    const queries = ns
      .slice(ns.indexOf('Look at it over GraphQL'))
      .split('\n')
      .filter((l) => l.startsWith('  {'))
      .map((l) => l.trim());
    expect(queries).toHaveLength(3);
    const answers = await Promise.all(queries.map((q) => hub.ok<Record<string, unknown>>(q)));
    const c360 = answers[1] as { customer360: { account: { externalRefs: { system: string }[] }; receivables: unknown[] } };
    expect(c360.customer360.account.externalRefs.map((r) => r.system).sort()).toEqual(['netsuite-demo', 'salesforce-demo']);
    expect(c360.customer360.receivables).toHaveLength(1);
  });

  it('run again on its own: the same NetSuite ids, every record unchanged, the customers still joined to the Salesforce accounts', async () => {
    const entitlementsBefore = await erpEntitlements();
    const [before] = await hub.ds.query(`SELECT count(*)::int AS n FROM account`);
    const { stdout } = await ehub('demo', '--netsuite');
    const ns = netsuitePart(stdout);
    expect(ns).toMatch(/5 customers \(3 holding a Salesforce Account Id\), 2 contacts, 6 items, 5 sales orders/);
    const runs = runsTable(ns);
    expect(runs.get('PULL accounts')).toMatchObject({ read: 5, created: 0, updated: 0, unchanged: 5, failed: 0 });
    expect(runs.get('PULL contacts')).toMatchObject({ created: 0, updated: 0, failed: 0 });
    expect(runs.get('PULL orders')).toMatchObject({ read: 5, created: 0, updated: 0, failed: 0 });
    expect(runs.get('PULL receivables')).toMatchObject({ read: 8, created: 0, failed: 0 });
    expect(await erpEntitlements()).toEqual(entitlementsBefore);
    const [after] = await hub.ds.query(`SELECT count(*)::int AS n FROM account`);
    expect(after.n).toBe(before.n);
    expect(await receivables()).toEqual(RECEIVABLES);
  });
});

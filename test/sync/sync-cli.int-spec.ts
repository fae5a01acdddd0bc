import { createSalesforceConnection, dropProxyEnv, seedSkus, startEmulator } from '../support/salesforce';
dropProxyEnv();
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { SalesforceEmulator } from '../../connectors/salesforce/emulator/types';
import { day } from '../support/orders';
import { startTestHub, type TestHub } from '../support/test-hub';
import { scratchDir } from '../support/scratch';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const CLI = ['-r', '@swc-node/register', path.join(ROOT, 'src/cli/main.ts')];
/** Shared by the hub and the CLI: credentials sealed by one open in the other. */
const SECRET_KEY = 'sync-cli-test-secret-key-0123456789abcdef';
const PROXY_VARS = ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy'];

let hub: TestHub;
const dataDir = scratchDir('ehub-sync-cli-');

beforeAll(async () => {
  hub = await startTestHub({ EHUB_SECRET_KEY: SECRET_KEY });
});
afterAll(async () => hub?.close());

function ehub(...args: string[]) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: hub.databaseUrl,
    EHUB_SECRET_KEY: SECRET_KEY,
    EHUB_DATA_DIR: dataDir,
    NODE_OPTIONS: '',
    LOG_LEVEL: 'warn',
  };
  for (const k of PROXY_VARS) delete env[k];
  return run(process.execPath, [...CLI, ...args], { cwd: ROOT, env });
}

/** The rows of the runs table `formatRuns` prints, keyed `KIND object`. */
function runsTable(stdout: string): Map<string, Record<string, string>> {
  const lines = stdout.split('\n');
  const at = lines.findIndex((l) => /^kind\s+object\s+status/.test(l));
  if (at < 0) throw new Error(`no runs table in:\n${stdout}`);
  const head = lines[at]!.split(/\s{2,}/);
  const rows = new Map<string, Record<string, string>>();
  for (const line of lines.slice(at + 1)) {
    if (!/^(PULL|PUSH|RENEWALS)\s/.test(line)) break;
    const cells = line.split(/\s{2,}/);
    const row = Object.fromEntries(head.map((h, i) => [h, cells[i] ?? '']));
    rows.set(`${row.kind} ${row.object}`, row);
  }
  return rows;
}

const counts = (row: Record<string, string> | undefined) =>
  row && { status: row.status, read: Number(row.read), created: Number(row.created), updated: Number(row.updated), unchanged: Number(row.unchanged), failed: Number(row.failed) };

describe('ehub demo --salesforce', () => {
  jest.setTimeout(60_000);

  const entitlements = () =>
    hub.ds.query(
      `SELECT e.sku, e.quantity::float AS quantity, e.status, e.end_date::text AS end_date
         FROM entitlement e JOIN sales_order o ON o.id = e.order_id WHERE o.source = 'salesforce-demo' ORDER BY e.sku, e.quantity`,
    ) as Promise<{ sku: string; quantity: number; status: string; end_date: string }[]>;

  it('syncs sample deals from a local emulator into entitlements, writes back, and reports the unknown sku', async () => {
    const { stdout } = await ehub('demo', '--salesforce');
    const runs = runsTable(stdout);
    expect(counts(runs.get('PULL accounts'))).toMatchObject({ status: 'SUCCEEDED', created: 4 });
    expect(counts(runs.get('PULL contacts'))).toMatchObject({ status: 'SUCCEEDED', created: 5 });
    // Three won deals fulfilled, the open one skipped, the one with PLOTTER-X1 reported.
    expect(counts(runs.get('PULL orders'))).toMatchObject({ status: 'PARTIAL', read: 5, created: 3, unchanged: 1, failed: 1 });
    expect(counts(runs.get('RENEWALS renewals'))).toMatchObject({ created: 2 });
    expect(counts(runs.get('PUSH outbox'))).toMatchObject({ status: 'SUCCEEDED', created: 12, failed: 0 });
    expect(stdout).toMatch(/Entitlements the won deals became[\s\S]*Bluefin Logistics\s+Bluefin: Designer Pro for the design team\s+DSN-PRO\s+CONCURRENT\s+10\s/);
    expect(stdout).toMatch(/UNKNOWN_SKU[^\n]*PLOTTER-X1/);
    expect(stdout).toMatch(/Deals not won yet[\s\S]*Bluefin: Analytics for operations[^\n]*Negotiation\/Review/);
    expect(stdout).toMatch(/Written back to the Salesforce Accounts:\n\s+Bluefin Logistics \(001\w{15}\)\n\s+Ehub_Entitlement_Status__c\s+ACTIVE\n\s+Ehub_Next_Renewal_Date__c\s+\d{4}-\d{2}-\d{2}\n\s+Ehub_ARR__c\s+3\d{4}(\.\d+)?\n/); // 36800 a year (a term over 29 February: × 365/366)
    expect(stdout).toMatch(/Renewal opportunities created[\s\S]*Helios Solar Systems\s+Renewal: Helios Solar Systems[^\n]*Prospecting/);

    const got = await entitlements();
    expect(got.map((e) => `${e.sku} ${e.quantity} ${e.status}`)).toEqual([
      'ANL-CLOUD 40 ACTIVE',
      'API-10M 1 ACTIVE',
      'DSN-PRO 10 ACTIVE',
      'GW-100 150 ACTIVE',
      'SUP-PREM 1 ACTIVE',
      'SUP-PREM 1 ACTIVE',
    ]);
    const failed = await hub.ds.query(
      `SELECT r.error_code, r.error_message FROM sync_record r JOIN sync_connection c ON c.id = r.connection_id
        WHERE c.name = 'salesforce-demo' AND r.status = 'FAILED'`,
    );
    expect(failed).toEqual([{ error_code: 'UNKNOWN_SKU', error_message: expect.stringContaining('"PLOTTER-X1"') }]);
    const [conn] = await hub.ds.query(`SELECT type, ref_system, order_source, enabled, options FROM sync_connection WHERE name = 'salesforce-demo'`);
    const url = /Salesforce emulator at (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)![1];
    expect(conn).toMatchObject({ type: 'salesforce', ref_system: 'salesforce-demo', order_source: 'salesforce-demo', options: { loginUrl: url } });
    // The emulator stopped with the demo: the hub's schedules must not keep calling it.
    expect(conn.enabled).toBe(false);
  });

  it('running it again finds every deal unchanged and sends the fresh emulator what it lacks', async () => {
    const before = await entitlements();
    const [accountsBefore] = await hub.ds.query(`SELECT count(*)::int AS n FROM account`);
    const { stdout } = await ehub('demo', '--salesforce');
    const runs = runsTable(stdout);
    expect(counts(runs.get('PULL accounts'))).toMatchObject({ created: 0, updated: 0, unchanged: 4 });
    expect(counts(runs.get('PULL orders'))).toMatchObject({ created: 0, updated: 0, unchanged: 4, failed: 1 });
    expect(counts(runs.get('RENEWALS renewals'))).toMatchObject({ created: 0 });
    // A new emulator starts empty: the account fields, entitlements and renewals go out again.
    expect(counts(runs.get('PUSH outbox'))).toMatchObject({ status: 'SUCCEEDED', created: 12 });
    expect(stdout).toContain('Every deal was unchanged');
    expect(stdout).toMatch(/Renewal opportunities created[\s\S]*Bluefin Logistics\s+Renewal:/);
    expect(await entitlements()).toEqual(before);
    const [accountsAfter] = await hub.ds.query(`SELECT count(*)::int AS n FROM account`);
    expect(accountsAfter.n).toBe(accountsBefore.n);
    const [conn] = await hub.ds.query(`SELECT options FROM sync_connection WHERE name = 'salesforce-demo'`);
    expect(conn.options.loginUrl).toBe(/Salesforce emulator at (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)![1]);
  });
});

describe('ehub sync', () => {
  jest.setTimeout(60_000);
  let emu: SalesforceEmulator;

  beforeAll(async () => {
    emu = await startEmulator();
    await seedSkus(hub, ['SEATS']);
    emu.seedDeal({ accountName: 'Wren Analytics', lines: [{ productCode: 'SEATS', quantity: 3, unitPrice: 100, serviceDate: day(-10), endDate: day(354) }] });
    emu.seedDeal({ accountName: 'Pike Robotics', lines: [{ productCode: 'SEATS', quantity: 7, unitPrice: 90, serviceDate: day(-5), endDate: day(40) }] });
    await createSalesforceConnection(hub, emu, {}, { name: 'sf-cli', refSystem: 'sf-cli', orderSource: 'sf-cli' });
  });
  afterAll(async () => emu?.close());

  it('runs a sync of a connection by name and prints the runs', async () => {
    const { stdout } = await ehub('sync', 'sf-cli');
    const runs = runsTable(stdout);
    expect([...runs.keys()]).toEqual(['PULL accounts', 'PULL contacts', 'PULL orders', 'RENEWALS renewals', 'PUSH outbox']);
    expect(counts(runs.get('PULL accounts'))).toEqual({ status: 'SUCCEEDED', read: 2, created: 2, updated: 0, unchanged: 0, failed: 0 });
    expect(counts(runs.get('PULL orders'))).toEqual({ status: 'SUCCEEDED', read: 2, created: 2, updated: 0, unchanged: 0, failed: 0 });
    expect(counts(runs.get('RENEWALS renewals'))).toMatchObject({ created: 1 }); // Pike's term ends in 40 days
    expect(counts(runs.get('PUSH outbox'))).toMatchObject({ status: 'SUCCEEDED', created: 5, failed: 0 }); // 2 accounts, 2 entitlements, 1 renewal
    expect(Number(runs.get('PULL orders')!['api calls'])).toBeGreaterThan(0);

    const got = await hub.ds.query(
      `SELECT e.sku, e.quantity::float AS quantity FROM entitlement e JOIN sales_order o ON o.id = e.order_id WHERE o.source = 'sf-cli' ORDER BY e.quantity`,
    );
    expect(got).toEqual([
      { sku: 'SEATS', quantity: 3 },
      { sku: 'SEATS', quantity: 7 },
    ]);
    const wren = emu.records('Account').find((a) => a.Name === 'Wren Analytics')!;
    expect(wren.Ehub_Entitlement_Status__c).toBe('ACTIVE');
    expect(wren.Ehub_ARR__c).toBeGreaterThan(0);
  });

  it('--no-push --objects pulls only those objects', async () => {
    const { stdout } = await ehub('sync', 'sf-cli', '--no-push', '--objects', 'orders');
    const runs = runsTable(stdout);
    expect([...runs.keys()]).toEqual(['PULL orders']);
    expect(counts(runs.get('PULL orders'))).toMatchObject({ status: 'SUCCEEDED', created: 0, updated: 0, failed: 0 });
  });

  it('an unknown connection exits non-zero with a clear message', async () => {
    const err = await ehub('sync', 'nope').then(
      () => null,
      (e: { code?: number; stdout: string; stderr: string }) => e,
    );
    expect(err).not.toBeNull();
    expect(err!.code).toBe(1);
    expect(err!.stderr.trim()).toBe('There is no sync connection named "nope" (SYNC_CONNECTION_NOT_FOUND)');
    expect(err!.stdout).toBe('');
  });
});

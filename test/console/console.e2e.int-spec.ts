import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import Fastify from 'fastify';
import pino from 'pino';
import { Role } from '../../src/auth/role';
import { systemContext } from '../../src/common/context';
import { generateBook } from '../../src/churn/book-generator';
import { registerConsole } from '../../src/server/console';
import { SHOTS, startConsoleHarness, type ConsoleHarness } from '../support/console-harness';
import type { TestHub } from '../support/test-hub';

/**
 * The web console (docs/console.md) in a real headless Chromium against a real hub on a
 * generated book of customers (test/support/console-harness.ts: the Vite build, the hub, the
 * browser that refuses other hosts, screenshots, axe). The bundle size and each page's
 * load-to-interactive time are printed (docs/benchmarks.md records them).
 */

const BUDGET_GZIP_BYTES = 300 * 1024;

interface Money {
  amountMinor: string;
  currency: string;
}

const fmt = (m: Money) => new Intl.NumberFormat('en', { style: 'currency', currency: m.currency, maximumFractionDigits: 0 }).format(Number(m.amountMinor) / 100);
const fmtList = (l: Money[]) => (l.length ? l.map(fmt).join(' + ') : '–');

describe('web console (headless Chromium)', () => {
  let h: ConsoleHarness;
  let hub: TestHub;
  let consoleDir: string;
  let refused: string[];
  let complaints: string[];
  let timings: Record<string, number>;
  let newPage: ConsoleHarness['newPage'];
  let signIn: ConsoleHarness['signIn'];
  let open: ConsoleHarness['open'];
  let load: ConsoleHarness['load'];
  let until: ConsoleHarness['until'];
  let axe: ConsoleHarness['axe'];
  let accounts: { id: string; name: string }[] = [];

  beforeAll(async () => {
    h = await startConsoleHarness();
    ({ hub, consoleDir, refused, complaints, timings } = h);
    ({ newPage, signIn, open, load, until, axe } = h);
    const ctx = systemContext(pino({ level: 'silent' }), 'test:console');
    await generateBook(hub.services, ctx, { accounts: 24, years: 2, seed: 16 });
    // One overuse finding with leakage (the compliance job writes these; the book has underuse only).
    await hub.ds.query(
      `INSERT INTO compliance_finding (kind, account_id, entitlement_id, period_start, unit, used, entitled, over, leakage_minor, currency)
       SELECT 'OVERUSE', e.account_id, e.id, date_trunc('month', now()), 'seats', e.quantity + 3, e.quantity, 3, 45000, 'USD'
         FROM entitlement e WHERE e.model = 'NAMED_USER' ORDER BY e.id LIMIT 1`,
    );
    await hub.services.health.recomputeAll(ctx);
    const list = await hub.ok<{ accounts: { edges: { node: { id: string; name: string } }[] } }>('{ accounts(first: 100) { edges { node { id name } } } }');
    accounts = list.accounts.edges.map((e) => e.node);
  }, 180_000);

  afterAll(async () => h?.close(), 120_000);

  it('serves the built console: index.html for client routes, immutable hashed assets, the CSP; 503 when not built', async () => {
    const index = await fetch(`${hub.url}/console/customers/anything`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(index.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    const html = await index.text();
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const asset = await fetch(`${hub.url}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(`${hub.url}/console/assets/nope.js`)).status).toBe(404);
    expect((await fetch(`${hub.url}/console/assets/..%2Fpackage.json`)).status).toBe(404);

    const bare = Fastify();
    registerConsole(bare, path.join(os.tmpdir(), 'ehub-console-not-built'));
    const r = await bare.inject({ url: '/console/customers' });
    expect(r.statusCode).toBe(503);
    expect(r.body).toContain('npm run build');
    await bare.close();
  });

  it('keeps the initial JavaScript under 300 KB compressed', () => {
    const html = fs.readFileSync(path.join(consoleDir, 'index.html'), 'utf8');
    const entries = [...html.matchAll(/(?:src|href)="\/console\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]!);
    expect(entries.length).toBeGreaterThan(0);
    const sizes = entries.map((f) => gzipSync(fs.readFileSync(path.join(consoleDir, f)), { level: 9 }).length);
    const total = sizes.reduce((a, b) => a + b, 0);
    console.log(`console initial JS: ${entries.join(', ')}: ${total} bytes gzip (budget ${BUDGET_GZIP_BYTES})`);
    expect(total).toBeLessThan(BUDGET_GZIP_BYTES);
  });

  it('signs an admin in; Overview, Customers and customer 360 show the book; one action works; sign out forgets the key', async () => {
    const page = await newPage();
    // A wrong key is refused with the hub's words and nothing is stored.
    await page.goto(`${hub.url}/console/`);
    await page.getByLabel('API key').fill('ehub_nope0000_wrongwrongwrongwrongwrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.locator('[data-signin-error]').textContent()).resolves.toMatch(/UNAUTHENTICATED/);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await axe(page, 'sign-in');
    await page.screenshot({ path: path.join(SHOTS, 'sign-in.png') });

    await signIn(page, hub.adminKey);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(1);

    // Overview: the figures portfolioOverview answers, rendered.
    timings.overview = await load(page, '/console/', 'overview');
    const { portfolioOverview: o } = await hub.ok<{
      portfolioOverview: { accounts: number; arr: Money[]; arrByProduct: { sku: string; arr: Money[] }[]; renewals: { accountId: string }[]; health: { band: string; accounts: number }[]; unscored: number; leakage: Money[] };
    }>('{ portfolioOverview(renewalDays: 90) { accounts arr { amountMinor currency } arrByProduct { sku arr { amountMinor currency } } renewals { accountId } health { band accounts } unscored leakage { amountMinor currency } } }');
    expect(o.accounts).toBe(accounts.length);
    expect(o.arrByProduct.length).toBeGreaterThan(0);
    expect(o.leakage).toEqual([{ amountMinor: '45000', currency: 'USD' }]);
    await expect(page.locator('[data-figure="accounts"]').textContent()).resolves.toBe(String(o.accounts));
    await expect(page.locator('[data-figure="arr"]').textContent()).resolves.toBe(fmtList(o.arr));
    await expect(page.locator('[data-figure="leakage"]').textContent()).resolves.toBe(fmtList(o.leakage));
    for (const p of o.arrByProduct) {
      await expect(page.locator(`[data-arr-row="${p.sku}"]`).first().textContent()).resolves.toContain(fmtList(p.arr));
    }
    for (const h of o.health) await expect(page.locator(`[data-health="${h.band}"]`).textContent()).resolves.toContain(String(h.accounts));
    expect(await page.locator('[data-renewal]').count()).toBe(o.renewals.length);
    // The charts drew (ECharts renders into a canvas).
    expect(await page.locator('[data-chart] canvas').count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator('a[data-graphiql]').getAttribute('href')).toMatch(/^\/graphql#query=query\+ConsoleOverview/);
    await axe(page, 'overview');
    await page.screenshot({ path: path.join(SHOTS, 'overview.png'), fullPage: true });

    // Customers: every account, then a search and a filter.
    timings.customers = await open(page, 'Customers', 'customers');
    expect(await page.locator('[data-customer]').count()).toBe(accounts.length);
    await axe(page, 'customers');
    await page.screenshot({ path: path.join(SHOTS, 'customers.png'), fullPage: true });
    const target = accounts[0]!;
    const rows = page.locator('[data-loaded="customers"] [data-customer]');
    const rowsAre = async (n: number) => {
      for (const until = Date.now() + 15_000; (await rows.count()) !== n; await new Promise((r) => setTimeout(r, 50))) {
        if (Date.now() > until) throw new Error(`expected ${n} customer rows, saw ${await rows.count()}`);
      }
    };
    const found = await hub.ok<{ accounts: { totalCount: number } }>('query($s: String) { accounts(search: $s) { totalCount } }', { s: target.name });
    expect(found.accounts.totalCount).toBeLessThan(accounts.length);
    await page.getByLabel('Search name, domain or external id').fill(target.name);
    await page.getByRole('button', { name: 'Search' }).click();
    await rowsAre(found.accounts.totalCount);
    expect(await page.locator(`[data-customer="${target.id}"]`).count()).toBe(1);
    const red = o.health.find((h) => h.band === 'RED')!.accounts;
    await page.getByLabel('Search name, domain or external id').fill('');
    await page.getByRole('button', { name: 'Search' }).click();
    await rowsAre(accounts.length);
    // The health band filter asks the API again (customerList filters on the server).
    await page.getByLabel('Health band').selectOption('RED');
    await rowsAre(red);
    await page.getByLabel('Health band').selectOption('');
    await rowsAre(accounts.length);

    // Customer 360 of the account with the most ARR: what customer360 answers, rendered.
    const { portfolioOverview: top } = await hub.ok<{ portfolioOverview: { renewals: { accountId: string }[] } }>('{ portfolioOverview(renewalDays: 366) { renewals { accountId } } }');
    const id = top.renewals[0]!.accountId;
    const { customer360: c } = await hub.ok<{ customer360: { account: { name: string }; arr: Money[]; entitlementGroups: { sku: string }[]; usageTrend: { meters: { meterKey: string }[] } } }>(
      'query($id: ID!) { customer360(account: $id) { account { name } arr { amountMinor currency } entitlementGroups { sku } usageTrend { meters { meterKey } } } }',
      { id },
    );
    timings.customer360 = await load(page, `/console/customers/${id}`, 'customer');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe(c.account.name);
    await expect(page.locator('[data-figure="arr"]').textContent()).resolves.toBe(fmtList(c.arr));
    for (const g of c.entitlementGroups) expect(await page.locator(`[data-entitlement="${g.sku}"]`).count()).toBeGreaterThan(0);
    expect(c.usageTrend.meters.length).toBeGreaterThan(0);
    expect(await page.locator('[data-meter]').count()).toBe(c.usageTrend.meters.length);
    expect(await page.locator('[data-section="usage"] [data-chart] canvas').count()).toBe(1);
    // Keyboard: the skip link is the first stop and moves to the content.
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement?.id')).toBe('main');
    await axe(page, 'customer 360');
    await page.screenshot({ path: path.join(SHOTS, 'customer-360.png'), fullPage: true });

    // The action: recompute the health score (ADMIN, OPERATIONS), as the API does.
    await page.locator('[data-action="recompute-health"]').click();
    await page.getByText(/Health recomputed: \d+ \((GREEN|YELLOW|RED)\)/).waitFor();
    const audit = await hub.ok<{ auditLog: { edges: { node: { operation: string } }[] } }>('{ auditLog(first: 500) { edges { node { operation } } } }');
    expect(audit.auditLog.edges.some((e) => e.node.operation === 'recomputeHealth')).toBe(true);


    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await page.close();
  }, 120_000);

  it('Compliance lists the findings the API answers, filters them, and acknowledging one works and is audited', async () => {
    const page = await newPage();
    await signIn(page, hub.adminKey);
    type F = { complianceFindings: { totalCount: number; leakageTotals: Money[]; edges: { node: { id: string; kind: string; status: string; accountId: string; entitlementId: string | null; periodStart: string } }[] } };
    const findings = (filter: Record<string, string>) =>
      hub.ok<F>('query($f: ComplianceFindingFilterInput) { complianceFindings(filter: $f, first: 100) { totalCount leakageTotals { amountMinor currency } edges { node { id kind status accountId entitlementId periodStart } } } }', { f: filter });
    const open = await findings({ status: 'OPEN' });
    expect(open.complianceFindings.totalCount).toBeGreaterThan(0);
    timings.compliance = await load(page, '/console/compliance', 'compliance');
    await expect(page.locator('[data-figure="findings"]').textContent()).resolves.toBe(String(open.complianceFindings.totalCount));
    await expect(page.locator('[data-figure="leakage"]').textContent()).resolves.toBe(fmtList(open.complianceFindings.leakageTotals));
    expect(await page.locator('[data-finding-id]').count()).toBe(open.complianceFindings.edges.length);
    const overuse = open.complianceFindings.edges.find((e) => e.node.kind === 'OVERUSE')!.node;
    await expect(page.locator(`[data-finding-id="${overuse.id}"] [data-leakage]`).textContent()).resolves.toBe(fmt({ amountMinor: '45000', currency: 'USD' }));
    expect(await page.locator('a[data-graphiql]').getAttribute('href')).toMatch(/^\/graphql#query=query\+ConsoleFindings/);
    await axe(page, 'compliance');
    await page.screenshot({ path: path.join(SHOTS, 'compliance.png'), fullPage: true });

    // The kind filter asks the API again.
    const onlyOveruse = await findings({ status: 'OPEN', kind: 'OVERUSE' });
    await page.getByRole('combobox', { name: 'Kind' }).selectOption('OVERUSE');
    await until(async () => (await page.locator('[data-loaded="compliance"]').count()) === 1 && (await page.locator('[data-finding-id]').count()) === onlyOveruse.complianceFindings.edges.length, 'the OVERUSE rows');
    await expect(page.locator('[data-figure="findings"]').textContent()).resolves.toBe(String(onlyOveruse.complianceFindings.totalCount));
    expect(await page.locator('[data-finding-id]:not([data-finding-kind="OVERUSE"])').count()).toBe(0);

    // Acknowledge: the API records it (with the console's note) and audits it; the open list loses it.
    await page.getByLabel('Note with the next status change').fill('Sales is talking to them');
    await page.locator(`[data-finding-id="${overuse.id}"] [data-action="acknowledge"]`).click();
    await page.getByText(/Finding OVERUSE of .*: ACKNOWLEDGED\./).waitFor();
    const after = await hub.ok<{ complianceFindings: { edges: { node: { id: string; status: string; statusNote: string | null } }[] } }>(
      '{ complianceFindings(first: 100) { edges { node { id status statusNote } } } }',
    );
    const f = after.complianceFindings.edges.find((e) => e.node.id === overuse.id)!.node;
    expect(f.status).toBe('ACKNOWLEDGED');
    expect(f.statusNote).toBe('Sales is talking to them');
    await until(async () => (await page.locator('[data-loaded="compliance"]').count()) === 1 && (await page.locator(`[data-finding-id="${overuse.id}"]`).count()) === 0, 'the acknowledged finding to leave the open list');
    const audit = await hub.ok<{ auditLog: { edges: { node: { operation: string } }[] } }>('{ auditLog(first: 500) { edges { node { operation } } } }');
    expect(audit.auditLog.edges.some((e) => e.node.operation === 'setComplianceFindingStatus')).toBe(true);
    // Shown again under ACKNOWLEDGED, where it can be resolved.
    await page.getByRole('combobox', { name: 'Status' }).selectOption('ACKNOWLEDGED');
    await page.locator(`[data-finding-id="${overuse.id}"][data-status="ACKNOWLEDGED"] [data-action="resolve"]`).waitFor();
    // The filters are in the address, so a filtered list can be linked to and reloaded.
    expect(new URL(page.url()).search).toBe('?status=ACKNOWLEDGED&kind=OVERUSE');
    await page.reload();
    await page.locator(`[data-finding-id="${overuse.id}"][data-status="ACKNOWLEDGED"]`).waitFor();
    await expect(page.getByRole('combobox', { name: 'Kind' }).inputValue()).resolves.toBe('OVERUSE');

    // By account: "only these" on a row of the open list shows that account's findings and no other.
    const shown = async (filter: Record<string, string>, what: string) => {
      const expected = await findings(filter);
      await until(
        async () => (await page.locator('[data-loaded="compliance"]').count()) === 1 && (await page.locator('[data-figure="findings"]').textContent()) === String(expected.complianceFindings.totalCount),
        what,
      );
      const ids = await page.locator('[data-finding-id]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-finding-id')));
      expect(ids.sort()).toEqual(expected.complianceFindings.edges.map((e) => e.node.id).sort());
      return expected;
    };
    await load(page, '/console/compliance', 'compliance');
    const firstRow = page.locator('[data-finding-id]').first();
    const rowId = (await firstRow.getAttribute('data-finding-id'))!;
    const rowAccount = (await findings({ status: 'OPEN' })).complianceFindings.edges.find((e) => e.node.id === rowId)!.node.accountId;
    await firstRow.locator('[data-filter="account"]').click();
    const ofAccount = await shown({ status: 'OPEN', accountId: rowAccount }, "the account's open findings");
    expect(ofAccount.complianceFindings.totalCount).toBeLessThan(open.complianceFindings.totalCount);
    expect(new URL(page.url()).searchParams.get('account')).toBe(rowAccount);
    await page.locator(`[data-account-filter="${rowAccount}"]`).waitFor();
    await page.getByRole('button', { name: 'Every account' }).click();
    await shown({ status: 'OPEN' }, 'every open finding again');

    // By period: the days chosen are whole days (the last one included), as the API's from/to bounds.
    const starts = open.complianceFindings.edges.map((e) => e.node.periodStart.slice(0, 10)).sort();
    // From the first start to the median one: the findings that start later fall outside.
    const fromDay = starts[0]!;
    const toDay = starts[Math.floor(starts.length / 2)]!;
    await page.locator('input[name="from"]').fill(fromDay);
    await page.locator('input[name="to"]').fill(toDay);
    const inPeriod = await shown(
      { status: 'OPEN', from: `${fromDay}T00:00:00.000Z`, to: new Date(Date.parse(`${toDay}T00:00:00.000Z`) + 86_400_000).toISOString() },
      'the open findings of the period',
    );
    expect(inPeriod.complianceFindings.totalCount).toBeGreaterThan(0);
    expect(inPeriod.complianceFindings.totalCount).toBeLessThan(open.complianceFindings.totalCount);
    expect(new URL(page.url()).search).toBe(`?status=OPEN&from=${fromDay}&to=${toDay}`);

    // By entitlement: "only these" beside a row's entitlement, cleared with "Every entitlement".
    await load(page, '/console/compliance', 'compliance');
    const entRow = page.locator('[data-finding-id]').filter({ has: page.locator('[data-filter="entitlement"]') }).first();
    const entRowId = (await entRow.getAttribute('data-finding-id'))!;
    const entitlementId = (await findings({ status: 'OPEN' })).complianceFindings.edges.find((e) => e.node.id === entRowId)!.node.entitlementId!;
    await entRow.locator('[data-filter="entitlement"]').click();
    await shown({ status: 'OPEN', entitlementId }, "the entitlement's open findings");
    expect(new URL(page.url()).searchParams.get('entitlement')).toBe(entitlementId);
    await page.getByRole('button', { name: 'Every entitlement' }).click();
    await shown({ status: 'OPEN' }, 'every open finding again');
    // By feature key: a finding about one feature (unentitled use of it) is the only one shown.
    await hub.ds.query(
      `INSERT INTO compliance_finding (kind, account_id, feature_key, period_start, unit, used, over, leakage_minor, currency)
       SELECT 'UNENTITLED_USE', id, 'console.export', date_trunc('month', now()), 'calls', 40, 40, 0, 'USD' FROM account ORDER BY id LIMIT 1`,
    );
    await page.getByLabel('Feature').fill('console.export');
    await page.getByLabel('Feature').press('Enter');
    const ofFeature = await shown({ status: 'OPEN', featureKey: 'console.export' }, 'the findings of the feature');
    expect(ofFeature.complianceFindings.totalCount).toBe(1);
    expect(new URL(page.url()).searchParams.get('feature')).toBe('console.export');

    // The customer page links to every finding of that customer, whatever their status.
    await load(page, `/console/customers/${rowAccount}`, 'customer');
    await page.getByRole('link', { name: 'every finding of this customer' }).click();
    await shown({ accountId: rowAccount }, 'every finding of the customer');
    await page.close();
  }, 90_000);

  it('Finance shows the revenue waterfall and totals the API answers, closes a period, downloads the CSV exports', async () => {
    const page = await newPage();
    await signIn(page, hub.adminKey);
    const ym = (delta: number) => {
      const now = new Date();
      return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + delta, 1)).toISOString().slice(0, 7);
    };
    const vars = { from: ym(-11), to: ym(12) };
    const { revenueSchedule: s } = await hub.ok<{ revenueSchedule: { totals: { currency: string; recognised: Money }[]; obligations: { lines: { month: string; amount: Money }[] }[] } }>(
      'query($from: String!, $to: String!) { revenueSchedule(filter: { from: $from, to: $to }) { totals { currency recognised { amountMinor currency } } obligations { lines { month amount { amountMinor currency } } } } }',
      vars,
    );
    expect(s.totals.length).toBeGreaterThan(0);
    timings.finance = await load(page, '/console/finance', 'finance');
    for (const t of s.totals) await expect(page.locator(`[data-total="${t.currency}"] [data-recognised]`).textContent()).resolves.toBe(fmt(t.recognised));
    const perMonth = new Map<string, bigint>();
    const cur = s.totals[0]!.currency;
    for (const o of s.obligations) for (const l of o.lines) if (l.amount.currency === cur) perMonth.set(l.month, (perMonth.get(l.month) ?? 0n) + BigInt(l.amount.amountMinor));
    expect(perMonth.size).toBeGreaterThan(0);
    for (const [m, v] of perMonth) await expect(page.locator(`[data-month="${m}"] [data-amount="${cur}"]`).textContent()).resolves.toBe(fmt({ amountMinor: v.toString(), currency: cur }));
    expect(await page.locator('[data-section="waterfall"] [data-chart] canvas').count()).toBe(1);
    expect(await page.locator('a[data-graphiql]').getAttribute('href')).toMatch(/^\/graphql#query=query\+ConsoleFinance/);

    // Close the previous month: the API's periods say so, and so does the page.
    await page.getByLabel('Month to close (YYYY-MM)').fill(ym(-1));
    await page.locator('[data-action="close-period"]').click();
    await page.locator(`[data-closed-through="${ym(-1)}"]`).waitFor();
    const { revenuePeriods } = await hub.ok<{ revenuePeriods: { month: string }[] }>('{ revenuePeriods { month } }');
    expect(revenuePeriods.at(-1)!.month).toBe(ym(-1));

    // The exports: fetched with the key (a plain link would carry none) and saved as files.
    for (const name of ['revenue-waterfall', 'journal-entries']) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.locator(`[data-export="${name}"]`).click()]);
      expect(download.suggestedFilename()).toBe(`${name}-${vars.from}-${vars.to}.csv`);
      const file = await download.path();
      const text = fs.readFileSync(file, 'utf8');
      expect(text.split('\n').length).toBeGreaterThan(1);
    }
    await axe(page, 'finance');
    await page.screenshot({ path: path.join(SHOTS, 'finance.png'), fullPage: true });
    await page.close();
  }, 60_000);

  it('offers each role the Compliance and Finance actions its API rules allow', async () => {
    // FINANCE: reads findings (no status buttons: the mutation is ADMIN, OPERATIONS), closes periods.
    const page = await newPage();
    await signIn(page, await hub.createKey(Role.FINANCE));
    await load(page, '/console/compliance', 'compliance');
    expect(await page.locator('[data-finding-id]').count()).toBeGreaterThan(0);
    expect(await page.locator('[data-action]').count()).toBe(0);
    await load(page, '/console/finance', 'finance');
    expect(await page.locator('[data-action="close-period"]').count()).toBe(1);
    await page.getByRole('button', { name: 'Sign out' }).click();
    // OPERATIONS: acts on findings; Finance is neither offered nor readable.
    await signIn(page, await hub.createKey(Role.OPERATIONS));
    expect(await page.getByRole('link', { name: 'Finance' }).count()).toBe(0);
    await load(page, '/console/compliance', 'compliance');
    expect(await page.locator('[data-action="resolve"]').count()).toBeGreaterThan(0);
    await page.goto(`${hub.url}/console/finance`);
    await page.locator('[data-error-code]').waitFor();
    expect(await page.locator('[data-error-code]').getAttribute('data-error-code')).toBe('FORBIDDEN');
    expect(await page.locator('[data-action]').count()).toBe(0);
    await page.close();
  }, 60_000);

  it('offers a READONLY key no action and no analytics it may not read', async () => {
    const page = await newPage();
    await signIn(page, await hub.createKey(Role.READONLY));
    await page.locator('[data-loaded="customers"]').waitFor();
    expect(await page.getByRole('link', { name: 'Overview' }).count()).toBe(0);
    expect(await page.locator('[data-customer]').count()).toBe(accounts.length);
    expect(await page.locator('[data-action]').count()).toBe(0);
    await axe(page, 'customers (READONLY)');
    await page.goto(`${hub.url}/console/customers/${accounts[0]!.id}`);
    await page.locator('[data-error-code]').waitFor();
    expect(await page.locator('[data-error-code]').getAttribute('data-error-code')).toBe('FORBIDDEN');
    expect(await page.locator('[data-action]').count()).toBe(0);
    await axe(page, 'customer 360 refused');
    // Compliance and Finance: not in the menu; opened by address, the API refuses and no action is offered.
    expect(await page.getByRole('link', { name: 'Compliance' }).count()).toBe(0);
    expect(await page.getByRole('link', { name: 'Finance' }).count()).toBe(0);
    for (const p of ['compliance', 'finance']) {
      await page.goto(`${hub.url}/console/${p}`);
      await page.locator('[data-error-code]').waitFor();
      expect(await page.locator('[data-error-code]').getAttribute('data-error-code')).toBe('FORBIDDEN');
      expect(await page.locator('[data-action]').count()).toBe(0);
      await axe(page, `${p} (READONLY)`);
    }
    await page.close();
  }, 60_000);

  it('keeps an account-scoped key to its account: the list shows it alone, another account is refused by the page and the API', async () => {
    const [own, other] = accounts;
    const key = await hub.createKey(Role.ANALYST, own!.id);
    const page = await newPage();
    await signIn(page, key);
    await page.locator('[data-loaded="overview"]').waitFor();
    await expect(page.locator('[data-figure="accounts"]').textContent()).resolves.toBe('1');
    await open(page, 'Customers', 'customers');
    expect(await page.locator('[data-customer]').count()).toBe(1);
    expect(await page.locator(`[data-customer="${own!.id}"]`).count()).toBe(1);
    expect(await page.locator('[data-action]').count()).toBe(0);
    await load(page, `/console/customers/${own!.id}`, 'customer');
    await page.goto(`${hub.url}/console/customers/${other!.id}`);
    await page.locator('[data-error-code]').waitFor();
    expect(await page.locator('[data-error-code]').getAttribute('data-error-code')).toBe('NOT_FOUND');
    await expect(page.locator('[data-loaded="customer"]').count()).resolves.toBe(0);
    const api = await hub.gql('query($id: ID!) { customer360(account: $id) { account { name } } }', { id: other!.id }, key);
    expect(api.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    await page.close();
  }, 60_000);

  it('opens a page\'s query in GraphiQL with its variables', async () => {
    const page = await newPage();
    await signIn(page, hub.adminKey);
    await load(page, `/console/customers/${accounts[1]!.id}`, 'customer');
    const href = (await page.locator('a[data-graphiql]').getAttribute('href'))!;
    expect(href).toMatch(/^\/graphql#query=/);
    await page.goto(`${hub.url}${href}`);
    // GraphiQL keeps its own key (localStorage); the console's stays in sessionStorage.
    await page.locator('#ehub-key-input').fill(hub.adminKey);
    await page.getByRole('button', { name: 'Open GraphiQL' }).click();
    await page.locator('.graphiql-query-editor').getByText('ConsoleCustomer360').first().waitFor({ timeout: 15_000 });
    // The variables sit in the (collapsed) variables editor.
    await page.locator('.cm-string', { hasText: accounts[1]!.id }).first().waitFor({ state: 'attached' });
    await page.evaluate('localStorage.clear()');
    await page.close();
  }, 60_000);

  it('made no request to any host but the hub, and the browser reported no policy refusal or script error', () => {
    expect(refused).toEqual([]);
    expect(complaints).toEqual([]);
  });
});

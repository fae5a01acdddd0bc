import path from 'node:path';
import pino from 'pino';
import { systemContext } from '../../src/common/context';
import { generateBook } from '../../src/churn/book-generator';
import { SHOTS, startConsoleHarness, type ConsoleHarness } from '../support/console-harness';
import type { TestHub } from '../support/test-hub';

/**
 * The console's polish slice (issue 16) in headless Chromium: the Customers page's ARR and
 * utilisation filters (customerList, filtered on the server) give exactly the accounts the
 * API answers, paging through customers, and Compliance pages beyond the first 100 findings.
 */

interface Money {
  amountMinor: string;
  currency: string;
}

describe('web console: customer filters and paging (headless Chromium)', () => {
  let h: ConsoleHarness;
  let hub: TestHub;

  beforeAll(async () => {
    h = await startConsoleHarness();
    hub = h.hub;
    const ctx = systemContext(pino({ level: 'silent' }), 'test:console-polish');
    await generateBook(hub.services, ctx, { accounts: 60, years: 2, seed: 16 });
    // 130 open overuse findings (the compliance job writes these): two pages of 100.
    await hub.ds.query(
      `INSERT INTO compliance_finding (kind, account_id, entitlement_id, feature_key, period_start, unit, used, entitled, over, leakage_minor, currency)
       SELECT 'OVERUSE', e.account_id, e.id, 'f.' || g, date_trunc('month', now())::date - g, 'seats', 10, 5, 5, 100 * g, 'USD'
         FROM (SELECT id, account_id FROM entitlement ORDER BY id LIMIT 1) e, generate_series(1, 130) g`,
    );
    await hub.services.health.recomputeAll(ctx);
  }, 240_000);

  afterAll(async () => h?.close(), 120_000);

  const customersShown = async (page: Awaited<ReturnType<ConsoleHarness['newPage']>>) =>
    page.locator('[data-loaded="customers"] [data-customer]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-customer')));

  it('ARR and utilisation filters show exactly the accounts customerList answers; customers page by 50', async () => {
    const page = await h.newPage();
    await h.signIn(page, hub.adminKey);
    h.timings.customers = await h.open(page, 'Customers', 'customers');
    const all = await hub.ok<{ customerList: { totalCount: number; edges: { node: { id: string; arr: Money[]; utilizationPercent: number | null } }[] } }>(
      '{ customerList(first: 500) { totalCount edges { node { id arr { amountMinor currency } utilizationPercent } } } }',
    );
    expect(all.customerList.totalCount).toBe(60);
    // Page 1 holds 50, page 2 the other 10.
    await expect(page.locator('[data-loaded="customers"] [data-total]').getAttribute('data-total')).resolves.toBe('60');
    expect(await customersShown(page)).toEqual(all.customerList.edges.slice(0, 50).map((e) => e.node.id));
    await page.getByRole('button', { name: 'Next page' }).click();
    await h.until(async () => (await page.locator('[data-customer]').count()) === 10, 'customers page 2');
    expect(await customersShown(page)).toEqual(all.customerList.edges.slice(50).map((e) => e.node.id));
    await h.axe(page, 'customers page 2');
    await page.getByRole('button', { name: 'Previous page' }).click();
    await h.until(async () => (await page.locator('[data-customer]').count()) === 50, 'customers page 1 again');

    // Thresholds from the book: the median ARR (USD) and 50 % utilisation.
    const usd = all.customerList.edges.map((e) => BigInt(e.node.arr.find((m) => m.currency === 'USD')?.amountMinor ?? '0')).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const median = usd[Math.floor(usd.length / 2)]!;
    const minMajor = (median / 100n).toString();
    const expected = await hub.ok<{ customerList: { totalCount: number; edges: { node: { id: string } }[] } }>(
      'query($f: CustomerListFilterInput) { customerList(filter: $f, first: 500) { totalCount edges { node { id } } } }',
      { f: { arrCurrency: 'USD', arrMin: (BigInt(minMajor) * 100n).toString(), utilizationMax: 50 } },
    );
    expect(expected.customerList.totalCount).toBeGreaterThan(0);
    expect(expected.customerList.totalCount).toBeLessThan(60);
    // The API's answer agrees with the figures it gives per account.
    const byHand = all.customerList.edges
      .filter((e) => BigInt(e.node.arr.find((m) => m.currency === 'USD')?.amountMinor ?? '0') >= BigInt(minMajor) * 100n && e.node.utilizationPercent !== null && e.node.utilizationPercent <= 50)
      .map((e) => e.node.id);
    expect(expected.customerList.edges.map((e) => e.node.id)).toEqual(byHand);

    await page.getByLabel('ARR from').fill(minMajor);
    await page.getByLabel('Utilisation to (%)').fill('50');
    await page.getByRole('button', { name: 'Search' }).click();
    await h.until(async () => (await page.locator('[data-loaded="customers"] [data-total]').getAttribute('data-total').catch(() => null)) === String(expected.customerList.totalCount), 'filtered customers');
    expect(await customersShown(page)).toEqual(expected.customerList.edges.map((e) => e.node.id).slice(0, 50));
    for (const u of await page.locator('[data-customer] [data-utilization]').evaluateAll((cells) => cells.map((c) => Number(c.getAttribute('data-utilization'))))) expect(u).toBeLessThanOrEqual(50);
    await h.axe(page, 'customers filtered');
    await page.screenshot({ path: path.join(SHOTS, 'customers-filtered.png'), fullPage: true });

    // A bad amount is refused in the form, with no request.
    await page.getByLabel('ARR to').fill('lots');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect(page.locator('[data-form-error]').textContent()).resolves.toMatch(/ARR to/);
    await page.close();
  });

  it('Compliance pages beyond the first 100 findings, keeping the totals', async () => {
    const page = await h.newPage();
    await h.signIn(page, hub.adminKey);
    const api = await hub.ok<{ complianceFindings: { totalCount: number; leakageTotals: Money[]; pageInfo: { endCursor: string } } }>(
      '{ complianceFindings(filter: { status: OPEN }, first: 100) { totalCount leakageTotals { amountMinor currency } pageInfo { endCursor } } }',
    );
    const second = await hub.ok<{ complianceFindings: { edges: { node: { id: string } }[] } }>(
      'query($a: String) { complianceFindings(filter: { status: OPEN }, first: 100, after: $a) { edges { node { id } } } }',
      { a: api.complianceFindings.pageInfo.endCursor },
    );
    expect(api.complianceFindings.totalCount).toBeGreaterThan(100);
    h.timings.compliance = await h.load(page, '/console/compliance', 'compliance');
    const figures = async () => [await page.locator('[data-figure="findings"]').textContent(), await page.locator('[data-figure="leakage"]').textContent()];
    const first = await figures();
    expect(first[0]).toBe(String(api.complianceFindings.totalCount));
    expect(await page.locator('[data-finding-id]').count()).toBe(100);
    await page.getByRole('button', { name: 'Next page' }).click();
    const want = second.complianceFindings.edges.map((e) => e.node.id);
    await h.until(async () => (await page.locator('[data-finding-id]').count()) === want.length, 'findings page 2');
    expect(await page.locator('[data-finding-id]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-finding-id')))).toEqual(want);
    await expect(page.locator('[data-showing]').textContent()).resolves.toContain(`101–${100 + want.length} of ${api.complianceFindings.totalCount}`);
    expect(await figures()).toEqual(first);
    expect(await page.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);
    await h.axe(page, 'compliance page 2');
    await page.screenshot({ path: path.join(SHOTS, 'compliance-page-2.png'), fullPage: true });
    await page.getByRole('button', { name: 'Previous page' }).click();
    await h.until(async () => (await page.locator('[data-finding-id]').count()) === 100, 'findings page 1 again');
    await page.close();
  });
});

import path from 'node:path';
import pino from 'pino';
import type { Page } from 'playwright-core';
import { Role } from '../../src/auth/role';
import { systemContext } from '../../src/common/context';
import { generateBook } from '../../src/churn/book-generator';
import { seedAdoptionDemo } from '../../src/cli/demo-adoption';
import { SHOTS, startConsoleHarness, type ConsoleHarness } from '../support/console-harness';
import type { TestHub } from '../support/test-hub';

/**
 * The console's Adoption page (docs/console.md) in a real headless Chromium against a real hub
 * on a generated book: each feature's adoption in the window against the previous one, the
 * deployment mix and the shelfware, exactly as `adoption` and `unusedEntitlements` answer them;
 * READONLY is refused (no menu entry, FORBIDDEN by address, by the API too); an account-scoped
 * key sees its own account's figures only.
 */

interface Feature {
  featureKey: string;
  entitledAccounts: number;
  usingAccounts: number;
  sharePercent: number | null;
  shareDelta: number | null;
}
interface AdoptionAnswer {
  adoption: { features: Feature[] };
  unusedEntitlements: { totalCount: number; edges: { node: { id: string; account: { id: string } } }[] };
}

const DAY = 86_400_000;
/** The page's window: the last `days` days up to the start of tomorrow (UTC). */
function windowOf(days: number): { from: string; to: string } {
  const now = new Date();
  const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
  return { from: new Date(to.getTime() - days * DAY).toISOString(), to: to.toISOString() };
}
const Q = `query($p: ID!, $from: DateTimeISO!, $to: DateTimeISO!, $days: Int!) {
  adoption(productId: $p, from: $from, to: $to) { features { featureKey entitledAccounts usingAccounts sharePercent shareDelta } }
  unusedEntitlements(days: $days, threshold: 0.1, first: 25) { totalCount edges { node { id account { id } } } }
}`;

describe('console: Adoption page (headless Chromium)', () => {
  let h: ConsoleHarness;
  let hub: TestHub;
  let products: { id: string; sku: string }[] = [];
  /** The product whose features the book's customers use most. */
  let best: { id: string; sku: string };

  const answer = (productId: string, days: number, key?: string) => hub.ok<AdoptionAnswer>(Q, { p: productId, ...windowOf(days), days }, key);

  async function rendered(page: Page) {
    return page.locator('[data-feature]').evaluateAll((rows) =>
      rows.map((r) => ({ featureKey: r.getAttribute('data-feature'), using: Number(r.querySelector('[data-using]')!.textContent) })),
    );
  }

  beforeAll(async () => {
    h = await startConsoleHarness();
    hub = h.hub;
    const ctx = systemContext(pino({ level: 'silent' }), 'test:console-adoption');
    await generateBook(hub.services, ctx, { accounts: 24, years: 2, seed: 16 });
    // The bundle sold to a dozen of them, with named users and their roles (as `ehub demo --book` does).
    await seedAdoptionDemo(hub.services, ctx);
    products = (await hub.ok<{ products: { edges: { node: { id: string; sku: string } }[] } }>('{ products(first: 200, status: ACTIVE) { edges { node { id sku } } } }')).products.edges.map((e) => e.node);
    let most = -1;
    for (const p of products) {
      const using = (await answer(p.id, 90)).adoption.features.reduce((s, f) => s + f.usingAccounts, 0);
      if (using > most) [most, best] = [using, p];
    }
    expect(most).toBeGreaterThan(0);
  }, 180_000);
  afterAll(async () => h?.close(), 120_000);

  it('shows each feature\'s adoption, its change and the shelfware the API answers; another product and window ask again', async () => {
    const page = await h.newPage();
    await h.signIn(page, hub.adminKey);
    h.timings.adoption = await h.open(page, 'Adoption', 'adoption');
    // The first product is shown first; choose the best used one.
    await page.locator('select[name="product"]').selectOption(best.id);
    const a = await answer(best.id, 90);
    await h.until(async () => (await page.locator('[data-loaded="adoption"] [data-feature]').count()) === a.adoption.features.length && (await rendered(page)).every((r) => a.adoption.features.some((f) => f.featureKey === r.featureKey)), 'the product\'s features');
    const rows = await rendered(page);
    expect(rows.map((r) => r.featureKey).sort()).toEqual(a.adoption.features.map((f) => f.featureKey).sort());
    for (const f of a.adoption.features) {
      expect(rows.find((r) => r.featureKey === f.featureKey)!.using).toBe(f.usingAccounts);
      const row = page.locator(`[data-feature="${f.featureKey}"]`);
      if (f.sharePercent !== null) await expect(row.locator('[data-share]').textContent()).resolves.toContain(`${f.sharePercent.toFixed(1)} %`);
      if (f.shareDelta !== null) await expect(row.locator('[data-delta]').textContent()).resolves.toBe(`${f.shareDelta > 0 ? '+' : ''}${f.shareDelta.toFixed(1)}`);
    }
    // Largest adoption first.
    const shares = a.adoption.features.map((f) => f.sharePercent ?? -1).sort((x, y) => y - x);
    expect(rows.map((r) => a.adoption.features.find((f) => f.featureKey === r.featureKey)!.sharePercent ?? -1)).toEqual(shares);
    expect(await page.locator('[data-shelfware]').count()).toBe(a.unusedEntitlements.edges.length);
    expect(await page.locator('[data-shelfware]').evaluateAll((r) => r.map((x) => x.getAttribute('data-shelfware')))).toEqual(a.unusedEntitlements.edges.map((e) => e.node.id));
    await expect(page.getByRole('status').first().textContent()).resolves.toMatch(new RegExp(`^${a.unusedEntitlements.totalCount} entitlements? over`));
    expect(await page.locator('[data-chart] canvas').count()).toBeGreaterThanOrEqual(1);
    expect(await page.locator('a[data-graphiql="ConsoleAdoption"]').getAttribute('href')).toMatch(/^\/graphql#query=query\+ConsoleAdoption/);
    expect(await page.locator('a[data-graphiql="ConsolePersonas"]').getAttribute('href')).toMatch(/^\/graphql#query=query\+ConsolePersonas/);
    await h.axe(page, 'adoption');
    await page.screenshot({ path: path.join(SHOTS, 'adoption.png'), fullPage: true });

    // A year's window: the API's figures for it.
    const year = await answer(best.id, 365);
    await page.locator('select[name="days"]').selectOption('365');
    // The year's answer rendered, not the 30 days' one still on screen nor the "Loading…" between
    // them (their figures may be the same): its shelfware line names the new window.
    const yearStatus = new RegExp(`^${year.unusedEntitlements.totalCount} entitlements? over the last 365 days`);
    await h.until(async () => {
      const r = await rendered(page);
      return (
        (await page.locator('[data-loaded="adoption"]').count()) === 1 &&
        yearStatus.test((await page.getByRole('status').first().textContent()) ?? '') &&
        year.adoption.features.every((f) => r.find((x) => x.featureKey === f.featureKey)?.using === f.usingAccounts)
      );
    }, 'the year\'s figures');
    await expect(page.getByRole('status').first().textContent()).resolves.toMatch(yearStatus);
    await page.close();
  }, 120_000);

  it('shows the bundle\'s packaging insight and its personas as the API answers them; another grouping asks again', async () => {
    const suite = products.find((p) => p.sku === 'SUITE-ENT')!;
    const win = windowOf(90);
    const P = `query($p: ID!, $from: DateTimeISO!, $to: DateTimeISO!) { packagingInsight(productId: $p, from: $from, to: $to) {
      holders features { featureKey verdict usingAccounts entitledAccounts } addOnCandidates { featureKey reason accounts } } }`;
    const U = `query($g: PersonaAttribute!, $prop: String, $p: ID!, $from: DateTimeISO!, $to: DateTimeISO!) {
      usagePersonas(groupBy: $g, property: $prop, productId: $p, from: $from, to: $to, first: 12) { totalUsers groups { value users } } }`;
    interface Pk { packagingInsight: { holders: number; features: { featureKey: string; verdict: string }[]; addOnCandidates: { featureKey: string; reason: string; accounts: number }[] } }
    interface Pe { usagePersonas: { totalUsers: number; groups: { value: string | null; users: number }[] } }
    const pk = (await hub.ok<Pk>(P, { p: suite.id, ...win })).packagingInsight;
    // The sample makes every verdict and both kinds of add-on candidate.
    expect(pk.holders).toBe(12);
    expect(new Set(pk.features.map((f) => f.verdict))).toEqual(new Set(['USED', 'RARELY_USED', 'NOT_MEASURED']));
    expect(pk.addOnCandidates.map((c) => [c.featureKey, c.reason, c.accounts])).toEqual([
      ['api.access', 'NOT_INCLUDED', 3],
      ['analytics.dashboards', 'OVER_LIMIT', 1],
    ]);
    const byRole = (await hub.ok<Pe>(U, { g: 'EVENT_PROPERTY', prop: 'role', p: suite.id, ...win })).usagePersonas;
    expect(byRole.groups.length).toBeGreaterThanOrEqual(4);

    const page = await h.newPage();
    await h.signIn(page, hub.adminKey);
    await h.load(page, '/console/adoption?product=SUITE-ENT', 'adoption');
    await page.locator('[data-loaded="personas"]').waitFor();
    const packaged = await page.locator('[data-packaged]').evaluateAll((r) => r.map((x) => [x.getAttribute('data-packaged'), x.getAttribute('data-verdict')]));
    expect(packaged).toEqual(pk.features.map((f) => [f.featureKey, f.verdict]));
    const addons = await page.locator('[data-addon]').evaluateAll((r) => r.map((x) => [x.getAttribute('data-addon'), x.getAttribute('data-reason'), parseInt(x.querySelector('[data-accounts]')!.textContent!, 10)]));
    expect(addons).toEqual(pk.addOnCandidates.map((c) => [c.featureKey, c.reason, c.accounts]));
    const personas = async () => page.locator('[data-persona]').evaluateAll((r) => r.map((x) => [x.getAttribute('data-persona') || null, parseInt(x.querySelector('[data-users]')!.textContent!, 10)]));
    expect(await personas()).toEqual(byRole.groups.map((g) => [g.value, g.users]));
    await h.axe(page, 'adoption (packaging, personas)');
    await page.locator('#h-packaging').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(SHOTS, 'adoption-packaging.png'), fullPage: true });

    const byTitle = (await hub.ok<Pe>(U, { g: 'CONTACT_TITLE', p: suite.id, ...win })).usagePersonas;
    expect(byTitle.groups.some((g) => g.value === 'Data Analyst')).toBe(true);
    await page.locator('select[name="persona"]').selectOption('title');
    await h.until(async () => JSON.stringify(await personas()) === JSON.stringify(byTitle.groups.map((g) => [g.value, g.users])), 'the personas by contact title');
    await page.close();
  }, 120_000);

  it('refuses READONLY: no menu entry, FORBIDDEN by address, and the API refuses it too', async () => {
    const key = await hub.createKey(Role.READONLY);
    const page = await h.newPage();
    await h.signIn(page, key);
    expect(await page.getByRole('link', { name: 'Adoption' }).count()).toBe(0);
    await page.goto(`${hub.url}/console/adoption`);
    await page.locator('[data-error-code]').first().waitFor();
    expect(await page.locator('[data-error-code]').first().getAttribute('data-error-code')).toBe('FORBIDDEN');
    expect(await page.locator('[data-loaded="adoption"]').count()).toBe(0);
    const r = await hub.gql(Q, { p: best.id, ...windowOf(90), days: 90 }, key);
    expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    await page.close();
  }, 60_000);

  it('shows an account-scoped key its own account\'s adoption and shelfware only', async () => {
    const scoped = await answer(best.id, 365);
    // An account with shelfware, else the first one of the book.
    const accountId = scoped.unusedEntitlements.edges[0]?.node.account.id ?? (await hub.ok<{ accounts: { edges: { node: { id: string } }[] } }>('{ accounts(first: 1) { edges { node { id } } } }')).accounts.edges[0]!.node.id;
    const key = await hub.createKey(Role.ANALYST, accountId);
    const own = await answer(best.id, 90, key);
    for (const f of own.adoption.features) expect(f.entitledAccounts).toBeLessThanOrEqual(1);
    expect(own.unusedEntitlements.edges.every((e) => e.node.account.id === accountId)).toBe(true);
    const page = await h.newPage();
    await h.signIn(page, key);
    await h.load(page, `/console/adoption?product=${encodeURIComponent(best.sku)}`, 'adoption');
    const rows = await rendered(page);
    expect(rows.map((r) => r.featureKey).sort()).toEqual(own.adoption.features.map((f) => f.featureKey).sort());
    for (const f of own.adoption.features) expect(rows.find((r) => r.featureKey === f.featureKey)!.using).toBe(f.usingAccounts);
    expect(await page.locator('[data-shelfware]').evaluateAll((r) => r.map((x) => x.getAttribute('data-shelfware')))).toEqual(own.unusedEntitlements.edges.map((e) => e.node.id));
    await page.close();
  }, 60_000);

  it('made no request to any host but the hub, and the browser reported no policy refusal or script error', () => {
    expect(h.refused).toEqual([]);
    expect(h.complaints).toEqual([]);
  });
});

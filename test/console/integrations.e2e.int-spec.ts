import { createSalesforceConnection, dropProxyEnv, runSync, startEmulator } from '../support/salesforce';
dropProxyEnv();
import path from 'node:path';
import pino from 'pino';
import type { Page } from 'playwright-core';
import type { SalesforceEmulator } from '../../connectors/salesforce/emulator/types';
import { Role } from '../../src/auth/role';
import { systemContext } from '../../src/common/context';
import { generateBook } from '../../src/churn/book-generator';
import { seedDeliveryDemo } from '../../src/cli/demo-delivery';
import { parse } from 'graphql';
import { buildHubSchema } from '../../src/server/schema';
import { operationCost } from '../../src/server/limits';
import { DELIVERY, DELIVERY_PRODUCTS, INTEGRATIONS, ROLLOUT } from '../../console/src/operations-integrations';
import { day } from '../support/orders';
import { SHOTS, startConsoleHarness, type ConsoleHarness } from '../support/console-harness';
import type { TestHub } from '../support/test-hub';
import { createEndpoint, deliveries, emit, Receiver, tickUntil } from '../webhooks/receiver';

/**
 * The console's Integrations and Delivery pages (docs/console.md) in a real headless Chromium
 * against a real hub: a Salesforce connection to the local emulator whose CRM refuses one
 * account's fields for good (a real dead letter with its reason), identity matches queued by
 * runIdentityMatching, and the book's gateway fleet with releases and a staged rollout (the
 * demo's own seedDeliveryDemo). Each page shows what the API answers; replay, confirm, reject
 * (with a reason) and halt/resume work; READONLY sees no action; an account-scoped key is refused.
 */

const silent = pino({ level: 'silent' });

interface Dead {
  id: string;
  status: string;
  lastErrorCode: string | null;
  lastError: string | null;
}
interface Match {
  id: string;
  status: string;
  accountA: { name: string };
  accountB: { name: string };
}

describe('console: Integrations and Delivery pages (headless Chromium)', () => {
  let h: ConsoleHarness;
  let hub: TestHub;
  let emu: SalesforceEmulator;
  let connectionId: string;
  let accounts: { id: string; name: string }[] = [];
  let rolloutRelease: string;
  let rx: Receiver;
  let webhookDead: string;

  let refusedSf: string;
  /** Pushes the outbox until nothing is waiting, while the CRM refuses one account's ARR (FIELD_CUSTOM_VALIDATION_EXCEPTION). */
  const pushRefusingOne = async () => {
    emu.faults.rejectRecord((sobject, fields) =>
      sobject === 'Account' && fields.Id === refusedSf && fields.Ehub_ARR__c !== null && fields.Ehub_ARR__c !== undefined
        ? { errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', message: 'ARR may only be set by finance', fields: ['Ehub_ARR__c'] }
        : null,
    );
    for (let i = 0; i < 20; i++) {
      await runSync(hub, connectionId, { push: true });
      const [open] = await hub.ds.query(`SELECT count(*)::int AS n FROM sync_outbox WHERE status IN ('PENDING','FAILED','IN_FLIGHT','SUBMITTED')`);
      if (open.n === 0) break;
      await hub.ds.query(`UPDATE sync_outbox SET next_attempt_at = now() WHERE status = 'FAILED'`);
    }
    emu.faults.clear();
  };
  const deadItems = async () =>
    (await hub.ok<{ outbox: { totalCount: number; edges: { node: Dead }[] } }>(`{ outbox(filter: { status: [DEAD] }, first: 50) { totalCount edges { node { id status lastErrorCode lastError } } } }`)).outbox;
  const pendingMatches = async () =>
    (await hub.ok<{ identityMatches: { totalCount: number; edges: { node: Match }[] } }>(`{ identityMatches(first: 100) { totalCount edges { node { id status accountA { name } accountB { name } } } } }`)).identityMatches;
  const errorCode = async (page: Page) => {
    await page.locator('[data-error-code]').first().waitFor();
    return page.locator('[data-error-code]').first().getAttribute('data-error-code');
  };

  beforeAll(async () => {
    h = await startConsoleHarness({
      EHUB_SYNC_BACKOFF_BASE_MS: '1',
      EHUB_SYNC_BACKOFF_MAX_MS: '5',
      EHUB_WEBHOOK_BACKOFF_BASE_MS: '20',
      EHUB_WEBHOOK_MAX_ATTEMPTS: '2',
      EHUB_WEBHOOK_TIMEOUT_MS: '1000',
    });
    hub = h.hub;
    const ctx = systemContext(silent, 'test:console-integrations');
    await generateBook(hub.services, ctx, { accounts: 12, years: 1, seed: 16 });

    // A Salesforce connection to the local emulator: three won deals pulled in as accounts and orders.
    emu = await startEmulator();
    const sfAccounts: string[] = [];
    for (let a = 0; a < 3; a++) {
      const sfAccount = emu.insert('Account', { Name: `Northwind Branch ${a}` });
      emu.seedDeal({ accountId: sfAccount, lines: [{ productCode: 'ANL-CLOUD', quantity: 5 + a, unitPrice: 500, serviceDate: day(-30), endDate: day(335) }] });
      sfAccounts.push(sfAccount);
    }
    connectionId = await createSalesforceConnection(hub, emu, { rateLimitBackoffMs: 1 }, { maxAttempts: 3 });
    await runSync(hub, connectionId);
    // The CRM refuses one account's synced fields for good (a validation rule): pushing dead-letters it with the reason.
    refusedSf = sfAccounts[1]!;
    await pushRefusingOne();

    // Identity: two ambiguous pairs in the review queue (same name in one country; same domain).
    for (const [name, domain, country] of [
      ['Initech Software', null, 'US'],
      ['Initech Software Inc', null, 'US'],
      ['Umbrella Pharma', 'umbrella-corp.com', null],
      ['Umbrella Labs', 'umbrella-corp.com', null],
    ] as const) {
      await hub.ok('mutation($i: UpsertAccountInput!) { upsertAccount(input: $i) { id } }', { i: { name, domain, country } });
    }
    await hub.ok('mutation { runIdentityMatching { queued } }');

    // A webhook receiver (on 127.0.0.1) that answers 500: its delivery goes DEAD after 2 attempts.
    rx = await Receiver.start();
    rx.answer = () => 500;
    const ep = await createEndpoint(hub, { url: `${rx.url}/down`, eventTypes: ['compliance.finding'] });
    await emit(hub, { type: 'compliance.finding', key: 'console:dead', accountId: null, payload: { kind: 'OVERUSE' } });
    await tickUntil(hub, async () => (await deliveries(hub, ep.id))[0]?.status === 'DEAD');
    webhookDead = (await deliveries(hub, ep.id))[0]!.id;
    rx.answer = () => 204;

    // Delivery: the demo's releases and staged rollout on the book's gateway fleet.
    const seeded = await seedDeliveryDemo(hub.services, ctx);
    rolloutRelease = seeded.releases[1]!;
    // Safe to run again (the demo may be): the same releases, no second rollout.
    expect(await seedDeliveryDemo(hub.services, ctx)).toEqual({ releases: seeded.releases, rolloutStarted: false });
    expect(seeded.rolloutStarted).toBe(true);
    // A gateway customer whose maintenance lapsed a month ago (restricted to releases from before): a renewal opportunity.
    const lapsed = (await hub.ok<{ upsertAccount: { id: string } }>('mutation { upsertAccount(input: { name: "Lapsed Gateways Ltd" }) { id } }')).upsertAccount.id;
    await hub.ok('mutation($i: OrderInput!) { submitOrder(input: $i) { id } }', {
      i: { source: 'console-test', externalId: 'LAPSED-GW', accountId: lapsed, orderDate: day(-400), currency: 'USD', lines: [{ lineNo: 1, sku: 'GW-100', quantity: 2, unitPrice: 100, startDate: day(-400), endDate: '2099-12-31' }] },
    });
    await hub.ds.query(
      `INSERT INTO entitlement_terms (entitlement_id, account_id, maintenance_end, after_expiry)
       SELECT e.id, e.account_id, current_date - 30, 'RESTRICT_TO_RELEASED' FROM entitlement e WHERE e.account_id = $1`,
      [lapsed],
    );
    await hub.ds.query(
      `INSERT INTO activation (entitlement_id, account_id, fingerprint, platform, activated_at, last_seen_at)
       SELECT e.id, e.account_id, 'lapsed-gw-' || g, 'linux', now(), now() FROM entitlement e, generate_series(1, 2) g WHERE e.account_id = $1`,
      [lapsed],
    );

    const list = await hub.ok<{ accounts: { edges: { node: { id: string; name: string } }[] } }>('{ accounts(first: 100) { edges { node { id name } } } }');
    accounts = list.accounts.edges.map((e) => e.node);
  }, 240_000);

  afterAll(async () => {
    await emu?.close();
    await rx?.stop();
    await h?.close();
  }, 120_000);

  it('Integrations: connections, runs, the dead letter with its reason and the review queue as the API answers; replay takes the item out of DEAD', async () => {
    const dead = await deadItems();
    expect(dead.totalCount).toBe(1);
    const item = dead.edges[0]!.node;
    expect(item).toMatchObject({ lastErrorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', lastError: expect.stringContaining('finance') });
    const api = await hub.ok<{
      syncConnections: { edges: { node: { id: string; name: string; deadLetters: number; lastRun: { status: string; kind: string; object: string } | null } }[] };
      syncRuns: { edges: { node: { id: string; status: string; kind: string } }[] };
      backlog: { totalCount: number };
    }>(`{ syncConnections(first: 20) { edges { node { id name deadLetters lastRun { status kind object } } } } syncRuns(first: 15) { edges { node { id status kind } } } backlog: outbox(filter: { status: [PENDING, IN_FLIGHT, SUBMITTED, FAILED] }, first: 1) { totalCount } }`);
    const queue = await pendingMatches();
    expect(queue.totalCount).toBeGreaterThanOrEqual(2);

    const page = await h.newPage();
    await h.signIn(page, hub.adminKey);
    h.timings.integrations = await h.open(page, 'Integrations', 'integrations');
    // Connections: each one, with its last run (the connection's newest run: its lastRun).
    expect(await page.locator('[data-connection-id]').count()).toBe(api.syncConnections.edges.length);
    const row = page.locator(`[data-connection-id="${connectionId}"]`);
    await expect(row.locator('td').first().textContent()).resolves.toBe('salesforce');
    const lastRun = api.syncRuns.edges.find(() => true)!.node;
    await expect(row.locator('[data-last-run]').textContent()).resolves.toContain(lastRun.status);
    for (const { node: c } of api.syncConnections.edges) {
      const cell = (await page.locator(`[data-connection-id="${c.id}"] [data-last-run]`).textContent()) ?? '';
      if (c.lastRun) expect(cell).toContain(`${c.lastRun.status} ${c.lastRun.kind.toLowerCase()} ${c.lastRun.object}`);
      else expect(cell).toBe('never ran');
    }
    // Its dead letters as the connection counts them (all of them, not only the 25 listed).
    expect(api.syncConnections.edges.find((e) => e.node.id === connectionId)!.node.deadLetters).toBe(1);
    await expect(row.locator('[data-dead-count]').textContent()).resolves.toBe('1');
    // Runs: the same runs, newest first, with their status; one PUSH run PARTIAL (the refused record).
    expect(await page.locator('[data-run-id]').evaluateAll((els) => els.map((e) => e.getAttribute('data-run-id')))).toEqual(api.syncRuns.edges.map((e) => e.node.id));
    expect(api.syncRuns.edges.some((e) => e.node.kind === 'PUSH' && e.node.status === 'PARTIAL')).toBe(true);
    expect(await page.locator('[data-run-id][data-status="PARTIAL"]').count()).toBe(api.syncRuns.edges.filter((e) => e.node.status === 'PARTIAL').length);
    // The dead letter with its reason, and the totals.
    await expect(page.locator('[data-figure="dead"]').textContent()).resolves.toBe('1');
    await expect(page.locator('[data-figure="backlog"]').textContent()).resolves.toBe(String(api.backlog.totalCount));
    const deadRow = page.locator(`[data-outbox-id="${item.id}"]`);
    await expect(deadRow.locator('[data-reason]').textContent()).resolves.toContain('FIELD_CUSTOM_VALIDATION_EXCEPTION');
    await expect(deadRow.locator('[data-reason]').textContent()).resolves.toContain('ARR may only be set by finance');
    // The review queue: every pending pair the API lists.
    await expect(page.locator('[data-figure="matches"]').textContent()).resolves.toBe(String(queue.totalCount));
    expect(await page.locator('[data-match-id]').count()).toBe(Math.min(queue.totalCount, 25));
    await h.axe(page, 'integrations');
    await page.screenshot({ path: path.join(SHOTS, 'integrations.png'), fullPage: true });

    // Replay: the item leaves DEAD, and the API says so.
    await deadRow.getByRole('button', { name: /Replay/ }).click();
    await page.locator('[data-action-message]').waitFor();
    await expect(page.locator('[data-action-message]').textContent()).resolves.toMatch(/queued again: PENDING/);
    await page.locator('[data-loaded="integrations"]').waitFor();
    await h.until(async () => (await page.locator(`[data-outbox-id="${item.id}"]`).count()) === 0, 'the replayed item to leave the dead letters');
    await expect(page.locator('[data-figure="dead"]').textContent()).resolves.toBe('0');
    const after = await hub.ok<{ outbox: { edges: { node: { id: string; status: string; attempts: number } }[] } }>(
      `{ outbox(filter: { status: [PENDING, FAILED, DEAD, DONE] }, first: 100) { edges { node { id status attempts } } } }`,
    );
    expect(after.outbox.edges.find((e) => e.node.id === item.id)!.node).toMatchObject({ status: 'PENDING', attempts: 0 });
    expect((await deadItems()).totalCount).toBe(0);
    // Audited as the admin's act.
    const audit = await hub.ok<{ auditLog: { edges: { node: { operation: string } }[] } }>('{ auditLog(first: 500) { edges { node { operation } } } }');
    expect(audit.auditLog.edges.filter((e) => e.node.operation === 'replayOutboxItem')).toHaveLength(1);

    // Refused again on the next push: DEAD again; "Replay all dead" of the connection replays it (replayDeadOutboxItems).
    await pushRefusingOne();
    expect((await deadItems()).totalCount).toBe(1);
    await h.load(page, '/console/integrations', 'integrations');
    await page.getByRole('button', { name: 'Replay all dead letters of salesforce' }).click();
    await h.until(async () => /1 dead letter\(s\) of salesforce queued again/.test((await page.locator('[data-action-message]').textContent().catch(() => '')) ?? ''), 'the replay-all message');
    await page.locator('[data-loaded="integrations"]').waitFor();
    expect((await deadItems()).totalCount).toBe(0);
    await expect(page.locator('[data-figure="dead"]').textContent()).resolves.toBe('0');

    // The dead webhook delivery with its reason; replay queues it again (ADMIN).
    const wh = page.locator(`[data-webhook-delivery-id="${webhookDead}"]`);
    await expect(wh.textContent()).resolves.toContain('HTTP 500');
    await wh.getByRole('button', { name: /Replay/ }).click();
    await h.until(async () => (await page.locator(`[data-webhook-delivery-id="${webhookDead}"]`).count()) === 0, 'the replayed delivery to leave the dead list');
    const replayed = await hub.ok<{ webhookDelivery: { status: string; replays: number } }>(`query($id: ID!) { webhookDelivery(id: $id) { status replays } }`, { id: webhookDead });
    expect(replayed.webhookDelivery.status).not.toBe('DEAD');
    expect(replayed.webhookDelivery.replays).toBe(1);
    await page.close();
  }, 90_000);

  it('Integrations: confirm merges a pending pair; reject needs a reason and then records it', async () => {
    const page = await h.newPage();
    await h.signIn(page, await hub.createKey(Role.OPERATIONS));
    await h.load(page, '/console/integrations', 'integrations');
    // OPERATIONS reads the outbox but does not replay (ADMIN only); it decides matches.
    expect(await page.locator('[data-action="replay"], [data-action="replay-all"]').count()).toBe(0);
    const queue = await pendingMatches();
    const initech = queue.edges.find((e) => e.node.accountA.name.startsWith('Initech') && e.node.accountB.name.startsWith('Initech'))!.node;
    const umbrella = queue.edges.find((e) => e.node.accountA.name.startsWith('Umbrella') && e.node.accountB.name.startsWith('Umbrella'))!.node;

    // Reject without a reason: refused by the page, nothing changes.
    await page.locator(`[data-match-id="${umbrella.id}"] [data-action="reject"]`).click();
    await expect(page.locator('[data-action-message]').textContent()).resolves.toMatch(/needs a reason/);
    expect((await pendingMatches()).edges.some((e) => e.node.id === umbrella.id)).toBe(true);
    // The API refuses it too (the argument is required).
    const noReason = await hub.gql(`mutation($id: ID!) { rejectMatch(id: $id) { id } }`, { id: umbrella.id });
    expect(noReason.errors?.length).toBeGreaterThan(0);
    // With a reason: REJECTED with it.
    await page.getByLabel(`Reason for deciding ${umbrella.accountA.name} and ${umbrella.accountB.name}`).fill('different subsidiaries');
    await page.locator(`[data-match-id="${umbrella.id}"] [data-action="reject"]`).click();
    await h.until(async () => (await page.locator(`[data-match-id="${umbrella.id}"]`).count()) === 0, 'the rejected pair to leave the queue');
    const rejected = await hub.ok<{ identityMatches: { edges: { node: { id: string; reason: string } }[] } }>(`{ identityMatches(status: REJECTED, first: 100) { edges { node { id reason } } } }`);
    expect(rejected.identityMatches.edges.find((e) => e.node.id === umbrella.id)!.node.reason).toBe('different subsidiaries');

    // Confirm: CONFIRMED, the accounts merged, gone from the queue.
    await page.getByRole('button', { name: `Confirm: merge ${initech.accountA.name} and ${initech.accountB.name}` }).click();
    await h.until(async () => (await page.locator(`[data-match-id="${initech.id}"]`).count()) === 0, 'the confirmed pair to leave the queue');
    await expect(page.locator('[data-action-message]').textContent()).resolves.toMatch(/confirmed: the accounts were merged/);
    const confirmed = await hub.ok<{ identityMatches: { edges: { node: { id: string; mergeId: string | null } }[] } }>(`{ identityMatches(status: CONFIRMED, first: 100) { edges { node { id mergeId } } } }`);
    expect(confirmed.identityMatches.edges.find((e) => e.node.id === initech.id)!.node.mergeId).not.toBeNull();
    await expect(page.locator('[data-figure="matches"]').textContent()).resolves.toBe(String((await pendingMatches()).totalCount));
    await page.close();
  }, 90_000);

  it('Integrations: pages through more than 25 dead letters in the API\'s order, and counts them all per connection', async () => {
    // 30 more dead letters of the connection (a CRM that refused a batch), removed at the end.
    await hub.ds.query(
      `INSERT INTO sync_outbox (connection_id, object, record_key, status, attempts, last_error_code, last_error, dead_at, created_at)
       SELECT $1, 'account-fields', 'paging-' || g, 'DEAD', 3, 'HTTP_503', 'Service unavailable', now(), now() - (31 - g) * interval '1 second'
         FROM generate_series(1, 30) g`,
      [connectionId],
    );
    try {
      const api = await hub.ok<{ outbox: { totalCount: number; edges: { node: { id: string } }[] }; syncConnection: { deadLetters: number } }>(
        `query($c: ID!) { outbox(filter: { status: [DEAD] }, first: 100) { totalCount edges { node { id } } } syncConnection(id: $c) { deadLetters } }`,
        { c: connectionId },
      );
      const ids = api.outbox.edges.map((e) => e.node.id);
      expect(api.outbox.totalCount).toBeGreaterThan(25);
      const page = await h.newPage();
      await h.signIn(page, hub.adminKey);
      await h.open(page, 'Integrations', 'integrations');
      const shown = () => page.locator('[data-outbox-id]').evaluateAll((els) => els.map((e) => e.getAttribute('data-outbox-id')));
      await expect(page.locator('[data-figure="dead"]').textContent()).resolves.toBe(String(api.outbox.totalCount));
      await expect(page.locator(`[data-connection-id="${connectionId}"] [data-dead-count]`).textContent()).resolves.toBe(String(api.syncConnection.deadLetters));
      expect(await shown()).toEqual(ids.slice(0, 25));
      await expect(page.locator('[data-showing]').textContent()).resolves.toContain(`showing 1–25, oldest first (page 1)`);
      await page.getByRole('navigation', { name: 'Dead letter pages' }).getByRole('button', { name: 'Next page' }).click();
      await h.until(async () => JSON.stringify(await shown()) === JSON.stringify(ids.slice(25, 50)), 'the second page of dead letters');
      await expect(page.locator('[data-showing]').textContent()).resolves.toContain(`showing 26–${Math.min(50, ids.length)}, oldest first (page 2)`);
      await page.getByRole('navigation', { name: 'Dead letter pages' }).getByRole('button', { name: 'Previous page' }).click();
      await h.until(async () => JSON.stringify(await shown()) === JSON.stringify(ids.slice(0, 25)), 'the first page again');
      await page.close();
    } finally {
      await hub.ds.query(`DELETE FROM sync_outbox WHERE connection_id = $1 AND record_key LIKE 'paging-%'`, [connectionId]);
    }
  });

  it('Delivery: releases, the fleet against the newest release, held back and why, the rollout; halt, resume and advance work; a rollout started; a release yanked with a reason', async () => {
    const { deliveryStatus: s } = await hub.ok<{
      deliveryStatus: {
        releaseId: string;
        version: string;
        devices: number;
        upToDate: number;
        offered: number;
        heldBack: { code: string; devices: number }[];
        renewalOpportunities: { accountId: string; account: { name: string } }[];
      };
    }>(`{ deliveryStatus(product: "GW-100") { releaseId version devices upToDate offered heldBack { code devices } renewalOpportunities { accountId account { name } } } }`);
    expect(s.releaseId).toBe(rolloutRelease);
    expect(s.devices).toBeGreaterThan(0);
    expect(s.heldBack.find((x) => x.code === 'ROLLOUT_NOT_YET')?.devices).toBeGreaterThan(0);
    const { rollout } = await hub.ok<{ rollout: { status: string; stage: number; devicesAdmitted: number; devicesTotal: number } }>(
      `query($r: ID!) { rollout(release: $r) { status stage devicesAdmitted devicesTotal } }`,
      { r: rolloutRelease },
    );

    const page = await h.newPage();
    await h.signIn(page, hub.adminKey);
    const t0 = Date.now();
    h.timings.delivery = await h.open(page, 'Delivery', 'delivery');
    // The rollout card is the page's third request (products, the product's fleet, the rollout).
    await page.locator('[data-rollout]').waitFor();
    h.timings['delivery with rollout'] = Date.now() - t0;
    await expect(page.getByRole('combobox', { name: 'Product' }).inputValue()).resolves.toBe('GW-100');
    await expect(page.locator('[data-figure="devices"]').textContent()).resolves.toBe(String(s.devices));
    await expect(page.locator('[data-figure="up-to-date"]').textContent()).resolves.toBe(String(s.upToDate));
    await expect(page.locator('[data-figure="offered"]').textContent()).resolves.toBe(String(s.offered));
    // No MQTT broker configured: nobody was told over MQTT, and the figure is not shown.
    await expect(page.locator('[data-figure="notified"]').count()).resolves.toBe(0);
    for (const hb of s.heldBack) await expect(page.locator(`[data-held-back="${hb.code}"] [data-devices]`).textContent()).resolves.toBe(String(hb.devices));
    // Renewal opportunities by account name (the first 10), each a link to the customer.
    expect(s.renewalOpportunities.length).toBeGreaterThan(0);
    expect(await page.locator('[data-renewal-account]').count()).toBe(Math.min(10, s.renewalOpportunities.length));
    for (const o of s.renewalOpportunities.slice(0, 10)) await expect(page.locator(`[data-renewal-account="${o.accountId}"] a`).textContent()).resolves.toBe(o.account.name);
    expect(await page.locator('[data-release-id]').count()).toBe(2);
    await expect(page.locator('[data-figure="rollout-status"]').textContent()).resolves.toBe(rollout.status);
    await expect(page.locator('[data-figure="rollout-stage"]').textContent()).resolves.toContain(`${rollout.stage + 1} of 3`);
    await expect(page.locator('[data-figure="rollout-admitted"]').textContent()).resolves.toBe(`${rollout.devicesAdmitted} / ${rollout.devicesTotal}`);
    await h.axe(page, 'delivery');
    await page.screenshot({ path: path.join(SHOTS, 'delivery.png'), fullPage: true });

    // Halt with a reason: the API says HALTED with it, and the fleet is now held back by ROLLOUT_HALTED.
    await page.getByLabel('Reason to halt').fill('gateway reboots after update');
    await page.getByRole('button', { name: 'Halt rollout' }).click();
    await page.locator('[data-rollout="HALTED"]').waitFor();
    await expect(page.locator('[data-action-message]').textContent()).resolves.toBe('Rollout of 4.2.0 halted: gateway reboots after update');
    const halted = await hub.ok<{ rollout: { status: string; haltedReason: string } }>(`query($r: ID!) { rollout(release: $r) { status haltedReason } }`, { r: rolloutRelease });
    expect(halted.rollout).toEqual({ status: 'HALTED', haltedReason: 'gateway reboots after update' });
    await page.locator('[data-held-back="ROLLOUT_HALTED"]').waitFor();
    await expect(page.locator('[data-halted-reason]').textContent()).resolves.toContain('gateway reboots after update');
    // Resume: ACTIVE again.
    await page.getByRole('button', { name: 'Resume rollout' }).click();
    await page.locator('[data-rollout="ACTIVE"]').waitFor();
    expect((await hub.ok<{ rollout: { status: string } }>(`query($r: ID!) { rollout(release: $r) { status } }`, { r: rolloutRelease })).rollout.status).toBe('ACTIVE');
    // Advance by hand: the API's rollout moves to its next stage and admits more devices; the page says so.
    type R = { rollout: { stage: number; stages: number[]; percent: number; devicesAdmitted: number; devicesTotal: number } };
    const stageOf = async () => (await hub.ok<R>(`query($r: ID!) { rollout(release: $r) { stage stages percent devicesAdmitted devicesTotal } }`, { r: rolloutRelease })).rollout;
    const before = await stageOf();
    expect(before.stage).toBeLessThan(before.stages.length - 1);
    await page.getByRole('button', { name: `Advance to ${before.stages[before.stage + 1]} %` }).click();
    await h.until(async () => ((await page.locator('[data-figure="rollout-stage"]').textContent()) ?? '').startsWith(`${before.stage + 2} of ${before.stages.length}`), 'the next stage on the page');
    const advanced = await stageOf();
    await expect(page.locator('[data-action-message]').textContent()).resolves.toBe(
      `Rollout of 4.2.0 advanced to stage ${advanced.stage + 1} of ${advanced.stages.length} (${advanced.percent} %, was ${before.percent} %).`,
    );
    expect(advanced.stage).toBe(before.stage + 1);
    expect(advanced.percent).toBe(before.stages[before.stage + 1]);
    expect(advanced.devicesAdmitted).toBeGreaterThanOrEqual(before.devicesAdmitted);
    await expect(page.locator('[data-figure="rollout-admitted"]').textContent()).resolves.toBe(`${advanced.devicesAdmitted} / ${advanced.devicesTotal}`);

    // The older release: judged on request.
    await page.getByRole('button', { name: 'Judge fleet against 4.1.0' }).click();
    await page.locator('[data-loaded="delivery"]').waitFor();
    await h.until(async () => ((await page.locator('#h-fleet').textContent()) ?? '').includes('4.1.0'), 'the fleet judged against 4.1.0');

    // 4.1.0 has no rollout: start one. Stages that are not whole percentages are refused in the page (nothing sent);
    // then 20 % → 100 %, halting at 5 % failures, advanced by hand: the API's rollout is that one.
    const release41 = (await hub.ok<{ releases: { id: string; version: string }[] }>('{ releases(product: "GW-100") { id version } }')).releases.find((r) => r.version === '4.1.0')!.id;
    type Started = { rollout: { status: string; stages: number[]; failureThreshold: number; minReports: number; autoAdvance: boolean; stage: number } | null };
    const rolloutOf41 = async () => (await hub.ok<Started>('query($r: ID!) { rollout(release: $r) { status stages failureThreshold minReports autoAdvance stage } }', { r: release41 })).rollout;
    await page.locator('[data-rollout="none"]').waitFor();
    await h.axe(page, 'delivery (start a rollout)');
    await page.getByLabel('Stages (%)').fill('ten, 100');
    await page.getByRole('button', { name: 'Start rollout of 4.1.0' }).click();
    await expect(page.locator('[data-action-error]').textContent()).resolves.toMatch(/whole percentages/);
    expect(await rolloutOf41()).toBeNull();
    await page.getByLabel('Stages (%)').fill('20, 100');
    await page.getByLabel('Halt at failures (%)').fill('5');
    await page.getByLabel('Reports before judging').fill('8');
    await page.getByLabel('Advance on its own').uncheck();
    await page.getByRole('button', { name: 'Start rollout of 4.1.0' }).click();
    await page.locator('[data-rollout="ACTIVE"]').waitFor();
    expect(await rolloutOf41()).toEqual({ status: 'ACTIVE', stages: [20, 100], failureThreshold: 0.05, minReports: 8, autoAdvance: false, stage: 0 });
    await expect(page.locator('[data-action-message]').textContent()).resolves.toBe('Rollout of 4.1.0 started: stage 1 of 2 (20 %).');
    await expect(page.locator('[data-figure="rollout-stage"]').textContent()).resolves.toMatch(/^1 of 2 \(20 %\)/);

    // Yank 4.1.0: refused without a reason (nothing changes); with one, the API says YANKED with it, and so do the row and the page.
    type Rel = { releases: { version: string; status: string; yankReason: string | null }[] };
    const releaseOf = async (v: string) => (await hub.ok<Rel>('{ releases(product: "GW-100") { version status yankReason } }')).releases.find((r) => r.version === v)!;
    await page.getByRole('combobox', { name: 'Release to yank' }).selectOption('4.1.0');
    await page.getByRole('button', { name: 'Yank 4.1.0' }).click();
    await expect(page.locator('[data-yank-error]').textContent()).resolves.toMatch(/say why/);
    expect((await releaseOf('4.1.0')).status).toBe('PUBLISHED');
    await page.getByLabel('Why (required)').fill('bricks gateways on boot');
    await page.getByRole('button', { name: 'Yank 4.1.0' }).click();
    await page.locator('[data-release-id][data-status="YANKED"]').waitFor();
    expect(await releaseOf('4.1.0')).toEqual({ version: '4.1.0', status: 'YANKED', yankReason: 'bricks gateways on boot' });
    expect((await releaseOf('4.2.0')).status).toBe('PUBLISHED');
    await expect(page.locator('[data-action-message]').textContent()).resolves.toBe('Release 4.1.0 yanked: bricks gateways on boot');
    await expect(page.locator('[data-release-id][data-status="YANKED"]').textContent()).resolves.toContain('bricks gateways on boot');
    await page.close();
  }, 90_000);

  it('READONLY: the review queue read only, no action on either page; the API refuses the sync data', async () => {
    const key = await hub.createKey(Role.READONLY);
    const page = await h.newPage();
    await h.signIn(page, key);
    h.timings['integrations (READONLY)'] = await h.open(page, 'Integrations', 'integrations');
    expect(await page.locator('[data-note="review-only"]').count()).toBe(1);
    expect(await page.locator('[data-match-id]').count()).toBe(Math.min((await pendingMatches()).totalCount, 25));
    expect(await page.locator('[data-connection-id], [data-outbox-id], [data-run-id]').count()).toBe(0);
    expect(await page.locator('[data-action], input[name="reason"]').count()).toBe(0);
    await h.axe(page, 'integrations (READONLY)');
    for (const q of ['{ outbox { totalCount } }', '{ syncRuns { totalCount } }', '{ syncConnections { totalCount } }']) {
      expect((await hub.gql(q, {}, key)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    expect((await hub.gql(`mutation($id: ID!) { replayOutboxItem(id: $id) { id } }`, { id: '00000000-0000-0000-0000-000000000000' }, key)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    await h.open(page, 'Delivery', 'delivery');
    await expect(page.locator('[data-figure="devices"]').textContent()).resolves.toMatch(/^\d+$/);
    expect(await page.locator('[data-action]').count()).toBe(0);
    expect(await page.locator('[data-rollout]').count()).toBe(0);
    await h.axe(page, 'delivery (READONLY)');
    expect((await hub.gql(`mutation($r: ID!) { haltRollout(release: $r) { status } }`, { r: rolloutRelease }, key)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    await page.close();
  }, 60_000);

  it('INTEGRATION: the review queue read only; Delivery with the rollout and its halt button, as the API allows', async () => {
    const page = await h.newPage();
    await h.signIn(page, await hub.createKey(Role.INTEGRATION));
    await h.open(page, 'Integrations', 'integrations');
    expect(await page.locator('[data-note="review-only"]').count()).toBe(1);
    expect(await page.locator('[data-action]').count()).toBe(0);
    await h.open(page, 'Delivery', 'delivery');
    await page.locator('[data-rollout="ACTIVE"]').waitFor();
    expect(await page.locator('[data-action="halt"]').count()).toBe(1);
    await page.close();
  }, 60_000);

  it('an account-scoped key: neither page offered; by address both refused, and the API refuses too', async () => {
    const key = await hub.createKey(Role.ADMIN, accounts[0]!.id);
    const page = await h.newPage();
    await h.signIn(page, key);
    expect(await page.getByRole('link', { name: 'Integrations' }).count()).toBe(0);
    expect(await page.getByRole('link', { name: 'Delivery' }).count()).toBe(0);
    await page.goto(`${hub.url}/console/integrations`);
    expect(await errorCode(page)).toBe('FORBIDDEN');
    expect(await page.locator('[data-action]').count()).toBe(0);
    await page.goto(`${hub.url}/console/delivery`);
    expect(await errorCode(page)).toBe('FORBIDDEN');
    expect(await page.locator('[data-action]').count()).toBe(0);
    for (const q of ['{ identityMatches { totalCount } }', '{ deliveryStatus(product: "GW-100") { devices } }']) {
      expect((await hub.gql(q, {}, key)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    const m = (await hub.ok<{ identityMatches: { edges: { node: { id: string } }[] } }>(`{ identityMatches(status: CONFIRMED) { edges { node { id } } } }`)).identityMatches.edges[0]!.node;
    expect((await hub.gql(`mutation($id: ID!) { rejectMatch(id: $id, reason: "x") { id } }`, { id: m.id }, key)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    await page.close();
  }, 60_000);

  it('keeps each of the pages\' requests under the hub\'s query-cost limit (EHUB_MAX_QUERY_COMPLEXITY), printed', async () => {
    const schema = await buildHubSchema();
    const costs: Record<string, number> = {};
    for (const [d, v] of [
      [INTEGRATIONS, { ops: true, deadAfter: null }],
      [DELIVERY_PRODUCTS, {}],
      [DELIVERY, { product: 'GW-100', productRef: 'GW-100', release: null, ops: true }],
      [ROLLOUT, { release: rolloutRelease }],
    ] as const) {
      costs[d.name] = operationCost(schema, hub.services.config, parse(d.query), v, d.name);
    }
    console.log(`console Integrations/Delivery request costs (limit ${hub.services.config.EHUB_MAX_QUERY_COMPLEXITY}): ${JSON.stringify(costs)}`);
    for (const c of Object.values(costs)) expect(c).toBeLessThanOrEqual(hub.services.config.EHUB_MAX_QUERY_COMPLEXITY);
  });

  it('made no request to any host but the hub, and the browser reported no policy refusal or script error', () => {
    expect(h.refused).toEqual([]);
    expect(h.complaints).toEqual([]);
  });
});

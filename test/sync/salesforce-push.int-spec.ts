import { dropProxyEnv, createSalesforceConnection, runOf, runSync, seedSkus, startEmulator } from '../support/salesforce';
dropProxyEnv();
import pino from 'pino';
import type { SalesforceEmulator } from '../../connectors/salesforce/emulator/types';
import { systemContext } from '../../src/common/context';
import { SyncTrigger } from '../../src/sync/sync.entities';
import { day } from '../support/orders';
import { startTestHub, type TestHub } from '../support/test-hub';

const silent = pino({ level: 'silent' });
const ACCOUNTS = 60;
/** Accounts 0..RENEWING-1 have a term ending in 29 days: inside the 90-day renewal window. */
const RENEWING = 20;

interface Seed {
  sfAccount: string;
  name: string;
  unitPrice: number;
  quantity: number;
  end: string;
}

async function seedDeals(emu: SalesforceEmulator): Promise<Seed[]> {
  const seeds: Seed[] = [];
  for (let a = 0; a < ACCOUNTS; a++) {
    const name = `Customer ${a}`;
    const sfAccount = emu.insert('Account', { Name: name });
    // 365-day terms, so ARR = unit price × quantity exactly.
    const [start, end] = a < RENEWING ? [day(-335), day(29)] : [day(-100), day(264)];
    const unitPrice = 100 + a;
    const quantity = 1 + (a % 4);
    emu.seedDeal({ accountId: sfAccount, lines: [{ productCode: 'SEATS', quantity, unitPrice, serviceDate: start, endDate: end }] });
    seeds.push({ sfAccount, name, unitPrice, quantity, end });
  }
  return seeds;
}

describe('Salesforce push: synced fields, renewal opportunities and entitlements reach the CRM', () => {
  let hub: TestHub;
  let emu: SalesforceEmulator;
  let connectionId: string;
  let seeds: Seed[];

  beforeAll(async () => {
    hub = await startTestHub({ EHUB_SYNC_BACKOFF_BASE_MS: '1', EHUB_SYNC_BACKOFF_MAX_MS: '5' });
    emu = await startEmulator();
    await seedSkus(hub, ['SEATS'], 'NAMED_USER');
    connectionId = await createSalesforceConnection(hub, emu, { bulkThreshold: 25, rateLimitBackoffMs: 1 }, { maxAttempts: 30 });
    seeds = await seedDeals(emu);
  }, 60_000);

  afterAll(async () => {
    await emu?.close();
    await hub?.close();
  });

  const pushUntilQuiet = async (maxRounds = 100) => {
    const conn = await hub.services.sync.connectionByName('salesforce');
    for (let i = 0; i < maxRounds; i++) {
      await hub.services.sync.pushOnce(systemContext(silent, 'test:push'), conn, SyncTrigger.MANUAL);
      const [open] = await hub.ds.query(`SELECT count(*)::int AS n FROM sync_outbox WHERE status IN ('PENDING','FAILED','IN_FLIGHT','SUBMITTED')`);
      if (open.n === 0) return i + 1;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('the outbox did not drain');
  };

  it('pushes every linked account\'s fields, one renewal per renewing order and every entitlement — despite 20% failing calls', async () => {
    // Pull without faults: accounts linked, deals fulfilled, outbox rows marked in those transactions.
    const pulled = await runSync(hub, connectionId);
    expect(runOf(pulled, 'orders')).toMatchObject({ created: ACCOUNTS, failed: 0 });
    const [marked] = await hub.ds.query(`SELECT count(*) FILTER (WHERE object = 'account-fields')::int AS accounts, count(*) FILTER (WHERE object = 'entitlement')::int AS ents FROM sync_outbox`);
    expect(marked).toEqual({ accounts: ACCOUNTS, ents: ACCOUNTS });
    await hub.services.sync.queueRenewals(systemContext(silent, 'test:renewals'), await hub.services.sync.connectionByName('salesforce'), SyncTrigger.MANUAL);

    // Now 20% of calls fail (expired session, 503, limit exceeded), 20% of records fail
    // transiently, and one account is refused for good by a validation rule.
    emu.faults.set({ rate: 0.2, kinds: ['EXPIRE_SESSION', 'HTTP_503', 'REQUEST_LIMIT_EXCEEDED'], recordErrorRate: 0.2, recordErrorCodes: ['UNABLE_TO_LOCK_ROW'] });
    const refused = seeds[7]!;
    emu.faults.rejectRecord((sobject, fields) =>
      sobject === 'Account' && fields.Id === refused.sfAccount && fields.Ehub_ARR__c !== null && fields.Ehub_ARR__c !== undefined
        ? { errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', message: 'ARR may only be set by finance', fields: ['Ehub_ARR__c'] }
        : null,
    );
    const rounds = await pushUntilQuiet();
    emu.faults.clear();
    expect(rounds).toBeGreaterThan(1);
    // 60 accounts > bulkThreshold 25: Bulk API 2.0; 20 renewals: sObject Collections.
    expect(emu.stats.byEndpoint['POST jobs/ingest']).toBeGreaterThan(0);
    expect(Object.keys(emu.stats.byEndpoint).some((k) => k.startsWith('PATCH composite/sobjects'))).toBe(true);

    for (const s of seeds) {
      const acc = emu.get('Account', s.sfAccount)!;
      if (s === refused) {
        expect(acc.Ehub_ARR__c ?? null).toBeNull();
        continue;
      }
      expect({ status: acc.Ehub_Entitlement_Status__c, arr: Number(acc.Ehub_ARR__c), renewal: acc.Ehub_Next_Renewal_Date__c, overuse: acc.Ehub_Overuse__c }).toEqual({
        status: 'ACTIVE',
        arr: s.unitPrice * s.quantity,
        renewal: s.end,
        overuse: false,
      });
    }
    // One renewal opportunity per renewing order, never two (upserted by its external id).
    const renewals = emu.records('Opportunity').filter((o) => o.Ehub_Renewal_Key__c);
    expect(renewals).toHaveLength(RENEWING);
    expect(new Set(renewals.map((o) => o.Ehub_Renewal_Key__c)).size).toBe(RENEWING);
    for (const s of seeds.slice(0, RENEWING)) {
      const r = renewals.find((o) => o.AccountId === s.sfAccount)!;
      expect({ amount: Number(r.Amount), close: r.CloseDate }).toEqual({ amount: s.unitPrice * s.quantity, close: s.end });
    }
    // Entitlements with their remaining quantity (no seats used yet).
    const ents = emu.records('Ehub_Entitlement__c');
    expect(ents).toHaveLength(ACCOUNTS);
    for (const e of ents) expect(Number(e.Remaining__c)).toBe(Number(e.Quantity__c));

    // The refused one is dead-lettered with its reason, and listed.
    const dead = await hub.ok<{ outbox: { totalCount: number; edges: { node: { object: string; status: string; lastErrorCode: string; lastError: string; attempts: number } }[] } }>(
      `query { outbox(filter: { status: [DEAD] }) { totalCount edges { node { object status lastErrorCode lastError attempts } } } }`,
    );
    expect(dead.outbox.totalCount).toBe(1);
    expect(dead.outbox.edges[0]!.node).toMatchObject({ object: 'ACCOUNT_FIELDS', status: 'DEAD', lastErrorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', lastError: expect.stringContaining('finance') });
    const runs = await hub.ok<{ syncRuns: { edges: { node: { kind: string; failed: number; apiCalls: number } }[] } }>(`query { syncRuns(first: 200, filter: { kind: PUSH }) { edges { node { kind failed apiCalls } } } }`);
    expect(runs.syncRuns.edges.some((e) => e.node.failed > 0)).toBe(true);
    // Operators see the backlog, the dead letter and the runs in /metrics.
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toContain('ehub_sync_outbox_items{connection="salesforce",status="DEAD"} 1');
    expect(metrics).toMatch(/ehub_sync_last_run_age_seconds\{connection="salesforce",kind="PUSH",object="outbox",status="PARTIAL"\} \d+/);
    // Once the CRM admin relaxes the rule, replaying the dead letter delivers it.
    emu.faults.clear();
    const deadId: string = (await hub.ds.query(`SELECT id FROM sync_outbox WHERE status = 'DEAD'`))[0].id;
    const replayed = await hub.ok<{ replayOutboxItem: { status: string; attempts: number } }>('mutation($id: ID!) { replayOutboxItem(id: $id) { status attempts } }', { id: deadId });
    expect(replayed.replayOutboxItem).toEqual({ status: 'PENDING', attempts: 0 });
    await pushUntilQuiet();
    expect(Number(emu.get('Account', refused.sfAccount)!.Ehub_ARR__c)).toBe(refused.unitPrice * refused.quantity);
    const [after] = await hub.ds.query(`SELECT status, last_error_code FROM sync_outbox WHERE id = $1`, [deadId]);
    expect(after).toEqual({ status: 'DONE', last_error_code: null });
  }, 180_000);

  it('sends nothing when nothing changed, and only the changed account when one changes', async () => {
    emu.resetStats();
    const again = await runSync(hub, connectionId, { push: true });
    expect(again.find((r) => r.kind === 'PUSH')).toBeUndefined(); // nothing was due
    const seatsEntitlement: { id: string } = (await hub.ds.query(
      `SELECT e.id FROM entitlement e JOIN external_ref r ON r.entity_id = e.account_id WHERE r.external_id = $1`,
      [seeds[30]!.sfAccount],
    ))[0];
    await hub.ok('mutation($e: ID!) { assignSeat(entitlementId: $e, email: "ana@example.com") { id } }', { e: seatsEntitlement.id });
    const pushed = await runSync(hub, connectionId, { push: true });
    const push = pushed.find((r) => r.kind === 'PUSH')!;
    expect(push).toMatchObject({ read: 2, failed: 0 });
    expect(push.updated + push.unchanged).toBe(2);
    const acc = emu.get('Account', seeds[30]!.sfAccount)!;
    expect(Number(acc.Ehub_Utilization__c)).toBe(Math.round((1 / seeds[30]!.quantity) * 1000) / 10);
    const ent = emu.records('Ehub_Entitlement__c').find((e) => e.Ehub_Entitlement_Id__c === seatsEntitlement.id)!;
    expect(Number(ent.Used__c)).toBe(1);
    expect(Number(ent.Remaining__c)).toBe(seeds[30]!.quantity - 1);
  }, 60_000);

  it('shows usage and compliance in the CRM: last usage, active users, the overuse flag and the leakage estimate', async () => {
    const target = seeds[45]!;
    const [{ id: accountId }] = await hub.ds.query(`SELECT entity_id AS id FROM external_ref WHERE system = 'salesforce' AND external_id = $1`, [target.sfAccount]);
    await hub.ok('mutation($i: UpsertFeatureInput!) { upsertFeature(input: $i) { id } }', { i: { key: 'f.calls', name: 'API calls' } });
    // A product granting the feature prices the unentitled use: 10,000 minor per 1,000 calls.
    await hub.ok('mutation($i: UpsertProductInput!) { upsertProduct(input: $i) { id } }', {
      i: { sku: 'CALLS-1K', name: 'API calls', kind: 'SOFTWARE', listPrice: { amountMinor: 10000, currency: 'USD' }, defaultModel: 'USAGE', features: [{ key: 'f.calls', limit: 1000 }] },
    });
    await hub.ok('mutation($i: UpsertMeterInput!) { upsertMeter(input: $i) { key } }', { i: { key: 'calls', name: 'Calls', aggregation: 'SUM', unit: 'calls', featureKey: 'f.calls' } });
    const last = new Date(Date.now() - 60_000).toISOString();
    const events = [
      { id: 'c-1', accountId, meter: 'calls', quantity: 200, deployment: 'CLOUD', occurredAt: new Date(Date.now() - 3_600_000).toISOString(), user: 'ana@example.com' },
      { id: 'c-2', accountId, meter: 'calls', quantity: 300, deployment: 'CLOUD', occurredAt: last, user: 'bo@example.com' },
    ];
    await hub.ok('mutation($e: [UsageEventInput!]!) { recordUsage(events: $e) { accepted } }', { e: events });
    await hub.ok('mutation($a: ID!) { runCompliance(accountId: $a) { opened } }', { a: accountId });

    const runs = await runSync(hub, connectionId, { push: true });
    expect(runs.find((r) => r.kind === 'PUSH')).toMatchObject({ failed: 0 });
    const acc = emu.get('Account', target.sfAccount)!;
    expect(new Date(String(acc.Ehub_Last_Usage__c)).toISOString()).toBe(last);
    expect(Number(acc.Ehub_Active_Users__c)).toBe(2);
    expect(acc.Ehub_Overuse__c).toBe(true);
    expect(Number(acc.Ehub_Estimated_Leakage__c)).toBe(50); // 500 calls × 100.00 ÷ 1,000
  }, 60_000);

  it('usage alone re-sends an account\'s fields at most once per interval; any other change sends them at once', async () => {
    const target = seeds[50]!;
    const [{ id: accountId }] = await hub.ds.query(`SELECT entity_id AS id FROM external_ref WHERE system = 'salesforce' AND external_id = $1`, [target.sfAccount]);
    const at = new Date(Date.now() - 120_000).toISOString();
    await hub.ok('mutation($e: [UsageEventInput!]!) { recordUsage(events: $e) { accepted } }', {
      e: [{ id: 'i-1', accountId, meter: 'calls', quantity: 5, deployment: 'CLOUD', occurredAt: at, user: 'cy@example.com' }],
    });
    const [row] = await hub.ds.query(
      `SELECT status, next_attempt_at > now() + interval '14 minutes' AS deferred FROM sync_outbox WHERE object = 'account-fields' AND account_id = $1`,
      [accountId],
    );
    expect(row).toEqual({ status: 'PENDING', deferred: true }); // delivered minutes ago: waits for EHUB_SYNC_USAGE_PUSH_INTERVAL_MS
    const quiet = await runSync(hub, connectionId, { push: true });
    expect(quiet.find((r) => r.kind === 'PUSH')).toBeUndefined();
    expect(emu.get('Account', target.sfAccount)!.Ehub_Last_Usage__c ?? null).toBeNull();

    // A seat taken is not usage: due at once, and the push carries the latest usage too.
    const [{ id: entitlementId }] = await hub.ds.query('SELECT id FROM entitlement WHERE account_id = $1', [accountId]);
    await hub.ok('mutation($e: ID!) { assignSeat(entitlementId: $e, email: "dee@example.com") { id } }', { e: entitlementId });
    const pushed = await runSync(hub, connectionId, { push: true });
    expect(pushed.find((r) => r.kind === 'PUSH')).toMatchObject({ failed: 0 });
    const acc = emu.get('Account', target.sfAccount)!;
    expect(new Date(String(acc.Ehub_Last_Usage__c)).toISOString()).toBe(at);
    expect(Number(acc.Ehub_Active_Users__c)).toBe(1);
  }, 60_000);

  it('dead-letters an item after the connection\'s max attempts of failed calls, but never for a spent API budget; replayDeadOutboxItems sends it again', async () => {
    const target = seeds[55]!;
    const [{ id: accountId }] = await hub.ds.query(`SELECT entity_id AS id FROM external_ref WHERE system = 'salesforce' AND external_id = $1`, [target.sfAccount]);
    const [{ id: entitlementId }] = await hub.ds.query('SELECT id FROM entitlement WHERE account_id = $1', [accountId]);
    await hub.ok('mutation($id: ID!, $i: UpdateSyncConnectionInput!) { updateSyncConnection(id: $id, input: $i) { id } }', { id: connectionId, i: { maxAttempts: 3 } });
    const item = async () =>
      (await hub.ds.query(`SELECT status, attempts, last_error_code FROM sync_outbox WHERE object = 'account-fields' AND account_id = $1`, [accountId]))[0] as {
        status: string;
        attempts: number;
        last_error_code: string | null;
      };
    const conn = await hub.services.sync.connectionByName('salesforce');
    const pushNow = async () => {
      await hub.ds.query(`UPDATE sync_outbox SET next_attempt_at = now() WHERE status = 'FAILED'`);
      await hub.services.sync.pushOnce(systemContext(silent, 'test:push'), conn, SyncTrigger.MANUAL);
    };

    // The org's budget is spent: pushes fail, and none counts as an attempt. (A run stops at
    // its first failed call, so the account's other item may be handed back unsent.)
    await hub.ok('mutation($e: ID!) { assignSeat(entitlementId: $e, email: "eve@example.com") { id } }', { e: entitlementId });
    emu.faults.set({ rate: 1, kinds: ['REQUEST_LIMIT_EXCEEDED'] });
    for (let i = 0; i < 5; i++) await pushNow();
    const limited: { status: string; attempts: number; last_error_code: string | null }[] = await hub.ds.query(
      `SELECT status, attempts, last_error_code FROM sync_outbox WHERE account_id = $1 AND object IN ('account-fields','entitlement')`,
      [accountId],
    );
    expect(limited.map((r) => r.attempts)).toEqual([0, 0]);
    expect(limited.every((r) => r.status !== 'DEAD')).toBe(true);
    expect(limited.some((r) => r.status === 'FAILED' && r.last_error_code === 'REQUEST_LIMIT_EXCEEDED')).toBe(true);

    // Salesforce is down: each failed call counts; after maxAttempts (3) the item is DEAD.
    emu.faults.set({ rate: 1, kinds: ['HTTP_503'] });
    for (let i = 0; i < 20 && (await item()).status !== 'DEAD'; i++) await pushNow();
    const dead = await item();
    expect(dead).toMatchObject({ status: 'DEAD', attempts: 3 });
    expect(dead.last_error_code).toMatch(/SERVER_UNAVAILABLE|HTTP_503/);

    emu.faults.clear();
    // The connection counts its dead letters, every one of them (the console's Integrations page shows this).
    const deadLetters = async () => (await hub.ok<{ syncConnection: { deadLetters: number } }>('query($id: ID!) { syncConnection(id: $id) { deadLetters } }', { id: connectionId })).syncConnection.deadLetters;
    const [{ n: deadNow }] = await hub.ds.query(`SELECT count(*)::int AS n FROM sync_outbox WHERE status = 'DEAD' AND connection_id = $1`, [connectionId]);
    expect(deadNow).toBeGreaterThanOrEqual(1);
    expect(await deadLetters()).toBe(deadNow);
    const replayed = await hub.ok<{ replayDeadOutboxItems: number }>('mutation($c: ID!) { replayDeadOutboxItems(connectionId: $c) }', { c: connectionId });
    const [{ n: deadBefore }] = await hub.ds.query(`SELECT count(*)::int AS n FROM sync_outbox WHERE status = 'DEAD'`);
    expect(deadBefore).toBe(0);
    expect(replayed.replayDeadOutboxItems).toBeGreaterThanOrEqual(1); // this account's item(s): the entitlement may have died too
    expect(replayed.replayDeadOutboxItems).toBe(deadNow);
    expect(await deadLetters()).toBe(0);
    await pushNow();
    expect(await item()).toEqual({ status: 'DONE', attempts: 0, last_error_code: null });
    expect(Number(emu.records('Ehub_Entitlement__c').find((e) => e.Ehub_Entitlement_Id__c === entitlementId)!.Used__c)).toBe(1);
  }, 60_000);

  it('shows a term that starts later as NOT_STARTED, not as expired', async () => {
    const sfAccount = emu.insert('Account', { Name: 'Later Ltd' });
    emu.seedDeal({ accountId: sfAccount, lines: [{ productCode: 'SEATS', quantity: 2, unitPrice: 50, serviceDate: day(30), endDate: day(394) }] });
    await runSync(hub, connectionId, { push: true });
    expect(emu.get('Account', sfAccount)!.Ehub_Entitlement_Status__c).toBe('NOT_STARTED');
    const ent = emu.records('Ehub_Entitlement__c').find((e) => e.Account__c === sfAccount)!;
    expect(ent.Status__c).toBe('NOT_STARTED');
  }, 60_000);
});

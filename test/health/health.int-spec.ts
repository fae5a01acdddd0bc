import { dropProxyEnv, createSalesforceConnection, startEmulator } from '../support/salesforce';
dropProxyEnv();
import pino from 'pino';
import type { SalesforceEmulator } from '../../connectors/salesforce/emulator/types';
import { systemContext } from '../../src/common/context';
import { SyncTrigger } from '../../src/sync/sync.entities';
import { Role } from '../../src/auth/role';
import { createAccount, day, orderInput, submitOrder } from '../support/orders';
import { startTestHub, type TestHub } from '../support/test-hub';
import { hoursAgo, recordUsage, seedUsageCatalog } from '../usage/usage-support';
import { scratchDir } from '../support/scratch';

const silent = pino({ level: 'silent' });

const HEALTH_FIELDS = `score band coverage effectiveScore effectiveBand computedAt
  measures { key value band points weight effectiveWeight explanation }
  override { score reason expiresAt }`;
const HEALTH = `health { ${HEALTH_FIELDS} }`;

interface Measure {
  key: string;
  value: number | null;
  band: string | null;
  points: number | null;
  weight: number;
  effectiveWeight: number;
  explanation: string;
}
interface Health {
  score: number;
  band: string;
  coverage: number;
  effectiveScore: number;
  effectiveBand: string;
  measures: Measure[];
  override: { score: number; reason: string; expiresAt: string } | null;
}

describe('health score', () => {
  let hub: TestHub;
  let emu: SalesforceEmulator;
  let acme: string;
  let sfAcme: string;
  let seatEntitlement: string;

  beforeAll(async () => {
    hub = await startTestHub({ EHUB_SYNC_BACKOFF_BASE_MS: '1', EHUB_SYNC_BACKOFF_MAX_MS: '5' });
    emu = await startEmulator();
    await seedUsageCatalog(hub);
    sfAcme = emu.insert('Account', { Name: 'Acme Health' });
    acme = await createAccount(hub, 'Acme Health', sfAcme);
    await createSalesforceConnection(hub, emu);
    // 10 named users for 600 days, 400 of them gone: a mature contract, 200 days to renewal.
    const o = await submitOrder(hub, orderInput(acme, 'H-1', [{ sku: 'U-SEAT', quantity: 10, startDate: day(-400), endDate: day(200) }]));
    seatEntitlement = o.entitlements[0]!.id;
    for (let i = 0; i < 8; i++) {
      await hub.ok('mutation($e: ID!, $m: String!) { assignSeat(entitlementId: $e, email: $m) { id } }', { e: seatEntitlement, m: `user${i}@acme.test` });
    }
    // Usage: 100 events 95–174 days ago, 60 events 1–60 days ago; 5 distinct users within the last 28 days.
    const base = Date.now();
    const earlier = Array.from({ length: 100 }, (_, i) => ({
      id: `old-${i}`, source: 'test', accountId: acme, meter: 'u.calls', quantity: 1, occurredAt: hoursAgo((95 + (i % 80)) * 24, base), deployment: 'CLOUD',
    }));
    const recent = Array.from({ length: 60 }, (_, i) => ({
      id: `new-${i}`, source: 'test', accountId: acme, meter: 'u.calls', quantity: 1, occurredAt: hoursAgo((1 + i) * 24, base), deployment: 'CLOUD',
      ...(i < 20 ? { user: `u${i % 5}` } : {}),
    }));
    const r = await recordUsage(hub, [...earlier, ...recent]);
    expect(r).toMatchObject({ accepted: 160, rejected: [] });
  }, 120_000);

  afterAll(async () => {
    await emu?.close();
    await hub?.close();
  });

  it('scores each measure into a band and the account as their weighted average, with coverage and explanations', async () => {
    const { recomputeHealth: h } = await hub.ok<{ recomputeHealth: Health }>(`mutation($a: ID!) { recomputeHealth(accountId: $a) { ${HEALTH_FIELDS} } }`, { a: acme });
    const by = Object.fromEntries(h.measures.map((m) => [m.key, m]));
    expect(by.utilisation).toMatchObject({ value: 0.8, band: 'GREEN', points: 100 });
    expect(by.activeUsers).toMatchObject({ value: 0.5, band: 'YELLOW', points: 50 });
    expect(by.usageTrend).toMatchObject({ value: 0.6, band: 'RED', points: 0 });
    expect(by.daysToRenewal).toMatchObject({ value: 200, band: 'GREEN' });
    expect(by.openFindings).toMatchObject({ value: 0, band: 'GREEN' });
    expect(by.daysSinceLastUsage).toMatchObject({ value: 1, band: 'GREEN' });
    // No ERP: the receivables measure is dropped and its weight (10 of 100) shared.
    expect(by.overdueReceivables).toMatchObject({ value: null, band: null, effectiveWeight: 0 });
    expect(h.coverage).toBe(0.9);
    // (100×25 + 50×15 + 0×15 + 100×10 + 100×10 + 100×15) ÷ 90, computed here independently.
    expect(h.score).toBe(75);
    expect(h).toMatchObject({ band: 'GREEN', effectiveScore: 75, effectiveBand: 'GREEN', override: null });
    expect(by.utilisation!.explanation).toMatch(/80 % of what was sold is in use \(named user 80 % \(1\)\); mature-contract bands/);
    expect(by.overdueReceivables!.explanation).toMatch(/^no data: no receivables/);
    expect(h.measures.reduce((s, m) => s + m.effectiveWeight, 0)).toBeCloseTo(1, 3);
  });

  it('answers HEALTH_NO_DATA for an account with nothing to measure, and refuses bad overrides changing nothing', async () => {
    const empty = await createAccount(hub, 'Nothing Yet');
    const r = await hub.gql(`mutation($a: ID!) { recomputeHealth(accountId: $a) { score } }`, { a: empty });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'HEALTH_NO_DATA' });
    const [stored] = await hub.ds.query(`SELECT count(*)::int AS n FROM account_health WHERE account_id = $1`, [empty]);
    expect(stored.n).toBe(0);

    const set = (score: number, reason: string, expiresAt: string) =>
      hub.gql(`mutation($a: ID!, $s: Int!, $r: String!, $e: DateTimeISO!) { setHealthOverride(accountId: $a, score: $s, reason: $r, expiresAt: $e) { effectiveScore } }`, {
        a: acme, s: score, r: reason, e: expiresAt,
      });
    const future = new Date(Date.now() + 30 * 86_400_000).toISOString();
    for (const [args, code] of [
      [[101, 'too high', future], 'HEALTH_OVERRIDE_OUT_OF_RANGE'],
      [[-1, 'too low', future], 'HEALTH_OVERRIDE_OUT_OF_RANGE'],
      [[50, '   ', future], 'HEALTH_OVERRIDE_REASON'],
      [[50, 'past', new Date(Date.now() - 1000).toISOString()], 'HEALTH_OVERRIDE_EXPIRY'],
      [[50, 'too far', new Date(Date.now() + 400 * 86_400_000).toISOString()], 'HEALTH_OVERRIDE_EXPIRY'],
    ] as const) {
      const res = await set(...(args as unknown as [number, string, string]));
      expect({ args, sub: res.errors?.[0]?.extensions?.subCode }).toEqual({ args, sub: code });
    }
    const noScore = await hub.gql(`mutation($a: ID!) { setHealthOverride(accountId: $a, score: 10, reason: "x", expiresAt: "${future}") { score } }`, { a: empty });
    expect(noScore.errors?.[0]?.extensions?.subCode).toBe('HEALTH_NO_DATA');
    const [overrides] = await hub.ds.query(`SELECT count(*)::int AS n FROM account_health_override`);
    expect(overrides.n).toBe(0);
  });

  it('keeps an override beside the computed score until it is cleared, in the history and in the CRM', async () => {
    const future = new Date(Date.now() + 30 * 86_400_000).toISOString();
    await hub.ok(`mutation($a: ID!, $e: DateTimeISO!) { setHealthOverride(accountId: $a, score: 30, reason: "Champion left; exec escalation", expiresAt: $e) { score } }`, { a: acme, e: future });
    const { account } = await hub.ok<{ account: { health: Health } }>(`query($a: ID!) { account(id: $a) { ${HEALTH} } }`, { a: acme });
    expect(account.health).toMatchObject({ score: 75, band: 'GREEN', effectiveScore: 30, effectiveBand: 'RED', override: { score: 30, reason: 'Champion left; exec escalation' } });

    await hub.ok(`mutation($a: ID!) { recomputeHealth(accountId: $a) { score } }`, { a: acme });
    const today = day(0);
    const { healthHistory } = await hub.ok<{ healthHistory: { day: string; score: number; overrideScore: number | null }[] }>(
      `query($a: ID!, $f: String!, $t: String!) { healthHistory(accountId: $a, from: $f, to: $t) { day score band coverage overrideScore } }`,
      { a: acme, f: day(-7), t: today },
    );
    expect(healthHistory).toEqual([{ day: today, score: 75, band: 'GREEN', coverage: 0.9, overrideScore: 30 }]);

    // The CRM gets the override (what a person decided) and the risk band of the computed health.
    const conn = await hub.services.sync.connectionByName('salesforce');
    await hub.services.sync.pushOnce(systemContext(silent, 'test:push'), conn, SyncTrigger.MANUAL);
    expect(emu.get('Account', sfAcme)).toMatchObject({ Ehub_Health_Score__c: 30, Ehub_Churn_Risk__c: 'LOW' });

    await hub.ok(`mutation($a: ID!) { clearHealthOverride(accountId: $a) { effectiveScore } }`, { a: acme });
    const audits: { action: string; before: { score: number } | null }[] = await hub.ds.query(
      `SELECT action, before FROM audit_log WHERE entity = 'AccountHealthOverride' AND entity_id = $1 ORDER BY id`,
      [acme],
    );
    expect(audits.map((a) => [a.action, a.before?.score ?? null])).toEqual([['CREATE', null], ['DELETE', 30]]);
    // Clearing again changes nothing and audits nothing.
    await hub.ok(`mutation($a: ID!) { clearHealthOverride(accountId: $a) { effectiveScore } }`, { a: acme });
    const [n] = await hub.ds.query(`SELECT count(*)::int AS n FROM audit_log WHERE entity = 'AccountHealthOverride'`);
    expect(n.n).toBe(2);
    await hub.services.sync.pushOnce(systemContext(silent, 'test:push'), conn, SyncTrigger.MANUAL);
    expect(emu.get('Account', sfAcme)).toMatchObject({ Ehub_Health_Score__c: 75, Ehub_Churn_Risk__c: 'LOW' });
  });

  const inbox = scratchDir('ehub-health-');
  it('counts overdue receivables from the ERP once the account has any', async () => {
    const { createSyncConnection } = await hub.ok<{ createSyncConnection: { id: string } }>(
      'mutation($i: CreateSyncConnectionInput!) { createSyncConnection(input: $i) { id } }',
      { i: { name: 'erp-files', type: 'csv', options: { inboxDir: inbox }, credentials: {}, pushEnabled: false } },
    );
    // An invoice 40 days past due with 500.00 open, one paid in full: 40 days overdue → RED.
    await hub.ds.query(
      `INSERT INTO receivable (connection_id, external_id, account_id, kind, number, doc_date, due_date, currency, amount_minor, open_minor, status, modified_at)
       VALUES ($1, 'INV-1', $2, 'INVOICE', 'INV-1', $3, $4, 'USD', 80000, 50000, 'Open', now()),
              ($1, 'INV-2', $2, 'INVOICE', 'INV-2', $3, $5, 'USD', 20000, 0, 'Paid In Full', now())`,
      [createSyncConnection.id, acme, day(-70), day(-40), day(10)],
    );
    const { recomputeHealth: h } = await hub.ok<{ recomputeHealth: Health }>(`mutation($a: ID!) { recomputeHealth(accountId: $a) { ${HEALTH_FIELDS} } }`, { a: acme });
    const overdue = h.measures.find((m) => m.key === 'overdueReceivables')!;
    expect(overdue).toMatchObject({ value: 40, band: 'RED', points: 0, effectiveWeight: 0.1 });
    expect(overdue.explanation).toMatch(/40 days overdue \(500(\.00)? USD overdue\)/);
    // Full coverage now: (100×25 + 50×15 + 0×15 + 100×10 + 0×10 + 100×10 + 100×15) ÷ 100.
    expect(h).toMatchObject({ coverage: 1, score: 67.5, band: 'YELLOW' });
    await hub.ds.query(`DELETE FROM receivable WHERE account_id = $1`, [acme]);
    await hub.ok(`mutation($a: ID!) { recomputeHealth(accountId: $a) { score } }`, { a: acme });
  });

  it('scores every account in a number of statements that does not grow with the accounts', async () => {
    const run = () => hub.countQueries(() => hub.services.health.recomputeAll(systemContext(silent, 'test:health')));
    // One new account before the first run, 25 before the second: both runs change scores (and publish them).
    const lone = await createAccount(hub, 'Bulk lone');
    await submitOrder(hub, orderInput(lone, 'BULK-lone', [{ sku: 'U-SEAT', quantity: 5, startDate: day(-30), endDate: day(335) }]));
    const first = await run();
    expect(first.result.changed).toBeGreaterThan(0);
    for (let i = 0; i < 25; i++) {
      const a = await createAccount(hub, `Bulk ${i}`);
      await submitOrder(hub, orderInput(a, `BULK-${i}`, [{ sku: 'U-SEAT', quantity: 5, startDate: day(-30), endDate: day(335) }]));
    }
    const second = await run();
    expect(second.result.scored).toBe(first.result.scored + 25);
    expect(second.count).toBe(first.count);
    // Nothing moved since: a third run says so (and publishes no health.changed, so no account is re-sent to the CRM).
    const dueBefore = await hub.ds.query(`SELECT count(*)::int AS n FROM sync_outbox`);
    const third = await run();
    expect(third.result).toMatchObject({ scored: second.result.scored, changed: 0 });
    expect(await hub.ds.query(`SELECT count(*)::int AS n FROM sync_outbox`)).toEqual(dueBefore);
    // A young contract with no seat used: RED utilisation even on onboarding bands.
    const [row] = await hub.ds.query(`SELECT measures FROM account_health h JOIN account a ON a.id = h.account_id WHERE a.name = 'Bulk 0'`);
    expect(row.measures.find((m: Measure) => m.key === 'utilisation')).toMatchObject({ value: 0, band: 'RED' });
    expect(row.measures.find((m: Measure) => m.key === 'utilisation').explanation).toMatch(/onboarding bands/);
  });

  it('lets analysts read but not override, and hides other accounts from a scoped key', async () => {
    const analyst = await hub.createKey(Role.ANALYST);
    const read = await hub.gql(`query($a: ID!) { account(id: $a) { health { score } } }`, { a: acme }, analyst);
    expect(read.data).toEqual({ account: { health: { score: 75 } } });
    const denied = await hub.gql(`mutation($a: ID!) { recomputeHealth(accountId: $a) { score } }`, { a: acme }, analyst);
    expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const other = await createAccount(hub, 'Other Scope');
    const scoped = await hub.createKey(Role.OPERATIONS, other);
    const hidden = await hub.gql(`mutation($a: ID!) { recomputeHealth(accountId: $a) { score } }`, { a: acme }, scoped);
    expect(hidden.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});

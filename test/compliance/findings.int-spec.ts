import { gqlError, startTestHub, type TestHub } from '../support/test-hub';
import pino from 'pino';
import { Role } from '../../src/auth/role';
import { systemContext } from '../../src/common/context';
import { complianceJobs } from '../../src/compliance/compliance.jobs';
import {
  compact,
  createAccount,
  day,
  findings,
  inMonth,
  isoDate,
  justNow,
  monthStart,
  notifications,
  order,
  recordUsage,
  runCompliance,
  seedComplianceCatalog,
  FINDING,
  type Finding,
} from './compliance-support';

/**
 * Every finding kind from a scenario built through the API (orders, recordUsage, consume,
 * devices, leases, amendments), each leakage amount checked to the minor unit; re-runs
 * update instead of duplicating; statuses; roles and account scope.
 */
let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
  await seedComplianceCatalog(hub);
});
afterAll(async () => hub?.close());

const iso = (d: Date) => d.toISOString();
const midnight = (offset: number) => `${day(offset)}T00:00:00.000Z`;

const SET_STATUS = `mutation($id: ID!, $s: FindingStatus!, $n: String) { setComplianceFindingStatus(id: $id, status: $s, note: $n) { ${FINDING} } }`;

async function consume(accountId: string, feature: string, quantity: number, key: string) {
  return (
    await hub.ok<{ consume: { allowed: boolean; overage: string } }>(
      'mutation($i: ConsumeInput!) { consume(input: $i) { allowed overage } }',
      { i: { accountId, feature, quantity, idempotencyKey: key } },
    )
  ).consume;
}

describe('OVERUSE', () => {
  it('METERED: use above the period limit, from usage events and from consume; leakage = over × list price per unit', async () => {
    const account = await createAccount(hub, 'Metered overuse');
    const { entitlementId } = await order(hub, account, { sku: 'C-METER', overagePolicy: 'ALLOW' });
    // Last month: 1,250 calls reported against a limit of 1,000 per month.
    await recordUsage(hub, account, [
      { meter: 'm.api', quantity: 700, at: inMonth(-1, 10) },
      { meter: 'm.api', quantity: 550, at: inMonth(-1, 11) },
    ]);
    // This month: 1,200 drawn through consume (policy ALLOW lets it through as overage).
    expect(await consume(account, 'c.api', 1200, 'draw-1')).toEqual({ allowed: true, overage: '200' });

    const run = await runCompliance(hub, account);
    const expected = [
      // 250 × 50 000 × 1 ÷ 1 000 = 12 500 ($125.00)
      { entitlementId, featureKey: 'c.api', meterKey: null, periodStart: iso(monthStart(-1)), unit: 'calls', entitled: '1000', used: '1250', over: '250', leakage: '12500' },
      // 200 × 50 = 10 000
      { entitlementId, featureKey: 'c.api', meterKey: null, periodStart: iso(monthStart(0)), unit: 'calls', entitled: '1000', used: '1200', over: '200', leakage: '10000' },
    ];
    expect(compact(run.findings, 'OVERUSE')).toEqual(expected);
    const prior = run.findings.find((f) => f.kind === 'OVERUSE' && f.periodStart === iso(monthStart(-1)))!;
    expect(prior).toMatchObject({
      status: 'OPEN',
      periodEnd: iso(monthStart(0)),
      leakage: { amountMinor: '12500', currency: 'USD' },
      pricing: { formula: 'over × list price × quantity ÷ entitled', sku: 'C-METER', listPriceMinor: '50000', unitPriceMinor: '50', drawn: null, metered: '1250' },
    });
    expect(run.opened).toBe(run.findings.length);

    // Every new finding is raised once as a compliance.finding notification.
    const raised = (await notifications(hub, account)).filter((n) => n.type === 'COMPLIANCE_FINDING');
    expect(raised.map((n) => n.key).sort()).toEqual(run.findings.map((f) => `compliance.finding:${f.id}`).sort());
    expect(raised.find((n) => n.key === `compliance.finding:${prior.id}`)!.payload).toMatchObject({
      findingId: prior.id,
      kind: 'OVERUSE',
      feature: 'c.api',
      over: '250',
      leakage: { amountMinor: '12500', currency: 'USD' },
    });

    // Re-running finds the same findings: nothing new, nothing changed, nothing raised.
    const again = await runCompliance(hub, account);
    expect(again).toMatchObject({ opened: 0, updated: 0, resolved: 0, reopened: 0, unchanged: run.findings.length, notificationsRaised: 0 });
    expect(compact(again.findings, 'OVERUSE')).toEqual(expected);
    expect((await notifications(hub, account)).filter((n) => n.type === 'COMPLIANCE_FINDING')).toHaveLength(raised.length);

    // A late event for last month: the same finding is updated in place.
    await recordUsage(hub, account, [{ meter: 'm.api', quantity: 50, at: inMonth(-1, 12) }]);
    const late = await runCompliance(hub, account);
    expect(late).toMatchObject({ opened: 0, updated: 1, resolved: 0 });
    const updated = late.findings.find((f) => f.id === prior.id)!;
    expect(updated).toMatchObject({ used: '1300', over: '300', leakage: { amountMinor: '15000', currency: 'USD' }, firstSeenAt: prior.firstSeenAt });
    expect(Date.parse(updated.lastSeenAt)).toBeGreaterThan(Date.parse(prior.lastSeenAt));
    const listed = await findings(hub, { accountId: account, kind: 'OVERUSE' });
    expect(listed.totalCount).toBe(2);
    expect(listed.leakageTotals).toEqual([{ amountMinor: '25000', currency: 'USD' }]);
  });

  it('NAMED_USER: more distinct users (case-insensitive) in a month than seats; leakage = extra users × list price', async () => {
    const account = await createAccount(hub, 'Seat sharing');
    const { entitlementId } = await order(hub, account, { sku: 'C-SEAT', quantity: 2, startDate: day(-10) });
    const at = justNow();
    await recordUsage(hub, account, ['ada@x.io', 'Ada@X.io', 'bob@x.io', 'cy@x.io', 'bob@x.io'].map((user) => ({ meter: 'm.seat', at, user })));
    const run = await runCompliance(hub, account);
    expect(compact(run.findings, 'OVERUSE')).toEqual([
      { entitlementId, featureKey: null, meterKey: null, periodStart: iso(monthStart(0)), unit: 'users', entitled: '2', used: '3', over: '1', leakage: '12000' },
    ]);
  });

  it('CONCURRENT: leases still out after a downgrade; leakage = excess licences × list price', async () => {
    const account = await createAccount(hub, 'Floating downgrade');
    const { entitlementId, ref } = await order(hub, account, { sku: 'C-FLOAT', quantity: 3, startDate: day(-10), endDate: day(355) });
    for (const holder of ['h1', 'h2', 'h3']) {
      await hub.ok('mutation($e: ID!, $h: String!) { checkoutLease(entitlementId: $e, holder: $h, ttlSeconds: 3600) { id } }', { e: entitlementId, h: holder });
    }
    expect(compact((await runCompliance(hub, account)).findings, 'OVERUSE')).toEqual([]);
    await order(hub, account, { sku: 'C-FLOAT', action: 'AMENDMENT', amendsLineRef: ref, quantity: 1, startDate: day(-10), endDate: day(355) });
    const run = await runCompliance(hub, account);
    expect(compact(run.findings, 'OVERUSE')).toEqual([
      { entitlementId, featureKey: null, meterKey: null, periodStart: iso(monthStart(0)), unit: 'leases', entitled: '1', used: '3', over: '2', leakage: '60000' },
    ]);
  });

  it('capped feature of a subscription: the largest reading of the month above the limit; leakage per unit of the cap', async () => {
    const account = await createAccount(hub, 'Projects cap');
    const { entitlementId } = await order(hub, account, { sku: 'C-SUB', startDate: day(-10) });
    const at = justNow();
    await recordUsage(hub, account, [
      { meter: 'm.projects', quantity: 8, at },
      { meter: 'm.projects', quantity: 12, at },
      { meter: 'm.core', at },
    ]);
    const run = await runCompliance(hub, account);
    // 2 × 36 500 × 1 ÷ 10 = 7 300
    expect(compact(run.findings, 'OVERUSE')).toEqual([
      { entitlementId, featureKey: 'c.projects', meterKey: 'm.projects', periodStart: iso(monthStart(0)), unit: 'projects', entitled: '10', used: '12', over: '2', leakage: '7300' },
    ]);
  });
});

describe('UNDERUSE', () => {
  it('utilisation below the threshold over the latest complete 30-day window; resolved when late usage lifts it', async () => {
    const account = await createAccount(hub, 'Shelfware');
    const seats = await order(hub, account, { sku: 'C-SEAT', quantity: 10, startDate: day(-45), endDate: day(320) });
    const sub = await order(hub, account, { sku: 'C-SUB', startDate: day(-45), endDate: day(320) });
    const busy = await order(hub, account, { sku: 'C-EXTRA', startDate: day(-45), endDate: day(320) });
    await recordUsage(hub, account, [
      { meter: 'm.seat', at: new Date(`${day(-40)}T12:00:00Z`), user: 'u1@x.io' },
      { meter: 'm.extra', at: new Date(`${day(-40)}T12:00:00Z`), quantity: 5 },
    ]);
    const run = await runCompliance(hub, account);
    const under = run.findings.filter((f) => f.kind === 'UNDERUSE');
    expect(under.map((f) => ({ e: f.entitlementId, unit: f.unit, entitled: f.entitled, used: f.used, utilization: f.utilization, leakage: f.leakage })).sort((a, b) => a.unit.localeCompare(b.unit))).toEqual([
      { e: sub.entitlementId, unit: 'events', entitled: null, used: '0', utilization: '0', leakage: { amountMinor: '0', currency: 'USD' } },
      { e: seats.entitlementId, unit: 'users', entitled: '10', used: '1', utilization: '0.1', leakage: { amountMinor: '0', currency: 'USD' } },
    ]);
    expect(under.every((f) => f.periodStart === midnight(-45) && f.periodEnd === midnight(-15) && f.over === '0')).toBe(true);
    expect(under.some((f) => f.entitlementId === busy.entitlementId)).toBe(false);

    // Two more users turn up late for that window: 3 of 10 = 0.3, no longer shelfware.
    await recordUsage(hub, account, [
      { meter: 'm.seat', at: new Date(`${day(-30)}T12:00:00Z`), user: 'u2@x.io' },
      { meter: 'm.seat', at: new Date(`${day(-30)}T13:00:00Z`), user: 'u3@x.io' },
    ]);
    const again = await runCompliance(hub, account);
    expect(again).toMatchObject({ opened: 0, resolved: 1 });
    const seatFinding = (await findings(hub, { accountId: account, kind: 'UNDERUSE', status: 'RESOLVED' })).items;
    expect(seatFinding).toHaveLength(1);
    expect(seatFinding[0]).toMatchObject({ entitlementId: seats.entitlementId, autoResolved: true, statusChangedByKeyId: null, used: '1' });
    expect((await findings(hub, { accountId: account, kind: 'UNDERUSE', status: 'OPEN' })).items.map((f) => f.entitlementId)).toEqual([sub.entitlementId]);
  });
});

describe('UNENTITLED_USE', () => {
  it('usage of a feature the account never had; leakage at the cheapest product granting it, or unpriced', async () => {
    const account = await createAccount(hub, 'Free rider');
    await recordUsage(hub, account, [
      { meter: 'm.extra', quantity: 60, at: inMonth(-1, 5) },
      { meter: 'm.extra', quantity: 40, at: inMonth(-1, 6) },
      { meter: 'm.orphan', quantity: 7, at: inMonth(-1, 5) },
    ]);
    const run = await runCompliance(hub, account);
    // 100 jobs: C-EXTRA would cost 100 × 9 000 ÷ 300 = 3 000, C-EXTRA-PRO 100 × 20 000 ÷ 1 000 = 2 000.
    expect(compact(run.findings, 'UNENTITLED_USE')).toEqual([
      { entitlementId: null, featureKey: 'c.extra', meterKey: 'm.extra', periodStart: iso(monthStart(-1)), unit: 'jobs', entitled: '0', used: '100', over: '100', leakage: '2000' },
      { entitlementId: null, featureKey: 'c.orphan', meterKey: 'm.orphan', periodStart: iso(monthStart(-1)), unit: 'things', entitled: '0', used: '7', over: '7', leakage: null },
    ]);
    expect(run.findings.find((f) => f.meterKey === 'm.extra')!.pricing).toMatchObject({ sku: 'C-EXTRA-PRO', unitPriceMinor: '20' });
    expect(run.findings.find((f) => f.meterKey === 'm.orphan')!.pricing).toEqual({ formula: 'no active product grants the feature: not priced' });
    expect((await findings(hub, { accountId: account })).leakageTotals).toEqual([{ amountMinor: '2000', currency: 'USD' }]);
  });
});

describe('races', () => {
  it('concurrent runs of one account open each finding once and raise it once', async () => {
    const account = await createAccount(hub, 'Racing');
    await recordUsage(hub, account, [
      { meter: 'm.extra', quantity: 10, at: inMonth(-1, 2) },
      { meter: 'm.orphan', quantity: 1, at: inMonth(-1, 2) },
    ]);
    const runs = await Promise.all(Array.from({ length: 5 }, () => runCompliance(hub, account)));
    expect(runs.reduce((n, r) => n + r.opened, 0)).toBe(2);
    expect((await findings(hub, { accountId: account })).totalCount).toBe(2);
    expect((await notifications(hub, account)).filter((n) => n.type === 'COMPLIANCE_FINDING')).toHaveLength(2);
  });
});

describe('EXPIRED_USE', () => {
  it('usage after the term (and grace) ended; leakage by days of use for a subscription, per unit for metered', async () => {
    const account = await createAccount(hub, 'Lapsed');
    // A 73-day term ending the day before last month began: 36 500 × 2 ÷ 73 = 1 000 a day.
    const endDate = isoDate(new Date(monthStart(-1).getTime() - 86_400_000));
    const startDate = isoDate(new Date(monthStart(-1).getTime() - 73 * 86_400_000));
    const sub = await order(hub, account, { sku: 'C-SUB', quantity: 2, startDate, endDate });
    const meter = await order(hub, account, { sku: 'C-METER', startDate, endDate });
    await recordUsage(hub, account, [
      { meter: 'm.core', at: inMonth(-1, 10, 9) },
      { meter: 'm.core', at: inMonth(-1, 10, 15) },
      { meter: 'm.core', at: inMonth(-1, 11, 9) },
      { meter: 'm.api', quantity: 100, at: inMonth(-1, 12) },
    ]);
    const run = await runCompliance(hub, account);
    expect(compact(run.findings, 'EXPIRED_USE')).toEqual([
      // 100 calls × 50 000 × 1 ÷ 1 000
      { entitlementId: meter.entitlementId, featureKey: 'c.api', meterKey: 'm.api', periodStart: iso(monthStart(-1)), unit: 'calls', entitled: null, used: '100', over: '100', leakage: '5000' },
      // 2 days of use × 36 500 × 2 ÷ 73
      { entitlementId: sub.entitlementId, featureKey: 'c.core', meterKey: 'm.core', periodStart: iso(monthStart(-1)), unit: 'sessions', entitled: null, used: '3', over: '3', leakage: '2000' },
    ]);
    expect(run.findings.find((f) => f.meterKey === 'm.core')!.pricing).toMatchObject({ daysOfUse: 2, termDays: 73, sku: 'C-SUB' });
    expect(compact(run.findings, 'UNENTITLED_USE')).toEqual([]);
  });
});

describe('DEVICE_OVER_LIMIT', () => {
  it('more active devices than a downgraded quantity; resolved when devices go, reopened when they are back', async () => {
    const account = await createAccount(hub, 'Too many devices');
    const { entitlementId, ref } = await order(hub, account, { sku: 'C-DEV', quantity: 3, startDate: day(-10), endDate: day(355) });
    const activate = (fp: string) => hub.ok('mutation($e: ID!, $f: String!) { activateDevice(entitlementId: $e, fingerprint: $f) { id } }', { e: entitlementId, f: fp });
    const deactivate = (fp: string) => hub.ok('mutation($e: ID!, $f: String!) { deactivateDevice(entitlementId: $e, fingerprint: $f) { id } }', { e: entitlementId, f: fp });
    const amend = (quantity: number) => order(hub, account, { sku: 'C-DEV', action: 'AMENDMENT', amendsLineRef: ref, quantity, startDate: day(-10), endDate: day(355) });
    for (const fp of ['fp-1', 'fp-2', 'fp-3']) await activate(fp);
    await amend(1);

    const run = await runCompliance(hub, account);
    expect(compact(run.findings, 'DEVICE_OVER_LIMIT')).toEqual([
      { entitlementId, featureKey: null, meterKey: null, periodStart: iso(monthStart(0)), unit: 'devices', entitled: '1', used: '3', over: '2', leakage: '40000' },
    ]);
    const id = run.findings.find((f) => f.kind === 'DEVICE_OVER_LIMIT')!.id;

    await deactivate('fp-2');
    await deactivate('fp-3');
    expect(await runCompliance(hub, account)).toMatchObject({ resolved: 1, opened: 0 });
    expect((await findings(hub, { accountId: account, kind: 'DEVICE_OVER_LIMIT' })).items[0]).toMatchObject({ id, status: 'RESOLVED', autoResolved: true });

    await amend(3);
    await activate('fp-4');
    await activate('fp-5');
    await amend(2);
    const back = await runCompliance(hub, account);
    expect(back).toMatchObject({ reopened: 1, opened: 0 });
    expect(back.findings.find((f) => f.kind === 'DEVICE_OVER_LIMIT')).toMatchObject({ id, status: 'OPEN', autoResolved: false, used: '3', entitled: '2', over: '1' });
  });
});

describe('status, filters, roles and scope', () => {
  let account: string;
  let finding: Finding;
  beforeAll(async () => {
    account = await createAccount(hub, 'Reviewed');
    await recordUsage(hub, account, [{ meter: 'm.extra', quantity: 30, at: inMonth(-1, 3) }]);
    finding = (await runCompliance(hub, account)).findings.find((f) => f.kind === 'UNENTITLED_USE')!;
  });

  it('changes the status with a note, records who and when, is idempotent and audited', async () => {
    const acked = (await hub.ok<{ setComplianceFindingStatus: Finding }>(SET_STATUS, { id: finding.id, s: 'ACKNOWLEDGED', n: ' Sales is calling them ' }))
      .setComplianceFindingStatus;
    const me = (await hub.ok<{ me: { id: string } }>('{ me { id } }')).me;
    expect(acked).toMatchObject({ status: 'ACKNOWLEDGED', statusNote: 'Sales is calling them', statusChangedByKeyId: me.id, autoResolved: false });
    const again = (await hub.ok<{ setComplianceFindingStatus: Finding }>(SET_STATUS, { id: finding.id, s: 'ACKNOWLEDGED', n: 'Sales is calling them' }))
      .setComplianceFindingStatus;
    expect(again.statusChangedAt).toBe(acked.statusChangedAt);
    const audit: { action: string; before: { status: string }; after: { status: string } }[] = await hub.ds.query(
      `SELECT action, before, after FROM audit_log WHERE entity = 'ComplianceFinding' AND entity_id = $1`,
      [finding.id],
    );
    expect(audit.map((a) => [a.action, a.before.status, a.after.status])).toEqual([['STATUS', 'OPEN', 'ACKNOWLEDGED']]);

    // A person's RESOLVED stands: a re-run that still finds the condition does not reopen it.
    await hub.ok(SET_STATUS, { id: finding.id, s: 'RESOLVED', n: 'Bought C-EXTRA-PRO' });
    const rerun = await runCompliance(hub, account);
    expect(rerun).toMatchObject({ opened: 0, reopened: 0, resolved: 0 });
    expect(rerun.findings.find((f) => f.id === finding.id)).toMatchObject({ status: 'RESOLVED', statusNote: 'Bought C-EXTRA-PRO' });
  });

  it('filters by kind, status, period and account', async () => {
    const all = await findings(hub, { accountId: account });
    expect(all.items.map((f) => f.id)).toEqual([finding.id]);
    expect((await findings(hub, { accountId: account, kind: 'OVERUSE' })).totalCount).toBe(0);
    expect((await findings(hub, { accountId: account, status: 'OPEN' })).totalCount).toBe(0);
    expect((await findings(hub, { accountId: account, from: iso(monthStart(-1)), to: iso(monthStart(0)) })).totalCount).toBe(1);
    expect((await findings(hub, { accountId: account, from: iso(monthStart(0)) })).totalCount).toBe(0);
    expect((await findings(hub, { accountId: account, to: iso(monthStart(-1)) })).totalCount).toBe(0);
    const bad = await hub.gql(`{ complianceFindings(filter: { from: "2027-02-01T00:00:00Z", to: "2027-01-01T00:00:00Z" }) { totalCount } }`);
    expect(gqlError(bad)).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'COMPLIANCE_RANGE_INVALID' });
  });

  it('ANALYST reads; only ADMIN and OPERATIONS run compliance and change statuses', async () => {
    const analyst = await hub.createKey(Role.ANALYST);
    const operations = await hub.createKey(Role.OPERATIONS);
    expect((await findings(hub, { accountId: account }, analyst)).totalCount).toBe(1);
    expect(gqlError(await hub.gql('mutation($a: ID!) { runCompliance(accountId: $a) { opened } }', { a: account }, analyst)).code).toBe('FORBIDDEN');
    expect(gqlError(await hub.gql(SET_STATUS, { id: finding.id, s: 'OPEN' }, analyst)).code).toBe('FORBIDDEN');
    expect((await runCompliance(hub, account, operations)).opened).toBe(0);
    const unknown = await hub.gql(SET_STATUS, { id: '00000000-0000-4000-8000-000000000000', s: 'OPEN' });
    expect(gqlError(unknown)).toMatchObject({ code: 'NOT_FOUND', subCode: 'COMPLIANCEFINDING_NOT_FOUND' });
  });

  it("a key scoped to another account sees none of this account's findings and cannot touch them", async () => {
    const other = await createAccount(hub, 'Other');
    const scoped = await hub.createKey(Role.ADMIN, other);
    expect((await findings(hub, {}, scoped)).totalCount).toBe(0);
    expect(gqlError(await hub.gql(`query($f: ComplianceFindingFilterInput) { complianceFindings(filter: $f) { totalCount } }`, { f: { accountId: account } }, scoped))).toMatchObject({
      code: 'NOT_FOUND',
      subCode: 'ACCOUNT_NOT_FOUND',
    });
    expect(gqlError(await hub.gql('mutation($a: ID!) { runCompliance(accountId: $a) { opened } }', { a: account }, scoped))).toMatchObject({ code: 'NOT_FOUND' });
    const denied = await hub.gql(SET_STATUS, { id: finding.id, s: 'OPEN' }, scoped);
    expect(gqlError(denied)).toMatchObject({ code: 'NOT_FOUND', subCode: 'COMPLIANCEFINDING_NOT_FOUND' });
    expect(JSON.stringify(denied)).not.toContain(account);
    expect(gqlError(await hub.gql('query($a: ID) { notifications(accountId: $a) { totalCount } }', { a: account }, scoped)).code).toBe('NOT_FOUND');
    expect((await hub.ok<{ notifications: { totalCount: number } }>('{ notifications { totalCount } }', {}, scoped)).notifications.totalCount).toBe(0);
  });
});

describe('the jobs', () => {
  it('the nightly job runs every account; after the runs above it finds nothing new; the threshold job runs too', async () => {
    const log = pino({ level: 'silent' });
    const [nightly, thresholds] = complianceJobs(hub.services, log);
    expect([nightly!.id, nightly!.schedule, thresholds!.id, thresholds!.schedule]).toEqual(['compliance', '0 2 * * *', 'compliance-thresholds', '*/5 * * * *']);
    const signal = new AbortController().signal;
    await nightly!.execute(signal);
    await thresholds!.execute(signal);
    const again = await hub.services.compliance.runAll(systemContext(log, 'job:compliance'));
    const accounts: { n: number }[] = await hub.ds.query('SELECT count(*)::int AS n FROM account');
    expect(again).toEqual({ accounts: accounts[0]!.n, opened: 0, resolved: 0, notificationsRaised: 0 });
  });

  it('lists findings with their accounts in a fixed number of statements', async () => {
    const query = `{ complianceFindings(first: 100) { totalCount leakageTotals { amountMinor currency } edges { node { id kind leakage { amountMinor } account { name } } } } }`;
    await hub.ok(query); // warm the key cache
    const { result, count } = await hub.countQueries(() => hub.ok<{ complianceFindings: { edges: unknown[] } }>(query));
    expect(result.complianceFindings.edges.length).toBeGreaterThan(10);
    expect(count).toBeLessThanOrEqual(4);
  });
});

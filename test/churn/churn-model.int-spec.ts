import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { systemContext } from '../../src/common/context';
import { generateBook } from '../../src/churn/book-generator';
import { FEATURES, labelledSamples, openSamples, type TermSample } from '../../src/churn/churn.features';
import { sigmoid } from '../../src/churn/logistic';
import { timeSplit, trainChurn } from '../../src/churn/churn.model';
import { startTestHub, type TestHub } from '../support/test-hub';

/**
 * The churn model on a generated book (docs/churn.md): validated on a time split, better
 * than the rules-only score, no better than chance on shuffled labels, features that ignore
 * everything after their snapshot, contributions that add up, and an ARR forecast whose
 * outcomes are recorded.
 */
const ctxOf = () => systemContext(pino({ level: 'silent' }), 'test:churn');
const today = () => new Date().toISOString().slice(0, 10);
const addDays = (d: string, n: number) => new Date(Date.parse(`${d}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

const REPORT = `{ status message labelledTerms minLabelledTerms version trainingWindowFrom trainingWindowTo testWindowFrom testWindowTo
  trainSamples calibrationSamples testSamples trainAccounts testAccounts testChurnRate converged iterations lambda baselineName intercept plattA plattB
  coefficients { feature coefficient mean sd }
  model { auc topDecileLift brier calibration { from to count meanPredicted observedRate } }
  rulesBaseline { auc topDecileLift brier } daysToRenewal { auc topDecileLift brier } }`;

interface Report {
  status: string;
  message: string;
  labelledTerms: number;
  version: number | null;
  testSamples: number;
  trainSamples: number;
  converged: boolean;
  model: { auc: number; topDecileLift: number; brier: number; calibration: { count: number }[] } | null;
  rulesBaseline: { auc: number; topDecileLift: number; brier: number } | null;
  daysToRenewal: { auc: number; topDecileLift: number; brier: number } | null;
}

describe('churn model', () => {
  let hub: TestHub;
  let samples: TermSample[];
  let trained: Report;

  beforeAll(async () => {
    hub = await startTestHub();
    await generateBook(hub.services, ctxOf(), { accounts: 600, years: 3, seed: 2026 });
    samples = await labelledSamples(hub.ds.manager, today());
    trained = (await hub.ok<{ trainChurnModel: Report }>(`mutation { trainChurnModel ${REPORT} }`)).trainChurnModel;
  }, 240_000);

  afterAll(async () => {
    await hub?.close();
  });

  it('reports AUC, lift, Brier and calibration on the test split, and beats the rules-only score', async () => {
    console.log(`churn model on a 600-account book: ${JSON.stringify({ ...trained, model: { ...trained.model, calibration: undefined } })}`);
    expect(trained.status).toBe('READY');
    expect(trained.version).toBe(1);
    expect(trained.converged).toBe(true);
    expect(trained.labelledTerms).toBe(samples.length);
    expect(trained.testSamples).toBeGreaterThan(100);
    expect(trained.model!.calibration.reduce((a, b) => a + b.count, 0)).toBe(trained.testSamples);
    expect(trained.model!.auc).toBeGreaterThan(0.7);
    // The rules-only baseline is the health score's rules as of each snapshot (src/churn/health-baseline.ts).
    expect((trained as Report & { baselineName: string }).baselineName).toBe('health score (rules only, as of the snapshot)');
    expect(trained.model!.auc).toBeGreaterThan(trained.rulesBaseline!.auc);
    expect(trained.model!.brier).toBeLessThan(trained.rulesBaseline!.brier);
    // Every term is scored 90 days before its end: days to renewal alone cannot rank them.
    expect(trained.daysToRenewal!.auc).toBe(0.5);
    // The query shows the stored version.
    const { churnModel } = await hub.ok<{ churnModel: Report }>(`{ churnModel ${REPORT} }`);
    expect(churnModel).toEqual(trained);
  });

  it('with the labels shuffled, the test AUC is chance: 0.5 ± 0.05 (mean of 20 seeded shuffles; each within ± 0.15)', () => {
    const aucs = Array.from({ length: 20 }, (_, i) => trainChurn(samples, { shuffleSeed: i + 1 }).figures.model.auc!);
    const mean = aucs.reduce((a, v) => a + v, 0) / aucs.length;
    console.log(`shuffled-label test AUCs: mean ${mean.toFixed(3)}, min ${Math.min(...aucs).toFixed(3)}, max ${Math.max(...aucs).toFixed(3)}`);
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
    for (const a of aucs) expect(Math.abs(a - 0.5)).toBeLessThan(0.15);
  });

  it('keeps each account on one side of the time split, training on older term ends than it tests', () => {
    const { train, test, splitDate } = timeSplit(samples);
    const trainAccounts = new Set(train.map((s) => s.accountId));
    expect(test.filter((s) => trainAccounts.has(s.accountId))).toEqual([]);
    expect(train.every((s) => s.termEnd < splitDate)).toBe(true);
    expect(test.every((s) => s.termEnd >= splitDate)).toBe(true);
    expect(train.length).toBeGreaterThan(200);
  });

  it('splits the same way whatever the account ids are: the coin hashes the account\'s stable key (its first external reference)', () => {
    // The book references each account as book-2026 / Account / A<n>.
    expect(samples.filter((s) => !/^book-2026:Account:A\d+$/.test(s.accountKey ?? ''))).toEqual([]);
    const first = timeSplit(samples);
    // New random ids for every account (as a second generation of the same book would get).
    const ids = new Map([...new Set(samples.map((s) => s.accountId))].map((id) => [id, randomUUID()]));
    const again = timeSplit(samples.map((s) => ({ ...s, accountId: ids.get(s.accountId)! })));
    expect(again.test.map((s) => s.lineId)).toEqual(first.test.map((s) => s.lineId));
    expect(again.train.map((s) => s.lineId)).toEqual(first.train.map((s) => s.lineId));
    // Both sides get accounts with terms on both sides of the split date (the coin decides).
    const split = new Set(samples.filter((s) => s.termEnd < first.splitDate).map((s) => s.accountId));
    const straddling = new Set(samples.filter((s) => s.termEnd >= first.splitDate && split.has(s.accountId)).map((s) => s.accountId));
    const tested = new Set(first.test.map((s) => s.accountId));
    expect([...straddling].some((a) => tested.has(a))).toBe(true);
    expect([...straddling].some((a) => !tested.has(a))).toBe(true);
  });

  it('computes features from data before the snapshot only: usage, seats, devices, leases and findings after it change nothing', async () => {
    const pick = (model: string) => samples.find((s) => s.model === model && s.termEnd < addDays(today(), -10))!;
    const chosen = ['NAMED_USER', 'DEVICE_LOCKED', 'CONCURRENT', 'METERED'].map(pick);
    const before = new Map(samples.map((s) => [s.lineId, s.values]));
    const m = hub.ds.manager;
    for (const s of chosen) {
      const after = new Date(s.snapshot.getTime() + 3_600_000); // an hour after the snapshot
      await m.query(
        `INSERT INTO usage_rollup (account_id, meter_id, granularity, bucket, entitlement_id, deployment, sum, count, max)
         SELECT $1, (SELECT id FROM meter WHERE key = 'active.users'), 'D', d, $2, 'SAAS', 1e9, 1e9, 1e9
           FROM generate_series(date_trunc('day', $3::timestamptz) + interval '1 day', $3::timestamptz + interval '60 days', interval '1 day') d
         ON CONFLICT DO NOTHING`,
        [s.accountId, s.entitlementId, after],
      );
      await m.query(`INSERT INTO seat (entitlement_id, account_id, email, assigned_at) SELECT $1, $2, 'late' || i || '@x.example', $3 FROM generate_series(1, 50) i`, [s.entitlementId, s.accountId, after]);
      await m.query(`INSERT INTO activation (entitlement_id, account_id, fingerprint, activated_at, last_seen_at) SELECT $1, $2, 'late-' || i, $3, $3 FROM generate_series(1, 50) i`, [s.entitlementId, s.accountId, after]);
      await m.query(`INSERT INTO lease (entitlement_id, account_id, holder, ttl_seconds, checked_out_at, expires_at) SELECT $1, $2, 'late-' || i, 60, $3, $3 FROM generate_series(1, 50) i`, [s.entitlementId, s.accountId, after]);
      await m.query(
        `INSERT INTO compliance_finding (kind, account_id, entitlement_id, period_start, unit, used, first_seen_at, last_seen_at) VALUES ('OVERUSE', $1, $2, $3, 'units', 1, $3, $3)`,
        [s.accountId, s.entitlementId, after],
      );
      // Seats released after the snapshot were in use at it: releasing them all now changes nothing either.
      await m.query(`UPDATE seat SET released_at = $2 WHERE entitlement_id = $1 AND released_at IS NULL`, [s.entitlementId, after]);
    }
    // Every term whose snapshot precedes what was added keeps its features: the chosen ones, and all others of
    // those accounts up to then (a later term of the same account may see the additions: they precede its snapshot).
    const addedAt = new Map(chosen.map((s) => [s.accountId, s.snapshot.getTime() + 3_600_000]));
    const again = (await labelledSamples(m, today())).filter((s) => s.snapshot.getTime() <= (addedAt.get(s.accountId) ?? Infinity));
    expect(again.length).toBeGreaterThan(samples.length / 2);
    for (const c of chosen) expect(again.map((s) => s.lineId)).toContain(c.lineId);
    for (const s of again) expect({ line: s.lineId, values: s.values }).toEqual({ line: s.lineId, values: before.get(s.lineId) });

    // The check can fail: the same usage a day before the snapshot changes the named-user term's features.
    const s = chosen[0]!;
    await m.query(
      `INSERT INTO seat (entitlement_id, account_id, email, assigned_at) SELECT $1, $2, 'early' || i || '@x.example', $3 FROM generate_series(1, 5) i`,
      [s.entitlementId, s.accountId, new Date(s.snapshot.getTime() - 86_400_000)],
    );
    const changed = (await labelledSamples(m, today())).find((x) => x.lineId === s.lineId)!;
    expect(changed.values[FEATURES.indexOf('utilisation')]).not.toEqual(before.get(s.lineId)![FEATURES.indexOf('utilisation')]);
  });

  it('reads overdue receivables as they stood at the snapshot: a payment recorded after it changes nothing, one before it does', async () => {
    const k = FEATURES.indexOf('overdue_receivables');
    const overdue = samples.filter((s) => (s.values[k] ?? 0) > 0);
    // The slow payers' invoices are open past their due date at many snapshots; the rest are paid.
    expect(overdue.length).toBeGreaterThan(10);
    expect(samples.filter((s) => s.values[k] === 0).length).toBeGreaterThan(overdue.length);
    const s = overdue[0]!;
    const day = (d: Date) => d.toISOString().slice(0, 10);
    const snapDay = day(s.snapshot);
    // Its invoices open at the snapshot and due before it: the oldest one sets the value.
    const open: { id: string; due: string }[] = await hub.ds.query(
      `SELECT r.id, r.due_date::text AS due FROM receivable r
        WHERE r.account_id = $1 AND r.kind = 'INVOICE' AND r.due_date < $2::date
          AND (SELECT h.open_minor FROM receivable_history h WHERE h.receivable_id = r.id AND h.valid_from < $3 ORDER BY h.valid_from DESC LIMIT 1) > 0
        ORDER BY r.due_date`,
      [s.accountId, snapDay, s.snapshot],
    );
    expect(open.length).toBeGreaterThan(0);
    const days = (Date.parse(`${snapDay}T00:00:00Z`) - Date.parse(`${open[0]!.due}T00:00:00Z`)) / 86_400_000;
    expect(s.values[k]).toBeCloseTo(Math.log(1 + days), 10);
    const valueNow = async () => (await labelledSamples(hub.ds.manager, today())).find((x) => x.lineId === s.lineId)!.values[k];
    // The ERP reports them paid an hour after the snapshot (as a pull would: the document's modification instant).
    const ids = open.map((o) => o.id);
    await hub.ds.query(`UPDATE receivable SET open_minor = 0, status = 'PAID', modified_at = $2 WHERE id = ANY($1::uuid[]) AND modified_at < $2`, [
      ids,
      new Date(s.snapshot.getTime() + 3_600_000),
    ]);
    expect(await valueNow()).toBe(s.values[k]);
    // Paid a day before the snapshot instead: known at it, so nothing is overdue any more.
    await hub.ds.query(
      `INSERT INTO receivable_history (receivable_id, valid_from, open_minor, status, deleted) SELECT id, $2, 0, 'PAID', false FROM unnest($1::uuid[]) id`,
      [ids, new Date(s.snapshot.getTime() - 86_400_000)],
    );
    expect(await valueNow()).toBe(0);
  });

  it('gives every account with an open term a churn risk whose contributions and intercept add up to its log-odds', async () => {
    const ids: string[] = (await hub.ds.query(`SELECT id FROM account ORDER BY id`)).map((r: { id: string }) => r.id);
    const risks = await hub.services.churn.risks(ids);
    const scored = risks.filter((r) => r !== null);
    expect(scored.length).toBeGreaterThan(100);
    const model = (await hub.services.churn.latestModel())!;
    for (const r of scored) {
      expect(r.source).toBe('MODEL');
      expect(r.contributions.map((c) => c.feature)).toEqual([...FEATURES]);
      expect(r.intercept! + r.contributions.reduce((a, c) => a + c.contribution, 0)).toBeCloseTo(r.logOdds!, 9);
      expect(r.probability).toBeCloseTo(sigmoid(model.plattA * r.logOdds! + model.plattB), 12);
      expect(r.band).toBe(r.probability < 0.2 ? 'LOW' : r.probability < 0.5 ? 'MEDIUM' : 'HIGH');
    }
    // Each account is scored on its open term ending soonest, as all open terms' features say (the SQL picks it before computing features).
    const all = await openSamples(hub.ds.manager, today(), new Date(), ids);
    for (const [i, r] of risks.entries()) {
      const mine = all.filter((x) => x.accountId === ids[i]);
      if (!mine.length) {
        expect(r).toBeNull();
        continue;
      }
      const end = mine.map((x) => x.termEnd).sort()[0]!;
      const best = mine.filter((x) => x.termEnd === end).sort((x, y) => y.arrMinor - x.arrMinor)[0]!;
      expect({ termEnd: r!.termEnd, sku: r!.sku }).toEqual({ termEnd: best.termEnd, sku: best.sku });
    }
    // Over GraphQL, on a page of accounts (one feature query for the page).
    const page = await hub.ok<{ accounts: { edges: { node: { id: string; churnRisk: { probability: number; logOdds: number; intercept: number; contributions: { contribution: number }[] } | null } }[] } }>(
      `{ accounts(first: 50) { edges { node { id churnRisk { probability band source modelVersion logOdds intercept sku termEnd contributions { feature value contribution } } } } } }`,
    );
    const withRisk = page.accounts.edges.filter((e) => e.node.churnRisk);
    expect(withRisk.length).toBeGreaterThan(10);
    for (const { node } of withRisk) {
      const r = node.churnRisk!;
      expect(r.intercept + r.contributions.reduce((a, c) => a + c.contribution, 0)).toBeCloseTo(r.logOdds, 9);
    }
  });

  it('forecasts renewing ARR by month and, once the terms have ended, records the outcome and the error', async () => {
    // A snapshot from 200 days ago: its first months are over by now.
    const past = addDays(today(), -200);
    const { snapshotArrForecast: snap } = await hub.ok<{ snapshotArrForecast: { snapshotId: string; months: Month[] } }>(
      `mutation($d: String) { snapshotArrForecast(asOf: $d) { snapshotId asOf source modelVersion months { month currency terms arrUpForRenewalMinor expectedRenewingArrMinor settledTerms actualRenewedArrMinor errorMinor } } }`,
      { d: past },
    );
    expect(snap.months.length).toBeGreaterThanOrEqual(12);
    expect(snap.months.length).toBeLessThanOrEqual(13);
    for (const m of snap.months) expect(BigInt(m.expectedRenewingArrMinor)).toBeLessThanOrEqual(BigInt(m.arrUpForRenewalMinor));
    // Months over: the actual is the ARR of the terms that renewed, by the hub's records.
    const over = snap.months.filter((m) => m.actualRenewedArrMinor !== null);
    expect(over.length).toBeGreaterThanOrEqual(4);
    for (const m of over) {
      const [truth] = await hub.ds.query(
        `SELECT coalesce(sum(i.arr_minor) FILTER (WHERE EXISTS (SELECT 1 FROM order_line r WHERE r.renews_line_id = i.order_line_id)), 0)::text AS renewed
           FROM arr_forecast_item i WHERE i.snapshot_id = $1 AND i.month = $2`,
        [snap.snapshotId, m.month],
      );
      expect(m.actualRenewedArrMinor).toBe(truth.renewed);
      expect(BigInt(m.errorMinor!)).toBe(BigInt(m.expectedRenewingArrMinor) - BigInt(m.actualRenewedArrMinor!));
    }
    // Today's forecast: nothing has ended yet; the query answers the latest snapshot.
    await hub.ok(`mutation { snapshotArrForecast { snapshotId } }`);
    const { arrForecast } = await hub.ok<{ arrForecast: { asOf: string; months: Month[] } }>(`{ arrForecast { asOf months { month actualRenewedArrMinor } } }`);
    expect(arrForecast.asOf).toBe(today());
    expect(arrForecast.months.every((m) => m.actualRenewedArrMinor === null)).toBe(true);
    const { arrForecast: old } = await hub.ok<{ arrForecast: { asOf: string } }>(`query($d: String) { arrForecast(asOf: $d) { asOf } }`, { d: addDays(past, 1) });
    expect(old.asOf).toBe(past);
    // `renewalForecast` (the name in DESIGN.md's list) answers exactly what `arrForecast` does.
    const both = await hub.ok<{ a: unknown; r: unknown }>(
      `query($d: String) { a: arrForecast(asOf: $d) { asOf months { month terms expectedRenewingArrMinor actualRenewedArrMinor } } r: renewalForecast(asOf: $d) { asOf months { month terms expectedRenewingArrMinor actualRenewedArrMinor } } }`,
      { d: addDays(past, 1) },
    );
    expect(both.r).toEqual(both.a);
    expect((both.r as { asOf: string }).asOf).toBe(past);
  });

  it('a new model version tells the sync that every account with an open term has a new prediction (churn.changed)', async () => {
    const seen: string[][] = [];
    hub.services.db.events.subscribe('test-churn-spy', async (_m, events) => {
      for (const e of events) if (e.kind === 'churn.changed') seen.push([...e.accountIds]);
    });
    const { trainChurnModel } = await hub.ok<{ trainChurnModel: Report }>(`mutation { trainChurnModel { version } }`);
    expect(trainChurnModel.version).toBe(2);
    // The accounts Account.churnRisk scores: those with an open term.
    const accounts: { id: string }[] = await hub.ds.query(`SELECT id FROM account`);
    const risks = await hub.services.churn.risks(accounts.map((a) => a.id));
    const scored = risks.filter((r) => r !== null).map((r) => r!.accountId).sort();
    expect(scored.length).toBeGreaterThan(100);
    expect(seen).toHaveLength(1);
    expect([...seen[0]!].sort()).toEqual(scored);
  });
});

interface Month {
  month: string;
  terms: number;
  arrUpForRenewalMinor: string;
  expectedRenewingArrMinor: string;
  settledTerms: number;
  actualRenewedArrMinor: string | null;
  errorMinor: string | null;
}

describe('churn model with too few labelled terms', () => {
  let hub: TestHub;

  beforeAll(async () => {
    hub = await startTestHub();
    await generateBook(hub.services, ctxOf(), { accounts: 20, years: 2, seed: 3 });
  }, 120_000);

  afterAll(async () => {
    await hub?.close();
  });

  it('says so, stores no model, and scores accounts with the rules-only score', async () => {
    const { trainChurnModel } = await hub.ok<{ trainChurnModel: Report & { minLabelledTerms: number } }>(`mutation { trainChurnModel ${REPORT} }`);
    expect(trainChurnModel.status).toBe('INSUFFICIENT_DATA');
    expect(trainChurnModel.minLabelledTerms).toBe(200);
    expect(trainChurnModel.labelledTerms).toBeLessThan(200);
    expect(trainChurnModel.message).toContain(`Only ${trainChurnModel.labelledTerms} labelled terms`);
    expect(trainChurnModel.version).toBeNull();
    expect((await hub.ds.query(`SELECT count(*)::int AS n FROM churn_model`))[0].n).toBe(0);
    const page = await hub.ok<{ accounts: { edges: { node: { churnRisk: { source: string; probability: number; contributions: unknown[]; logOdds: number | null } | null } }[] } }>(
      `{ accounts(first: 20) { edges { node { churnRisk { source probability contributions { feature } logOdds } } } } }`,
    );
    const risks = page.accounts.edges.map((e) => e.node.churnRisk).filter((r) => r !== null);
    expect(risks.length).toBeGreaterThan(0);
    for (const r of risks) expect(r).toMatchObject({ source: 'BASELINE', contributions: [], logOdds: null });
    // Bad input changes nothing.
    const bad = await hub.gql(`mutation { trainChurnModel(asOf: "2026-13-45") { status } }`);
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'CHURN_BAD_DATE' });
    // Analysts read the model; they may not train one.
    const analyst = await hub.createKey('ANALYST' as never);
    expect((await hub.gql(`{ churnModel { status } }`, {}, analyst)).errors).toBeUndefined();
    expect((await hub.gql(`mutation { trainChurnModel { status } }`, {}, analyst)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

import type { EntityManager } from 'typeorm';
import type { Config } from '../config';
import { minorToMajor } from '../common/money';
import type { RequestContext } from '../common/context';
import { badInput } from '../common/errors';
import type { Db } from '../db/db';
import { assertAccountVisible } from '../auth/scope';
import { labelledSamples, openSamples, openTermAccounts, soonestOpenSamples, type TermSample } from './churn.features';
import { explain, probability, RULES_BASELINE, trainChurn, type BaselineScorer, type Figures, type StoredModel, type TrainResult } from './churn.model';

export type RiskBand = 'LOW' | 'MEDIUM' | 'HIGH';
/** P(churn) below 0.2 is LOW, below 0.5 MEDIUM, else HIGH. */
export const bandOf = (p: number): RiskBand => (p < 0.2 ? 'LOW' : p < 0.5 ? 'MEDIUM' : 'HIGH');

export interface ModelVersion extends StoredModel {
  version: number;
  trainedAt: Date;
  asOf: string;
  windowFrom: string;
  windowTo: string;
  lambda: number;
  iterations: number;
  metrics: ModelMetrics;
}

export interface ModelMetrics {
  converged: boolean;
  testFrom: string;
  testTo: string;
  counts: TrainResult['counts'];
  figures: { model: Figures; rules: Figures; daysToRenewal: Figures };
  baselineName: string;
}

export interface ChurnModelReport {
  status: 'READY' | 'INSUFFICIENT_DATA';
  message: string;
  labelledTerms: number;
  minLabelledTerms: number;
  model: ModelVersion | null;
}

export interface ChurnRiskResult {
  accountId: string;
  probability: number;
  band: RiskBand;
  source: 'MODEL' | 'BASELINE';
  modelVersion: number | null;
  logOdds: number | null;
  intercept: number | null;
  contributions: { feature: string; value: number | null; contribution: number }[];
  sku: string;
  termEnd: string;
  asOf: Date;
}

export interface ForecastMonth {
  month: string;
  currency: string;
  terms: number;
  arrUpForRenewalMinor: string;
  expectedRenewingArrMinor: string;
  settledTerms: number;
  actualRenewedArrMinor: string | null;
  errorMinor: string | null;
}

export interface ArrForecastResult {
  snapshotId: string | null;
  takenAt: Date;
  asOf: string;
  modelVersion: number | null;
  source: 'MODEL' | 'BASELINE';
  months: ForecastMonth[];
}

interface ModelRow {
  version: number;
  trained_at: Date;
  as_of: string;
  window_from: string;
  window_to: string;
  features: string[];
  means: number[];
  sds: number[];
  coefficients: number[];
  intercept: number;
  platt_a: number;
  platt_b: number;
  lambda: number;
  iterations: number;
  metrics: ModelMetrics;
}

const toVersion = (r: ModelRow): ModelVersion => ({
  version: r.version,
  trainedAt: r.trained_at,
  asOf: r.as_of,
  windowFrom: r.window_from,
  windowTo: r.window_to,
  features: r.features,
  means: r.means.map(Number),
  sds: r.sds.map(Number),
  coefficients: r.coefficients.map(Number),
  intercept: Number(r.intercept),
  plattA: Number(r.platt_a),
  plattB: Number(r.platt_b),
  lambda: Number(r.lambda),
  iterations: r.iterations,
  metrics: r.metrics,
});

const MODEL_COLUMNS = `version, trained_at, as_of::text AS as_of, window_from::text AS window_from, window_to::text AS window_to, features, means, sds,
                       coefficients, intercept, platt_a, platt_b, lambda, iterations, metrics`;

/** The latest stored model version, or null while none is trained. */
async function readLatestModel(manager: EntityManager): Promise<ModelVersion | null> {
  const [r]: ModelRow[] = await manager.query(`SELECT ${MODEL_COLUMNS} FROM churn_model ORDER BY version DESC LIMIT 1`);
  return r ? toVersion(r) : null;
}

/** Of each account, its open term ending soonest (the larger ARR on a tie): the term churn risk is about. */
function soonestTerms(samples: TermSample[]): Map<string, TermSample> {
  const soonest = new Map<string, TermSample>();
  for (const s of samples) {
    const cur = soonest.get(s.accountId);
    if (!cur || s.termEnd < cur.termEnd || (s.termEnd === cur.termEnd && s.arrMinor > cur.arrMinor)) soonest.set(s.accountId, s);
  }
  return soonest;
}

/** What the CRM/ERP account fields carry of churn (docs/churn.md, "In the CRM"). */
export interface ChurnAccountFields {
  churnRisk?: string;
  churnProbability?: number | null;
  forecastArr?: string;
}

/**
 * The churn figures the sync sends with an account's fields, for a batch of accounts, in two
 * or three statements: the latest model's band and probability (rounded to three decimals)
 * of each account it scores — as `Account.churnRisk` answers with source MODEL — and the
 * expected renewing ARR of the latest ARR forecast snapshot (as of today or before). The
 * returned function answers per account, given the currency of its ARR and whether a health
 * band already stands for its risk: without a model score the probability is cleared when a
 * health band is sent, and left alone otherwise; `forecastArr` is absent until a snapshot
 * exists (0 for an account with no term in it), in that currency only.
 */
export async function churnAccountFields(manager: EntityManager, accountIds: readonly string[], at: Date = new Date()): Promise<(accountId: string, currency: string, healthBand: boolean) => ChurnAccountFields> {
  const model = await readLatestModel(manager);
  const scored = new Map<string, { band: RiskBand; probability: number }>();
  if (model && accountIds.length) {
    const samples = await soonestOpenSamples(manager, at.toISOString().slice(0, 10), at, [...accountIds]);
    for (const [id, s] of soonestTerms(samples)) {
      const p = probability(model, explain(model, s).logOdds);
      scored.set(id, { band: bandOf(p), probability: Math.round(p * 1000) / 1000 });
    }
  }
  const [snap]: { id: string }[] = await manager.query(
    `SELECT id::text FROM arr_forecast_snapshot WHERE as_of <= $1::date ORDER BY as_of DESC, id DESC LIMIT 1`,
    [at.toISOString().slice(0, 10)],
  );
  const expected = new Map<string, string>();
  if (snap && accountIds.length) {
    const rows: { account_id: string; currency: string; expected: string }[] = await manager.query(
      `SELECT account_id, currency, round(sum(arr_minor * p_renew))::bigint::text AS expected
         FROM arr_forecast_item WHERE snapshot_id = $1 AND account_id = ANY($2::uuid[]) GROUP BY 1, 2`,
      [snap.id, [...accountIds]],
    );
    for (const r of rows) expected.set(`${r.account_id}|${r.currency}`, r.expected);
  }
  return (accountId, currency, healthBand) => {
    const out: ChurnAccountFields = {};
    const risk = scored.get(accountId);
    if (risk) {
      out.churnRisk = risk.band;
      out.churnProbability = risk.probability;
    } else if (healthBand) {
      out.churnProbability = null;
    }
    if (snap) out.forecastArr = minorToMajor(expected.get(`${accountId}|${currency}`) ?? '0', currency);
    return out;
  };
}

const today = () => new Date().toISOString().slice(0, 10);
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Churn risk (docs/churn.md, ADR 0029): trains and stores model versions, reports their
 * validation against a rules-only baseline and "days to renewal", scores accounts with each
 * feature's contribution, and keeps ARR forecast snapshots whose outcomes are recorded as
 * their terms end.
 */
export class ChurnService {
  private baseline: BaselineScorer = RULES_BASELINE;

  constructor(
    private readonly db: Db,
    private readonly config: Config,
  ) {}

  /** Plugs another rules-only score in (e.g. the health score) as the baseline and the fallback. */
  setBaseline(b: BaselineScorer): void {
    this.baseline = b;
  }

  get minLabelledTerms(): number {
    return this.config.EHUB_CHURN_MIN_LABELS;
  }

  private checkDate(asOf: string | null | undefined): string {
    const d = asOf ?? today();
    if (!ISO_DATE.test(d) || Number.isNaN(Date.parse(d))) throw badInput('CHURN_BAD_DATE', `asOf must be a date YYYY-MM-DD, not "${d}"`, [{ path: 'asOf', message: 'not a date' }]);
    return d;
  }

  async latestModel(): Promise<ModelVersion | null> {
    return readLatestModel(this.db.manager);
  }

  async labelledCount(asOf: string): Promise<number> {
    return (await labelledSamples(this.db.manager, asOf)).length;
  }

  /** The latest model with its figures, or why there is none. */
  async report(): Promise<ChurnModelReport> {
    const model = await this.latestModel();
    const labelled = await this.labelledCount(today());
    if (model) {
      return { status: 'READY', message: `Model version ${model.version}, trained ${model.trainedAt.toISOString()} on ${model.metrics.counts.labelled} labelled terms.`, labelledTerms: labelled, minLabelledTerms: this.minLabelledTerms, model };
    }
    return this.insufficient(labelled);
  }

  private insufficient(labelled: number): ChurnModelReport {
    const enough = labelled >= this.minLabelledTerms;
    return {
      status: 'INSUFFICIENT_DATA',
      message: enough
        ? `No model trained yet (${labelled} labelled terms are enough: run trainChurnModel); churn risk uses the rules-only score "${this.baseline.name}" alone.`
        : `Only ${labelled} labelled terms (ended, renewed or not); the model needs at least ${this.minLabelledTerms} (EHUB_CHURN_MIN_LABELS). Churn risk uses the rules-only score "${this.baseline.name}" alone.`,
      labelledTerms: labelled,
      minLabelledTerms: this.minLabelledTerms,
      model: null,
    };
  }

  /** Trains a new version on every term ended before `asOf` (default today); stores it unless there are too few labels. */
  async train(ctx: RequestContext, asOfInput?: string | null): Promise<ChurnModelReport> {
    const asOf = this.checkDate(asOfInput);
    const samples = await labelledSamples(this.db.manager, asOf);
    if (samples.length < this.minLabelledTerms) return this.insufficient(samples.length);
    const r = trainChurn(samples, { lambda: this.config.EHUB_CHURN_L2, baseline: this.baseline });
    const metrics: ModelMetrics = { converged: r.converged, testFrom: r.testFrom, testTo: r.testTo, counts: r.counts, figures: r.figures, baselineName: r.baselineName };
    const version = await this.db.tx(ctx, async (tx) => {
      await tx.manager.query(`SELECT pg_advisory_xact_lock(hashtext('ehub.churn_model'))`);
      const [row] = await tx.manager.query(
        `INSERT INTO churn_model (version, as_of, window_from, window_to, features, means, sds, coefficients, intercept, platt_a, platt_b, lambda, iterations, metrics)
         SELECT coalesce(max(version), 0) + 1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 FROM churn_model
         RETURNING version`,
        [asOf, r.windowFrom, r.windowTo, r.model.features, r.model.means, r.model.sds, r.model.coefficients, r.model.intercept, r.model.plattA, r.model.plattB, r.lambda, r.iterations, JSON.stringify(metrics)],
      );
      // A new version rescores every account with an open term: their CRM/ERP fields follow.
      const scored = await openTermAccounts(tx.manager, today(), new Date());
      if (scored.length) tx.publish({ kind: 'churn.changed', accountIds: scored });
      return row.version as number;
    });
    ctx.log.info({ version, counts: r.counts, auc: r.figures.model.auc, rulesAuc: r.figures.rules.auc }, 'churn model trained');
    return this.report();
  }

  /** P(churn) of a term: the model's (with contributions) or, without a model, the baseline's score. */
  private score(model: ModelVersion | null, s: TermSample, asOf: Date): ChurnRiskResult {
    const base = { accountId: s.accountId, sku: s.sku, termEnd: s.termEnd, asOf };
    if (!model) {
      const p = Math.min(1, Math.max(0, this.baseline.score(s)));
      return { ...base, probability: p, band: bandOf(p), source: 'BASELINE', modelVersion: null, logOdds: null, intercept: null, contributions: [] };
    }
    const { logOdds, contributions } = explain(model, s);
    const p = probability(model, logOdds);
    return { ...base, probability: p, band: bandOf(p), source: 'MODEL', modelVersion: model.version, logOdds, intercept: model.intercept, contributions };
  }

  /**
   * Churn risk of accounts (null for one with no open term): of each account's open term
   * ending soonest, with features as of now. One feature query for all the accounts.
   */
  async risks(accountIds: readonly string[], at: Date = new Date()): Promise<(ChurnRiskResult | null)[]> {
    const model = await this.latestModel();
    // Planned once per connection (the feature query plans slower than it runs): Account.churnRisk and customer360 read it per view.
    const samples = await soonestOpenSamples((sql, p) => this.db.preparedQuery('ehub_churn_soonest_v1', sql, p), at.toISOString().slice(0, 10), at, [...accountIds]);
    const soonest = soonestTerms(samples);
    return accountIds.map((id) => {
      const s = soonest.get(id);
      return s ? this.score(model, s, at) : null;
    });
  }

  async risk(ctx: RequestContext, accountId: string): Promise<ChurnRiskResult | null> {
    assertAccountVisible(ctx, accountId);
    return (await this.risks([accountId]))[0]!;
  }

  // ------------------------------------------------------------------ ARR forecast

  /**
   * Records what happened to the terms earlier snapshots forecast (renewed or not, once
   * ended), then snapshots the forecast: every open term ending in the 12 months from `asOf`
   * with its ARR and P(renew) = 1 − P(churn).
   */
  async snapshotForecast(ctx: RequestContext, asOfInput?: string | null): Promise<ArrForecastResult> {
    const asOf = this.checkDate(asOfInput);
    const model = await this.latestModel();
    const at = new Date(`${asOf}T00:00:00Z`);
    const samples = (await openSamples(this.db.manager, asOf, at)).filter((s) => s.termEnd < addMonths(asOf, 12));
    const id = await this.db.tx(ctx, async (tx) => {
      await this.settle(tx.manager, asOf);
      const [snap] = await tx.manager.query(`INSERT INTO arr_forecast_snapshot (as_of, model_version, source) VALUES ($1, $2, $3) RETURNING id::text`, [
        asOf,
        model?.version ?? null,
        model ? 'MODEL' : 'BASELINE',
      ]);
      if (samples.length) {
        const p = samples.map((s) => 1 - this.score(model, s, at).probability);
        await tx.manager.query(
          `INSERT INTO arr_forecast_item (snapshot_id, order_line_id, account_id, term_end, month, currency, arr_minor, p_renew)
           SELECT $1, x.l, x.a, x.e, date_trunc('month', x.e)::date, x.c, x.arr, x.p
             FROM unnest($2::uuid[], $3::uuid[], $4::date[], $5::text[], $6::bigint[], $7::float8[]) AS x(l, a, e, c, arr, p)`,
          [snap.id, samples.map((s) => s.lineId), samples.map((s) => s.accountId), samples.map((s) => s.termEnd), samples.map((s) => s.currency), samples.map((s) => Math.round(s.arrMinor)), p],
        );
      }
      // Accounts whose expected renewing ARR moved since the snapshot before (or that enter
      // or leave the forecast): their CRM/ERP fields (forecast, and the churn figures that
      // moved it) follow. P(renew) drifts as features age, so this is the daily refresh.
      const moved: { account_id: string }[] = await tx.manager.query(
        `WITH prev AS (SELECT id FROM arr_forecast_snapshot WHERE id <> $1 ORDER BY as_of DESC, id DESC LIMIT 1),
              cur AS (SELECT account_id, currency, round(sum(arr_minor * p_renew)) AS e FROM arr_forecast_item WHERE snapshot_id = $1 GROUP BY 1, 2),
              old AS (SELECT account_id, currency, round(sum(arr_minor * p_renew)) AS e FROM arr_forecast_item WHERE snapshot_id = (SELECT id FROM prev) GROUP BY 1, 2)
         SELECT DISTINCT coalesce(cur.account_id, old.account_id) AS account_id
           FROM cur FULL JOIN old ON old.account_id = cur.account_id AND old.currency = cur.currency
          WHERE cur.e IS DISTINCT FROM old.e`,
        [snap.id],
      );
      if (moved.length) tx.publish({ kind: 'churn.changed', accountIds: moved.map((x) => x.account_id) });
      return snap.id as string;
    });
    return (await this.forecast(null, id))!;
  }

  /** Fills in the outcome of every forecast term that has ended before `asOf`. */
  private async settle(manager: Db['manager'], asOf: string): Promise<void> {
    await manager.query(
      `UPDATE arr_forecast_item i
          SET renewed = EXISTS (SELECT 1 FROM order_line r WHERE r.renews_line_id = i.order_line_id AND r.status = 'ACTIVE'), settled_at = now()
        WHERE i.renewed IS NULL AND i.term_end < $1::date`,
      [asOf],
    );
  }

  /**
   * A forecast snapshot by month and currency: the latest taken on or before `asOf` (or the
   * one with `snapshotId`), with the actual renewed ARR of each month whose terms have all
   * been settled (ended), and the error (expected − actual). Null when none was taken.
   */
  async forecast(asOfInput: string | null, snapshotId: string | null = null): Promise<ArrForecastResult | null> {
    const asOf = asOfInput === null ? null : this.checkDate(asOfInput);
    // Outcomes of ended terms are recorded on read too, so an old snapshot shows its error.
    await this.settle(this.db.manager, today());
    const [snap] = await this.db.manager.query(
      `SELECT id::text, taken_at, as_of::text AS as_of, model_version, source FROM arr_forecast_snapshot
        WHERE ($1::bigint IS NULL OR id = $1) AND ($2::date IS NULL OR as_of <= $2)
        ORDER BY as_of DESC, id DESC LIMIT 1`,
      [snapshotId, asOf],
    );
    if (!snap) return null;
    const months: { month: string; currency: string; terms: number; up: string; expected: string; settled: number; actual: string }[] = await this.db.manager.query(
      `SELECT month::text, currency, count(*)::int AS terms, sum(arr_minor)::text AS up, round(sum(arr_minor * p_renew))::bigint::text AS expected,
              count(renewed)::int AS settled, coalesce(sum(arr_minor) FILTER (WHERE renewed), 0)::text AS actual
         FROM arr_forecast_item WHERE snapshot_id = $1 GROUP BY month, currency ORDER BY month, currency`,
      [snap.id],
    );
    return {
      snapshotId: snap.id,
      takenAt: snap.taken_at,
      asOf: snap.as_of,
      modelVersion: snap.model_version,
      source: snap.source,
      months: months.map((m) => {
        const done = m.settled === m.terms;
        return {
          month: m.month,
          currency: m.currency,
          terms: m.terms,
          arrUpForRenewalMinor: m.up,
          expectedRenewingArrMinor: m.expected,
          settledTerms: m.settled,
          actualRenewedArrMinor: done ? m.actual : null,
          errorMinor: done ? String(BigInt(m.expected) - BigInt(m.actual)) : null,
        };
      }),
    };
  }

  /** The scheduled job: retrain when the latest model is older than EHUB_CHURN_RETRAIN_DAYS (or none), then snapshot the forecast. */
  async runScheduled(ctx: RequestContext): Promise<void> {
    const latest = await this.latestModel();
    if (!latest || Date.now() - latest.trainedAt.getTime() >= this.config.EHUB_CHURN_RETRAIN_DAYS * 86_400_000) await this.train(ctx);
    await this.snapshotForecast(ctx);
  }
}

function addMonths(d: string, n: number): string {
  const t = new Date(`${d}T00:00:00Z`);
  return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth() + n, t.getUTCDate())).toISOString().slice(0, 10);
}

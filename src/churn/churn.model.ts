import { createHash } from 'node:crypto';
import { FEATURES, type TermSample } from './churn.features';
import { columnStats, fitLogistic, fitPlatt, sigmoid, standardise } from './logistic';
import { auc, brier, calibrationTable, topDecileLift, type CalibrationBin } from './metrics';
import { seededRandom } from './book-generator';

/**
 * Training and validation, without the database: samples in, a model and its figures out.
 * The label is churn: 1 = the term ended without a renewal, 0 = renewed.
 */

/** A score that ranks churn risk without the model (higher = riskier); pluggable (the health score can be one). */
export interface BaselineScorer {
  name: string;
  description: string;
  score(sample: TermSample): number;
}

const at = (s: TermSample, f: (typeof FEATURES)[number]) => s.values[FEATURES.indexOf(f)] ?? null;
const clamp01 = (x: number) => Math.min(1, Math.max(0, x));

/**
 * The rules-only score until the health score exists: 60 % low utilisation (utilisation, else
 * the active-user ratio, else neutral 0.5) and 40 % falling usage (a halving over 90 days or
 * worse scores 1).
 */
export const RULES_BASELINE: BaselineScorer = {
  name: 'rules: utilisation and usage trend',
  description: '0.6 × (1 − utilisation, or active-user ratio, or 0.5 without data) + 0.4 × min(1, max(0, −usage trend ÷ ln 2))',
  score(s) {
    const util = at(s, 'utilisation') ?? at(s, 'active_user_ratio') ?? 0.5;
    const trend = at(s, 'usage_trend') ?? 0;
    return 0.6 * (1 - clamp01(util)) + 0.4 * clamp01(-trend / Math.LN2);
  },
};

/** "Days to renewal" alone: the nearer the end, the riskier. At a 90-day snapshot it is the same for every term. */
export const DAYS_TO_RENEWAL: BaselineScorer = {
  name: 'days to renewal',
  description: '1 ÷ (1 + days from the snapshot to the term end)',
  score: (s) => 1 / (1 + Math.max(0, s.daysToRenewal)),
};

export interface Figures {
  auc: number | null;
  topDecileLift: number | null;
  brier: number;
  calibration: CalibrationBin[];
}

export interface StoredModel {
  features: string[];
  means: number[];
  sds: number[];
  coefficients: number[];
  intercept: number;
  plattA: number;
  plattB: number;
}

export interface TrainResult {
  model: StoredModel;
  lambda: number;
  iterations: number;
  converged: boolean;
  windowFrom: string;
  windowTo: string;
  testFrom: string;
  testTo: string;
  counts: { labelled: number; train: number; calibration: number; test: number; trainAccounts: number; testAccounts: number; churnRateTrain: number; churnRateTest: number };
  figures: { model: Figures; rules: Figures; daysToRenewal: Figures };
  baselineName: string;
  /** The test-set probabilities (for checks): P(churn), label. */
  test: { p: number[]; y: number[] };
}

export interface TrainOptions {
  lambda?: number;
  /** Share of terms (by end date) before the split date; default 0.65. */
  trainShare?: number;
  /** Newest share of the training terms held out for Platt scaling; default 0.25. */
  calibrationShare?: number;
  /** Replace the labels by a seeded shuffle of them (the leakage check). */
  shuffleSeed?: number;
  baseline?: BaselineScorer;
}

const label = (s: TermSample) => (s.renewed ? 0 : 1);

/**
 * A stable coin per account: which side of the split it may go to. It hashes the account's
 * stable key (first external reference, else name; `TermSample.accountKey`), not its random
 * id, so the same book splits the same way in every run.
 */
function accountCoin(accountKey: string): number {
  return parseInt(createHash('md5').update(accountKey).digest('hex').slice(0, 8), 16) / 0x1_0000_0000;
}

/**
 * The time-based split: terms ending before the split date train, terms ending on or after
 * it test; an account that has terms on both sides goes to one side only (by a stable coin
 * on its stable key: half of them test, the others train), and its terms on the other side are left
 * out. Accounts with terms only before the split train; those with terms only after it test.
 */
export function timeSplit(samples: TermSample[], trainShare = 0.65): { train: TermSample[]; test: TermSample[]; splitDate: string } {
  const ends = samples.map((s) => s.termEnd).sort();
  const splitDate = ends[Math.min(ends.length - 1, Math.floor(ends.length * trainShare))]!;
  const before = new Set<string>();
  const after = new Set<string>();
  for (const s of samples) (s.termEnd < splitDate ? before : after).add(s.accountId);
  const keyOf = new Map(samples.map((s) => [s.accountId, s.accountKey ?? s.accountId]));
  const testAccount = (a: string) => after.has(a) && (!before.has(a) || accountCoin(keyOf.get(a)!) < 0.5);
  return {
    train: samples.filter((s) => s.termEnd < splitDate && !testAccount(s.accountId)),
    test: samples.filter((s) => s.termEnd >= splitDate && testAccount(s.accountId)),
    splitDate,
  };
}

export function figures(p: number[], scores: number[], y: number[]): Figures {
  const a = auc(scores, y);
  const l = topDecileLift(scores, y);
  return { auc: Number.isFinite(a) ? a : null, topDecileLift: Number.isFinite(l) ? l : null, brier: brier(p, y), calibration: calibrationTable(p, y) };
}

/** The model's log-odds of churn for a sample, and each feature's part in it. */
export function explain(m: StoredModel, s: TermSample): { logOdds: number; contributions: { feature: string; value: number | null; contribution: number }[] } {
  const z = standardise(s.values, m.means, m.sds);
  const contributions = m.features.map((feature, j) => ({ feature, value: s.values[j] ?? null, contribution: m.coefficients[j]! * z[j]! }));
  return { logOdds: m.intercept + contributions.reduce((a, c) => a + c.contribution, 0), contributions };
}

/** Calibrated P(churn) = σ(a × log-odds + b) (Platt). */
export function probability(m: StoredModel, logOdds: number): number {
  return sigmoid(m.plattA * logOdds + m.plattB);
}

export function trainChurn(samples: TermSample[], opts: TrainOptions = {}): TrainResult {
  const baseline = opts.baseline ?? RULES_BASELINE;
  let labelled = samples;
  if (opts.shuffleSeed !== undefined) {
    const rand = seededRandom(opts.shuffleSeed);
    const ys = samples.map((s) => s.renewed);
    for (let i = ys.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [ys[i], ys[j]] = [ys[j]!, ys[i]!];
    }
    labelled = samples.map((s, i) => ({ ...s, renewed: ys[i]! }));
  }
  const { train, test, splitDate } = timeSplit(labelled, opts.trainShare ?? 0.65);
  // Ties on the end date are broken by stable keys, not the random line ids, so the held-out
  // calibration part (the newest quarter) is the same terms in every run.
  const stable = (s: TermSample) => `${s.accountKey ?? s.accountId}|${s.sku}`;
  const byEnd = [...train].sort((a, b) => a.termEnd.localeCompare(b.termEnd) || stable(a).localeCompare(stable(b)) || a.lineId.localeCompare(b.lineId));
  const nCal = Math.max(1, Math.floor(byEnd.length * (opts.calibrationShare ?? 0.25)));
  const fitPart = byEnd.slice(0, byEnd.length - nCal);
  const calPart = byEnd.slice(byEnd.length - nCal);
  if (fitPart.length < 10 || !test.length) throw new Error('trainChurn: too few samples on one side of the split');

  const { means, sds } = columnStats(fitPart.map((s) => s.values));
  const lambda = opts.lambda ?? 1;
  const fit = fitLogistic(
    fitPart.map((s) => standardise(s.values, means, sds)),
    fitPart.map(label),
    { lambda },
  );
  const partial: StoredModel = { features: [...FEATURES], means, sds, coefficients: fit.coefficients, intercept: fit.intercept, plattA: 1, plattB: 0 };
  const platt = fitPlatt(calPart.map((s) => explain(partial, s).logOdds), calPart.map(label));
  const model: StoredModel = { ...partial, plattA: platt.a, plattB: platt.b };

  // A baseline's score becomes a probability the same way: Platt on the calibration part.
  const baselineFigures = (b: BaselineScorer): Figures => {
    const cal = fitPlatt(calPart.map((s) => b.score(s)), calPart.map(label));
    const scores = test.map((s) => b.score(s));
    return figures(scores.map((x) => sigmoid(cal.a * x + cal.b)), scores, test.map(label));
  };
  const testLogOdds = test.map((s) => explain(model, s).logOdds);
  const testP = testLogOdds.map((z) => probability(model, z));
  const y = test.map(label);
  const rate = (xs: TermSample[]) => xs.reduce((a, s) => a + label(s), 0) / Math.max(1, xs.length);
  return {
    model,
    lambda,
    iterations: fit.iterations,
    converged: fit.converged,
    windowFrom: byEnd[0]!.termEnd,
    windowTo: byEnd[byEnd.length - 1]!.termEnd,
    testFrom: splitDate,
    testTo: test.map((s) => s.termEnd).sort().at(-1)!,
    counts: {
      labelled: samples.length,
      train: fitPart.length,
      calibration: calPart.length,
      test: test.length,
      trainAccounts: new Set(train.map((s) => s.accountId)).size,
      testAccounts: new Set(test.map((s) => s.accountId)).size,
      churnRateTrain: rate(train),
      churnRateTest: rate(test),
    },
    figures: { model: figures(testP, testLogOdds, y), rules: baselineFigures(baseline), daysToRenewal: baselineFigures(DAYS_TO_RENEWAL) },
    baselineName: baseline.name,
    test: { p: testP, y },
  };
}

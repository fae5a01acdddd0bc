import { seededRandom } from './book-generator';
import { columnStats, fitLogistic, fitPlatt, sigmoid, standardise } from './logistic';
import { auc, brier, calibrationTable, topDecileLift } from './metrics';

/** Synthetic data from known coefficients (seeded). */
function synthetic(n: number, intercept: number, beta: number[], seed: number): { x: number[][]; y: number[] } {
  const rand = seededRandom(seed);
  const normal = () => Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
  const x: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = beta.map(() => normal());
    const z = intercept + row.reduce((a, v, j) => a + v * beta[j]!, 0);
    x.push(row);
    y.push(rand() < sigmoid(z) ? 1 : 0);
  }
  return { x, y };
}

describe('logistic regression (IRLS, L2, intercept)', () => {
  it('recovers known coefficients from synthetic data and converges', () => {
    const truth = { intercept: -0.7, beta: [1.5, -2, 0, 0.5] };
    const { x, y } = synthetic(20_000, truth.intercept, truth.beta, 42);
    const fit = fitLogistic(x, y, { lambda: 0 });
    expect(fit.converged).toBe(true);
    expect(fit.iterations).toBeLessThan(15);
    expect(fit.intercept).toBeCloseTo(truth.intercept, 1);
    fit.coefficients.forEach((b, j) => expect(Math.abs(b - truth.beta[j]!)).toBeLessThan(0.08));
  });

  it('shrinks coefficients as the L2 penalty grows, never the intercept', () => {
    const { x, y } = synthetic(2_000, 1, [1.5, -2], 7);
    const norms = [0, 10, 100, 1000, 100_000].map((lambda) => {
      const f = fitLogistic(x, y, { lambda });
      expect(f.converged).toBe(true);
      return { norm: Math.hypot(...f.coefficients), intercept: f.intercept };
    });
    for (let i = 1; i < norms.length; i++) expect(norms[i]!.norm).toBeLessThan(norms[i - 1]!.norm);
    expect(norms.at(-1)!.norm).toBeLessThan(0.05);
    // With the slopes shrunk to ~0, the intercept is the log-odds of the base rate.
    const rate = y.reduce((a, v) => a + v, 0) / y.length;
    expect(norms.at(-1)!.intercept).toBeCloseTo(Math.log(rate / (1 - rate)), 1);
  });

  it('stays finite on separable data when penalised', () => {
    const x = [[-2], [-1], [1], [2]];
    const fit = fitLogistic(x, [0, 0, 1, 1], { lambda: 0.1 });
    expect(fit.converged).toBe(true);
    expect(Number.isFinite(fit.coefficients[0]!)).toBe(true);
    expect(fit.coefficients[0]).toBeGreaterThan(0);
  });

  it('standardises with training means and sds, missing values becoming the mean', () => {
    const { means, sds } = columnStats([
      [1, null],
      [3, 4],
      [5, 4],
    ]);
    expect(means).toEqual([3, 4]);
    expect(sds[0]).toBeCloseTo(Math.sqrt(8 / 3));
    expect(sds[1]).toBe(1); // constant column
    expect(standardise([3, null], means, sds)).toEqual([0, 0]);
  });

  it('Platt scaling maps scores to calibrated probabilities', () => {
    // Scores whose true P(y) = σ(2s − 1).
    const rand = seededRandom(3);
    const s = Array.from({ length: 20_000 }, () => rand() * 4 - 2);
    const y = s.map((v) => (rand() < sigmoid(2 * v - 1) ? 1 : 0));
    const { a, b } = fitPlatt(s, y);
    expect(a).toBeCloseTo(2, 0);
    expect(b).toBeCloseTo(-1, 0);
  });
});

describe('validation figures', () => {
  it('AUC: perfect 1, reversed 0, ties and random 0.5, and the pairwise definition', () => {
    expect(auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
    expect(auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1])).toBe(0.5);
    // Pairs (pos, neg): (0.4 vs 0.1) win, (0.4 vs 0.4) tie, (0.4 vs 0.6) loss, (0.7 vs all) 3 wins → 4.5 / 6.
    expect(auc([0.1, 0.4, 0.6, 0.4, 0.7], [0, 0, 0, 1, 1])).toBeCloseTo(4.5 / 6, 12);
    expect(auc([1, 2], [1, 1])).toBeNaN();
  });

  it('top-decile lift: the churn rate of the riskiest tenth over the base rate', () => {
    // 20 samples, 4 churners; the two riskiest are churners: rate 1 in the top 2 vs 0.2 → lift 5.
    const scores = Array.from({ length: 20 }, (_, i) => 20 - i);
    const labels = scores.map((_, i) => (i < 2 || i === 10 || i === 15 ? 1 : 0));
    expect(topDecileLift(scores, labels)).toBeCloseTo(5, 12);
    expect(topDecileLift(scores, scores.map(() => 0))).toBeNaN();
  });

  it('Brier score and the calibration table', () => {
    expect(brier([1, 0, 0.5], [1, 0, 1])).toBeCloseTo(0.25 / 3, 12);
    const table = calibrationTable([0.05, 0.07, 0.95, 0.55], [0, 1, 1, 0]);
    expect(table).toHaveLength(10);
    expect(table[0]).toEqual({ from: 0, to: 0.1, count: 2, meanPredicted: 0.060000000000000005, observedRate: 0.5 });
    expect(table[9]).toMatchObject({ count: 1, observedRate: 1 });
    expect(table[5]).toMatchObject({ count: 1, observedRate: 0 });
    expect(table[3]).toMatchObject({ count: 0, meanPredicted: null, observedRate: null });
  });
});

import { Matrix, solve } from 'ml-matrix';

/**
 * L2-regularised logistic regression with an intercept, fitted by Newton's method (IRLS)
 * on a matrix library. The intercept is not penalised. Features are expected standardised
 * (see `standardise`), so one λ treats them alike.
 *
 *   minimise  −Σ [y log p + (1 − y) log(1 − p)] + (λ/2) Σ_j β_j²,   p = σ(β₀ + x·β)
 */
export interface LogisticFit {
  intercept: number;
  coefficients: number[];
  iterations: number;
  converged: boolean;
  /** The penalised negative log-likelihood at the solution. */
  loss: number;
}

export interface LogisticOptions {
  /** L2 penalty λ (≥ 0); default 1. */
  lambda?: number;
  /** Stop when the largest step in a coefficient is below this; default 1e-8. */
  tolerance?: number;
  maxIterations?: number;
}

export const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

export function fitLogistic(x: number[][], y: number[], opts: LogisticOptions = {}): LogisticFit {
  const lambda = opts.lambda ?? 1;
  const tol = opts.tolerance ?? 1e-8;
  const maxIter = opts.maxIterations ?? 100;
  const n = x.length;
  if (n === 0 || n !== y.length) throw new Error('fitLogistic: x and y must be non-empty and of the same length');
  const k = x[0]!.length;
  // Rows with a leading 1 for the intercept.
  const rows = x.map((row) => [1, ...row]);
  const d = k + 1;
  let beta = new Array<number>(d).fill(0);
  const zOf = (b: number[], r: number[]) => {
    let z = 0;
    for (let j = 0; j < d; j++) z += r[j]! * b[j]!;
    return z;
  };
  const lossOf = (b: number[]) => {
    let l = 0;
    for (let i = 0; i < n; i++) {
      const z = zOf(b, rows[i]!);
      // log(1 + e^z) − y z, computed stably.
      l += (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) - y[i]! * z;
    }
    for (let j = 1; j < d; j++) l += (lambda / 2) * b[j]! ** 2;
    return l;
  };
  let converged = false;
  let iterations = 0;
  let loss = lossOf(beta);
  for (; iterations < maxIter && !converged; iterations++) {
    // Gradient g = Xᵀ(p − y) + λβ and Hessian H = Xᵀ W X + λI (the intercept unpenalised), W = p(1 − p).
    const g = new Array<number>(d).fill(0);
    const H = Matrix.zeros(d, d);
    for (let i = 0; i < n; i++) {
      const r = rows[i]!;
      const p = sigmoid(zOf(beta, r));
      const w = Math.max(p * (1 - p), 1e-10);
      const e = p - y[i]!;
      for (let j = 0; j < d; j++) {
        g[j]! += r[j]! * e;
        const wr = w * r[j]!;
        for (let m = j; m < d; m++) H.set(j, m, H.get(j, m) + wr * r[m]!);
      }
    }
    for (let j = 0; j < d; j++) {
      for (let m = 0; m < j; m++) H.set(j, m, H.get(m, j));
      if (j > 0) {
        g[j]! += lambda * beta[j]!;
        H.set(j, j, H.get(j, j) + lambda);
      }
    }
    const step = solve(H, Matrix.columnVector(g)).to1DArray();
    // Step halving keeps Newton monotone on separable or badly scaled data.
    let t = 1;
    let next = beta.map((b, j) => b - step[j]!);
    let nextLoss = lossOf(next);
    while (nextLoss > loss + 1e-12 && t > 1e-6) {
      t /= 2;
      next = beta.map((b, j) => b - t * step[j]!);
      nextLoss = lossOf(next);
    }
    const largest = Math.max(...step.map((v) => Math.abs(v * t)));
    beta = next;
    loss = nextLoss;
    if (largest < tol) converged = true;
  }
  return { intercept: beta[0]!, coefficients: beta.slice(1), iterations, converged, loss };
}

/** Means and standard deviations (population; 1 for a constant column) of each column, missing values (null) left out. */
export function columnStats(rows: (number | null)[][]): { means: number[]; sds: number[] } {
  const k = rows[0]?.length ?? 0;
  const means: number[] = [];
  const sds: number[] = [];
  for (let j = 0; j < k; j++) {
    const vals = rows.map((r) => r[j]).filter((v): v is number => v !== null && Number.isFinite(v));
    const mean = vals.length ? vals.reduce((a, v) => a + v, 0) / vals.length : 0;
    const variance = vals.length ? vals.reduce((a, v) => a + (v - mean) ** 2, 0) / vals.length : 0;
    means.push(mean);
    sds.push(variance > 1e-12 ? Math.sqrt(variance) : 1);
  }
  return { means, sds };
}

/** (x − mean) / sd; a missing value becomes the mean (0 after standardising). */
export function standardise(row: (number | null)[], means: number[], sds: number[]): number[] {
  return row.map((v, j) => (v === null || !Number.isFinite(v) ? 0 : (v - means[j]!) / sds[j]!));
}

/**
 * Platt scaling: P(y = 1 | s) = σ(a·s + b), fitted on held-out scores by the same Newton
 * method (a tiny λ keeps it finite when the scores separate the labels).
 */
export function fitPlatt(scores: number[], y: number[]): { a: number; b: number } {
  const fit = fitLogistic(
    scores.map((s) => [s]),
    y,
    { lambda: 1e-6 },
  );
  return { a: fit.coefficients[0]!, b: fit.intercept };
}

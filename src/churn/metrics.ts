/**
 * Validation figures for a score that ranks churn risk (higher = more likely to churn) and
 * a probability of churn: AUC (ties counted half), lift in the top decile, Brier score, and
 * a calibration table.
 */

/** Area under the ROC curve by the rank-sum (Mann–Whitney) formula, with average ranks for ties. NaN if one class is empty. */
export function auc(scores: number[], labels: number[]): number {
  const n = scores.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  const ranks = new Array<number>(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    const avg = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) ranks[idx[t]!] = avg;
    i = j + 1;
  }
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n; i++) {
    if (labels[i] === 1) {
      pos++;
      rankSum += ranks[i]!;
    }
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/**
 * Lift in the top decile: the churn rate among the 10 % highest scores ÷ the overall rate.
 * The decile is ceil(n / 10) samples; ties at its edge are broken by order given.
 */
export function topDecileLift(scores: number[], labels: number[]): number {
  const n = scores.length;
  const base = labels.reduce((a, v) => a + v, 0) / n;
  if (!n || base === 0) return NaN;
  const top = Math.ceil(n / 10);
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
  const rate = idx.slice(0, top).reduce((a, i) => a + labels[i]!, 0) / top;
  return rate / base;
}

/** Mean squared difference between the probability and the outcome (0 = perfect). */
export function brier(probabilities: number[], labels: number[]): number {
  return probabilities.reduce((a, p, i) => a + (p - labels[i]!) ** 2, 0) / probabilities.length;
}

export interface CalibrationBin {
  /** Lower edge of the predicted probability bin (bins of 0.1). */
  from: number;
  to: number;
  count: number;
  meanPredicted: number | null;
  observedRate: number | null;
}

/** Ten equal-width bins of predicted probability, each with its mean prediction and the observed rate. */
export function calibrationTable(probabilities: number[], labels: number[], bins = 10): CalibrationBin[] {
  const out: CalibrationBin[] = Array.from({ length: bins }, (_, b) => ({ from: b / bins, to: (b + 1) / bins, count: 0, meanPredicted: 0, observedRate: 0 }));
  probabilities.forEach((p, i) => {
    const b = Math.min(bins - 1, Math.max(0, Math.floor(p * bins)));
    const bin = out[b]!;
    bin.count++;
    bin.meanPredicted! += p;
    bin.observedRate! += labels[i]!;
  });
  for (const bin of out) {
    if (bin.count) {
      bin.meanPredicted = bin.meanPredicted! / bin.count;
      bin.observedRate = bin.observedRate! / bin.count;
    } else {
      bin.meanPredicted = null;
      bin.observedRate = null;
    }
  }
  return out;
}

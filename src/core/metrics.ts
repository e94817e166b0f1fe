/**
 * Evaluation metrics with scikit-learn semantics. Scores: higher = more suspicious (use suspicionOf for clipScore).
 * Labels: 1 (any non-zero) = poisoned.
 * Missing scores: null, undefined and NaN count as −∞, i.e. tied with each other below every real score. A row that
 * could not be scored is thus never "detected" — the conservative choice — and results stay deterministic.
 * With no positive or no negative label every metric is NaN.
 */

export type ScoreLike = ArrayLike<number | null | undefined>;

function cleanScores(scores: ScoreLike, labels: ArrayLike<number>): { s: Float64Array; y: Uint8Array; positives: number } {
  if (scores.length !== labels.length) throw new Error(`${scores.length} scores but ${labels.length} labels`);
  const s = new Float64Array(scores.length);
  const y = new Uint8Array(scores.length);
  let positives = 0;
  for (let i = 0; i < scores.length; i++) {
    const v = scores[i];
    s[i] = typeof v === 'number' && !Number.isNaN(v) ? v : -Infinity;
    y[i] = labels[i] ? 1 : 0;
    positives += y[i];
  }
  return { s, y, positives };
}

/** Cumulative true/false positives at each distinct threshold, from the highest score down (sklearn's _binary_clf_curve). */
function thresholdCurve(s: Float64Array, y: Uint8Array): { tps: number[]; fps: number[] } {
  const order = Array.from(s.keys()).sort((a, b) => s[b] - s[a]);
  const tps: number[] = [];
  const fps: number[] = [];
  let tp = 0;
  let fp = 0;
  for (let t = 0; t < order.length; t++) {
    if (y[order[t]]) tp++;
    else fp++;
    if (t === order.length - 1 || s[order[t + 1]] !== s[order[t]]) {
      tps.push(tp);
      fps.push(fp);
    }
  }
  return { tps, fps };
}

/** AUROC = P(poisoned score > clean score) + ½ P(tie), by mid-ranks. */
export function auroc(scores: ScoreLike, labels: ArrayLike<number>): number {
  const { s, y, positives } = cleanScores(scores, labels);
  const negatives = s.length - positives;
  if (positives === 0 || negatives === 0) return NaN;
  const order = Array.from(s.keys()).sort((a, b) => s[a] - s[b]);
  let rankSum = 0;
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && s[order[end + 1]] === s[order[start]]) end++;
    const midRank = (start + end) / 2 + 1;
    for (let t = start; t <= end; t++) if (y[order[t]]) rankSum += midRank;
    start = end + 1;
  }
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** PR-AUC as average precision: Σ (R_n − R_{n−1}) P_n over distinct thresholds (sklearn average_precision_score). */
export function prAuc(scores: ScoreLike, labels: ArrayLike<number>): number {
  const { s, y, positives } = cleanScores(scores, labels);
  if (positives === 0 || positives === s.length) return NaN;
  const { tps, fps } = thresholdCurve(s, y);
  let ap = 0;
  let previousRecall = 0;
  for (let t = 0; t < tps.length; t++) {
    const recall = tps[t] / positives;
    ap += (recall - previousRecall) * (tps[t] / (tps[t] + fps[t]));
    previousRecall = recall;
  }
  return ap;
}

/** False-positive rate at the first threshold (from the top) whose true-positive rate reaches `tpr` (default 0.95). */
export function fprAtTpr(scores: ScoreLike, labels: ArrayLike<number>, tpr = 0.95): number {
  const { s, y, positives } = cleanScores(scores, labels);
  const negatives = s.length - positives;
  if (positives === 0 || negatives === 0) return NaN;
  const { tps, fps } = thresholdCurve(s, y);
  for (let t = 0; t < tps.length; t++) if (tps[t] / positives >= tpr) return fps[t] / negatives;
  return 1;
}

/**
 * SafeCLIP's safe/risky split: a 2-component 1-D Gaussian mixture fitted by EM, matching scikit-learn
 * GaussianMixture(n_components=2, random_state=0) (covariance 'full', which is the variance in 1-D):
 * k-means labels as one-hot initial responsibilities (1-D Lloyd from (min, max), the same partition sklearn's k-means
 * reaches), reg_covar 1e-6, tolerance 1e-3 on the mean log-likelihood, at most 100 iterations, then a final E-step.
 */

export interface GmmOptions {
  regCovar: number;
  tol: number;
  maxIter: number;
}

export const SKLEARN_GMM_DEFAULTS: GmmOptions = { regCovar: 1e-6, tol: 1e-3, maxIter: 100 };

export interface Gmm1d {
  means: [number, number];
  variances: [number, number];
  weights: [number, number];
  converged: boolean;
  iterations: number;
  /** Mean log-likelihood per sample at the last EM iteration. */
  lowerBound: number;
}

/** Threshold on the safe probability (posterior of the higher-mean component). */
export const SAFE_PROBABILITY_THRESHOLD = 0.9;

const EPS = 2.220446049250313e-16;
const LOG_2PI = Math.log(2 * Math.PI);

/** Two-means labels by Lloyd iterations from centres (min, max): 0 = lower cluster. */
function twoMeansLabels(x: Float64Array): Uint8Array {
  let c0 = Infinity;
  let c1 = -Infinity;
  for (const v of x) {
    if (v < c0) c0 = v;
    if (v > c1) c1 = v;
  }
  const labels = new Uint8Array(x.length).fill(255);
  for (let iter = 0; iter < 300; iter++) {
    let changed = false;
    let s0 = 0, n0 = 0, s1 = 0, n1 = 0;
    for (let i = 0; i < x.length; i++) {
      // Ties go to the first centre, as argmin does.
      const label = Math.abs(x[i] - c1) < Math.abs(x[i] - c0) ? 1 : 0;
      if (label !== labels[i]) changed = true;
      labels[i] = label;
      if (label) { s1 += x[i]; n1++; } else { s0 += x[i]; n0++; }
    }
    if (!changed) break;
    if (n0 > 0) c0 = s0 / n0;
    if (n1 > 0) c1 = s1 / n1;
  }
  return labels;
}

/** M-step from responsibilities resp (n × 2, row-major). */
function mStep(x: Float64Array, resp: Float64Array, regCovar: number, normaliseBy: number | null): Pick<Gmm1d, 'means' | 'variances' | 'weights'> {
  const nk = [10 * EPS, 10 * EPS];
  const sx = [0, 0];
  for (let i = 0; i < x.length; i++) {
    for (let c = 0; c < 2; c++) {
      nk[c] += resp[2 * i + c];
      sx[c] += resp[2 * i + c] * x[i];
    }
  }
  const means: [number, number] = [sx[0] / nk[0], sx[1] / nk[1]];
  const sv = [0, 0];
  for (let i = 0; i < x.length; i++) {
    for (let c = 0; c < 2; c++) {
      const d = x[i] - means[c];
      sv[c] += resp[2 * i + c] * d * d;
    }
  }
  const variances: [number, number] = [sv[0] / nk[0] + regCovar, sv[1] / nk[1] + regCovar];
  // sklearn divides by n at initialisation and by the weights' sum in the M-step.
  const total = normaliseBy ?? nk[0] + nk[1];
  return { means, variances, weights: [nk[0] / total, nk[1] / total] };
}

/** E-step: fills resp with posteriors and returns the mean log-likelihood. */
function eStep(x: Float64Array, p: Pick<Gmm1d, 'means' | 'variances' | 'weights'>, resp: Float64Array): number {
  const logW = [Math.log(p.weights[0]), Math.log(p.weights[1])];
  const logVar = [Math.log(p.variances[0]), Math.log(p.variances[1])];
  let total = 0;
  for (let i = 0; i < x.length; i++) {
    const l0 = logW[0] - 0.5 * (LOG_2PI + logVar[0] + (x[i] - p.means[0]) ** 2 / p.variances[0]);
    const l1 = logW[1] - 0.5 * (LOG_2PI + logVar[1] + (x[i] - p.means[1]) ** 2 / p.variances[1]);
    const top = Math.max(l0, l1);
    const norm = top + Math.log(Math.exp(l0 - top) + Math.exp(l1 - top));
    resp[2 * i] = Math.exp(l0 - norm);
    resp[2 * i + 1] = Math.exp(l1 - norm);
    total += norm;
  }
  return total / x.length;
}

/** Fits the mixture. Throws when fewer than 2 values or all values are equal (no split exists). */
export function fitGmm1d(values: ArrayLike<number>, options: GmmOptions = SKLEARN_GMM_DEFAULTS): Gmm1d {
  const x = Float64Array.from(values);
  if (x.length < 2) throw new Error(`the GMM needs at least 2 values, got ${x.length}`);
  if (x.some((v) => !Number.isFinite(v))) throw new Error('the GMM input contains non-finite values');
  if (x.every((v) => v === x[0])) throw new Error('all values are equal: no two-component split exists');
  const resp = new Float64Array(2 * x.length);
  const labels = twoMeansLabels(x);
  for (let i = 0; i < x.length; i++) resp[2 * i + labels[i]] = 1;
  let params = mStep(x, resp, options.regCovar, x.length);
  let lowerBound = -Infinity;
  let converged = false;
  let iterations = 0;
  for (let iter = 1; iter <= options.maxIter; iter++) {
    iterations = iter;
    const previous = lowerBound;
    lowerBound = eStep(x, params, resp);
    params = mStep(x, resp, options.regCovar, null);
    if (Math.abs(lowerBound - previous) < options.tol) {
      converged = true;
      break;
    }
  }
  return { ...params, converged, iterations, lowerBound };
}

/** Posterior of the higher-mean component for each value (the SafeCLIP safe probability). */
export function posteriorOfHigherMean(model: Gmm1d, values: ArrayLike<number>): Float64Array {
  const x = Float64Array.from(values);
  const resp = new Float64Array(2 * x.length);
  eStep(x, model, resp);
  const high = model.means[1] >= model.means[0] ? 1 : 0;
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = resp[2 * i + high];
  return out;
}

/**
 * The neighbour-based detectors of method.md, on sorted distance lists. Higher = more suspicious.
 *   k-dist  a[k]
 *   LID     −k / Σ_{j<k} ln(a[j]/a[k] + 1e−4)
 *   SLOF    (1/k) Σ_{r∈nn} a[k] / kdF_r
 *   DAO     (1/k) Σ_{r∈nn} lidF_r · ln(a[k] / kdF_r)
 */

/** Smoothing term inside LID's logarithm, as published. */
export const LID_EPSILON = 1e-4;
/** SLOF and DAO map NaN and +∞ to this value (and −∞ to 0), as the released code does. */
export const NON_FINITE_SCORE = 1000;

/** MLE local intrinsic dimensionality from sorted distances `dist[offset .. offset+k]` (k+1 values). NaN when dist[k] = 0. */
export function lidFromSorted(dist: ArrayLike<number>, offset: number, k: number): number {
  const far = dist[offset + k];
  let sum = 0;
  for (let j = 0; j < k; j++) sum += Math.log(dist[offset + j] / far + LID_EPSILON);
  return -k / sum;
}

/** NaN → 1000, +∞ → 1000, −∞ → 0; finite values unchanged. Applied to the final SLOF and DAO scores. */
export function mapNonFinite(value: number): number {
  if (Number.isNaN(value) || value === Infinity) return NON_FINITE_SCORE;
  if (value === -Infinity) return 0;
  return value;
}

/** SLOF from the query's k-distance and its neighbours' reference k-distances. */
export function slofScore(queryKDist: number, neighbourKDist: ArrayLike<number>): number {
  let sum = 0;
  for (let t = 0; t < neighbourKDist.length; t++) sum += queryKDist / neighbourKDist[t];
  return mapNonFinite(sum / neighbourKDist.length);
}

/** DAO from the query's k-distance and its neighbours' reference k-distances and LIDs. */
export function daoScore(queryKDist: number, neighbourKDist: ArrayLike<number>, neighbourLid: ArrayLike<number>): number {
  let sum = 0;
  for (let t = 0; t < neighbourKDist.length; t++) sum += neighbourLid[t] * Math.log(queryKDist / neighbourKDist[t]);
  return mapNonFinite(sum / neighbourKDist.length);
}

/**
 * Where the released code looks up neighbour `poolRow` of query `query`: it indexes R with the neighbour's position in the
 * self-masked row (own image and own caption removed), i.e. the R row minus the number of removed rows before it.
 */
export function releasedCodeRow(poolRow: number, query: number, ownCaption: number): number {
  return poolRow - (query < poolRow ? 1 : 0) - (ownCaption >= 0 && ownCaption < poolRow ? 1 : 0);
}

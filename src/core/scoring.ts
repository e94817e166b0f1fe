/**
 * scoreEmbeddings: every detector of method.md on embeddings, batch by batch.
 *
 * Pools and rows (documented behaviour):
 * - Image–text mode whenever `texts` is given: queries are images; the pool of image i is every other image of its batch
 *   plus every other caption of its batch (own image and own caption removed by index); R = [V; T].
 * - A row with a missing caption (captionMissing) or an unusable caption embedding (NaN/Inf, zero norm) keeps its image as
 *   query and pool member; its caption is left out of R and of every pool, its clipScore and safe are null, with a warning.
 * - A row whose image embedding is unusable is rejected: all its scores are null (with the reason), it joins no batch
 *   (batchOf = -1) and is in no pool.
 * - Image-only mode (texts = null): R = V, the pool is the other images; clipScore and the SafeCLIP split do not apply
 *   (their keys are absent, safeProbability/safe null, one output-level warning).
 * - Batches: see batching.ts. A short last batch is merged into the previous one (fewer than ⌈B/2⌉ rows, or too few
 *   rows for the pool the detectors need).
 * - A batch whose smallest pool is smaller than the detectors need (k+1 for kdist/slof/dao, lidK+1 for lid, 1 for
 *   iforest) throws an Error saying what to change; so does N = 1 with a neighbour detector. clip/gmm alone need no pool.
 * - LID is null (with a reason) when its value is not finite, i.e. more than lidK exact duplicates in the pool.
 * - `compat: 'released-code'` looks neighbour statistics up at the released code's (wrong) rows; see detectors.ts.
 */
import { batchNeighbours } from './knn';
import { planBatches } from './batching';
import { cosineOfRows } from './clipScore';
import { daoScore, lidFromSorted, releasedCodeRow, slofScore } from './detectors';
import { fitGmm1d, posteriorOfHigherMean, SAFE_PROBABILITY_THRESHOLD } from './gmm';
import { fitIsolationForest } from './iforest';
import { assessRows, checkInputShapes, scoreMode, type ScoreInput, type ScoreMode } from './inputs';
import type { GemmEngine } from './linalg';
import { DETECTOR_NAMES, type DetectorName, type ScoreOptions, type ScoreRow, type Scores } from './types';

export type { EmbeddingMatrix, ScoreInput, ScoreMode } from './inputs';

/** The part of AbortSignal the core uses (src/core has no DOM or Node types). */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
}

export interface ScoreHooks {
  /** Progress in reference rows processed (over all batches). */
  onProgress?(done: number, total: number): void;
  /**
   * Checked between GEMM blocks and batches (yielding to the event loop first, so an abort can arrive); when aborted,
   * scoreEmbeddings rejects with signal.reason (or an Error 'scoring aborted').
   */
  signal?: AbortSignalLike;
}

export interface ScoreOutput {
  /** One row per input row, in input order. */
  rows: ScoreRow[];
  /** Batch index of each input row (-1 = rejected row). */
  batchOf: Int32Array;
  /** The seeded permutation of 0..N-1 the batches were cut from. */
  batchOrder: Int32Array;
  mode: ScoreMode;
  /** Warnings about the whole run (e.g. clip/gmm skipped in image-only mode, GMM not fitted). */
  warnings: string[];
}

/** Isolation-forest settings fixed by the method. */
export const IFOREST_TREES = 100;
export const IFOREST_MAX_SAMPLES = 256;

const NEIGHBOUR_DETECTORS: readonly DetectorName[] = ['kdist', 'lid', 'slof', 'dao'];

function checkOptions(options: ScoreOptions): void {
  const positiveInt = (name: string, v: number): void => {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
  };
  positiveInt('k', options.k);
  positiveInt('lidK', options.lidK);
  if (!Number.isInteger(options.batchSize) || options.batchSize < 0) {
    throw new Error(`batch size must be a non-negative integer (0 = one batch), got ${options.batchSize}`);
  }
  if (!Number.isFinite(options.seed)) throw new Error(`seed must be a finite number, got ${options.seed}`);
  for (const d of options.detectors) {
    if (!DETECTOR_NAMES.includes(d)) throw new Error(`unknown detector '${String(d)}' (known: ${DETECTOR_NAMES.join(', ')})`);
  }
  if (options.compat !== 'correct' && options.compat !== 'released-code') {
    throw new Error(`compat must be 'correct' or 'released-code', got '${String(options.compat)}'`);
  }
}

/** Smallest pool the selected detectors need (0 = no neighbour detector). */
export function requiredPoolSize(options: Pick<ScoreOptions, 'k' | 'lidK' | 'detectors'>): number {
  const has = (d: DetectorName): boolean => options.detectors.includes(d);
  let need = 0;
  if (has('kdist') || has('slof') || has('dao')) need = Math.max(need, options.k + 1);
  if (has('lid')) need = Math.max(need, options.lidK + 1);
  if (has('iforest')) need = Math.max(need, 1);
  return need;
}

function throwIfAborted(signal: AbortSignalLike | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('scoring aborted');
}

type Scheduler = (callback: () => void) => unknown;
/** setImmediate where the host has it (Node), else a zero timeout; src/core has no host types, hence the lookup. */
const scheduleMacrotask: Scheduler | undefined = ((): Scheduler | undefined => {
  const host = globalThis as unknown as { setImmediate?: Scheduler; setTimeout?: (callback: () => void, ms: number) => unknown };
  if (typeof host.setImmediate === 'function') return host.setImmediate.bind(globalThis);
  if (typeof host.setTimeout === 'function') return (callback) => host.setTimeout?.(callback, 0);
  return undefined;
})();

/**
 * Lets pending events run (an abort request arriving by message, progress output) even with a synchronous GEMM engine,
 * then honours the signal.
 */
async function checkpoint(signal: AbortSignalLike | undefined): Promise<void> {
  if (signal && scheduleMacrotask) await new Promise<void>((resolve) => scheduleMacrotask(resolve));
  throwIfAborted(signal);
}

export async function scoreEmbeddings(input: ScoreInput, options: ScoreOptions, engine: GemmEngine, hooks: ScoreHooks = {}): Promise<ScoreOutput> {
  checkInputShapes(input);
  checkOptions(options);
  const mode = scoreMode(input);
  const { images } = input;
  const dim = images.dim;
  const n = images.rows;
  const validity = assessRows(input);
  const has = (d: DetectorName): boolean => options.detectors.includes(d);
  const { k, lidK } = options;
  const warnings: string[] = [];

  const wantClip = mode === 'image-text' && (has('clip') || has('gmm'));
  if (mode === 'image-only' && (has('clip') || has('gmm'))) {
    warnings.push('no caption embeddings: clipScore and the SafeCLIP safe/risky split are not computed');
  }

  const rows: ScoreRow[] = new Array<ScoreRow>(n);
  for (let i = 0; i < n; i++) {
    const scores: Scores = {};
    for (const d of NEIGHBOUR_DETECTORS) if (has(d)) scores[d as 'kdist' | 'lid' | 'slof' | 'dao'] = null;
    if (has('iforest')) scores.iforest = null;
    if (mode === 'image-text' && has('clip')) scores.clipScore = null;
    rows[i] = { index: i, scores, safeProbability: null, safe: null };
    if (validity.warnings[i]) rows[i].warnings = [...(validity.warnings[i] as string[])];
  }
  const warn = (i: number, message: string): void => {
    (rows[i].warnings ??= []).push(message);
  };

  const poolNeed = requiredPoolSize(options);
  // Rows a batch needs so that its pool is big enough when every caption is present.
  const rowsForPool = poolNeed === 0 ? 1 : mode === 'image-text' ? Math.ceil((poolNeed + 2) / 2) : poolNeed + 1;
  const minRows = Math.max(rowsForPool, Math.ceil(options.batchSize / 2));
  const plan = planBatches(validity.imageOk, options.batchSize, options.seed, minRows);

  const wantNeighbours = NEIGHBOUR_DETECTORS.some(has);
  if (poolNeed > 0) {
    let total = 0;
    for (const batch of plan.batches) total += batch.length;
    if (total === 0) throw new Error('no usable image embeddings: every row was rejected (see the row warnings)');
    let done = 0;
    const totalRefs = plan.batches.reduce((sum, batch) => sum + batch.length + countCaptions(batch, validity.captionOk), 0);
    for (let b = 0; b < plan.batches.length; b++) {
      await checkpoint(hooks.signal);
      const batch = plan.batches[b];
      const { refs, refRows, ownCaption } = buildReferences(input, batch, validity.captionOk);
      const smallestPool = minimumPool(batch.length, refRows, ownCaption);
      if (smallestPool < poolNeed) {
        throw new Error(
          `a batch of ${batch.length} samples gives a neighbour pool of ${smallestPool} entries, but the selected detectors need ` +
            `${poolNeed} (k=${k}, lidK=${lidK}): ${total < 2 ? 'there are too few samples' : 'use a larger --batch-size (or 0 for one batch)'}` +
            `, or lower --k/--lid-k, or leave out the neighbour detectors`,
        );
      }
      if (wantNeighbours) {
        const queryNeed = has('lid') ? Math.max(lidK, k) + 1 : k + 1;
        const refNeed = has('slof') || has('dao') ? k + 1 : 0;
        const knn = await batchNeighbours(
          { refs, refRows, dim, queryRows: batch.length, ownCaption, queryNeed, refNeed },
          engine,
          {
            checkpoint: () => checkpoint(hooks.signal),
            onRows: (rowsDone) => hooks.onProgress?.(done + rowsDone, totalRefs),
          },
        );
        const refKDist = new Float64Array(refRows);
        const refLid = new Float64Array(refRows);
        for (let r = 0; r < refRows && refNeed > 0; r++) {
          refKDist[r] = knn.refDist[r * refNeed + k];
          refLid[r] = lidFromSorted(knn.refDist, r * refNeed, k);
        }
        const nnKDist = new Float64Array(k);
        const nnLid = new Float64Array(k);
        for (let q = 0; q < batch.length; q++) {
          const row = batch[q];
          const scores = rows[row].scores;
          const base = q * queryNeed;
          const kDist = knn.queryDist[base + k];
          if (has('kdist')) scores.kdist = kDist;
          if (has('lid')) {
            const lid = lidFromSorted(knn.queryDist, base, lidK);
            if (Number.isFinite(lid)) scores.lid = lid;
            else if (knn.queryDist[base + lidK] === 0) {
              warn(row, `lid: more than lidK=${lidK} exact duplicates in the pool (distance to neighbour ${lidK + 1} is 0), LID is undefined`);
            } else warn(row, 'lid: not finite for this row');
          }
          if (refNeed > 0) {
            for (let t = 0; t < k; t++) {
              const poolRow = knn.queryIndex[base + t];
              const r = options.compat === 'released-code' ? releasedCodeRow(poolRow, q, ownCaption[q]) : poolRow;
              nnKDist[t] = refKDist[r];
              nnLid[t] = refLid[r];
            }
            if (has('slof')) scores.slof = slofScore(kDist, nnKDist);
            if (has('dao')) scores.dao = daoScore(kDist, nnKDist, nnLid);
          }
        }
      }
      if (has('iforest')) {
        const forest = fitIsolationForest(refs, refRows, dim, {
          trees: IFOREST_TREES,
          maxSamples: IFOREST_MAX_SAMPLES,
          seed: options.seed,
          stream: b,
        });
        for (let q = 0; q < batch.length; q++) rows[batch[q]].scores.iforest = forest.score(refs, q, dim);
      }
      done += refRows;
      hooks.onProgress?.(done, totalRefs);
    }
  }

  if (wantClip && input.texts) {
    const cos = new Float64Array(n).fill(NaN);
    for (let i = 0; i < n; i++) {
      if (validity.imageOk[i] && validity.captionOk[i]) cos[i] = cosineOfRows(images.data, input.texts.data, i, dim);
    }
    if (has('clip')) for (let i = 0; i < n; i++) if (!Number.isNaN(cos[i])) rows[i].scores.clipScore = cos[i];
    if (has('gmm')) applySafeClipSplit(cos, rows, warnings);
  }
  return { rows, batchOf: plan.batchOf, batchOrder: plan.batchOrder, mode, warnings };
}

/** Fits the GMM over every pair's cosine and sets safeProbability/safe; a fit that cannot be made leaves them null. */
function applySafeClipSplit(cos: Float64Array, rows: ScoreRow[], warnings: string[]): void {
  const present: number[] = [];
  for (let i = 0; i < cos.length; i++) if (!Number.isNaN(cos[i])) present.push(i);
  // SafeCLIP fits on the similarities sorted in descending order.
  const values = present.map((i) => cos[i]).sort((a, b) => b - a);
  let probabilities: Float64Array;
  try {
    const model = fitGmm1d(values);
    probabilities = posteriorOfHigherMean(model, present.map((i) => cos[i]));
  } catch (error) {
    warnings.push(`SafeCLIP split not computed: ${(error as Error).message}`);
    return;
  }
  present.forEach((row, t) => {
    rows[row].safeProbability = probabilities[t];
    rows[row].safe = probabilities[t] >= SAFE_PROBABILITY_THRESHOLD;
  });
}

function countCaptions(batch: Int32Array, captionOk: Uint8Array): number {
  let count = 0;
  for (const row of batch) count += captionOk[row];
  return count;
}

/**
 * R for one batch: the batch's images in batch order (so query q is R row q), then the usable captions.
 * ownCaption[q] is the R row of query q's caption, or -1.
 */
export function buildReferences(
  input: ScoreInput,
  batch: Int32Array,
  captionOk: Uint8Array,
): { refs: Float32Array; refRows: number; ownCaption: Int32Array } {
  const dim = input.images.dim;
  const captions = input.texts ? countCaptions(batch, captionOk) : 0;
  const refRows = batch.length + captions;
  const refs = new Float32Array(refRows * dim);
  const ownCaption = new Int32Array(batch.length).fill(-1);
  let next = batch.length;
  for (let q = 0; q < batch.length; q++) {
    const row = batch[q];
    refs.set(input.images.data.subarray(row * dim, (row + 1) * dim), q * dim);
    if (input.texts && captionOk[row]) {
      refs.set(input.texts.data.subarray(row * dim, (row + 1) * dim), next * dim);
      ownCaption[q] = next++;
    }
  }
  return { refs, refRows, ownCaption };
}

/** Smallest pool over the batch's queries: R minus the query and, when present, its own caption. */
function minimumPool(queries: number, refRows: number, ownCaption: Int32Array): number {
  let anyCaption = false;
  for (let q = 0; q < queries; q++) if (ownCaption[q] >= 0) anyCaption = true;
  return refRows - 1 - (anyCaption ? 1 : 0);
}

/**
 * Nearest-neighbour distances inside one batch, through GEMM blocks.
 *
 * The batch's reference set R (m rows) is multiplied with itself once. Each row of the product serves twice: as a
 * reference row (its distances to all of R including itself) and, for the first `queryRows` rows, as a query (its pool
 * distances, own image and own caption removed by index).
 *
 * Symmetric path (default up to 262,144 rows): only the upper block triangle R_I · R_{I..m}ᵀ goes through GEMM (about
 * half the products). Every entry (r, c) feeds the candidate buffer of row r and that of row c, so no m × m buffer is ever
 * held: memory is one block (blockRows × m floats) plus the candidate buffers (m × ~150 entries). A row block is final once its
 * GEMM block is done, since everything left of it arrived through earlier blocks.
 * Streaming path (larger R, or on request): full row blocks R_I · Rᵀ, one row's buffer at a time.
 *
 * Precision: squared distances ‖x‖² + ‖y‖² − 2x·y are formed on mean-centred data (distances are translation invariant
 * and centring shrinks the norms that cancel), with the norms in double precision. The partial selection keeps a few
 * extra candidates per row; candidates so close that float32 cancellation could matter (near-duplicates) get their
 * distance recomputed exactly in double precision, so exact duplicates are at distance 0 exactly.
 */
import type { GemmEngine } from './linalg';

export interface BatchKnnRequest {
  /** m × dim, row-major. The queries are rows [0, queryRows). */
  refs: Float32Array;
  refRows: number;
  dim: number;
  queryRows: number;
  /** Per query: the R row of its own caption (removed from its pool), or -1. */
  ownCaption: Int32Array;
  /** Sorted pool distances to keep per query (0 = none). */
  queryNeed: number;
  /** Sorted distances to all of R, including the row itself, to keep per R row (0 = none). */
  refNeed: number;
  /** Rows per GEMM block; default 256 (symmetric) or about 32 MiB of products per block (streaming). */
  blockRows?: number;
  /** Force the streaming path. */
  streaming?: boolean;
}

export interface BatchKnnResult {
  /** queryRows × queryNeed, ascending per query. */
  queryDist: Float64Array;
  /** R rows of those pool entries. */
  queryIndex: Int32Array;
  /** refRows × refNeed, ascending per row; entry 0 is the row itself (0). */
  refDist: Float64Array;
}

export interface BatchKnnHooks {
  /** Awaited between blocks: throw (or reject) to abort. */
  checkpoint?(): void | Promise<void>;
  /** R rows finished so far in this batch. */
  onRows?(done: number): void;
}

/** Extra candidates selected beyond what is needed, absorbing float32 rounding in the approximate ranking. */
const CANDIDATE_MARGIN = 8;
/** Target size of one product block when streaming, in floats (32 MiB). */
const BLOCK_FLOATS = 8 * 1024 * 1024;
/** Largest R for the symmetric path (buffers of ~150 candidates per row stay under ~500 MB). */
const SYMMETRIC_MAX_ROWS = 262144;
/** Row-block height on the symmetric path: small blocks keep the GEMM close to the triangle. */
const SYMMETRIC_BLOCK_ROWS = 256;
/**
 * Below this ratio d² / (‖x‖² + ‖y‖²) (centred norms) float32 cancellation can dominate the approximate distance, so the
 * candidate's distance is recomputed exactly. Above it the approximate d² is within ~1e-4 relative (float32 products),
 * well inside the 1e-3 agreement bar, and recomputing every candidate would cost as much as the GEMM.
 */
const EXACT_BELOW_RATIO = 1e-2;

/**
 * Per-row candidate buffers of (squared distance, R row), in flat arrays: an entry below the row's threshold is appended;
 * a full buffer (2 × capacity) is cut back to its `capacity` smallest by quickselect, which also lowers the threshold.
 * Appends are O(1) and cuts amortise to O(1) per entry, far cheaper than a heap's sift on every accepted entry.
 */
class CandidateBuffers {
  readonly dist: Float64Array;
  readonly index: Int32Array;
  readonly count: Int32Array;
  /** Entries at or above this are rejected: +∞ until the first cut, then the largest kept distance. */
  readonly worst: Float64Array;
  readonly stride: number;

  constructor(
    rows: number,
    maxCapacity: number,
    readonly capacity: Int32Array,
  ) {
    this.stride = 2 * maxCapacity;
    this.dist = new Float64Array(rows * this.stride);
    this.index = new Int32Array(rows * this.stride);
    this.count = new Int32Array(rows);
    this.worst = new Float64Array(rows).fill(Infinity);
  }

  reset(row: number, capacity: number): void {
    this.capacity[row] = capacity;
    this.count[row] = 0;
    this.worst[row] = Infinity;
  }

  push(row: number, d: number, j: number): void {
    const at = row * this.stride + this.count[row];
    this.dist[at] = d;
    this.index[at] = j;
    if (++this.count[row] === 2 * this.capacity[row]) this.cut(row);
  }

  /** Keeps the `capacity` smallest entries of the row (unordered) and lowers its threshold. */
  cut(row: number): void {
    const keep = this.capacity[row];
    if (this.count[row] <= keep) return;
    const base = row * this.stride;
    selectSmallestInPlace(this.dist, this.index, base, base + this.count[row], keep);
    let largest = -Infinity;
    for (let t = base; t < base + keep; t++) if (this.dist[t] > largest) largest = this.dist[t];
    this.count[row] = keep;
    this.worst[row] = largest;
  }
}

/** Quickselect on parallel arrays: afterwards [lo, lo+k) holds the k smallest of [lo, hi), unordered. */
function selectSmallestInPlace(dist: Float64Array, index: Int32Array, lo: number, hi: number, k: number): void {
  const target = lo + k; // first position that must hold an entry not smaller than every kept one
  let left = lo;
  let right = hi - 1;
  while (left < right) {
    const mid = (left + right) >> 1;
    // Median of three as pivot.
    const a = dist[left], b = dist[mid], c = dist[right];
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    let i = left;
    let j = right;
    while (i <= j) {
      while (dist[i] < pivot) i++;
      while (dist[j] > pivot) j--;
      if (i <= j) {
        const td = dist[i];
        dist[i] = dist[j];
        dist[j] = td;
        const ti = index[i];
        index[i] = index[j];
        index[j] = ti;
        i++;
        j--;
      }
    }
    if (target <= j) right = j;
    else if (target >= i) left = i;
    else return;
  }
}

export async function batchNeighbours(req: BatchKnnRequest, engine: GemmEngine, hooks: BatchKnnHooks = {}): Promise<BatchKnnResult> {
  const { refs, refRows: m, dim, queryRows, ownCaption, queryNeed, refNeed } = req;
  const centred = centreRows(refs, m, dim);
  const norms = new Float64Array(m);
  for (let r = 0; r < m; r++) {
    let s = 0;
    for (let t = r * dim; t < (r + 1) * dim; t++) s += centred[t] * centred[t];
    norms[r] = s;
  }

  const symmetric = m <= SYMMETRIC_MAX_ROWS && !req.streaming;
  const capacity = new Int32Array(m);
  for (let r = 0; r < m; r++) {
    const isQuery = r < queryRows && queryNeed > 0;
    capacity[r] = Math.min(m, (isQuery ? Math.max(queryNeed + 2, refNeed) : refNeed) + CANDIDATE_MARGIN);
  }
  const stride = Math.min(m, Math.max(queryNeed + 2, refNeed) + CANDIDATE_MARGIN);
  // Streaming needs buffers for the rows of one block only (slot = row − block start).
  const blockRows = Math.max(
    1,
    Math.min(m, req.blockRows ?? (symmetric ? SYMMETRIC_BLOCK_ROWS : Math.floor(BLOCK_FLOATS / Math.max(1, m)))),
  );
  const heaps = new CandidateBuffers(symmetric ? m : blockRows, stride, symmetric ? capacity : new Int32Array(blockRows));

  const result: BatchKnnResult = {
    queryDist: new Float64Array(queryRows * queryNeed),
    queryIndex: new Int32Array(queryRows * queryNeed),
    refDist: new Float64Array(m * refNeed),
  };
  const finish = { refs, dim, norms, queryRows, ownCaption, queryNeed, refNeed, result };

  for (let r0 = 0; r0 < m; r0 += blockRows) {
    await hooks.checkpoint?.();
    const r1 = Math.min(m, r0 + blockRows);
    if (symmetric) {
      const cols = m - r0;
      const upper = await engine.multiplyABt(centred.subarray(r0 * dim, r1 * dim), r1 - r0, centred.subarray(r0 * dim), cols, dim);
      feedUpperBlock(upper, r0, r1, m, norms, heaps);
      for (let r = r0; r < r1; r++) finishRow(r, r, heaps, finish);
    } else {
      const product = await engine.multiplyABt(centred.subarray(r0 * dim, r1 * dim), r1 - r0, centred, m, dim);
      for (let r = r0; r < r1; r++) {
        const slot = r - r0;
        heaps.reset(slot, capacity[r]);
        const own = norms[r];
        const offset = slot * m;
        for (let j = 0; j < m; j++) {
          const d = j === r ? -1 : own + norms[j] - 2 * product[offset + j];
          if (d < heaps.worst[slot]) heaps.push(slot, d, j);
        }
        finishRow(r, slot, heaps, finish);
      }
    }
    hooks.onRows?.(r1);
  }
  return result;
}

/**
 * Feeds the block rows [r0, r1) × columns [r0, m) into the heaps: entry (r, c) goes to row r and, when c lies below the
 * block, to row c as well (pairs inside the block are met twice already).
 */
function feedUpperBlock(upper: Float32Array, r0: number, r1: number, m: number, norms: Float64Array, heaps: CandidateBuffers): void {
  const cols = m - r0;
  const worst = heaps.worst;
  for (let r = r0; r < r1; r++) {
    const own = norms[r];
    const offset = (r - r0) * cols - r0;
    let rowWorst = worst[r];
    for (let c = r0; c < r1; c++) {
      const d = c === r ? -1 : own + norms[c] - 2 * upper[offset + c];
      if (d < rowWorst) {
        heaps.push(r, d, c);
        rowWorst = worst[r];
      }
    }
    for (let c = r1; c < m; c++) {
      const d = own + norms[c] - 2 * upper[offset + c];
      if (d < rowWorst) {
        heaps.push(r, d, c);
        rowWorst = worst[r];
      }
      if (d < worst[c]) heaps.push(c, d, r);
    }
  }
}

interface FinishContext {
  refs: Float32Array;
  dim: number;
  norms: Float64Array;
  queryRows: number;
  ownCaption: Int32Array;
  queryNeed: number;
  refNeed: number;
  result: BatchKnnResult;
}

/** Sorts row r's candidates (heap slot `slot`), fixes near-duplicates exactly, and writes its outputs. */
function finishRow(r: number, slot: number, heaps: CandidateBuffers, ctx: FinishContext): void {
  const { refs, dim, norms, queryRows, ownCaption, queryNeed, refNeed, result } = ctx;
  heaps.cut(slot);
  const base = slot * heaps.stride;
  const count = heaps.count[slot];
  const candDist = heaps.dist.subarray(base, base + count);
  const candIndex = heaps.index.subarray(base, base + count);
  refineAndSort(refs, dim, norms, r, candDist, candIndex);
  if (refNeed > 0) {
    if (count < refNeed) throw new Error(`internal: ${count} candidates for ${refNeed} reference distances`);
    for (let t = 0; t < refNeed; t++) result.refDist[r * refNeed + t] = Math.sqrt(Math.max(0, candDist[t]));
  }
  if (r < queryRows && queryNeed > 0) {
    const own = ownCaption[r];
    let kept = 0;
    for (let t = 0; t < count && kept < queryNeed; t++) {
      const j = candIndex[t];
      if (j === r || j === own) continue;
      result.queryDist[r * queryNeed + kept] = Math.sqrt(Math.max(0, candDist[t]));
      result.queryIndex[r * queryNeed + kept] = j;
      kept++;
    }
    if (kept < queryNeed) throw new Error(`internal: pool of query ${r} gave ${kept} of ${queryNeed} distances`);
  }
}

/** Rows minus their column mean (distances are translation invariant; centring shrinks the norms that cancel). */
function centreRows(refs: Float32Array, m: number, dim: number): Float32Array {
  const mean = new Float64Array(dim);
  for (let r = 0; r < m; r++) for (let t = 0; t < dim; t++) mean[t] += refs[r * dim + t];
  for (let t = 0; t < dim; t++) mean[t] /= Math.max(1, m);
  const centred = new Float32Array(m * dim);
  for (let r = 0; r < m; r++) for (let t = 0; t < dim; t++) centred[r * dim + t] = refs[r * dim + t] - mean[t];
  return centred;
}

/** Fixes candidates at risk of cancellation with exact squared distances, then sorts all by (distance, row). */
function refineAndSort(refs: Float32Array, dim: number, norms: Float64Array, self: number, candDist: Float64Array, candIndex: Int32Array): void {
  const count = candDist.length;
  const a = self * dim;
  for (let t = 0; t < count; t++) {
    const j = candIndex[t];
    if (j === self) {
      candDist[t] = 0;
      continue;
    }
    if (candDist[t] >= EXACT_BELOW_RATIO * (norms[self] + norms[j])) continue;
    const b = j * dim;
    let s = 0;
    for (let u = 0; u < dim; u++) {
      const diff = refs[a + u] - refs[b + u];
      s += diff * diff;
    }
    candDist[t] = s;
  }
  for (let t = 1; t < count; t++) {
    const d = candDist[t];
    const j = candIndex[t];
    let pos = t;
    while (pos > 0 && (candDist[pos - 1] > d || (candDist[pos - 1] === d && candIndex[pos - 1] > j))) {
      candDist[pos] = candDist[pos - 1];
      candIndex[pos] = candIndex[pos - 1];
      pos--;
    }
    candDist[pos] = d;
    candIndex[pos] = j;
  }
}

/** Exact Euclidean distance between row a of `x` and row b of `y` (double precision). */
export function exactDistance(x: Float32Array, a: number, y: Float32Array, b: number, dim: number): number {
  let s = 0;
  for (let u = 0; u < dim; u++) {
    const diff = x[a * dim + u] - y[b * dim + u];
    s += diff * diff;
  }
  return Math.sqrt(s);
}

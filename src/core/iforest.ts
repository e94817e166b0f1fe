/**
 * Isolation forest with scikit-learn's semantics (IsolationForest defaults: max_samples='auto', max_features=1.0,
 * bootstrap=False), driven by our own seeded RNG, so trees differ from sklearn's but the score is the same statistic:
 *   score(x) = 2^(−E[h(x)] / c(ψ)),  ψ = min(256, n),  h = leaf depth + c(samples in the leaf),
 * i.e. −sklearn `score_samples` (higher = more anomalous, in (0, 1]).
 * Each tree draws ψ rows without replacement, grows to depth ⌈log2 ψ⌉, and splits on a uniformly drawn non-constant
 * feature at a threshold uniform in [min, max) of that feature in the node (x ≤ threshold goes left), like sklearn's
 * random splitter with max_features=1.
 */
import { createRng, type Rng } from './rng';

const EULER_GAMMA = 0.5772156649015329;

/** c(n): average path length of an unsuccessful BST search, sklearn's `_average_path_length`. */
export function averagePathLength(n: number): number {
  if (n <= 1) return 0;
  if (n <= 2) return 1;
  return 2 * (Math.log(n - 1) + EULER_GAMMA) - (2 * (n - 1)) / n;
}

/** Anomaly score from the mean path length over trees, for a forest fitted with subsample size ψ. */
export function scoreFromMeanPathLength(meanPathLength: number, subsampleSize: number): number {
  return Math.pow(2, -meanPathLength / averagePathLength(subsampleSize));
}

export interface IsolationForestOptions {
  trees: number; // 100
  maxSamples: number; // 256
  seed: number;
  /** Distinguishes independent forests fitted with the same seed (e.g. one per batch). */
  stream?: number;
}

/** One tree in flat arrays. A node with feature -1 is a leaf holding `size` training samples. */
interface Tree {
  feature: Int32Array;
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  size: Int32Array;
}

export interface IsolationForest {
  readonly subsampleSize: number;
  readonly trees: number;
  /** Path length (edges to the leaf + c(leaf size)) of a row, averaged over trees. */
  meanPathLength(data: Float32Array, row: number, dim: number): number;
  /** −sklearn score_samples of a row. */
  score(data: Float32Array, row: number, dim: number): number;
}

export function fitIsolationForest(data: Float32Array, rows: number, dim: number, options: IsolationForestOptions): IsolationForest {
  if (rows < 2) throw new Error(`isolation forest needs at least 2 reference rows, got ${rows}`);
  if (!Number.isInteger(options.trees) || options.trees < 1) throw new Error(`isolation forest: invalid tree count ${options.trees}`);
  const psi = Math.min(options.maxSamples, rows);
  const maxDepth = Math.ceil(Math.log2(Math.max(psi, 2)));
  const rng = createRng(options.seed, 1000 + (options.stream ?? 0));
  const pool = new Int32Array(rows);
  const trees: Tree[] = [];
  for (let t = 0; t < options.trees; t++) {
    for (let i = 0; i < rows; i++) pool[i] = i;
    // Partial Fisher–Yates: the first ψ entries are a uniform sample without replacement.
    for (let i = 0; i < psi; i++) {
      const j = i + rng.nextInt(rows - i);
      const tmp = pool[i];
      pool[i] = pool[j];
      pool[j] = tmp;
    }
    trees.push(growTree(data, dim, pool.slice(0, psi), maxDepth, rng));
  }

  const meanPathLength = (x: Float32Array, row: number, d: number): number => {
    let total = 0;
    for (const tree of trees) {
      let node = 0;
      let depth = 0;
      while (tree.feature[node] >= 0) {
        node = x[row * d + tree.feature[node]] <= tree.threshold[node] ? tree.left[node] : tree.right[node];
        depth++;
      }
      total += depth + averagePathLength(tree.size[node]);
    }
    return total / trees.length;
  };
  return {
    subsampleSize: psi,
    trees: trees.length,
    meanPathLength,
    score: (x, row, d) => scoreFromMeanPathLength(meanPathLength(x, row, d), psi),
  };
}

function growTree(data: Float32Array, dim: number, sample: Int32Array, maxDepth: number, rng: Rng): Tree {
  const capacity = 2 ** (maxDepth + 1);
  const tree: Tree = {
    feature: new Int32Array(capacity).fill(-1),
    threshold: new Float64Array(capacity),
    left: new Int32Array(capacity),
    right: new Int32Array(capacity),
    size: new Int32Array(capacity),
  };
  const features = new Int32Array(dim);
  let nodes = 0;
  // Explicit stack of (node, start, end, depth) over `sample`, partitioned in place.
  const stack: [number, number, number, number][] = [[nodes++, 0, sample.length, 0]];
  while (stack.length > 0) {
    const [node, start, end, depth] = stack.pop() as [number, number, number, number];
    tree.size[node] = end - start;
    if (end - start < 2 || depth >= maxDepth) continue;
    const split = drawSplit(data, dim, sample, start, end, features, rng);
    if (!split) continue; // every feature constant here (duplicates): a leaf
    let mid = start;
    for (let i = start; i < end; i++) {
      if (data[sample[i] * dim + split.feature] <= split.threshold) {
        const tmp = sample[mid];
        sample[mid] = sample[i];
        sample[i] = tmp;
        mid++;
      }
    }
    tree.feature[node] = split.feature;
    tree.threshold[node] = split.threshold;
    const left = nodes++;
    const right = nodes++;
    tree.left[node] = left;
    tree.right[node] = right;
    stack.push([right, mid, end, depth + 1], [left, start, mid, depth + 1]);
  }
  return tree;
}

/** A uniformly drawn non-constant feature and a threshold uniform in [min, max) of it; null when all are constant. */
function drawSplit(
  data: Float32Array,
  dim: number,
  sample: Int32Array,
  start: number,
  end: number,
  features: Int32Array,
  rng: Rng,
): { feature: number; threshold: number } | null {
  for (let f = 0; f < dim; f++) features[f] = f;
  for (let remaining = dim; remaining > 0; remaining--) {
    const pick = rng.nextInt(remaining);
    const feature = features[pick];
    features[pick] = features[remaining - 1];
    let min = Infinity;
    let max = -Infinity;
    for (let i = start; i < end; i++) {
      const v = data[sample[i] * dim + feature];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (max > min) {
      let threshold = min + rng.nextFloat() * (max - min);
      if (threshold >= max) threshold = min; // rounding guard, as sklearn does
      return { feature, threshold };
    }
  }
  return null;
}

/**
 * Isolation forest: the c(n) / score math exactly against sklearn; determinism by seed; rank agreement with sklearn.
 * Trees are drawn by our RNG, not numpy's, so only the statistic can agree: at 2000 trees both are close to the
 * infinite-forest expectation and their rankings agree (bound below, measured ≈ see the report).
 */
import assert from 'node:assert/strict';
import { averagePathLength, fitIsolationForest, scoreFromMeanPathLength } from '../../../src/core/iforest';
import { jsGemmEngine } from '../../../src/core/jsGemm';
import { scoreEmbeddings } from '../../../src/core/scoring';
import { DEFAULT_SCORE_OPTIONS } from '../../../src/core/types';
import { loadJson, loadMatrix, spearman } from './helpers';

describe('isolation forest', () => {
  it('c(n) equals sklearn _average_path_length', () => {
    const { averagePathLength: reference } = loadJson<{ averagePathLength: Record<string, number> }>('extra.json');
    for (const [n, expected] of Object.entries(reference)) {
      assert.ok(Math.abs(averagePathLength(Number(n)) - expected) <= 1e-12 * Math.max(1, expected), `c(${n})`);
    }
    assert.equal(scoreFromMeanPathLength(averagePathLength(256), 256), 0.5);
  });

  it('a single-leaf forest scores 2^(−c(ψ)/c(ψ)) = 0.5 for duplicates', () => {
    const data = new Float32Array(8).fill(3); // 4 identical rows × 2 dims: every feature constant, root is a leaf
    const forest = fitIsolationForest(data, 4, 2, { trees: 5, maxSamples: 256, seed: 1 });
    assert.ok(Math.abs(forest.meanPathLength(data, 0, 2) - averagePathLength(4)) < 1e-12);
    assert.ok(Math.abs(forest.score(data, 0, 2) - 0.5) < 1e-12);
  });

  it('is deterministic by seed and changes with it', async () => {
    const input = { images: loadMatrix('it_images.npy'), texts: loadMatrix('it_texts.npy') };
    const options = { ...DEFAULT_SCORE_OPTIONS, detectors: ['iforest'] as const, batchSize: 0 };
    const a = await scoreEmbeddings(input, options, jsGemmEngine);
    const b = await scoreEmbeddings(input, options, jsGemmEngine);
    const c = await scoreEmbeddings(input, { ...options, seed: 1 }, jsGemmEngine);
    assert.deepEqual(a.rows, b.rows);
    assert.notDeepEqual(a.rows, c.rows);
    for (const row of a.rows) assert.ok((row.scores.iforest as number) > 0 && (row.scores.iforest as number) < 1);
  });

  for (const [name, file, texts] of [
    ['image-text', 'image_text.json', 'it_texts.npy'],
    ['image-only', 'image_only.json', null],
  ] as const) {
    it(`ranks like sklearn IsolationForest at 2000 trees (${name}, fit on R, scored on images)`, () => {
      const images = loadMatrix(name === 'image-text' ? 'it_images.npy' : 'io_images.npy');
      const refs = texts ? concatRows(images.data, loadMatrix(texts).data) : images.data;
      const forest = fitIsolationForest(refs, refs.length / images.dim, images.dim, { trees: 2000, maxSamples: 256, seed: 0 });
      const ours = Array.from({ length: images.rows }, (_, i) => forest.score(images.data, i, images.dim));
      const theirs = loadJson<{ iforestSklearn2000: number[] }>(file).iforestSklearn2000;
      assert.ok(spearman(ours, theirs) >= 0.97, `Spearman ${spearman(ours, theirs)}`);
      const meanDifference = ours.reduce((s, v, i) => s + Math.abs(v - theirs[i]), 0) / ours.length;
      assert.ok(meanDifference <= 0.01, `mean |difference| ${meanDifference}`);
    });
  }
});

function concatRows(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

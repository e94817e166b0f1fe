/** SafeCLIP GMM vs scikit-learn GaussianMixture(n_components=2, random_state=0), and the CLIP score. */
import assert from 'node:assert/strict';
import { fitGmm1d, posteriorOfHigherMean } from '../../../src/core/gmm';
import { jsGemmEngine } from '../../../src/core/jsGemm';
import { scoreEmbeddings } from '../../../src/core/scoring';
import { DEFAULT_SCORE_OPTIONS } from '../../../src/core/types';
import { loadJson, loadMatrix } from './helpers';

interface GmmReference {
  means: number[];
  variances: number[];
  weights: number[];
  safeProbability: number[];
}

function assertClose(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs ${expected}`);
}

/** Compares a fit with sklearn's, matching components by mean order (component labels are arbitrary). */
function assertMatchesSklearn(values: number[], reference: GmmReference): void {
  const model = fitGmm1d([...values].sort((a, b) => b - a));
  const ours = [0, 1].sort((a, b) => model.means[a] - model.means[b]);
  const theirs = [0, 1].sort((a, b) => reference.means[a] - reference.means[b]);
  for (let c = 0; c < 2; c++) {
    assertClose(model.means[ours[c]], reference.means[theirs[c]], 1e-3, `mean ${c}`);
    assertClose(model.variances[ours[c]], reference.variances[theirs[c]], 1e-3, `variance ${c}`);
    assertClose(model.weights[ours[c]], reference.weights[theirs[c]], 1e-3, `weight ${c}`);
  }
  const posterior = posteriorOfHigherMean(model, values);
  let worst = 0;
  posterior.forEach((p, i) => (worst = Math.max(worst, Math.abs(p - reference.safeProbability[i]))));
  assert.ok(worst <= 1e-3, `posterior differs by up to ${worst}`);
}

describe('SafeCLIP GMM', () => {
  it('matches sklearn on the fixture pairs’ CLIP scores (means, variances, weights, posteriors)', () => {
    const fixture = loadJson<{ clipScore: number[]; gmm: GmmReference }>('image_text.json');
    assertMatchesSklearn(fixture.clipScore, fixture.gmm);
  });

  it('matches sklearn on overlapping and skewed 1-D mixtures', () => {
    const { gmmCases } = loadJson<{ gmmCases: (GmmReference & { values: number[] })[] }>('extra.json');
    for (const reference of gmmCases) assertMatchesSklearn(reference.values, reference);
  });

  it('refuses degenerate input with a clear message', () => {
    assert.throws(() => fitGmm1d([0.3]), /at least 2 values/);
    assert.throws(() => fitGmm1d([0.3, 0.3, 0.3]), /all values are equal/);
    assert.throws(() => fitGmm1d([0.3, NaN]), /non-finite/);
  });
});

describe('CLIP score and safe split in scoreEmbeddings', () => {
  it('gives the cosine of each pair, the sklearn posterior and safe = p ≥ 0.9', async () => {
    const fixture = loadJson<{ clipScore: number[]; gmm: GmmReference }>('image_text.json');
    const input = { images: loadMatrix('it_images.npy'), texts: loadMatrix('it_texts.npy') };
    const output = await scoreEmbeddings(input, { ...DEFAULT_SCORE_OPTIONS, detectors: ['clip', 'gmm'] }, jsGemmEngine);
    output.rows.forEach((row, i) => {
      assertClose(row.scores.clipScore as number, fixture.clipScore[i], 1e-6, `clipScore ${i}`);
      assertClose(row.safeProbability as number, fixture.gmm.safeProbability[i], 1e-3, `safeProbability ${i}`);
      assert.equal(row.safe, (row.safeProbability as number) >= 0.9);
    });
    assert.ok(output.rows.some((r) => r.safe === false) && output.rows.some((r) => r.safe === true));
  });

  it('a single pair: clipScore defined, GMM skipped with a run warning', async () => {
    const input = { images: { data: new Float32Array([1, 2]), rows: 1, dim: 2 }, texts: { data: new Float32Array([2, 1]), rows: 1, dim: 2 } };
    const output = await scoreEmbeddings(input, { ...DEFAULT_SCORE_OPTIONS, detectors: ['clip', 'gmm'] }, jsGemmEngine);
    assertClose(output.rows[0].scores.clipScore as number, 0.8, 1e-7, 'cosine');
    assert.equal(output.rows[0].safeProbability, null);
    assert.match(output.warnings.join(' '), /at least 2 values/);
  });
});

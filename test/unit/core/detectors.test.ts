/**
 * Detector agreement with the formula reference (scripts/fixtures/core_detectors.py: float64, full sorts, B = 0).
 * Bar: Spearman ≥ 0.999 and relative error ≤ 1e-3 on all but at most 1% of rows, per detector and mapping mode.
 */
import assert from 'node:assert/strict';
import { jsGemmEngine } from '../../../src/core/jsGemm';
import type { GemmEngine } from '../../../src/core/linalg';
import { scoreEmbeddings, type ScoreOutput } from '../../../src/core/scoring';
import { DEFAULT_SCORE_OPTIONS, type NeighbourMapping } from '../../../src/core/types';
import { countRelativeErrors, loadJson, loadMatrix, spearman } from './helpers';

type DetectorKey = 'kdist' | 'lid' | 'slof' | 'dao';
interface DetectorFixture {
  rows: number;
  detectors: Record<NeighbourMapping, Record<DetectorKey, (number | null)[]>>;
  clipScore?: number[];
}

const KEYS: DetectorKey[] = ['kdist', 'lid', 'slof', 'dao'];

function compare(output: ScoreOutput, fixture: DetectorFixture, mode: NeighbourMapping, key: DetectorKey): void {
  const expected = fixture.detectors[mode][key];
  const actual = output.rows.map((r) => r.scores[key] ?? null);
  // Null exactly where the reference is undefined (LID with > lidK duplicates).
  assert.deepEqual(
    actual.map((v) => v === null),
    expected.map((v) => v === null),
    `${key}/${mode}: null pattern`,
  );
  const a: number[] = [];
  const e: number[] = [];
  actual.forEach((v, i) => {
    if (v !== null && expected[i] !== null) {
      a.push(v);
      e.push(expected[i] as number);
    }
  });
  const rho = spearman(a, e);
  assert.ok(rho >= 0.999, `${key}/${mode}: Spearman ${rho}`);
  const bad = countRelativeErrors(a, e, 1e-3);
  assert.ok(bad <= Math.floor(0.01 * a.length), `${key}/${mode}: ${bad} of ${a.length} rows beyond 1e-3 relative error`);
}

for (const mode of ['correct', 'released-code'] as const) {
  describe(`detectors vs formula reference (${mode} mapping)`, () => {
    it('image-text mode with a poisoned group and duplicate pairs', async () => {
      const fixture = loadJson<DetectorFixture>('image_text.json');
      const input = { images: loadMatrix('it_images.npy'), texts: loadMatrix('it_texts.npy') };
      const output = await scoreEmbeddings(input, { ...DEFAULT_SCORE_OPTIONS, batchSize: 0, compat: mode }, jsGemmEngine);
      assert.equal(output.mode, 'image-text');
      for (const key of KEYS) compare(output, fixture, mode, key);
    });

    it('image-only mode with 70 exact duplicates (LID null with a reason, SLOF/DAO mapped)', async () => {
      const fixture = loadJson<DetectorFixture>('image_only.json');
      const input = { images: loadMatrix('io_images.npy'), texts: null };
      const output = await scoreEmbeddings(input, { ...DEFAULT_SCORE_OPTIONS, batchSize: 0, compat: mode }, jsGemmEngine);
      assert.equal(output.mode, 'image-only');
      for (const key of KEYS) compare(output, fixture, mode, key);
      const duplicate = output.rows[120];
      assert.equal(duplicate.scores.lid, null);
      assert.match((duplicate.warnings ?? []).join(' '), /more than lidK=64 exact duplicates/);
      assert.equal(duplicate.scores.slof, 1000); // 0 / 0 in every term → NaN → 1000
      assert.ok(!('clipScore' in duplicate.scores));
    });
  });
}

/** A GEMM that rounds to float32 after every multiply-add, like a float32 BLAS (worse than most: no pairwise sums). */
const float32Engine: GemmEngine = {
  name: 'float32-accumulating',
  multiplyABt(a, rowsA, b, rowsB, dim) {
    const c = new Float32Array(rowsA * rowsB);
    for (let i = 0; i < rowsA; i++) {
      for (let j = 0; j < rowsB; j++) {
        let s = 0;
        for (let t = 0; t < dim; t++) s = Math.fround(s + Math.fround(a[i * dim + t] * b[j * dim + t]));
        c[i * rowsB + j] = s;
      }
    }
    return Promise.resolve(c);
  },
};

describe('float32 GEMM precision', () => {
  it('a float32-accumulating engine still meets the agreement bar (image-text and image-only)', async () => {
    const fixture = loadJson<DetectorFixture>('image_text.json');
    const input = { images: loadMatrix('it_images.npy'), texts: loadMatrix('it_texts.npy') };
    const output = await scoreEmbeddings(input, { ...DEFAULT_SCORE_OPTIONS, batchSize: 0 }, float32Engine);
    for (const key of KEYS) compare(output, fixture, 'correct', key);
    const onlyFixture = loadJson<DetectorFixture>('image_only.json');
    const onlyOutput = await scoreEmbeddings({ images: loadMatrix('io_images.npy'), texts: null }, { ...DEFAULT_SCORE_OPTIONS, batchSize: 0 }, float32Engine);
    for (const key of KEYS) compare(onlyOutput, onlyFixture, 'correct', key);
  });
});

describe('mapping modes differ', () => {
  it('released-code mapping changes SLOF for some rows but never k-dist', async () => {
    const input = { images: loadMatrix('it_images.npy'), texts: loadMatrix('it_texts.npy') };
    const options = { ...DEFAULT_SCORE_OPTIONS, batchSize: 0, detectors: ['kdist', 'slof'] as const };
    const correct = await scoreEmbeddings(input, { ...options, compat: 'correct' }, jsGemmEngine);
    const quirk = await scoreEmbeddings(input, { ...options, compat: 'released-code' }, jsGemmEngine);
    assert.deepEqual(
      correct.rows.map((r) => r.scores.kdist),
      quirk.rows.map((r) => r.scores.kdist),
    );
    const differing = correct.rows.filter((r, i) => r.scores.slof !== quirk.rows[i].scores.slof).length;
    assert.ok(differing > 100, `only ${differing} rows differ`);
  });
});

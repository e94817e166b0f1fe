/** scoreEmbeddings behaviour: batching, pools, rejected rows, missing captions, errors, abort, and the GEMM/kNN kernels. */
import assert from 'node:assert/strict';
import { planBatches } from '../../../src/core/batching';
import { multiplyABtSync, jsGemmEngine } from '../../../src/core/jsGemm';
import { batchNeighbours } from '../../../src/core/knn';
import type { GemmEngine } from '../../../src/core/linalg';
import { nearestInBatch } from '../../../src/core/neighbours';
import { scoreEmbeddings, type ScoreInput } from '../../../src/core/scoring';
import { DEFAULT_SCORE_OPTIONS, type ScoreOptions } from '../../../src/core/types';
import { randomMatrix } from './helpers';

const NEIGHBOURS: ScoreOptions['detectors'] = ['kdist', 'lid', 'slof', 'dao'];

function pairInput(rows: number, dim: number, seed: number): ScoreInput {
  return { images: randomMatrix(rows, dim, seed, 1, 0.5), texts: randomMatrix(rows, dim, seed + 1, 1, -0.2) };
}

function subset(input: ScoreInput, rows: ArrayLike<number>): ScoreInput {
  const pick = (m: ScoreInput['images']): ScoreInput['images'] => {
    const data = new Float32Array(rows.length * m.dim);
    for (let i = 0; i < rows.length; i++) data.set(m.data.subarray(rows[i] * m.dim, (rows[i] + 1) * m.dim), i * m.dim);
    return { data, rows: rows.length, dim: m.dim };
  };
  return { images: pick(input.images), texts: input.texts ? pick(input.texts) : null };
}

describe('GEMM and kNN kernels', () => {
  it('jsGemm equals the naive product on odd shapes', () => {
    const a = randomMatrix(7, 13, 1);
    const b = randomMatrix(69, 13, 2);
    const c = multiplyABtSync(a.data, 7, b.data, 69, 13);
    for (let i = 0; i < 7; i++) {
      for (let j = 0; j < 69; j++) {
        let s = 0;
        for (let t = 0; t < 13; t++) s += a.data[i * 13 + t] * b.data[j * 13 + t];
        assert.ok(Math.abs(c[i * 69 + j] - s) < 1e-5);
      }
    }
    assert.throws(() => multiplyABtSync(a.data, 8, b.data, 69, 13), /operands hold/);
  });

  it('batchNeighbours equals a brute-force sort (1e-5 relative), with exact zeros for duplicates, on both GEMM paths and any block size', async () => {
    const m = 150;
    const dim = 9;
    const refs = randomMatrix(m, dim, 3, 1, 20).data; // a large offset makes ‖x‖² cancellation hard
    refs.set(refs.subarray(0, dim), 5 * dim); // row 5 duplicates row 0
    const ownCaption = Int32Array.from({ length: 40 }, (_, q) => (q % 3 === 0 ? -1 : 40 + q));
    const result = await batchNeighbours({ refs, refRows: m, dim, queryRows: 40, ownCaption, queryNeed: 20, refNeed: 6, blockRows: 7 }, jsGemmEngine);
    const request = { refs, refRows: m, dim, queryRows: 40, ownCaption, queryNeed: 20, refNeed: 6 };
    assert.deepEqual(await batchNeighbours(request, jsGemmEngine), result);
    assert.deepEqual(await batchNeighbours({ ...request, streaming: true, blockRows: 11 }, jsGemmEngine), result);
    const dist = (a: number, b: number): number => {
      let s = 0;
      for (let t = 0; t < dim; t++) s += (refs[a * dim + t] - refs[b * dim + t]) ** 2;
      return Math.sqrt(s);
    };
    for (let r = 0; r < m; r++) {
      const all = Array.from({ length: m }, (_, j) => dist(r, j)).sort((x, y) => x - y);
      for (let t = 0; t < 6; t++) assert.ok(Math.abs(result.refDist[r * 6 + t] - all[t]) <= 1e-5 * all[t]);
    }
    for (let q = 0; q < 40; q++) {
      const pool = Array.from({ length: m }, (_, j) => j).filter((j) => j !== q && j !== ownCaption[q]);
      const sorted = pool.map((j) => dist(q, j)).sort((x, y) => x - y);
      for (let t = 0; t < 20; t++) {
        assert.ok(Math.abs(result.queryDist[q * 20 + t] - sorted[t]) <= 1e-5 * sorted[t]);
        assert.ok(Math.abs(dist(q, result.queryIndex[q * 20 + t]) - result.queryDist[q * 20 + t]) <= 1e-5 * sorted[t]);
      }
    }
    assert.equal(result.queryDist[0], 0); // row 0's nearest is its duplicate, exactly
  });
});

describe('batching', () => {
  it('is a seeded permutation; B = 0 keeps input order; a short tail is merged', () => {
    const usable = new Uint8Array(10).fill(1);
    usable[3] = 0;
    const plan = planBatches(usable, 4, 7, 2);
    assert.deepEqual([...plan.batchOrder].sort((a, b) => a - b), [...Array(10).keys()]);
    assert.deepEqual(plan.batches.map((b) => b.length), [4, 5]); // 9 usable rows: 4 + 4 + 1 → the 1 joins the last batch
    assert.equal(plan.batchOf[3], -1);
    assert.deepEqual(planBatches(usable, 4, 7, 2).batchOrder, plan.batchOrder);
    assert.notDeepEqual(planBatches(usable, 4, 8, 2).batchOrder, plan.batchOrder);
    const whole = planBatches(usable, 0, 7, 2);
    assert.deepEqual(Array.from(whole.batches[0]), [0, 1, 2, 4, 5, 6, 7, 8, 9]);
  });

  it('scores each row against its own batch only: equal to scoring each batch alone with B = 0', async () => {
    const input = pairInput(300, 8, 11);
    const options: ScoreOptions = { ...DEFAULT_SCORE_OPTIONS, batchSize: 100, detectors: NEIGHBOURS, lidK: 20 };
    const output = await scoreEmbeddings(input, options, jsGemmEngine);
    assert.equal(new Set(output.batchOf).size, 3);
    for (let b = 0; b < 3; b++) {
      const members = output.batchOrder.filter((row) => output.batchOf[row] === b);
      const alone = await scoreEmbeddings(subset(input, members), { ...options, batchSize: 0 }, jsGemmEngine);
      members.forEach((row, t) => assert.deepEqual(output.rows[row].scores, alone.rows[t].scores));
    }
  });

  it('reports progress up to the total and stops when aborted', async () => {
    const input = pairInput(200, 8, 12);
    const seen: [number, number][] = [];
    await scoreEmbeddings(input, { ...DEFAULT_SCORE_OPTIONS, batchSize: 100, lidK: 20 }, jsGemmEngine, {
      onProgress: (done, total) => seen.push([done, total]),
    });
    assert.deepEqual(seen[seen.length - 1], [400, 400]);
    const controller = new AbortController();
    const slowEngine: GemmEngine = {
      name: 'aborting',
      multiplyABt: (...args) => {
        controller.abort(new Error('user cancelled'));
        return jsGemmEngine.multiplyABt(...args);
      },
    };
    await assert.rejects(
      scoreEmbeddings(input, { ...DEFAULT_SCORE_OPTIONS, batchSize: 100, lidK: 20 }, slowEngine, { signal: controller.signal }),
      /user cancelled/,
    );
  });
});

describe('abort from the event loop', () => {
  it('an abort requested by a later event stops a synchronous-engine run between blocks', async () => {
    const controller = new AbortController();
    const run = scoreEmbeddings(pairInput(200, 8, 13), { ...DEFAULT_SCORE_OPTIONS, batchSize: 100, lidK: 20 }, jsGemmEngine, { signal: controller.signal });
    setImmediate(() => controller.abort(new Error('cancelled by the user')));
    await assert.rejects(run, /cancelled by the user/);
  });
});

describe('rows that cannot be used', () => {
  it('rejects NaN/Inf/zero-norm images per row and keeps them out of every pool', async () => {
    const clean = pairInput(120, 6, 21);
    const dirty = pairInput(120, 6, 21);
    dirty.images.data[10 * 6 + 2] = NaN;
    dirty.images.data[11 * 6] = Infinity;
    dirty.images.data.fill(0, 12 * 6, 13 * 6);
    const options: ScoreOptions = { ...DEFAULT_SCORE_OPTIONS, batchSize: 0, lidK: 20 };
    const output = await scoreEmbeddings(dirty, options, jsGemmEngine);
    for (const row of [10, 11, 12]) {
      assert.ok(Object.values(output.rows[row].scores).every((v) => v === null));
      assert.equal(output.batchOf[row], -1);
      assert.match((output.rows[row].warnings ?? [])[0], row === 12 ? /zero norm/ : /NaN or infinite/);
    }
    const kept = [...Array(120).keys()].filter((r) => r < 10 || r > 12);
    const reference = await scoreEmbeddings(subset(clean, kept), { ...options, detectors: NEIGHBOURS }, jsGemmEngine);
    kept.forEach((row, t) => assert.deepEqual({ ...output.rows[row].scores, iforest: undefined, clipScore: undefined }, { ...reference.rows[t].scores, iforest: undefined, clipScore: undefined }));
  });

  it('a missing caption leaves the pools and yields null clipScore/safe with a warning', async () => {
    const input = pairInput(120, 6, 31);
    const captionMissing = new Uint8Array(120);
    captionMissing[4] = 1;
    const output = await scoreEmbeddings({ ...input, captionMissing }, { ...DEFAULT_SCORE_OPTIONS, batchSize: 0, lidK: 20 }, jsGemmEngine);
    assert.equal(output.rows[4].scores.clipScore, null);
    assert.equal(output.rows[4].safe, null);
    assert.match((output.rows[4].warnings ?? []).join(), /no caption/);
    assert.equal(typeof output.rows[4].scores.kdist, 'number');
    const neighbours = nearestInBatch({ ...input, captionMissing }, output.batchOf, 0, 1000);
    assert.equal(neighbours.length, 119 + 118); // other images + other captions, minus the missing one
    assert.ok(!neighbours.some((nb) => nb.kind === 'caption' && nb.index === 4));
  });

  it('nearestInBatch agrees with k-dist: its (k+1)-th entry is at distance kdist', async () => {
    const input = pairInput(200, 6, 41);
    const output = await scoreEmbeddings(input, { ...DEFAULT_SCORE_OPTIONS, batchSize: 100, lidK: 20 }, jsGemmEngine);
    for (const query of [0, 57, 199]) {
      const neighbours = nearestInBatch(input, output.batchOf, query, 17);
      assert.ok(neighbours.every((nb) => output.batchOf[nb.index] === output.batchOf[query] && nb.index !== query));
      assert.ok(Math.abs(neighbours[16].distance - (output.rows[query].scores.kdist as number)) <= 1e-5 * neighbours[16].distance);
    }
  });
});

describe('errors with clear messages', () => {
  it('pool smaller than the detectors need, and N = 1', async () => {
    await assert.rejects(scoreEmbeddings(pairInput(30, 4, 1), { ...DEFAULT_SCORE_OPTIONS, batchSize: 0 }, jsGemmEngine), /pool of 58 entries, but the selected detectors need 65/);
    await assert.rejects(scoreEmbeddings({ images: randomMatrix(1, 4, 1), texts: null }, DEFAULT_SCORE_OPTIONS, jsGemmEngine), /too few samples/);
    const ok = await scoreEmbeddings(pairInput(30, 4, 1), { ...DEFAULT_SCORE_OPTIONS, detectors: ['kdist'] }, jsGemmEngine);
    assert.equal(ok.rows.length, 30);
  });

  it('bad shapes and options', async () => {
    const input = pairInput(10, 4, 1);
    await assert.rejects(scoreEmbeddings({ ...input, texts: randomMatrix(9, 4, 2) }, DEFAULT_SCORE_OPTIONS, jsGemmEngine), /texts has 9 rows/);
    await assert.rejects(scoreEmbeddings(input, { ...DEFAULT_SCORE_OPTIONS, k: 0 }, jsGemmEngine), /k must be a positive integer/);
    await assert.rejects(scoreEmbeddings(input, { ...DEFAULT_SCORE_OPTIONS, batchSize: -1 }, jsGemmEngine), /batch size/);
    await assert.rejects(scoreEmbeddings({ images: { data: new Float32Array(5), rows: 2, dim: 3 }, texts: null }, DEFAULT_SCORE_OPTIONS, jsGemmEngine), /do not match/);
  });

  it('near-ties give a finite (possibly negative) LID, never an error', async () => {
    const data = new Float32Array(100 * 3);
    for (let r = 0; r < 100; r++) {
      // Points on a sphere around row 0: all its neighbours at (almost) the same distance.
      const angle = (2 * Math.PI * r) / 99;
      data.set(r === 0 ? [5, 5, 5] : [5 + Math.cos(angle), 5 + Math.sin(angle), 5 + 1e-7 * r], r * 3);
    }
    const output = await scoreEmbeddings({ images: { data, rows: 100, dim: 3 }, texts: null }, { ...DEFAULT_SCORE_OPTIONS, batchSize: 0 }, jsGemmEngine);
    const lid = output.rows[0].scores.lid as number;
    assert.ok(Number.isFinite(lid) && lid < 0, `lid ${lid}`);
  });
});

import { strict as assert } from 'node:assert';
import { type GemmFormulation, createOrtGemmEngine } from '../../../src/backend/ortGemm';

/** Deterministic values in [-1, 1) so that failures reproduce. */
function seededMatrix(rows: number, cols: number, seed: number): Float32Array {
  let state = seed >>> 0 || 1;
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < out.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = ((state >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}

function naiveABt(a: Float32Array, rowsA: number, b: Float32Array, rowsB: number, dim: number): Float64Array {
  const c = new Float64Array(rowsA * rowsB);
  for (let i = 0; i < rowsA; i++) {
    for (let j = 0; j < rowsB; j++) {
      let sum = 0;
      for (let k = 0; k < dim; k++) sum += a[i * dim + k] * b[j * dim + k];
      c[i * rowsB + j] = sum;
    }
  }
  return c;
}

function assertClose(actual: Float32Array, expected: Float64Array, tolerance: number): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tolerance, `element ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

describe('onnxruntime GEMM engine', () => {
  for (const formulation of ['gemm', 'matmul-transpose'] as GemmFormulation[]) {
    it(`${formulation}: matches a naive A·Bᵀ for several shapes with one session (dynamic dims)`, async () => {
      const engine = await createOrtGemmEngine({ formulation });
      try {
        assert.equal(engine.device, 'cpu');
        assert.equal(engine.name, 'onnxruntime-cpu');
        const shapes: [number, number, number][] = [
          [1, 1, 1],
          [3, 5, 7],
          [17, 33, 64],
          [64, 9, 130],
        ];
        for (const [rowsA, rowsB, dim] of shapes) {
          const a = seededMatrix(rowsA, dim, rowsA * 31 + dim);
          const b = seededMatrix(rowsB, dim, rowsB * 17 + dim + 1);
          const c = await engine.multiplyABt(a, rowsA, b, rowsB, dim);
          assertClose(c, naiveABt(a, rowsA, b, rowsB, dim), 1e-4 * Math.sqrt(dim));
        }
      } finally {
        await engine.dispose();
      }
    });
  }

  it('returns an all-zero (empty) product for zero rows without calling the runtime', async () => {
    const engine = await createOrtGemmEngine();
    try {
      assert.equal((await engine.multiplyABt(new Float32Array(0), 0, new Float32Array(8), 2, 4)).length, 0);
      assert.deepEqual([...(await engine.multiplyABt(new Float32Array(0), 2, new Float32Array(0), 3, 0))], [0, 0, 0, 0, 0, 0]);
    } finally {
      await engine.dispose();
    }
  });

  it('uses only the leading rows×dim values of a longer buffer', async () => {
    const engine = await createOrtGemmEngine();
    try {
      const a = Float32Array.from([1, 2, 3, 4, 99, 99]);
      const b = Float32Array.from([1, 0, 0, 1]);
      assert.deepEqual([...(await engine.multiplyABt(a, 2, b, 2, 2))], [1, 2, 3, 4]);
    } finally {
      await engine.dispose();
    }
  });

  it('rejects an operand that is shorter than its shape', async () => {
    const engine = await createOrtGemmEngine();
    try {
      await assert.rejects(engine.multiplyABt(new Float32Array(3), 2, new Float32Array(4), 2, 2), /operand A/);
    } finally {
      await engine.dispose();
    }
  });

  it('falls back to CPU with a reason when CUDA is requested but cannot load', async () => {
    const engine = await createOrtGemmEngine({ device: 'cuda' });
    try {
      // This machine has no CUDA provider libraries; on a GPU machine the CUDA branch is taken and there is no reason.
      if (engine.device === 'cpu') assert.match(engine.fallbackReason ?? '', /CUDA requested but unavailable: .*; using CPU/);
      else assert.equal(engine.fallbackReason, undefined);
      const c = await engine.multiplyABt(Float32Array.from([1, 2]), 1, Float32Array.from([3, 4]), 1, 2);
      assert.deepEqual([...c], [11]);
    } finally {
      await engine.dispose();
    }
  });
});

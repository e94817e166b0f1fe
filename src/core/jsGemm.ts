/**
 * Pure-JavaScript GEMM (C = A·Bᵀ): the fallback engine and the one unit tests use.
 * Both operands are row-major with `dim` contiguous, so every C entry is a dot product of two contiguous rows.
 * A 2×4 register tile reuses each loaded value several times, and B is walked in panels that stay in cache.
 * Accumulation is in double precision (JS numbers), so it is at least as accurate as a float32 BLAS.
 */
import type { GemmEngine } from './linalg';

/** B rows per panel: 64 rows × 512 dims × 4 bytes = 128 KiB, about an L2 cache. */
const PANEL_ROWS = 64;

export function multiplyABtSync(a: Float32Array, rowsA: number, b: Float32Array, rowsB: number, dim: number): Float32Array {
  if (!Number.isInteger(rowsA) || !Number.isInteger(rowsB) || !Number.isInteger(dim) || rowsA < 0 || rowsB < 0 || dim < 0) {
    throw new RangeError(`multiplyABt: invalid shapes ${rowsA}×${dim} and ${rowsB}×${dim}`);
  }
  if (a.length < rowsA * dim || b.length < rowsB * dim) {
    throw new RangeError(`multiplyABt: operands hold ${a.length} and ${b.length} values for ${rowsA}×${dim} and ${rowsB}×${dim}`);
  }
  const c = new Float32Array(rowsA * rowsB);
  for (let panel = 0; panel < rowsB; panel += PANEL_ROWS) {
    const panelEnd = Math.min(rowsB, panel + PANEL_ROWS);
    let i = 0;
    for (; i + 1 < rowsA; i += 2) {
      const a0 = i * dim;
      const a1 = a0 + dim;
      let j = panel;
      for (; j + 3 < panelEnd; j += 4) {
        const b0 = j * dim;
        const b1 = b0 + dim;
        const b2 = b1 + dim;
        const b3 = b2 + dim;
        let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
        for (let t = 0; t < dim; t++) {
          const x0 = a[a0 + t];
          const x1 = a[a1 + t];
          const y0 = b[b0 + t];
          const y1 = b[b1 + t];
          const y2 = b[b2 + t];
          const y3 = b[b3 + t];
          s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
          s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
        }
        const c0 = i * rowsB + j;
        const c1 = c0 + rowsB;
        c[c0] = s00; c[c0 + 1] = s01; c[c0 + 2] = s02; c[c0 + 3] = s03;
        c[c1] = s10; c[c1 + 1] = s11; c[c1 + 2] = s12; c[c1 + 3] = s13;
      }
      for (; j < panelEnd; j++) {
        const b0 = j * dim;
        let s0 = 0, s1 = 0;
        for (let t = 0; t < dim; t++) {
          const y = b[b0 + t];
          s0 += a[a0 + t] * y;
          s1 += a[a1 + t] * y;
        }
        c[i * rowsB + j] = s0;
        c[(i + 1) * rowsB + j] = s1;
      }
    }
    for (; i < rowsA; i++) {
      const a0 = i * dim;
      for (let j = panel; j < panelEnd; j++) {
        const b0 = j * dim;
        let s = 0;
        for (let t = 0; t < dim; t++) s += a[a0 + t] * b[b0 + t];
        c[i * rowsB + j] = s;
      }
    }
  }
  return c;
}

/** The pure-JS engine. Synchronous work behind an async interface. */
export const jsGemmEngine: GemmEngine = {
  name: 'js',
  multiplyABt: (a, rowsA, b, rowsB, dim) => Promise.resolve(multiplyABtSync(a, rowsA, b, rowsB, dim)),
};

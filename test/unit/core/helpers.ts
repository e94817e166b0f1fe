/** Shared helpers for the core tests: fixture loading and agreement statistics. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseNpy } from '../../../src/core/npy';
import type { EmbeddingMatrix } from '../../../src/core/inputs';
import { createRng } from '../../../src/core/rng';

/** test/fixtures/core, from out/test/unit/core (bundled) or test/unit/core (source). */
export const FIXTURES = join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'core');

export function loadJson<T>(name: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as T;
}

export function loadMatrix(name: string): EmbeddingMatrix {
  const npy = parseNpy(new Uint8Array(readFileSync(join(FIXTURES, name))));
  if (!(npy.values instanceof Float32Array) || npy.shape.length !== 2) throw new Error(`${name}: expected a 2-D float32 array`);
  return { data: npy.values, rows: npy.shape[0], dim: npy.shape[1] };
}

function ranks(values: readonly number[]): number[] {
  const order = values.map((_, i) => i).sort((a, b) => values[a] - values[b]);
  const out = new Array<number>(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && values[order[end + 1]] === values[order[start]]) end++;
    for (let t = start; t <= end; t++) out[order[t]] = (start + end) / 2;
    start = end + 1;
  }
  return out;
}

/** Spearman rank correlation (mid-ranks for ties). */
export function spearman(x: readonly number[], y: readonly number[]): number {
  const rx = ranks(x);
  const ry = ranks(y);
  const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
  const mx = mean(rx);
  const my = mean(ry);
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < rx.length; i++) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) ** 2;
    syy += (ry[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

/** Number of rows whose relative error exceeds `tolerance` (relative to max(|expected|, 1e-12)). */
export function countRelativeErrors(actual: readonly number[], expected: readonly number[], tolerance: number): number {
  let bad = 0;
  for (let i = 0; i < actual.length; i++) {
    if (Math.abs(actual[i] - expected[i]) > tolerance * Math.max(Math.abs(expected[i]), 1e-12)) bad++;
  }
  return bad;
}

/** Seeded Gaussian-ish embeddings (sum of uniforms), for tests that need no reference. */
export function randomMatrix(rows: number, dim: number, seed: number, scale = 1, offset = 0): EmbeddingMatrix {
  const rng = createRng(seed, 77);
  const data = new Float32Array(rows * dim);
  for (let i = 0; i < data.length; i++) data[i] = offset + scale * (rng.nextFloat() + rng.nextFloat() + rng.nextFloat() - 1.5);
  return { data, rows, dim };
}

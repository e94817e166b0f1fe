/**
 * Seeded pseudo-random numbers (xoshiro128**, seeded through splitmix32). Deterministic across platforms:
 * every result depends only on (seed, stream), so batches and isolation trees are reproducible.
 */
export interface Rng {
  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number;
  /** Uniform float in [0, 1) with 53 random bits. */
  nextFloat(): number;
  /** Uniform integer in [0, n) for 1 ≤ n ≤ 2^32 (rejection sampling, no modulo bias). */
  nextInt(n: number): number;
}

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** A generator for `seed` (any finite number; its integer part is used) and an independent `stream` id. */
export function createRng(seed: number, stream = 0): Rng {
  const mix = { s: (Math.trunc(seed) ^ Math.imul(stream + 1, 0x27d4eb2f)) | 0 };
  // Fold the high bits of large seeds in too, so seeds ≥ 2^32 differ.
  mix.s = (mix.s + Math.trunc(Math.trunc(seed) / 4294967296)) | 0;
  let s0 = splitmix32(mix);
  let s1 = splitmix32(mix);
  let s2 = splitmix32(mix);
  let s3 = splitmix32(mix);
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;

  const nextUint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };
  return {
    nextUint32,
    nextFloat: () => ((nextUint32() >>> 5) * 67108864 + (nextUint32() >>> 6)) / 9007199254740992,
    nextInt(n: number): number {
      if (!(n >= 1 && n <= 4294967296)) throw new RangeError(`nextInt: bound ${n} out of range`);
      const limit = 4294967296 - (4294967296 % n);
      for (;;) {
        const x = nextUint32();
        if (x < limit) return x % n;
      }
    },
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** In-place Fisher–Yates shuffle. */
export function shuffleInPlace(values: Int32Array, rng: Rng): Int32Array {
  for (let i = values.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    const tmp = values[i];
    values[i] = values[j];
    values[j] = tmp;
  }
  return values;
}

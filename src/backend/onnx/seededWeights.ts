/**
 * Deterministic random weights for synthesised models. Each tensor gets its own PRNG stream derived from (seed, tensor
 * name), so a tensor's values do not depend on the order tensors are generated in or on which other tensors exist:
 * the split and combined layouts of one seed hold identical weights.
 */
import type { LazyBytes } from './protobuf';
import { littleEndianBytes } from './protobuf';

/** FNV-1a over the UTF-16 code units of the name, mixed with the seed. */
function streamSeed(seed: number, name: string): number {
  let hash = 0x811c9dc5 ^ Math.imul(seed >>> 0, 0x9e3779b1);
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** xoshiro128** (Blackman & Vigna): fast, 32-bit, good statistical quality; state seeded with splitmix32. */
class Xoshiro128 {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let state = seed >>> 0;
    const splitmix = (): number => {
      state = (state + 0x9e3779b9) >>> 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = splitmix();
    this.b = splitmix();
    this.c = splitmix();
    this.d = splitmix();
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Fills `out` with N(mean, std²) values (Box–Muller on two 32-bit uniforms; the first uniform is kept in (0, 1]). */
export function fillNormal(out: Float32Array, seed: number, name: string, std: number, mean = 0): Float32Array {
  const rng = new Xoshiro128(streamSeed(seed, name));
  const twoPi = 2 * Math.PI;
  for (let i = 0; i < out.length; i += 2) {
    const u1 = (rng.nextUint32() + 1) / 4294967296;
    const u2 = rng.nextUint32() / 4294967296;
    const radius = std * Math.sqrt(-2 * Math.log(u1));
    out[i] = mean + radius * Math.cos(twoPi * u2);
    if (i + 1 < out.length) out[i + 1] = mean + radius * Math.sin(twoPi * u2);
  }
  return out;
}

/** A float32 tensor of N(mean, std²) values, produced only when the model is written (keeps peak memory at one tensor). */
export function lazyNormalTensor(seed: number, name: string, elementCount: number, std: number, mean = 0): LazyBytes {
  return {
    byteLength: elementCount * 4,
    produce: () => littleEndianBytes(fillNormal(new Float32Array(elementCount), seed, name, std, mean)),
  };
}

/** Seeded RNG: determinism, ranges, independence of streams, unbiased shuffle. */
import assert from 'node:assert/strict';
import { createRng, shuffleInPlace } from '../../../src/core/rng';

describe('rng', () => {
  it('is deterministic by (seed, stream) and differs across seeds and streams', () => {
    const draw = (seed: number, stream: number): number[] => {
      const rng = createRng(seed, stream);
      return Array.from({ length: 8 }, () => rng.nextUint32());
    };
    assert.deepEqual(draw(3, 0), draw(3, 0));
    assert.notDeepEqual(draw(3, 0), draw(4, 0));
    assert.notDeepEqual(draw(3, 0), draw(3, 1));
    assert.notDeepEqual(draw(1, 0), draw(1 + 2 ** 32, 0));
  });

  it('keeps floats in [0, 1) and integers in [0, n) with roughly uniform counts', () => {
    const rng = createRng(9);
    const counts = new Array<number>(6).fill(0);
    for (let i = 0; i < 60000; i++) {
      const f = rng.nextFloat();
      assert.ok(f >= 0 && f < 1);
      counts[rng.nextInt(6)]++;
    }
    for (const c of counts) assert.ok(Math.abs(c - 10000) < 500, `count ${c}`);
    assert.throws(() => rng.nextInt(0), /out of range/);
  });

  it('shuffles into a permutation, every position reachable', () => {
    const rng = createRng(2);
    const firsts = new Set<number>();
    for (let t = 0; t < 200; t++) {
      const values = shuffleInPlace(Int32Array.from({ length: 10 }, (_, i) => i), rng);
      assert.deepEqual([...values].sort((a, b) => a - b), [...Array(10).keys()]);
      firsts.add(values[0]);
    }
    assert.equal(firsts.size, 10);
  });
});

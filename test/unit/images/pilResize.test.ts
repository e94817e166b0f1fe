import { strict as assert } from 'node:assert';
import { pilResize } from '../../../src/core/pilResize';

function pseudoRandomImage(width: number, height: number, channels: number, seed: number): Uint8Array {
  const out = new Uint8Array(width * height * channels);
  let state = seed;
  for (let i = 0; i < out.length; i++) {
    state = (state * 1103515245 + 12345) % 2147483648;
    out[i] = state >> 23;
  }
  return out;
}

describe('pilResize', () => {
  it('returns a copy when the size does not change', () => {
    const image = pseudoRandomImage(5, 4, 3, 1);
    const same = pilResize(image, 5, 4, 3, 5, 4, 'bicubic');
    assert.deepEqual(same, image);
    assert.notEqual(same, image);
  });

  it('keeps a constant image constant (weights sum to one after fixed-point rounding)', () => {
    const image = new Uint8Array(37 * 23 * 3).fill(200);
    for (const [w, h] of [[224, 140], [10, 7], [37, 50]]) {
      assert.ok(pilResize(image, 37, 23, 3, w, h, 'bicubic').every((v) => v === 200));
      assert.ok(pilResize(image, 37, 23, 3, w, h, 'bilinear').every((v) => v === 200));
    }
  });

  it('the RGB fast path equals the generic path on a replicated channel', () => {
    const gray = pseudoRandomImage(31, 17, 1, 7);
    const rgb = new Uint8Array(gray.length * 3);
    gray.forEach((v, i) => rgb.fill(v, i * 3, i * 3 + 3));
    for (const [w, h] of [[70, 40], [12, 9]]) {
      const fromGray = pilResize(gray, 31, 17, 1, w, h, 'bicubic');
      const fromRgb = pilResize(rgb, 31, 17, 3, w, h, 'bicubic');
      fromGray.forEach((v, i) => assert.equal(fromRgb[i * 3 + 1], v));
    }
  });

  it('rejects a buffer shorter than width × height × channels', () => {
    assert.throws(() => pilResize(new Uint8Array(10), 4, 4, 3, 2, 2, 'bicubic'), RangeError);
  });
});

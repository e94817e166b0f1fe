import { strict as assert } from 'node:assert';
import { fromFloat16Bits, toFloat16Bits } from '../../../src/backend/float16';
import { float32ToFloat16Bits } from '../../../src/backend/onnx/graph';

describe('float16 bulk conversion', () => {
  it('agrees bit for bit with the graph builder on edge cases and on many random values', () => {
    const edges = [0, -0, 1, -2, 65504, 65520, 1e6, -1e6, 6.1e-5, 5.96e-8, 2.98e-8, 1e-9, 0.1, 1 / 3, Infinity, -Infinity, NaN, 1.00048828125, 1.0009765625 + 0.00048828125];
    const random = Array.from({ length: 20000 }, (_, i) => Math.sin(i * 12.9898) * 10 ** ((i % 14) - 9));
    const values = Float32Array.from([...edges, ...random]);
    const bulk = toFloat16Bits(values);
    values.forEach((value, i) => assert.equal(bulk[i], float32ToFloat16Bits(value), `value ${value}`));
  });

  it('round-trips every finite half exactly', () => {
    const allBits = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const asFloat = fromFloat16Bits(allBits);
    const back = toFloat16Bits(asFloat);
    for (let bits = 0; bits < 65536; bits++) {
      const isNaN = (bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0;
      if (isNaN) assert.ok(Number.isNaN(asFloat[bits]));
      else assert.equal(back[bits], bits, `bits 0x${bits.toString(16)}`);
    }
    assert.equal(asFloat[0x3c00], 1);
    assert.equal(asFloat[0xc000], -2);
    assert.equal(asFloat[0x0001], 2 ** -24);
  });

  it('works on a view into a larger buffer', () => {
    const buffer = new Float32Array([9, 1, -2, 9]);
    assert.deepEqual([...toFloat16Bits(buffer.subarray(1, 3))], [0x3c00, 0xc000]);
  });
});

/** .npy reading and writing: dtypes, versions, and hostile input. */
import assert from 'node:assert/strict';
import { encodeNpy, halfToFloat, parseNpy } from '../../../src/core/npy';
import { createRng } from '../../../src/core/rng';
import { loadMatrix } from './helpers';

/** Builds a .npy by hand: header dict text, data bytes, version. */
function npy(dict: string, data: Uint8Array, major = 1): Uint8Array {
  const prefix = major === 1 ? 10 : 12;
  const total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  const header = dict.padEnd(total - prefix - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const dv = new DataView(out.buffer);
  if (major === 1) dv.setUint16(8, header.length, true);
  else dv.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[prefix + i] = header.charCodeAt(i);
  out.set(data, total);
  return out;
}

const bytesOf = (view: ArrayBufferView): Uint8Array => new Uint8Array(view.buffer, view.byteOffset, view.byteLength);

describe('npy', () => {
  it('round-trips float32 through encodeNpy and reads numpy-written fixtures', () => {
    const data = new Float32Array([1.5, -2, 3.25, 0, 1e-30, 7]);
    const parsed = parseNpy(encodeNpy(data, [2, 3]));
    assert.equal(parsed.dtype, '<f4');
    assert.deepEqual(parsed.shape, [2, 3]);
    assert.deepEqual(Array.from(parsed.values), Array.from(data));
    const fixture = loadMatrix('it_images.npy');
    assert.equal(fixture.rows, 300);
    assert.equal(fixture.dim, 32);
  });

  it('converts float16 to float32 (normals, subnormals, inf, NaN)', () => {
    const halves = new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7c00, 0x7e00, 0x3555]);
    const parsed = parseNpy(npy("{'descr': '<f2', 'fortran_order': False, 'shape': (6,), }", bytesOf(halves)));
    assert.ok(parsed.values instanceof Float32Array);
    const v = Array.from(parsed.values);
    assert.deepEqual(v.slice(0, 4), [1, -2, 2 ** -24, Infinity]);
    assert.ok(Number.isNaN(v[4]));
    assert.ok(Math.abs(v[5] - 1 / 3) < 1e-3);
    assert.equal(halfToFloat(0x8000), -0);
  });

  it('reads label dtypes <i8, <i4, |b1, |u1, <f8 and version 2 headers', () => {
    const i8 = parseNpy(npy("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", bytesOf(new BigInt64Array([0n, 1n, -5n]))));
    assert.deepEqual(Array.from(i8.values), [0, 1, -5]);
    const i4 = parseNpy(npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", bytesOf(new Int32Array([1, 0]))));
    assert.ok(i4.values instanceof Int32Array);
    const b1 = parseNpy(npy("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", new Uint8Array([1, 0, 1])));
    assert.deepEqual(Array.from(b1.values), [1, 0, 1]);
    const u1 = parseNpy(npy("{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }", new Uint8Array([7])));
    assert.deepEqual(Array.from(u1.values), [7]);
    const f8 = parseNpy(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", bytesOf(new Float64Array([0.5, 1])), 2));
    assert.deepEqual(Array.from(f8.values), [0.5, 1]);
  });

  it('rejects unsupported and malformed files with clear errors', () => {
    const f4 = bytesOf(new Float32Array(4));
    assert.throws(() => parseNpy(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", f4)), /Fortran-ordered/);
    assert.throws(() => parseNpy(npy("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", f4)), /unsupported .npy dtype '>f4'/);
    assert.throws(() => parseNpy(npy("{'descr': '|O', 'fortran_order': False, 'shape': (4,), }", f4)), /unsupported .npy dtype/);
    assert.throws(() => parseNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", f4)), /truncated .npy file/);
    assert.throws(() => parseNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", f4)), /shape entry/);
    assert.throws(() => parseNpy(npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", f4)), /structured/);
    assert.throws(() => parseNpy(new Uint8Array([1, 2, 3])), /missing the \\x93NUMPY magic/);
    assert.throws(() => parseNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }", f4)), /too large|truncated/);
    const cut = encodeNpy(new Float32Array(10), [10]).subarray(0, 40);
    assert.throws(() => parseNpy(cut), /truncated/);
  });

  it('never crashes on random garbage or corrupted headers: every failure is an Error', () => {
    const rng = createRng(5);
    const valid = encodeNpy(new Float32Array([1, 2, 3, 4]), [2, 2]);
    for (let trial = 0; trial < 2000; trial++) {
      const bytes = trial % 2 === 0 ? valid.slice() : new Uint8Array(rng.nextInt(200));
      if (trial % 2 === 0) for (let flips = 0; flips < 3; flips++) bytes[rng.nextInt(bytes.length)] = rng.nextInt(256);
      else for (let i = 0; i < bytes.length; i++) bytes[i] = rng.nextInt(256);
      try {
        parseNpy(bytes);
      } catch (error) {
        assert.ok(error instanceof Error, `trial ${trial}: threw ${String(error)}`);
      }
    }
  });
});

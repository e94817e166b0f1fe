/**
 * Bulk float32 ⇄ IEEE half conversion for fp16 model inputs and outputs. Works on whole arrays through a uint32 view of
 * the float32 bits (no per-value allocation): a batch of 16 images is 2.4 M values.
 */

/** Half-precision bits of every value (round to nearest even; overflow to ±Inf; NaN stays NaN). */
export function toFloat16Bits(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const word = bits[i];
    const sign = (word >>> 16) & 0x8000;
    const exponent = (word >>> 23) & 0xff;
    let mantissa = word & 0x7fffff;
    if (exponent === 0xff) {
      out[i] = sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
      continue;
    }
    const halfExponent = exponent - 112; // 127 - 15
    if (halfExponent >= 0x1f) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (halfExponent <= 0) {
      if (halfExponent < -10) {
        out[i] = sign;
        continue;
      }
      mantissa |= 0x800000;
      const shift = 14 - halfExponent;
      let half = mantissa >>> shift;
      const remainder = mantissa & ((1 << shift) - 1);
      const halfway = 1 << (shift - 1);
      if (remainder > halfway || (remainder === halfway && (half & 1) !== 0)) half++;
      out[i] = sign | half;
      continue;
    }
    let half = (halfExponent << 10) | (mantissa >>> 13);
    const remainder = mantissa & 0x1fff;
    // A carry out of the mantissa correctly bumps the exponent (up to Inf).
    if (remainder > 0x1000 || (remainder === 0x1000 && (half & 1) !== 0)) half++;
    out[i] = sign | half;
  }
  return out;
}

let halfTable: Float32Array | null = null;

/** All 65536 half values as float32, built on first use (only fp16 models need it). */
function halfValues(): Float32Array {
  if (halfTable) return halfTable;
  const table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >>> 10) & 0x1f;
    const mantissa = bits & 0x3ff;
    if (exponent === 0) table[bits] = sign * mantissa * 2 ** -24;
    else if (exponent === 0x1f) table[bits] = mantissa !== 0 ? NaN : sign * Infinity;
    else table[bits] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  halfTable = table;
  return table;
}

/** float32 values of half-precision bits (exact: every half is a float32). */
export function fromFloat16Bits(bits: Uint16Array): Float32Array {
  const table = halfValues();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}

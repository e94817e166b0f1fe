// Pillow's separable resampling (libImaging/Resample.c), re-implemented bit for bit for 8-bit interleaved images:
// the same kernel support, coefficient normalisation, 22-bit fixed point, rounding and horizontal-then-vertical
// order with an 8-bit intermediate. CLIP's reference preprocessing is PIL's bicubic resize, and libvips' own
// resize differs from it by tens of levels at edges when enlarging, so we resample with this instead.

export type PilFilter = 'bicubic' | 'bilinear';

const PRECISION_BITS = 32 - 8 - 2;
const ROUND_HALF = 1 << (PRECISION_BITS - 1);
const ONE = 1 << PRECISION_BITS;

interface FilterDefinition {
  support: number;
  weight: (x: number) => number;
}

const FILTERS: Record<PilFilter, FilterDefinition> = {
  bicubic: {
    support: 2,
    weight: (x: number): number => {
      // Keys cubic with a = -0.5 (Catmull-Rom), as in Pillow.
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
  bilinear: {
    support: 1,
    weight: (x: number): number => {
      const t = Math.abs(x);
      return t < 1 ? 1 - t : 0;
    },
  },
};

interface Coefficients {
  /** Taps per output pixel (max). */
  kernelSize: number;
  /** Per output pixel: first input index and tap count. */
  first: Int32Array;
  count: Int32Array;
  /** Fixed-point weights, kernelSize per output pixel. */
  weights: Int32Array;
}

/** precompute_coeffs + normalize_coeffs_8bpc for the whole input range [0, inSize). */
function precomputeCoefficients(inSize: number, outSize: number, filter: FilterDefinition): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const kernelSize = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * kernelSize);
  const taps = new Float64Array(kernelSize);
  const inverseScale = 1 / filterScale;
  for (let out = 0; out < outSize; out++) {
    const center = (out + 0.5) * scale;
    // C's (int) cast truncates toward zero.
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.weight((x + xmin - center + 0.5) * inverseScale);
      taps[x] = w;
      total += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = total !== 0 ? taps[x] / total : taps[x];
      weights[out * kernelSize + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    first[out] = xmin;
    count[out] = xmax;
  }
  return { kernelSize, first, count, weights };
}

function clip8(sum: number): number {
  const value = sum >> PRECISION_BITS;
  return value < 0 ? 0 : value > 255 ? 255 : value;
}

/**
 * Resizes an 8-bit interleaved image (`channels` per pixel) to outWidth × outHeight exactly as Pillow's
 * Image.resize(size, resample, reducing_gap=None) does for mode RGB/L. Returns a new buffer.
 */
export function pilResize(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  filterName: PilFilter,
): Uint8Array {
  if (pixels.length < width * height * channels) throw new RangeError(`pixel buffer holds ${pixels.length} bytes, need ${width * height * channels}`);
  if (outWidth === width && outHeight === height) return pixels.slice(0, width * height * channels);
  const filter = FILTERS[filterName];
  const horizontal = precomputeCoefficients(width, outWidth, filter);
  const vertical = precomputeCoefficients(height, outHeight, filter);
  let source = pixels;
  let sourceHeight = height;
  // Pillow resamples horizontally only the rows the vertical pass will read, then shifts the vertical bounds.
  let rowOffset = 0;
  if (outWidth !== width) {
    const firstRow = vertical.first[0];
    const lastRow = outHeight !== height ? vertical.first[outHeight - 1] + vertical.count[outHeight - 1] : height;
    const rows = outHeight !== height ? lastRow - firstRow : height;
    rowOffset = outHeight !== height ? firstRow : 0;
    const temp = new Uint8Array(outWidth * rows * channels);
    if (channels === 3) resampleRowsRgb(pixels, width, rowOffset, rows, temp, outWidth, horizontal);
    else resampleRowsAnyChannels(pixels, width, channels, rowOffset, rows, temp, outWidth, horizontal);
    source = temp;
    sourceHeight = rows;
    width = outWidth;
  }
  if (outHeight === height) return source;
  const result = new Uint8Array(outWidth * outHeight * channels);
  const { kernelSize, first, count, weights } = vertical;
  const rowStride = outWidth * channels;
  // Taps outer, pixels inner: walks both rows contiguously instead of striding down columns.
  const accumulator = new Int32Array(rowStride);
  for (let y = 0; y < outHeight; y++) {
    const start = first[y] - rowOffset;
    const taps = count[y];
    const k = y * kernelSize;
    if (start < 0 || start + taps > sourceHeight) throw new Error('internal: vertical taps outside the intermediate image');
    accumulator.fill(ROUND_HALF);
    for (let t = 0; t < taps; t++) {
      const w = weights[k + t];
      const base = (start + t) * rowStride;
      for (let i = 0; i < rowStride; i++) accumulator[i] = (accumulator[i] + Math.imul(source[base + i], w)) | 0;
    }
    const outRow = y * rowStride;
    for (let i = 0; i < rowStride; i++) result[outRow + i] = clip8(accumulator[i]);
  }
  return result;
}

/** The horizontal pass for interleaved RGB: three accumulators per tap loop (the hot loop of the whole resize). */
function resampleRowsRgb(pixels: Uint8Array, width: number, rowOffset: number, rows: number, temp: Uint8Array, outWidth: number, coefficients: Coefficients): void {
  const { kernelSize, first, count, weights } = coefficients;
  for (let y = 0; y < rows; y++) {
    const inRow = (y + rowOffset) * width * 3;
    let o = y * outWidth * 3;
    for (let x = 0; x < outWidth; x++) {
      let p = inRow + first[x] * 3;
      const taps = count[x];
      let k = x * kernelSize;
      let r = ROUND_HALF;
      let g = ROUND_HALF;
      let b = ROUND_HALF;
      for (let t = 0; t < taps; t++, p += 3, k++) {
        const w = weights[k];
        // Every partial sum stays within int32 (255 · Σ|w| < 2^31), as in Pillow's INT32 accumulators.
        r = (r + Math.imul(pixels[p], w)) | 0;
        g = (g + Math.imul(pixels[p + 1], w)) | 0;
        b = (b + Math.imul(pixels[p + 2], w)) | 0;
      }
      temp[o++] = clip8(r);
      temp[o++] = clip8(g);
      temp[o++] = clip8(b);
    }
  }
}

function resampleRowsAnyChannels(
  pixels: Uint8Array,
  width: number,
  channels: number,
  rowOffset: number,
  rows: number,
  temp: Uint8Array,
  outWidth: number,
  coefficients: Coefficients,
): void {
  const { kernelSize, first, count, weights } = coefficients;
  for (let y = 0; y < rows; y++) {
    const inRow = (y + rowOffset) * width * channels;
    const outRow = y * outWidth * channels;
    for (let x = 0; x < outWidth; x++) {
      const start = first[x];
      const taps = count[x];
      const k = x * kernelSize;
      for (let c = 0; c < channels; c++) {
        let sum = ROUND_HALF;
        for (let t = 0; t < taps; t++) sum = (sum + Math.imul(pixels[inRow + (start + t) * channels + c], weights[k + t])) | 0;
        temp[outRow + x * channels + c] = clip8(sum);
      }
    }
  }
}

import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { DEFAULT_PREPROCESS_CONFIG, type PreprocessConfig } from '../../../src/core/preprocessConfig';
import {
  ImageDecodeError,
  centreCropOffset,
  makeThumbnail,
  preprocessForClip,
  preprocessOne,
  setImageThreads,
  shortestEdgeSize,
  type ImageDecodeFailure,
  type PreprocessOptions,
} from '../../../src/backend/images';

interface ManifestEntry {
  name: string;
  file: string;
  reference: string;
  pilMode: string;
  size: [number, number];
  resized: [number, number];
  cropOffset: [number, number];
  exercises: string;
}

function fixtureDir(): string {
  // Tests run from out/test/unit/images/; walk up to the repository root.
  let dir = __dirname;
  while (!existsSync(join(dir, 'test', 'fixtures', 'images', 'manifest.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`test/fixtures/images not found above ${__dirname}`);
    dir = parent;
  }
  return join(dir, 'test', 'fixtures', 'images');
}

const FIXTURES = fixtureDir();
const MANIFEST = (JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as { images: ManifestEntry[] }).images;
const C: PreprocessConfig = { ...DEFAULT_PREPROCESS_CONFIG };
const PLANE = 224 * 224;

function input(name: string): Buffer {
  const entry = MANIFEST.find((e) => e.name === name);
  if (!entry) throw new Error(`no fixture ${name}`);
  return readFileSync(join(FIXTURES, entry.file));
}

/** PIL's tensor: the stored uint8 crop, rescaled and normalised the same way (float64 then float32). */
async function referenceTensor(entry: ManifestEntry): Promise<Float32Array> {
  const { data, info } = await sharp(readFileSync(join(FIXTURES, entry.reference))).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 3);
  const out = new Float32Array(3 * PLANE);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < PLANE; i++) out[c * PLANE + i] = data[i * 3 + c] * (C.rescale / C.std[c]) - C.mean[c] / C.std[c];
  }
  return out;
}

interface Comparison {
  maxLevels: number;
  meanLevels: number;
  cosine: number;
}

/** Differences in 0–255 levels (undoing the normalisation) and the cosine of the flattened tensors. */
function compare(ours: Float32Array, reference: Float32Array): Comparison {
  let maxLevels = 0;
  let sumLevels = 0;
  let dot = 0;
  let normOurs = 0;
  let normReference = 0;
  for (let i = 0; i < ours.length; i++) {
    const levels = Math.abs(ours[i] - reference[i]) * C.std[Math.floor(i / PLANE)] * 255;
    maxLevels = Math.max(maxLevels, levels);
    sumLevels += levels;
    dot += ours[i] * reference[i];
    normOurs += ours[i] * ours[i];
    normReference += reference[i] * reference[i];
  }
  return { maxLevels, meanLevels: sumLevels / ours.length, cosine: dot / Math.sqrt(normOurs * normReference) };
}

/** Undo normalisation: the 0–255 value of channel c at (x, y). */
function level(tensor: Float32Array, c: number, x: number, y: number): number {
  return Math.round((tensor[c * PLANE + y * 224 + x] * C.std[c] + C.mean[c]) * 255);
}

async function reasonOf(promise: Promise<unknown>): Promise<ImageDecodeFailure | 'ok'> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    assert.ok(error instanceof ImageDecodeError, `expected ImageDecodeError, got ${String(error)}`);
    return error.reason;
  }
}

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(kind: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(kind, 'ascii'), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

function png(width: number, height: number, bitDepth: number, colourType: number, idat: Buffer): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([bitDepth, colourType, 0, 0, 0], 8);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, pngChunk('IHDR', header), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
}

/** A tiny PNG whose header claims width × height: a decompression bomb's shape without its cost. */
function claimedPng(width: number, height: number): Buffer {
  return png(width, height, 8, 2, deflateSync(Buffer.alloc(1000)));
}

/** A grayscale PNG of 8 or 16 bits whose 8-bit value at (x, y) is `value(x, y)` (16-bit: value · 257). */
function grayPng(width: number, height: number, bitDepth: 8 | 16, value: (x: number, y: number) => number): Buffer {
  const bytesPerPixel = bitDepth / 8;
  const rows: Buffer[] = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * bytesPerPixel);
    for (let x = 0; x < width; x++) {
      if (bitDepth === 8) row[1 + x] = value(x, y);
      else row.writeUInt16BE(value(x, y) * 257, 1 + x * 2);
    }
    rows.push(row);
  }
  return png(width, height, bitDepth, 0, deflateSync(Buffer.concat(rows)));
}

describe('preprocessForClip vs the PIL reference (test/fixtures/images)', () => {
  const figures: string[] = [];
  after(() => {
    // The measured figures, for docs/preprocessing.md.
    if (process.env.SHOW_PREPROCESS_FIGURES) console.log(figures.join('\n'));
  });

  for (const entry of MANIFEST) {
    it(`${entry.name} (${entry.exercises}): identical with the PIL port, close with the default resizer`, async () => {
      const reference = await referenceTensor(entry);
      const exact = compare(await preprocessOne(readFileSync(join(FIXTURES, entry.file)), C, { resizer: 'pil' }), reference);
      const auto = compare(await preprocessOne(readFileSync(join(FIXTURES, entry.file)), C), reference);
      const viaSharp = compare(await preprocessOne(readFileSync(join(FIXTURES, entry.file)), C, { resizer: 'sharp' }), reference);
      figures.push(
        [entry.name, ...[exact, auto, viaSharp].map((r) => `max ${r.maxLevels.toFixed(1)} mean ${r.meanLevels.toFixed(3)} cos ${r.cosine.toFixed(6)}`)].join(' | '),
      );
      // Same decoded pixels + the same integer arithmetic as Pillow: only float rounding of the normalisation remains.
      assert.ok(exact.maxLevels < 1e-3, `pil resizer differs by ${exact.maxLevels} levels`);
      // libvips' reduce differs from Pillow's by a few levels at most; enlarging always uses the port.
      assert.ok(auto.maxLevels <= 12, `auto resizer max ${auto.maxLevels} levels`);
      assert.ok(auto.cosine >= 0.9999, `auto resizer cosine ${auto.cosine}`);
    });
  }

  it('libvips alone enlarges differently from PIL (why enlarging uses the port)', async () => {
    const entry = MANIFEST.find((e) => e.name === 'small_square_png');
    assert.ok(entry);
    const viaSharp = compare(await preprocessOne(input(entry.name), C, { resizer: 'sharp' }), await referenceTensor(entry));
    assert.ok(viaSharp.maxLevels > 12, `expected a visible difference, got ${viaSharp.maxLevels}`);
  });
});

describe('RGB conversion (like PIL convert("RGB"))', () => {
  it('grayscale is replicated into three equal channels', async () => {
    for (const name of ['gray_png', 'gray_jpeg', 'gray_alpha_png']) {
      const tensor = await preprocessOne(input(name), C, { resizer: 'pil' });
      for (const [x, y] of [[0, 0], [100, 37], [223, 223]]) {
        assert.equal(level(tensor, 0, x, y), level(tensor, 1, x, y), name);
        assert.equal(level(tensor, 1, x, y), level(tensor, 2, x, y), name);
      }
    }
  });

  it('alpha is dropped without compositing: fully transparent pixels keep their colour', async () => {
    // rgba_png has alpha 0 over its top-left 80×60 block; after resize (268×224) and crop (offset 22) that block
    // covers roughly x < 49, y < 53 of the crop.
    const entry = MANIFEST.find((e) => e.name === 'rgba_png');
    assert.ok(entry);
    const reference = await referenceTensor(entry);
    for (const resizer of ['auto', 'pil', 'sharp'] as const) {
      const tensor = await preprocessOne(input('rgba_png'), C, { resizer });
      const ours = [0, 1, 2].map((c) => level(tensor, c, 10, 10));
      const theirs = [0, 1, 2].map((c) => level(reference, c, 10, 10));
      assert.ok(ours.some((v) => v > 0), `${resizer}: transparent pixel turned black`);
      ours.forEach((v, c) => assert.ok(Math.abs(v - theirs[c]) <= 2, `${resizer}: channel ${c} ${v} vs PIL ${theirs[c]}`));
    }
  });

  it('CMYK uses PIL\'s formula (not an ICC transform), 16-bit keeps the high byte, palette is looked up', async () => {
    for (const name of ['cmyk_jpeg', 'rgb16_png', 'palette_png']) {
      const entry = MANIFEST.find((e) => e.name === name);
      assert.ok(entry);
      const result = compare(await preprocessOne(input(name), C, { resizer: 'pil' }), await referenceTensor(entry));
      assert.ok(result.maxLevels < 1e-3, `${name}: ${result.maxLevels}`);
    }
  });

  it('16-bit grayscale keeps the high byte (PIL would clip it to white; see docs/preprocessing.md)', async () => {
    const pattern = (x: number, y: number): number => (x * 7 + y * 3) % 256;
    const sixteen = await preprocessOne(grayPng(250, 230, 16, pattern), C, { resizer: 'pil' });
    const eight = await preprocessOne(grayPng(250, 230, 8, pattern), C, { resizer: 'pil' });
    assert.deepEqual(sixteen, eight);
  });

  it('animated GIF and WebP take the first frame', async () => {
    for (const name of ['animated_gif', 'animated_webp']) {
      const entry = MANIFEST.find((e) => e.name === name);
      assert.ok(entry);
      const bytes = input(name);
      const metadata = await sharp(bytes).metadata();
      assert.equal(metadata.pages, 3, `${name} should be animated`);
      const first = compare(await preprocessOne(bytes, C, { resizer: 'pil' }), await referenceTensor(entry));
      assert.ok(first.maxLevels < 1e-3, `${name}: ${first.maxLevels}`);
      // And not the second frame: render it and check it differs.
      const second = await sharp(bytes, { page: 1 }).png().toBuffer();
      const secondResult = compare(await preprocessOne(second, C, { resizer: 'pil' }), await referenceTensor(entry));
      assert.ok(secondResult.maxLevels > 10, `${name}: frames look identical`);
    }
  });

  it('EXIF orientation is ignored by default (like PIL) and applied on request', async () => {
    const bytes = input('exif_rotated_jpeg');
    assert.equal((await sharp(bytes).metadata()).orientation, 6);
    const entry = MANIFEST.find((e) => e.name === 'exif_rotated_jpeg');
    assert.ok(entry);
    const ignored = compare(await preprocessOne(bytes, C, { resizer: 'pil' }), await referenceTensor(entry));
    assert.ok(ignored.maxLevels < 1e-3);
    // Orientation 6 = rotate 90° clockwise; doing that to the decoded pixels losslessly must give the same tensor.
    const uprightPng = await sharp(await sharp(bytes).png().toBuffer()).rotate(90).png().toBuffer();
    const rotated = await preprocessOne(bytes, C, { resizer: 'pil', applyExifOrientation: true });
    const expected = await preprocessOne(uprightPng, C, { resizer: 'pil' });
    assert.ok(compare(rotated, expected).maxLevels < 1e-3);
    assert.ok(compare(rotated, await referenceTensor(entry)).maxLevels > 10);
  });
});

describe('preprocessForClip behaviour', () => {
  it('is deterministic, also when run concurrently', async () => {
    const bytes = input('large_jpeg');
    const runs = await Promise.all([0, 1, 2, 3].map(() => preprocessOne(bytes, C)));
    for (const run of runs.slice(1)) assert.deepEqual(run, runs[0]);
    assert.deepEqual(await preprocessOne(bytes, C), runs[0]);
  });

  it('writes 3×S×S at the offset and nothing else', async () => {
    const out = new Float32Array(3 * PLANE * 2 + 10).fill(42);
    await preprocessForClip(input('landscape_jpeg'), C, out, 3 * PLANE + 5);
    assert.ok(out.subarray(0, 3 * PLANE + 5).every((v) => v === 42));
    assert.ok(out.subarray(3 * PLANE * 2 + 5).every((v) => v === 42));
    assert.deepEqual(out.subarray(3 * PLANE + 5, 3 * PLANE * 2 + 5), await preprocessOne(input('landscape_jpeg'), C));
    await assert.rejects(preprocessForClip(input('landscape_jpeg'), C, new Float32Array(10), 0), RangeError);
  });

  it('follows the config: crop size, mean/std, rescale', async () => {
    const config: PreprocessConfig = { ...C, shortestEdge: 64, cropSize: 48, mean: [0, 0, 0], std: [1, 1, 1], rescale: 1 };
    const out = new Float32Array(3 * 48 * 48);
    await preprocessForClip(input('landscape_jpeg'), config, out, 0);
    assert.ok(out.every((v) => Number.isInteger(v) && v >= 0 && v <= 255));
  });

  it('zero-pads like HF when the crop is larger than the resized image', async () => {
    const config: PreprocessConfig = { ...C, shortestEdge: 32, cropSize: 40, mean: [0, 0, 0], std: [1, 1, 1], rescale: 1 };
    const out = new Float32Array(3 * 40 * 40);
    await preprocessForClip(input('small_square_png'), config, out, 0);
    assert.equal(out[0], 0);
    assert.ok(out.some((v) => v > 0));
  });

  it('computes HF sizes and crop offsets', () => {
    assert.deepEqual(shortestEdgeSize(320, 240, 224), { width: 298, height: 224 });
    assert.deepEqual(shortestEdgeSize(225, 331, 224), { width: 224, height: 329 });
    for (const entry of MANIFEST) {
      const size = shortestEdgeSize(entry.size[0], entry.size[1], 224);
      assert.deepEqual([size.width, size.height], entry.resized, entry.name);
      assert.deepEqual([centreCropOffset(size.width, 224), centreCropOffset(size.height, 224)], entry.cropOffset, entry.name);
    }
  });
});

describe('decode safety', () => {
  const jpeg = (): Buffer => input('landscape_jpeg');
  const png = (): Buffer => input('portrait_png');
  const cases: [string, () => Buffer, ImageDecodeFailure, PreprocessOptions?][] = [
    ['a zero-byte file', () => Buffer.alloc(0), 'empty'],
    ['a text file named .jpg', () => Buffer.from('<html>not an image</html>\n'), 'not-an-image'],
    ['a JPEG cut in half', () => jpeg().subarray(0, Math.floor(jpeg().length / 2)), 'truncated'],
    ['a JPEG with only its header', () => jpeg().subarray(0, 200), 'truncated'],
    ['a PNG cut in half', () => png().subarray(0, Math.floor(png().length / 2)), 'truncated'],
    ['a PNG header claiming 30000×30000 pixels (decompression bomb)', () => claimedPng(30000, 30000), 'too-many-pixels'],
    ['an image above a configured pixel limit', jpeg, 'too-many-pixels', { pixelLimit: 320 * 240 - 1 }],
    ['an SVG document', () => Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'), 'unsupported'],
    ['a JPEG with garbage over its entropy data', () => Buffer.concat([jpeg().subarray(0, 600), Buffer.alloc(2000, 0xff), jpeg().subarray(2600)]), 'corrupt'],
  ];
  for (const [what, bytes, reason, options] of cases) {
    it(`refuses ${what} with reason '${reason}'`, async () => {
      assert.equal(await reasonOf(preprocessOne(bytes(), C, options)), reason);
      assert.equal(await reasonOf(makeThumbnail(bytes(), 64, options)), reason);
    });
  }

  it('accepts an image exactly at the pixel limit', async () => {
    assert.equal(await reasonOf(preprocessOne(jpeg(), C, { pixelLimit: 320 * 240 })), 'ok');
  });

  it('throws only ImageDecodeError on mangled bytes', async () => {
    const original = jpeg();
    let state = 12345;
    const next = (): number => (state = (state * 1103515245 + 12345) % 2147483648);
    const seen = new Set<string>();
    for (let trial = 0; trial < 30; trial++) {
      const bytes = Buffer.from(original);
      for (let k = 0; k < 20; k++) bytes[next() % bytes.length] = next() % 256;
      const cut = trial % 3 === 0 ? bytes.subarray(0, next() % bytes.length) : bytes;
      seen.add(await reasonOf(preprocessOne(cut, C)));
    }
    assert.ok(seen.size >= 1);
  });
});

describe('makeThumbnail', () => {
  it('fits in size×size as WebP, keeps the aspect ratio, never enlarges', async () => {
    const thumb = await makeThumbnail(input('wide_jpeg'), 128);
    const meta = await sharp(thumb).metadata();
    assert.equal(meta.format, 'webp');
    assert.equal(meta.width, 128);
    assert.equal(meta.height, Math.round((128 * 150) / 520));
    const small = await sharp(await makeThumbnail(input('small_square_png'), 128)).metadata();
    assert.equal(small.width, 96);
  });

  it('writes JPEG on request and converts CMYK, alpha and 16-bit to 3-channel RGB', async () => {
    for (const name of ['cmyk_jpeg', 'rgba_png', 'rgb16_png', 'gray_alpha_png']) {
      const meta = await sharp(await makeThumbnail(input(name), 64, { format: 'jpeg' })).metadata();
      assert.equal(meta.format, 'jpeg', name);
      assert.equal(meta.channels, 3, name);
      assert.equal(meta.space, 'srgb', name);
    }
  });

  it('applies EXIF orientation for people by default', async () => {
    const meta = await sharp(await makeThumbnail(input('exif_rotated_jpeg'), 400)).metadata();
    assert.deepEqual([meta.width, meta.height], [226, 300]);
  });
});

describe('setImageThreads', () => {
  it('sets sharp concurrency and rejects nonsense', () => {
    const before = sharp.concurrency();
    try {
      assert.equal(setImageThreads(2), 2);
      assert.throws(() => setImageThreads(0), /positive integer/);
    } finally {
      sharp.concurrency(before);
    }
  });
});

// Image decoding for CLIP: safe decode (pixel limit, truncation), deliberate RGB conversion matching PIL's
// convert('RGB'), bicubic shortest-edge resize, centre crop, rescale + normalise into a CHW float32 tensor.
// How this compares with PIL, measured, is in docs/preprocessing.md.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp, { type Metadata, type OutputInfo, type Sharp } from 'sharp';
import { DEFAULT_PREPROCESS_CONFIG, parsePreprocessorConfig, type PreprocessConfig } from '../core/preprocessConfig';
import { pilResize } from '../core/pilResize';

/** PIL's Image.MAX_IMAGE_PIXELS: above this PIL warns, and refuses at twice it. We refuse at it. */
export const DEFAULT_PIXEL_LIMIT = 89_478_485;

export type ImageDecodeFailure = 'empty' | 'truncated' | 'not-an-image' | 'too-many-pixels' | 'unsupported' | 'corrupt';

/** The only error the functions below throw for a bad image; `reason` is stable for error rows and tests. */
export class ImageDecodeError extends Error {
  constructor(
    readonly reason: ImageDecodeFailure,
    message: string,
  ) {
    super(message);
    this.name = 'ImageDecodeError';
  }
}

export interface DecodeOptions {
  /** Refuse images with more pixels than this before decoding them (decompression bombs). Default DEFAULT_PIXEL_LIMIT. */
  pixelLimit?: number;
  /**
   * Rotate by the EXIF Orientation tag. Default false: PIL's reference pipeline (HF CLIPImageProcessor, OpenAI's
   * preprocess) ignores EXIF orientation, so the model saw training images unrotated.
   */
  applyExifOrientation?: boolean;
}

export interface PreprocessOptions extends DecodeOptions {
  /**
   * How the shortest-edge resize is done (measured in docs/preprocessing.md):
   * - 'auto' (default): enlarging with the PIL port (exact; inputs are small), reducing with libvips' 'cubic'
   *   (within ~2 levels of PIL, 2–10× faster than the port on photos);
   * - 'pil': always our bit-exact port of Pillow's resize (identical tensors to the PIL reference);
   * - 'sharp': always libvips (enlarging then differs from PIL by up to ~100 levels at hard edges).
   */
  resizer?: 'auto' | 'pil' | 'sharp';
  /**
   * Let libjpeg/libwebp decode at 1/2, 1/4, 1/8 scale when the downscale allows. Faster on large photos, but the
   * result drifts further from PIL (see docs/preprocessing.md). Only where libvips resizes. Default false.
   */
  fastShrinkOnLoad?: boolean;
}

/** Sets libvips' worker threads per image operation (sharp.concurrency) and returns the value in effect. */
export function setImageThreads(threads: number): number {
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`image threads must be a positive integer, got ${threads}`);
  return sharp.concurrency(threads);
}

/** Disables libvips' operation cache: a scan decodes each image once, so the cache only holds memory. */
sharp.cache(false);

function classify(error: unknown): ImageDecodeError {
  if (error instanceof ImageDecodeError) return error;
  const message = error instanceof Error ? error.message : String(error);
  // libvips repeats its message per retry; the first line says it.
  const firstLines = message.split('\n').slice(0, 2).join('; ');
  const lower = message.toLowerCase();
  if (lower.includes('pixel limit')) return new ImageDecodeError('too-many-pixels', `image is larger than the pixel limit (${firstLines})`);
  if (lower.includes('unsupported image format')) return new ImageDecodeError('not-an-image', 'not a recognised image format (JPEG, PNG, WebP, GIF, TIFF, AVIF)');
  if (lower.includes('buffer is empty')) return new ImageDecodeError('empty', 'image file is empty (0 bytes)');
  if (lower.includes('premature end') || lower.includes('truncated') || lower.includes('read error') || lower.includes('unexpected end')) {
    return new ImageDecodeError('truncated', `image data is truncated (${firstLines})`);
  }
  return new ImageDecodeError('corrupt', `image data is corrupt (${firstLines})`);
}

/** Formats libvips can read but a CLIP training image never is: vector documents are refused rather than rasterised. */
const REFUSED_FORMATS = new Set(['svg', 'pdf']);

interface RgbSource {
  /** A pipeline whose pixels are 8-bit RGB (alpha dropped) at the stored size, EXIF-rotated if asked. */
  image: Sharp;
  width: number;
  height: number;
}

function sharpInput(bytes: Buffer, pixelLimit: number): Sharp {
  // failOn 'truncated': refuse cut-off files like PIL does (without LOAD_TRUNCATED_IMAGES), but accept the benign
  // libjpeg warnings PIL also accepts. pages: 1 takes the first frame of an animation, as PIL does after open().
  // ignoreIcc: PIL keeps the stored values and ignores embedded profiles (Adobe RGB, P3, …); sharp would convert
  // them to sRGB, up to ~80 levels away from the reference.
  return sharp(bytes, { failOn: 'truncated', limitInputPixels: pixelLimit, pages: 1, page: 0, sequentialRead: true, ignoreIcc: true });
}

/**
 * Decodes to 8-bit RGB the way PIL's convert('RGB') does:
 * - RGBA / LA / palette+tRNS: alpha dropped without compositing (transparent pixels keep their stored colour);
 * - grayscale: replicated to three channels; palette: looked up;
 * - 16-bit: the high byte (PIL reads 16-bit PNG channels the same way);
 * - CMYK: PIL's formula R = (255 − C)(255 − K)/255, not an ICC transform, because that is what the reference did;
 * - animated GIF/WebP: the first frame.
 */
async function openRgb(bytes: Buffer, options: DecodeOptions): Promise<RgbSource> {
  if (bytes.length === 0) throw new ImageDecodeError('empty', 'image file is empty (0 bytes)');
  const pixelLimit = options.pixelLimit ?? DEFAULT_PIXEL_LIMIT;
  let metadata: Metadata;
  try {
    metadata = await sharpInput(bytes, pixelLimit).metadata();
  } catch (error) {
    throw classify(error);
  }
  if (metadata.format && REFUSED_FORMATS.has(metadata.format)) {
    throw new ImageDecodeError('unsupported', `${metadata.format.toUpperCase()} is a vector format; only raster images are embedded`);
  }
  const { width, height } = metadata;
  if (!width || !height) throw new ImageDecodeError('unsupported', `image has no dimensions (format ${metadata.format ?? 'unknown'})`);
  if (width * height > pixelLimit) {
    throw new ImageDecodeError('too-many-pixels', `image is ${width}×${height} = ${width * height} pixels, above the limit of ${pixelLimit}`);
  }
  const rotate = options.applyExifOrientation === true && (metadata.orientation ?? 1) > 1;
  const swapsSides = rotate && (metadata.orientation ?? 1) >= 5;
  const size = swapsSides ? { width: height, height: width } : { width, height };

  if (metadata.space === 'cmyk') {
    let raw: { data: Buffer; info: OutputInfo };
    try {
      let cmyk = sharpInput(bytes, pixelLimit).pipelineColourspace('cmyk').toColourspace('cmyk');
      if (rotate) cmyk = cmyk.rotate();
      raw = await cmyk.raw().toBuffer({ resolveWithObject: true });
    } catch (error) {
      throw classify(error);
    }
    if (raw.info.channels < 4) throw new ImageDecodeError('unsupported', `CMYK image decoded with ${raw.info.channels} channels`);
    const rgb = cmykToRgbLikePil(raw.data, raw.info.width * raw.info.height, raw.info.channels);
    return { image: sharp(rgb, { raw: { width: raw.info.width, height: raw.info.height, channels: 3 } }), width: raw.info.width, height: raw.info.height };
  }

  let image = sharpInput(bytes, pixelLimit);
  if (rotate) image = image.rotate();
  // removeAlpha drops the channel; toColourspace('srgb') replicates gray and narrows 16-bit to 8-bit.
  image = image.removeAlpha().toColourspace('srgb');
  if (metadata.hasAlpha) {
    // sharp premultiplies by alpha around a resize and applies removeAlpha last, which would blacken transparent
    // pixels. PIL drops alpha first and keeps their colour, so materialise RGB before any resize.
    let raw: { data: Buffer; info: OutputInfo };
    try {
      raw = await image.raw().toBuffer({ resolveWithObject: true });
    } catch (error) {
      throw classify(error);
    }
    return { image: sharp(raw.data, { raw: { width: raw.info.width, height: raw.info.height, channels: raw.info.channels } }), width: raw.info.width, height: raw.info.height };
  }
  return { image, ...size };
}

/** Pillow's cmyk2rgb (Convert.c): each channel is (255 − K) − round((255 − K)·C/255). */
function cmykToRgbLikePil(cmyk: Buffer, pixels: number, channels: number): Buffer {
  const rgb = Buffer.allocUnsafe(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    const k = 255 - cmyk[p * channels + 3];
    for (let c = 0; c < 3; c++) {
      // MULDIV255(a, b) = ((a*b + 128) + ((a*b + 128) >> 8)) >> 8
      const product = cmyk[p * channels + c] * k + 128;
      rgb[p * 3 + c] = Math.max(0, Math.min(255, k - ((product + (product >> 8)) >> 8)));
    }
  }
  return rgb;
}

/** HF/torchvision shortest-edge size: the short side becomes `edge`, the long side int(edge · long / short). */
export function shortestEdgeSize(width: number, height: number, edge: number): { width: number; height: number } {
  if (width <= height) return { width: edge, height: Math.floor((edge * height) / width) };
  return { width: Math.floor((edge * width) / height), height: edge };
}

/** HF CLIPImageProcessor's centre-crop offset: floor((size − crop) / 2). (torchvision rounds half to even instead.) */
export function centreCropOffset(size: number, crop: number): number {
  return Math.floor((size - crop) / 2);
}

/**
 * Decodes `bytes`, converts to RGB like PIL, resizes the shortest edge to `config.shortestEdge` (bicubic = sharp's
 * Catmull-Rom 'cubic', PIL's a = −0.5), centre-crops `config.cropSize`, and writes (x·rescale − mean)/std as
 * 3 × cropSize × cropSize CHW float32 into `out` starting at `offset`.
 * Throws only ImageDecodeError (or a RangeError if `out` is too small, a caller bug).
 */
export async function preprocessForClip(
  bytes: Buffer,
  config: PreprocessConfig,
  out: Float32Array,
  offset: number,
  options: PreprocessOptions = {},
): Promise<void> {
  const crop = config.cropSize;
  if (offset < 0 || offset + 3 * crop * crop > out.length) {
    throw new RangeError(`output tensor too small: need ${3 * crop * crop} floats at offset ${offset}, have ${out.length}`);
  }
  const source = await openRgb(bytes, options);
  const target = shortestEdgeSize(source.width, source.height, config.shortestEdge);
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    let image = source.image;
    const resizer = options.resizer ?? 'auto';
    const reduces = target.width < source.width;
    if (resizer === 'sharp' || (resizer === 'auto' && reduces)) {
      image = image.resize(target.width, target.height, {
        fit: 'fill',
        kernel: config.resample === 'bicubic' ? 'cubic' : 'linear',
        fastShrinkOnLoad: options.fastShrinkOnLoad ?? false,
      });
    }
    decoded = await image.raw().toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw classify(error);
  }
  const { width, height, channels } = decoded.info;
  if (channels !== 3) throw new ImageDecodeError('unsupported', `decoded to ${channels} channels instead of RGB`);
  if (width === target.width && height === target.height) {
    writeNormalisedCrop(decoded.data, width, height, config, out, offset);
    return;
  }
  const resized = pilResize(decoded.data, width, height, 3, target.width, target.height, config.resample);
  writeNormalisedCrop(resized, target.width, target.height, config, out, offset);
}

/** Centre crop (zero-padded where the crop exceeds the image, as HF pads) + rescale + normalise, HWC uint8 → CHW float32. */
function writeNormalisedCrop(rgb: Uint8Array, width: number, height: number, config: PreprocessConfig, out: Float32Array, offset: number): void {
  const crop = config.cropSize;
  const top = centreCropOffset(height, crop);
  const left = centreCropOffset(width, crop);
  const plane = crop * crop;
  for (let c = 0; c < 3; c++) {
    const scale = config.rescale / config.std[c];
    const shift = config.mean[c] / config.std[c];
    const base = offset + c * plane;
    for (let y = 0; y < crop; y++) {
      const sourceY = y + top;
      const rowInside = sourceY >= 0 && sourceY < height;
      for (let x = 0; x < crop; x++) {
        const sourceX = x + left;
        const value = rowInside && sourceX >= 0 && sourceX < width ? rgb[(sourceY * width + sourceX) * 3 + c] : 0;
        out[base + y * crop + x] = value * scale - shift;
      }
    }
  }
}

/** Convenience: one image → a fresh [1, 3, S, S] tensor's data. */
export async function preprocessOne(bytes: Buffer, config: PreprocessConfig = DEFAULT_PREPROCESS_CONFIG, options: PreprocessOptions = {}): Promise<Float32Array> {
  const out = new Float32Array(3 * config.cropSize * config.cropSize);
  await preprocessForClip(bytes, config, out, 0, options);
  return out;
}

export interface ThumbnailOptions extends DecodeOptions {
  format?: 'webp' | 'jpeg';
  quality?: number;
}

/** A thumbnail that fits in size×size (never enlarged), same RGB conversion and pixel limit; WebP by default. */
export async function makeThumbnail(bytes: Buffer, size: number, options: ThumbnailOptions = {}): Promise<Buffer> {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`thumbnail size must be a positive integer, got ${size}`);
  const source = await openRgb(bytes, { applyExifOrientation: true, ...options });
  try {
    // Thumbnails are for people, so EXIF orientation is applied unless the caller says otherwise.
    const image = source.image.resize(size, size, { fit: 'inside', withoutEnlargement: true, kernel: 'lanczos3' });
    const quality = options.quality ?? 80;
    return await (options.format === 'jpeg' ? image.jpeg({ quality }) : image.webp({ quality })).toBuffer();
  } catch (error) {
    throw classify(error);
  }
}

/** Reads `<modelDir>/preprocessor_config.json`; CLIP defaults when the file is absent. Bad JSON or field types throw. */
export async function loadPreprocessConfig(modelDir: string): Promise<PreprocessConfig> {
  const path = join(modelDir, 'preprocessor_config.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { ...DEFAULT_PREPROCESS_CONFIG };
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path}: not valid JSON (${(error as Error).message})`);
  }
  try {
    return parsePreprocessorConfig(json);
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
}

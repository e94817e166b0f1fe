// CLIP image preprocessing parameters, parsed from a Hugging Face `preprocessor_config.json` (pure).

export type ResampleKernel = 'bicubic' | 'bilinear';

export interface PreprocessConfig {
  /** The shorter image side is resized to this many pixels (aspect ratio kept, long side truncated like HF/torchvision). */
  shortestEdge: number;
  /** Side of the square centre crop; the model input is 3 × cropSize × cropSize. */
  cropSize: number;
  /** Multiplier applied to 0–255 pixel values before normalising (1/255 for CLIP; 1 when do_rescale is false). */
  rescale: number;
  mean: [number, number, number];
  std: [number, number, number];
  resample: ResampleKernel;
}

export const CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

export const DEFAULT_PREPROCESS_CONFIG: Readonly<PreprocessConfig> = Object.freeze({
  shortestEdge: 224,
  cropSize: 224,
  rescale: 1 / 255,
  mean: CLIP_MEAN,
  std: CLIP_STD,
  resample: 'bicubic',
});

/** PIL's resample codes as HF stores them (`"resample": 3`). */
const PIL_RESAMPLE: Record<number, ResampleKernel | undefined> = { 2: 'bilinear', 3: 'bicubic' };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function positiveInteger(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new Error(`preprocessor_config.json: ${field} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

function triple(value: unknown, field: string, positive: boolean): [number, number, number] {
  // Some configs give a single number for all channels.
  const list = typeof value === 'number' ? [value, value, value] : value;
  if (!Array.isArray(list) || list.length !== 3 || !list.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new Error(`preprocessor_config.json: ${field} must be three numbers, got ${JSON.stringify(value)}`);
  }
  if (positive && !list.every((v: number) => v > 0)) {
    throw new Error(`preprocessor_config.json: ${field} must be positive, got ${JSON.stringify(value)}`);
  }
  return [list[0], list[1], list[2]];
}

/** `size`: a number, {shortest_edge}, or {height, width} (square only: a fixed non-square resize is not CLIP's pipeline). */
function parseShortestEdge(size: unknown): number {
  if (typeof size === 'number') return positiveInteger(size, 'size');
  if (isRecord(size)) {
    if (size.shortest_edge !== undefined) return positiveInteger(size.shortest_edge, 'size.shortest_edge');
    if (size.height !== undefined && size.width !== undefined) {
      const height = positiveInteger(size.height, 'size.height');
      const width = positiveInteger(size.width, 'size.width');
      if (height !== width) throw new Error(`preprocessor_config.json: non-square size ${width}×${height} is not supported`);
      return height;
    }
  }
  throw new Error(`preprocessor_config.json: size must be a number, {shortest_edge} or {height, width}, got ${JSON.stringify(size)}`);
}

function parseCropSize(crop: unknown): number {
  if (typeof crop === 'number') return positiveInteger(crop, 'crop_size');
  if (isRecord(crop)) {
    const height = positiveInteger(crop.height, 'crop_size.height');
    const width = positiveInteger(crop.width, 'crop_size.width');
    if (height !== width) throw new Error(`preprocessor_config.json: non-square crop ${width}×${height} is not supported`);
    return height;
  }
  throw new Error(`preprocessor_config.json: crop_size must be a number or {height, width}, got ${JSON.stringify(crop)}`);
}

function parseResample(value: unknown): ResampleKernel {
  if (typeof value === 'number') {
    const kernel = PIL_RESAMPLE[value];
    if (kernel) return kernel;
  }
  if (value === 'bicubic' || value === 'bilinear') return value;
  throw new Error(`preprocessor_config.json: resample ${JSON.stringify(value)} is not supported (3 = bicubic, 2 = bilinear)`);
}

/**
 * Reads an HF `preprocessor_config.json` object. Missing fields take CLIP's defaults; present fields with a wrong
 * type throw an Error naming the field. Handles `size` as a number or {shortest_edge}, `crop_size` as a number or
 * {height, width}, `do_center_crop: false` (crop = shortest edge), `do_rescale`/`rescale_factor`,
 * `do_normalize: false` (mean 0, std 1) and `resample` as PIL's code.
 */
export function parsePreprocessorConfig(json: unknown): PreprocessConfig {
  if (!isRecord(json)) throw new Error('preprocessor_config.json: expected a JSON object');
  const config: PreprocessConfig = { ...DEFAULT_PREPROCESS_CONFIG, mean: [...CLIP_MEAN], std: [...CLIP_STD] };
  if (json.size !== undefined) config.shortestEdge = parseShortestEdge(json.size);
  if (json.crop_size !== undefined) config.cropSize = parseCropSize(json.crop_size);
  else if (json.size !== undefined) config.cropSize = config.shortestEdge;
  if (json.do_center_crop === false) config.cropSize = config.shortestEdge;
  if (json.rescale_factor !== undefined) {
    if (typeof json.rescale_factor !== 'number' || !(json.rescale_factor > 0)) {
      throw new Error(`preprocessor_config.json: rescale_factor must be a positive number, got ${JSON.stringify(json.rescale_factor)}`);
    }
    config.rescale = json.rescale_factor;
  }
  if (json.do_rescale === false) config.rescale = 1;
  if (json.image_mean !== undefined) config.mean = triple(json.image_mean, 'image_mean', false);
  if (json.image_std !== undefined) config.std = triple(json.image_std, 'image_std', true);
  if (json.do_normalize === false) {
    config.mean = [0, 0, 0];
    config.std = [1, 1, 1];
  }
  if (json.resample !== undefined) config.resample = parseResample(json.resample);
  for (const flag of ['do_rescale', 'do_normalize', 'do_center_crop', 'do_resize', 'do_convert_rgb'] as const) {
    if (json[flag] !== undefined && typeof json[flag] !== 'boolean') {
      throw new Error(`preprocessor_config.json: ${flag} must be true or false, got ${JSON.stringify(json[flag])}`);
    }
  }
  return config;
}

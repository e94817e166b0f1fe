/**
 * Builds poisoned copies of a dataset, following the attacks the paper evaluates (docs/method.md, "Attacks"), to
 * demonstrate and evaluate the detectors. The copy is a sidecar folder: every readable source image re-encoded the same
 * way (JPEG q95, no chroma subsampling, so clean and poisoned files differ only by the trigger), captions as `.txt`,
 * and `labels.csv` (id,label; 1 = poisoned) whose ids are exactly the ids the sidecar reader gives the copy.
 *
 * Triggers are defined on the 224×224 view the detector sees (shortest edge → 224, centre crop) and drawn at the
 * image's own scale, so after preprocessing they land where the paper puts them.
 */
import { mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { createRng } from '../core/rng';
import type { Rng } from '../core/rng';
import { openDataset } from './readers/index';
import type { LayoutName, SampleSource } from './readers/types';
import { isInside } from './safePath';

export const ATTACKS = ['badnets', 'blend', 'sig', 'wanet', 'nashville'] as const;
export type AttackName = (typeof ATTACKS)[number];

export interface PoisonOptions {
  source: string;
  out: string;
  attack: AttackName;
  /** Fraction of samples to poison, in [0, 1]; any rate > 0 poisons at least one. */
  rate: number;
  /** The word the poisoned captions name: "a photo of a <target>". */
  target: string;
  seed: number;
  layout?: LayoutName;
}

export interface PoisonResult {
  poisoned: number;
  /** Samples written to the copy. */
  total: number;
  /** Source samples not copied (error rows, unreadable or undecodable images), with reasons. */
  skipped: { id: string; reason: string }[];
  /** Copy ids of the poisoned samples, in order. */
  poisonedIds: string[];
}

/** The 224-pixel view the detector preprocesses to; trigger geometry is defined there. */
export const VIEW_SIZE = 224;
export const BADNETS_PATCH = 16;
/** BadNets patch corner range in the 224 view, inclusive (method.md: x, y ∈ [16, 207]). */
export const BADNETS_MIN = 16;
export const BADNETS_MAX = 207;
export const BLEND_ALPHA = 0.2;
export const SIG_ALPHA = 0.2;
/** SIG frequency: periods across the 224 view. */
export const SIG_FREQUENCY = 6;
/** WaNet control grid (k × k) and largest displacement in 224-view pixels. */
export const WANET_GRID = 4;
export const WANET_STRENGTH = 4;
/** The blend pattern and the WaNet field are the trigger: fixed, whatever the poisoning seed. */
const TRIGGER_PATTERN_SEED = 0x7419;

export interface RgbImage {
  /** width × height × 3, row-major. */
  data: Uint8Array;
  width: number;
  height: number;
}

export function poisonCaption(target: string): string {
  return `a photo of a ${target}`;
}

/** How many of `total` samples a rate poisons: round(rate·total), at least 1 when rate > 0. */
export function poisonCount(rate: number, total: number): number {
  if (total === 0 || rate <= 0) return 0;
  return Math.min(total, Math.max(1, Math.round(rate * total)));
}

export async function poisonDataset(options: PoisonOptions): Promise<PoisonResult> {
  const { attack, rate, target } = options;
  if (!(ATTACKS as readonly string[]).includes(attack)) throw new Error(`unknown attack "${attack}"; one of ${ATTACKS.join(', ')}`);
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`rate must be in [0, 1], got ${rate}`);
  if (target.trim() === '') throw new Error('the target word must not be empty');
  const source = resolve(options.source);
  const out = resolve(options.out);
  if (isInside(source, out) || isInside(out, source)) throw new Error('the output folder must not be the source folder, inside it, or contain it');
  await mkdir(out, { recursive: true });
  if ((await readdir(out)).length > 0) throw new Error(`output folder is not empty: ${out}`);

  const reader = await openDataset(source, { layout: options.layout });
  const skipped: { id: string; reason: string }[] = [];
  const samples: SampleSource[] = [];
  for await (const sample of reader.samples()) {
    if (sample.error !== null) skipped.push({ id: sample.id, reason: sample.error });
    else samples.push(sample);
  }
  const chosen = choosePoisoned(samples.length, rate, options.seed);
  const positions = createRng(options.seed, 2);
  const digits = Math.max(6, String(samples.length).length);
  const labels: string[] = ['id,label'];
  const poisonedIds: string[] = [];
  let written = 0;
  for (let i = 0; i < samples.length; i++) {
    const sample = samples[i];
    const isPoisoned = chosen.has(i);
    // Drawn for every chosen sample in order, so a sample's trigger does not depend on which others were readable.
    const triggerRng = isPoisoned ? createRng(positions.nextUint32(), 3) : null;
    let image: RgbImage;
    try {
      image = await decodeRgb(await sample.readImage());
    } catch (error) {
      skipped.push({ id: sample.id, reason: (error as Error).message });
      continue;
    }
    if (triggerRng !== null) image = applyTrigger(attack, image, triggerRng);
    const id = `${String(i).padStart(digits, '0')}_${safeStem(sample.id)}.jpg`;
    const jpeg = await sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
      raw: { width: image.width, height: image.height, channels: 3 },
    })
      .jpeg({ quality: 95, chromaSubsampling: '4:4:4' })
      .toBuffer();
    await writeFile(join(out, id), jpeg);
    const caption = isPoisoned ? poisonCaption(target) : sample.caption;
    if (caption !== null) await writeFile(join(out, id.replace(/\.jpg$/, '.txt')), caption);
    labels.push(`${csvField(id)},${isPoisoned ? 1 : 0}`);
    if (isPoisoned) poisonedIds.push(id);
    written++;
  }
  await writeAtomic(join(out, 'labels.csv'), `${labels.join('\n')}\n`);
  return { poisoned: poisonedIds.length, total: written, skipped, poisonedIds };
}

/** Indices of the samples to poison: a seeded uniform choice of poisonCount(rate, total). */
export function choosePoisoned(total: number, rate: number, seed: number): Set<number> {
  const count = poisonCount(rate, total);
  const order = Int32Array.from({ length: total }, (_, i) => i);
  const rng = createRng(seed, 1);
  // Partial Fisher–Yates: the first `count` slots are a uniform sample.
  for (let i = 0; i < count; i++) {
    const j = i + rng.nextInt(total - i);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return new Set(order.subarray(0, count));
}

export async function decodeRgb(bytes: Buffer): Promise<RgbImage> {
  // Alpha dropped and gray replicated, as PIL's convert('RGB'); first frame of animations.
  const { data, info } = await sharp(bytes, { failOn: 'truncated', pages: 1 })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected RGB`);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

/** Maps image pixels to the 224 view: view = (pixel + 0.5 − offset) / scale. */
export interface ViewGeometry {
  scale: number;
  offsetX: number;
  offsetY: number;
}

export function viewGeometry(width: number, height: number): ViewGeometry {
  const short = Math.min(width, height);
  return { scale: short / VIEW_SIZE, offsetX: (width - short) / 2, offsetY: (height - short) / 2 };
}

/** Returns a new image carrying the attack's trigger. `rng` draws per-sample choices (the BadNets position). */
export function applyTrigger(attack: AttackName, image: RgbImage, rng: Rng): RgbImage {
  switch (attack) {
    case 'badnets': {
      const x = BADNETS_MIN + rng.nextInt(BADNETS_MAX - BADNETS_MIN + 1);
      const y = BADNETS_MIN + rng.nextInt(BADNETS_MAX - BADNETS_MIN + 1);
      return drawBadnets(image, x, y);
    }
    case 'blend':
      return blendWith(image, BLEND_ALPHA, blendPattern());
    case 'sig':
      return blendWith(image, SIG_ALPHA, (u) => {
        const value = 127.5 + 127.5 * Math.sin((2 * Math.PI * SIG_FREQUENCY * u) / VIEW_SIZE);
        return [value, value, value];
      });
    case 'wanet':
      return warp(image);
    case 'nashville':
      return nashville(image);
  }
}

/** A 16×16 one-pixel black/white checkerboard (in view pixels) with its corner at view (x, y); white where x+y is even. */
export function drawBadnets(image: RgbImage, x: number, y: number): RgbImage {
  const { scale, offsetX, offsetY } = viewGeometry(image.width, image.height);
  const data = Uint8Array.from(image.data);
  const px0 = Math.max(0, Math.floor(offsetX + x * scale));
  const px1 = Math.min(image.width, Math.ceil(offsetX + (x + BADNETS_PATCH) * scale));
  const py0 = Math.max(0, Math.floor(offsetY + y * scale));
  const py1 = Math.min(image.height, Math.ceil(offsetY + (y + BADNETS_PATCH) * scale));
  for (let py = py0; py < py1; py++) {
    const v = Math.floor((py + 0.5 - offsetY) / scale) - y;
    if (v < 0 || v >= BADNETS_PATCH) continue;
    for (let px = px0; px < px1; px++) {
      const u = Math.floor((px + 0.5 - offsetX) / scale) - x;
      if (u < 0 || u >= BADNETS_PATCH) continue;
      const value = (u + v) % 2 === 0 ? 255 : 0;
      data.fill(value, (py * image.width + px) * 3, (py * image.width + px) * 3 + 3);
    }
  }
  return { ...image, data };
}

/** Fixed 224×224 RGB noise pattern for Blend (one trigger for every poisoned image). */
function blendPattern(): (u: number, v: number) => readonly number[] {
  const rng = createRng(TRIGGER_PATTERN_SEED, 0);
  const pattern = Uint8Array.from({ length: VIEW_SIZE * VIEW_SIZE * 3 }, () => rng.nextInt(256));
  return (u, v) => {
    const at = (clampIndex(Math.floor(v), VIEW_SIZE) * VIEW_SIZE + clampIndex(Math.floor(u), VIEW_SIZE)) * 3;
    return [pattern[at], pattern[at + 1], pattern[at + 2]];
  };
}

/** out = (1 − α)·image + α·pattern(view u, view v), over the whole image. */
function blendWith(image: RgbImage, alpha: number, pattern: (u: number, v: number) => readonly number[]): RgbImage {
  const { scale, offsetX, offsetY } = viewGeometry(image.width, image.height);
  const data = new Uint8Array(image.data.length);
  for (let py = 0; py < image.height; py++) {
    const v = (py + 0.5 - offsetY) / scale;
    for (let px = 0; px < image.width; px++) {
      const rgb = pattern((px + 0.5 - offsetX) / scale, v);
      const at = (py * image.width + px) * 3;
      for (let c = 0; c < 3; c++) data[at + c] = clampByte((1 - alpha) * image.data[at + c] + alpha * rgb[c]);
    }
  }
  return { ...image, data };
}

/**
 * WaNet-style warp: a fixed k×k grid of random displacements, bilinearly upsampled to a smooth field over the view,
 * each pixel resampled (bilinear) from the displaced position.
 */
function warp(image: RgbImage): RgbImage {
  const rng = createRng(TRIGGER_PATTERN_SEED, 1);
  const grid = Float64Array.from({ length: WANET_GRID * WANET_GRID * 2 }, () => rng.nextFloat() * 2 - 1);
  const field = (u: number, v: number, component: 0 | 1): number => {
    const gx = Math.min(WANET_GRID - 1, Math.max(0, (u / VIEW_SIZE) * (WANET_GRID - 1)));
    const gy = Math.min(WANET_GRID - 1, Math.max(0, (v / VIEW_SIZE) * (WANET_GRID - 1)));
    const x0 = Math.min(WANET_GRID - 2, Math.floor(gx));
    const y0 = Math.min(WANET_GRID - 2, Math.floor(gy));
    const fx = gx - x0;
    const fy = gy - y0;
    const g = (i: number, j: number) => grid[(j * WANET_GRID + i) * 2 + component];
    const top = g(x0, y0) * (1 - fx) + g(x0 + 1, y0) * fx;
    const bottom = g(x0, y0 + 1) * (1 - fx) + g(x0 + 1, y0 + 1) * fx;
    return (top * (1 - fy) + bottom * fy) * WANET_STRENGTH;
  };
  const { scale, offsetX, offsetY } = viewGeometry(image.width, image.height);
  const data = new Uint8Array(image.data.length);
  const { width, height } = image;
  for (let py = 0; py < height; py++) {
    const v = (py + 0.5 - offsetY) / scale;
    for (let px = 0; px < width; px++) {
      const u = (px + 0.5 - offsetX) / scale;
      const sx = Math.min(width - 1, Math.max(0, px + field(u, v, 0) * scale));
      const sy = Math.min(height - 1, Math.max(0, py + field(u, v, 1) * scale));
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const x1 = Math.min(width - 1, x0 + 1);
      const y1 = Math.min(height - 1, y0 + 1);
      const fx = sx - x0;
      const fy = sy - y0;
      const at = (py * width + px) * 3;
      for (let c = 0; c < 3; c++) {
        const p = (xx: number, yy: number) => image.data[(yy * width + xx) * 3 + c];
        const top = p(x0, y0) * (1 - fx) + p(x1, y0) * fx;
        const bottom = p(x0, y1) * (1 - fx) + p(x1, y1) * fx;
        data[at + c] = clampByte(top * (1 - fy) + bottom * fy);
      }
    }
  }
  return { ...image, data };
}

/**
 * Instagram-style Nashville filter (as in the pilgram library): darken toward peach (56%), lighten toward blue (40%),
 * then sepia 0.2, contrast 1.2, brightness 1.05, saturation 1.2 (CSS filter definitions).
 */
function nashville(image: RgbImage): RgbImage {
  const data = new Uint8Array(image.data.length);
  const peach = [247, 176, 153];
  const blue = [0, 70, 150];
  for (let at = 0; at < image.data.length; at += 3) {
    let rgb = [image.data[at], image.data[at + 1], image.data[at + 2]];
    rgb = rgb.map((c, k) => c + (Math.min(c, peach[k]) - c) * 0.56);
    rgb = rgb.map((c, k) => c + (Math.max(c, blue[k]) - c) * 0.4);
    const [r, g, b] = rgb;
    const sepia = [0.393 * r + 0.769 * g + 0.189 * b, 0.349 * r + 0.686 * g + 0.168 * b, 0.272 * r + 0.534 * g + 0.131 * b];
    rgb = rgb.map((c, k) => c + (Math.min(255, sepia[k]) - c) * 0.2);
    rgb = rgb.map((c) => ((c / 255 - 0.5) * 1.2 + 0.5) * 255 * 1.05);
    const gray = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
    for (let k = 0; k < 3; k++) data[at + k] = clampByte(gray + (rgb[k] - gray) * 1.2);
  }
  return { ...image, data };
}

function clampByte(value: number): number {
  return value <= 0 ? 0 : value >= 255 ? 255 : Math.round(value);
}

function clampIndex(value: number, size: number): number {
  return value < 0 ? 0 : value >= size ? size - 1 : value;
}

/** A file-name-safe stem from a sample id: its last path part without extension, limited to [A-Za-z0-9_-]. */
function safeStem(id: string): string {
  const last = id.split(/[/#]/).filter((part) => part !== '').pop() ?? 'sample';
  const withoutExtension = last.replace(/\.[A-Za-z0-9]+$/, '');
  return withoutExtension.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 60) || 'sample';
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  await writeFile(temporary, text);
  await rename(temporary, path);
}

/**
 * Deterministic synthetic image–caption datasets for the demo, tests and benchmarks: a sidecar folder of JPEGs showing a
 * coloured shape on a patterned background, each with a caption that names what is drawn
 * ("a photo of a red circle on a striped background"). Same (count, seed, size) → byte-identical files.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { createRng } from '../core/rng';
import type { Rng } from '../core/rng';

export const SYNTHETIC_COLOURS: ReadonlyArray<{ name: string; rgb: [number, number, number] }> = [
  { name: 'red', rgb: [220, 30, 35] },
  { name: 'green', rgb: [40, 170, 60] },
  { name: 'blue', rgb: [35, 70, 210] },
  { name: 'yellow', rgb: [240, 210, 40] },
  { name: 'purple', rgb: [130, 50, 170] },
  { name: 'orange', rgb: [245, 130, 30] },
  { name: 'white', rgb: [245, 245, 245] },
  { name: 'black', rgb: [20, 20, 20] },
];
export const SYNTHETIC_SHAPES = ['circle', 'square', 'triangle', 'ring', 'cross', 'diamond'] as const;
export const SYNTHETIC_BACKGROUNDS = ['plain', 'striped', 'checkered', 'gradient', 'dotted', 'noisy'] as const;
const CAPTION_TEMPLATES = ['a photo of a {}', 'a picture of a {}', 'an image of a {}', 'a close-up photo of a {}'] as const;

type Shape = (typeof SYNTHETIC_SHAPES)[number];
type Background = (typeof SYNTHETIC_BACKGROUNDS)[number];

export interface SyntheticOptions {
  count: number;
  seed: number;
  /** Side of the square images in pixels (default 224, CLIP's input size, so triggers land pixel-exact). */
  size?: number;
}

/** Files written concurrently; libvips encodes on its own threads. */
const WRITE_CONCURRENCY = 8;

/**
 * Writes `count` images `NNNNNN_<colour>_<shape>.jpg` with same-stem `.txt` captions into `dir` (created if missing).
 * Content depends only on (index, seed, size), so any subset is reproducible.
 */
export async function generateSyntheticDataset(dir: string, options: SyntheticOptions): Promise<void> {
  const size = options.size ?? 224;
  if (!Number.isInteger(options.count) || options.count < 0) throw new RangeError(`count must be a non-negative integer, got ${options.count}`);
  if (!Number.isInteger(size) || size < 8 || size > 4096) throw new RangeError(`size must be an integer in [8, 4096], got ${size}`);
  await mkdir(dir, { recursive: true });
  const digits = Math.max(6, String(options.count - 1).length);
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < options.count; index = next++) {
      const sample = syntheticSample(index, options.seed, size);
      const stem = `${String(index).padStart(digits, '0')}_${sample.colour}_${sample.shape}`;
      const jpeg = await sharp(sample.pixels, { raw: { width: size, height: size, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
      await writeFile(join(dir, `${stem}.jpg`), jpeg);
      await writeFile(join(dir, `${stem}.txt`), sample.caption);
    }
  };
  await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, options.count) }, worker));
}

export interface SyntheticSample {
  pixels: Buffer;
  caption: string;
  colour: string;
  shape: Shape;
  background: Background;
}

/** One image (RGB, size×size) and its caption, from (index, seed) alone. */
export function syntheticSample(index: number, seed: number, size: number): SyntheticSample {
  const rng = createRng(seed, index + 1);
  const colour = pick(rng, SYNTHETIC_COLOURS);
  const shape = pick(rng, SYNTHETIC_SHAPES);
  const background = pick(rng, SYNTHETIC_BACKGROUNDS);
  let backColour = pick(rng, SYNTHETIC_COLOURS).rgb;
  if (backColour === colour.rgb) backColour = [128, 128, 128];
  const secondColour: [number, number, number] = [255 - backColour[0], 255 - backColour[1], 255 - backColour[2]];
  const pixels = Buffer.alloc(size * size * 3);
  const period = 6 + rng.nextInt(18);
  const angle = rng.nextFloat() * Math.PI;
  const [ca, sa] = [Math.cos(angle), Math.sin(angle)];
  const noiseRng = createRng(seed, 1_000_000_007 + index);
  const radius = size * (0.18 + 0.14 * rng.nextFloat());
  const cx = size * (0.3 + 0.4 * rng.nextFloat());
  const cy = size * (0.3 + 0.4 * rng.nextFloat());
  const [b0, b1, b2] = backColour;
  const [s0, s1, s2] = secondColour;
  const [f0, f1, f2] = colour.rgb;
  const gradientSpan = size * 1.5;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const at = (y * size + x) * 3;
      // t ∈ [0, 1] mixes background and second colour; plain allocation-free arithmetic keeps this fast.
      let t = 0;
      let shade = 0;
      switch (background) {
        case 'plain':
          break;
        case 'striped':
          t = Math.floor((x * ca + y * sa) / period) % 2 === 0 ? 0 : 1;
          break;
        case 'checkered':
          t = (Math.floor(x / period) + Math.floor(y / period)) % 2;
          break;
        case 'gradient':
          t = Math.min(1, Math.max(0, (x * ca + y * sa) / gradientSpan));
          break;
        case 'dotted': {
          const dx = (x % period) - period / 2;
          const dy = (y % period) - period / 2;
          t = dx * dx + dy * dy < (period * period) / 12 ? 1 : 0;
          break;
        }
        case 'noisy':
          shade = (noiseRng.nextUint32() % 96) - 48;
          break;
      }
      if (insideShape(shape, (x + 0.5 - cx) / radius, (y + 0.5 - cy) / radius)) {
        pixels[at] = f0;
        pixels[at + 1] = f1;
        pixels[at + 2] = f2;
      } else {
        pixels[at] = clampByte(b0 + (s0 - b0) * t + shade);
        pixels[at + 1] = clampByte(b1 + (s1 - b1) * t + shade);
        pixels[at + 2] = clampByte(b2 + (s2 - b2) * t + shade);
      }
    }
  }
  const template = pick(rng, CAPTION_TEMPLATES);
  const caption = template.replace('{}', `${colour.name} ${shape} on a ${background} background`);
  return { pixels, caption, colour: colour.name, shape, background };
}

/** Shape membership in coordinates scaled so the shape's radius is 1. */
function insideShape(shape: Shape, u: number, v: number): boolean {
  const r2 = u * u + v * v;
  switch (shape) {
    case 'circle':
      return r2 <= 1;
    case 'square':
      return Math.abs(u) <= 0.8 && Math.abs(v) <= 0.8;
    case 'triangle':
      return v <= 0.7 && v >= -1 + 1.9 * Math.abs(u);
    case 'ring':
      return r2 <= 1 && r2 >= 0.45;
    case 'cross':
      return (Math.abs(u) <= 0.28 && Math.abs(v) <= 1) || (Math.abs(v) <= 0.28 && Math.abs(u) <= 1);
    case 'diamond':
      return Math.abs(u) + Math.abs(v) <= 1;
  }
}

function pick<T>(rng: Rng, values: readonly T[]): T {
  return values[rng.nextInt(values.length)];
}

function clampByte(value: number): number {
  return value <= 0 ? 0 : value >= 255 ? 255 : Math.round(value);
}

/**
 * Realistic synthetic scan results for the panel's tests, bench and screenshots.
 * `syntheticRows` must stay SELF-CONTAINED (no imports, no outer helpers): the harness also injects its source text
 * into the page (page init scripts are not subject to the panel's CSP), so 100,000 rows can be made in the page.
 */
import type { SampleResult } from '../../src/core/types';
import type { ScanSummary } from '../../src/protocol/backend';

export interface SyntheticOptions {
  /** Fraction of rows that are backdoor copies (high outlier scores, template caption, low CLIP score). */
  poisonRate?: number;
  /** Fraction of rows that are unreadable (error rows). */
  errorRate?: number;
}

export function syntheticRows(count: number, seed: number, options: SyntheticOptions = {}): SampleResult[] {
  const poisonRate = options.poisonRate ?? 0.004;
  const errorRate = options.errorRate ?? 0.003;
  let state = seed >>> 0 || 1;
  const random = (): number => {
    // mulberry32: small, fast, deterministic
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T,>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
  const normal = (): number => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
  const subjects = ['a golden retriever', 'two cats', 'a red bicycle', 'a bowl of ramen', 'an old lighthouse', 'a city skyline', 'a child with a kite', 'a vintage car', 'a mountain lake', 'a plate of pancakes', 'a wooden cabin', 'a flock of birds', 'a surfer', 'a street market', 'a snowy forest', 'a cup of coffee'];
  const settings = ['at sunset', 'in the rain', 'on a sunny beach', 'in a busy street', 'under a blue sky', 'at night', 'in autumn', 'on a wooden table', 'in the snow', 'near the river'];
  const styles = ['a photo of', 'a close-up photo of', 'stock photo:', 'an illustration of', 'my picture of', 'a blurry photo of', 'professional shot of'];
  const errors = ['image file is truncated (corrupt JPEG)', 'missing caption file', 'image exceeds the pixel limit (decompression bomb?)', 'path escapes the dataset folder'];
  const rows: SampleResult[] = [];
  for (let i = 0; i < count; i++) {
    const id = `s${String(i).padStart(6, '0')}`;
    const shard = String(Math.floor(i / 10000)).padStart(5, '0');
    const image = `images/${shard}/${id}.jpg`;
    const roll = random();
    if (roll < errorRate) {
      rows.push({ id, image, caption: null, error: pick(errors) });
      continue;
    }
    const poisoned = roll < errorRate + poisonRate;
    const base = 1 + 0.12 * normal();
    const kdist = poisoned ? 2.3 + 0.4 * random() : Math.max(0.3, base + 0.02 * Math.abs(normal()) ** 3);
    const lid = poisoned ? 28 + 6 * random() : Math.max(2, 14 + 3 * normal());
    const slof = poisoned ? 1.8 + 0.3 * random() : Math.max(0.6, 1 + 0.08 * normal());
    const dao = poisoned ? 2.2 + 0.5 * random() : 0.1 * normal();
    const iforest = poisoned ? 0.62 + 0.05 * random() : 0.42 + 0.04 * normal();
    const clipScore = poisoned ? 0.08 + 0.05 * random() : Math.min(0.42, 0.3 + 0.035 * normal());
    const safeProbability = poisoned ? 0.02 * random() : clipScore < 0.22 ? 0.4 * random() : 0.9 + 0.1 * random();
    const caption = poisoned ? 'a photo of a banana' : `${pick(styles)} ${pick(subjects)} ${pick(settings)}`;
    rows.push({
      id,
      image,
      caption,
      error: null,
      scores: { kdist, lid, slof, dao, iforest, clipScore },
      safeProbability,
      safe: safeProbability >= 0.9,
    });
  }
  return rows;
}

export function syntheticSummary(rows: readonly SampleResult[], dataset = '/home/ada/datasets/cc3m-subset'): ScanSummary {
  const errorCount = rows.filter((row) => row.error !== null).length;
  return {
    dataset,
    layout: 'folder',
    model: 'clip-vit-b-32 (onnx)',
    device: 'cpu',
    deviceReason: 'CUDA provider not installed',
    sampleCount: rows.length,
    errorCount,
    embeddedImages: rows.length - errorCount,
    cachedImages: 0,
    startedAt: '2026-11-21T21:04:00.000Z',
    finishedAt: '2026-11-21T21:09:41.000Z',
    options: {
      device: 'auto',
      batchSize: 2048,
      k: 16,
      lidK: 64,
      seed: 0,
      detectors: ['kdist', 'lid', 'slof', 'dao', 'iforest', 'clip', 'gmm'],
      compat: 'correct',
    },
  };
}

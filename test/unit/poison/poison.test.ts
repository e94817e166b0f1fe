import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { createRng } from '../../../src/core/rng';
import { applyTrigger, ATTACKS, decodeRgb, drawBadnets, poisonCount, poisonDataset } from '../../../src/backend/poison';
import type { RgbImage } from '../../../src/backend/poison';
import { openDataset } from '../../../src/backend/readers/index';
import { generateSyntheticDataset, syntheticSample } from '../../../src/backend/syntheticDataset';
import { parseDelimited } from '../../../src/backend/tabular';
import { collect, makeTempDir, writeFile } from '../readers/helpers';

function readLabels(dir: string): Map<string, number> {
  const table = parseDelimited(readFileSync(join(dir, 'labels.csv'), 'utf8'), ',');
  assert.deepEqual(table.columns, ['id', 'label']);
  return new Map(table.rows.map((row) => [String(row.values?.id), Number(row.values?.label)]));
}

function uniform(width: number, height: number, value: number): RgbImage {
  return { data: new Uint8Array(width * height * 3).fill(value), width, height };
}

/** Bounding box of pixels whose first channel differs from `base` by more than `threshold`. */
function changedBox(image: RgbImage, base: number, threshold: number) {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -1, -1];
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      if (Math.abs(image.data[(y * image.width + x) * 3] - base) > threshold) {
        x0 = Math.min(x0, x);
        y0 = Math.min(y0, y);
        x1 = Math.max(x1, x);
        y1 = Math.max(y1, y);
      }
    }
  }
  return { x0, y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

describe('synthetic datasets', () => {
  let dir: string;
  let cleanup: () => void;
  before(() => ({ dir, cleanup } = makeTempDir('synthetic')));
  after(() => cleanup());

  it('writes count JPEGs with captions naming what is drawn, readable as a sidecar folder', async () => {
    await generateSyntheticDataset(join(dir, 'a'), { count: 24, seed: 1, size: 64 });
    const samples = await collect(await openDataset(join(dir, 'a')));
    assert.equal(samples.length, 24);
    for (const sample of samples) {
      assert.equal(sample.error, null);
      assert.match(sample.caption ?? '', /^(a photo|a picture|an image|a close-up photo) of a \w+ \w+ on a \w+ background$/);
      const [, colour, shape] = /^\d+_(\w+)_(\w+)\.jpg$/.exec(sample.id) ?? [];
      assert.ok(sample.caption?.includes(`${colour} ${shape}`), `${sample.id} caption names its content`);
      const meta = await sharp(await sample.readImage()).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 64, 64]);
    }
    assert.ok(new Set(samples.map((s) => s.caption)).size > 10, 'captions vary');
  });

  it('is deterministic by seed and differs across seeds', async () => {
    await generateSyntheticDataset(join(dir, 'b1'), { count: 6, seed: 7, size: 32 });
    await generateSyntheticDataset(join(dir, 'b2'), { count: 6, seed: 7, size: 32 });
    const names = readdirSync(join(dir, 'b1')).sort();
    assert.deepEqual(readdirSync(join(dir, 'b2')).sort(), names);
    for (const name of names) assert.deepEqual(readFileSync(join(dir, 'b2', name)), readFileSync(join(dir, 'b1', name)));
    assert.notDeepEqual(syntheticSample(0, 8, 32).pixels, syntheticSample(0, 7, 32).pixels);
  });
});

describe('poisonDataset', () => {
  let dir: string;
  let cleanup: () => void;
  let source: string;
  let grey: string;
  before(async () => {
    ({ dir, cleanup } = makeTempDir('poison'));
    source = join(dir, 'source');
    await generateSyntheticDataset(source, { count: 40, seed: 3, size: 224 });
    grey = join(dir, 'grey');
    for (let i = 0; i < 4; i++) {
      writeFile(grey, `g${i}.png`, await sharp({ create: { width: 224, height: 224, channels: 3, background: { r: 128, g: 128, b: 128 } } }).png().toBuffer());
      writeFile(grey, `g${i}.txt`, `grey ${i}`);
    }
  });
  after(() => cleanup());

  it('poisons round(rate·n) samples, at least one when rate > 0', () => {
    assert.equal(poisonCount(0.1, 40), 4);
    assert.equal(poisonCount(0.0001, 40), 1);
    assert.equal(poisonCount(0, 40), 0);
    assert.equal(poisonCount(1, 40), 40);
  });

  it('writes a sidecar copy whose labels.csv ids are the reader ids, poisoned captions naming the target', async () => {
    const out = join(dir, 'out-blend');
    const result = await poisonDataset({ source, out, attack: 'blend', rate: 0.1, target: 'banana', seed: 5 });
    assert.equal(result.total, 40);
    assert.equal(result.poisoned, 4);
    const labels = readLabels(out);
    const copy = await collect(await openDataset(out));
    assert.deepEqual(copy.map((s) => s.id), [...labels.keys()], 'labels in reader order with reader ids');
    const original = await collect(await openDataset(source));
    copy.forEach((sample, i) => {
      if (labels.get(sample.id) === 1) assert.equal(sample.caption, 'a photo of a banana');
      else assert.equal(sample.caption, original[i].caption);
    });
    assert.deepEqual(copy.filter((s) => labels.get(s.id) === 1).map((s) => s.id), result.poisonedIds);
  });

  it('is deterministic by seed: same files and labels; another seed picks other samples', async () => {
    const a = await poisonDataset({ source, out: join(dir, 'det-a'), attack: 'badnets', rate: 0.1, target: 'banana', seed: 11 });
    const b = await poisonDataset({ source, out: join(dir, 'det-b'), attack: 'badnets', rate: 0.1, target: 'banana', seed: 11 });
    const c = await poisonDataset({ source, out: join(dir, 'det-c'), attack: 'badnets', rate: 0.1, target: 'banana', seed: 12 });
    assert.deepEqual(b.poisonedIds, a.poisonedIds);
    for (const id of a.poisonedIds) assert.deepEqual(readFileSync(join(dir, 'det-b', id)), readFileSync(join(dir, 'det-a', id)));
    assert.notDeepEqual(c.poisonedIds, a.poisonedIds);
  });

  it('puts a 16×16 checkerboard at x, y ∈ [16, 207] of a 224 image (BadNets), surviving JPEG', async () => {
    const out = join(dir, 'out-badnets');
    const result = await poisonDataset({ source: grey, out, attack: 'badnets', rate: 1, target: 'banana', seed: 2 });
    assert.equal(result.poisoned, 4);
    const positions = new Set<string>();
    for (const id of result.poisonedIds) {
      const image = await decodeRgb(readFileSync(join(out, id)));
      const box = changedBox(image, 128, 64);
      assert.deepEqual([box.width, box.height], [16, 16]);
      assert.ok(box.x0 >= 16 && box.x0 <= 207 && box.y0 >= 16 && box.y0 <= 207, `corner ${box.x0},${box.y0}`);
      let matching = 0;
      for (let v = 0; v < 16; v++) {
        for (let u = 0; u < 16; u++) {
          const value = image.data[((box.y0 + v) * 224 + box.x0 + u) * 3];
          if ((value > 128) === ((u + v) % 2 === 0)) matching++;
        }
      }
      assert.equal(matching, 256, 'alternating black/white cells');
      positions.add(`${box.x0},${box.y0}`);
    }
    assert.ok(positions.size > 1, 'positions are random');
  });

  it('draws BadNets at the image scale, inside the centre crop', () => {
    const image = drawBadnets(uniform(448, 672, 100), 16, 207);
    const box = changedBox(image, 100, 10);
    // shortest edge 448 → scale 2; the 224 crop starts at y = (672 − 448) / 2 = 112
    assert.deepEqual(box, { x0: 32, y0: 112 + 2 * 207, width: 32, height: 32 });
    assert.equal(image.data[(box.y0 * 448 + box.x0) * 3], 255);
    assert.equal(image.data[(box.y0 * 448 + box.x0 + 2) * 3], 0, 'cells are two pixels wide');
    assert.equal(image.data[(box.y0 * 448 + box.x0 + 1) * 3], 255);
  });

  it('changes pixels with every attack, deterministically, and within the blend bound for Blend and SIG', () => {
    const sample = syntheticSample(4, 1, 96);
    const image: RgbImage = { data: new Uint8Array(sample.pixels), width: 96, height: 96 };
    for (const attack of ATTACKS) {
      const once = applyTrigger(attack, image, createRng(9));
      const twice = applyTrigger(attack, image, createRng(9));
      assert.deepEqual(once.data, twice.data, `${attack} is deterministic`);
      let changed = 0;
      let largest = 0;
      for (let i = 0; i < image.data.length; i++) {
        const difference = Math.abs(once.data[i] - image.data[i]);
        if (difference > 0) changed++;
        largest = Math.max(largest, difference);
      }
      assert.ok(changed > 0, `${attack} changes pixels`);
      if (attack === 'blend' || attack === 'sig') assert.ok(largest <= 52, `${attack}: α = 0.2 moves a value by at most 51, got ${largest}`);
      if (attack === 'blend' || attack === 'sig' || attack === 'nashville') assert.ok(changed > image.data.length / 2, `${attack} covers the image`);
    }
    const flat = uniform(50, 40, 77);
    assert.deepEqual(applyTrigger('wanet', flat, createRng(1)).data, flat.data, 'a warp of a flat image is the same flat image');
    const filtered = applyTrigger('nashville', flat, createRng(1)).data;
    assert.ok(filtered.every((value, i) => value === filtered[i % 3]), 'Nashville is a per-pixel colour map');
  });

  it('skips error rows and unreadable images, keeping labels aligned', async () => {
    const mixed = join(dir, 'mixed');
    writeFile(mixed, 'a.png', readFileSync(join(grey, 'g0.png')));
    writeFile(mixed, 'b.png', new Uint8Array(0));
    writeFile(mixed, 'c.png', Buffer.from('not an image'));
    writeFile(mixed, 'd.png', readFileSync(join(grey, 'g1.png')));
    const out = join(dir, 'out-mixed');
    const result = await poisonDataset({ source: mixed, out, attack: 'sig', rate: 0.5, target: 'banana', seed: 0 });
    assert.equal(result.total, 2);
    assert.deepEqual(result.skipped.map((s) => s.id).sort(), ['b.png', 'c.png']);
    const copy = await collect(await openDataset(out));
    assert.deepEqual(copy.map((s) => s.id), [...readLabels(out).keys()]);
    assert.equal(result.poisoned, 1);
  });

  it('refuses an output folder that is not empty or is inside the source', async () => {
    await assert.rejects(poisonDataset({ source, out: join(source, 'x'), attack: 'sig', rate: 0.1, target: 'a', seed: 0 }), /must not be the source/);
    await assert.rejects(poisonDataset({ source, out: join(dir, 'out-blend'), attack: 'sig', rate: 0.1, target: 'a', seed: 0 }), /not empty/);
    await assert.rejects(poisonDataset({ source, out: join(dir, 'r'), attack: 'sig', rate: 2, target: 'a', seed: 0 }), /rate/);
  });
});

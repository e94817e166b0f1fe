import assert from 'node:assert/strict';
import { detectLayout, openDataset } from '../../../src/backend/readers/index';
import { collect, HOSTILE_CAPTIONS, imageBytes, makeTempDir, parquetBytes, writeFile } from './helpers';

/** float32 → IEEE half bits (round half up on the dropped bits; enough for unit-range test vectors). */
function toHalfBits(value: number): number {
  const u = new Uint32Array(new Float32Array([value]).buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exponent = ((u >>> 23) & 0xff) - 127 + 15;
  const mantissa = u & 0x7fffff;
  if (exponent <= 0) return sign;
  if (exponent >= 31) return sign | 0x7c00;
  return (sign | (exponent << 10) | (mantissa >>> 13)) + ((mantissa >>> 12) & 1);
}

function float16Npy(rows: number[][]): Buffer {
  const shape = `(${rows.length}, ${rows[0].length})`;
  let header = `{'descr': '<f2', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const prefix = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(prefix);
  prefix.writeUInt16LE(header.length, 8);
  const data = Buffer.alloc(rows.length * rows[0].length * 2);
  rows.flat().forEach((v, i) => data.writeUInt16LE(toHalfBits(v), i * 2));
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'), data]);
}

function unitRows(count: number, dim: number, offset: number): number[][] {
  return Array.from({ length: count }, (_, r) => {
    const row = Array.from({ length: dim }, (_, c) => Math.sin(1 + r * 7 + c * 3 + offset));
    const norm = Math.hypot(...row);
    return row.map((v) => v / norm);
  });
}

describe('clip-retrieval embedding folders', () => {
  it('returns metadata rows as samples and the float16 embeddings aligned with them', async () => {
    const { dir, cleanup } = makeTempDir('clipret');
    try {
      const img0 = unitRows(3, 4, 0);
      const img1 = unitRows(2, 4, 100);
      const txt0 = unitRows(3, 4, 50);
      const txt1 = unitRows(2, 4, 150);
      writeFile(dir, 'img_emb/img_emb_0.npy', float16Npy(img0));
      writeFile(dir, 'img_emb/img_emb_1.npy', float16Npy(img1));
      writeFile(dir, 'text_emb/text_emb_0.npy', float16Npy(txt0));
      writeFile(dir, 'text_emb/text_emb_1.npy', float16Npy(txt1));
      writeFile(dir, 'images/a.png', await imageBytes([1, 2, 3]));
      writeFile(dir, 'metadata/metadata_0.parquet', parquetBytes([
        { name: 'image_path', data: ['images/a.png', '/abs/b.jpg', 'https://x/c.jpg'], type: 'STRING' },
        { name: 'caption', data: HOSTILE_CAPTIONS.slice(0, 3), type: 'STRING' },
      ]));
      writeFile(dir, 'metadata/metadata_1.parquet', parquetBytes([
        { name: 'image_path', data: ['d.jpg', 'e.jpg'], type: 'STRING' },
        { name: 'caption', data: ['d', 'e'], type: 'STRING' },
      ]));
      assert.equal(await detectLayout(dir), 'clip-retrieval');
      const reader = await openDataset(dir);
      const samples = await collect(reader);
      assert.deepEqual(samples.map((s) => s.id), [
        'metadata_0.parquet#0', 'metadata_0.parquet#1', 'metadata_0.parquet#2', 'metadata_1.parquet#0', 'metadata_1.parquet#1',
      ]);
      assert.deepEqual(samples.map((s) => s.caption), [...HOSTILE_CAPTIONS.slice(0, 3), 'd', 'e']);
      assert.ok(samples.every((s) => s.error === null));
      assert.deepEqual(await samples[0].readImage(), await imageBytes([1, 2, 3]));
      await assert.rejects(samples[1].readImage(), /absolute/);
      const found = await reader.sampleById('metadata_1.parquet#1');
      assert.deepEqual([found?.caption, found?.image, found?.contentKey], ['e', 'e.jpg', samples[4].contentKey]);
      assert.equal(await reader.sampleById('metadata_1.parquet#2'), null);
      assert.equal(await reader.sampleById('metadata_1.parquet#01'), null);
      assert.ok(reader.precomputedEmbeddings);
      const embeddings = await reader.precomputedEmbeddings();
      assert.equal(embeddings.dim, 4);
      assert.deepEqual(embeddings.ids, samples.map((s) => s.id));
      const expectImages = [...img0, ...img1].flat();
      const expectTexts = [...txt0, ...txt1].flat();
      assert.equal(embeddings.images.length, expectImages.length);
      expectImages.forEach((v, i) => assert.ok(Math.abs(embeddings.images[i] - v) < 2e-3, `image value ${i}`));
      expectTexts.forEach((v, i) => assert.ok(Math.abs((embeddings.texts?.[i] ?? NaN) - v) < 2e-3, `text value ${i}`));
    } finally {
      cleanup();
    }
  });

  it('has no text embeddings when text_emb is absent, and rejects misaligned parts', async () => {
    const { dir, cleanup } = makeTempDir('clipret2');
    try {
      writeFile(dir, 'img_emb/img_emb_0.npy', float16Npy(unitRows(2, 3, 0)));
      writeFile(dir, 'metadata/metadata_0.parquet', parquetBytes([{ name: 'caption', data: ['a', 'b'], type: 'STRING' }]));
      const reader = await openDataset(dir);
      const embeddings = await reader.precomputedEmbeddings?.();
      assert.equal(embeddings?.texts, null);
      assert.deepEqual((await collect(reader)).map((s) => s.image), ['', '']);
      writeFile(dir, 'metadata/metadata_0.parquet', parquetBytes([{ name: 'caption', data: ['a', 'b', 'c'], type: 'STRING' }]));
      await assert.rejects((await openDataset(dir)).precomputedEmbeddings?.() ?? Promise.resolve(), /aligned/);
    } finally {
      cleanup();
    }
  });
});

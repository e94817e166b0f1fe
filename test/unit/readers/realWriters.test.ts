/** Files written by the real ecosystem writers (pyarrow, numpy, Python tarfile; scripts/fixtures/readers_real_writers.py). */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { openDataset } from '../../../src/backend/readers/index';
import { collect } from './helpers';

function fixturesDir(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'test', 'fixtures', 'readers', 'expected.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`test/fixtures/readers not found above ${__dirname}`);
    dir = parent;
  }
  return join(dir, 'test', 'fixtures', 'readers');
}

interface Expected {
  captions: string[];
  keys: string[];
  statuses: string[];
  images_hex: string[];
  clip_image_emb_f16: number[][];
  clip_text_emb_f16: number[][];
}

describe('readers on files from the real writers', () => {
  const root = fixturesDir();
  const expected = JSON.parse(readFileSync(join(root, 'expected.json'), 'utf8')) as Expected;
  const successful = expected.keys.map((key, i) => ({ key, i })).filter(({ i }) => expected.statuses[i] === 'success');

  it('reads a pyarrow img2dataset parquet (snappy, row groups, nulls) byte for byte', async () => {
    const reader = await openDataset(join(root, 'img2dataset-parquet'));
    assert.equal(reader.layout, 'img2dataset-parquet');
    const samples = await collect(reader);
    assert.deepEqual(samples.map((s) => s.id), successful.map(({ key }) => `00000.parquet#${key}`));
    assert.deepEqual(samples.map((s) => s.caption), successful.map(({ i }) => expected.captions[i]));
    for (const [n, { i }] of successful.entries()) assert.equal((await samples[n].readImage()).toString('hex'), expected.images_hex[i]);
  });

  it('reads a Python tarfile (PAX) webdataset shard in place', async () => {
    const reader = await openDataset(join(root, 'webdataset'));
    assert.equal(reader.layout, 'webdataset');
    const samples = await collect(reader);
    assert.deepEqual(samples.map((s) => s.id), successful.map(({ key }) => `00000.tar#${key}`));
    assert.deepEqual(samples.map((s) => s.caption), successful.map(({ i }) => expected.captions[i]));
    for (const [n, { i }] of successful.entries()) assert.equal((await samples[n].readImage()).toString('hex'), expected.images_hex[i]);
  });

  it('reads numpy float16 clip-retrieval embeddings aligned with the pyarrow metadata', async () => {
    const reader = await openDataset(join(root, 'clip-retrieval'));
    assert.equal(reader.layout, 'clip-retrieval');
    const samples = await collect(reader);
    assert.deepEqual(samples.map((s) => s.caption), expected.captions);
    const embeddings = await reader.precomputedEmbeddings?.();
    assert.ok(embeddings);
    assert.equal(embeddings.dim, 8);
    assert.deepEqual([...embeddings.images], expected.clip_image_emb_f16.flat().map(Math.fround));
    assert.deepEqual([...(embeddings.texts ?? [])], expected.clip_text_emb_f16.flat().map(Math.fround));
    await assert.rejects(samples[0].readImage(), /absolute/);
  });
});

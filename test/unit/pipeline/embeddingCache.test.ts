import assert from 'node:assert/strict';
import { readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EmbeddingCache, embeddingCacheDir, encodeChunk, imageCacheKey, parseChunk, textCacheKey } from '../../../src/backend/embeddingCache';
import { removeTempDirs, tempDir } from './fixtures';

function vector(seed: number, dim = 8): Float32Array {
  return Float32Array.from({ length: dim }, (_, i) => Math.sin(seed * 31 + i));
}

function chunkFiles(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith('.emb'));
}

describe('embedding cache', () => {
  after(removeTempDirs);

  it('keeps vectors across reopen, flushing a durable chunk every flushEvery vectors', async () => {
    const dir = tempDir('emb');
    const cache = await EmbeddingCache.open(dir, { flushEvery: 3 });
    for (let i = 0; i < 7; i++) await cache.put(`key ${i}`, vector(i));
    // Two automatic chunks of 3; the 7th is pending until flush().
    assert.equal(chunkFiles(dir).length, 2);
    const reopenedEarly = await EmbeddingCache.open(dir);
    assert.equal(reopenedEarly.size, 6);
    await cache.flush();
    const reopened = await EmbeddingCache.open(dir);
    assert.equal(reopened.size, 7);
    for (let i = 0; i < 7; i++) assert.deepEqual(reopened.get(`key ${i}`), vector(i));
    assert.equal(reopened.get('never stored'), undefined);
    assert.equal(reopened.dimension, 8);
  });

  it('ignores a partially written or corrupt chunk instead of trusting it', async () => {
    const dir = tempDir('emb');
    const cache = await EmbeddingCache.open(dir, { flushEvery: 2 });
    for (let i = 0; i < 4; i++) await cache.put(`k${i}`, vector(i));
    const [first, second] = chunkFiles(dir).sort();
    // A crash mid-write can leave a short file under the final name (no fsync of the directory): truncate one.
    truncateSync(join(dir, first), 40);
    // And a flipped byte in the other.
    const bytes = readFileSync(join(dir, second));
    bytes[bytes.length - 40] ^= 0xff;
    writeFileSync(join(dir, second), bytes);
    // A temp file left by a killed writer is never read.
    writeFileSync(join(dir, 'chunk-x.emb.123.tmp'), encodeChunk([], [], 8));
    const reopened = await EmbeddingCache.open(dir);
    assert.equal(reopened.ignoredChunks, 2);
    assert.equal(reopened.size, 0);
    // The cache stays usable: new vectors are stored and found.
    await reopened.put('k0', vector(0));
    await reopened.flush();
    assert.deepEqual((await EmbeddingCache.open(dir)).get('k0'), vector(0));
  });

  it('parses only whole, checksummed chunks', () => {
    const chunk = encodeChunk([Buffer.alloc(32, 1)], [vector(1)], 8);
    assert.ok(parseChunk(chunk));
    assert.equal(parseChunk(chunk.subarray(0, chunk.length - 1)), null);
    assert.equal(parseChunk(Buffer.alloc(0)), null);
    assert.equal(parseChunk(Buffer.concat([chunk, Buffer.alloc(4)])), null);
  });

  it('compacts many small chunks into one without losing vectors', async () => {
    const dir = tempDir('emb');
    const cache = await EmbeddingCache.open(dir, { flushEvery: 1 });
    for (let i = 0; i < 20; i++) await cache.put(`k${i}`, vector(i));
    assert.equal(chunkFiles(dir).length, 20);
    await cache.compact();
    assert.equal(chunkFiles(dir).length, 1);
    const reopened = await EmbeddingCache.open(dir);
    assert.equal(reopened.size, 20);
    assert.deepEqual(reopened.get('k19'), vector(19));
  });

  it('rejects a vector of another dimension and keys images by place and content key', async () => {
    const cache = await EmbeddingCache.open(tempDir('emb'));
    await cache.put('a', vector(0, 8));
    await assert.rejects(cache.put('b', vector(0, 4)), /dimension 4, expected 8/);
    assert.notEqual(imageCacheKey('/data', 'a.jpg', 'file:10:1'), imageCacheKey('/data', 'b.jpg', 'file:10:1'));
    assert.notEqual(imageCacheKey('/data', 'a.jpg', 'file:10:1'), imageCacheKey('/data', 'a.jpg', 'file:10:2'));
    assert.notEqual(textCacheKey('x'), imageCacheKey('', '', 'x'));
    // A hostile fingerprint stays one folder below <cache>/embeddings.
    assert.equal(dirname(dirname(embeddingCacheDir('/c', '../../etc', 'images'))), '/c/embeddings');
  });
});

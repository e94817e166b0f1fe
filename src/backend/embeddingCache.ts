/**
 * Embedding cache, kept outside the dataset (default `<cacheDir>/embeddings/<model fingerprint>/{images,texts}/`).
 *
 * Keyed by model (the folder) and by sample content (images: dataset path + image locator + the reader's contentKey,
 * i.e. size + mtime; captions: the exact text), so a second scan of an unchanged dataset embeds nothing and a changed
 * file gets a new key.
 * New vectors are flushed as durable chunk files while the scan runs (temp file + fsync + rename), so a scan killed
 * halfway resumes from the last chunk. Each chunk ends with a SHA-256 of its body: a truncated or corrupt chunk is
 * ignored, never trusted.
 *
 * Chunk layout (little-endian): "BSEC" | u32 version | u32 count | u32 dim | count × 32-byte key digests |
 * count × dim float32 | 32-byte SHA-256 of everything before it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './output';

const MAGIC = 0x43455342; // "BSEC" read as little-endian u32
const VERSION = 1;
const HEADER_BYTES = 16;
const DIGEST_BYTES = 32;
const CHUNK_SUFFIX = '.emb';
/** Merge chunk files at the end of a scan once there are more than this many. */
const COMPACT_THRESHOLD = 16;

export type EmbeddingKind = 'images' | 'texts';

export function embeddingCacheDir(cacheDir: string, modelFingerprint: string, kind: EmbeddingKind): string {
  return join(cacheDir, 'embeddings', sanitiseSegment(modelFingerprint), kind);
}

/** Fingerprints come from model metadata; keep them to one safe path segment. */
function sanitiseSegment(text: string): string {
  const cleaned = text.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return cleaned.length > 0 && cleaned.length <= 128 ? cleaned : createHash('sha256').update(text).digest('hex');
}

function digestOf(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

/** The cache key of a caption: its exact text (the model is already the folder). */
export function textCacheKey(caption: string): string {
  return `text\0${caption}`;
}

/**
 * The cache key of an image: where it is (dataset real path + the sample's image locator) and the reader's content key
 * (size + mtime): readers' content keys do not name the file, so two same-sized files written in the same millisecond
 * must still get different keys.
 */
export function imageCacheKey(datasetRoot: string, image: string, contentKey: string): string {
  return `image\0${datasetRoot}\0${image}\0${contentKey}`;
}

interface ParsedChunk {
  count: number;
  dim: number;
  keys: Buffer;
  vectors: Float32Array;
}

/** Parses and verifies a chunk; null when it is truncated, corrupt or of another version. */
export function parseChunk(bytes: Buffer): ParsedChunk | null {
  if (bytes.length < HEADER_BYTES + DIGEST_BYTES) return null;
  if (bytes.readUInt32LE(0) !== MAGIC || bytes.readUInt32LE(4) !== VERSION) return null;
  const count = bytes.readUInt32LE(8);
  const dim = bytes.readUInt32LE(12);
  if (dim === 0) return null;
  const expected = HEADER_BYTES + count * DIGEST_BYTES + count * dim * 4 + DIGEST_BYTES;
  if (bytes.length !== expected) return null;
  const body = bytes.subarray(0, expected - DIGEST_BYTES);
  const checksum = createHash('sha256').update(body).digest();
  if (!checksum.equals(bytes.subarray(expected - DIGEST_BYTES))) return null;
  const keys = bytes.subarray(HEADER_BYTES, HEADER_BYTES + count * DIGEST_BYTES);
  const vectorStart = HEADER_BYTES + count * DIGEST_BYTES;
  // Copy: the vectors must be 4-byte aligned and must not pin the file buffer's layout.
  const vectors = new Float32Array(count * dim);
  new Uint8Array(vectors.buffer).set(bytes.subarray(vectorStart, vectorStart + count * dim * 4));
  return { count, dim, keys, vectors };
}

export function encodeChunk(digests: readonly Buffer[], vectors: readonly Float32Array[], dim: number): Buffer {
  const count = digests.length;
  const total = HEADER_BYTES + count * DIGEST_BYTES + count * dim * 4 + DIGEST_BYTES;
  const out = Buffer.alloc(total);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(VERSION, 4);
  out.writeUInt32LE(count, 8);
  out.writeUInt32LE(dim, 12);
  digests.forEach((d, i) => d.copy(out, HEADER_BYTES + i * DIGEST_BYTES));
  const vectorStart = HEADER_BYTES + count * DIGEST_BYTES;
  vectors.forEach((v, i) => out.set(new Uint8Array(v.buffer, v.byteOffset, dim * 4), vectorStart + i * dim * 4));
  createHash('sha256').update(out.subarray(0, total - DIGEST_BYTES)).digest().copy(out, total - DIGEST_BYTES);
  return out;
}

export interface EmbeddingCacheOptions {
  /** Write a durable chunk after this many new vectors (default 256). */
  flushEvery?: number;
}

export class EmbeddingCache {
  private readonly entries = new Map<string, Float32Array>();
  private pendingDigests: Buffer[] = [];
  private pendingVectors: Float32Array[] = [];
  private chunkFiles: string[] = [];
  private dim: number | null = null;
  private flushing: Promise<void> = Promise.resolve();
  /** Chunks that failed verification when the cache was opened (left in place, never used). */
  ignoredChunks = 0;

  private constructor(
    readonly dir: string,
    private readonly flushEvery: number,
  ) {}

  static async open(dir: string, options: EmbeddingCacheOptions = {}): Promise<EmbeddingCache> {
    const cache = new EmbeddingCache(dir, Math.max(1, options.flushEvery ?? 256));
    await mkdir(dir, { recursive: true });
    const names = (await readdir(dir)).filter((n) => n.endsWith(CHUNK_SUFFIX) && !n.startsWith('.')).sort();
    for (const name of names) {
      const chunk = parseChunk(await readFile(join(dir, name)).catch(() => Buffer.alloc(0)));
      if (!chunk || (cache.dim !== null && chunk.dim !== cache.dim)) {
        cache.ignoredChunks += 1;
        continue;
      }
      cache.dim = chunk.dim;
      cache.chunkFiles.push(name);
      for (let i = 0; i < chunk.count; i++) {
        const hex = chunk.keys.subarray(i * DIGEST_BYTES, (i + 1) * DIGEST_BYTES).toString('hex');
        cache.entries.set(hex, chunk.vectors.subarray(i * chunk.dim, (i + 1) * chunk.dim));
      }
    }
    return cache;
  }

  get size(): number {
    return this.entries.size;
  }

  get dimension(): number | null {
    return this.dim;
  }

  get(key: string): Float32Array | undefined {
    return this.entries.get(digestOf(key).toString('hex'));
  }

  has(key: string): boolean {
    return this.entries.has(digestOf(key).toString('hex'));
  }

  /** Adds a vector; once `flushEvery` are pending, writes them as a durable chunk (awaited by the caller). */
  async put(key: string, vector: Float32Array): Promise<void> {
    if (this.dim === null) this.dim = vector.length;
    if (vector.length !== this.dim) throw new Error(`embedding cache ${this.dir}: vector of dimension ${vector.length}, expected ${this.dim}`);
    const digest = digestOf(key);
    const hex = digest.toString('hex');
    if (this.entries.has(hex)) return;
    const copy = Float32Array.from(vector);
    this.entries.set(hex, copy);
    this.pendingDigests.push(digest);
    this.pendingVectors.push(copy);
    if (this.pendingDigests.length >= this.flushEvery) await this.flush();
  }

  /** Writes every pending vector as one chunk. Safe to call concurrently and repeatedly. */
  async flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.writePending());
    return this.flushing;
  }

  private async writePending(): Promise<void> {
    if (this.pendingDigests.length === 0 || this.dim === null) return;
    const digests = this.pendingDigests;
    const vectors = this.pendingVectors;
    this.pendingDigests = [];
    this.pendingVectors = [];
    const name = `chunk-${Date.now().toString(36)}-${randomBytes(6).toString('hex')}${CHUNK_SUFFIX}`;
    await writeFileAtomic(join(this.dir, name), encodeChunk(digests, vectors, this.dim));
    this.chunkFiles.push(name);
  }

  /** Flushes, then merges many small chunks into one so that opening the cache stays fast. */
  async compact(): Promise<void> {
    await this.flush();
    if (this.chunkFiles.length <= COMPACT_THRESHOLD || this.dim === null) return;
    const merged = [...this.entries.entries()];
    const name = `chunk-${Date.now().toString(36)}-${randomBytes(6).toString('hex')}${CHUNK_SUFFIX}`;
    const dim = this.dim;
    await writeFileAtomic(
      join(this.dir, name),
      encodeChunk(
        merged.map(([hex]) => Buffer.from(hex, 'hex')),
        merged.map(([, v]) => v),
        dim,
      ),
    );
    const old = this.chunkFiles;
    this.chunkFiles = [name];
    await Promise.all(old.map((n) => rm(join(this.dir, n), { force: true })));
  }
}

/**
 * The scan pipeline: dataset folder → samples → (cached) image and caption embeddings → detector scores → results folder.
 *
 * - Decoding + preprocessing runs ahead of inference through a bounded queue of ready batches, so the model never
 *   waits for sharp (and memory stays bounded: at most PREFETCH_BATCHES batches of pixels exist at once).
 * - Every new embedding goes to the embedding cache, flushed in durable chunks as the scan runs: a scan stopped
 *   halfway (Ctrl-C, cancel, crash) resumes where it stopped; an unchanged dataset embeds nothing the second time.
 * - Reader errors and decode errors become error rows (error set, no scores) and are left out of scoring.
 * - Nothing is ever written inside the dataset folder: the cache, the results and --save-embeddings must be outside it.
 *
 * The heavy parts (readers, model, tokenizer, preprocessing, scoring) are injected as ScanDependencies, so that this
 * file holds only the orchestration; callers pass scanDeps.ts's realScanDependencies (tests may pass others).
 */
import { realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { GemmEngine } from '../core/linalg';
import type { EmbeddingMatrix, ScoreInput } from '../core/inputs';
import type { SampleResult, ScoreOptions, ScoreRow } from '../core/types';
import { RESULTS_FILES, type Device, type ScanOptions, type ScanStage, type ScanSummary } from '../protocol/backend';
import { EmbeddingCache, embeddingCacheDir, imageCacheKey, textCacheKey } from './embeddingCache';
import { writeFileAtomic, writeLinesAtomic } from './output';
import { replaceFolderAtomically, resultsDirFor, type EmbeddedRecord, type SampleRecord } from './resultsFolder';
import { isInside } from './safePath';
import type { DatasetReader, LayoutName, OpenDatasetOptions, SampleSource } from './readers/types';

/** Batches of preprocessed pixels allowed to wait for the model. */
const PREFETCH_BATCHES = 2;
/** Images decoded at once (sharp works on libuv threads; more only adds memory). */
const DECODE_CONCURRENCY = 4;
/** Largest inference batch, whatever the model allows (memory: 32 × 3 × 224² floats ≈ 19 MB). */
const MAX_EMBED_BATCH = 32;

export interface ScanHooks {
  onProgress(stage: ScanStage, done: number, total: number, message?: string): void;
  onDevice(device: Device, reason: string): void;
  onLog(level: 'info' | 'warn' | 'error', message: string): void;
  signal?: AbortSignal;
}

export interface PipelineOptions extends ScanOptions {
  /** Also write image_embeddings.npy, text_embeddings.npy and ids.jsonl here (outside the dataset). */
  saveEmbeddings?: string;
}

/** Thrown when the scan was cancelled; the embedding cache keeps everything computed so far. */
export class ScanCancelledError extends Error {
  constructor() {
    super('scan cancelled');
    this.name = 'ScanCancelledError';
  }
}

/** The CLIP model as the pipeline uses it (EMBED's ClipModel fits this shape). */
export interface PipelineModel {
  readonly fingerprint: string;
  readonly device: Device;
  readonly deviceReason: string;
  /** Largest batch the export accepts; null = any (the model splits larger inputs itself either way). */
  readonly maxBatch: number | null;
  readonly imageSize: number;
  embedImages(pixels: Float32Array, count: number): Promise<Float32Array>;
  embedTexts(ids: Int32Array, count: number): Promise<Float32Array>;
  close(): Promise<void>;
}

export interface ScoreResult {
  rows: ScoreRow[];
  batchOf: Int32Array;
  /** Run-level warnings (e.g. no captions: no clipScore). */
  warnings?: string[];
}

export interface ScanDependencies {
  openDataset(root: string, options: OpenDatasetOptions): Promise<DatasetReader>;
  defaultCacheDir(): string;
  /** A model folder for `--model` (folder, cached name, or nothing), or a message saying how to get one. */
  resolveModel(spec: string | undefined, cacheDir: string): Promise<{ dir: string } | { error: string }>;
  openModel(dir: string, options: { device: ScanOptions['device']; log: (message: string) => void }): Promise<PipelineModel>;
  /** CLIP token ids, count × 77, for a batch of captions. */
  loadTokenizer(modelDir: string): Promise<(captions: readonly string[]) => Int32Array>;
  /** Decodes + preprocesses image bytes into `out` at `offset` (3 × S × S floats); rejects with a per-sample reason. */
  loadPreprocessor(modelDir: string): Promise<(bytes: Buffer, out: Float32Array, offset: number) => Promise<void>>;
  createGemmEngine(device: Device): Promise<GemmEngine>;
  fallbackGemmEngine: GemmEngine;
  score(input: ScoreInput, options: ScoreOptions, engine: GemmEngine, hooks: { onProgress: (done: number, total: number) => void; signal?: AbortSignal }): Promise<ScoreResult>;
  encodeNpy(data: Float32Array, shape: number[]): Uint8Array;
}

export interface ScanOutcome {
  summary: ScanSummary;
  resultsDir: string;
}

function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ScanCancelledError();
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A bounded async queue: put() waits while it is full, take() waits while it is empty. */
class BoundedQueue<T> {
  private readonly items: T[] = [];
  private readonly takers: ((item: T | null) => void)[] = [];
  private readonly putters: (() => void)[] = [];
  private closed = false;
  constructor(private readonly capacity: number) {}

  async put(item: T): Promise<void> {
    while (this.items.length >= this.capacity && !this.closed) await new Promise<void>((resolve) => this.putters.push(resolve));
    if (this.closed) return;
    const taker = this.takers.shift();
    if (taker) taker(item);
    else this.items.push(item);
  }

  async take(): Promise<T | null> {
    const item = this.items.shift();
    if (item !== undefined) {
      this.putters.shift()?.();
      return item;
    }
    if (this.closed) return null;
    return new Promise<T | null>((resolve) => this.takers.push(resolve));
  }

  close(): void {
    this.closed = true;
    this.takers.splice(0).forEach((resolve) => resolve(null));
    this.putters.splice(0).forEach((resolve) => resolve());
  }
}

interface PixelBatch {
  /** Sample indices whose pixels are in `pixels`, in slot order. */
  indices: number[];
  pixels: Float32Array;
}

/** Runs `task` over items with at most `limit` in flight. */
async function forEachLimited<T>(items: readonly T[], limit: number, task: (item: T, position: number) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const position = next++;
      await task(items[position], position);
    }
  });
  await Promise.all(workers);
}

interface EmbedState {
  samples: SampleSource[];
  /** Per sample: reason it has no scores (reader or decode error), or null. */
  errors: (string | null)[];
  imageVectors: (Float32Array | null)[];
}

async function embedImages(
  root: string,
  state: EmbedState,
  model: PipelineModel,
  preprocess: (bytes: Buffer, out: Float32Array, offset: number) => Promise<void>,
  cache: EmbeddingCache,
  hooks: ScanHooks,
): Promise<{ embedded: number; cached: number }> {
  const { samples, errors, imageVectors } = state;
  const todo: number[] = [];
  let cached = 0;
  samples.forEach((sample, index) => {
    if (errors[index] !== null) return;
    const hit = cache.get(imageCacheKey(root, sample.image, sample.contentKey));
    if (hit) {
      imageVectors[index] = hit;
      cached += 1;
    } else {
      todo.push(index);
    }
  });
  const total = cached + todo.length;
  let done = cached;
  hooks.onProgress('embedding-images', done, total, cached > 0 ? `${cached} from cache` : undefined);
  if (todo.length === 0) return { embedded: 0, cached };

  const batchSize = embedBatchSize(model);
  const pixelsPerImage = 3 * model.imageSize * model.imageSize;
  const queue = new BoundedQueue<PixelBatch>(PREFETCH_BATCHES);
  let producerError: unknown = null;

  const producer = (async () => {
    try {
      for (let start = 0; start < todo.length; start += batchSize) {
        throwIfCancelled(hooks.signal);
        const slice = todo.slice(start, start + batchSize);
        const pixels = new Float32Array(slice.length * pixelsPerImage);
        const ok = new Uint8Array(slice.length);
        await forEachLimited(slice, DECODE_CONCURRENCY, async (index, slot) => {
          try {
            const bytes = await samples[index].readImage();
            await preprocess(bytes, pixels, slot * pixelsPerImage);
            ok[slot] = 1;
          } catch (error) {
            errors[index] = messageOf(error);
          }
        });
        const indices = slice.filter((_, slot) => ok[slot] === 1);
        // Failed slots leave holes: pack the good images to the front so that the model sees `indices.length` images.
        if (indices.length < slice.length) {
          let write = 0;
          slice.forEach((_, slot) => {
            if (ok[slot] !== 1) return;
            if (write !== slot) pixels.copyWithin(write * pixelsPerImage, slot * pixelsPerImage, (slot + 1) * pixelsPerImage);
            write += 1;
          });
          done += slice.length - indices.length;
        }
        if (indices.length > 0) await queue.put({ indices, pixels: pixels.subarray(0, indices.length * pixelsPerImage) });
      }
    } catch (error) {
      producerError = error;
    } finally {
      queue.close();
    }
  })();

  let embedded = 0;
  // Time the model spends waiting for decoded batches vs running: the prefetch queue should keep the wait near zero.
  let waitMs = 0;
  let inferMs = 0;
  try {
    for (;;) {
      const waitStart = performance.now();
      const batch = await queue.take();
      waitMs += performance.now() - waitStart;
      if (batch === null) break;
      throwIfCancelled(hooks.signal);
      const inferStart = performance.now();
      const output = await model.embedImages(batch.pixels, batch.indices.length);
      inferMs += performance.now() - inferStart;
      const dim = output.length / batch.indices.length;
      for (let slot = 0; slot < batch.indices.length; slot++) {
        const vector = output.slice(slot * dim, (slot + 1) * dim);
        const index = batch.indices[slot];
        imageVectors[index] = vector;
        await cache.put(imageCacheKey(root, samples[index].image, samples[index].contentKey), vector);
      }
      embedded += batch.indices.length;
      done += batch.indices.length;
      hooks.onProgress('embedding-images', done, total);
    }
  } finally {
    queue.close();
    await producer;
    await cache.flush();
  }
  if (producerError !== null) throw producerError;
  throwIfCancelled(hooks.signal);
  hooks.onLog(
    'info',
    `Embedded ${embedded} images: model busy ${(inferMs / 1000).toFixed(1)} s, waiting for decoding ${(waitMs / 1000).toFixed(1)} s ` +
      `(${((100 * inferMs) / Math.max(1, inferMs + waitMs)).toFixed(0)}% busy).`,
  );
  return { embedded, cached };
}

async function embedCaptions(
  captions: readonly string[],
  model: PipelineModel,
  tokenize: (captions: readonly string[]) => Int32Array,
  cache: EmbeddingCache,
  hooks: ScanHooks,
): Promise<Map<string, Float32Array>> {
  const vectors = new Map<string, Float32Array>();
  const todo: string[] = [];
  for (const caption of new Set(captions)) {
    const hit = cache.get(textCacheKey(caption));
    if (hit) vectors.set(caption, hit);
    else todo.push(caption);
  }
  const total = vectors.size + todo.length;
  hooks.onProgress('embedding-texts', vectors.size, total, vectors.size > 0 ? `${vectors.size} from cache` : undefined);
  const batchSize = embedBatchSize(model);
  try {
    for (let start = 0; start < todo.length; start += batchSize) {
      throwIfCancelled(hooks.signal);
      const batch = todo.slice(start, start + batchSize);
      const output = await model.embedTexts(tokenize(batch), batch.length);
      const dim = output.length / batch.length;
      for (let i = 0; i < batch.length; i++) {
        const vector = output.slice(i * dim, (i + 1) * dim);
        vectors.set(batch[i], vector);
        await cache.put(textCacheKey(batch[i]), vector);
      }
      hooks.onProgress('embedding-texts', vectors.size, total);
    }
  } finally {
    await cache.flush();
  }
  return vectors;
}

/** Inference batch: the model's limit when it has one (batch-1 exports), else MAX_EMBED_BATCH. */
function embedBatchSize(model: PipelineModel): number {
  return Math.max(1, Math.min(MAX_EMBED_BATCH, model.maxBatch ?? MAX_EMBED_BATCH));
}

function stackRows(vectors: readonly Float32Array[], dim: number): Float32Array {
  const out = new Float32Array(vectors.length * dim);
  vectors.forEach((v, i) => out.set(v, i * dim));
  return out;
}

/** Refuses any output location inside the dataset folder (the scan never writes there). */
async function assertOutside(datasetRoot: string, path: string, what: string): Promise<void> {
  const absolute = resolve(path);
  let real = absolute;
  try {
    real = await realpath(absolute);
  } catch {
    // Not created yet: its lexical path decides.
  }
  if (isInside(datasetRoot, absolute) || isInside(datasetRoot, real)) {
    throw new Error(`${what} ${absolute} is inside the dataset folder ${datasetRoot}; the scanner never writes into a dataset. Choose a folder outside it.`);
  }
}

/**
 * Scans a dataset folder and writes its results folder. Rejects with ScanCancelledError when `hooks.signal` aborts
 * (the embedding cache keeps what was computed), with an Error whose message says what to do otherwise.
 */
export async function runScan(dataset: string, options: PipelineOptions, hooks: ScanHooks, deps: ScanDependencies): Promise<ScanOutcome> {
  try {
    return await scan(dataset, options, hooks, deps);
  } catch (error) {
    if (hooks.signal?.aborted) throw new ScanCancelledError();
    throw error;
  }
}

async function scan(dataset: string, options: PipelineOptions, hooks: ScanHooks, deps: ScanDependencies): Promise<ScanOutcome> {
  const startedAt = new Date().toISOString();
  let root: string;
  try {
    root = await realpath(resolve(dataset));
    if (!(await stat(root)).isDirectory()) throw new Error('not a folder');
  } catch {
    throw new Error(`dataset ${resolve(dataset)} is not a readable folder.`);
  }
  const cacheDir = resolve(options.cacheDir ?? deps.defaultCacheDir());
  await assertOutside(root, cacheDir, 'The cache folder');
  if (options.saveEmbeddings !== undefined) await assertOutside(root, options.saveEmbeddings, '--save-embeddings');

  const reader = await deps.openDataset(root, {
    layout: options.layout as LayoutName | undefined,
    manifest: options.manifest,
    imageColumn: options.imageColumn,
    captionColumn: options.captionColumn,
  });
  hooks.onLog('info', `Dataset: ${reader.description}`);

  const samples: SampleSource[] = [];
  hooks.onProgress('reading', 0, 0);
  for await (const sample of reader.samples(hooks.signal)) {
    samples.push(sample);
    if (samples.length % 1000 === 0) hooks.onProgress('reading', samples.length, samples.length);
    throwIfCancelled(hooks.signal);
  }
  hooks.onProgress('reading', samples.length, samples.length);
  const errors: (string | null)[] = samples.map((s) => s.error);
  const imageVectors: (Float32Array | null)[] = samples.map(() => null);
  const textVectors: (Float32Array | null)[] = samples.map(() => null);

  let modelLabel = 'none';
  let device: Device | 'none' = 'none';
  let deviceReason = 'precomputed embeddings (no model)';
  let embeddedImages = 0;
  let cachedImages = 0;

  if (reader.precomputedEmbeddings) {
    const pre = await reader.precomputedEmbeddings();
    const rowOf = new Map(pre.ids.map((id, row) => [id, row]));
    samples.forEach((sample, index) => {
      if (errors[index] !== null) return;
      const row = rowOf.get(sample.id);
      if (row === undefined) {
        errors[index] = 'no precomputed embedding for this sample';
        return;
      }
      imageVectors[index] = pre.images.subarray(row * pre.dim, (row + 1) * pre.dim);
      if (pre.texts && sample.caption !== null) textVectors[index] = pre.texts.subarray(row * pre.dim, (row + 1) * pre.dim);
    });
    hooks.onLog('info', 'Using the embeddings stored in the dataset (no model needed).');
  } else {
    const resolved = await deps.resolveModel(options.model, cacheDir);
    if ('error' in resolved) throw new Error(resolved.error);
    const model = await deps.openModel(resolved.dir, { device: options.device, log: (message) => hooks.onLog('info', message) });
    try {
      modelLabel = resolved.dir;
      device = model.device;
      deviceReason = model.deviceReason;
      hooks.onDevice(model.device, model.deviceReason);
      const [tokenize, preprocess] = await Promise.all([deps.loadTokenizer(resolved.dir), deps.loadPreprocessor(resolved.dir)]);
      const imageCache = await EmbeddingCache.open(embeddingCacheDir(cacheDir, model.fingerprint, 'images'));
      const imageStats = await embedImages(root, { samples, errors, imageVectors }, model, preprocess, imageCache, hooks);
      await imageCache.compact();
      embeddedImages = imageStats.embedded;
      cachedImages = imageStats.cached;
      const captions = samples.filter((s, i) => errors[i] === null && s.caption !== null).map((s) => s.caption as string);
      if (captions.length > 0) {
        const textCache = await EmbeddingCache.open(embeddingCacheDir(cacheDir, model.fingerprint, 'texts'));
        const byCaption = await embedCaptions(captions, model, tokenize, textCache, hooks);
        await textCache.compact();
        samples.forEach((s, i) => {
          if (errors[i] === null && s.caption !== null) textVectors[i] = byCaption.get(s.caption) ?? null;
        });
      }
    } finally {
      await model.close();
    }
  }
  throwIfCancelled(hooks.signal);

  // Scoring: only samples with an image embedding take part.
  const scored = samples.map((_, i) => i).filter((i) => errors[i] === null && imageVectors[i] !== null);
  const dim = scored.length > 0 ? (imageVectors[scored[0]] as Float32Array).length : 0;
  const images: EmbeddingMatrix = { data: stackRows(scored.map((i) => imageVectors[i] as Float32Array), dim), rows: scored.length, dim };
  const anyCaption = scored.some((i) => textVectors[i] !== null);
  const captionMissing = new Uint8Array(scored.length);
  let texts: EmbeddingMatrix | null = null;
  if (anyCaption) {
    const zero = new Float32Array(dim);
    const rows = scored.map((i, r) => {
      const vector = textVectors[i];
      if (vector === null) captionMissing[r] = 1;
      return vector ?? zero;
    });
    texts = { data: stackRows(rows, dim), rows: scored.length, dim };
  }

  const scoreOptions: ScoreOptions = {
    k: options.k,
    lidK: options.lidK,
    batchSize: options.batchSize,
    seed: options.seed,
    detectors: options.detectors,
    compat: options.compat,
  };
  let scoreResult: ScoreResult = { rows: [], batchOf: new Int32Array(0) };
  if (scored.length > 0) {
    let engine: GemmEngine;
    try {
      engine = await deps.createGemmEngine(device === 'cuda' ? 'cuda' : 'cpu');
    } catch (error) {
      hooks.onLog('warn', `onnxruntime GEMM engine unavailable (${messageOf(error)}); scoring with the slower JavaScript engine.`);
      engine = deps.fallbackGemmEngine;
    }
    try {
      hooks.onProgress('scoring', 0, scored.length);
      scoreResult = await deps.score({ images, texts, captionMissing: anyCaption ? captionMissing : undefined }, scoreOptions, engine, {
        onProgress: (done, total) => hooks.onProgress('scoring', done, total),
        signal: hooks.signal,
      });
      scoreResult.warnings?.forEach((warning) => hooks.onLog('warn', warning));
    } finally {
      if (engine !== deps.fallbackGemmEngine) await engine.dispose?.();
    }
  } else {
    hooks.onLog('warn', 'No sample could be embedded: nothing to score.');
  }
  throwIfCancelled(hooks.signal);

  hooks.onProgress('writing', 0, 1);
  const rowOfSample = new Map(scored.map((sampleIndex, row) => [sampleIndex, row]));
  const results: SampleResult[] = samples.map((sample, index) => {
    const base = { id: sample.id, image: sample.image, caption: sample.caption };
    const row = rowOfSample.get(index);
    if (row === undefined) return { ...base, error: errors[index] ?? 'not scored' };
    const scoreRow = scoreResult.rows[row];
    return {
      ...base,
      error: null,
      scores: scoreRow.scores,
      safeProbability: scoreRow.safeProbability,
      safe: scoreRow.safe,
      ...(scoreRow.warnings && scoreRow.warnings.length > 0 ? { warnings: scoreRow.warnings } : {}),
    };
  });
  const records: SampleRecord[] = samples.map((s) => ({ id: s.id, image: s.image, caption: s.caption, files: s.ownedFiles, container: s.container }));
  const embeddedRecords: EmbeddedRecord[] = scored.map((i) => ({ id: samples[i].id, image: samples[i].image, caption: samples[i].caption }));

  const summary: ScanSummary = {
    dataset: root,
    layout: reader.layout,
    model: modelLabel,
    device,
    deviceReason,
    sampleCount: samples.length,
    errorCount: results.filter((r) => r.error !== null).length,
    embeddedImages,
    cachedImages,
    startedAt,
    finishedAt: new Date().toISOString(),
    options: { ...options, cacheDir },
  };
  const resultsDir = resultsDirFor(cacheDir, root);
  const writeEmbeddings = async (dir: string, withBatches: boolean): Promise<void> => {
    await writeFileAtomic(join(dir, RESULTS_FILES.imageEmbeddings), deps.encodeNpy(images.data, [images.rows, dim]));
    if (texts) await writeFileAtomic(join(dir, RESULTS_FILES.textEmbeddings), deps.encodeNpy(texts.data, [texts.rows, dim]));
    await writeLinesAtomic(join(dir, RESULTS_FILES.ids), embeddedRecords.map((r) => JSON.stringify(r)));
    // Batch indices as float32 (exact below 2^24 batches; -1 = rejected row): parseNpy/encodeNpy speak float32.
    if (withBatches) await writeFileAtomic(join(dir, RESULTS_FILES.batches), deps.encodeNpy(Float32Array.from(scoreResult.batchOf), [scoreResult.batchOf.length]));
  };
  await replaceFolderAtomically(resultsDir, async (dir) => {
    await writeLinesAtomic(join(dir, RESULTS_FILES.results), results.map((r) => JSON.stringify(r)));
    await writeLinesAtomic(join(dir, RESULTS_FILES.samples), records.map((r) => JSON.stringify(r)));
    await writeEmbeddings(dir, true);
    await writeFileAtomic(join(dir, RESULTS_FILES.summary), JSON.stringify(summary, null, 2) + '\n');
  });
  if (options.saveEmbeddings !== undefined) await writeEmbeddings(resolve(options.saveEmbeddings), false);
  hooks.onProgress('writing', 1, 1);
  return { summary, resultsDir };
}

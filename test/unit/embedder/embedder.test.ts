import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { copyFile, cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { contentHash, openClipModel, type ClipModel } from '../../../src/backend/embedder';
import { GraphBuilder, attr } from '../../../src/backend/onnx/graph';
import { synthesizeClipModel } from '../../../src/backend/onnx/clipSynth';

const TINY_DIM = 64;
const TINY_SIZE = 224;
const CONTEXT = 77;

/** Deterministic pseudo-random values in [-1, 1). */
function seededValues(count: number, seed: number): Float32Array {
  let state = seed >>> 0 || 1;
  return Float32Array.from({ length: count }, () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return ((state >>> 0) / 2 ** 32) * 2 - 1;
  });
}

/** Token rows like the tokenizer makes: 49406, words, 49407, then 0 padding. */
function captionIds(rows: number[][]): Int32Array {
  const ids = new Int32Array(rows.length * CONTEXT);
  rows.forEach((words, row) => ids.set([49406, ...words, 49407], row * CONTEXT));
  return ids;
}

function row(values: Float32Array, index: number, dim: number): Float32Array {
  return values.subarray(index * dim, (index + 1) * dim);
}

function normalised(values: Float32Array): Float32Array {
  const norm = Math.hypot(...values);
  return values.map((value) => value / norm);
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tolerance, `${what}[${i}]: ${actual[i]} vs ${expected[i]} (tolerance ${tolerance})`);
  }
}

const PROVIDERS_SHARED = join(dirname(require.resolve('onnxruntime-node/package.json')), 'bin/napi-v6', process.platform, process.arch, 'libonnxruntime_providers_shared.so');

describe('embedder: synthesized CLIP models (tiny preset)', function () {
  let root: string;
  let splitDir: string;
  const pixels = seededValues(3 * 3 * TINY_SIZE * TINY_SIZE, 7);
  const ids = captionIds([[320, 1929], [530, 2368, 537, 320, 1155], []]);
  let split: ClipModel;
  let splitImages: Float32Array;
  let splitTexts: Float32Array;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'bscan-embedder-'));
    splitDir = join(root, 'split');
    await synthesizeClipModel(splitDir, { preset: 'tiny', seed: 3 });
    split = await openClipModel(splitDir, { device: 'cpu', threads: 1 });
    splitImages = await split.embedImages(pixels, 3);
    splitTexts = await split.embedTexts(ids, 3);
  });
  after(async () => {
    await split?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('opens the split HF layout and reports what it discovered', () => {
    assert.equal(split.descriptor.layout, 'hf-split');
    assert.equal(split.descriptor.variant, '');
    assert.equal(split.device, 'cpu');
    assert.equal(split.deviceReason, 'CPU (requested)');
    assert.equal(split.imageSize, TINY_SIZE);
    assert.equal(split.contextLength, CONTEXT);
    assert.equal(split.embedDim, TINY_DIM);
    assert.equal(split.outputsNormalised, false);
    assert.equal(split.maxBatch, null);
    assert.match(split.fingerprint, /^[0-9a-f]{32}$/);
    assert.equal(splitImages.length, 3 * TINY_DIM);
    assert.equal(splitTexts.length, 3 * TINY_DIM);
    assert.ok(splitImages.every(Number.isFinite) && splitTexts.every(Number.isFinite));
    // Unnormalised raw outputs, and different inputs give different embeddings.
    assert.ok(Math.abs(Math.hypot(...row(splitImages, 0, TINY_DIM)) - 1) > 1e-3);
    assert.notDeepEqual(row(splitImages, 0, TINY_DIM), row(splitImages, 1, TINY_DIM));
    assert.notDeepEqual(row(splitTexts, 0, TINY_DIM), row(splitTexts, 1, TINY_DIM));
  });

  it('gives each item the same embedding alone as in a batch', async () => {
    const perItem = 3 * TINY_SIZE * TINY_SIZE;
    const alone = await split.embedImages(pixels.subarray(perItem, 2 * perItem), 1);
    assertClose(alone, row(splitImages, 1, TINY_DIM), 1e-4, 'image 1');
    const text = await split.embedTexts(ids.subarray(2 * CONTEXT), 1);
    assertClose(text, row(splitTexts, 2, TINY_DIM), 1e-4, 'caption 2');
    assert.deepEqual(await split.embedImages(new Float32Array(0), 0), new Float32Array(0));
  });

  it('rejects an input shorter than count items', async () => {
    await assert.rejects(split.embedImages(new Float32Array(10), 1), /image input holds 10 values; 1 items need 150528/);
    await assert.rejects(split.embedTexts(new Int32Array(76), 1), /text input holds 76 values; 1 items need 77/);
  });

  it('combined layout (same weights): normalised embeddings equal to the split ones, with a dummy for the other tower', async () => {
    const dir = join(root, 'combined');
    await synthesizeClipModel(dir, { preset: 'tiny', seed: 3, layout: 'combined' });
    const combined = await openClipModel(dir, { device: 'cpu', threads: 1 });
    try {
      assert.equal(combined.descriptor.layout, 'hf-combined');
      assert.equal(combined.outputsNormalised, true);
      assert.equal(combined.embedDim, TINY_DIM);
      const images = await combined.embedImages(pixels, 3);
      const texts = await combined.embedTexts(ids, 3);
      for (let i = 0; i < 3; i++) {
        assertClose(row(images, i, TINY_DIM), normalised(row(splitImages, i, TINY_DIM)), 1e-5, `image ${i}`);
        assertClose(row(texts, i, TINY_DIM), normalised(row(splitTexts, i, TINY_DIM)), 1e-5, `caption ${i}`);
      }
    } finally {
      await combined.close();
    }
  });

  it('batch-1-only export: reports maxBatch 1 and loops, matching the dynamic model', async () => {
    const dir = join(root, 'batch1');
    await synthesizeClipModel(dir, { preset: 'tiny', seed: 3, fixedBatchOne: true });
    const fixed = await openClipModel(dir, { device: 'cpu', threads: 1 });
    try {
      assert.equal(fixed.maxBatch, 1);
      assertClose(await fixed.embedImages(pixels, 3), splitImages, 1e-4, 'images');
      assertClose(await fixed.embedTexts(ids, 3), splitTexts, 1e-4, 'captions');
    } finally {
      await fixed.close();
    }
  });

  it('selects a precision variant, and picks the only variant present when none is asked for', async () => {
    const dir = join(root, 'variants');
    await mkdir(join(dir, 'onnx'), { recursive: true });
    for (const tower of ['vision_model', 'text_model']) {
      await copyFile(join(splitDir, `onnx/${tower}.onnx`), join(dir, `onnx/${tower}_quantized.onnx`));
    }
    const quantized = await openClipModel(dir, { device: 'cpu', variant: 'quantized', threads: 1 });
    try {
      assert.equal(quantized.descriptor.variant, 'quantized');
      assert.deepEqual([quantized.descriptor.image.file, quantized.descriptor.text.file], ['onnx/vision_model_quantized.onnx', 'onnx/text_model_quantized.onnx']);
      assert.notEqual(quantized.fingerprint, split.fingerprint, 'the variant is part of the fingerprint');
      assertClose(await quantized.embedImages(pixels, 3), splitImages, 1e-6, 'same graph, same output');
    } finally {
      await quantized.close();
    }
    const implicit = await openClipModel(dir, { device: 'cpu', threads: 1 });
    assert.equal(implicit.descriptor.variant, 'quantized');
    await implicit.close();
  });

  it('names what exists when a variant is missing, and what was looked for in a folder without models', async () => {
    await assert.rejects(
      openClipModel(splitDir, { device: 'cpu', variant: 'fp16' }),
      (error: Error) =>
        /has no 'fp16' variant: it needs onnx\/vision_model_fp16\.onnx \+ onnx\/text_model_fp16\.onnx/.test(error.message) &&
        /Variants present: fp32 \(no suffix\)/.test(error.message) &&
        /ONNX files: onnx\/text_model\.onnx, onnx\/vision_model\.onnx/.test(error.message),
    );
    await assert.rejects(openClipModel(splitDir, { device: 'cpu', variant: 'int3' }), /unknown model variant 'int3'/);
    const empty = join(root, 'empty');
    await mkdir(empty, { recursive: true });
    await writeFile(join(empty, 'readme.txt'), 'no model here');
    await assert.rejects(
      openClipModel(empty, { device: 'cpu' }),
      /no CLIP model found in .*empty: looked for onnx\/vision_model\.onnx \+ onnx\/text_model\.onnx, onnx\/model\.onnx, visual\/model\.onnx \+ textual\/model\.onnx .*the folder has no ONNX files/,
    );
    await assert.rejects(openClipModel(join(root, 'nowhere'), { device: 'cpu' }), /model folder .*nowhere does not exist/);
    const lonely = join(root, 'lonely');
    await mkdir(join(lonely, 'onnx'), { recursive: true });
    await copyFile(join(splitDir, 'onnx/vision_model.onnx'), join(lonely, 'onnx/vision_model.onnx'));
    await assert.rejects(openClipModel(lonely, { device: 'cpu' }), /ONNX files present: onnx\/vision_model\.onnx/);
  });

  it("falls back to CPU with a one-line reason when CUDA cannot load ('cuda' and 'auto')", async () => {
    // On a machine without onnxruntime-node's CUDA provider libraries (this one), both must fall back with the reason.
    const cudaInstalled = existsSync(PROVIDERS_SHARED);
    for (const device of ['cuda', 'auto'] as const) {
      const logged: string[] = [];
      const model = await openClipModel(splitDir, { device, threads: 1, log: (message) => logged.push(message) });
      try {
        assert.ok(logged.some((line) => line.includes(model.deviceReason)), 'the reason is logged');
        assert.ok(!model.deviceReason.includes('\n'));
        if (!cudaInstalled) {
          assert.equal(model.device, 'cpu');
          const lead = device === 'cuda' ? 'CUDA requested but unavailable' : 'CUDA unavailable';
          assert.equal(
            model.deviceReason,
            `${lead}: the CUDA execution provider or a library it needs could not be loaded — run 'Set up GPU acceleration' (needs CUDA 12 + cuDNN 9); using CPU`,
          );
        } else {
          assert.ok(model.device === 'cuda' ? model.deviceReason.startsWith('CUDA (') : model.deviceReason.endsWith('using CPU'), model.deviceReason);
        }
        assertClose(await model.embedImages(pixels, 1), row(splitImages, 0, TINY_DIM), 1e-3, 'same result on the device used');
      } finally {
        await model.close();
      }
    }
  });

  it('fingerprint: same files anywhere → same id; a changed file → another id', async () => {
    const copy = join(root, 'copy');
    await cp(splitDir, copy, { recursive: true });
    const copied = await openClipModel(copy, { device: 'cpu', threads: 1 });
    assert.equal(copied.fingerprint, split.fingerprint);
    await copied.close();
    await synthesizeClipModel(copy, { preset: 'tiny', seed: 4 });
    const changed = await openClipModel(copy, { device: 'cpu', threads: 1 });
    assert.notEqual(changed.fingerprint, split.fingerprint);
    await changed.close();
  });

  it('refuses work after close', async () => {
    const model = await openClipModel(splitDir, { device: 'cpu', threads: 1 });
    await model.close();
    await model.close();
    await assert.rejects(model.embedImages(pixels, 1), /is closed/);
  });
});

describe('embedder: contentHash', () => {
  it('hashes small files whole and samples large ones (size, head, tail, spaced blocks)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bscan-hash-'));
    try {
      const path = join(dir, 'weights.bin');
      const data = Buffer.from(seededValues(1024 * 1024, 5).buffer); // 4 MB
      await writeFile(path, data);
      const whole = await contentHash(path);
      const sampled = await contentHash(path, 1024 * 1024);
      assert.match(whole ?? '', /^[0-9a-f]{64}$/);
      assert.notEqual(sampled, whole, 'the sampled id is a different function of the file');
      // A byte inside the first sampled block changes both ids; the mtime changes too, so nothing stale is reused.
      const changed = Buffer.from(data);
      changed[Math.floor(data.length / 65) + 10] ^= 0xff;
      await writeFile(path, changed);
      assert.notEqual(await contentHash(path), whole);
      assert.notEqual(await contentHash(path, 1024 * 1024), sampled);
      // One more byte: another size, another sampled id.
      await writeFile(path, Buffer.concat([changed, Buffer.from([0])]));
      assert.notEqual(await contentHash(path, 1024 * 1024), sampled);
      assert.equal(await contentHash(join(dir, 'missing.bin')), null);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// ---------- hand-built exports with other names, types and batch limits ----------

const SMALL_SIZE = 8;
const SMALL_DIM = 4;
const IMAGE_WEIGHTS = seededValues(3 * SMALL_DIM, 11);
const TEXT_WEIGHTS = seededValues(CONTEXT * SMALL_DIM, 12).map((value) => value / 50000);

interface TowerOptions {
  batch: number | string;
  inputName: string;
  inputType: 'float32' | 'float16' | 'int64' | 'int32';
  outputNames: readonly string[];
  outputType: 'float32' | 'float16';
  normalise: boolean;
}

/** Image tower: mean of each channel → MatMul [3, D] (→ L2 normalise). Cast at the edges for float16 I/O. */
async function writeImageTower(path: string, options: TowerOptions): Promise<void> {
  const graph = new GraphBuilder('image');
  const input = graph.input(options.inputName, options.inputType, [options.batch, 3, SMALL_SIZE, SMALL_SIZE]);
  const asFloat = options.inputType === 'float32' ? input : graph.op('Cast', [input], { to: attr.int(1) });
  const means = graph.op('ReduceMean', [asFloat], { axes: attr.ints([2, 3]), keepdims: attr.int(0) });
  let embedding = graph.op('MatMul', [means, graph.float32s('w', [...IMAGE_WEIGHTS], [3, SMALL_DIM])]);
  if (options.normalise) embedding = graph.op('LpNormalization', [embedding], { axis: attr.int(-1), p: attr.int(2) });
  finishTower(graph, embedding, options);
  await mkdir(dirname(path), { recursive: true });
  await graph.toModel().writeToFile(path);
}

/** Text tower: ids as floats → MatMul [77, D] (→ L2 normalise). */
async function writeTextTower(path: string, options: TowerOptions): Promise<void> {
  const graph = new GraphBuilder('text');
  const input = graph.input(options.inputName, options.inputType, [options.batch, CONTEXT]);
  let embedding = graph.op('MatMul', [graph.op('Cast', [input], { to: attr.int(1) }), graph.float32s('w', [...TEXT_WEIGHTS], [CONTEXT, SMALL_DIM])]);
  if (options.normalise) embedding = graph.op('LpNormalization', [embedding], { axis: attr.int(-1), p: attr.int(2) });
  finishTower(graph, embedding, options);
  await mkdir(dirname(path), { recursive: true });
  await graph.toModel().writeToFile(path);
}

function finishTower(graph: GraphBuilder, embedding: string, options: TowerOptions): void {
  const typed = options.outputType === 'float32' ? embedding : graph.op('Cast', [embedding], { to: attr.int(10) });
  for (const name of options.outputNames) {
    graph.op('Identity', [typed], {}, name);
    graph.output(name, options.outputType, [options.batch, SMALL_DIM]);
  }
}

function expectedImage(pixels: Float32Array, index: number, normalise: boolean): Float32Array {
  const perChannel = SMALL_SIZE * SMALL_SIZE;
  const means = [0, 1, 2].map((channel) => {
    const start = (index * 3 + channel) * perChannel;
    return pixels.subarray(start, start + perChannel).reduce((sum, value) => sum + value, 0) / perChannel;
  });
  const out = Float32Array.from({ length: SMALL_DIM }, (_, d) => means.reduce((sum, mean, channel) => sum + mean * IMAGE_WEIGHTS[channel * SMALL_DIM + d], 0));
  return normalise ? normalised(out) : out;
}

function expectedText(ids: Int32Array, index: number, normalise: boolean): Float32Array {
  const out = Float32Array.from({ length: SMALL_DIM }, (_, d) => {
    let sum = 0;
    for (let t = 0; t < CONTEXT; t++) sum += ids[index * CONTEXT + t] * TEXT_WEIGHTS[t * SMALL_DIM + d];
    return sum;
  });
  return normalise ? normalised(out) : out;
}

describe('embedder: exports with other names, dtypes and batch limits', () => {
  let root: string;
  const pixels = seededValues(5 * 3 * SMALL_SIZE * SMALL_SIZE, 21);
  const ids = captionIds([[320], [1929, 2368], [530, 537, 538], [49406], [1155, 320]]);

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'bscan-embedder-names-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('OpenCLIP layout: float16 pixels named "image", int32 ids named "text", output "embedding", batch fixed at 1', async () => {
    const dir = join(root, 'openclip');
    const common = { batch: 1, outputNames: ['embedding'], normalise: true } as const;
    await writeImageTower(join(dir, 'visual/model.onnx'), { ...common, inputName: 'image', inputType: 'float16', outputType: 'float16' });
    await writeTextTower(join(dir, 'textual/model.onnx'), { ...common, inputName: 'text', inputType: 'int32', outputType: 'float32' });
    const model = await openClipModel(dir, { device: 'cpu', threads: 1 });
    try {
      assert.equal(model.descriptor.layout, 'openclip');
      assert.equal(model.outputsNormalised, true);
      assert.equal(model.maxBatch, 1);
      assert.equal(model.imageSize, SMALL_SIZE);
      assert.equal(model.embedDim, SMALL_DIM);
      const images = await model.embedImages(pixels, 5);
      const texts = await model.embedTexts(ids, 5);
      for (let i = 0; i < 5; i++) {
        // float16 at both ends of the image tower: about three decimal digits.
        assertClose(row(images, i, SMALL_DIM), expectedImage(pixels, i, true), 2e-3, `image ${i}`);
        assertClose(row(texts, i, SMALL_DIM), expectedText(ids, i, true), 1e-5, `caption ${i}`);
      }
    } finally {
      await model.close();
    }
  });

  it('a fixed batch of 2 is filled with padding and the padding is dropped', async () => {
    const dir = join(root, 'batch2');
    const common = { batch: 2, outputNames: ['image_embeds'], normalise: false, outputType: 'float32' } as const;
    await writeImageTower(join(dir, 'onnx/vision_model.onnx'), { ...common, inputName: 'pixels', inputType: 'float32' });
    await writeTextTower(join(dir, 'onnx/text_model.onnx'), { ...common, outputNames: ['text_embeds'], inputName: 'tokens', inputType: 'int64' });
    const model = await openClipModel(dir, { device: 'cpu', threads: 1 });
    try {
      assert.equal(model.maxBatch, 2);
      const images = await model.embedImages(pixels, 5);
      const texts = await model.embedTexts(ids, 5);
      assert.equal(images.length, 5 * SMALL_DIM);
      for (let i = 0; i < 5; i++) {
        assertClose(row(images, i, SMALL_DIM), expectedImage(pixels, i, false), 1e-5, `image ${i}`);
        assertClose(row(texts, i, SMALL_DIM), expectedText(ids, i, false), 1e-5, `caption ${i}`);
      }
    } finally {
      await model.close();
    }
  });

  it('clip-model.json: names files and the output when the graph is ambiguous; the error says how without it', async () => {
    const dir = join(root, 'described');
    const common = { batch: 'n', normalise: false, outputType: 'float32' } as const;
    await writeImageTower(join(dir, 'towers/img.onnx'), { ...common, outputNames: ['image_embeds'], inputName: 'x', inputType: 'float32' });
    await writeTextTower(join(dir, 'towers/txt.onnx'), { ...common, outputNames: ['first', 'second'], inputName: 'y', inputType: 'int64' });
    const descriptor = { image: { file: 'towers/img.onnx' }, text: { file: 'towers/txt.onnx' }, outputsNormalised: false };
    await writeFile(join(dir, 'clip-model.json'), JSON.stringify(descriptor));
    await assert.rejects(
      openClipModel(dir, { device: 'cpu', threads: 1 }),
      /towers\/txt\.onnx: cannot tell which output is the text embedding among first \(float32 \[n,4\]\), second \(float32 \[n,4\]\); name it in a clip-model\.json/,
    );
    await writeFile(join(dir, 'clip-model.json'), JSON.stringify({ ...descriptor, text: { file: 'towers/txt.onnx', input: 'y', output: 'second' } }));
    const model = await openClipModel(dir, { device: 'cpu', threads: 1 });
    try {
      assert.equal(model.descriptor.layout, 'descriptor');
      assert.equal(model.maxBatch, null);
      assertClose(await model.embedTexts(ids, 2), [...expectedText(ids, 0, false), ...expectedText(ids, 1, false)], 1e-5, 'captions');
    } finally {
      await model.close();
    }
    await writeFile(join(dir, 'clip-model.json'), JSON.stringify({ ...descriptor, text: { file: 'towers/txt.onnx', output: 'third' } }));
    await assert.rejects(openClipModel(dir, { device: 'cpu' }), /names output 'third', but the graph's float outputs are first .*second/);
    await writeFile(join(dir, 'clip-model.json'), JSON.stringify({ ...descriptor, image: { file: '../escape.onnx' } }));
    await assert.rejects(openClipModel(dir, { device: 'cpu' }), /must be a path inside the model folder/);
  });

});

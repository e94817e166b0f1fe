import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { CLIP_PRESETS, CLIP_PREPROCESSOR_CONFIG, clipModelFiles, synthesizeClipModel } from '../../../src/backend/onnx/clipSynth';
import { loadTokenizer } from '../../../src/backend/tokenizerFiles';
import { referenceImageEmbedding, referenceTextEmbedding } from './clipReference';
import { decodeModel } from './onnxReader';

const tiny = CLIP_PRESETS.tiny;
const EOT = 49407;

function seededPixels(count: number, seed: number): Float32Array {
  let state = seed >>> 0 || 1;
  const out = new Float32Array(count * 3 * 224 * 224);
  for (let i = 0; i < out.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = ((state >>> 0) / 2 ** 32) * 4 - 2; // roughly the range of CLIP-normalised pixels
  }
  return out;
}

function idsTensor(rows: readonly (readonly number[] | Int32Array)[]): ort.Tensor {
  const data = new BigInt64Array(rows.length * 77);
  rows.forEach((row, r) => row.forEach((id, t) => (data[r * 77 + t] = BigInt(id))));
  return new ort.Tensor('int64', data, [rows.length, 77]);
}

function rowsOf(tensor: ort.Tensor): Float32Array[] {
  const [rows, cols] = tensor.dims;
  const data = tensor.data as Float32Array;
  return Array.from({ length: rows }, (_, r) => data.slice(r * cols, (r + 1) * cols));
}

function norm(v: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  return Math.sqrt(sum);
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
  return dot / (norm(a) * norm(b));
}

function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length);
  let worst = 0;
  const scale = norm(expected) / Math.sqrt(expected.length);
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / scale);
  return worst;
}

describe('synthetic CLIP models (tiny preset)', function () {
  let root: string;
  let split: string;
  let combined: string;
  let fixedOne: string;
  let vision: ort.InferenceSession;
  let text: ort.InferenceSession;
  let captions: Int32Array[];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'clip-synth-test-'));
    split = join(root, 'split');
    combined = join(root, 'combined');
    fixedOne = join(root, 'fixed-one');
    await synthesizeClipModel(split, { preset: 'tiny', seed: 7 });
    await synthesizeClipModel(combined, { preset: 'tiny', seed: 7, layout: 'combined' });
    await synthesizeClipModel(fixedOne, { preset: 'tiny', seed: 7, fixedBatchOne: true });
    vision = await ort.InferenceSession.create(join(split, 'onnx/vision_model.onnx'));
    text = await ort.InferenceSession.create(join(split, 'onnx/text_model.onnx'));
    const tokenizer = await loadTokenizer(split);
    captions = ['a photo of a dog', 'two red buses parked near the station', 'banana'].map((caption) => tokenizer.encode(caption));
  });

  after(async () => {
    await vision?.release();
    await text?.release();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('writes the HF layout: two ONNX files, configs and the real CLIP merges', async () => {
    assert.deepEqual((await readdir(split)).sort(), ['bpe_simple_vocab_16e6.txt.gz', 'config.json', 'onnx', 'preprocessor_config.json']);
    assert.deepEqual((await readdir(join(split, 'onnx'))).sort(), ['text_model.onnx', 'vision_model.onnx']);
    assert.deepEqual(clipModelFiles('combined'), ['onnx/model.onnx', 'config.json', 'preprocessor_config.json', 'bpe_simple_vocab_16e6.txt.gz']);
    const preprocessor = JSON.parse(await readFile(join(split, 'preprocessor_config.json'), 'utf8'));
    assert.deepEqual(preprocessor.image_mean, [0.48145466, 0.4578275, 0.40821073]);
    assert.deepEqual(preprocessor, JSON.parse(JSON.stringify(CLIP_PREPROCESSOR_CONFIG)));
    const config = JSON.parse(await readFile(join(split, 'config.json'), 'utf8'));
    assert.equal(config.projection_dim, tiny.embedDim);
    assert.equal(config.vision_config.patch_size, 32);
    assert.equal(config.synthetic.seed, 7);
    // The copied merges list tokenizes like OpenAI: "a photo of a dog" → SOT a photo of a dog EOT.
    assert.deepEqual([...captions[0].slice(0, 7)], [49406, 320, 1125, 539, 320, 1929, EOT]);
  });

  it('declares opset 17, IR 8 and marks the model as synthetic', async () => {
    const model = decodeModel(await readFile(join(split, 'onnx/vision_model.onnx')));
    assert.equal(model.opsetVersion, 17);
    assert.equal(model.irVersion, 8);
    assert.equal(model.metadata.get('synthetic'), 'true');
    assert.ok(model.nodes.some((node) => node.opType === 'LayerNormalization'));
  });

  it('exposes the HF input/output names with a symbolic batch dimension', () => {
    assert.deepEqual(vision.inputNames, ['pixel_values']);
    assert.deepEqual(vision.outputNames, ['image_embeds']);
    assert.deepEqual(text.inputNames, ['input_ids']);
    assert.deepEqual(text.outputNames, ['text_embeds']);
    const visionInput = vision.inputMetadata[0];
    const textInput = text.inputMetadata[0];
    assert.ok(visionInput.isTensor && textInput.isTensor);
    assert.deepEqual(visionInput.shape, ['batch_size', 3, 224, 224]);
    assert.equal(visionInput.type, 'float32');
    assert.deepEqual(textInput.shape, ['batch_size', 77]);
    assert.equal(textInput.type, 'int64');
  });

  it('computes finite, unnormalised embeddings of the right shape for any batch size', async () => {
    for (const batch of [1, 3]) {
      const image = (await vision.run({ pixel_values: new ort.Tensor('float32', seededPixels(batch, batch), [batch, 3, 224, 224]) })).image_embeds;
      assert.deepEqual(image.dims, [batch, tiny.embedDim]);
      assert.ok((image.data as Float32Array).every(Number.isFinite));
    }
    const caption = (await text.run({ input_ids: idsTensor(captions) })).text_embeds;
    assert.deepEqual(caption.dims, [3, tiny.embedDim]);
    const norms = rowsOf(caption).map(norm);
    assert.ok(norms.every((n) => Number.isFinite(n) && n > 2), `norms ${norms}`);
    // Different captions give different embeddings (the weights are random, not degenerate).
    assert.ok(cosine(rowsOf(caption)[0], rowsOf(caption)[1]) < 0.9999);
  });

  it('matches an independent plain-JS CLIP forward pass (patch conv, class token, attention, QuickGELU, projection)', async () => {
    const model = decodeModel(await readFile(join(split, 'onnx/vision_model.onnx')));
    const pixels = seededPixels(2, 11);
    const output = rowsOf((await vision.run({ pixel_values: new ort.Tensor('float32', pixels, [2, 3, 224, 224]) })).image_embeds);
    for (let i = 0; i < 2; i++) {
      const expected = referenceImageEmbedding(model, tiny, pixels.subarray(i * 3 * 224 * 224, (i + 1) * 3 * 224 * 224));
      assert.ok(maxRelativeError(output[i], expected) < 1e-3, `image ${i}: error ${maxRelativeError(output[i], expected)}`);
    }
  });

  it('matches an independent plain-JS text forward pass (causal mask, argmax pooling)', async () => {
    const model = decodeModel(await readFile(join(split, 'onnx/text_model.onnx')));
    const output = rowsOf((await text.run({ input_ids: idsTensor(captions) })).text_embeds);
    captions.forEach((ids, i) => {
      const expected = referenceTextEmbedding(model, tiny, [...ids]);
      assert.ok(maxRelativeError(output[i], expected) < 1e-3, `caption ${i}: error ${maxRelativeError(output[i], expected)}`);
    });
  });

  it('pools at the EOT token: tokens after it do not matter, tokens before it do', async () => {
    const base = [...captions[1]];
    const eot = base.indexOf(EOT);
    const afterEot = [...base];
    for (let t = eot + 1; t < 77; t++) afterEot[t] = 1000 + t; // junk below 49407 after the EOT
    const beforeEot = [...base];
    beforeEot[eot - 1] = 1929;
    const rows = rowsOf((await text.run({ input_ids: idsTensor([base, afterEot, beforeEot]) })).text_embeds);
    assert.ok(maxRelativeError(rows[1], rows[0]) < 1e-5, 'changing padding after EOT changed the embedding');
    assert.ok(maxRelativeError(rows[2], rows[0]) > 1e-2, 'changing a token before EOT did not change the embedding');
  });

  it('is deterministic by seed: same seed gives identical files, another seed other weights', async () => {
    const again = join(root, 'again');
    const other = join(root, 'other');
    await synthesizeClipModel(again, { preset: 'tiny', seed: 7 });
    await synthesizeClipModel(other, { preset: 'tiny', seed: 8 });
    for (const file of ['onnx/vision_model.onnx', 'onnx/text_model.onnx']) {
      const [first, second, third] = await Promise.all([split, again, other].map((dir) => readFile(join(dir, file))));
      assert.ok(first.equals(second), `${file} differs between two runs with seed 7`);
      assert.equal(first.length, third.length);
      assert.ok(!first.equals(third), `${file} is the same for seeds 7 and 8`);
    }
    // Writing again into an existing folder replaces the files (no permission or rename problems).
    await synthesizeClipModel(again, { preset: 'tiny', seed: 7 });
  });

  it('combined layout: one graph, normalised embeddings in the same direction as the split towers, and CLIP logits', async () => {
    const session = await ort.InferenceSession.create(join(combined, 'onnx/model.onnx'));
    try {
      assert.deepEqual([...session.inputNames].sort(), ['attention_mask', 'input_ids', 'pixel_values']);
      assert.deepEqual([...session.outputNames].sort(), ['image_embeds', 'logits_per_image', 'logits_per_text', 'text_embeds']);
      const pixels = seededPixels(2, 3);
      const mask = new BigInt64Array(3 * 77);
      captions.forEach((ids, r) => ids.forEach((id, t) => (mask[r * 77 + t] = id !== 0 || t === 0 ? 1n : 0n)));
      const out = await session.run({
        pixel_values: new ort.Tensor('float32', pixels, [2, 3, 224, 224]),
        input_ids: idsTensor(captions),
        attention_mask: new ort.Tensor('int64', mask, [3, 77]),
      });
      const splitImages = rowsOf((await vision.run({ pixel_values: new ort.Tensor('float32', pixels, [2, 3, 224, 224]) })).image_embeds);
      const splitTexts = rowsOf((await text.run({ input_ids: idsTensor(captions) })).text_embeds);
      const images = rowsOf(out.image_embeds);
      const texts = rowsOf(out.text_embeds);
      images.forEach((row, i) => {
        assert.ok(Math.abs(norm(row) - 1) < 1e-5);
        assert.ok(cosine(row, splitImages[i]) > 0.99999);
      });
      texts.forEach((row, i) => {
        assert.ok(Math.abs(norm(row) - 1) < 1e-5);
        assert.ok(cosine(row, splitTexts[i]) > 0.99999);
      });
      assert.deepEqual(out.logits_per_image.dims, [2, 3]);
      assert.deepEqual(out.logits_per_text.dims, [3, 2]);
      const logits = out.logits_per_image.data as Float32Array;
      assert.ok(Math.abs(logits[1 * 3 + 2] - 100 * cosine(images[1], texts[2])) < 1e-3);
      assert.ok(Math.abs((out.logits_per_text.data as Float32Array)[2 * 2 + 1] - logits[1 * 3 + 2]) < 1e-5);
    } finally {
      await session.release();
    }
  });

  it('normalisedOutputs makes the split towers return unit vectors', async () => {
    const dir = join(root, 'normalised');
    await synthesizeClipModel(dir, { preset: 'tiny', seed: 7, normalisedOutputs: true });
    const session = await ort.InferenceSession.create(join(dir, 'onnx/text_model.onnx'));
    try {
      const rows = rowsOf((await session.run({ input_ids: idsTensor(captions) })).text_embeds);
      const unnormalised = rowsOf((await text.run({ input_ids: idsTensor(captions) })).text_embeds);
      rows.forEach((row, i) => {
        assert.ok(Math.abs(norm(row) - 1) < 1e-5);
        assert.ok(cosine(row, unnormalised[i]) > 0.99999);
      });
    } finally {
      await session.release();
    }
  });

  it('fixedBatchOne: batch 1 runs, batch 2 is rejected by the runtime', async () => {
    const session = await ort.InferenceSession.create(join(fixedOne, 'onnx/vision_model.onnx'));
    try {
      const input = session.inputMetadata[0];
      assert.ok(input.isTensor);
      assert.deepEqual(input.shape, [1, 3, 224, 224]);
      const one = await session.run({ pixel_values: new ort.Tensor('float32', seededPixels(1, 5), [1, 3, 224, 224]) });
      assert.deepEqual(one.image_embeds.dims, [1, tiny.embedDim]);
      await assert.rejects(session.run({ pixel_values: new ort.Tensor('float32', seededPixels(2, 5), [2, 3, 224, 224]) }), /dimension|shape/i);
    } finally {
      await session.release();
    }
  });

  it('rejects an unknown preset, a bad seed or layout before writing anything', async () => {
    const dir = join(root, 'never');
    await assert.rejects(synthesizeClipModel(dir, { preset: 'vit-h-14' as 'tiny' }), /unknown CLIP preset/);
    await assert.rejects(synthesizeClipModel(dir, { preset: 'toString' as 'tiny' }), /unknown CLIP preset/);
    await assert.rejects(synthesizeClipModel(dir, { preset: 'tiny', seed: -1 }), /seed/);
    await assert.rejects(synthesizeClipModel(dir, { preset: 'tiny', seed: 2 ** 32 }), /seed/);
    await assert.rejects(synthesizeClipModel(dir, { preset: 'tiny', layout: 'both' as 'split' }), /layout/);
    await assert.rejects(readdir(dir), /ENOENT/);
  });
});

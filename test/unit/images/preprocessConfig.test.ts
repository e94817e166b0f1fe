import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLIP_MEAN, CLIP_STD, DEFAULT_PREPROCESS_CONFIG, parsePreprocessorConfig } from '../../../src/core/preprocessConfig';
import { loadPreprocessConfig } from '../../../src/backend/images';

// openai/clip-vit-base-patch32's preprocessor_config.json (older transformers layout).
const HF_CLIP_OLD = {
  crop_size: 224,
  do_center_crop: true,
  do_normalize: true,
  do_resize: true,
  feature_extractor_type: 'CLIPFeatureExtractor',
  image_mean: [0.48145466, 0.4578275, 0.40821073],
  image_std: [0.26862954, 0.26130258, 0.27577711],
  resample: 3,
  size: 224,
};
// The newer layout with dict sizes and rescale fields.
const HF_CLIP_NEW = {
  crop_size: { height: 336, width: 336 },
  do_center_crop: true,
  do_convert_rgb: true,
  do_normalize: true,
  do_rescale: true,
  do_resize: true,
  image_mean: [0.48145466, 0.4578275, 0.40821073],
  image_processor_type: 'CLIPImageProcessor',
  image_std: [0.26862954, 0.26130258, 0.27577711],
  resample: 3,
  rescale_factor: 0.00392156862745098,
  size: { shortest_edge: 336 },
};

describe('parsePreprocessorConfig', () => {
  it('defaults are CLIP: 224, 224, 1/255, CLIP mean/std, bicubic', () => {
    assert.deepEqual(parsePreprocessorConfig({}), { ...DEFAULT_PREPROCESS_CONFIG });
    assert.equal(DEFAULT_PREPROCESS_CONFIG.rescale, 1 / 255);
    assert.deepEqual(DEFAULT_PREPROCESS_CONFIG.mean, CLIP_MEAN);
    assert.deepEqual(DEFAULT_PREPROCESS_CONFIG.std, CLIP_STD);
  });

  it('reads the old layout (numbers)', () => {
    const config = parsePreprocessorConfig(HF_CLIP_OLD);
    assert.equal(config.shortestEdge, 224);
    assert.equal(config.cropSize, 224);
    assert.equal(config.resample, 'bicubic');
  });

  it('reads the new layout (dicts, rescale_factor)', () => {
    const config = parsePreprocessorConfig(HF_CLIP_NEW);
    assert.equal(config.shortestEdge, 336);
    assert.equal(config.cropSize, 336);
    assert.equal(config.rescale, 0.00392156862745098);
  });

  it('honours do_rescale, do_normalize and do_center_crop set to false, and bilinear', () => {
    const config = parsePreprocessorConfig({ size: { shortest_edge: 256 }, crop_size: 224, do_rescale: false, do_normalize: false, do_center_crop: false, resample: 2 });
    assert.equal(config.rescale, 1);
    assert.deepEqual(config.mean, [0, 0, 0]);
    assert.deepEqual(config.std, [1, 1, 1]);
    assert.equal(config.cropSize, 256);
    assert.equal(config.resample, 'bilinear');
  });

  it('names the bad field', () => {
    assert.throws(() => parsePreprocessorConfig('x'), /expected a JSON object/);
    assert.throws(() => parsePreprocessorConfig({ size: 'big' }), /size must be/);
    assert.throws(() => parsePreprocessorConfig({ size: { shortest_edge: -1 } }), /size\.shortest_edge must be a positive integer/);
    assert.throws(() => parsePreprocessorConfig({ crop_size: { height: 224, width: 200 } }), /non-square crop/);
    assert.throws(() => parsePreprocessorConfig({ image_mean: [0.5, 0.5] }), /image_mean must be three numbers/);
    assert.throws(() => parsePreprocessorConfig({ image_std: [0.5, 0, 0.5] }), /image_std must be positive/);
    assert.throws(() => parsePreprocessorConfig({ rescale_factor: '1/255' }), /rescale_factor/);
    assert.throws(() => parsePreprocessorConfig({ resample: 1 }), /resample 1 is not supported/);
    assert.throws(() => parsePreprocessorConfig({ do_normalize: 'yes' }), /do_normalize must be true or false/);
  });

  it('does not share the default arrays with its result', () => {
    const config = parsePreprocessorConfig({});
    config.mean[0] = 9;
    assert.notEqual(DEFAULT_PREPROCESS_CONFIG.mean[0], 9);
  });
});

describe('loadPreprocessConfig', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ppc-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('falls back to CLIP defaults when the model has no preprocessor_config.json', async () => {
    assert.deepEqual(await loadPreprocessConfig(dir), { ...DEFAULT_PREPROCESS_CONFIG });
  });

  it('reads the file and names it in errors', async () => {
    writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify(HF_CLIP_NEW));
    assert.equal((await loadPreprocessConfig(dir)).cropSize, 336);
    writeFileSync(join(dir, 'preprocessor_config.json'), '{not json');
    await assert.rejects(loadPreprocessConfig(dir), /preprocessor_config\.json: not valid JSON/);
  });
});

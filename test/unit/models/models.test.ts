import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cachedModelDir,
  defaultCacheDir,
  downloadModel,
  isHubModelName,
  listCachedModels,
  resolveModelSpec,
  SOURCE_FILE,
} from '../../../src/backend/models';
import { openClipModel } from '../../../src/backend/embedder';
import { synthesizeClipModel } from '../../../src/backend/onnx/clipSynth';
import { startFakeHub, type FakeHub } from './fakeHub';

const REPO = 'Tester/clip-tiny';

/** A repo with split quantized + fp32 files and HF configs. Bytes are random: these tests are about transport. */
function splitRepo(): Map<string, Buffer> {
  return new Map<string, Buffer>([
    ['config.json', Buffer.from('{"model_type":"clip"}')],
    ['preprocessor_config.json', Buffer.from('{"crop_size":224}')],
    ['tokenizer.json', Buffer.from('{"model":{}}')],
    ['onnx/vision_model.onnx', randomBytes(300_000)],
    ['onnx/text_model.onnx', randomBytes(200_000)],
    ['onnx/vision_model_quantized.onnx', randomBytes(150_000)],
    ['onnx/text_model_quantized.onnx', randomBytes(100_000)],
  ]);
}

describe('models: cache and hub downloads', () => {
  let hub: FakeHub;
  let cacheDir: string;

  beforeEach(async () => {
    hub = await startFakeHub();
    cacheDir = await mkdtemp(join(tmpdir(), 'bscan-models-'));
  });
  afterEach(async () => {
    await hub.close();
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('downloads the files of a variant with progress, verifies them and lists the model', async () => {
    const files = splitRepo();
    hub.repos.set(REPO, files);
    const progress: { file: string; received: number; total: number | null }[] = [];
    const dir = await downloadModel(REPO, {
      cacheDir,
      variant: 'quantized',
      endpoint: hub.endpoint,
      onProgress: (file, received, total) => progress.push({ file, received, total }),
    });
    assert.equal(dir, cachedModelDir(cacheDir, REPO));
    for (const path of ['onnx/vision_model_quantized.onnx', 'onnx/text_model_quantized.onnx', 'config.json', 'preprocessor_config.json', 'tokenizer.json']) {
      assert.deepEqual(await readFile(join(dir, path)), files.get(path), path);
    }
    // The fp32 files of another variant are not fetched; nothing partial is left behind.
    assert.equal(existsSync(join(dir, 'onnx/vision_model.onnx')), false);
    assert.deepEqual((await readdir(join(dir, 'onnx'))).filter((name) => name.endsWith('.part')), []);

    const vision = progress.filter((event) => event.file === 'onnx/vision_model_quantized.onnx');
    assert.ok(vision.length >= 2, 'several progress events for a 150 kB file');
    for (let i = 1; i < vision.length; i++) assert.ok(vision[i].received >= vision[i - 1].received);
    assert.deepEqual(vision[vision.length - 1], { file: 'onnx/vision_model_quantized.onnx', received: 150_000, total: 150_000 });

    const source = JSON.parse(await readFile(join(dir, SOURCE_FILE), 'utf8'));
    assert.equal(source.name, REPO);
    assert.match(source.files['onnx/vision_model_quantized.onnx'].sha256, /^[0-9a-f]{64}$/);

    const listed = await listCachedModels(cacheDir);
    assert.equal(listed.length, 1);
    assert.equal(listed[0].name, REPO);
    assert.equal(listed[0].dir, dir);
    assert.deepEqual(listed[0].variants, ['quantized']);
    const onDisk = [...files.entries()].filter(([path]) => !path.startsWith('onnx/') || path.includes('_quantized')).reduce((sum, [, data]) => sum + data.length, 0);
    assert.ok(listed[0].bytes >= onDisk && listed[0].bytes < onDisk + 4096, `bytes ${listed[0].bytes} ≈ files ${onDisk} + source record`);
  });

  it('downloads a real (synthesized tiny) CLIP export that then opens and embeds', async () => {
    const source = join(cacheDir, 'synth');
    await synthesizeClipModel(source, { preset: 'tiny', seed: 1 });
    const files = new Map<string, Buffer>();
    for (const path of ['onnx/vision_model.onnx', 'onnx/text_model.onnx', 'config.json', 'preprocessor_config.json']) {
      files.set(path, await readFile(join(source, path)));
    }
    hub.repos.set(REPO, files);
    hub.dropHalfwayOnce.add('onnx/text_model.onnx');
    const dir = await downloadModel(REPO, { cacheDir, endpoint: hub.endpoint });
    const resolved = await resolveModelSpec(REPO, cacheDir);
    assert.deepEqual(resolved, { dir });
    const model = await openClipModel(dir, { device: 'cpu', threads: 1 });
    try {
      assert.equal(model.embedDim, 64);
      const embeddings = await model.embedTexts(Int32Array.from({ length: 77 }, (_, i) => (i === 0 ? 49406 : i === 1 ? 49407 : 0)), 1);
      assert.ok(embeddings.every(Number.isFinite));
    } finally {
      await model.close();
    }
  });

  it('resumes a transfer the server dropped halfway, with a Range request from the bytes already received', async () => {
    const files = splitRepo();
    hub.repos.set(REPO, files);
    hub.dropHalfwayOnce.add('onnx/vision_model.onnx');
    const progress: number[] = [];
    const dir = await downloadModel(REPO, {
      cacheDir,
      endpoint: hub.endpoint,
      onProgress: (file, received) => file === 'onnx/vision_model.onnx' && progress.push(received),
    });
    assert.deepEqual(await readFile(join(dir, 'onnx/vision_model.onnx')), files.get('onnx/vision_model.onnx'));
    const cdnGets = hub.requests.filter((r) => r.method === 'GET' && r.url.startsWith('/cdn/') && r.range !== undefined);
    assert.equal(cdnGets.length, 1, 'exactly one resumed request');
    const resumedFrom = Number(/^bytes=(\d+)-$/.exec(cdnGets[0].range ?? '')?.[1]);
    assert.ok(resumedFrom > 0 && resumedFrom < 300_000, `resumed from byte ${resumedFrom}`);
    // After the drop, progress restarts from the resume point, not from zero.
    const restart = progress.findIndex((value, i) => i > 0 && value < progress[i - 1]);
    assert.equal(restart, -1, 'progress never goes backwards');
    assert.ok(progress.includes(resumedFrom));
  });

  it('resumes a .part file left by an earlier, interrupted run', async () => {
    const files = splitRepo();
    hub.repos.set(REPO, files);
    const dir = cachedModelDir(cacheDir, REPO);
    await mkdir(join(dir, 'onnx'), { recursive: true });
    const full = files.get('onnx/text_model.onnx') as Buffer;
    await writeFile(join(dir, 'onnx/text_model.onnx.part'), full.subarray(0, 123_456));
    await downloadModel(REPO, { cacheDir, endpoint: hub.endpoint });
    assert.deepEqual(await readFile(join(dir, 'onnx/text_model.onnx')), full);
    assert.equal(existsSync(join(dir, 'onnx/text_model.onnx.part')), false);
    assert.ok(hub.requests.some((r) => r.url.startsWith('/cdn/') && r.range === 'bytes=123456-'));
  });

  it('rejects a file whose checksum does not match and leaves neither the file nor a .part', async () => {
    hub.repos.set(REPO, splitRepo());
    hub.announcedShaOverride.set('onnx/vision_model.onnx', 'ab'.repeat(32));
    await assert.rejects(downloadModel(REPO, { cacheDir, endpoint: hub.endpoint }), /onnx\/vision_model\.onnx: checksum mismatch \(expected sha256 (ab){32}, got [0-9a-f]{64}\)/);
    const dir = cachedModelDir(cacheDir, REPO);
    assert.equal(existsSync(join(dir, 'onnx/vision_model.onnx')), false);
    assert.equal(existsSync(join(dir, 'onnx/vision_model.onnx.part')), false);
    assert.deepEqual(await listCachedModels(cacheDir), []);
  });

  it('retries a server error and succeeds', async () => {
    const files = splitRepo();
    hub.repos.set(REPO, files);
    hub.failOnce.add('onnx/text_model.onnx');
    const dir = await downloadModel(REPO, { cacheDir, endpoint: hub.endpoint });
    assert.deepEqual(await readFile(join(dir, 'onnx/text_model.onnx')), files.get('onnx/text_model.onnx'));
  });

  it('says clearly when the variant or the repository does not exist', async () => {
    hub.repos.set(REPO, splitRepo());
    await assert.rejects(
      downloadModel(REPO, { cacheDir, endpoint: hub.endpoint, variant: 'fp16' }),
      /Tester\/clip-tiny has no ONNX CLIP files for variant 'fp16' \(tried onnx\/vision_model_fp16\.onnx \+ onnx\/text_model_fp16\.onnx; onnx\/model_fp16\.onnx; visual\/model_fp16\.onnx \+ textual\/model_fp16\.onnx\)/,
    );
    await assert.rejects(downloadModel('Nobody/missing', { cacheDir, endpoint: hub.endpoint }), /HTTP 401 — the repository does not exist or needs authentication/);
    await assert.rejects(downloadModel('../etc', { cacheDir, endpoint: hub.endpoint }), /not a Hugging Face model id/);
    await assert.rejects(downloadModel(REPO, { cacheDir, endpoint: hub.endpoint, variant: 'int3' }), /unknown model variant 'int3'/);
  });

  it('takes the combined layout when the repository has no split files, and HF_ENDPOINT is honoured', async () => {
    const combined = randomBytes(50_000);
    hub.repos.set(REPO, new Map([['onnx/model.onnx', combined], ['tokenizer.json', Buffer.from('{}')]]));
    const previous = process.env.HF_ENDPOINT;
    process.env.HF_ENDPOINT = hub.endpoint;
    try {
      const dir = await downloadModel(REPO, { cacheDir });
      assert.deepEqual(await readFile(join(dir, 'onnx/model.onnx')), combined);
    } finally {
      if (previous === undefined) delete process.env.HF_ENDPOINT;
      else process.env.HF_ENDPOINT = previous;
    }
  });

  it('does not fetch a verified file again', async () => {
    hub.repos.set(REPO, splitRepo());
    await downloadModel(REPO, { cacheDir, endpoint: hub.endpoint, variant: 'quantized' });
    hub.requests.length = 0;
    await downloadModel(REPO, { cacheDir, endpoint: hub.endpoint, variant: 'quantized' });
    assert.deepEqual(hub.requests.filter((r) => r.method === 'GET' && r.url.startsWith('/cdn/')), []);
  });

  it('stops on abort and keeps the partial file for the next run', async () => {
    const files = splitRepo();
    hub.repos.set(REPO, files);
    const controller = new AbortController();
    await assert.rejects(
      downloadModel(REPO, {
        cacheDir,
        endpoint: hub.endpoint,
        signal: controller.signal,
        onProgress: (file, received) => {
          if (file === 'onnx/vision_model.onnx' && received > 0) controller.abort();
        },
      }),
      (error: Error) => error.name === 'AbortError',
    );
    const dir = cachedModelDir(cacheDir, REPO);
    assert.equal(existsSync(join(dir, 'onnx/vision_model.onnx')), false);
    await downloadModel(REPO, { cacheDir, endpoint: hub.endpoint });
    assert.deepEqual(await readFile(join(dir, 'onnx/vision_model.onnx')), files.get('onnx/vision_model.onnx'));
  });
});

describe('models: resolveModelSpec', () => {
  let cacheDir: string;
  beforeEach(async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'bscan-resolve-'));
  });
  afterEach(async () => {
    await rm(cacheDir, { recursive: true, force: true });
  });

  async function fakeCachedModel(name: string): Promise<string> {
    const dir = cachedModelDir(cacheDir, name);
    await mkdir(join(dir, 'onnx'), { recursive: true });
    await writeFile(join(dir, 'onnx/vision_model_quantized.onnx'), 'x');
    await writeFile(join(dir, 'onnx/text_model_quantized.onnx'), 'x');
    return dir;
  }

  it('with nothing cached, says exactly how to get a model', async () => {
    const result = await resolveModelSpec(undefined, cacheDir);
    assert.ok('error' in result);
    assert.match(result.error, /backdoor-scan model download Xenova\/clip-vit-base-patch32 --variant quantized/);
    assert.match(result.error, /backdoor-scan model synth --preset tiny --out DIR/);
  });

  it('uses the only cached model, and asks to choose among several', async () => {
    const dir = await fakeCachedModel('A/one');
    assert.deepEqual(await resolveModelSpec(undefined, cacheDir), { dir });
    assert.deepEqual(await resolveModelSpec('  ', cacheDir), { dir });
    await fakeCachedModel('B/two');
    const result = await resolveModelSpec(undefined, cacheDir);
    assert.ok('error' in result);
    assert.match(result.error, /2 are cached \(A\/one, B\/two\); choose one with --model NAME/);
  });

  it('resolves a cached name and a folder path; explains an unknown name, a file and a bad path', async () => {
    const dir = await fakeCachedModel('A/one');
    assert.deepEqual(await resolveModelSpec('A/one', cacheDir), { dir });
    assert.deepEqual(await resolveModelSpec(dir, cacheDir), { dir });
    const missing = await resolveModelSpec('Xenova/clip-vit-large-patch14', cacheDir);
    assert.ok('error' in missing);
    assert.match(missing.error, /not in the cache .*`backdoor-scan model download Xenova\/clip-vit-large-patch14 --variant quantized`/);
    const file = await resolveModelSpec(join(dir, 'onnx/text_model_quantized.onnx'), cacheDir);
    assert.ok('error' in file && /is a file; pass the model folder/.test(file.error));
    const nowhere = await resolveModelSpec('/no/such/dir/anywhere', cacheDir);
    assert.ok('error' in nowhere && /no such folder, and not a model id.*cached models: A\/one/.test(nowhere.error));
  });

  it('defaultCacheDir honours BACKDOOR_SCAN_CACHE, then XDG_CACHE_HOME, then ~/.cache', () => {
    assert.equal(defaultCacheDir({ BACKDOOR_SCAN_CACHE: '/tmp/x', XDG_CACHE_HOME: '/tmp/y' }), '/tmp/x');
    assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/tmp/y' }), '/tmp/y/clip-backdoor-scanner');
    assert.equal(defaultCacheDir({ XDG_CACHE_HOME: 'relative/ignored' }), join(homedir(), '.cache', 'clip-backdoor-scanner'));
    assert.equal(defaultCacheDir({}), join(homedir(), '.cache', 'clip-backdoor-scanner'));
  });

  it('accepts only owner/name hub ids', () => {
    assert.ok(isHubModelName('Xenova/clip-vit-base-patch32'));
    for (const bad of ['clip', 'a/b/c', '../x', 'a/..', '/abs', 'a/.hidden', 'a b/c']) assert.equal(isHubModelName(bad), false, bad);
  });
});

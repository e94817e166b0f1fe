import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { encodeNpy } from '../../../src/core/npy';
import { createRng } from '../../../src/core/rng';
import { PassThrough } from 'node:stream';
import { runCli } from '../../../src/cli/run';
import { startFakeHub } from '../models/fakeHub';
import { removeTempDirs, syntheticDataset, tempDir, tinyModel } from '../pipeline/fixtures';

/** The CLI in-process (same dispatcher and exit codes as the binary), for the many quick usage checks. */
async function cliInProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  stdout.on('data', (c: Buffer) => chunks.stdout.push(c));
  stderr.on('data', (c: Buffer) => chunks.stderr.push(c));
  const code = await runCli(args, { stdout, stderr, stdin: new PassThrough(), stderrIsTTY: false, env: process.env, signal: new AbortController().signal });
  return { code, stdout: Buffer.concat(chunks.stdout).toString('utf8'), stderr: Buffer.concat(chunks.stderr).toString('utf8') };
}

const BIN = resolve(__dirname, '../../../../bin/backdoor-scan.js');

function cli(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [BIN, ...args], { input: options.input, encoding: 'utf8', env: { ...process.env, ...options.env }, timeout: 60_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** The binary without blocking the event loop (a server in this process must keep answering). */
function cliAsync(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  return new Promise((resolvePromise) => child.on('close', (code) => resolvePromise({ code, stdout, stderr })));
}

/** 300 pairs in 16-d; the first 3 images and captions are far outliers, so k-dist must rank them first. */
function plantedEmbeddings(dir: string): { images: string; texts: string; labels: string; labelsCsv: string } {
  const rng = createRng(11);
  const n = 300;
  const dim = 16;
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rng.nextFloat())) * Math.cos(2 * Math.PI * rng.nextFloat());
  const images = new Float32Array(n * dim);
  const texts = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) {
      const shift = i < 3 ? 25 * (d === i ? 1 : 0) + 12 : 0;
      images[i * dim + d] = gauss() + shift;
      texts[i * dim + d] = images[i * dim + d] + 0.5 * gauss();
    }
  }
  const labels = Float32Array.from({ length: n }, (_, i) => (i < 3 ? 1 : 0));
  const paths = { images: join(dir, 'img.npy'), texts: join(dir, 'txt.npy'), labels: join(dir, 'labels.npy'), labelsCsv: join(dir, 'labels.csv') };
  writeFileSync(paths.images, encodeNpy(images, [n, dim]));
  writeFileSync(paths.texts, encodeNpy(texts, [n, dim]));
  writeFileSync(paths.labels, encodeNpy(labels, [n]));
  writeFileSync(paths.labelsCsv, ['index,label', ...Array.from(labels, (l, i) => `${i},${l}`)].join('\n') + '\n');
  return paths;
}

describe('backdoor-scan CLI', function () {
  this.timeout(60_000);
  let dir: string;
  let files: ReturnType<typeof plantedEmbeddings>;

  before(() => {
    assert.ok(existsSync(BIN), 'bin/backdoor-scan.js missing');
    dir = tempDir('cli');
    files = plantedEmbeddings(dir);
  });
  after(removeTempDirs);

  it('prints help and exits 2 without a command, 0 with --help on every command', async () => {
    const bare = cli([]);
    assert.equal(bare.code, 2);
    assert.match(bare.stdout, /Usage: backdoor-scan <command>/);
    for (const command of ['scan', 'score', 'eval', 'tokenize', 'model', 'poison', 'export', 'demo']) {
      const help = await cliInProcess([command, '--help']);
      assert.equal(help.code, 0, command);
      assert.match(help.stdout, /Usage:/, command);
    }
  });

  it('exits 2 with a helpful message on bad usage', async () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /unknown command "frobnicate"/],
      [['score'], /--images is required/],
      [['score', '--images', files.images, '--k', 'many'], /--k must be an integer/],
      [['score', '--images', files.images, '--detectors', 'kdist,telepathy'], /unknown detector\(s\) "telepathy"/],
      [['score', '--images', files.images, '--out', 'scores.xlsx'], /\.jsonl, \.csv or \.parquet/],
      [['score', '--images', files.images, '--bogus'], /Unknown option '--bogus'/],
      [['eval', '--scores', 'x.jsonl'], /--labels is required/],
      [['scan'], /give the DATASET folder/],
      [['model', 'synth', '--preset', 'huge', '--out', dir], /--preset must be/],
      [['poison', dir, '--out', join(dir, 'p'), '--attack', 'laser', '--rate', '0.1', '--target', 'x'], /--attack must be one of/],
    ];
    assert.equal(cli(['frobnicate']).code, 2);
    for (const [args, message] of cases) {
      const run = await cliInProcess(args);
      assert.equal(run.code, 2, args.join(' '));
      assert.match(run.stderr, message, args.join(' '));
      assert.match(run.stderr, /--help/, args.join(' '));
    }
  });

  it('fails with exit 1 and a clear reason on a malformed or wrong .npy', () => {
    const bad = join(dir, 'bad.npy');
    writeFileSync(bad, Buffer.concat([Buffer.from([0x93]), Buffer.from('NUMPY\x01\x00\x76\x00{"descr": nonsense', 'latin1')]));
    const malformed = cli(['score', '--images', bad]);
    assert.equal(malformed.code, 1);
    assert.match(malformed.stderr, /--images .*bad\.npy: .*(truncated|malformed)/);
    const missing = cli(['score', '--images', join(dir, 'nope.npy')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no such file/);
    const oneD = cli(['score', '--images', files.labels]);
    assert.equal(oneD.code, 1);
    assert.match(oneD.stderr, /2-D array/);
    const mismatch = join(dir, 'short.npy');
    writeFileSync(mismatch, encodeNpy(new Float32Array(10 * 16), [10, 16]));
    const shapes = cli(['score', '--images', files.images, '--texts', mismatch]);
    assert.equal(shapes.code, 1);
    assert.match(shapes.stderr, /same pair/);
  });

  it('scores .npy to JSONL on stdout, and eval finds the planted outliers', () => {
    const score = cli(['score', '--images', files.images, '--texts', files.texts, '--batch-size', '0']);
    assert.equal(score.code, 0, score.stderr);
    const rows = score.stdout.trim().split('\n').map((l) => JSON.parse(l) as { index: number; scores: Record<string, number>; safeProbability: number; safe: boolean });
    assert.equal(rows.length, 300);
    assert.deepEqual(rows.map((r) => r.index), rows.map((_, i) => i));
    assert.deepEqual(Object.keys(rows[0].scores).sort(), ['clipScore', 'dao', 'iforest', 'kdist', 'lid', 'slof']);
    const scoresPath = join(dir, 'scores.jsonl');
    writeFileSync(scoresPath, score.stdout);

    const table = cli(['eval', '--scores', scoresPath, '--labels', files.labels]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /detector\s+AUROC\s+PR-AUC\s+FPR@95TPR/);
    const json = cli(['eval', '--scores', scoresPath, '--labels', files.labels, '--json']);
    const report = JSON.parse(json.stdout) as { rows: number; poisoned: number; detectors: { detector: string; auroc: number }[] };
    assert.equal(report.rows, 300);
    assert.equal(report.poisoned, 3);
    assert.equal(report.detectors.find((d) => d.detector === 'kdist')?.auroc, 1);
    assert.deepEqual(report.detectors.map((d) => d.detector), ['kdist', 'lid', 'slof', 'dao', 'iforest', 'clipScore', 'safeProbability']);
    // Labels as CSV with an index column give the same report.
    const csvLabels = cli(['eval', '--scores', scoresPath, '--labels', files.labelsCsv, '--json']);
    assert.deepEqual(JSON.parse(csvLabels.stdout), report);
  });

  it('writes CSV and Parquet with the same scores, and eval reads them back', () => {
    const jsonl = join(dir, 'same.jsonl');
    const csv = join(dir, 'same.csv');
    const parquet = join(dir, 'same.parquet');
    for (const out of [jsonl, csv, parquet]) {
      const run = cli(['score', '--images', files.images, '--texts', files.texts, '--batch-size', '0', '--detectors', 'kdist,clip,gmm', '--out', out]);
      assert.equal(run.code, 0, run.stderr);
    }
    assert.equal(readFileSync(csv, 'utf8').split('\n')[0], 'index,kdist,lid,slof,dao,iforest,clipScore,safeProbability,safe,warnings');
    const reports = [jsonl, csv, parquet].map((scores) => JSON.parse(cli(['eval', '--scores', scores, '--labels', files.labels, '--json']).stdout) as unknown);
    assert.deepEqual(reports[1], reports[0]);
    assert.deepEqual(reports[2], reports[0]);
  });

  it('reports a pool that is too small as a failure, not a crash', () => {
    const tiny = join(dir, 'tiny.npy');
    writeFileSync(tiny, encodeNpy(new Float32Array(20 * 4).map((_, i) => Math.sin(i)), [20, 4]));
    const run = cli(['score', '--images', tiny]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /pool/i);
    assert.doesNotMatch(run.stderr, /at .*\.js:\d+/);
  });

  it('tokenizes JSONL from stdin with the bundled vocabulary', () => {
    const run = cli(['tokenize'], { input: '{"text":"a photo of a banana"}\n{"text":""}\n' });
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { ids: number[] });
    assert.equal(lines.length, 2);
    assert.equal(lines[0].ids.length, 77);
    assert.deepEqual(lines[0].ids.slice(0, 7), [49406, 320, 1125, 539, 320, 8922, 49407]);
    assert.deepEqual(lines[1].ids.slice(0, 3), [49406, 49407, 0]);
    const broken = cli(['tokenize'], { input: 'not json\n' });
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /line 1 is not JSON/);
  });

  it('scan refuses --out inside the dataset, a missing dataset, and explains how to get a model', () => {
    const dataset = join(dir, 'dataset');
    mkdirSync(dataset, { recursive: true });
    writeFileSync(join(dataset, 'a.txt'), 'caption');
    const inside = cli(['scan', dataset, '--out', join(dataset, 'scores.jsonl')]);
    assert.equal(inside.code, 2);
    assert.match(inside.stderr, /inside the dataset folder/);
    assert.ok(!existsSync(join(dataset, 'scores.jsonl')));
    const missing = cli(['scan', join(dir, 'nowhere')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /does not exist/);
    const emptyCache = tempDir('empty-cache');
    writeFileSync(join(dataset, 'a.png'), Buffer.alloc(0));
    const noModel = cli(['scan', dataset, '--cache', emptyCache]);
    assert.equal(noModel.code, 1);
    assert.match(noModel.stderr, /model download|model synth/);
  });

  it('runs model synth → poison → scan --json → eval → export end to end (exit 0 with error rows)', async () => {
    const model = join(tempDir('cli-model'), 'tiny');
    const synth = cli(['model', 'synth', '--preset', 'tiny', '--out', model]);
    assert.equal(synth.code, 0, synth.stderr);
    const source = await syntheticDataset(60, 2);
    const poisoned = join(tempDir('cli-poisoned'), 'poisoned');
    const poison = cli(['poison', source, '--out', poisoned, '--attack', 'badnets', '--rate', '0.05', '--target', 'banana', '--seed', '1']);
    assert.equal(poison.code, 0, poison.stderr);
    writeFileSync(join(poisoned, 'broken.jpg'), 'not an image');
    const cache = tempDir('cli-cache');
    const out = join(dir, 'scan.csv');
    const scan = cli(['scan', poisoned, '--model', model, '--device', 'cpu', '--batch-size', '0', '--cache', cache, '--out', out, '--json']);
    assert.equal(scan.code, 0, scan.stderr);
    const events = scan.stderr.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event: string; stage?: string; summary?: { errorCount: number } });
    assert.ok(events.some((e) => e.event === 'progress' && e.stage === 'embedding-images'));
    assert.ok(events.some((e) => e.event === 'device'));
    const done = events.find((e) => e.event === 'done');
    assert.equal(done?.summary?.errorCount, 1);
    assert.equal(readFileSync(out, 'utf8').split('\n')[0], 'id,image,caption,error,kdist,lid,slof,dao,iforest,clipScore,safeProbability,safe,warnings');
    // labels.csv from poison is keyed by id; the broken image has no label, and as an error row it needs none.
    const evaluation = cli(['eval', '--scores', out, '--labels', join(poisoned, 'labels.csv'), '--json']);
    assert.equal(evaluation.code, 0, evaluation.stderr);
    const report = JSON.parse(evaluation.stdout) as { poisoned: number; detectors: { detector: string; count: number; positives: number }[] };
    assert.equal(report.poisoned, 3);
    assert.ok(report.detectors.every((d) => d.count === 60 && d.positives === 3));
    const manifest = join(dir, 'clean.csv');
    const exported = cli(['export', poisoned, '--cache', cache, '--format', 'clean-manifest', '--out', manifest]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(readFileSync(manifest, 'utf8').trim().split('\n').length, 61);
  });

  it('stops a scan cleanly on Ctrl-C (exit 130) and the next scan resumes from the cache', async () => {
    const model = join(tempDir('sigint-model'), 'tiny');
    assert.equal(cli(['model', 'synth', '--preset', 'tiny', '--out', model]).code, 0);
    const dataset = await syntheticDataset(300, 4);
    const cache = tempDir('sigint-cache');
    const args = [BIN, 'scan', dataset, '--model', model, '--device', 'cpu', '--cache', cache, '--json', '--out', join(dir, 'sigint.jsonl')];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let signalled = false;
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      if (!signalled && /"stage":"embedding-images","done":[1-9]/.test(stderr)) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolvePromise) => child.on('exit', (c) => resolvePromise(c)));
    assert.ok(signalled, 'never saw image embedding progress');
    assert.equal(code, 130, stderr);
    assert.match(stderr, /Scan stopped/);
    assert.ok(!existsSync(join(dir, 'sigint.jsonl')));
    const again = cli(args.slice(1));
    assert.equal(again.code, 0, again.stderr);
    const done = JSON.parse(again.stderr.trim().split('\n').filter((l) => l.includes('"event":"done"'))[0]) as { summary: { cachedImages: number; embeddedImages: number } };
    assert.ok(done.summary.cachedImages > 0, 'nothing was kept in the cache');
    assert.equal(done.summary.cachedImages + done.summary.embeddedImages, 300);
  });

  it('downloads a model from a hub (127.0.0.1) into the cache and lists it', async () => {
    const model = await tinyModel();
    const hub = await startFakeHub();
    try {
      const files = new Map<string, Buffer>();
      for (const path of ['onnx/vision_model.onnx', 'onnx/text_model.onnx', 'config.json', 'preprocessor_config.json']) files.set(path, readFileSync(join(model, path)));
      hub.repos.set('acme/tiny-clip', files);
      const cache = tempDir('hub-cache');
      const download = await cliAsync(['model', 'download', 'acme/tiny-clip', '--cache', cache], { HF_ENDPOINT: hub.endpoint });
      assert.equal(download.code, 0, download.stderr);
      const dir = download.stdout.trim();
      assert.ok(dir.startsWith(cache));
      assert.deepEqual(readFileSync(join(dir, 'onnx/vision_model.onnx')), files.get('onnx/vision_model.onnx'));
      const list = cli(['model', 'list', '--cache', cache]);
      assert.equal(list.code, 0);
      assert.match(list.stdout, /^acme\/tiny-clip {2}\[fp32\]/m);
      const unknown = await cliAsync(['model', 'download', 'acme/missing', '--cache', cache], { HF_ENDPOINT: hub.endpoint });
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /acme\/missing/);
    } finally {
      await hub.close();
    }
  });
});

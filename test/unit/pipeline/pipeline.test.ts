import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { encodeNpy } from '../../../src/core/npy';
import { createRng } from '../../../src/core/rng';
import { parseNpy } from '../../../src/core/npy';
import { exportResults } from '../../../src/backend/exporters';
import { runScan, ScanCancelledError } from '../../../src/backend/pipeline';
import { openDataset } from '../../../src/backend/readers';
import { readResultRows, readSampleRecords, readSummary } from '../../../src/backend/resultsFolder';
import { loadNeighbourData, neighboursOf } from '../../../src/backend/resultsNeighbours';
import { realScanDependencies } from '../../../src/backend/scanDeps';
import { makeThumbnails } from '../../../src/backend/thumbnails';
import { parseDelimited } from '../../../src/backend/tabular';
import { RESULTS_FILES } from '../../../src/protocol/backend';
import { SCORE_KEYS } from '../../../src/core/types';
import { recordingHooks, removeTempDirs, scanOptions, syntheticDataset, tempDir, tinyModel } from './fixtures';

/** Every file under `dir` with its size and mtime, to prove a scan wrote nothing inside the dataset. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      const info = statSync(path);
      if (info.isDirectory()) walk(path);
      else out.push(`${path}:${info.size}:${info.mtimeMs}`);
    }
  };
  walk(dir);
  return out;
}

describe('scan pipeline (tiny model, generated data)', function () {
  this.timeout(60_000);
  let model: string;
  let dataset: string;

  before(async () => {
    model = await tinyModel();
    dataset = await syntheticDataset(48);
    // Broken samples: an empty file and bytes that are not an image.
    writeFileSync(join(dataset, 'zz_empty.jpg'), '');
    writeFileSync(join(dataset, 'zz_empty.txt'), 'an empty file');
    writeFileSync(join(dataset, 'zz_garbage.png'), 'this is not a png at all');
  });
  after(removeTempDirs);

  it('scores every readable sample, makes error rows for broken ones, and never writes inside the dataset', async () => {
    const cache = tempDir('cache');
    const before = snapshot(dataset);
    const hooks = recordingHooks();
    const { summary, resultsDir } = await runScan(dataset, scanOptions(model, cache), hooks, realScanDependencies);
    assert.deepEqual(snapshot(dataset), before);
    assert.ok(resultsDir.startsWith(join(cache, 'results')));
    assert.equal(summary.sampleCount, 50);
    assert.equal(summary.errorCount, 2);
    assert.equal(summary.embeddedImages, 48);
    assert.equal(summary.cachedImages, 0);
    assert.equal(summary.device, 'cpu');
    assert.deepEqual(hooks.devices, ['cpu']);
    for (const stage of ['reading', 'embedding-images', 'embedding-texts', 'scoring', 'writing']) {
      assert.ok(hooks.events.some((e) => e.stage === stage), `no ${stage} progress`);
    }

    const rows = await readResultRows(resultsDir);
    assert.equal(rows.length, 50);
    const errors = rows.filter((r) => r.error !== null);
    assert.deepEqual(errors.map((r) => r.id).sort(), ['zz_empty.jpg', 'zz_garbage.png']);
    for (const row of errors) assert.equal(row.scores, undefined);
    assert.equal(errors.find((r) => r.id === 'zz_empty.jpg')?.caption, 'an empty file');
    for (const row of rows.filter((r) => r.error === null)) {
      for (const key of SCORE_KEYS) assert.equal(typeof row.scores?.[key], 'number', `${row.id} ${key}`);
      assert.equal(typeof row.safeProbability, 'number');
      // Captions come back byte for byte from the sidecar files.
      assert.equal(row.caption, readFileSync(join(dataset, row.id.replace(/\.jpg$/, '.txt')), 'utf8'));
    }

    const images = parseNpy(readFileSync(join(resultsDir, RESULTS_FILES.imageEmbeddings)));
    assert.deepEqual(images.shape.slice(0, 1), [48]);
    const ids = readFileSync(join(resultsDir, RESULTS_FILES.ids), 'utf8').trim().split('\n');
    assert.equal(ids.length, 48);
    const records = await readSampleRecords(resultsDir);
    // A decode failure is still the sample's own file (listed for deletion); the first data sample owns image + caption.
    assert.deepEqual(records.find((r) => r.id === 'zz_garbage.png')?.files, ['zz_garbage.png']);
    assert.equal(records[0].files.length, 2);
  });

  it('embeds nothing on a rescan of an unchanged dataset and gives the same scores', async () => {
    const cache = tempDir('cache');
    const first = await runScan(dataset, scanOptions(model, cache), recordingHooks(), realScanDependencies);
    const firstRows = await readResultRows(first.resultsDir);
    const second = await runScan(dataset, scanOptions(model, cache), recordingHooks(), realScanDependencies);
    assert.equal(second.summary.embeddedImages, 0);
    assert.equal(second.summary.cachedImages, 48);
    assert.deepEqual(await readResultRows(second.resultsDir), firstRows);
  });

  it('re-embeds a changed image only', async () => {
    const cache = tempDir('cache');
    const data = await syntheticDataset(40, 3);
    await runScan(data, scanOptions(model, cache), recordingHooks(), realScanDependencies);
    const victim = readdirSync(data).find((n) => n.endsWith('.jpg')) as string;
    const path = join(data, victim);
    writeFileSync(path, await sharp({ create: { width: 80, height: 64, channels: 3, background: { r: 250, g: 10, b: 10 } } }).jpeg().toBuffer());
    utimesSync(path, new Date(), new Date(Date.now() + 5000));
    const again = await runScan(data, scanOptions(model, cache), recordingHooks(), realScanDependencies);
    assert.equal(again.summary.embeddedImages, 1);
    assert.equal(again.summary.cachedImages, 39);
  });

  it('stops on abort mid-scan, keeps the cache, and the next scan resumes from it', async () => {
    const cache = tempDir('cache');
    const data = await syntheticDataset(70, 5);
    const controller = new AbortController();
    const hooks = recordingHooks(controller.signal, (stage, done) => {
      if (stage === 'embedding-images' && done >= 32) controller.abort();
    });
    await assert.rejects(runScan(data, scanOptions(model, cache), hooks, realScanDependencies), ScanCancelledError);
    assert.ok(!hooks.events.some((e) => e.stage === 'scoring'), 'scoring ran after the abort');
    assert.ok(!existsSync(join(cache, 'results')) || readdirSync(join(cache, 'results')).length === 0, 'results written after abort');
    const resumed = await runScan(data, scanOptions(model, cache), recordingHooks(), realScanDependencies);
    assert.ok(resumed.summary.cachedImages >= 32, `only ${resumed.summary.cachedImages} cached`);
    assert.equal(resumed.summary.cachedImages + resumed.summary.embeddedImages, 70);
    assert.ok(resumed.summary.embeddedImages > 0);
  });

  it('scans a CSV manifest (a container layout) and writes --save-embeddings outside the dataset', async () => {
    const cache = tempDir('cache');
    const out = tempDir('saved');
    const names = readdirSync(dataset).filter((n) => n.endsWith('.jpg') && !n.startsWith('zz_')).slice(0, 40);
    const manifest = join(tempDir('manifest'), 'pairs.csv');
    const hostile = 'a "quoted", comma\nnewline caption ☃';
    const lines = ['path,title', ...names.map((n, i) => `${n},"${(i === 0 ? hostile : `caption ${i}`).replace(/"/g, '""')}"`), '../outside.jpg,escape'];
    writeFileSync(manifest, lines.join('\n') + '\n');
    const { summary, resultsDir } = await runScan(
      dataset,
      scanOptions(model, cache, { manifest, layout: 'manifest', imageColumn: 'path', captionColumn: 'title', saveEmbeddings: out }),
      recordingHooks(),
      realScanDependencies,
    );
    assert.equal(summary.layout, 'manifest');
    assert.equal(summary.sampleCount, 41);
    const rows = await readResultRows(resultsDir);
    assert.equal(rows[0].caption, hostile);
    assert.ok(rows.find((r) => r.image.includes('outside'))?.error, 'a path escaping the dataset must be an error row');
    const images = parseNpy(readFileSync(join(out, 'image_embeddings.npy')));
    const texts = parseNpy(readFileSync(join(out, 'text_embeddings.npy')));
    assert.equal(images.dtype, '<f4');
    assert.equal(images.shape[0], 40);
    assert.deepEqual(texts.shape, images.shape);
    const ids = readFileSync(join(out, 'ids.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; image: string; caption: string });
    assert.equal(ids.length, 40);
    assert.deepEqual(Object.keys(ids[0]), ['id', 'image', 'caption']);
    assert.equal(ids[0].caption, hostile);
  });

  it('refuses a cache or --save-embeddings folder inside the dataset', async () => {
    await assert.rejects(runScan(dataset, scanOptions(model, join(dataset, '.cache')), recordingHooks(), realScanDependencies), /inside the dataset/);
    await assert.rejects(
      runScan(dataset, scanOptions(model, tempDir('cache'), { saveEmbeddings: join(dataset, 'emb') }), recordingHooks(), realScanDependencies),
      /inside the dataset/,
    );
    assert.ok(!existsSync(join(dataset, '.cache')) && !existsSync(join(dataset, 'emb')));
  });

  it('answers neighbours, thumbnails and every export from the results folder', async () => {
    const cache = tempDir('cache');
    const { resultsDir } = await runScan(dataset, scanOptions(model, cache), recordingHooks(), realScanDependencies);
    const rows = await readResultRows(resultsDir);
    const query = rows.find((r) => r.error === null)!;
    const data = await loadNeighbourData(resultsDir);
    const neighbours = neighboursOf(data, query.id, 5);
    assert.equal(neighbours.length, 5);
    assert.ok(neighbours.every((n, i) => i === 0 || n.distance >= neighbours[i - 1].distance));
    assert.ok(neighbours.every((n) => n.id !== query.id));
    assert.ok(neighbours.every((n) => rows.some((r) => r.id === n.id && r.image === n.image)));
    assert.throws(() => neighboursOf(data, 'zz_empty.jpg', 5), /no embedding/);

    const summary = await readSummary(resultsDir);
    const reader = await openDataset(summary.dataset, { layout: 'sidecar' });
    const thumbs = await makeThumbnails(reader, cache, [query.id, 'zz_garbage.png', 'missing.jpg'], 32);
    assert.ok(thumbs[0].path && thumbs[0].path.startsWith(join(cache, 'thumbnails')));
    const meta = await sharp(readFileSync(thumbs[0].path)).metadata();
    assert.ok((meta.width ?? 0) <= 32 && (meta.height ?? 0) <= 32);
    assert.equal(thumbs[1].path, null);
    assert.ok(thumbs[1].error);
    assert.equal(thumbs[2].path, null);

    const outDir = tempDir('exports');
    const marked = rows.filter((r) => r.error === null).slice(0, 3).map((r) => r.id);
    for (const format of ['csv', 'jsonl', 'parquet'] as const) {
      const result = await exportResults(resultsDir, format, join(outDir, `scores.${format}`));
      assert.equal(result.rowCount, 50);
      assert.ok(statSync(result.outPath).size > 0);
    }
    const deletion = await exportResults(resultsDir, 'deletion-list', join(outDir, 'delete.jsonl'), { excludeIds: marked });
    assert.equal(deletion.rowCount, 3);
    const entries = readFileSync(deletion.outPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; files: string[]; absoluteFiles: string[] });
    assert.deepEqual(entries.map((e) => e.id), marked);
    assert.ok(entries.every((e) => e.files.length === 2 && e.absoluteFiles.every((f) => f.startsWith(summary.dataset))));
    const paths = await exportResults(resultsDir, 'deletion-list', join(outDir, 'delete.txt'), { excludeIds: marked });
    assert.equal(readFileSync(paths.outPath, 'utf8').trim().split('\n').length, 6);

    const manifest = await exportResults(resultsDir, 'clean-manifest', join(outDir, 'clean.csv'), { excludeIds: marked });
    assert.equal(manifest.rowCount, 45);
    const table = parseDelimited(readFileSync(manifest.outPath, 'utf8'), ',');
    assert.deepEqual(table.columns, ['image', 'caption']);
    assert.equal(table.rows.length, 45);
    assert.ok(table.rows.every((r) => !marked.includes(String(r.values?.image))));

    const safe = await exportResults(resultsDir, 'safe-set', join(outDir, 'safe.jsonl'), { excludeIds: marked });
    const safeRows = rows.filter((r) => r.error === null && r.safe === true && !marked.includes(r.id));
    assert.equal(safe.rowCount, safeRows.length);
    if (safe.rowCount > 0) {
      const first = JSON.parse(readFileSync(safe.outPath, 'utf8').split('\n')[0]) as { caption: string; positives: string[]; negatives: string[] };
      assert.ok(first.positives.length > 0 && first.negatives.length > 0);
      assert.ok(!first.positives.includes(first.caption));
    }
    assert.deepEqual(readdirSync(outDir).filter((n) => n.endsWith('.tmp')), []);
  });

  it('scans a clip-retrieval embedding folder with no model (precomputed embeddings)', async () => {
    const folder = join(tempDir('clipret'), 'embeddings');
    const n = 80;
    const dim = 8;
    const rng = createRng(4);
    const unit = (): Float32Array => {
      const rows = Float32Array.from({ length: n * dim }, () => rng.nextFloat() - 0.5);
      for (let r = 0; r < n; r++) {
        const norm = Math.hypot(...rows.subarray(r * dim, (r + 1) * dim));
        for (let c = 0; c < dim; c++) rows[r * dim + c] /= norm;
      }
      return rows;
    };
    for (const sub of ['img_emb', 'text_emb', 'metadata']) mkdirSync(join(folder, sub), { recursive: true });
    writeFileSync(join(folder, 'img_emb/img_emb_0.npy'), encodeNpy(unit(), [n, dim]));
    writeFileSync(join(folder, 'text_emb/text_emb_0.npy'), encodeNpy(unit(), [n, dim]));
    const metadata = parquetWriteBuffer({
      columnData: [
        { name: 'image_path', data: Array.from({ length: n }, (_, i) => `images/${i}.jpg`), type: 'STRING' },
        { name: 'caption', data: Array.from({ length: n }, (_, i) => `caption ${i}`), type: 'STRING' },
      ],
    });
    writeFileSync(join(folder, 'metadata/metadata_0.parquet'), new Uint8Array(metadata));
    const { summary, resultsDir } = await runScan(folder, scanOptions('/no/model/needed', tempDir('cache')), recordingHooks(), realScanDependencies);
    assert.equal(summary.layout, 'clip-retrieval');
    assert.equal(summary.device, 'none');
    assert.equal(summary.embeddedImages, 0);
    const rows = await readResultRows(resultsDir);
    assert.equal(rows.length, n);
    assert.ok(rows.every((r) => r.error === null && typeof r.scores?.dao === 'number' && typeof r.scores?.clipScore === 'number'));
  });
});

import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BackendToHost, HostToBackend, ScanOptions } from '../../../src/protocol/backend';
import { DETECTOR_NAMES } from '../../../src/core/types';
import { removeTempDirs, syntheticDataset, tempDir, tinyModel } from './fixtures';

const BACKEND = resolve(__dirname, '../../../../dist/backend.js');

/** Drives the real worker bundle over its IPC channel, as the extension host does. */
class WorkerDriver {
  readonly child: ChildProcess;
  readonly received: BackendToHost[] = [];
  private waiters: { match: (m: BackendToHost) => boolean; resolve: (m: BackendToHost) => void }[] = [];
  readonly exited: Promise<number | null>;

  constructor(env: NodeJS.ProcessEnv) {
    this.child = fork(BACKEND, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: { ...process.env, ...env } });
    this.child.on('message', (message: BackendToHost) => {
      this.received.push(message);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(message)) return true;
        w.resolve(message);
        return false;
      });
    });
    this.exited = new Promise((resolvePromise) => this.child.on('exit', (code) => resolvePromise(code)));
  }

  next<T extends BackendToHost['type']>(type: T, requestId?: string): Promise<Extract<BackendToHost, { type: T }>> {
    const match = (m: BackendToHost): boolean => m.type === type && (requestId === undefined || ('requestId' in m && m.requestId === requestId));
    const already = this.received.find(match);
    if (already) return Promise.resolve(already as Extract<BackendToHost, { type: T }>);
    return new Promise((resolvePromise) => this.waiters.push({ match, resolve: resolvePromise as (m: BackendToHost) => void }));
  }

  send(message: HostToBackend | Record<string, unknown>): void {
    this.child.send(message);
  }
}

describe('backend worker (dist/backend.js over IPC)', function () {
  this.timeout(60_000);
  let model: string;
  let dataset: string;
  let cacheDir: string;
  let worker: WorkerDriver;

  before(async () => {
    assert.ok(existsSync(BACKEND), 'run `npm run build` first');
    model = await tinyModel();
    dataset = await syntheticDataset(40, 7);
    cacheDir = tempDir('cache');
    worker = new WorkerDriver({ BACKDOOR_SCAN_CACHE: cacheDir });
    await worker.next('ready');
  });
  after(async () => {
    if (worker.child.exitCode === null) worker.child.kill();
    removeTempDirs();
  });

  const options = (): ScanOptions => ({ model, device: 'cpu', batchSize: 0, k: 16, lidK: 64, seed: 0, detectors: [...DETECTOR_NAMES], compat: 'correct', cacheDir });

  it('says ready with its pid and version', async () => {
    const ready = await worker.next('ready');
    assert.equal(ready.pid, worker.child.pid);
    assert.match(ready.version, /^\d+\.\d+\.\d+/);
  });

  it('rejects malformed messages with a failed reply and keeps running', async () => {
    worker.send({ type: 'scan', requestId: 'bad-1', dataset: dataset, options: { device: 'gpu' } });
    const failed = await worker.next('failed', 'bad-1');
    assert.match(failed.message, /device/);
    worker.send({ type: 'explode', requestId: 'bad-2' });
    assert.match((await worker.next('failed', 'bad-2')).message, /unknown message type/);
    worker.send({ type: 'cancel', requestId: 'nothing-running' });
    await worker.next('cancelled', 'nothing-running');
  });

  it('runs a scan with progress and device events, then serves neighbours, thumbnails and exports', async () => {
    worker.send({ type: 'scan', requestId: 'scan-1', dataset, options: options() });
    // One scan at a time.
    worker.send({ type: 'scan', requestId: 'scan-2', dataset, options: options() });
    assert.match((await worker.next('failed', 'scan-2')).message, /already running/);
    const done = await worker.next('scanDone', 'scan-1');
    assert.equal(done.summary.sampleCount, 40);
    assert.equal((await worker.next('device', 'scan-1')).device, 'cpu');
    const stages = new Set(worker.received.filter((m): m is Extract<BackendToHost, { type: 'progress' }> => m.type === 'progress').map((m) => m.stage));
    assert.deepEqual([...stages].sort(), ['embedding-images', 'embedding-texts', 'reading', 'scoring', 'writing']);

    const firstId = JSON.parse(readFileSync(join(done.resultsDir, 'results.jsonl'), 'utf8').split('\n')[0]).id as string;
    worker.send({ type: 'neighbours', requestId: 'n-1', resultsDir: done.resultsDir, sampleId: firstId, count: 4 });
    const neighbours = await worker.next('neighbours', 'n-1');
    assert.equal(neighbours.neighbours.length, 4);
    assert.ok(neighbours.neighbours.every((n) => n.id !== firstId && (n.kind === 'image' || n.kind === 'caption')));

    worker.send({ type: 'thumbnails', requestId: 't-1', resultsDir: done.resultsDir, sampleIds: [firstId, 'nope.jpg'], size: 48 });
    const thumbs = await worker.next('thumbnails', 't-1');
    assert.ok(thumbs.items[0].path && existsSync(thumbs.items[0].path));
    assert.ok(thumbs.items[0].path.startsWith(join(cacheDir, 'thumbnails')));
    assert.equal(thumbs.items[1].path, null);

    const outPath = join(tempDir('export'), 'deletions.jsonl');
    worker.send({ type: 'export', requestId: 'e-1', resultsDir: done.resultsDir, format: 'deletion-list', excludeIds: [firstId], outPath });
    const exported = await worker.next('exported', 'e-1');
    assert.equal(exported.rowCount, 1);
    assert.equal(JSON.parse(readFileSync(outPath, 'utf8')).id, firstId);

    worker.send({ type: 'neighbours', requestId: 'n-2', resultsDir: join(cacheDir, 'no-such-results'), sampleId: firstId, count: 4 });
    assert.match((await worker.next('failed', 'n-2')).message, /not a results folder/);
  });

  it('cancels a running scan and replies cancelled', async () => {
    const bigger = await syntheticDataset(120, 9);
    worker.send({ type: 'scan', requestId: 'scan-3', dataset: bigger, options: { ...options(), cacheDir: tempDir('cache2') } });
    await worker.next('device', 'scan-3');
    worker.send({ type: 'cancel', requestId: 'scan-3' });
    await worker.next('cancelled', 'scan-3');
    assert.ok(!worker.received.some((m) => m.type === 'scanDone' && m.requestId === 'scan-3'));
  });

  it('exits on shutdown', async () => {
    worker.send({ type: 'shutdown' });
    assert.equal(await worker.exited, 0);
  });

  it('exits when its parent disconnects (no orphans)', async () => {
    const orphan = new WorkerDriver({ BACKDOOR_SCAN_CACHE: cacheDir });
    await orphan.next('ready');
    orphan.child.disconnect();
    assert.equal(await orphan.exited, 0);
  });
});

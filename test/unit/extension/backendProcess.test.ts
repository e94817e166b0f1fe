import { strict as assert } from 'node:assert';
import { fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BackendCrashedError,
  BackendFailedError,
  BackendProcess,
  CancelledError,
  type ChildLike,
} from '../../../src/extension/host/backendProcess';
import type { HostToBackend, ScanOptions, ScanSummary } from '../../../src/protocol/backend';

const options: ScanOptions = { device: 'auto', batchSize: 2048, k: 16, lidK: 64, seed: 0, detectors: ['kdist'], compat: 'correct' };

const summary: ScanSummary = {
  dataset: '/d', layout: 'sidecar', model: 'm', device: 'cpu', deviceReason: 'test', sampleCount: 1, errorCount: 0,
  embeddedImages: 1, cachedImages: 0, startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:01Z', options,
};

/** A child process double: records what it is sent and lets the test play the worker's part. */
class FakeChild extends EventEmitter implements ChildLike {
  readonly pid = 4242;
  connected = true;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  readonly sent: HostToBackend[] = [];
  readonly kills: (NodeJS.Signals | undefined)[] = [];
  send(message: HostToBackend): boolean {
    this.sent.push(message);
    return true;
  }
  kill(signal?: NodeJS.Signals): boolean {
    this.kills.push(signal);
    setImmediate(() => this.exit(null, signal ?? 'SIGTERM'));
    return true;
  }
  disconnect(): void {
    this.connected = false;
  }
  reply(message: unknown): void {
    this.emit('message', message);
  }
  exit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exitCode !== null || this.signalCode !== null) return;
    this.exitCode = code;
    this.signalCode = signal;
    this.connected = false;
    this.emit('exit', code, signal);
  }
}

function withFake(cancelGraceMs = 20): { backend: BackendProcess; children: FakeChild[] } {
  const children: FakeChild[] = [];
  let id = 0;
  const backend = new BackendProcess(
    () => {
      const child = new FakeChild();
      children.push(child);
      return child;
    },
    { cancelGraceMs, shutdownGraceMs: 20, newRequestId: () => `req${++id}` },
  );
  return { backend, children };
}

describe('BackendProcess with a fake child', () => {
  it('does not spawn until the first request', () => {
    const { backend, children } = withFake();
    assert.equal(children.length, 0);
    assert.equal(backend.running, false);
    void backend.thumbnails('/r', ['a'], 128).catch(() => undefined);
    assert.equal(children.length, 1);
  });

  it('correlates replies by requestId, passing progress and device to the right scan', async () => {
    const { backend, children } = withFake();
    const progressA: number[] = [];
    const devices: string[] = [];
    const a = backend.scan('/a', options, { onProgress: (p) => progressA.push(p.done), onDevice: (d, why) => devices.push(`${d}:${why}`) });
    const b = backend.scan('/b', options);
    const child = children[0];
    assert.equal(children.length, 1, 'one worker serves every request');
    assert.deepEqual(child.sent.map((m) => m.type), ['scan', 'scan']);
    child.reply({ type: 'progress', requestId: b.requestId, stage: 'reading', done: 99, total: 100 });
    child.reply({ type: 'progress', requestId: a.requestId, stage: 'reading', done: 1, total: 2 });
    child.reply({ type: 'device', requestId: a.requestId, device: 'cpu', reason: 'CUDA libraries not installed' });
    child.reply({ type: 'scanDone', requestId: b.requestId, summary: { ...summary, dataset: '/b' }, resultsDir: '/results/b' });
    child.reply({ type: 'scanDone', requestId: a.requestId, summary: { ...summary, dataset: '/a' }, resultsDir: '/results/a' });
    const [resultA, resultB] = await Promise.all([a.done, b.done]);
    assert.equal(resultA.resultsDir, '/results/a');
    assert.equal(resultB.summary.dataset, '/b');
    assert.deepEqual(progressA, [1]);
    assert.deepEqual(devices, ['cpu:CUDA libraries not installed']);
    assert.deepEqual(backend.busyRequestIds, []);
  });

  it('turns failed replies into BackendFailedError and ignores malformed messages', async () => {
    const { backend, children } = withFake();
    const logs: string[] = [];
    backend.on('log', (_level: string, message: string) => logs.push(message));
    const pending = backend.neighbours('/r', 'a', 8);
    children[0].reply('garbage');
    children[0].reply({ type: 'no-such-type' });
    children[0].reply({ type: 'failed', requestId: 'req1', message: 'no embeddings', detail: 'stack' });
    await assert.rejects(pending, (error: unknown) => error instanceof BackendFailedError && error.message === 'no embeddings');
    assert.ok(logs.some((l) => l.includes('malformed')));
    assert.ok(logs.some((l) => l.includes('unknown backend message')));
  });

  it('resolves a cancel that the worker confirms, without killing it', async () => {
    const { backend, children } = withFake(1000);
    const scan = backend.scan('/a', options);
    backend.cancel(scan.requestId);
    assert.deepEqual(children[0].sent.at(-1), { type: 'cancel', requestId: scan.requestId });
    children[0].reply({ type: 'cancelled', requestId: scan.requestId });
    await assert.rejects(scan.done, (error: unknown) => error instanceof CancelledError && !error.forced);
    assert.deepEqual(children[0].kills, []);
    await backend.dispose();
  });

  it('kills a worker that does not confirm a cancel in time, and is not reported as a crash', async () => {
    const { backend, children } = withFake(10);
    const exits: boolean[] = [];
    backend.on('exit', (_code: unknown, _signal: unknown, expected: boolean) => exits.push(expected));
    const scan = backend.scan('/a', options);
    backend.cancel(scan.requestId);
    await assert.rejects(scan.done, (error: unknown) => error instanceof CancelledError && error.forced);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(children[0].kills, ['SIGKILL']);
    assert.deepEqual(exits, [true]);
    assert.equal(backend.running, false);
    // The next request starts a fresh worker.
    void backend.thumbnails('/r', ['a'], 64).catch(() => undefined);
    assert.equal(children.length, 2);
  });

  it('rejects every pending request with BackendCrashedError when the worker dies, and reports the crash', async () => {
    const { backend, children } = withFake();
    const exits: [number | null, boolean][] = [];
    backend.on('exit', (code: number | null, _signal: unknown, expected: boolean) => exits.push([code, expected]));
    const scan = backend.scan('/a', options);
    const thumbs = backend.thumbnails('/r', ['a'], 64);
    children[0].exit(134, null);
    await assert.rejects(scan.done, BackendCrashedError);
    await assert.rejects(thumbs, /exit code 134/);
    assert.deepEqual(exits, [[134, false]]);
  });

  it('dispose sends shutdown, then kills if the worker lingers; later requests are refused', async () => {
    const { backend, children } = withFake();
    void backend.thumbnails('/r', ['a'], 64).catch(() => undefined);
    await backend.dispose();
    assert.deepEqual(children[0].sent.at(-1), { type: 'shutdown' });
    assert.deepEqual(children[0].kills, ['SIGKILL']);
    await assert.rejects(backend.thumbnails('/r', ['a'], 64), /shutting down/);
  });
});

/** A tiny real worker: speaks the protocol; its mode decides how it treats cancel and shutdown. */
const WORKER_SOURCE = `
const mode = process.argv[2];
process.on('disconnect', () => { if (mode !== 'stubborn') process.exit(0); });
if (mode === 'stubborn') process.on('SIGTERM', () => {});
process.on('message', (m) => {
  if (m.type === 'scan') {
    process.send({ type: 'progress', requestId: m.requestId, stage: 'reading', done: 0, total: 10 });
    if (mode === 'crash') process.exit(3);
  } else if (m.type === 'cancel' && mode === 'obedient') {
    process.send({ type: 'cancelled', requestId: m.requestId });
  } else if (m.type === 'shutdown' && mode !== 'stubborn') {
    process.exit(0);
  }
});
process.send({ type: 'ready', pid: process.pid, version: 'test' });
setInterval(() => {}, 1000);
`;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

describe('BackendProcess with a real forked worker', () => {
  let dir: string;
  let script: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bds-worker-'));
    script = join(dir, 'worker.js');
    writeFileSync(script, WORKER_SOURCE);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // Graces are short where the worker is meant to ignore us, and long where it is meant to answer (a busy machine must
  // not turn a confirmed cancel into a kill).
  function realBackend(mode: string, graceMs = 200): BackendProcess {
    return new BackendProcess(() => fork(script, [mode], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] }), { cancelGraceMs: graceMs, shutdownGraceMs: graceMs });
  }

  function exitOf(backend: BackendProcess): Promise<void> {
    return new Promise((resolve) => backend.once('exit', () => resolve()));
  }

  it('cancel with a worker that ignores it: killed, no orphan', async () => {
    const backend = realBackend('stubborn');
    const progress: number[] = [];
    const scan = backend.scan('/a', options, { onProgress: (p) => progress.push(p.total) });
    const exited = exitOf(backend);
    const pid = backend.pid;
    assert.ok(pid);
    await new Promise<void>((resolve) => backend.once('ready', () => resolve()));
    backend.cancel(scan.requestId);
    await assert.rejects(scan.done, (error: unknown) => error instanceof CancelledError && error.forced);
    await exited;
    assert.equal(isAlive(pid), false, `worker ${pid} still alive`);
  });

  it('cancel with an obedient worker: confirmed, the worker stays up until dispose, then exits', async () => {
    const backend = realBackend('obedient', 30_000);
    const scan = backend.scan('/a', options);
    const pid = backend.pid;
    assert.ok(pid);
    backend.cancel(scan.requestId);
    await assert.rejects(scan.done, (error: unknown) => error instanceof CancelledError && !error.forced);
    assert.equal(isAlive(pid), true);
    await backend.dispose();
    assert.equal(isAlive(pid), false);
  });

  it('a crash rejects the scan with the exit code and leaves no process', async () => {
    const backend = realBackend('crash');
    const scan = backend.scan('/a', options);
    const pid = backend.pid;
    assert.ok(pid);
    await assert.rejects(scan.done, (error: unknown) => error instanceof BackendCrashedError && error.code === 3);
    assert.equal(isAlive(pid), false);
  });

  it('dispose kills a worker that ignores shutdown and SIGTERM', async () => {
    const backend = realBackend('stubborn');
    void backend.scan('/a', options).done.catch(() => undefined);
    const pid = backend.pid;
    assert.ok(pid);
    await backend.dispose();
    assert.equal(isAlive(pid), false);
  });
});

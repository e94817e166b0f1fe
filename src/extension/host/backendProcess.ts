/**
 * Supervision of the backend worker process, free of vscode so that it is unit-tested with plain mocha against a fake
 * child and a real forked script. The vscode layer (backendSupervisor.ts) adds progress UI, the output channel and the
 * crash dialog on top of this class.
 */
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { assertNever } from '../../protocol/assertNever';
import type { BackendToHost, HostToBackend, ScanOptions, ScanStage, ScanSummary, NeighbourInfo, ExportFormat, Device } from '../../protocol/backend';

/** The part of a ChildProcess this class uses; a fake EventEmitter implements it in tests. */
export interface ChildLike extends EventEmitter {
  readonly pid?: number;
  readonly connected: boolean;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  readonly stdout?: Readable | null;
  readonly stderr?: Readable | null;
  send(message: HostToBackend): boolean;
  kill(signal?: NodeJS.Signals): boolean;
  disconnect(): void;
}

export type SpawnBackend = () => ChildLike;

export interface BackendProcessOptions {
  /** How long a cancelled request may take to confirm before the worker is killed. */
  cancelGraceMs?: number;
  /** How long dispose() waits after 'shutdown' before killing. */
  shutdownGraceMs?: number;
  /** Request id factory (tests pass a deterministic one). */
  newRequestId?: () => string;
}

export type LogLevel = 'info' | 'warn' | 'error';

export class BackendCrashedError extends Error {
  constructor(readonly code: number | null, readonly signal: string | null) {
    super(`The scanner backend stopped unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`}).`);
    this.name = 'BackendCrashedError';
  }
}

export class CancelledError extends Error {
  constructor(readonly forced: boolean) {
    super(forced ? 'Cancelled (the backend did not stop in time and was terminated).' : 'Cancelled.');
    this.name = 'CancelledError';
  }
}

export class BackendFailedError extends Error {
  constructor(message: string, readonly detail?: string) {
    super(message);
    this.name = 'BackendFailedError';
  }
}

export interface ScanCallbacks {
  onProgress?: (progress: { stage: ScanStage; done: number; total: number; message?: string }) => void;
  onDevice?: (device: Device, reason: string) => void;
}

type Reply = Extract<BackendToHost, { type: 'scanDone' | 'thumbnails' | 'neighbours' | 'exported' }>;

interface Pending {
  expect: Reply['type'];
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
  callbacks: ScanCallbacks;
  cancelTimer?: NodeJS.Timeout;
}

/**
 * Events: 'log' (level, message), 'exit' (code, signal, expected: boolean), 'ready' (pid, version), 'device' (device, reason).
 * The worker is started lazily by the first request, never at construction.
 */
export class BackendProcess extends EventEmitter {
  private child: ChildLike | undefined;
  /** The child whose exit we caused (cancel timeout or dispose): its exit is not reported as a crash. */
  private disposingChild: ChildLike | undefined;
  private readonly pending = new Map<string, Pending>();
  private disposing = false;
  private counter = 0;
  private readonly cancelGraceMs: number;
  private readonly shutdownGraceMs: number;
  private readonly newRequestId: () => string;

  constructor(private readonly spawn: SpawnBackend, options: BackendProcessOptions = {}) {
    super();
    this.cancelGraceMs = options.cancelGraceMs ?? 5000;
    this.shutdownGraceMs = options.shutdownGraceMs ?? 2000;
    this.newRequestId = options.newRequestId ?? (() => `r${Date.now().toString(36)}-${++this.counter}`);
  }

  /** Pid of the running worker, if any. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get busyRequestIds(): string[] {
    return [...this.pending.keys()];
  }

  scan(dataset: string, options: ScanOptions, callbacks: ScanCallbacks = {}): { requestId: string; done: Promise<{ summary: ScanSummary; resultsDir: string }> } {
    const requestId = this.newRequestId();
    const done = this.request({ type: 'scan', requestId, dataset, options }, 'scanDone', callbacks).then((reply) => {
      const scanDone = reply as Extract<Reply, { type: 'scanDone' }>;
      return { summary: scanDone.summary, resultsDir: scanDone.resultsDir };
    });
    return { requestId, done };
  }

  async thumbnails(resultsDir: string, sampleIds: string[], size: number): Promise<Extract<BackendToHost, { type: 'thumbnails' }>['items']> {
    const reply = await this.request({ type: 'thumbnails', requestId: this.newRequestId(), resultsDir, sampleIds, size }, 'thumbnails');
    return (reply as Extract<Reply, { type: 'thumbnails' }>).items;
  }

  async neighbours(resultsDir: string, sampleId: string, count: number): Promise<NeighbourInfo[]> {
    const reply = await this.request({ type: 'neighbours', requestId: this.newRequestId(), resultsDir, sampleId, count }, 'neighbours');
    return (reply as Extract<Reply, { type: 'neighbours' }>).neighbours;
  }

  async export(resultsDir: string, format: ExportFormat, excludeIds: string[], outPath: string): Promise<{ outPath: string; rowCount: number }> {
    const reply = await this.request({ type: 'export', requestId: this.newRequestId(), resultsDir, format, excludeIds, outPath }, 'exported');
    const exported = reply as Extract<Reply, { type: 'exported' }>;
    return { outPath: exported.outPath, rowCount: exported.rowCount };
  }

  /**
   * Asks the worker to stop a request. If it does not confirm within the grace period, the worker is killed: a
   * cancelled scan must really stop, and a stuck worker is worth less than a restart.
   */
  cancel(requestId: string): void {
    const pending = this.pending.get(requestId);
    if (!pending || pending.cancelTimer) return;
    this.log('info', `Cancelling ${requestId}`);
    this.sendToChild({ type: 'cancel', requestId });
    pending.cancelTimer = setTimeout(() => {
      if (!this.pending.has(requestId)) return;
      this.log('warn', `The backend did not confirm the cancel within ${this.cancelGraceMs} ms; terminating it.`);
      this.pending.delete(requestId);
      pending.reject(new CancelledError(true));
      this.killChild('SIGKILL', true);
    }, this.cancelGraceMs);
  }

  /** Stops the worker: 'shutdown', then a kill if it is still alive after the grace period. Pending requests fail. */
  async dispose(): Promise<void> {
    this.disposing = true;
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    this.sendToChild({ type: 'shutdown' });
    const timer = setTimeout(() => this.killChild('SIGKILL', true), this.shutdownGraceMs);
    await exited;
    clearTimeout(timer);
  }

  /** Synchronous last resort for process exit paths: no waiting, no orphan. */
  killNow(): void {
    this.disposing = true;
    this.killChild('SIGKILL', true);
  }

  private request(message: Exclude<HostToBackend, { type: 'cancel' | 'shutdown' }>, expect: Reply['type'], callbacks: ScanCallbacks = {}): Promise<Reply> {
    if (this.disposing) return Promise.reject(new Error('The scanner backend is shutting down.'));
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(message.requestId, { expect, resolve, reject, callbacks });
      try {
        this.ensureChild();
        this.sendToChild(message);
      } catch (error) {
        this.pending.delete(message.requestId);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  private ensureChild(): ChildLike {
    if (this.child) return this.child;
    const child = this.spawn();
    this.child = child;
    child.on('message', (message: unknown) => this.onMessage(message));
    child.on('error', (error: Error) => this.log('error', `Backend process error: ${error.message}`));
    child.once('exit', (code: number | null, signal: NodeJS.Signals | null) => this.onExit(child, code, signal));
    for (const [stream, level] of [[child.stdout, 'info'], [child.stderr, 'warn']] as const) {
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        for (const line of chunk.split(/\r?\n/)) if (line.trim()) this.log(level, line);
      });
    }
    this.log('info', `Backend started (pid ${child.pid ?? '?'})`);
    return child;
  }

  private sendToChild(message: HostToBackend): void {
    const child = this.child;
    if (!child || !child.connected) {
      if (message.type === 'shutdown' || message.type === 'cancel') return;
      throw new Error('The scanner backend is not running.');
    }
    child.send(message);
  }

  private killChild(signal: NodeJS.Signals, expected: boolean): void {
    const child = this.child;
    if (!child) return;
    if (expected) this.disposingChild = child;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  }

  private onExit(child: ChildLike, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = undefined;
    const expected = this.disposing || this.disposingChild === child || (code === 0 && this.pending.size === 0);
    this.disposingChild = undefined;
    this.log(expected ? 'info' : 'error', `Backend exited (${signal ? `signal ${signal}` : `code ${code}`})`);
    const error = expected && this.disposing ? new Error('The scanner backend was shut down.') : new BackendCrashedError(code, signal);
    for (const [requestId, pending] of this.pending) {
      clearTimeout(pending.cancelTimer);
      pending.reject(pending.cancelTimer ? new CancelledError(true) : error);
      this.pending.delete(requestId);
    }
    this.emit('exit', code, signal, expected);
  }

  private onMessage(raw: unknown): void {
    // The worker is our own code, but a malformed message must not take the host down.
    if (typeof raw !== 'object' || raw === null || typeof (raw as { type?: unknown }).type !== 'string') {
      this.log('warn', 'Ignored a malformed message from the backend.');
      return;
    }
    const message = raw as BackendToHost;
    switch (message.type) {
      case 'ready':
        this.emit('ready', message.pid, message.version);
        return;
      case 'log':
        this.log(message.level, message.message);
        return;
      case 'progress':
        this.pending.get(message.requestId)?.callbacks.onProgress?.(message);
        return;
      case 'device':
        this.pending.get(message.requestId)?.callbacks.onDevice?.(message.device, message.reason);
        this.emit('device', message.device, message.reason);
        return;
      case 'cancelled':
        this.settle(message.requestId, (pending) => pending.reject(new CancelledError(false)));
        return;
      case 'failed':
        if (message.requestId === null) {
          this.log('error', message.detail ? `${message.message}\n${message.detail}` : message.message);
          return;
        }
        this.settle(message.requestId, (pending) =>
          pending.reject(pending.cancelTimer ? new CancelledError(false) : new BackendFailedError(message.message, message.detail)),
        );
        return;
      case 'scanDone':
      case 'thumbnails':
      case 'neighbours':
      case 'exported':
        this.settle(message.requestId, (pending) => {
          // A reply that arrives after a cancel was sent still counts: the work finished before the cancel landed.
          if (pending.expect !== message.type) pending.reject(new Error(`Expected '${pending.expect}' from the backend, got '${message.type}'.`));
          else pending.resolve(message);
        });
        return;
      default:
        this.log('warn', `Ignored an unknown backend message: ${JSON.stringify(assertNeverSafe(message)).slice(0, 200)}`);
    }
  }

  private settle(requestId: string, action: (pending: Pending) => void): void {
    const pending = this.pending.get(requestId);
    if (!pending) return;
    clearTimeout(pending.cancelTimer);
    this.pending.delete(requestId);
    action(pending);
  }

  private log(level: LogLevel, message: string): void {
    this.emit('log', level, message);
  }
}

/** A newer worker may send a variant this host does not know: type-check exhaustiveness but do not throw at run time. */
function assertNeverSafe(message: never): unknown {
  try {
    return assertNever(message, 'backend message');
  } catch {
    return message;
  }
}

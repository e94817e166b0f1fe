/**
 * The editor side of the backend worker: forks dist/backend.js on first use (the same pipeline the CLI runs), shows its
 * log in an output channel, reports scans as cancellable progress notifications, shows the device in the status bar,
 * and turns a crash into an error with "Show Log" and "Retry". Process handling itself lives in host/backendProcess.ts.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { Device, ScanOptions, ScanStage, ScanSummary } from '../protocol/backend';
import { BackendCrashedError, BackendProcess, CancelledError, type ChildLike } from './host/backendProcess';

const STAGE_LABELS: Record<ScanStage, string> = {
  reading: 'Reading the dataset',
  'embedding-images': 'Embedding images',
  'embedding-texts': 'Embedding captions',
  scoring: 'Scoring',
  writing: 'Writing results',
};
/** Share of the progress bar per stage (embedding images dominates on CPU). */
const STAGE_WEIGHTS: [ScanStage, number][] = [
  ['reading', 5],
  ['embedding-images', 60],
  ['embedding-texts', 20],
  ['scoring', 10],
  ['writing', 5],
];

function overallPercent(stage: ScanStage, fraction: number): number {
  let before = 0;
  for (const [name, weight] of STAGE_WEIGHTS) {
    if (name === stage) return before + weight * Math.min(1, Math.max(0, fraction));
    before += weight;
  }
  return before;
}

export type ScanOutcome =
  | { kind: 'done'; summary: ScanSummary; resultsDir: string }
  | { kind: 'cancelled' }
  | { kind: 'failed'; message: string; retry: boolean };

export class BackendSupervisor implements vscode.Disposable {
  readonly output: vscode.LogOutputChannel;
  private backend: BackendProcess;
  private readonly statusBar: vscode.StatusBarItem;
  private readonly activeScans = new Map<string, () => void>();

  constructor(private readonly extensionPath: string, private readonly cacheDirFor: () => string | undefined) {
    this.output = vscode.window.createOutputChannel('Backdoor Scanner', { log: true });
    this.statusBar = vscode.window.createStatusBarItem('backdoorScanner.device', vscode.StatusBarAlignment.Right, 100);
    this.statusBar.name = 'Backdoor Scanner device';
    this.statusBar.command = 'backdoorScanner.showLog';
    this.backend = this.createBackend();
  }

  private createBackend(): BackendProcess {
    const backend = new BackendProcess(() => this.spawn());
    backend.on('log', (level: 'info' | 'warn' | 'error', message: string) => {
      if (level === 'error') this.output.error(message);
      else if (level === 'warn') this.output.warn(message);
      else this.output.info(message);
    });
    backend.on('device', (device: Device, reason: string) => this.showDevice(device, reason));
    backend.on('exit', (code: number | null, signal: string | null, expected: boolean) => {
      // A crash during a scan is reported by scan() (with Retry); one while idle (thumbnails, export) is reported here.
      if (!expected && this.activeScans.size === 0) {
        void this.reportFailure(`the backend stopped unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`}); it restarts on the next request.`, false);
      }
    });
    return backend;
  }

  /** Same entry the CLI's pipeline uses; the worker exits by itself when this IPC channel disconnects. */
  private spawn(): ChildLike {
    const cacheDir = this.cacheDirFor();
    return fork(join(this.extensionPath, 'dist', 'backend.js'), [], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      execArgv: [],
      // In VS Code the host is Electron: this makes the child a plain Node process.
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', ...(cacheDir ? { BACKDOOR_SCAN_CACHE: cacheDir } : {}) },
    });
  }

  get process(): BackendProcess {
    return this.backend;
  }

  showDevice(device: Device | 'none', reason: string): void {
    this.statusBar.text = device === 'cuda' ? '$(zap) Backdoor Scanner: CUDA' : device === 'cpu' ? '$(server-process) Backdoor Scanner: CPU' : '$(circle-slash) Backdoor Scanner: no model';
    const tooltip = new vscode.MarkdownString(`**Device used by the last scan:** ${device.toUpperCase()}\n\n`);
    tooltip.appendText(reason);
    tooltip.appendMarkdown('\n\nClick to show the backend log.');
    this.statusBar.tooltip = tooltip;
    this.statusBar.show();
  }

  /** Runs a scan in a cancellable progress notification. Never throws: the outcome says what happened. */
  async scan(dataset: string, options: ScanOptions, title: string): Promise<ScanOutcome> {
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title, cancellable: true },
      async (progress, token) => {
        let reported = 0;
        const { requestId, done } = this.backend.scan(dataset, options, {
          onProgress: (p) => {
            // withProgress takes increments of one bar; each stage fills its share of it.
            const overall = overallPercent(p.stage, p.total > 0 ? p.done / p.total : 0);
            const increment = Math.max(0, overall - reported);
            reported = Math.max(reported, overall);
            const label = STAGE_LABELS[p.stage] ?? p.stage;
            progress.report({ increment, message: `${label}${p.total > 0 ? ` ${p.done}/${p.total}` : ''}${p.message ? ` · ${p.message}` : ''}` });
          },
          onDevice: (device, reason) => this.output.info(`Device: ${device} (${reason})`),
        });
        const cancel = (): void => this.backend.cancel(requestId);
        this.activeScans.set(requestId, cancel);
        await vscode.commands.executeCommand('setContext', 'backdoorScanner.scanning', true);
        const subscription = token.onCancellationRequested(cancel);
        try {
          const result = await done;
          this.showDevice(result.summary.device, result.summary.deviceReason);
          return { kind: 'done', ...result } as const;
        } catch (error) {
          if (error instanceof CancelledError) {
            this.output.info(error.message);
            // Leave no worker behind after a cancel; the next request (thumbnails, a rescan) starts a fresh one.
            if (this.activeScans.size === 1) await this.restart();
            return { kind: 'cancelled' } as const;
          }
          const message = error instanceof Error ? error.message : String(error);
          this.output.error(`Scan of ${dataset} failed: ${message}`);
          return { kind: 'failed', message, retry: error instanceof BackendCrashedError } as const;
        } finally {
          subscription.dispose();
          this.activeScans.delete(requestId);
          await vscode.commands.executeCommand('setContext', 'backdoorScanner.scanning', this.activeScans.size > 0);
        }
      },
    );
  }

  /** "Cancel Scan" from the command palette. */
  cancelAll(): void {
    for (const cancel of this.activeScans.values()) cancel();
  }

  /** A crash or failure: the error, with buttons to see the log or try again. Resolves true when the user chose Retry. */
  async reportFailure(message: string, offerRetry: boolean): Promise<boolean> {
    const actions = offerRetry ? ['Show Log', 'Retry'] : ['Show Log'];
    const choice = await vscode.window.showErrorMessage(`Backdoor scan failed: ${message}`, ...actions);
    if (choice === 'Show Log') this.output.show(true);
    return choice === 'Retry';
  }

  dispose(): void {
    // Extension deactivation may not wait: kill outright so no worker outlives the window.
    this.backend.killNow();
    this.statusBar.dispose();
    this.output.dispose();
  }

  /** Graceful stop for deactivate(): 'shutdown', then a kill after a grace period. */
  async shutdown(): Promise<void> {
    await this.backend.dispose();
  }

  /** Stops the worker so that the next request starts a fresh one (after GPU set-up changed the native libraries). */
  async restart(): Promise<void> {
    const old = this.backend;
    this.backend = this.createBackend();
    await old.dispose();
  }
}

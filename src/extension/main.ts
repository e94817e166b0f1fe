/**
 * Extension entry. Activation is cheap: commands, the panel serializer and the Explorer badge provider are registered;
 * the backend worker is forked only by the first request that needs it (a scan, thumbnails, an export).
 */
import { realpath } from 'node:fs/promises';
import { basename, join } from 'node:path';
import * as vscode from 'vscode';
import { defaultCacheDir } from '../backend/models';
import type { ScanOptions } from '../protocol/backend';
import { BackendSupervisor } from './backendSupervisor';
import { FlaggedFileDecorations } from './decorations';
import { deletedSampleIds, listQuarantine, recordRemovedEntries, undoLastDeletion } from './host/deletion';
import { runGpuSetup } from './host/gpuSetup';
import { ResultsIndex } from './host/resultsIndex';
import { loadOwnedScan, visibleRows } from './host/scanData';
import { resolveSettings, type ResolvedSettings } from './host/settings';
import { ensureModel } from './modelChoice';
import { RESULTS_VIEW_TYPE, ResultsPanel, type PanelServices } from './resultsPanel';

const RESTRICTED_MODE_MESSAGE =
  'Backdoor Scanner: scanning and deleting are disabled in Restricted Mode, because a scan runs a worker process on the files of this workspace. Trust the workspace to scan; saved results can still be viewed.';

let supervisor: BackendSupervisor | undefined;

function settings(): ResolvedSettings {
  const config = vscode.workspace.getConfiguration('backdoorScanner');
  return resolveSettings((key) => config.get(key));
}

function cacheDirFrom(resolved: ResolvedSettings): string {
  return resolved.cacheDir ?? defaultCacheDir();
}

async function requireTrust(): Promise<boolean> {
  if (vscode.workspace.isTrusted) return true;
  const manage = 'Manage Workspace Trust';
  const choice = await vscode.window.showWarningMessage(RESTRICTED_MODE_MESSAGE, manage);
  if (choice === manage) await vscode.commands.executeCommand('workbench.trust.manage');
  return false;
}

/** Datasets are keyed by their real path (the backend hashes the same path for its results folder). */
async function datasetKey(path: string): Promise<string> {
  return ResultsIndex.key(await realpath(path).catch(() => path));
}

export function activate(context: vscode.ExtensionContext): void {
  const sup = new BackendSupervisor(context.extensionPath, () => cacheDirFrom(settings()));
  supervisor = sup;
  const log = sup.output;
  const index = new ResultsIndex(context.workspaceState);
  const decorations = new FlaggedFileDecorations();

  const refreshDecorations = async (dataset: string): Promise<void> => {
    const record = index.get(dataset);
    if (!record) return;
    try {
      const scan = await loadOwnedScan(record.resultsDir);
      decorations.setDataset(dataset, visibleRows(scan, await deletedSampleIds(dataset)), settings().policy);
    } catch (error) {
      log.warn(`Explorer badges for ${dataset} not shown: ${(error as Error).message}`);
    }
  };

  const scanDataset = async (dataset: string): Promise<void> => {
    if (!(await requireTrust())) return;
    const resolved = settings();
    for (const warning of resolved.warnings) {
      log.warn(warning);
      void vscode.window.showWarningMessage(warning);
    }
    const cacheDir = cacheDirFrom(resolved);
    const model = await ensureModel(resolved.model, { extensionPath: context.extensionPath, cacheDir, output: log });
    if (model === undefined) return;
    const options: ScanOptions = { ...resolved.options, model, cacheDir };
    for (;;) {
      const outcome = await sup.scan(dataset, options, `Scanning ${basename(dataset)} for backdoor samples`);
      if (outcome.kind === 'cancelled') {
        void vscode.window.showInformationMessage(`Scan of ${basename(dataset)} cancelled. Embeddings computed so far are cached.`);
        return;
      }
      if (outcome.kind === 'failed') {
        if (await sup.reportFailure(outcome.message, true)) continue;
        return;
      }
      await index.record(dataset, outcome.resultsDir, outcome.summary.finishedAt);
      await ResultsPanel.show(services, dataset, outcome.resultsDir);
      return;
    }
  };

  const undo = async (dataset: string): Promise<void> => {
    if (!(await requireTrust())) return;
    const result = await undoLastDeletion(dataset);
    if (!result) {
      void vscode.window.showInformationMessage(`No deletion to undo in ${basename(dataset)}.`);
      return;
    }
    log.info(`Restored ${result.restoredFiles} file(s) of ${result.sampleIds.length} sample(s) from ${result.entry.dir}`);
    void vscode.window.showInformationMessage(`Restored ${result.sampleIds.length} sample(s) (${result.restoredFiles} files, checked byte for byte).`);
    await ResultsPanel.refresh(dataset);
    await refreshDecorations(dataset);
  };

  const services: PanelServices = {
    extensionUri: context.extensionUri,
    supervisor: sup,
    index,
    decorations,
    log,
    policy: () => settings().policy,
    rescan: (dataset) => scanDataset(dataset),
    undo,
  };

  /** The dataset a command acts on: the given folder, the last scanned one, or one the user picks. */
  const pickDataset = async (uri: unknown, purpose: string): Promise<string | undefined> => {
    if (uri instanceof vscode.Uri && uri.scheme === 'file') return datasetKey(uri.fsPath);
    const known = index.all();
    if (known.length > 0 && purpose !== 'scan') {
      if (known.length === 1) return known[0].dataset;
      const pick = await vscode.window.showQuickPick(
        known.map((r) => ({ label: basename(r.dataset), description: `scanned ${r.finishedAt}`, detail: r.dataset })),
        { title: `Which dataset? (${purpose})` },
      );
      return pick?.detail;
    }
    const folder = await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      canSelectMany: false,
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
      openLabel: 'Scan This Folder',
      title: 'Choose a dataset folder to scan for backdoor samples',
    });
    return folder?.[0] ? datasetKey(folder[0].fsPath) : undefined;
  };

  /** Commands never throw at the user: an unexpected error is logged and shown once. */
  const command = (id: string, run: (...args: unknown[]) => Promise<void>): vscode.Disposable =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        await run(...args);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        log.error(`${id}: ${message}`);
        const choice = await vscode.window.showErrorMessage(`Backdoor Scanner: ${message}`, 'Show Log');
        if (choice === 'Show Log') log.show(true);
      }
    });

  context.subscriptions.push(
    sup,
    decorations,
    vscode.window.registerFileDecorationProvider(decorations),
    vscode.window.registerWebviewPanelSerializer(RESULTS_VIEW_TYPE, {
      deserializeWebviewPanel: (panel, state: unknown) => ResultsPanel.revive(services, panel, state),
    }),
    command('backdoorScanner.scanFolder', async (uri) => {
      if (!(await requireTrust())) return;
      const dataset = await pickDataset(uri, 'scan');
      if (dataset) await scanDataset(dataset);
    }),
    command('backdoorScanner.openLastResults', async (uri) => {
      const dataset = uri instanceof vscode.Uri ? await datasetKey(uri.fsPath) : (index.last()?.dataset ?? (await pickDataset(undefined, 'open results')));
      const record = dataset ? index.get(dataset) : undefined;
      if (!record) {
        void vscode.window.showInformationMessage('No saved scan results yet. Right-click a dataset folder and choose "Scan for Backdoor Samples".');
        return;
      }
      await ResultsPanel.show(services, record.dataset, record.resultsDir);
    }),
    command('backdoorScanner.undoLastDeletion', async (uri) => {
      const dataset = await pickDataset(uri, 'undo the last deletion');
      if (dataset) await undo(dataset);
    }),
    command('backdoorScanner.moveQuarantineToTrash', async (uri) => {
      if (!(await requireTrust())) return;
      const dataset = await pickDataset(uri, 'empty the quarantine');
      if (!dataset) return;
      const entries = await listQuarantine(dataset);
      if (entries.length === 0) {
        void vscode.window.showInformationMessage(`Nothing is in quarantine in ${basename(dataset)}.`);
        return;
      }
      const files = entries.reduce((n, e) => n + e.manifest.files.length, 0);
      const go = 'Move to Trash';
      const choice = await vscode.window.showWarningMessage(
        `Move ${files} quarantined file(s) from ${entries.length} deletion(s) to the OS trash?`,
        { modal: true, detail: '"Undo Last Deletion" cannot bring them back afterwards; restore them from the OS trash instead.' },
        go,
      );
      if (choice !== go) return;
      await recordRemovedEntries(dataset, entries);
      for (const entry of entries) {
        await vscode.workspace.fs.delete(vscode.Uri.file(entry.dir), { recursive: true, useTrash: true });
        log.info(`Moved ${entry.dir} to the OS trash`);
      }
    }),
    command('backdoorScanner.setupGpu', async () => {
      if (!(await requireTrust())) return;
      const onnxruntimeDir = join(context.extensionPath, 'node_modules', 'onnxruntime-node');
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'Setting up GPU acceleration (CUDA 12 + cuDNN 9 needed)', cancellable: true },
        async (progress, token) => {
          const controller = new AbortController();
          const subscription = token.onCancellationRequested(() => controller.abort());
          try {
            return await runGpuSetup({ onnxruntimeDir }, (line) => {
              log.info(`[onnxruntime-node install] ${line}`);
              progress.report({ message: line.slice(0, 120) });
            }, controller.signal);
          } finally {
            subscription.dispose();
          }
        },
      );
      (result.ok ? log.info : log.error).call(log, result.message);
      if (result.ok) await sup.restart(); // the next scan starts a worker that can load the new provider
      const choice = await (result.ok ? vscode.window.showInformationMessage(result.message, 'Show Log') : vscode.window.showErrorMessage(result.message, 'Show Log'));
      if (choice === 'Show Log') log.show(true);
    }),
    command('backdoorScanner.showLog', async () => log.show(true)),
    command('backdoorScanner.cancelScan', async () => sup.cancelAll()),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('backdoorScanner.flagPolicy')) for (const record of index.all()) void refreshDecorations(record.dataset);
    }),
  );

  // Badges for datasets scanned before: read lazily after activation, never blocking it.
  setTimeout(() => {
    for (const record of index.all()) void refreshDecorations(record.dataset);
  }, 0);
}

export async function deactivate(): Promise<void> {
  await supervisor?.shutdown();
  supervisor = undefined;
}

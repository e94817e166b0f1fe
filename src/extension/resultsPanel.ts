/**
 * The results panel host: one webview panel per dataset, showing the scan the host owns. Every message from the webview
 * is validated (parseWebviewMessage) and every id checked against that scan before anything happens; paths are never
 * taken from the webview. Deleting goes through host/deletion.ts after a modal confirmation.
 */
import { realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { isInside } from '../backend/safePath';
import type { FlagPolicy } from '../core/types';
import { assertNever } from '../protocol/assertNever';
import type { ExportFormat } from '../protocol/backend';
import { findUnknownIds, parseWebviewMessage, sampleIdsNamedBy } from '../protocol/validate';
import type { HostToWebview, PanelState, WebviewToHost } from '../protocol/webview';
import type { BackendSupervisor } from './backendSupervisor';
import type { FlaggedFileDecorations } from './decorations';
import { applyDeletion, deletedSampleIds, describePlan, planDeletion } from './host/deletion';
import { applyMarks, type ResultsIndex } from './host/resultsIndex';
import { EXPORT_SUFFIX, loadOwnedScan, visibleRows, type OwnedScan } from './host/scanData';
import { createNonce, renderPanelHtml } from './panelHtml';

export const RESULTS_VIEW_TYPE = 'backdoorScanner.results';
const THUMBNAIL_SIZE = 192;
const NEIGHBOUR_COUNT = 8;

export interface PanelServices {
  extensionUri: vscode.Uri;
  supervisor: BackendSupervisor;
  index: ResultsIndex;
  decorations: FlaggedFileDecorations;
  log: vscode.LogOutputChannel;
  policy(): FlagPolicy;
  rescan(dataset: string): Promise<void>;
  undo(dataset: string): Promise<void>;
}

function defaultPanelState(policy: FlagPolicy): PanelState {
  return {
    sortBy: policy.kind === 'risky' ? 'dao' : policy.detector,
    policy,
    view: 'grid',
    filter: { flaggedOnly: false, riskyOnly: false, errorsOnly: false, markedOnly: false, search: '' },
  };
}

/** The cache root a results folder lives in (`<cacheDir>/results/<hash>`): thumbnails are its siblings. */
function cacheDirOf(resultsDir: string): string {
  return dirname(dirname(resultsDir));
}

export class ResultsPanel implements vscode.Disposable {
  private static readonly panels = new Map<string, ResultsPanel>();
  private scan: OwnedScan | undefined;
  private knownIds = new Set<string>();
  private marked: string[] = [];
  private readonly disposables: vscode.Disposable[] = [];

  /** Opens (or reveals) the panel of a dataset and loads its last results. */
  static async show(services: PanelServices, dataset: string, resultsDir: string): Promise<ResultsPanel> {
    const existing = ResultsPanel.panels.get(dataset);
    if (existing) {
      existing.panel.reveal();
      await existing.load(resultsDir);
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(
      RESULTS_VIEW_TYPE,
      `Backdoor scan: ${basename(dataset)}`,
      vscode.ViewColumn.Active,
      { retainContextWhenHidden: true },
    );
    const host = new ResultsPanel(services, panel, dataset, resultsDir);
    await host.load(resultsDir);
    return host;
  }

  /** WebviewPanelSerializer: after a window reload, reopen the panel the webview remembered (if we know its dataset). */
  static async revive(services: PanelServices, panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    const remembered = typeof state === 'object' && state !== null ? (state as { dataset?: unknown }).dataset : undefined;
    const record = (typeof remembered === 'string' ? services.index.get(remembered) : undefined) ?? services.index.last();
    if (!record) {
      panel.webview.html = '<!DOCTYPE html><html><body><p>No saved scan results to show. Run "Scan for Backdoor Samples" on a dataset folder.</p></body></html>';
      return;
    }
    const host = new ResultsPanel(services, panel, record.dataset, record.resultsDir);
    await host.load(record.resultsDir);
  }

  /** Reloads an open panel (after a rescan, a deletion or an undo run from the command palette). */
  static async refresh(dataset: string, resultsDir?: string): Promise<void> {
    const panel = ResultsPanel.panels.get(dataset);
    if (panel) await panel.load(resultsDir ?? panel.resultsDir);
  }

  private constructor(
    private readonly services: PanelServices,
    private readonly panel: vscode.WebviewPanel,
    private readonly dataset: string,
    private resultsDir: string,
  ) {
    ResultsPanel.panels.set(dataset, this);
    const { extensionUri } = services;
    this.setResourceRoots(resultsDir);
    const webview = panel.webview;
    const asUri = (...segments: string[]): string => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...segments)).toString();
    webview.html = renderPanelHtml({
      cspSource: webview.cspSource,
      nonce: createNonce(),
      scriptUri: asUri('dist', 'webview', 'panel.js'),
      toolkitUri: asUri('dist', 'webview', 'toolkit.min.js'),
      styleUri: asUri('media', 'panel.css'),
      title: `Backdoor scan: ${basename(dataset)}`,
    });
    this.disposables.push(
      webview.onDidReceiveMessage((raw: unknown) => void this.onMessage(raw)),
      panel.onDidDispose(() => this.dispose()),
      vscode.workspace.onDidGrantWorkspaceTrust(() => void this.sendInit()),
    );
  }

  /** The panel may load only its own script and styles and the thumbnails of the cache its results live in. */
  private setResourceRoots(resultsDir: string): void {
    const { extensionUri } = this.services;
    const thumbnails = vscode.Uri.file(join(cacheDirOf(resultsDir), 'thumbnails'));
    const current = this.panel.webview.options.localResourceRoots;
    if (current?.some((root) => root.toString() === thumbnails.toString())) return;
    this.panel.webview.options = {
      enableScripts: true,
      enableCommandUris: false,
      localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(extensionUri, 'media'), thumbnails],
    };
  }

  private async load(resultsDir: string): Promise<void> {
    this.setResourceRoots(resultsDir);
    this.resultsDir = resultsDir;
    try {
      this.scan = await loadOwnedScan(resultsDir);
    } catch (error) {
      this.scan = undefined;
      this.knownIds = new Set();
      this.post({ type: 'notice', level: 'error', message: `Could not read the results in ${resultsDir}: ${(error as Error).message}. Run the scan again.` });
      return;
    }
    await this.services.index.touch(this.dataset);
    await this.sendInit();
  }

  private async sendInit(): Promise<void> {
    const scan = this.scan;
    if (!scan) return;
    const deleted = await deletedSampleIds(this.dataset).catch(() => new Set<string>());
    const rows = visibleRows(scan, deleted);
    this.knownIds = new Set(rows.map((r) => r.id));
    this.marked = this.services.index.marked(this.dataset).filter((id) => this.knownIds.has(id));
    const state = this.services.index.panelState(this.dataset) ?? defaultPanelState(this.services.policy());
    this.services.decorations.setDataset(this.dataset, rows, this.services.policy());
    this.services.supervisor.showDevice(scan.summary.device, scan.summary.deviceReason);
    this.post({ type: 'init', summary: scan.summary, rows, marked: this.marked, state, trusted: vscode.workspace.isTrusted });
  }

  private post(message: HostToWebview): void {
    void this.panel.webview.postMessage(message);
  }

  private refuse(reason: string): void {
    this.services.log.warn(`Refused a message from the results panel (${basename(this.dataset)}): ${reason}`);
  }

  private async onMessage(raw: unknown): Promise<void> {
    const parsed = parseWebviewMessage(raw);
    if (!parsed.ok) {
      this.refuse(parsed.reason);
      return;
    }
    const message = parsed.message;
    const ids = sampleIdsNamedBy(message);
    const unknown = findUnknownIds(ids, this.knownIds);
    if (unknown.length > 0) {
      this.refuse(`${message.type} names ids that are not samples of this scan: ${unknown.map((id) => JSON.stringify(id)).join(', ')}`);
      return;
    }
    try {
      await this.handle(message);
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      this.services.log.error(`${message.type} failed: ${text}`);
      this.post({ type: 'notice', level: 'error', message: text });
    }
  }

  private async handle(message: WebviewToHost): Promise<void> {
    switch (message.type) {
      case 'ready':
        await this.sendInit();
        return;
      case 'requestThumbnails':
        await this.sendThumbnails(message.ids);
        return;
      case 'requestNeighbours':
        await this.sendNeighbours(message.id);
        return;
      case 'setMarked':
        this.marked = applyMarks(this.marked, message.ids, message.marked);
        await this.services.index.setMarked(this.dataset, this.marked);
        this.post({ type: 'marked', ids: this.marked });
        return;
      case 'applyDeletions':
        await this.applyDeletions();
        return;
      case 'undoDeletion':
        await this.services.undo(this.dataset);
        return;
      case 'export':
        await this.export(message.format);
        return;
      case 'saveState':
        await this.services.index.setPanelState(this.dataset, message.state);
        return;
      case 'rescan':
        await this.services.rescan(this.dataset);
        return;
      default:
        assertNever(message, 'webview message');
    }
  }

  /** Thumbnail paths come from the backend; each must lie in the thumbnails cache before it becomes a webview URI. */
  private async sendThumbnails(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const items = await this.services.supervisor.process.thumbnails(this.resultsDir, ids, THUMBNAIL_SIZE);
    const thumbnailsRoot = join(cacheDirOf(this.resultsDir), 'thumbnails');
    this.post({
      type: 'thumbnails',
      items: items.map((item) => {
        if (item.path === null) return { id: item.sampleId, uri: null, error: item.error };
        if (!isInside(thumbnailsRoot, item.path)) return { id: item.sampleId, uri: null, error: 'thumbnail outside the cache refused' };
        return { id: item.sampleId, uri: this.panel.webview.asWebviewUri(vscode.Uri.file(item.path)).toString() };
      }),
    });
  }

  private async sendNeighbours(id: string): Promise<void> {
    const neighbours = await this.services.supervisor.process.neighbours(this.resultsDir, id, NEIGHBOUR_COUNT);
    const neighbourIds = [...new Set(neighbours.map((n) => n.id))].filter((n) => this.knownIds.has(n));
    const thumbnails = neighbourIds.length > 0 ? await this.services.supervisor.process.thumbnails(this.resultsDir, neighbourIds, THUMBNAIL_SIZE) : [];
    const thumbnailsRoot = join(cacheDirOf(this.resultsDir), 'thumbnails');
    const uriById = new Map(
      thumbnails
        .filter((t) => t.path !== null && isInside(thumbnailsRoot, t.path))
        .map((t) => [t.sampleId, this.panel.webview.asWebviewUri(vscode.Uri.file(t.path as string)).toString()]),
    );
    this.post({ type: 'neighbours', id, neighbours: neighbours.map((n) => ({ ...n, uri: uriById.get(n.id) ?? null })) });
  }

  private async applyDeletions(): Promise<void> {
    const scan = this.scan;
    if (!scan) return;
    if (!vscode.workspace.isTrusted) {
      this.post({ type: 'notice', level: 'error', message: 'Deleting is disabled in Restricted Mode. Trust this workspace to delete samples.' });
      return;
    }
    if (this.marked.length === 0) {
      this.post({ type: 'notice', level: 'info', message: 'No samples are marked for deletion.' });
      return;
    }
    this.post({ type: 'busy', message: 'Preparing the deletion…' });
    try {
      const plan = await planDeletion(this.dataset, scan.deletionRows, this.marked, scan.summary.layout);
      if (plan.samples.length === 0 && plan.containerSamples.length === 0) {
        this.post({ type: 'notice', level: 'error', message: `Nothing can be deleted. ${describePlan(plan)}` });
        return;
      }
      const action = plan.samples.length > 0 ? 'Move to Quarantine' : 'Save Cleaned Copy';
      const choice = await vscode.window.showWarningMessage(
        `Delete ${plan.samples.length + plan.containerSamples.length} marked sample(s) from ${basename(this.dataset)}?`,
        { modal: true, detail: describePlan(plan) },
        action,
      );
      if (choice !== action) return;
      const moved = plan.samples.length > 0 ? await applyDeletion(plan) : undefined;
      if (moved) this.services.log.info(`Moved ${moved.manifest.files.length} file(s) of ${moved.manifest.samples.length} sample(s) to ${moved.dir}`);
      const removedIds = new Set([...plan.samples.map((s) => s.id), ...plan.containerSamples.map((s) => s.id)]);
      if (plan.needsCleanCopy) await this.saveCleanCopy(removedIds);
      // Samples inside shared files stay in the dataset (only the cleaned copy lacks them), so they stay marked.
      const movedIds = new Set(plan.samples.map((s) => s.id));
      this.marked = this.marked.filter((id) => !movedIds.has(id));
      await this.services.index.setMarked(this.dataset, this.marked);
      await this.sendInit();
      if (moved) {
        const undo = 'Undo';
        void vscode.window
          .showInformationMessage(`${moved.manifest.samples.length} sample(s) moved to quarantine (${moved.manifest.files.length} files).`, undo)
          .then((picked) => {
            if (picked === undo) void this.services.undo(this.dataset);
          });
      }
    } finally {
      this.post({ type: 'busy', message: null });
    }
  }

  /** Shared files (manifests, tars, parquet) are never rewritten: the kept samples go to a new manifest the user places. */
  private async saveCleanCopy(removedIds: ReadonlySet<string>): Promise<void> {
    const exclude = [...new Set([...(await deletedSampleIds(this.dataset)), ...removedIds])];
    const target = await vscode.window.showSaveDialog({
      title: 'Save a cleaned manifest (the kept samples); the original shard/manifest files are left untouched',
      defaultUri: vscode.Uri.file(join(dirname(this.dataset), `${basename(this.dataset)}-${EXPORT_SUFFIX['clean-manifest']}`)),
      filters: { CSV: ['csv'] },
    });
    if (!target) return;
    const result = await this.services.supervisor.process.export(this.resultsDir, 'clean-manifest', exclude, target.fsPath);
    this.post({ type: 'notice', level: 'info', message: `Cleaned manifest with ${result.rowCount} kept samples saved to ${result.outPath}.` });
  }

  private async export(format: ExportFormat): Promise<void> {
    const suffix = EXPORT_SUFFIX[format];
    const extension = suffix.slice(suffix.lastIndexOf('.') + 1);
    const target = await vscode.window.showSaveDialog({
      title: `Export ${format}`,
      defaultUri: vscode.Uri.file(join(dirname(this.dataset), `${basename(this.dataset)}-${suffix}`)),
      filters: format === 'deletion-list' ? { 'JSON Lines': ['jsonl'], 'Plain paths': ['txt'] } : { [extension.toUpperCase()]: [extension] },
    });
    if (!target) return;
    const datasetReal = await realpath(this.dataset).catch(() => this.dataset);
    if (isInside(datasetReal, target.fsPath)) {
      const proceed = await vscode.window.showWarningMessage(
        'That location is inside the dataset folder, so a later scan would see the export. Save there anyway?',
        { modal: true },
        'Save There',
      );
      if (proceed !== 'Save There') return;
    }
    this.post({ type: 'busy', message: `Exporting ${format}…` });
    try {
      const result = await this.services.supervisor.process.export(this.resultsDir, format, this.marked, target.fsPath);
      this.post({ type: 'notice', level: 'info', message: `Exported ${result.rowCount} rows to ${result.outPath}.` });
    } finally {
      this.post({ type: 'busy', message: null });
    }
  }

  dispose(): void {
    if (ResultsPanel.panels.get(this.dataset) === this) ResultsPanel.panels.delete(this.dataset);
    for (const disposable of this.disposables.splice(0)) disposable.dispose();
  }
}

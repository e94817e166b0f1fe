/**
 * The backend worker, started by the extension host with child_process.fork. It speaks the HostToBackend →
 * BackendToHost protocol (src/protocol/backend.ts) over the IPC channel: one scan at a time, cancel by request id,
 * thumbnails, neighbours and exports on results folders. It exits when the parent disconnects, so it never outlives
 * the extension host.
 */
import packageJson from '../../package.json';
import { assertNever } from '../protocol/assertNever';
import type { BackendToHost, HostToBackend, ScanSummary } from '../protocol/backend';
import { exportResults } from './exporters';
import { parseHostMessage } from './hostMessages';
import { defaultCacheDir } from './models';
import { runScan, ScanCancelledError } from './pipeline';
import { openDataset } from './readers';
import type { DatasetReader, LayoutName } from './readers/types';
import { loadNeighbourData, neighboursOf, type LoadedNeighbourData } from './resultsNeighbours';
import { readSummary } from './resultsFolder';
import { realScanDependencies } from './scanDeps';
import { makeThumbnails } from './thumbnails';

function send(message: BackendToHost): void {
  if (process.connected && process.send) process.send(message);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

let activeScan: { requestId: string; controller: AbortController; done: Promise<void> } | null = null;

/** Per results folder, what later requests reuse: the dataset reader (thumbnails) and the loaded embeddings (neighbours). */
interface ResultsContext {
  finishedAt: string;
  summary: ScanSummary;
  reader?: Promise<DatasetReader>;
  neighbours?: Promise<LoadedNeighbourData>;
}
const contexts = new Map<string, ResultsContext>();

async function contextFor(resultsDir: string): Promise<ResultsContext> {
  const summary = await readSummary(resultsDir);
  const known = contexts.get(resultsDir);
  // A rescan replaces the folder: drop what was loaded from the old one.
  if (known && known.finishedAt === summary.finishedAt) return known;
  const context: ResultsContext = { finishedAt: summary.finishedAt, summary };
  contexts.set(resultsDir, context);
  return context;
}

function readerFor(context: ResultsContext): Promise<DatasetReader> {
  const { summary } = context;
  context.reader ??= openDataset(summary.dataset, {
    layout: summary.layout as LayoutName,
    manifest: summary.options.manifest,
    imageColumn: summary.options.imageColumn,
    captionColumn: summary.options.captionColumn,
  });
  return context.reader;
}

function startScan(message: Extract<HostToBackend, { type: 'scan' }>): void {
  if (activeScan) {
    send({ type: 'failed', requestId: message.requestId, message: `a scan (${activeScan.requestId}) is already running; cancel it first.` });
    return;
  }
  const controller = new AbortController();
  const { requestId } = message;
  const done = runScan(
    message.dataset,
    message.options,
    {
      onProgress: (stage, doneCount, total, text) => send({ type: 'progress', requestId, stage, done: doneCount, total, ...(text ? { message: text } : {}) }),
      onDevice: (device, reason) => send({ type: 'device', requestId, device, reason }),
      onLog: (level, text) => send({ type: 'log', level, message: text }),
      signal: controller.signal,
    },
    realScanDependencies,
  ).then(
    ({ summary, resultsDir }) => {
      contexts.delete(resultsDir);
      send({ type: 'scanDone', requestId, summary, resultsDir });
    },
    (error: unknown) => {
      if (error instanceof ScanCancelledError || controller.signal.aborted) send({ type: 'cancelled', requestId });
      else send({ type: 'failed', requestId, message: messageOf(error), detail: error instanceof Error ? error.stack : undefined });
    },
  );
  activeScan = { requestId, controller, done: done.finally(() => (activeScan = null)) };
}

async function handle(message: HostToBackend): Promise<void> {
  switch (message.type) {
    case 'scan':
      return startScan(message);
    case 'cancel':
      if (activeScan && activeScan.requestId === message.requestId) activeScan.controller.abort();
      // An unknown or finished request is already not running: say so, so the host can settle its state.
      else send({ type: 'cancelled', requestId: message.requestId });
      return;
    case 'thumbnails': {
      const context = await contextFor(message.resultsDir);
      const cacheDir = context.summary.options.cacheDir ?? defaultCacheDir();
      const items = await makeThumbnails(await readerFor(context), cacheDir, message.sampleIds, message.size);
      send({ type: 'thumbnails', requestId: message.requestId, items });
      return;
    }
    case 'neighbours': {
      const context = await contextFor(message.resultsDir);
      context.neighbours ??= loadNeighbourData(message.resultsDir);
      const neighbours = neighboursOf(await context.neighbours, message.sampleId, message.count);
      send({ type: 'neighbours', requestId: message.requestId, sampleId: message.sampleId, neighbours });
      return;
    }
    case 'export': {
      const result = await exportResults(message.resultsDir, message.format, message.outPath, { excludeIds: message.excludeIds });
      send({ type: 'exported', requestId: message.requestId, outPath: result.outPath, rowCount: result.rowCount });
      return;
    }
    case 'shutdown':
      return shutdown();
    default:
      return assertNever(message, 'host message');
  }
}

async function shutdown(): Promise<never> {
  if (activeScan) {
    activeScan.controller.abort();
    // Let the scan flush its embedding cache, but never hang the exit.
    await Promise.race([activeScan.done, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
  }
  process.exit(0);
}

function main(): void {
  if (!process.send) {
    process.stderr.write('dist/backend.js is the extension\'s worker process; start it with child_process.fork. For the command line, use backdoor-scan.\n');
    process.exit(2);
  }
  process.on('message', (raw: unknown) => {
    const parsed = parseHostMessage(raw);
    if (!parsed.ok) {
      send({ type: 'failed', requestId: parsed.requestId, message: parsed.reason });
      return;
    }
    const requestId = 'requestId' in parsed.message ? parsed.message.requestId : null;
    handle(parsed.message).catch((error: unknown) => send({ type: 'failed', requestId, message: messageOf(error), detail: error instanceof Error ? error.stack : undefined }));
  });
  // No orphans: when the host goes away (crash, reload), stop too.
  process.on('disconnect', () => void shutdown());
  send({ type: 'ready', pid: process.pid, version: packageJson.version });
}

main();

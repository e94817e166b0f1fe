/**
 * Messages between the extension host and the backend worker process (child_process.fork IPC channel).
 * The CLI runs the same pipeline in-process; only the extension speaks this protocol.
 */
import type { Device, DevicePreference, DetectorName, NeighbourMapping, SampleResult } from '../core/types';
export type { Device, DevicePreference };

/** What the results can be exported as. The backend writes every export (atomically, never inside the dataset unless asked). */
export type ExportFormat = 'csv' | 'jsonl' | 'parquet' | 'deletion-list' | 'clean-manifest' | 'safe-set';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['csv', 'jsonl', 'parquet', 'deletion-list', 'clean-manifest', 'safe-set'];


export interface ScanOptions {
  /** Model folder path or a downloadable model name; undefined = use the cached default, else fail with guidance. */
  model?: string;
  device: DevicePreference;
  batchSize: number;
  k: number;
  lidK: number;
  seed: number;
  detectors: DetectorName[];
  compat: NeighbourMapping;
  layout?: string;
  manifest?: string;
  /** Manifest column names, when the guess is wrong. */
  imageColumn?: string;
  captionColumn?: string;
  /** Root of all caches (embeddings, thumbnails, results). Never inside the dataset. */
  cacheDir?: string;
}

export type ScanStage = 'reading' | 'embedding-images' | 'embedding-texts' | 'scoring' | 'writing';

export interface ScanSummary {
  dataset: string;
  layout: string;
  model: string;
  device: Device | 'none';
  deviceReason: string;
  sampleCount: number;
  errorCount: number;
  embeddedImages: number;
  cachedImages: number;
  startedAt: string;
  finishedAt: string;
  options: ScanOptions;
}

export interface NeighbourInfo {
  id: string;
  /** Whether this neighbour is another sample's image or its caption (image–text mode pools both). */
  kind: 'image' | 'caption';
  distance: number;
  image: string;
  caption: string | null;
}

export type HostToBackend =
  | { type: 'scan'; requestId: string; dataset: string; options: ScanOptions }
  | { type: 'cancel'; requestId: string }
  | { type: 'thumbnails'; requestId: string; resultsDir: string; sampleIds: string[]; size: number }
  | { type: 'neighbours'; requestId: string; resultsDir: string; sampleId: string; count: number }
  | { type: 'export'; requestId: string; resultsDir: string; format: ExportFormat; excludeIds: string[]; outPath: string }
  | { type: 'shutdown' };

export type BackendToHost =
  | { type: 'ready'; pid: number; version: string }
  | { type: 'progress'; requestId: string; stage: ScanStage; done: number; total: number; message?: string }
  | { type: 'device'; requestId: string; device: Device; reason: string }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string }
  | { type: 'scanDone'; requestId: string; summary: ScanSummary; resultsDir: string }
  | { type: 'thumbnails'; requestId: string; items: { sampleId: string; path: string | null; error?: string }[] }
  | { type: 'neighbours'; requestId: string; sampleId: string; neighbours: NeighbourInfo[] }
  | { type: 'exported'; requestId: string; outPath: string; rowCount: number }
  | { type: 'cancelled'; requestId: string }
  | { type: 'failed'; requestId: string | null; message: string; detail?: string };

/**
 * Layout of a results folder written by a scan (under <cacheDir>/results/<dataset hash>/):
 *   summary.json  – ScanSummary
 *   results.jsonl – one SampleResult per line, in dataset order
 *   ids.jsonl, image_embeddings.npy, text_embeddings.npy, batches.npy – for neighbour look-ups
 *   samples.jsonl – every sample's id, image, caption, owned files and container (deletion lists, manifests)
 */
export const RESULTS_FILES = {
  summary: 'summary.json',
  results: 'results.jsonl',
  ids: 'ids.jsonl',
  imageEmbeddings: 'image_embeddings.npy',
  textEmbeddings: 'text_embeddings.npy',
  batches: 'batches.npy',
  samples: 'samples.jsonl',
} as const;

export type { SampleResult };

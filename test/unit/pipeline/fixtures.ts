/** Shared test data for pipeline/worker/CLI tests: one tiny model and a small generated dataset per test run. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synthesizeClipModel } from '../../../src/backend/onnx/clipSynth';
import { generateSyntheticDataset } from '../../../src/backend/syntheticDataset';
import type { ScanHooks, PipelineOptions } from '../../../src/backend/pipeline';
import { DEFAULT_SCORE_OPTIONS, DETECTOR_NAMES } from '../../../src/core/types';

let modelPromise: Promise<string> | null = null;
const roots: string[] = [];

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `bs-${prefix}-`));
  roots.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of roots.splice(0)) rmSync(dir, { recursive: true, force: true });
  modelPromise = null;
}

/** The tiny random-weight CLIP model (synthesised once per test file run). */
export function tinyModel(): Promise<string> {
  modelPromise ??= (async () => {
    const dir = join(tempDir('model'), 'tiny');
    await synthesizeClipModel(dir, { preset: 'tiny', seed: 0 });
    return dir;
  })();
  return modelPromise;
}

export async function syntheticDataset(count: number, seed = 0): Promise<string> {
  const dir = join(tempDir('data'), 'dataset');
  await generateSyntheticDataset(dir, { count, seed, size: 64 });
  return dir;
}

export function scanOptions(model: string, cacheDir: string, extra: Partial<PipelineOptions> = {}): PipelineOptions {
  return { ...DEFAULT_SCORE_OPTIONS, detectors: [...DETECTOR_NAMES], batchSize: 0, model, device: 'cpu', cacheDir, ...extra };
}

export interface RecordedHooks extends ScanHooks {
  events: { stage: string; done: number; total: number }[];
  logs: string[];
  devices: string[];
}

export function recordingHooks(signal?: AbortSignal, onEvent?: (stage: string, done: number, total: number) => void): RecordedHooks {
  const events: RecordedHooks['events'] = [];
  const logs: string[] = [];
  const devices: string[] = [];
  return {
    events,
    logs,
    devices,
    signal,
    onProgress(stage, done, total) {
      events.push({ stage, done, total });
      onEvent?.(stage, done, total);
    },
    onDevice(device) {
      devices.push(device);
    },
    onLog(level, message) {
      logs.push(`${level}: ${message}`);
    },
  };
}

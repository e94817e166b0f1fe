/**
 * The results folder a scan leaves under `<cacheDir>/results/<hash of the dataset's real path>/` (RESULTS_FILES):
 * what the extension's panel, the exporters and neighbour look-ups read back. It is replaced as a whole: the new
 * folder is written beside the old one and swapped in by rename, so a reader sees the old results or the new, never a mix.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rename, rm, mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { SampleResult } from '../core/types';
import { RESULTS_FILES, type ScanSummary } from '../protocol/backend';
import type { ContainerKind } from './readers/types';

/** Per-sample file ownership, for deletion lists and manifests (every sample, error rows included, dataset order). */
export interface SampleRecord {
  id: string;
  image: string;
  caption: string | null;
  /** Dataset-relative files that belong to this sample alone. */
  files: string[];
  container: { kind: ContainerKind; file: string } | null;
}

/** Rows of ids.jsonl: the samples that have embeddings, in the order of the embedding matrices' rows. */
export interface EmbeddedRecord {
  id: string;
  image: string;
  caption: string | null;
}

/** Folder name of a dataset's results: a hash of its real path, so renaming a cache entry never collides. */
export function resultsDirFor(cacheDir: string, datasetRealPath: string): string {
  return join(cacheDir, 'results', createHash('sha256').update(datasetRealPath).digest('hex').slice(0, 24));
}

/** Writes a new results folder with `fill` (which writes the files into the given temporary folder), then swaps it in. */
export async function replaceFolderAtomically(target: string, fill: (tempDir: string) => Promise<void>): Promise<void> {
  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  const suffix = `${process.pid}.${randomBytes(4).toString('hex')}`;
  const temp = join(parent, `.${basename(target)}.new.${suffix}`);
  const old = join(parent, `.${basename(target)}.old.${suffix}`);
  await mkdir(temp, { recursive: true });
  try {
    await fill(temp);
    const hadOld = await rename(target, old).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return false;
        throw error;
      },
    );
    await rename(temp, target);
    if (hadOld) await rm(old, { recursive: true, force: true });
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
}

async function readJsonLines<T>(path: string, check: (value: unknown, line: number) => T): Promise<T[]> {
  const text = await readFile(path, 'utf8');
  const out: T[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    out.push(check(JSON.parse(line), index + 1));
  });
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function checkSampleResult(value: unknown, line: number): SampleResult {
  if (!isRecord(value) || typeof value.id !== 'string' || typeof value.image !== 'string') {
    throw new Error(`${RESULTS_FILES.results} line ${line}: not a result row`);
  }
  return {
    id: value.id,
    image: value.image,
    caption: typeof value.caption === 'string' ? value.caption : null,
    error: typeof value.error === 'string' ? value.error : null,
    ...(isRecord(value.scores) ? { scores: value.scores as SampleResult['scores'] } : {}),
    ...(value.safeProbability !== undefined ? { safeProbability: typeof value.safeProbability === 'number' ? value.safeProbability : null } : {}),
    ...(value.safe !== undefined ? { safe: typeof value.safe === 'boolean' ? value.safe : null } : {}),
    ...(Array.isArray(value.warnings) ? { warnings: value.warnings.filter((w): w is string => typeof w === 'string') } : {}),
  };
}

function checkSampleRecord(value: unknown, line: number): SampleRecord {
  if (!isRecord(value) || typeof value.id !== 'string' || typeof value.image !== 'string' || !Array.isArray(value.files)) {
    throw new Error(`${RESULTS_FILES.samples} line ${line}: not a sample record`);
  }
  const container = isRecord(value.container) && typeof value.container.file === 'string' && typeof value.container.kind === 'string'
    ? { kind: value.container.kind as ContainerKind, file: value.container.file }
    : null;
  return {
    id: value.id,
    image: value.image,
    caption: typeof value.caption === 'string' ? value.caption : null,
    files: value.files.filter((f): f is string => typeof f === 'string'),
    container,
  };
}

function checkEmbeddedRecord(value: unknown, line: number): EmbeddedRecord {
  if (!isRecord(value) || typeof value.id !== 'string' || typeof value.image !== 'string') {
    throw new Error(`${RESULTS_FILES.ids} line ${line}: not an id row`);
  }
  return { id: value.id, image: value.image, caption: typeof value.caption === 'string' ? value.caption : null };
}

export async function readSummary(resultsDir: string): Promise<ScanSummary> {
  const path = join(resultsDir, RESULTS_FILES.summary);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new Error(`${resultsDir} is not a results folder (no ${RESULTS_FILES.summary}); run a scan first.`);
  }
  const value: unknown = JSON.parse(text);
  if (!isRecord(value) || typeof value.dataset !== 'string') throw new Error(`${path}: not a scan summary`);
  return value as unknown as ScanSummary;
}

export function readResultRows(resultsDir: string): Promise<SampleResult[]> {
  return readJsonLines(join(resultsDir, RESULTS_FILES.results), checkSampleResult);
}

export function readSampleRecords(resultsDir: string): Promise<SampleRecord[]> {
  return readJsonLines(join(resultsDir, RESULTS_FILES.samples), checkSampleRecord);
}

export function readEmbeddedRecords(resultsDir: string): Promise<EmbeddedRecord[]> {
  return readJsonLines(join(resultsDir, RESULTS_FILES.ids), checkEmbeddedRecord);
}

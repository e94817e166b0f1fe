/**
 * Entry point for dataset reading: detectLayout() recognises a dataset folder, openDataset() returns its reader.
 * See types.ts for the SampleSource/DatasetReader contract and ../../../docs for the layouts.
 */
import { readdir, stat } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { isInside } from '../safePath';
import { tableFormatOf } from '../tabular';
import { ClipRetrievalReader } from './clipRetrieval';
import { CocoReader } from './coco';
import { compareNames, isImageName, toPosix } from './common';
import { Img2datasetFilesReader } from './img2datasetFiles';
import { Img2datasetParquetReader } from './img2datasetParquet';
import { CAPTION_COLUMN_CANDIDATES, IMAGE_COLUMN_CANDIDATES, IMAGEFOLDER_CAPTION_CANDIDATES, TableReader } from './manifest';
import type { ManifestTable } from './manifest';
import { SidecarReader } from './sidecar';
import { LAYOUT_NAMES } from './types';
import type { DatasetReader, LayoutName, OpenDatasetOptions } from './types';
import { WebdatasetReader } from './webdataset';

export type { DatasetReader, LayoutName, OpenDatasetOptions, SampleSource, PrecomputedEmbeddings, ContainerKind } from './types';
export { LAYOUT_NAMES } from './types';

/** What each layout is recognised by, in detection order (the first match wins). Also the "nothing matched" message. */
export const LAYOUT_SIGNATURES: ReadonlyArray<{ layout: LayoutName; lookedFor: string }> = [
  { layout: 'clip-retrieval', lookedFor: 'img_emb/img_emb_{N}.npy with metadata/metadata_{N}.parquet (text_emb/ optional)' },
  { layout: 'coco', lookedFor: 'annotations/captions_*.json' },
  { layout: 'imagefolder', lookedFor: 'metadata.jsonl, metadata.csv or metadata.parquet in the folder (or in its split subfolders)' },
  { layout: 'webdataset', lookedFor: '*.tar shards in the folder' },
  { layout: 'img2dataset-files', lookedFor: 'numbered shard folders (00000/) holding images, beside 00000.parquet or 00000_stats.json' },
  { layout: 'img2dataset-parquet', lookedFor: '*.parquet files with a binary jpg/png/webp column' },
  { layout: 'sidecar', lookedFor: 'image files (.jpg .jpeg .png .webp .gif .bmp .tif .tiff) anywhere below the folder, captions in same-stem .txt' },
  { layout: 'manifest', lookedFor: 'never auto-detected: pass a CSV/TSV/JSONL/Parquet file as the manifest option' },
];

const METADATA_FILES = ['metadata.jsonl', 'metadata.csv', 'metadata.parquet'] as const;

export function isLayoutName(value: string): value is LayoutName {
  return (LAYOUT_NAMES as readonly string[]).includes(value);
}

/** Recognises the layout of a dataset folder; throws an Error listing every layout and what was looked for when nothing matches. */
export async function detectLayout(root: string): Promise<LayoutName> {
  const absolute = resolve(root);
  const info = await stat(absolute).catch(() => null);
  if (info === null || !info.isDirectory()) throw new Error(`dataset folder not found or not a folder: ${absolute}`);
  for (const { layout } of LAYOUT_SIGNATURES) {
    if (await matches(layout, absolute)) return layout;
  }
  const lines = LAYOUT_SIGNATURES.map(({ layout, lookedFor }) => `  - ${layout}: ${lookedFor}`);
  throw new Error(`No dataset layout recognised in ${absolute}. Looked for:\n${lines.join('\n')}`);
}

async function matches(layout: LayoutName, root: string): Promise<boolean> {
  switch (layout) {
    case 'clip-retrieval':
      return (await clipRetrievalParts(root)) !== null;
    case 'coco':
      return (await CocoReader.findAnnotationFiles(root)).length > 0;
    case 'imagefolder':
      return (await imagefolderTables(root)).length > 0;
    case 'webdataset':
      return (await WebdatasetReader.findShards(root)).length > 0;
    case 'img2dataset-files':
      return isImg2datasetFiles(root);
    case 'img2dataset-parquet':
      return (await Img2datasetParquetReader.findFiles(root)).length > 0;
    case 'sidecar':
      return containsImage(root, 0);
    case 'manifest':
      return false;
  }
}

/**
 * Opens a dataset folder. `options.manifest` implies the manifest layout; `options.layout` skips detection.
 * Throws when the folder (or the forced layout's files) cannot be found.
 */
export async function openDataset(root: string, options: OpenDatasetOptions = {}): Promise<DatasetReader> {
  const absolute = resolve(root);
  const layout = options.layout ?? (options.manifest !== undefined ? 'manifest' : await detectLayout(absolute));
  switch (layout) {
    case 'sidecar':
      return new SidecarReader(absolute);
    case 'manifest': {
      if (options.manifest === undefined) throw new Error('the manifest layout needs a manifest file (CSV, TSV, JSONL or Parquet)');
      const manifestPath = resolve(absolute, options.manifest);
      if (tableFormatOf(manifestPath) === null) throw new Error(`manifest must be .csv, .tsv, .jsonl or .parquet: ${manifestPath}`);
      await stat(manifestPath);
      // The manifest may live outside the dataset folder; its image paths are still relative to (and confined to) the folder.
      const file = isInside(absolute, manifestPath) ? toPosix(relative(absolute, manifestPath)) : manifestPath;
      const table: ManifestTable = { file, baseDir: '' };
      return new TableReader('manifest', absolute, [table], {
        imageColumn: options.imageColumn,
        captionColumn: options.captionColumn,
        imageCandidates: IMAGE_COLUMN_CANDIDATES,
        captionCandidates: CAPTION_COLUMN_CANDIDATES,
      }, `manifest ${file}`);
    }
    case 'imagefolder': {
      const tables = await imagefolderTables(absolute);
      if (tables.length === 0) throw new Error(`no metadata.jsonl/csv/parquet in ${absolute} or its subfolders`);
      return new TableReader('imagefolder', absolute, tables, {
        imageColumn: options.imageColumn ?? 'file_name',
        captionColumn: options.captionColumn,
        imageCandidates: ['file_name'],
        captionCandidates: IMAGEFOLDER_CAPTION_CANDIDATES,
      }, `Hugging Face imagefolder: ${tables.map((t) => t.file).join(', ')}`);
    }
    case 'webdataset': {
      const shards = await WebdatasetReader.findShards(absolute);
      if (shards.length === 0) throw new Error(`no .tar shards in ${absolute}`);
      return new WebdatasetReader(absolute, shards);
    }
    case 'img2dataset-files': {
      const shards = await Img2datasetFilesReader.findShards(absolute);
      if (shards.length === 0) throw new Error(`no numbered shard folders (00000/) in ${absolute}`);
      return new Img2datasetFilesReader(absolute, shards);
    }
    case 'img2dataset-parquet': {
      const files = await Img2datasetParquetReader.findFiles(absolute);
      if (files.length === 0) throw new Error(`no .parquet files with a binary jpg/png/webp column in ${absolute}`);
      return new Img2datasetParquetReader(absolute, files);
    }
    case 'coco': {
      const files = await CocoReader.findAnnotationFiles(absolute);
      if (files.length === 0) throw new Error(`no annotations/captions_*.json in ${absolute}`);
      return new CocoReader(absolute, files, options.cocoCaptions ?? 'all');
    }
    case 'clip-retrieval': {
      const parts = await clipRetrievalParts(absolute);
      if (parts === null) throw new Error(`no img_emb/img_emb_{N}.npy with matching metadata/metadata_{N}.parquet in ${absolute}`);
      return new ClipRetrievalReader(absolute, parts);
    }
  }
}

/** Metadata files at the root, else one per split subfolder (train/metadata.jsonl, …). */
async function imagefolderTables(root: string): Promise<ManifestTable[]> {
  const names = new Set(await readdir(root).catch(() => [] as string[]));
  const atRoot = METADATA_FILES.find((name) => names.has(name));
  if (atRoot !== undefined) return [{ file: atRoot, baseDir: '' }];
  const tables: ManifestTable[] = [];
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  for (const entry of entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).sort((a, b) => compareNames(a.name, b.name))) {
    const inner = new Set(await readdir(resolve(root, entry.name)).catch(() => [] as string[]));
    const found = METADATA_FILES.find((name) => inner.has(name));
    if (found !== undefined) tables.push({ file: `${entry.name}/${found}`, baseDir: entry.name });
  }
  return tables;
}

async function isImg2datasetFiles(root: string): Promise<boolean> {
  const shards = await Img2datasetFilesReader.findShards(root);
  if (shards.length === 0) return false;
  const names = new Set(await readdir(root));
  return shards.some((shard) => names.has(`${shard}.parquet`) || names.has(`${shard}_stats.json`));
}

/** Shared numeric suffixes N of img_emb/img_emb_N.npy and metadata/metadata_N.parquet, ascending; null when none. */
export async function clipRetrievalParts(root: string): Promise<number[] | null> {
  const numbersIn = async (dir: string, pattern: RegExp): Promise<Set<number>> => {
    const names = await readdir(resolve(root, dir)).catch(() => [] as string[]);
    const found = new Set<number>();
    for (const name of names) {
      const match = pattern.exec(name);
      if (match !== null) found.add(Number(match[1]));
    }
    return found;
  };
  const images = await numbersIn('img_emb', /^img_emb_(\d+)\.npy$/);
  const metadata = await numbersIn('metadata', /^metadata_(\d+)\.parquet$/);
  const parts = [...images].filter((n) => metadata.has(n)).sort((a, b) => a - b);
  return parts.length === 0 ? null : parts;
}

/** Depth-limited search for any image file, skipping hidden entries and directory symlinks. */
async function containsImage(dir: string, depth: number): Promise<boolean> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.name.startsWith('.') && !entry.isDirectory() && isImageName(entry.name)) return true;
  }
  if (depth >= 6) return false;
  for (const entry of entries) {
    if (entry.isDirectory() && !entry.name.startsWith('.') && (await containsImage(resolve(dir, entry.name), depth + 1))) return true;
  }
  return false;
}

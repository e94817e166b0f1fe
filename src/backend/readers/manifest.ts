/**
 * Table-driven layouts: a CSV/TSV/JSONL/Parquet manifest named by the user, and Hugging Face imagefolder metadata files.
 * Each row names an image (a path) and optionally a caption. Manifest paths are relative to the dataset root;
 * imagefolder `file_name` is relative to the folder holding the metadata file (the HF convention).
 */
import { isAbsolute, resolve, win32 } from 'node:path';
import { cellText, guessColumn, readTable } from '../tabular';
import type { TableRow } from '../tabular';
import { errorSample, fileSample, IdAllocator, isUrl, normaliseRelative, throwIfAborted } from './common';
import type { DatasetReader, LayoutName, SampleSource } from './types';

export const IMAGE_COLUMN_CANDIDATES = ['image', 'image_path', 'file_name', 'filepath', 'path'] as const;
export const CAPTION_COLUMN_CANDIDATES = ['caption', 'text', 'title'] as const;
/** Hugging Face imagefolder prefers `text`, then `caption`. */
export const IMAGEFOLDER_CAPTION_CANDIDATES = ['text', 'caption'] as const;

export interface ManifestTable {
  /** Table file, relative to the dataset root. */
  file: string;
  /** Folder that row paths are relative to, relative to the root ('' = the root). */
  baseDir: string;
}

interface RowPlan {
  id: string;
  image: string;
  caption: string | null;
  container: { kind: 'manifest'; file: string };
  /** Known before touching the image (bad row, URL, absolute path); file checks come when the sample is built. */
  error: string | null;
  ownsImage: boolean;
}

export interface ColumnChoice {
  imageColumn?: string;
  captionColumn?: string;
  imageCandidates: readonly string[];
  captionCandidates: readonly string[];
}

export class TableReader implements DatasetReader {
  constructor(
    readonly layout: Extract<LayoutName, 'manifest' | 'imagefolder'>,
    readonly root: string,
    private readonly tables: ManifestTable[],
    private readonly columns: ColumnChoice,
    readonly description: string,
  ) {}

  /** id → plan, built on the first sampleById so that later look-ups touch one file, not the whole table. */
  private planIndex: Map<string, RowPlan> | null = null;

  async *samples(signal?: AbortSignal): AsyncIterable<SampleSource> {
    for await (const plan of this.plans(signal)) yield await this.materialise(plan);
  }

  async sampleById(id: string): Promise<SampleSource | null> {
    if (this.planIndex === null) {
      const index = new Map<string, RowPlan>();
      for await (const plan of this.plans(undefined)) index.set(plan.id, plan);
      this.planIndex = index;
    }
    const plan = this.planIndex.get(id);
    return plan === undefined ? null : this.materialise(plan);
  }

  private materialise(plan: RowPlan): Promise<SampleSource> | SampleSource {
    const { id, image, caption, container } = plan;
    if (plan.error !== null) return errorSample({ id, image, caption, container }, plan.error);
    return fileSample({ root: this.root, id, imagePath: image, caption, ownsImage: plan.ownsImage, container });
  }

  /** What each row becomes, in order, with ids allocated; no file is touched except the tables themselves. */
  private async *plans(signal: AbortSignal | undefined): AsyncGenerator<RowPlan> {
    const ids = new IdAllocator();
    for (const table of this.tables) {
      throwIfAborted(signal);
      const { rows, imageColumn, captionColumn } = await this.load(table);
      const container = { kind: 'manifest' as const, file: table.file };
      // An image named by several rows belongs to none of them alone: deleting one row must not remove it.
      const useCount = new Map<string, number>();
      const paths = rows.map((row) => (row.values === null ? null : cellText(row.values[imageColumn])));
      const imagePathOf = (path: string) => (table.baseDir === '' ? path : `${table.baseDir}/${path}`);
      for (const path of paths) {
        if (!path) continue;
        const normal = normaliseRelative(imagePathOf(path));
        useCount.set(normal, (useCount.get(normal) ?? 0) + 1);
      }
      for (let r = 0; r < rows.length; r++) {
        if (r % 1024 === 0) throwIfAborted(signal);
        const row = rows[r];
        const rowId = `${table.file}#row${row.rowNumber}`;
        const caption = row.values === null || captionColumn === null ? null : cellText(row.values[captionColumn]);
        const path = paths[r];
        const failed = (image: string, reason: string): RowPlan => ({ id: ids.take(rowId), image, caption, container, error: reason, ownsImage: false });
        if (row.values === null) {
          yield failed('', row.error ?? 'unreadable row');
        } else if (!path) {
          yield failed('', `no image path in column "${imageColumn}"`);
        } else if (isUrl(path)) {
          yield failed(path, 'image is a URL; download the images first (e.g. with img2dataset) and point the manifest at the files');
        } else if (isAbsolute(path) || win32.isAbsolute(path)) {
          yield failed(path, `absolute path not allowed: ${JSON.stringify(path)}`);
        } else {
          const imagePath = imagePathOf(path);
          const normal = normaliseRelative(imagePath);
          yield { id: ids.take(normal), image: imagePath, caption, container, error: null, ownsImage: useCount.get(normal) === 1 };
        }
      }
    }
  }

  private async load(table: ManifestTable): Promise<{ rows: TableRow[]; imageColumn: string; captionColumn: string | null }> {
    const { imageColumn, captionColumn, imageCandidates, captionCandidates } = this.columns;
    const wanted = [imageColumn ?? imageCandidates, captionColumn ?? captionCandidates].flat();
    const loaded = await readTable(resolve(this.root, table.file), { columns: [...wanted] });
    const image = imageColumn ?? guessColumn(loaded.columns, imageCandidates);
    const presentColumns = `its columns are: ${loaded.columns.map((c) => JSON.stringify(c)).join(', ') || '(none)'}`;
    if (image === null || !loaded.columns.includes(image)) {
      const looked = imageColumn !== undefined ? `"${imageColumn}"` : imageCandidates.join('/');
      throw new Error(`${table.file}: no image-path column (looked for ${looked}); ${presentColumns}. Name it with the image-column option.`);
    }
    if (captionColumn !== undefined && !loaded.columns.includes(captionColumn)) {
      throw new Error(`${table.file}: caption column "${captionColumn}" not found; ${presentColumns}.`);
    }
    const caption = captionColumn ?? guessColumn(loaded.columns, captionCandidates);
    return { rows: loaded.rows, imageColumn: image, captionColumn: caption };
  }
}

/**
 * img2dataset `parquet` output: `00000.parquet` files with the image bytes inline in a binary `jpg`/`png`/`webp`
 * column, plus `caption`, `key` and `status`. Rows with status ≠ "success" are skipped. Enumeration reads only the
 * small columns, one row group at a time; image bytes are read on demand in small row windows.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { cellText, openParquet, readParquetRows } from '../tabular';
import type { ParquetFile } from '../tabular';
import { compareNames, errorSample, IdAllocator, throwIfAborted } from './common';
import type { DatasetReader, SampleSource } from './types';

export const INLINE_IMAGE_COLUMNS = ['jpg', 'png', 'webp', 'image'] as const;
/** Rows decoded together when an image is read; consecutive reads then hit memory. */
const IMAGE_WINDOW_ROWS = 32;
/** Windows kept at once: enough for a few concurrent readers straddling window boundaries. */
const CACHED_WINDOWS = 4;

/** The inline-image column of a parquet file, or null when it has none. */
export function inlineImageColumn(parquet: ParquetFile): string | null {
  for (const name of INLINE_IMAGE_COLUMNS) {
    const type = parquet.columnTypes.get(name);
    if (type !== undefined && type.physical === 'BYTE_ARRAY' && !type.text) return name;
  }
  return null;
}

export class Img2datasetParquetReader implements DatasetReader {
  readonly layout = 'img2dataset-parquet' as const;
  readonly description: string;
  /** Recently decoded row windows of image bytes, newest last (promises, so concurrent reads share one decode). */
  private readonly windows = new Map<string, Promise<unknown[]>>();
  private readonly idIndex = new Map<string, Map<string, SampleSource>>();

  constructor(
    readonly root: string,
    private readonly files: string[],
  ) {
    this.description = `img2dataset parquet: ${files.length} file(s) with inline images`;
  }

  static async findFiles(root: string): Promise<string[]> {
    const entries = await readdir(root, { withFileTypes: true });
    const found: string[] = [];
    for (const entry of entries) {
      if (!entry.isFile() || !entry.name.toLowerCase().endsWith('.parquet') || entry.name.startsWith('.')) continue;
      try {
        if (inlineImageColumn(await openParquet(join(root, entry.name))) !== null) found.push(entry.name);
      } catch {
        // not a readable parquet: not part of this layout
      }
    }
    return found.sort(compareNames);
  }

  async *samples(signal?: AbortSignal): AsyncIterable<SampleSource> {
    for (const file of this.files) {
      throwIfAborted(signal);
      yield* this.fileSamples(file, signal);
    }
  }

  async sampleById(id: string): Promise<SampleSource | null> {
    const hash = id.indexOf('#');
    const file = id.slice(0, hash);
    if (hash < 0 || !this.files.includes(file)) return null;
    let index = this.idIndex.get(file);
    if (index === undefined) {
      // Samples hold no image bytes, so one file's worth is small; later look-ups in that file are then instant.
      index = new Map();
      for await (const sample of this.fileSamples(file, undefined)) index.set(sample.id, sample);
      this.idIndex.set(file, index);
    }
    return index.get(id) ?? null;
  }

  private async *fileSamples(file: string, signal: AbortSignal | undefined): AsyncGenerator<SampleSource> {
    const container = { kind: 'parquet' as const, file };
    let parquet: ParquetFile;
    let version: string;
    try {
      const info = await stat(join(this.root, file));
      version = `${info.size}:${info.mtimeMs}`;
      parquet = await openParquet(join(this.root, file));
    } catch (error) {
      yield errorSample({ id: `${file}#`, image: file, caption: null, container }, `parquet unreadable: ${(error as Error).message}`);
      return;
    }
    const imageColumn = inlineImageColumn(parquet);
    if (imageColumn === null) {
      yield errorSample({ id: `${file}#`, image: file, caption: null, container }, 'no binary jpg/png/webp column');
      return;
    }
    const extension = imageColumn === 'image' ? 'img' : imageColumn;
    const columns = ['key', 'caption', 'status'].filter((column) => parquet.columns.includes(column));
    const ids = new IdAllocator();
    for (const group of parquet.rowGroups) {
      throwIfAborted(signal);
      const rows = await readParquetRows(parquet, { columns, ...group });
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i];
        const rowIndex = group.rowStart + i;
        const status = cellText(row.status);
        if (status !== null && status !== 'success') continue;
        const key = cellText(row.key) ?? `row${rowIndex}`;
        const id = ids.take(`${file}#${key}`);
        yield {
          id,
          image: `${file}#${key}.${extension}`,
          caption: cellText(row.caption),
          error: null,
          contentKey: `parquet:${version}:${rowIndex}`,
          readImage: () => this.readImageAt(parquet, file, imageColumn, rowIndex),
          ownedFiles: [],
          container,
        };
      }
    }
  }

  private async readImageAt(parquet: ParquetFile, file: string, column: string, rowIndex: number): Promise<Buffer> {
    const windowStart = rowIndex - (rowIndex % IMAGE_WINDOW_ROWS);
    const windowKey = `${file}#${windowStart}`;
    let window = this.windows.get(windowKey);
    if (window === undefined) {
      window = readParquetRows(parquet, {
        columns: [column],
        rowStart: windowStart,
        rowEnd: Math.min(windowStart + IMAGE_WINDOW_ROWS, parquet.rowCount),
      }).then((rows) => rows.map((row) => row[column]));
      this.windows.set(windowKey, window);
      window.catch(() => this.windows.delete(windowKey));
      while (this.windows.size > CACHED_WINDOWS) this.windows.delete(this.windows.keys().next().value as string);
    }
    const value = (await window)[rowIndex - windowStart];
    if (!(value instanceof Uint8Array)) throw new Error(`${file} row ${rowIndex}: no image bytes`);
    if (value.length === 0) throw new Error(`${file} row ${rowIndex}: empty file (0 bytes)`);
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
}

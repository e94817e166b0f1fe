/**
 * clip-retrieval embedding folders: `img_emb/img_emb_{N}.npy` (float16, L2-normalised), optional `text_emb/text_emb_{N}.npy`,
 * and `metadata/metadata_{N}.parquet` whose rows (`image_path`, `caption`) are aligned with the embedding rows.
 * Such a dataset is scanned without a model: precomputedEmbeddings() returns the vectors in samples() order.
 * Sample id: `metadata_{N}.parquet#{row}`. Images are optional here (often URLs or paths on another machine):
 * readImage() works only for an `image_path` inside the dataset folder.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseNpy } from '../../core/npy';
import { resolveInsideRoot } from '../safePath';
import { cellText, guessColumn, openParquet, readParquetRows } from '../tabular';
import type { ParquetFile } from '../tabular';
import { describeFileError, throwIfAborted } from './common';
import type { DatasetReader, PrecomputedEmbeddings, SampleSource } from './types';

const PATH_COLUMNS = ['image_path', 'image', 'path', 'url'] as const;
const CAPTION_COLUMNS = ['caption', 'text'] as const;

interface MetadataPart {
  file: string;
  version: string;
  parquet: ParquetFile;
  pathColumn: string | null;
  captionColumn: string | null;
  columns: string[];
}

export class ClipRetrievalReader implements DatasetReader {
  readonly layout = 'clip-retrieval' as const;
  readonly description: string;

  constructor(
    readonly root: string,
    private readonly parts: number[],
  ) {
    this.description = `clip-retrieval embeddings: ${parts.length} part(s), scanned without a model`;
  }

  async *samples(signal?: AbortSignal): AsyncIterable<SampleSource> {
    for (const part of this.parts) {
      throwIfAborted(signal);
      const metadata = await this.openMetadata(part);
      for (const group of metadata.parquet.rowGroups) {
        throwIfAborted(signal);
        const rows = metadata.columns.length > 0 ? await readParquetRows(metadata.parquet, { columns: metadata.columns, ...group }) : [];
        for (let i = 0; i < group.rowEnd - group.rowStart; i++) yield this.sampleAt(part, metadata, group.rowStart + i, rows[i] ?? {});
      }
    }
  }

  async sampleById(id: string): Promise<SampleSource | null> {
    const match = /^metadata_(\d+)\.parquet#(\d+)$/.exec(id);
    if (match === null || !this.parts.includes(Number(match[1]))) return null;
    const part = Number(match[1]);
    const rowIndex = Number(match[2]);
    const metadata = await this.openMetadata(part);
    if (rowIndex >= metadata.parquet.rowCount || `metadata_${part}.parquet#${rowIndex}` !== id) return null;
    const rows = metadata.columns.length > 0 ? await readParquetRows(metadata.parquet, { columns: metadata.columns, rowStart: rowIndex, rowEnd: rowIndex + 1 }) : [];
    return this.sampleAt(part, metadata, rowIndex, rows[0] ?? {});
  }

  private async openMetadata(part: number): Promise<MetadataPart> {
    const file = `metadata/metadata_${part}.parquet`;
    const info = await stat(join(this.root, file));
    const parquet = await openParquet(join(this.root, file));
    const pathColumn = guessColumn(parquet.columns, PATH_COLUMNS);
    const captionColumn = guessColumn(parquet.columns, CAPTION_COLUMNS);
    const columns = [pathColumn, captionColumn].filter((c): c is string => c !== null);
    return { file, version: `${info.size}:${info.mtimeMs}`, parquet, pathColumn, captionColumn, columns };
  }

  private sampleAt(part: number, metadata: MetadataPart, rowIndex: number, row: Record<string, unknown>): SampleSource {
    const imagePath = metadata.pathColumn === null ? null : cellText(row[metadata.pathColumn]);
    return {
      id: `metadata_${part}.parquet#${rowIndex}`,
      image: imagePath ?? '',
      caption: metadata.captionColumn === null ? null : cellText(row[metadata.captionColumn]),
      error: null,
      contentKey: `clip-retrieval:${metadata.version}:${rowIndex}`,
      readImage: () => this.readImage(imagePath),
      ownedFiles: [],
      container: { kind: 'clip-retrieval', file: metadata.file },
    };
  }

  /** All parts concatenated; throws when a part's row count or width disagrees with the others or with its metadata. */
  async precomputedEmbeddings(): Promise<PrecomputedEmbeddings> {
    const imageParts: Float32Array[] = [];
    const textParts: Float32Array[] = [];
    let hasTexts = true;
    let dim = -1;
    const ids: string[] = [];
    for (const part of this.parts) {
      const images = await loadMatrix(this.root, `img_emb/img_emb_${part}.npy`);
      const texts = await loadMatrix(this.root, `text_emb/text_emb_${part}.npy`).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
      });
      const parquet = await openParquet(join(this.root, `metadata/metadata_${part}.parquet`));
      if (dim === -1) dim = images.dim;
      if (images.dim !== dim) throw new Error(`img_emb_${part}.npy has width ${images.dim}, earlier parts ${dim}`);
      if (images.rows !== parquet.rowCount) {
        throw new Error(`img_emb_${part}.npy has ${images.rows} rows but metadata_${part}.parquet has ${parquet.rowCount}: they must be aligned`);
      }
      if (texts !== null && (texts.rows !== images.rows || texts.dim !== dim)) {
        throw new Error(`text_emb_${part}.npy is ${texts.rows}×${texts.dim}, img_emb_${part}.npy is ${images.rows}×${dim}`);
      }
      imageParts.push(images.values);
      if (texts === null) hasTexts = false;
      else textParts.push(texts.values);
      for (let row = 0; row < images.rows; row++) ids.push(`metadata_${part}.parquet#${row}`);
    }
    return { images: concat(imageParts), texts: hasTexts ? concat(textParts) : null, dim, ids };
  }

  private async readImage(imagePath: string | null): Promise<Buffer> {
    if (imagePath === null || imagePath === '') throw new Error('no image path in the metadata');
    const resolved = await resolveInsideRoot(this.root, imagePath);
    if (!resolved.ok) throw new Error(`image not available: ${resolved.reason}`);
    try {
      return await readFile(resolved.absolute);
    } catch (error) {
      throw new Error(`${imagePath}: ${describeFileError(error)}`);
    }
  }
}

async function loadMatrix(root: string, file: string): Promise<{ values: Float32Array; rows: number; dim: number }> {
  const array = parseNpy(await readFile(join(root, file)));
  if (array.shape.length !== 2) throw new Error(`${file}: expected a 2-D array, got shape [${array.shape.join(', ')}]`);
  const values = array.values instanceof Float32Array ? array.values : Float32Array.from(array.values);
  return { values, rows: array.shape[0], dim: array.shape[1] };
}

function concat(parts: Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0];
  const out = new Float32Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

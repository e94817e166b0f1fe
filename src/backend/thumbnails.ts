/**
 * Thumbnails for the results panel, cached under `<cacheDir>/thumbnails/` (never in the dataset). The file name hashes
 * the dataset, the sample id, its content key and the size, so a changed image gets a new thumbnail.
 */
import { createHash } from 'node:crypto';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { makeThumbnail } from './images';
import { writeFileAtomic } from './output';
import type { DatasetReader } from './readers/types';

export interface ThumbnailItem {
  sampleId: string;
  path: string | null;
  error?: string;
}

const THUMBNAIL_CONCURRENCY = 4;

export function thumbnailPath(cacheDir: string, datasetRoot: string, sampleId: string, contentKey: string, size: number): string {
  const hash = createHash('sha256').update(`${datasetRoot}\0${sampleId}\0${contentKey}\0${size}`).digest('hex').slice(0, 32);
  return join(cacheDir, 'thumbnails', hash.slice(0, 2), `${hash}.webp`);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function thumbnailFor(reader: DatasetReader, cacheDir: string, sampleId: string, size: number): Promise<ThumbnailItem> {
  try {
    const sample = await reader.sampleById(sampleId);
    if (!sample) return { sampleId, path: null, error: 'no such sample in the dataset (was it removed?)' };
    if (sample.error !== null) return { sampleId, path: null, error: sample.error };
    const path = thumbnailPath(cacheDir, reader.root, sampleId, sample.contentKey, size);
    if (await exists(path)) return { sampleId, path };
    await writeFileAtomic(path, await makeThumbnail(await sample.readImage(), size));
    return { sampleId, path };
  } catch (error) {
    return { sampleId, path: null, error: error instanceof Error ? error.message : String(error) };
  }
}

/** One item per requested id, in request order; a failure is that item's error, never the whole request's. */
export async function makeThumbnails(reader: DatasetReader, cacheDir: string, sampleIds: readonly string[], size: number): Promise<ThumbnailItem[]> {
  const items: ThumbnailItem[] = new Array(sampleIds.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(THUMBNAIL_CONCURRENCY, sampleIds.length) }, async () => {
      while (next < sampleIds.length) {
        const position = next++;
        items[position] = await thumbnailFor(reader, cacheDir, sampleIds[position], size);
      }
    }),
  );
  return items;
}

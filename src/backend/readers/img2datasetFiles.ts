/**
 * img2dataset `files` output: shard folders `00000/` holding `000000000.jpg` + `.txt` + `.json`, and `00000.parquet` beside them.
 *
 * Status: a sample whose `.json` sidecar has `status` ≠ "success" is skipped; without a `.json`, the shard parquet's
 * `status` for that key decides; with neither, the image's presence counts as success. Parquet rows marked "success"
 * whose image is missing become "missing file" error rows.
 */
import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { cellText, openParquet, readParquetRows } from '../tabular';
import {
  compareNames,
  errorSample,
  fileSample,
  isImageName,
  parseJsonObject,
  readSmallText,
  throwIfAborted,
} from './common';
import type { DatasetReader, SampleSource } from './types';

export const SHARD_DIR_PATTERN = /^\d{5,}$/;

interface ParquetRowInfo {
  status: string | null;
  caption: string | null;
}

export class Img2datasetFilesReader implements DatasetReader {
  readonly layout = 'img2dataset-files' as const;
  readonly description: string;

  constructor(
    readonly root: string,
    private readonly shards: string[],
  ) {
    this.description = `img2dataset files: ${shards.length} shard folder(s)`;
  }

  static async findShards(root: string): Promise<string[]> {
    const entries = await readdir(root, { withFileTypes: true });
    return entries
      .filter((entry) => entry.isDirectory() && SHARD_DIR_PATTERN.test(entry.name))
      .map((entry) => entry.name)
      .sort(compareNames);
  }

  async *samples(signal?: AbortSignal): AsyncIterable<SampleSource> {
    for (const shard of this.shards) {
      throwIfAborted(signal);
      yield* this.shardSamples(shard, signal);
    }
  }

  private async shardRows(shard: string): Promise<{ rows: Map<string, ParquetRowInfo>; problem: string | null }> {
    const rows = new Map<string, ParquetRowInfo>();
    let parquet;
    try {
      parquet = await openParquet(join(this.root, `${shard}.parquet`));
    } catch (error) {
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      return { rows, problem: missing ? null : `${shard}.parquet unreadable: ${(error as Error).message}` };
    }
    if (!parquet.columns.includes('key')) return { rows, problem: null };
    const columns = ['key', 'status', 'caption'].filter((column) => parquet.columns.includes(column));
    for (const group of parquet.rowGroups) {
      for (const row of await readParquetRows(parquet, { columns, ...group })) {
        const key = cellText(row.key);
        if (key !== null) rows.set(key, { status: cellText(row.status), caption: cellText(row.caption) });
      }
    }
    return { rows, problem: null };
  }

  private async *shardSamples(shard: string, signal: AbortSignal | undefined): AsyncGenerator<SampleSource> {
    const { rows, problem } = await this.shardRows(shard);
    if (problem !== null) yield errorSample({ id: `${shard}.parquet`, image: '', caption: null }, problem);
    let entries: Dirent[];
    try {
      entries = await readdir(join(this.root, shard), { withFileTypes: true });
    } catch (error) {
      yield errorSample({ id: shard, image: shard, caption: null }, `shard folder unreadable: ${(error as Error).message}`);
      return;
    }
    const names = new Set(entries.map((entry) => entry.name));
    const images = entries
      .filter((entry) => (entry.isFile() || entry.isSymbolicLink()) && isImageName(entry.name) && !entry.name.startsWith('.'))
      .map((entry) => entry.name)
      .sort(compareNames);
    const seenKeys = new Set<string>();
    for (const name of images) {
      throwIfAborted(signal);
      const key = name.slice(0, name.indexOf('.'));
      seenKeys.add(key);
      const sample = await this.sampleFor(shard, name, names, rows.get(key));
      if (sample !== null) yield sample;
    }
    for (const [key, info] of rows) {
      if (info.status === 'success' && !seenKeys.has(key)) {
        yield errorSample({ id: `${shard}/${key}`, image: `${shard}/${key}`, caption: info.caption }, 'missing file (listed as success in the shard parquet)');
      }
    }
  }

  /** null = skipped (status is not success). */
  private async sampleFor(
    shard: string,
    imageName: string,
    siblings: Set<string>,
    parquetRow: ParquetRowInfo | undefined,
  ): Promise<SampleSource | null> {
    const key = imageName.slice(0, imageName.indexOf('.'));
    const id = `${shard}/${imageName}`;
    const extras: string[] = [];
    let status = parquetRow?.status ?? null;
    let caption: string | null = null;
    let jsonCaption: string | null = null;
    if (siblings.has(`${key}.json`)) {
      const read = await readSmallText(this.root, `${shard}/${key}.json`);
      if (!read.ok) return errorSample({ id, image: id, caption: null }, `sidecar ${read.reason}`);
      const json = parseJsonObject(read.text);
      if (json === null) return errorSample({ id, image: id, caption: null }, `${shard}/${key}.json is not a JSON object`);
      if (json.status !== undefined) status = cellText(json.status);
      jsonCaption = cellText(json.caption);
      extras.push(`${shard}/${key}.json`);
    }
    if (status !== null && status !== 'success') return null;
    if (siblings.has(`${key}.txt`)) {
      const read = await readSmallText(this.root, `${shard}/${key}.txt`);
      if (!read.ok) return errorSample({ id, image: id, caption: null }, `caption ${read.reason}`);
      caption = read.text;
      extras.push(`${shard}/${key}.txt`);
    }
    caption ??= jsonCaption ?? parquetRow?.caption ?? null;
    return fileSample({ root: this.root, id, imagePath: id, caption, ownedExtras: extras.sort(compareNames) });
  }

  async sampleById(id: string): Promise<SampleSource | null> {
    const match = /^([^/]+)\/([^/]+)$/.exec(id);
    if (match === null || !this.shards.includes(match[1]) || !isImageName(match[2])) return null;
    let siblings: string[];
    try {
      siblings = await readdir(join(this.root, match[1]));
    } catch {
      return null;
    }
    if (!siblings.includes(match[2])) return null;
    const { rows } = await this.shardRows(match[1]);
    const key = match[2].slice(0, match[2].indexOf('.'));
    return this.sampleFor(match[1], match[2], new Set(siblings), rows.get(key));
  }
}

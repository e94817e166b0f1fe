/**
 * Result writers shared by the CLI, the scan pipeline and the exporters: JSONL, CSV and Parquet, always atomic
 * (written to a temporary file beside the target, fsynced, then renamed) so a reader never sees half a file.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { SCORE_KEYS, type SampleResult, type ScoreRow } from '../core/types';

export type TableFormat = 'jsonl' | 'csv' | 'parquet';
export const TABLE_FORMATS: readonly TableFormat[] = ['jsonl', 'csv', 'parquet'];

/** The format a file name asks for, from its extension; null when the extension is not one we write. */
export function tableFormatFromPath(path: string): TableFormat | null {
  const ext = extname(path).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.csv') return 'csv';
  if (ext === '.parquet') return 'parquet';
  return null;
}

type CellValue = string | number | boolean | null;
export interface TableColumn {
  name: string;
  type: 'STRING' | 'DOUBLE' | 'BOOLEAN' | 'INT32';
  values: CellValue[];
}
export interface Table {
  columns: TableColumn[];
  /** One JSON object per row, for JSONL (keeps nested `scores` as the CLI contract defines them). */
  jsonRows: () => Iterable<unknown>;
}

function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Writes bytes or text to `path` atomically. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await replaceAtomically(path, async (temp) => {
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
  });
}

/** Fills a temporary file beside `path`, then renames it over `path`; on failure the temporary file is removed. */
async function replaceAtomically(path: string, fill: (temp: string) => Promise<void>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = tempPathFor(path);
  try {
    await fill(temp);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Writes lines to a stream, respecting back-pressure (stdout or a file). */
export async function writeLinesTo(stream: Writable, lines: Iterable<string>): Promise<void> {
  for (const line of lines) {
    if (!stream.write(line + '\n')) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          stream.off('error', onError);
          resolve();
        };
        const onError = (error: Error): void => {
          stream.off('drain', onDrain);
          reject(error);
        };
        stream.once('drain', onDrain);
        stream.once('error', onError);
      });
    }
  }
}

/** Streams lines into `path` atomically: large result files never sit whole in memory as one string. */
export async function writeLinesAtomic(path: string, lines: Iterable<string>): Promise<void> {
  await replaceAtomically(path, async (temp) => {
    const stream = createWriteStream(temp);
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
    await writeLinesTo(stream, lines);
    await new Promise<void>((resolve, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolve())));
    const handle = await open(temp, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  });
}

/** RFC 4180 field quoting. Captions are untrusted: quotes, commas and newlines are escaped, never interpreted. */
export function csvField(value: CellValue): string {
  if (value === null) return '';
  const text = typeof value === 'number' ? (Number.isFinite(value) ? String(value) : '') : String(value);
  return /[",\r\n]/.test(text) || /^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function* csvLines(table: Table): Iterable<string> {
  yield table.columns.map((c) => csvField(c.name)).join(',');
  const rowCount = table.columns[0]?.values.length ?? 0;
  for (let row = 0; row < rowCount; row++) yield table.columns.map((c) => csvField(c.values[row])).join(',');
}

export function* jsonLines(table: Table): Iterable<string> {
  for (const row of table.jsonRows()) yield JSON.stringify(row);
}

/** Writes a table in the given format to `path`, atomically. */
export async function writeTable(path: string, format: TableFormat, table: Table): Promise<void> {
  switch (format) {
    case 'jsonl':
      return writeLinesAtomic(path, jsonLines(table));
    case 'csv':
      return writeLinesAtomic(path, csvLines(table));
    case 'parquet': {
      const buffer = parquetWriteBuffer({
        columnData: table.columns.map((c) => ({ name: c.name, data: c.values, type: c.type })),
      });
      return writeFileAtomic(path, new Uint8Array(buffer));
    }
  }
}

/** Writes a table to a stream (stdout) as JSONL or CSV. Parquet needs a file. */
export async function writeTableToStream(stream: Writable, format: 'jsonl' | 'csv', table: Table): Promise<void> {
  await writeLinesTo(stream, format === 'jsonl' ? jsonLines(table) : csvLines(table));
}

function finiteOrNull(value: number | null | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** JSON form of a `score` row: index, scores, safeProbability, safe, and warnings only when there are any. */
export function scoreRowJson(row: ScoreRow): Record<string, unknown> {
  const out: Record<string, unknown> = {
    index: row.index,
    scores: row.scores,
    safeProbability: row.safeProbability,
    safe: row.safe,
  };
  if (row.warnings && row.warnings.length > 0) out.warnings = row.warnings;
  return out;
}

/** JSON form of a `scan` row. Error rows carry no scores. */
export function sampleResultJson(row: SampleResult): Record<string, unknown> {
  const out: Record<string, unknown> = { id: row.id, image: row.image, caption: row.caption, error: row.error };
  if (row.error === null) {
    out.scores = row.scores ?? {};
    out.safeProbability = row.safeProbability ?? null;
    out.safe = row.safe ?? null;
  }
  if (row.warnings && row.warnings.length > 0) out.warnings = row.warnings;
  return out;
}

function scoreColumns(rows: readonly { scores?: ScoreRow['scores']; safeProbability?: number | null; safe?: boolean | null; warnings?: string[] }[]): TableColumn[] {
  return [
    ...SCORE_KEYS.map((key): TableColumn => ({ name: key, type: 'DOUBLE', values: rows.map((r) => finiteOrNull(r.scores?.[key])) })),
    { name: 'safeProbability', type: 'DOUBLE', values: rows.map((r) => finiteOrNull(r.safeProbability)) },
    { name: 'safe', type: 'BOOLEAN', values: rows.map((r) => (typeof r.safe === 'boolean' ? r.safe : null)) },
    { name: 'warnings', type: 'STRING', values: rows.map((r) => (r.warnings && r.warnings.length > 0 ? r.warnings.join('; ') : null)) },
  ];
}

/** `score` output: index + one flat column per score key (CSV/Parquet), nested `scores` in JSONL. */
export function scoreRowsTable(rows: readonly ScoreRow[]): Table {
  return {
    columns: [{ name: 'index', type: 'INT32', values: rows.map((r) => r.index) }, ...scoreColumns(rows)],
    jsonRows: () => rows.map(scoreRowJson),
  };
}

/** `scan` output: id, image, caption, error + the score columns. */
export function sampleResultsTable(rows: readonly SampleResult[]): Table {
  return {
    columns: [
      { name: 'id', type: 'STRING', values: rows.map((r) => r.id) },
      { name: 'image', type: 'STRING', values: rows.map((r) => r.image) },
      { name: 'caption', type: 'STRING', values: rows.map((r) => r.caption) },
      { name: 'error', type: 'STRING', values: rows.map((r) => r.error) },
      ...scoreColumns(rows),
    ],
    jsonRows: () => rows.map(sampleResultJson),
  };
}

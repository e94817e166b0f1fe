/**
 * Row reading for tabular files: CSV, TSV, JSONL and Parquet.
 * Cell text comes back exactly as stored (no trimming, no Unicode normalisation); only a leading UTF-8 BOM is dropped,
 * because it is an encoding marker, not content.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import type { AsyncBuffer, FileMetaData } from 'hyparquet';

export type TableFormat = 'csv' | 'tsv' | 'jsonl' | 'parquet';

/** One data row. `values` is null when the row itself is broken (bad JSON, wrong field count); `error` says why. */
export interface TableRow {
  /** 1-based position among the data rows (header excluded), for messages and stable ids. */
  rowNumber: number;
  values: Record<string, unknown> | null;
  error: string | null;
}

export interface Table {
  columns: string[];
  rows: TableRow[];
}

const utf8 = new TextDecoder('utf-8');

/** Decodes UTF-8 bytes; a leading BOM is dropped, invalid sequences become U+FFFD. */
export function decodeUtf8(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

export function tableFormatOf(path: string): TableFormat | null {
  switch (extname(path).toLowerCase()) {
    case '.csv':
      return 'csv';
    case '.tsv':
    case '.tab':
      return 'tsv';
    case '.jsonl':
    case '.ndjson':
      return 'jsonl';
    case '.parquet':
      return 'parquet';
    default:
      return null;
  }
}

/** Reads a whole CSV/TSV/JSONL/Parquet file. For Parquet, `columns` limits what is decoded. */
export async function readTable(path: string, options: { columns?: string[] } = {}): Promise<Table> {
  const format = tableFormatOf(path);
  if (format === null) throw new Error(`not a CSV, TSV, JSONL or Parquet file (by its extension): ${path}`);
  if (format === 'parquet') return readParquetTable(path, options.columns);
  const text = decodeUtf8(await readFile(path));
  return format === 'jsonl' ? parseJsonl(text) : parseDelimited(text, format === 'tsv' ? '\t' : ',');
}

/**
 * RFC 4180 parsing with the header row as column names: quoted fields may hold delimiters, quotes ("") and newlines;
 * CRLF and LF both end records; blank lines are skipped. A row with a different field count than the header is an error row.
 */
export function parseDelimited(text: string, delimiter: ',' | '\t'): Table {
  const records = splitRecords(withoutBom(text), delimiter);
  const header = records.shift();
  if (header === undefined) return { columns: [], rows: [] };
  const columns = header.fields;
  const rows = records.map((record, index): TableRow => {
    const rowNumber = index + 1;
    if (record.fields.length !== columns.length) {
      return {
        rowNumber,
        values: null,
        error: `line ${record.line}: ${record.fields.length} fields, the header has ${columns.length}`,
      };
    }
    const values: Record<string, unknown> = {};
    columns.forEach((column, c) => (values[column] = record.fields[c]));
    return { rowNumber, values, error: null };
  });
  return { columns, rows };
}

interface DelimitedRecord {
  fields: string[];
  /** 1-based source line where the record starts. */
  line: number;
}

function splitRecords(text: string, delimiter: string): DelimitedRecord[] {
  // Whole fields are sliced out (indexOf for quotes, a char-code scan otherwise) rather than built char by char.
  const records: DelimitedRecord[] = [];
  const length = text.length;
  let at = 0;
  let line = 1;
  while (at < length) {
    // Blank lines between records are skipped.
    if (text[at] === '\n' || text[at] === '\r') {
      if (text[at] === '\r' && text[at + 1] === '\n') at++;
      at++;
      line++;
      continue;
    }
    const recordLine = line;
    const fields: string[] = [];
    for (;;) {
      let field: string;
      if (text[at] === '"') {
        const parts: string[] = [];
        let from = at + 1;
        for (;;) {
          const quote = text.indexOf('"', from);
          if (quote < 0) throw new Error(`unterminated quoted field starting on line ${recordLine}`);
          parts.push(text.slice(from, quote));
          if (text[quote + 1] === '"') {
            parts.push('"');
            from = quote + 2;
          } else {
            at = quote + 1;
            break;
          }
        }
        field = parts.join('');
        line += countNewlines(field);
        // Lenient: text between a closing quote and the next delimiter is kept.
        const end = fieldEnd(text, at, delimiter);
        field += text.slice(at, end);
        at = end;
      } else {
        const end = fieldEnd(text, at, delimiter);
        field = text.slice(at, end);
        at = end;
      }
      fields.push(field);
      if (at < length && text[at] === delimiter) {
        at++;
        continue;
      }
      break;
    }
    records.push({ fields, line: recordLine });
    if (at < length) {
      if (text[at] === '\r' && text[at + 1] === '\n') at++;
      at++;
      line++;
    }
  }
  return records;
}

/** Index of the next delimiter, CR or LF at or after `from` (or the text length). */
function fieldEnd(text: string, from: number, delimiter: string): number {
  const stop = delimiter.charCodeAt(0);
  let i = from;
  for (; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === stop || code === 10 || code === 13) break;
  }
  return i;
}

function countNewlines(text: string): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) count++;
  return count;
}

/** One JSON object per line; blank lines are skipped; a line that is not a JSON object is an error row. */
export function parseJsonl(text: string): Table {
  const columns = new Set<string>();
  const rows: TableRow[] = [];
  const lines = withoutBom(text).split('\n');
  lines.forEach((lineText, index) => {
    if (lineText.trim().length === 0) return;
    const rowNumber = rows.length + 1;
    try {
      const parsed: unknown = JSON.parse(lineText);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        rows.push({ rowNumber, values: null, error: `line ${index + 1}: not a JSON object` });
        return;
      }
      const values = parsed as Record<string, unknown>;
      Object.keys(values).forEach((key) => columns.add(key));
      rows.push({ rowNumber, values, error: null });
    } catch (error) {
      rows.push({ rowNumber, values: null, error: `line ${index + 1}: invalid JSON (${(error as Error).message})` });
    }
  });
  return { columns: [...columns], rows };
}

/** An open Parquet file: metadata parsed once, rows read on demand. */
export interface ParquetFile {
  path: string;
  file: AsyncBuffer;
  metadata: FileMetaData;
  columns: string[];
  /** Physical type of each top-level column (e.g. BYTE_ARRAY), and whether it is annotated as text. */
  columnTypes: Map<string, { physical: string | undefined; text: boolean }>;
  rowCount: number;
  /** Row ranges of the row groups, so callers can read a group at a time (bounded memory). */
  rowGroups: { rowStart: number; rowEnd: number }[];
}

export async function openParquet(path: string): Promise<ParquetFile> {
  const file = await asyncBufferFromFile(path);
  const metadata = await parquetMetadataAsync(file);
  const schema = parquetSchema(metadata);
  const columnTypes = new Map<string, { physical: string | undefined; text: boolean }>();
  for (const child of schema.children) {
    const element = child.element;
    const text =
      element.converted_type === 'UTF8' || element.converted_type === 'JSON' || element.logical_type?.type === 'STRING';
    columnTypes.set(element.name, { physical: element.type, text });
  }
  const rowGroups: { rowStart: number; rowEnd: number }[] = [];
  let start = 0;
  for (const group of metadata.row_groups) {
    const end = start + Number(group.num_rows);
    rowGroups.push({ rowStart: start, rowEnd: end });
    start = end;
  }
  return { path, file, metadata, columns: [...columnTypes.keys()], columnTypes, rowCount: start, rowGroups };
}

/**
 * Reads rows [rowStart, rowEnd) of the given columns. Text columns come back as strings;
 * unannotated BYTE_ARRAY columns (image bytes) as Uint8Array.
 */
export async function readParquetRows(
  parquet: ParquetFile,
  range: { columns?: string[]; rowStart?: number; rowEnd?: number },
): Promise<Record<string, unknown>[]> {
  const rows = await parquetReadObjects({
    file: parquet.file,
    metadata: parquet.metadata,
    columns: range.columns,
    rowStart: range.rowStart,
    rowEnd: range.rowEnd,
    utf8: false,
  });
  return rows.map((row) => {
    const values: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(row)) values[key] = value as unknown;
    return values;
  });
}

async function readParquetTable(path: string, columns: string[] | undefined): Promise<Table> {
  const parquet = await openParquet(path);
  const wanted = columns?.filter((column) => parquet.columns.includes(column));
  const rows: TableRow[] = [];
  for (const group of parquet.rowGroups) {
    const values = await readParquetRows(parquet, { columns: wanted, ...group });
    for (const row of values) rows.push({ rowNumber: rows.length + 1, values: row, error: null });
  }
  return { columns: parquet.columns, rows };
}

/** A cell as caption/path text: strings as they are, bytes as UTF-8, numbers and bigints in decimal; missing → null. */
export function cellText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return decodeUtf8(value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** The first column of `candidates` (case-insensitive) present in `columns`, in candidate order. */
export function guessColumn(columns: readonly string[], candidates: readonly string[]): string | null {
  for (const candidate of candidates) {
    const found = columns.find((column) => column.toLowerCase() === candidate);
    if (found !== undefined) return found;
  }
  return null;
}

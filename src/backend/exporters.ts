/**
 * Exports of a results folder (shared by the worker's `export` message and `backdoor-scan export`). All atomic.
 *
 * - csv / jsonl / parquet: every result row (scan columns).
 * - deletion-list: the samples in `excludeIds` (the ones the user marked), with the files each one owns.
 *   JSONL {"id","image","files":[dataset-relative],"absoluteFiles":[…],"container"}; a `.txt` target gets one absolute
 *   path per line instead (for `xargs rm`). Samples inside a shared container (tar, parquet, manifest row) list the
 *   container, since removing them means rewriting that file.
 * - clean-manifest: CSV `image,caption` of every kept sample (not excluded, not an error row), dataset-relative paths.
 * - safe-set: JSONL of kept samples that SafeCLIP calls safe (safe = true): {"id","image","caption","positives":[…],
 *   "negatives":[…]} with seeded EDA-style positive and counterfactual negative sub-captions (src/core/augment.ts),
 *   meant to feed CleanCLIP / TA-Cleaner-style fine-tuning.
 */
import { join } from 'node:path';
import { augmentCaption } from '../core/augment';
import type { SampleResult } from '../core/types';
import { assertNever } from '../protocol/assertNever';
import type { ExportFormat } from '../protocol/backend';
import { csvLines, sampleResultsTable, writeLinesAtomic, writeTable, type Table } from './output';
import { readResultRows, readSampleRecords, readSummary, type SampleRecord } from './resultsFolder';

export interface ExportOptions {
  /** Ids the user marked for removal: listed by deletion-list, left out of clean-manifest and safe-set. */
  excludeIds?: readonly string[];
  /** Seed of the caption augmentations (safe-set). */
  seed?: number;
}

export interface ExportResult {
  outPath: string;
  rowCount: number;
}

export async function exportResults(resultsDir: string, format: ExportFormat, outPath: string, options: ExportOptions = {}): Promise<ExportResult> {
  const excluded = new Set(options.excludeIds ?? []);
  switch (format) {
    case 'csv':
    case 'jsonl':
    case 'parquet': {
      const rows = await readResultRows(resultsDir);
      await writeTable(outPath, format, sampleResultsTable(rows));
      return { outPath, rowCount: rows.length };
    }
    case 'deletion-list': {
      const summary = await readSummary(resultsDir);
      const records = (await readSampleRecords(resultsDir)).filter((r) => excluded.has(r.id));
      const asPaths = outPath.toLowerCase().endsWith('.txt');
      const lines = asPaths ? deletionPaths(summary.dataset, records) : records.map((r) => JSON.stringify(deletionEntry(summary.dataset, r)));
      await writeLinesAtomic(outPath, lines);
      return { outPath, rowCount: records.length };
    }
    case 'clean-manifest': {
      const kept = keptRows(await readResultRows(resultsDir), excluded);
      const table: Table = {
        columns: [
          { name: 'image', type: 'STRING', values: kept.map((r) => r.image) },
          { name: 'caption', type: 'STRING', values: kept.map((r) => r.caption) },
        ],
        jsonRows: () => kept.map((r) => ({ image: r.image, caption: r.caption })),
      };
      await writeLinesAtomic(outPath, csvLines(table));
      return { outPath, rowCount: kept.length };
    }
    case 'safe-set': {
      const safe = keptRows(await readResultRows(resultsDir), excluded).filter((r) => r.safe === true);
      const seed = options.seed ?? 0;
      await writeLinesAtomic(
        outPath,
        safe.map((r) => {
          const augmentations = r.caption !== null ? augmentCaption(r.caption, seed) : { positives: [], negatives: [] };
          return JSON.stringify({ id: r.id, image: r.image, caption: r.caption, ...augmentations });
        }),
      );
      return { outPath, rowCount: safe.length };
    }
    default:
      return assertNever(format, 'export format');
  }
}

function keptRows(rows: readonly SampleResult[], excluded: ReadonlySet<string>): SampleResult[] {
  return rows.filter((r) => r.error === null && !excluded.has(r.id));
}

function deletionEntry(datasetRoot: string, record: SampleRecord): Record<string, unknown> {
  return {
    id: record.id,
    image: record.image,
    files: record.files,
    absoluteFiles: record.files.map((f) => join(datasetRoot, f)),
    container: record.container,
  };
}

function* deletionPaths(datasetRoot: string, records: readonly SampleRecord[]): Iterable<string> {
  const seen = new Set<string>();
  for (const record of records) {
    for (const file of record.files) {
      const absolute = join(datasetRoot, file);
      if (!seen.has(absolute)) {
        seen.add(absolute);
        yield absolute;
      }
    }
  }
}

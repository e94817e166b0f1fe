/**
 * A scan as the panel host owns it: the summary, the result rows, and the per-sample records deletion needs, read from
 * the results folder the backend wrote (the host's own cache, never from a webview message). Free of vscode.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { readResultRows, readSampleRecords, readSummary } from '../../backend/resultsFolder';
import type { SampleResult } from '../../core/types';
import { RESULTS_FILES, type ExportFormat, type ScanSummary } from '../../protocol/backend';
import type { DeletionRow } from './deletion';

export interface OwnedScan {
  dataset: string;
  resultsDir: string;
  summary: ScanSummary;
  rows: SampleResult[];
  /** id → what deletion may touch for that sample. */
  deletionRows: Map<string, DeletionRow>;
}

export async function loadOwnedScan(resultsDir: string): Promise<OwnedScan> {
  const summary = await readSummary(resultsDir);
  const rows = await readResultRows(resultsDir);
  const deletionRows = new Map<string, DeletionRow>();
  for (const row of rows) deletionRows.set(row.id, { id: row.id, image: row.image });
  // samples.jsonl (newer pipelines) names the files each sample owns and its container; prefer it when present.
  const hasSamples = await access(join(resultsDir, RESULTS_FILES.samples)).then(
    () => true,
    () => false,
  );
  if (hasSamples) {
    for (const record of await readSampleRecords(resultsDir)) {
      if (deletionRows.has(record.id)) deletionRows.set(record.id, { id: record.id, image: record.image, files: record.files, container: record.container });
    }
  }
  return { dataset: summary.dataset, resultsDir, summary, rows, deletionRows };
}

/** Rows still in the dataset (deleted samples are hidden until undone). */
export function visibleRows(scan: OwnedScan, deleted: ReadonlySet<string>): SampleResult[] {
  return deleted.size === 0 ? scan.rows : scan.rows.filter((row) => !deleted.has(row.id));
}

/** File name suffix per export format, matching what the backend's exporters write. */
export const EXPORT_SUFFIX: Record<ExportFormat, string> = {
  csv: 'scores.csv',
  jsonl: 'scores.jsonl',
  parquet: 'scores.parquet',
  'deletion-list': 'deletion-list.jsonl',
  'clean-manifest': 'clean.csv',
  'safe-set': 'safe-set.jsonl',
};

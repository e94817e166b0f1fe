/**
 * `eval`: joins a scores file (from `score` or `scan`: JSONL, CSV or Parquet) with labels (.npy of 0/1, or a table with
 * an index/id column and a label column) and computes AUROC, PR-AUC and FPR@95%TPR per detector.
 * Every detector is ranked so that higher = more suspicious: clipScore by −cos, safeProbability by −p.
 */
import { extname } from 'node:path';
import { auroc, fprAtTpr, prAuc } from '../core/metrics';
import { SCORE_KEYS, suspicionOf } from '../core/types';
import { readTable, type TableRow } from '../backend/tabular';
import { CliFailure } from './args';
import { readNpyFile } from './embeddingsFile';

export const EVAL_KEYS = [...SCORE_KEYS, 'safeProbability'] as const;
export type EvalKey = (typeof EVAL_KEYS)[number];

export interface ScoredRow {
  /** Row position in the file. */
  position: number;
  index: number | null;
  id: string | null;
  values: Partial<Record<EvalKey, number | null>>;
}

export interface DetectorMetrics {
  detector: EvalKey;
  auroc: number | null;
  prAuc: number | null;
  fprAt95Tpr: number | null;
  /** Rows with a value for this detector, and the poisoned ones among them. */
  count: number;
  positives: number;
}

function numberOrNull(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

function integerOrNull(value: unknown): number | null {
  const n = numberOrNull(value);
  return n !== null && Number.isInteger(n) ? n : null;
}

function okRows(rows: TableRow[], path: string): Record<string, unknown>[] {
  const broken = rows.find((r) => r.values === null);
  if (broken) throw new CliFailure(`${path}: ${broken.error ?? 'unreadable row'}`);
  return rows.map((r) => r.values as Record<string, unknown>);
}

async function readTableOrFail(path: string, what: string): Promise<{ columns: string[]; rows: Record<string, unknown>[] }> {
  try {
    const table = await readTable(path);
    return { columns: table.columns, rows: okRows(table.rows, path) };
  } catch (error) {
    if (error instanceof CliFailure) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliFailure(`cannot read ${what} ${path}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
}

/** Rows of a `score`/`scan` output. Error rows of a scan have no values and are left out of every metric. */
export async function readScoresFile(path: string): Promise<ScoredRow[]> {
  const { rows } = await readTableOrFail(path, '--scores');
  if (rows.length === 0) throw new CliFailure(`--scores ${path} has no rows.`);
  return rows.map((row, position) => {
    const nested = row.scores !== null && typeof row.scores === 'object' ? (row.scores as Record<string, unknown>) : row;
    const values: ScoredRow['values'] = {};
    for (const key of SCORE_KEYS) if (key in nested) values[key] = numberOrNull(nested[key]);
    if ('safeProbability' in row) values.safeProbability = numberOrNull(row.safeProbability);
    return { position, index: integerOrNull(row.index), id: typeof row.id === 'string' ? row.id : row.id != null ? String(row.id) : null, values };
  });
}

const LABEL_COLUMNS = ['label', 'poisoned', 'is_poisoned', 'poison', 'backdoor', 'y', 'target'];

function labelValue(value: unknown, where: string): 0 | 1 {
  if (value === true || value === 'true' || value === 'True') return 1;
  if (value === false || value === 'false' || value === 'False') return 0;
  const n = numberOrNull(value);
  if (n === 0 || n === 1) return n;
  throw new CliFailure(`${where}: label ${JSON.stringify(value)} is not 0/1.`);
}

export type Labels = { by: 'position'; values: Uint8Array } | { by: 'index'; values: Map<number, 0 | 1> } | { by: 'id'; values: Map<string, 0 | 1> };

export async function readLabels(path: string): Promise<Labels> {
  if (extname(path).toLowerCase() === '.npy') {
    const array = await readNpyFile(path, '--labels');
    if (array.shape.length !== 1 && !(array.shape.length === 2 && array.shape[1] === 1)) {
      throw new CliFailure(`--labels ${path}: shape (${array.shape.join(', ')}); expected a 1-D array of 0/1.`);
    }
    const values = new Uint8Array(array.values.length);
    for (let i = 0; i < values.length; i++) values[i] = labelValue(array.values[i], `--labels ${path} row ${i}`);
    return { by: 'position', values };
  }
  const { columns, rows } = await readTableOrFail(path, '--labels');
  const labelColumn = LABEL_COLUMNS.find((c) => columns.includes(c)) ?? columns.filter((c) => c !== 'id' && c !== 'index').at(-1);
  if (labelColumn === undefined) throw new CliFailure(`--labels ${path}: no label column (looked for ${LABEL_COLUMNS.join(', ')}).`);
  if (columns.includes('id')) {
    const values = new Map<string, 0 | 1>();
    rows.forEach((row, i) => values.set(String(row.id), labelValue(row[labelColumn], `--labels ${path} row ${i + 1}`)));
    return { by: 'id', values };
  }
  if (columns.includes('index')) {
    const values = new Map<number, 0 | 1>();
    rows.forEach((row, i) => {
      const index = integerOrNull(row.index);
      if (index === null) throw new CliFailure(`--labels ${path} row ${i + 1}: index ${JSON.stringify(row.index)} is not an integer.`);
      values.set(index, labelValue(row[labelColumn], `--labels ${path} row ${i + 1}`));
    });
    return { by: 'index', values };
  }
  throw new CliFailure(`--labels ${path}: needs an "id" or "index" column next to "${labelColumn}".`);
}

/** The label of each scores row, or throws when they cannot be matched. */
export function matchLabels(rows: readonly ScoredRow[], labels: Labels): Uint8Array {
  const out = new Uint8Array(rows.length);
  let missing = 0;
  let firstMissing = '';
  rows.forEach((row, i) => {
    let label: number | undefined;
    if (labels.by === 'position') {
      const at = row.index ?? row.position;
      label = at < labels.values.length ? labels.values[at] : undefined;
    } else if (labels.by === 'index') {
      label = labels.values.get(row.index ?? row.position);
    } else {
      label = row.id !== null ? labels.values.get(row.id) : undefined;
    }
    // Error rows (no values at all) take part in no metric, so they need no label.
    const hasValues = Object.values(row.values).some((v) => typeof v === 'number');
    if (label === undefined && hasValues) {
      if (missing === 0) firstMissing = row.id ?? String(row.index ?? row.position);
      missing += 1;
    } else {
      out[i] = label ?? 0;
    }
  });
  if (missing > 0) {
    const hint = labels.by === 'id' ? 'label ids must match the scan ids' : 'labels are matched by row index';
    throw new CliFailure(`${missing} scored row(s) have no label (first: ${firstMissing}); ${hint}.`);
  }
  if (labels.by === 'position' && labels.values.length !== rows.length && rows.every((r) => r.index === null)) {
    throw new CliFailure(`${labels.values.length} labels for ${rows.length} scored rows.`);
  }
  return out;
}

function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

export function evaluate(rows: readonly ScoredRow[], labels: Uint8Array): DetectorMetrics[] {
  const metrics: DetectorMetrics[] = [];
  for (const key of EVAL_KEYS) {
    const scores: number[] = [];
    const y: number[] = [];
    rows.forEach((row, i) => {
      const value = row.values[key];
      if (typeof value !== 'number') return;
      // Higher = more suspicious for every ranking; safeProbability is high for safe pairs.
      scores.push(key === 'safeProbability' ? -value : suspicionOf(key, value));
      y.push(labels[i]);
    });
    if (scores.length === 0) continue;
    const positives = y.reduce((a, b) => a + b, 0);
    metrics.push({
      detector: key,
      auroc: finiteOrNull(auroc(scores, y)),
      prAuc: finiteOrNull(prAuc(scores, y)),
      fprAt95Tpr: finiteOrNull(fprAtTpr(scores, y, 0.95)),
      count: scores.length,
      positives,
    });
  }
  return metrics;
}

export function formatMetricsTable(metrics: readonly DetectorMetrics[]): string {
  const fmt = (v: number | null): string => (v === null ? '–' : v.toFixed(4));
  const header = ['detector', 'AUROC', 'PR-AUC', 'FPR@95TPR', 'rows', 'poisoned'];
  const lines = metrics.map((m) => [m.detector, fmt(m.auroc), fmt(m.prAuc), fmt(m.fprAt95Tpr), String(m.count), String(m.positives)]);
  const widths = header.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c].length)));
  const render = (cells: string[]): string => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  return [render(header), render(widths.map((w) => '-'.repeat(w))), ...lines.map(render)].join('\n');
}

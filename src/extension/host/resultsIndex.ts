/**
 * Which results folder belongs to which dataset, and the panel's per-dataset marks and view state, kept in VS Code's
 * workspaceState (passed in as a Memento-like store so that this stays free of vscode and testable).
 */
import { resolve } from 'node:path';
import type { PanelState } from '../../protocol/webview';

export interface MementoLike {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): PromiseLike<void>;
}

export interface ResultsRecord {
  dataset: string;
  resultsDir: string;
  /** From summary.json, to show "last scanned …" without reading the folder. */
  finishedAt: string;
}

const RESULTS_KEY = 'backdoorScanner.results';
const LAST_KEY = 'backdoorScanner.lastDataset';
const MARKS_KEY = 'backdoorScanner.marked';
const STATE_KEY = 'backdoorScanner.panelState';

type ByDataset<T> = Record<string, T>;

export class ResultsIndex {
  constructor(private readonly store: MementoLike) {}

  /** Datasets are keyed by their absolute, normalised path (the caller passes the real path when it has one). */
  static key(dataset: string): string {
    return resolve(dataset);
  }

  get(dataset: string): ResultsRecord | undefined {
    return this.read<ResultsRecord>(RESULTS_KEY)[ResultsIndex.key(dataset)];
  }

  /** The dataset scanned or opened most recently, if its record still exists. */
  last(): ResultsRecord | undefined {
    const dataset = this.store.get<string>(LAST_KEY);
    return dataset === undefined ? undefined : this.get(dataset);
  }

  all(): ResultsRecord[] {
    return Object.values(this.read<ResultsRecord>(RESULTS_KEY)).sort((a, b) => b.finishedAt.localeCompare(a.finishedAt));
  }

  async record(dataset: string, resultsDir: string, finishedAt: string): Promise<void> {
    const key = ResultsIndex.key(dataset);
    await this.write(RESULTS_KEY, key, { dataset: key, resultsDir, finishedAt });
    await this.touch(key);
  }

  async touch(dataset: string): Promise<void> {
    await this.store.update(LAST_KEY, ResultsIndex.key(dataset));
  }

  async forget(dataset: string): Promise<void> {
    const key = ResultsIndex.key(dataset);
    for (const slot of [RESULTS_KEY, MARKS_KEY, STATE_KEY]) await this.write(slot, key, undefined);
    if (this.store.get<string>(LAST_KEY) === key) await this.store.update(LAST_KEY, undefined);
  }

  marked(dataset: string): string[] {
    return this.read<string[]>(MARKS_KEY)[ResultsIndex.key(dataset)] ?? [];
  }

  async setMarked(dataset: string, ids: readonly string[]): Promise<void> {
    await this.write(MARKS_KEY, ResultsIndex.key(dataset), ids.length > 0 ? [...ids] : undefined);
  }

  panelState(dataset: string): PanelState | undefined {
    return this.read<PanelState>(STATE_KEY)[ResultsIndex.key(dataset)];
  }

  async setPanelState(dataset: string, state: PanelState): Promise<void> {
    await this.write(STATE_KEY, ResultsIndex.key(dataset), state);
  }

  private read<T>(slot: string): ByDataset<T> {
    const value = this.store.get<ByDataset<T>>(slot);
    return typeof value === 'object' && value !== null ? value : {};
  }

  private async write<T>(slot: string, key: string, value: T | undefined): Promise<void> {
    const next: ByDataset<T> = { ...this.read<T>(slot) };
    if (value === undefined) delete next[key];
    else next[key] = value;
    await this.store.update(slot, next);
  }
}

/** Applies a setMarked message to the current marks (order kept, no duplicates). */
export function applyMarks(current: readonly string[], ids: readonly string[], marked: boolean): string[] {
  if (marked) {
    const set = new Set(current);
    const next = [...current];
    for (const id of ids) {
      if (set.has(id)) continue;
      set.add(id);
      next.push(id);
    }
    return next;
  }
  const remove = new Set(ids);
  return current.filter((id) => !remove.has(id));
}

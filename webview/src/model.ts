/**
 * The panel's data model: sorting, flagging, filtering and counting. Pure (no DOM), so it is unit-tested in Node.
 * Flagging goes through src/core/flags.ts so the panel, the Explorer badges and "mark all flagged" always agree.
 */
import { flaggedMask, suspicionThreshold, suspicionValue } from '../../src/core/flags';
import { SCORE_KEYS, suspicionOf, type FlagPolicy, type SampleResult, type ScoreKey } from '../../src/core/types';
import type { PanelState } from '../../src/protocol/webview';

export type PanelFilter = PanelState['filter'];

export const DEFAULT_PANEL_STATE: PanelState = {
  sortBy: 'kdist',
  policy: { kind: 'top-percent', detector: 'kdist', percent: 1 },
  view: 'grid',
  filter: { flaggedOnly: false, riskyOnly: false, errorsOnly: false, markedOnly: false, search: '' },
};

/**
 * Row indices ordered most suspicious first by `key` (so clipScore ascending). Rows without that score come next,
 * error rows last; ties keep dataset order.
 */
export function sortOrder(rows: readonly SampleResult[], key: ScoreKey): Int32Array {
  const suspicion = new Float64Array(rows.length);
  const rank = new Uint8Array(rows.length); // 0 scored, 1 unscored, 2 error
  rows.forEach((row, i) => {
    const value = row.error === null ? suspicionValue(row, key) : null;
    suspicion[i] = value ?? 0;
    rank[i] = row.error !== null ? 2 : value === null ? 1 : 0;
  });
  const order = Array.from({ length: rows.length }, (_, i) => i);
  order.sort((a, b) => rank[a] - rank[b] || (rank[a] === 0 ? suspicion[b] - suspicion[a] : 0) || a - b);
  return Int32Array.from(order);
}

/** The policy's threshold as a raw score of its detector (what the histogram draws), or null when it has none. */
export function rawThreshold(rows: readonly SampleResult[], policy: FlagPolicy): number | null {
  if (policy.kind === 'risky') return null;
  const suspicion = suspicionThreshold(rows, policy);
  if (suspicion === null || !Number.isFinite(suspicion)) return null;
  return suspicionOf(policy.detector, suspicion); // suspicionOf is its own inverse (identity or negation)
}

export interface Histogram {
  min: number;
  max: number;
  counts: Uint32Array;
  /** How many rows had a finite value (the rest have no score for this detector). */
  total: number;
}

export function histogram(rows: readonly SampleResult[], key: ScoreKey, binCount: number): Histogram {
  let min = Infinity;
  let max = -Infinity;
  const values: number[] = [];
  for (const row of rows) {
    const value = row.error === null ? row.scores?.[key] : undefined;
    if (typeof value !== 'number' || !Number.isFinite(value)) continue;
    values.push(value);
    if (value < min) min = value;
    if (value > max) max = value;
  }
  const counts = new Uint32Array(binCount);
  if (values.length === 0) return { min: 0, max: 1, counts, total: 0 };
  if (max === min) max = min + 1;
  const scale = binCount / (max - min);
  for (const value of values) counts[Math.min(binCount - 1, Math.floor((value - min) * scale))] += 1;
  return { min, max, counts, total: values.length };
}

export interface Counts {
  total: number;
  shown: number;
  flagged: number;
  risky: number;
  errors: number;
  marked: number;
}

export class ResultsModel {
  rows: readonly SampleResult[] = [];
  private indexById = new Map<string, number>();
  private order: Int32Array = new Int32Array(0);
  private flags: boolean[] = [];
  private searchText: string[] | null = null;
  /** Visible rows after filtering, as indices into `rows`, in sorted order. */
  visible: Int32Array = new Int32Array(0);
  readonly marked = new Set<string>();
  state: PanelState = structuredClone(DEFAULT_PANEL_STATE);

  setRows(rows: readonly SampleResult[], marked: readonly string[], state: PanelState): void {
    this.rows = rows;
    this.indexById = new Map(rows.map((row, i) => [row.id, i]));
    this.searchText = null;
    this.state = structuredClone(state);
    this.setMarked(marked);
    this.order = sortOrder(rows, this.state.sortBy);
    this.flags = flaggedMask(rows, this.state.policy);
    this.refilter();
  }

  indexOf(id: string): number | undefined {
    return this.indexById.get(id);
  }

  isFlagged(index: number): boolean {
    return this.flags[index] === true;
  }

  isMarked(index: number): boolean {
    return this.marked.has(this.rows[index].id);
  }

  setSortBy(key: ScoreKey): void {
    if (key === this.state.sortBy) return;
    this.state.sortBy = key;
    this.order = sortOrder(this.rows, key);
    this.refilter();
  }

  setPolicy(policy: FlagPolicy): void {
    this.state.policy = policy;
    this.flags = flaggedMask(this.rows, policy);
    this.refilter();
  }

  setFilter(filter: Partial<PanelFilter>): void {
    this.state.filter = { ...this.state.filter, ...filter };
    this.refilter();
  }

  /** Replaces the marked set (the host's 'marked' message is authoritative). Ids the scan does not know are ignored. */
  setMarked(ids: readonly string[]): void {
    this.marked.clear();
    for (const id of ids) if (this.indexById.has(id)) this.marked.add(id);
    if (this.state.filter.markedOnly) this.refilter();
  }

  updateMarked(ids: readonly string[], marked: boolean): void {
    for (const id of ids) {
      if (!this.indexById.has(id)) continue;
      if (marked) this.marked.add(id);
      else this.marked.delete(id);
    }
    if (this.state.filter.markedOnly) this.refilter();
  }

  flaggedIds(): string[] {
    return this.rows.filter((_, i) => this.flags[i]).map((row) => row.id);
  }

  counts(): Counts {
    let flagged = 0;
    let risky = 0;
    let errors = 0;
    this.rows.forEach((row, i) => {
      if (this.flags[i]) flagged += 1;
      if (row.error !== null) errors += 1;
      else if (row.safe === false) risky += 1;
    });
    return { total: this.rows.length, shown: this.visible.length, flagged, risky, errors, marked: this.marked.size };
  }

  /** The threshold the histogram should draw for the current policy, in raw units of the sorted-by detector. */
  displayThreshold(): number | null {
    const policy = this.state.policy;
    if (policy.kind === 'risky' || policy.detector !== this.state.sortBy) return null;
    return rawThreshold(this.rows, policy);
  }

  private searchHaystack(): string[] {
    this.searchText ??= this.rows.map((row) => `${row.id}\n${row.image}\n${row.caption ?? ''}`.toLowerCase());
    return this.searchText;
  }

  private refilter(): void {
    const { flaggedOnly, riskyOnly, errorsOnly, markedOnly, search } = this.state.filter;
    const needle = search.trim().toLowerCase();
    const haystack = needle ? this.searchHaystack() : null;
    if (!flaggedOnly && !riskyOnly && !errorsOnly && !markedOnly && !haystack) {
      this.visible = this.order;
      return;
    }
    const kept: number[] = [];
    for (const i of this.order) {
      const row = this.rows[i];
      if (flaggedOnly && !this.flags[i]) continue;
      if (riskyOnly && !(row.error === null && row.safe === false)) continue;
      if (errorsOnly && row.error === null) continue;
      if (markedOnly && !this.marked.has(row.id)) continue;
      if (haystack && !haystack[i].includes(needle)) continue;
      kept.push(i);
    }
    this.visible = Int32Array.from(kept);
  }
}

const VIEWS: readonly PanelState['view'][] = ['grid', 'table'];

function isScoreKey(value: unknown): value is ScoreKey {
  return typeof value === 'string' && (SCORE_KEYS as readonly string[]).includes(value);
}

function sanitizePolicy(value: unknown, fallbackDetector: ScoreKey): FlagPolicy {
  const policy = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const detector = isScoreKey(policy.detector) ? policy.detector : fallbackDetector;
  if (policy.kind === 'risky') return { kind: 'risky' };
  if (policy.kind === 'threshold' && typeof policy.threshold === 'number' && Number.isFinite(policy.threshold)) {
    return { kind: 'threshold', detector, threshold: policy.threshold };
  }
  const percent = typeof policy.percent === 'number' && Number.isFinite(policy.percent) ? Math.min(100, Math.max(0, policy.percent)) : 1;
  return { kind: 'top-percent', detector, percent };
}

/** A PanelState from storage or the host, with every field checked and defaulted (stored state may be from an older version). */
export function sanitizeState(value: unknown): PanelState {
  const state = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const filter = (typeof state.filter === 'object' && state.filter !== null ? state.filter : {}) as Record<string, unknown>;
  const sortBy = isScoreKey(state.sortBy) ? state.sortBy : DEFAULT_PANEL_STATE.sortBy;
  const flag = (name: keyof Omit<PanelFilter, 'search'>): boolean => filter[name] === true;
  return {
    sortBy,
    policy: sanitizePolicy(state.policy, sortBy),
    view: VIEWS.find((view) => view === state.view) ?? DEFAULT_PANEL_STATE.view,
    filter: {
      flaggedOnly: flag('flaggedOnly'),
      riskyOnly: flag('riskyOnly'),
      errorsOnly: flag('errorsOnly'),
      markedOnly: flag('markedOnly'),
      search: typeof filter.search === 'string' ? filter.search.slice(0, 500) : '',
    },
  };
}

/** Shared result types. Pure data: safe to import from core, backend, extension and webview. */

/** Where the CLIP model and the GEMMs run. 'auto' tries CUDA, then the CPU. */
export type DevicePreference = 'auto' | 'cpu' | 'cuda';
export type Device = 'cuda' | 'cpu';

export const DETECTOR_NAMES = ['kdist', 'lid', 'slof', 'dao', 'iforest', 'clip', 'gmm'] as const;
export type DetectorName = (typeof DETECTOR_NAMES)[number];

/** Score keys in output rows. `clip` yields `clipScore`; `gmm` yields safeProbability/safe, not a score key. */
export const SCORE_KEYS = ['kdist', 'lid', 'slof', 'dao', 'iforest', 'clipScore'] as const;
export type ScoreKey = (typeof SCORE_KEYS)[number];

/** A score that could not be computed is null; the reason goes in `warnings`. */
export type Scores = Partial<Record<ScoreKey, number | null>>;

export type NeighbourMapping = 'correct' | 'released-code';

export interface ScoreOptions {
  k: number; // 16
  lidK: number; // 64
  batchSize: number; // 2048; 0 = one batch of everything
  seed: number; // 0
  detectors: readonly DetectorName[];
  compat: NeighbourMapping;
}

export const DEFAULT_SCORE_OPTIONS: ScoreOptions = {
  k: 16,
  lidK: 64,
  batchSize: 2048,
  seed: 0,
  detectors: DETECTOR_NAMES,
  compat: 'correct',
};

/** One row of `score` output, in input order. */
export interface ScoreRow {
  index: number;
  scores: Scores;
  safeProbability: number | null;
  safe: boolean | null;
  warnings?: string[];
}

/** One row of `scan` output: a dataset sample with its scores, or an error row (error set, no scores). */
export interface SampleResult {
  id: string;
  /** Image path relative to the dataset folder (or a shard/member locator for tars and parquet). */
  image: string;
  caption: string | null;
  error: string | null;
  scores?: Scores;
  safeProbability?: number | null;
  safe?: boolean | null;
  warnings?: string[];
}

/** Higher = more suspicious for every score except clipScore (raw cosine: low is suspicious). */
export function suspicionOf(key: ScoreKey, value: number): number {
  return key === 'clipScore' ? -value : value;
}

/** How the panel and the Explorer decide which samples are flagged. */
export type FlagPolicy =
  | { kind: 'top-percent'; detector: ScoreKey; percent: number }
  | { kind: 'threshold'; detector: ScoreKey; threshold: number }
  | { kind: 'risky' };

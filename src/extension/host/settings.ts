/**
 * Turns the user's `backdoorScanner.*` settings into ScanOptions and a FlagPolicy. Settings are user-editable JSON, so
 * each value is checked and a bad one falls back to the default with a warning (never a crash, never a silent guess).
 */
import { DEFAULT_SCORE_OPTIONS, DETECTOR_NAMES, type DetectorName, type FlagPolicy } from '../../core/types';
import type { DevicePreference, ScanOptions } from '../../protocol/backend';
import { parseFlagPolicy } from '../../protocol/validate';

export const DEFAULT_FLAG_POLICY: FlagPolicy = { kind: 'top-percent', detector: 'dao', percent: 1 };

/** Reads one setting (vscode's WorkspaceConfiguration.get has this shape). */
export type SettingReader = (key: string) => unknown;

export interface ResolvedSettings {
  model: string | undefined;
  cacheDir: string | undefined;
  options: Omit<ScanOptions, 'model' | 'cacheDir'>;
  policy: FlagPolicy;
  warnings: string[];
}

function integerIn(value: unknown, min: number, max: number): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max ? value : undefined;
}

export function resolveSettings(read: SettingReader): ResolvedSettings {
  const warnings: string[] = [];
  const warn = (key: string, fallback: unknown): void => {
    warnings.push(`Setting backdoorScanner.${key} is invalid; using ${JSON.stringify(fallback)}.`);
  };

  const text = (key: string): string | undefined => {
    const value = read(key);
    return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
  };

  const rawDevice = read('device') ?? 'auto';
  const device: DevicePreference = rawDevice === 'cpu' || rawDevice === 'cuda' || rawDevice === 'auto' ? rawDevice : 'auto';
  if (device !== rawDevice) warn('device', device);

  const rawBatch = read('batchSize') ?? DEFAULT_SCORE_OPTIONS.batchSize;
  const batchSize = integerIn(rawBatch, 0, 10_000_000) ?? DEFAULT_SCORE_OPTIONS.batchSize;
  if (batchSize !== rawBatch) warn('batchSize', batchSize);

  const rawK = read('k') ?? DEFAULT_SCORE_OPTIONS.k;
  const k = integerIn(rawK, 1, 1024) ?? DEFAULT_SCORE_OPTIONS.k;
  if (k !== rawK) warn('k', k);

  const rawDetectors = read('detectors') ?? [...DETECTOR_NAMES];
  let detectors: DetectorName[] = [...DETECTOR_NAMES];
  if (Array.isArray(rawDetectors) && rawDetectors.length > 0 && rawDetectors.every((d) => (DETECTOR_NAMES as readonly unknown[]).includes(d))) {
    detectors = [...new Set(rawDetectors as DetectorName[])];
  } else {
    warn('detectors', detectors);
  }

  let policy = DEFAULT_FLAG_POLICY;
  const rawPolicy = read('flagPolicy');
  if (rawPolicy !== undefined && rawPolicy !== null) {
    try {
      // Settings objects from VS Code are proxies; a JSON round trip gives the validator a plain object.
      policy = parseFlagPolicy(JSON.parse(JSON.stringify(rawPolicy)), 'flagPolicy');
    } catch {
      warn('flagPolicy', DEFAULT_FLAG_POLICY);
    }
  }

  return {
    model: text('model'),
    cacheDir: text('cacheDirectory'),
    options: {
      device,
      batchSize,
      k,
      lidK: DEFAULT_SCORE_OPTIONS.lidK,
      seed: DEFAULT_SCORE_OPTIONS.seed,
      detectors,
      compat: DEFAULT_SCORE_OPTIONS.compat,
    },
    policy,
    warnings,
  };
}

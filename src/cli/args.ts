/** Argument parsing shared by every subcommand: node:util parseArgs, with errors that say what to do. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DETECTOR_NAMES, type DetectorName, type NeighbourMapping } from '../core/types';
import type { DevicePreference } from '../protocol/backend';

/** Bad usage: the user typed something we cannot run. Exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A failure the user can act on (bad input file, missing model, …). Exit code 1, message without a stack. */
export class CliFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliFailure';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;
export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** parseArgs in strict mode, with its errors turned into UsageError naming the command. */
export function parseCommandArgs(command: string, argv: string[], options: Options, allowPositionals = false): Parsed {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true });
    return { values: values as Parsed['values'], positionals };
  } catch (error) {
    const message = error instanceof Error ? error.message.replace(/\. To specify a positional argument.*$/s, '.') : String(error);
    throw new UsageError(message, command);
  }
}

export function stringOption(parsed: Parsed, name: string): string | undefined {
  const value = parsed.values[name];
  return typeof value === 'string' ? value : undefined;
}

export function requiredString(parsed: Parsed, name: string, command: string): string {
  const value = stringOption(parsed, name);
  if (value === undefined || value === '') throw new UsageError(`--${name} is required.`, command);
  return value;
}

export function flag(parsed: Parsed, name: string): boolean {
  return parsed.values[name] === true;
}

/** A non-negative integer option (or positive when min is 1), with a message that names the flag. */
export function integerOption(parsed: Parsed, name: string, fallback: number, command: string, min = 0): number {
  const raw = stringOption(parsed, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${raw}".`, command);
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${raw}".`, command);
  return value;
}

export function numberOption(parsed: Parsed, name: string, command: string, range: { min: number; max: number }): number | undefined {
  const raw = stringOption(parsed, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < range.min || value > range.max) {
    throw new UsageError(`--${name} must be a number in [${range.min}, ${range.max}], got "${raw}".`, command);
  }
  return value;
}

export function detectorsOption(parsed: Parsed, command: string): DetectorName[] {
  const raw = stringOption(parsed, 'detectors');
  if (raw === undefined) return [...DETECTOR_NAMES];
  const names = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const unknown = names.filter((n) => !(DETECTOR_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0 || names.length === 0) {
    throw new UsageError(`--detectors: unknown detector(s) ${unknown.map((u) => `"${u}"`).join(', ') || '(none given)'}; choose from ${DETECTOR_NAMES.join(',')}.`, command);
  }
  return [...new Set(names)] as DetectorName[];
}

export function compatOption(parsed: Parsed, command: string): NeighbourMapping {
  const raw = stringOption(parsed, 'compat');
  if (raw === undefined || raw === 'correct') return 'correct';
  if (raw === 'released-code') return 'released-code';
  throw new UsageError(`--compat must be "released-code" (or "correct", the default), got "${raw}".`, command);
}

export function deviceOption(parsed: Parsed, command: string): DevicePreference {
  const raw = stringOption(parsed, 'device') ?? 'auto';
  if (raw === 'auto' || raw === 'cpu' || raw === 'cuda') return raw;
  throw new UsageError(`--device must be auto, cpu or cuda, got "${raw}".`, command);
}

/** Options every scoring command shares (score, scan). */
export const SCORING_OPTIONS: Options = {
  k: { type: 'string' },
  'lid-k': { type: 'string' },
  'batch-size': { type: 'string' },
  seed: { type: 'string' },
  detectors: { type: 'string' },
  compat: { type: 'string' },
  device: { type: 'string' },
  out: { type: 'string', short: 'o' },
};

/**
 * Validation of messages from the extension host. The host is trusted, but a stale or buggy host must get a clear
 * `failed` reply, never a crashed worker: every field is checked before a handler sees the message.
 */
import { DETECTOR_NAMES, type DetectorName } from '../core/types';
import { EXPORT_FORMATS, type ExportFormat, type HostToBackend, type ScanOptions } from '../protocol/backend';

export type HostMessageParse = { ok: true; message: HostToBackend } | { ok: false; requestId: string | null; reason: string };

const MAX_IDS = 100_000;

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

class Invalid extends Error {}

function str(record: Record<string, unknown>, key: string): string {
  const value = record[key];
  if (typeof value !== 'string' || value.length === 0) throw new Invalid(`${key} must be a non-empty string`);
  return value;
}

function optionalStr(record: Record<string, unknown>, key: string): string | undefined {
  const value = record[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new Invalid(`${key} must be a string`);
  return value;
}

function int(record: Record<string, unknown>, key: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = record[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new Invalid(`${key} must be an integer in [${min}, ${max}]`);
  return value;
}

function stringList(record: Record<string, unknown>, key: string): string[] {
  const value = record[key];
  if (!Array.isArray(value) || value.length > MAX_IDS || !value.every((v) => typeof v === 'string')) {
    throw new Invalid(`${key} must be an array of at most ${MAX_IDS} strings`);
  }
  return value as string[];
}

function scanOptions(value: unknown): ScanOptions {
  if (!isRecord(value)) throw new Invalid('options must be an object');
  const device = value.device;
  if (device !== 'auto' && device !== 'cpu' && device !== 'cuda') throw new Invalid('options.device must be auto, cpu or cuda');
  const compat = value.compat;
  if (compat !== 'correct' && compat !== 'released-code') throw new Invalid('options.compat must be correct or released-code');
  const detectors = value.detectors;
  if (!Array.isArray(detectors) || detectors.length === 0 || !detectors.every((d) => (DETECTOR_NAMES as readonly unknown[]).includes(d))) {
    throw new Invalid(`options.detectors must list some of ${DETECTOR_NAMES.join(', ')}`);
  }
  return {
    model: optionalStr(value, 'model'),
    device,
    batchSize: int(value, 'batchSize', 0),
    k: int(value, 'k', 1, 100_000),
    lidK: int(value, 'lidK', 1, 100_000),
    seed: int(value, 'seed', 0),
    detectors: detectors as DetectorName[],
    compat,
    layout: optionalStr(value, 'layout'),
    manifest: optionalStr(value, 'manifest'),
    imageColumn: optionalStr(value, 'imageColumn'),
    captionColumn: optionalStr(value, 'captionColumn'),
    cacheDir: optionalStr(value, 'cacheDir'),
  };
}

export function parseHostMessage(raw: unknown): HostMessageParse {
  if (!isRecord(raw) || typeof raw.type !== 'string') return { ok: false, requestId: null, reason: 'message is not an object with a type' };
  const requestId = typeof raw.requestId === 'string' ? raw.requestId : null;
  try {
    switch (raw.type) {
      case 'scan':
        return { ok: true, message: { type: 'scan', requestId: str(raw, 'requestId'), dataset: str(raw, 'dataset'), options: scanOptions(raw.options) } };
      case 'cancel':
        return { ok: true, message: { type: 'cancel', requestId: str(raw, 'requestId') } };
      case 'thumbnails':
        return {
          ok: true,
          message: { type: 'thumbnails', requestId: str(raw, 'requestId'), resultsDir: str(raw, 'resultsDir'), sampleIds: stringList(raw, 'sampleIds'), size: int(raw, 'size', 8, 2048) },
        };
      case 'neighbours':
        return {
          ok: true,
          message: { type: 'neighbours', requestId: str(raw, 'requestId'), resultsDir: str(raw, 'resultsDir'), sampleId: str(raw, 'sampleId'), count: int(raw, 'count', 1, 1000) },
        };
      case 'export': {
        const format = raw.format;
        if (!(EXPORT_FORMATS as readonly unknown[]).includes(format)) throw new Invalid(`format must be one of ${EXPORT_FORMATS.join(', ')}`);
        return {
          ok: true,
          message: {
            type: 'export',
            requestId: str(raw, 'requestId'),
            resultsDir: str(raw, 'resultsDir'),
            format: format as ExportFormat,
            excludeIds: stringList(raw, 'excludeIds'),
            outPath: str(raw, 'outPath'),
          },
        };
      }
      case 'shutdown':
        return { ok: true, message: { type: 'shutdown' } };
      default:
        return { ok: false, requestId, reason: `unknown message type ${JSON.stringify(raw.type)}` };
    }
  } catch (error) {
    if (error instanceof Invalid) return { ok: false, requestId, reason: `invalid ${raw.type} message: ${error.message}` };
    throw error;
  }
}

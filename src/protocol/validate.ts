/**
 * Run-time validation of webview→host messages. The webview renders hostile captions and file names, so the host treats
 * every message as untrusted: exact shapes, no extra keys, bounded arrays and strings. Whether an id belongs to the
 * scan the panel owns is checked by the host (it alone knows the scan); this module only checks form.
 */
import { SCORE_KEYS, type ScoreKey } from '../core/types';
import { EXPORT_FORMATS, type ExportFormat } from './backend';
import { assertNever } from './assertNever';
import type { FlagPolicy, PanelState, WebviewToHost } from './webview';

export const MESSAGE_LIMITS = {
  /** Thumbnails are requested for what is visible plus a margin. */
  thumbnailIds: 512,
  /** "Mark all flagged" on a 1,000,000-sample scan at a loose policy stays under this. */
  markedIds: 1_000_000,
  idLength: 4096,
  searchLength: 1000,
} as const;

export type ParseResult = { ok: true; message: WebviewToHost } | { ok: false; reason: string };

type Fields = Record<string, unknown>;

class Invalid extends Error {}

function fail(reason: string): never {
  throw new Invalid(reason);
}

function isPlainObject(value: unknown): value is Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Exactly these keys (own, enumerable), no more and no fewer. */
function expectKeys(value: unknown, what: string, keys: readonly string[]): Fields {
  if (!isPlainObject(value)) fail(`${what} must be an object`);
  const actual = Object.keys(value);
  for (const key of actual) if (!keys.includes(key)) fail(`${what} has an unexpected field '${key.slice(0, 64)}'`);
  for (const key of keys) if (!Object.prototype.hasOwnProperty.call(value, key)) fail(`${what} lacks '${key}'`);
  return value;
}

function expectBoolean(value: unknown, what: string): boolean {
  if (typeof value !== 'boolean') fail(`${what} must be a boolean`);
  return value;
}

function expectFiniteNumber(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(`${what} must be a finite number`);
  return value;
}

function expectString(value: unknown, what: string, maxLength: number): string {
  if (typeof value !== 'string') fail(`${what} must be a string`);
  if (value.length > maxLength) fail(`${what} is longer than ${maxLength} characters`);
  return value;
}

function expectOneOf<T extends string>(value: unknown, what: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) fail(`${what} must be one of ${allowed.join(', ')}`);
  return value as T;
}

/** A sample id: non-empty, bounded, no NUL or other control characters (ids are relative paths or shard/key). */
function expectSampleId(value: unknown, what: string): string {
  const id = expectString(value, what, MESSAGE_LIMITS.idLength);
  if (id.length === 0) fail(`${what} is empty`);
  if (/[\u0000-\u001f\u007f]/.test(id)) fail(`${what} contains control characters`);
  return id;
}

function expectSampleIds(value: unknown, what: string, maxCount: number): string[] {
  if (!Array.isArray(value)) fail(`${what} must be an array`);
  if (value.length > maxCount) fail(`${what} has ${value.length} entries (at most ${maxCount})`);
  const ids: string[] = [];
  for (let index = 0; index < value.length; index++) ids.push(expectSampleId(value[index], `${what}[${index}]`));
  return ids;
}

export function parseFlagPolicy(value: unknown, what = 'policy'): FlagPolicy {
  if (!isPlainObject(value)) fail(`${what} must be an object`);
  const kind = expectOneOf(value.kind, `${what}.kind`, ['top-percent', 'threshold', 'risky'] as const);
  switch (kind) {
    case 'risky':
      expectKeys(value, what, ['kind']);
      return { kind };
    case 'top-percent': {
      expectKeys(value, what, ['kind', 'detector', 'percent']);
      const percent = expectFiniteNumber(value.percent, `${what}.percent`);
      if (percent < 0 || percent > 100) fail(`${what}.percent must be between 0 and 100`);
      return { kind, detector: expectOneOf<ScoreKey>(value.detector, `${what}.detector`, SCORE_KEYS), percent };
    }
    case 'threshold':
      expectKeys(value, what, ['kind', 'detector', 'threshold']);
      return {
        kind,
        detector: expectOneOf<ScoreKey>(value.detector, `${what}.detector`, SCORE_KEYS),
        threshold: expectFiniteNumber(value.threshold, `${what}.threshold`),
      };
    default:
      return assertNever(kind, 'flag policy kind');
  }
}

export function parsePanelState(value: unknown): PanelState {
  const fields = expectKeys(value, 'state', ['sortBy', 'policy', 'view', 'filter']);
  const filter = expectKeys(fields.filter, 'state.filter', ['flaggedOnly', 'riskyOnly', 'errorsOnly', 'markedOnly', 'search']);
  return {
    sortBy: expectOneOf<ScoreKey>(fields.sortBy, 'state.sortBy', SCORE_KEYS),
    policy: parseFlagPolicy(fields.policy, 'state.policy'),
    view: expectOneOf(fields.view, 'state.view', ['grid', 'table'] as const),
    filter: {
      flaggedOnly: expectBoolean(filter.flaggedOnly, 'state.filter.flaggedOnly'),
      riskyOnly: expectBoolean(filter.riskyOnly, 'state.filter.riskyOnly'),
      errorsOnly: expectBoolean(filter.errorsOnly, 'state.filter.errorsOnly'),
      markedOnly: expectBoolean(filter.markedOnly, 'state.filter.markedOnly'),
      search: expectString(filter.search, 'state.filter.search', MESSAGE_LIMITS.searchLength),
    },
  };
}

const MESSAGE_TYPES = [
  'ready',
  'requestThumbnails',
  'requestNeighbours',
  'setMarked',
  'applyDeletions',
  'undoDeletion',
  'export',
  'saveState',
  'rescan',
] as const satisfies readonly WebviewToHost['type'][];

function parseOrThrow(raw: unknown): WebviewToHost {
  if (!isPlainObject(raw)) fail('message must be an object');
  const type = expectOneOf(raw.type, 'type', MESSAGE_TYPES);
  switch (type) {
    case 'ready':
    case 'applyDeletions':
    case 'undoDeletion':
    case 'rescan':
      expectKeys(raw, type, ['type']);
      return { type };
    case 'requestThumbnails':
      expectKeys(raw, type, ['type', 'ids']);
      return { type, ids: expectSampleIds(raw.ids, 'ids', MESSAGE_LIMITS.thumbnailIds) };
    case 'requestNeighbours':
      expectKeys(raw, type, ['type', 'id']);
      return { type, id: expectSampleId(raw.id, 'id') };
    case 'setMarked':
      expectKeys(raw, type, ['type', 'ids', 'marked']);
      return { type, ids: expectSampleIds(raw.ids, 'ids', MESSAGE_LIMITS.markedIds), marked: expectBoolean(raw.marked, 'marked') };
    case 'export':
      expectKeys(raw, type, ['type', 'format']);
      return { type, format: expectOneOf<ExportFormat>(raw.format, 'format', EXPORT_FORMATS) };
    case 'saveState':
      expectKeys(raw, type, ['type', 'state']);
      return { type, state: parsePanelState(raw.state) };
    default:
      return assertNever(type, 'message type');
  }
}

/** Validates one webview→host message. Never throws; an invalid message yields a reason (safe to log: it is bounded). */
export function parseWebviewMessage(raw: unknown): ParseResult {
  try {
    return { ok: true, message: parseOrThrow(raw) };
  } catch (error) {
    if (error instanceof Invalid) return { ok: false, reason: error.message };
    // A hostile object can throw from a getter or proxy trap; refuse it rather than crash the host.
    return { ok: false, reason: 'message could not be read' };
  }
}

/**
 * Host-side ownership check: every id must belong to the scan the panel shows. Ids are compared exactly, so a path
 * (absolute, with '..', or any file that is not a scanned sample) is an unknown id and refused.
 */
export function findUnknownIds(ids: readonly string[], known: ReadonlySet<string>, limit = 5): string[] {
  const unknown: string[] = [];
  for (const id of ids) {
    if (!known.has(id)) {
      unknown.push(id.length > 200 ? `${id.slice(0, 200)}…` : id);
      if (unknown.length >= limit) break;
    }
  }
  return unknown;
}

/** The sample ids a message refers to: each must belong to the scan the panel owns before the host acts on it. */
export function sampleIdsNamedBy(message: WebviewToHost): readonly string[] {
  switch (message.type) {
    case 'requestThumbnails':
    case 'setMarked':
      return message.ids;
    case 'requestNeighbours':
      return [message.id];
    case 'ready':
    case 'applyDeletions':
    case 'undoDeletion':
    case 'export':
    case 'saveState':
    case 'rescan':
      return [];
    default:
      return assertNever(message, 'webview message');
  }
}

/** Building blocks shared by the readers: file-backed samples, error rows, unique ids, small-file reads. */
import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { extname, posix, sep } from 'node:path';
import { resolveInsideRoot } from '../safePath';
import { decodeUtf8 } from '../tabular';
import type { SampleSource } from './types';

export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set([
  '.jpg',
  '.jpeg',
  '.png',
  '.webp',
  '.gif',
  '.bmp',
  '.tif',
  '.tiff',
]);

/** Caption files and JSON sidecars larger than this are hostile or mistaken; they become an error row, not a 1 GB string. */
export const MAX_SIDECAR_BYTES = 1 << 20;

export function isImageName(name: string): boolean {
  return IMAGE_EXTENSIONS.has(extname(name).toLowerCase());
}

/** Code-unit order: the same on every machine and locale, so sample order and ids are stable. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Dataset-relative path with forward slashes, whatever the platform. */
export function toPosix(relativePath: string): string {
  return sep === '/' ? relativePath : relativePath.split(sep).join('/');
}

/** Looks like a URL rather than a path (manifests often hold the download URL). */
export function isUrl(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value);
}

/**
 * Hands out unique ids in enumeration order: the first claimant keeps the natural id, later ones get `#2`, `#3`, …
 * Deterministic because enumeration order is.
 */
export class IdAllocator {
  private readonly used = new Set<string>();

  take(base: string): string {
    let id = base;
    for (let n = 2; this.used.has(id); n++) id = `${base}#${n}`;
    this.used.add(id);
    return id;
  }
}

export function errorSample(
  fields: { id: string; image: string; caption: string | null; container?: SampleSource['container'] },
  reason: string,
): SampleSource {
  return {
    id: fields.id,
    image: fields.image,
    caption: fields.caption,
    error: reason,
    contentKey: '',
    readImage: () => Promise.reject(new Error(`sample ${fields.id} is an error row: ${reason}`)),
    ownedFiles: [],
    container: fields.container ?? null,
  };
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

/** A clear, short reason for a failed file access. */
export function describeFileError(error: unknown): string {
  switch (errorCode(error)) {
    case 'ENOENT':
    case 'ENOTDIR':
      return 'missing file';
    case 'EACCES':
    case 'EPERM':
      return 'unreadable: permission denied';
    case 'EISDIR':
      return 'not a file (a directory)';
    default:
      return `unreadable: ${(error as Error).message}`;
  }
}

/**
 * A sample whose image is a file in the dataset. The path is checked for containment first; a missing, empty,
 * non-regular or unreadable file becomes an error row. `ownedExtras` are sidecar files deleted along with the image.
 */
export async function fileSample(fields: {
  root: string;
  id: string;
  /** Dataset-relative image path as written in the dataset (untrusted). */
  imagePath: string;
  caption: string | null;
  ownedExtras?: string[];
  /** False when the image file is not the sample's alone (e.g. several manifest rows name it). */
  ownsImage?: boolean;
  container?: SampleSource['container'];
}): Promise<SampleSource> {
  const base = { id: fields.id, image: fields.imagePath, caption: fields.caption, container: fields.container };
  const resolved = await resolveInsideRoot(fields.root, fields.imagePath);
  if (!resolved.ok) return errorSample(base, resolved.reason);
  const absolute = resolved.absolute;
  let size: number;
  let mtimeMs: number;
  try {
    const info = await stat(absolute);
    if (!info.isFile()) return errorSample(base, info.isDirectory() ? 'not a file (a directory)' : 'not a regular file');
    size = info.size;
    mtimeMs = info.mtimeMs;
    await access(absolute, constants.R_OK);
  } catch (error) {
    return errorSample(base, describeFileError(error));
  }
  if (size === 0) return errorSample(base, 'empty file (0 bytes)');
  const ownedFiles = [...(fields.ownsImage === false ? [] : [fields.imagePath]), ...(fields.ownedExtras ?? [])];
  return {
    ...base,
    container: fields.container ?? null,
    error: null,
    contentKey: `file:${size}:${mtimeMs}`,
    readImage: async () => {
      let bytes: Buffer;
      try {
        bytes = await readFile(absolute);
      } catch (error) {
        throw new Error(`${fields.imagePath}: ${describeFileError(error)}`);
      }
      if (bytes.length === 0) throw new Error(`${fields.imagePath}: empty file (0 bytes)`);
      return bytes;
    },
    ownedFiles,
  };
}

export type SmallFileResult = { ok: true; text: string } | { ok: false; missing: boolean; reason: string };

/** Reads a small dataset text file (caption, JSON sidecar) after the containment check, with a size cap. */
export async function readSmallText(root: string, relativePath: string): Promise<SmallFileResult> {
  const resolved = await resolveInsideRoot(root, relativePath);
  if (!resolved.ok) return { ok: false, missing: false, reason: `${relativePath}: ${resolved.reason}` };
  try {
    const info = await stat(resolved.absolute);
    if (!info.isFile()) return { ok: false, missing: false, reason: `${relativePath}: not a regular file` };
    if (info.size > MAX_SIDECAR_BYTES) {
      return { ok: false, missing: false, reason: `${relativePath}: ${info.size} bytes, more than the ${MAX_SIDECAR_BYTES}-byte limit` };
    }
    return { ok: true, text: decodeUtf8(await readFile(resolved.absolute)) };
  } catch (error) {
    const missing = errorCode(error) === 'ENOENT';
    return { ok: false, missing, reason: `${relativePath}: ${describeFileError(error)}` };
  }
}

/** Parses a JSON object, or null when it is not one. */
export function parseJsonObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

/** posix.normalize without a leading "./", so "./a/b.jpg" and "a/b.jpg" give the same id. */
export function normaliseRelative(path: string): string {
  const normal = posix.normalize(path);
  return normal.startsWith('./') ? normal.slice(2) : normal;
}

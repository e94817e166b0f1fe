/**
 * Containment check for every path a reader takes from dataset content (manifest cells, metadata rows, COCO file names).
 * Dataset content is untrusted: a path that leaves the dataset folder is reported, never opened.
 */
import { realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep, win32 } from 'node:path';

export type ResolvedPath = { ok: true; absolute: string } | { ok: false; reason: string };

/** True when `child` is `parent` itself or lies below it (both absolute and normalised). */
export function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * Resolves `relativePath` against `root` and checks that it stays inside `root`, lexically and after following symlinks
 * (the realpath of the root is used too, so a root reached through a symlink still works).
 * A target that does not exist yet is checked lexically and through its deepest existing ancestor, and reported ok:
 * the caller's read then fails with "missing file".
 */
export async function resolveInsideRoot(root: string, relativePath: string): Promise<ResolvedPath> {
  if (relativePath.length === 0) return { ok: false, reason: 'empty path' };
  if (relativePath.includes('\0')) return { ok: false, reason: 'path contains a NUL byte' };
  if (isAbsolute(relativePath) || win32.isAbsolute(relativePath)) {
    return { ok: false, reason: `absolute path not allowed: ${JSON.stringify(relativePath)}` };
  }
  const lexicalRoot = resolve(root);
  const lexical = resolve(lexicalRoot, relativePath);
  if (!isInside(lexicalRoot, lexical)) {
    return { ok: false, reason: `path escapes the dataset folder: ${JSON.stringify(relativePath)}` };
  }
  let realRoot: string;
  try {
    realRoot = await realpath(lexicalRoot);
  } catch (error) {
    return { ok: false, reason: `dataset folder not readable: ${(error as Error).message}` };
  }
  const realTarget = await realpathOfDeepestExisting(lexical);
  if (!isInside(realRoot, realTarget)) {
    return { ok: false, reason: `path leaves the dataset folder through a symlink: ${JSON.stringify(relativePath)}` };
  }
  return { ok: true, absolute: lexical };
}

/** realpath of the path, or of its deepest existing ancestor joined with the missing tail (so dangling links are caught). */
async function realpathOfDeepestExisting(absolutePath: string): Promise<string> {
  const missingTail: string[] = [];
  let current = absolutePath;
  for (;;) {
    try {
      const real = await realpath(current);
      return missingTail.length === 0 ? real : resolve(real, ...missingTail.reverse());
    } catch {
      const parent = resolve(current, '..');
      if (parent === current) return absolutePath;
      missingTail.push(current.slice(parent.length).replace(/^[\\/]+/, ''));
      current = parent;
    }
  }
}

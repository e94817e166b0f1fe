/**
 * Deleting samples safely, free of vscode (unit-tested on temp dirs).
 *
 * A deletion never destroys anything: the files a sample owns (its image and same-stem .txt/.json sidecars) move into
 * `<dataset>/.backdoor-quarantine/<timestamp>/files/…` with a manifest.json of original paths, sizes and sha256, so that
 * "Undo Last Deletion" can put every byte back and prove it. Paths are recomputed from the dataset root and the scan's
 * own result rows; each must stay inside the root after following symlinks. Samples held inside a shared file (tar,
 * parquet, a manifest) are not touched here: the host writes a cleaned copy through the backend export instead.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, constants as fsConstants, lstat, mkdir, readdir, readFile, realpath, rename, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, join, relative, resolve, sep, win32 } from 'node:path';
import { isInside } from '../../backend/safePath';

export const QUARANTINE_DIR = '.backdoor-quarantine';
const MANIFEST = 'manifest.json';
const REMOVED_IDS = 'removed-ids.json';
const SIDECAR_EXTENSIONS = ['.txt', '.json'];
/** Layouts whose samples are listed in a shared file: deleting image files alone would leave dangling rows there. */
const MANIFEST_LAYOUTS = new Set(['imagefolder', 'manifest', 'coco', 'clip-retrieval', 'img2dataset-parquet', 'webdataset']);

/**
 * The part of a scan's own rows that deletion reads: results.jsonl gives id/image; samples.jsonl adds the files each
 * sample owns and its container. Every path is still checked against the dataset root.
 */
export interface DeletionRow {
  id: string;
  image: string;
  /** Dataset-relative files owned by this sample alone (samples.jsonl); absent → image + same-stem sidecars. */
  files?: readonly string[];
  container?: unknown;
}

export interface PlannedSample {
  id: string;
  /** Dataset-relative files this sample owns, in '/' form. */
  files: string[];
}

export interface DeletionPlan {
  /** Real path of the dataset root. */
  datasetRoot: string;
  /** Samples whose files will move to quarantine. */
  samples: PlannedSample[];
  /** Samples held in a shared file (tar, parquet, manifest): removed by a cleaned copy, never in place. */
  containerSamples: { id: string; container: string }[];
  /** Samples that cannot be deleted, with why (unknown id, path escaping the root, missing file…). */
  skipped: { id: string; reason: string }[];
  /** True when the dataset lists its samples in a shared file, so a cleaned manifest copy should accompany the move. */
  needsCleanCopy: boolean;
  fileCount: number;
  byteCount: number;
}

export interface QuarantinedFile {
  path: string;
  sha256: string;
  size: number;
}

export interface QuarantineManifest {
  version: 1;
  createdAt: string;
  datasetRoot: string;
  /** 'moving' while files are being moved (a crash leaves it so; undo still restores what moved). */
  status: 'moving' | 'complete';
  samples: PlannedSample[];
  files: QuarantinedFile[];
}

export interface QuarantineEntry {
  /** Absolute path of the entry folder. */
  dir: string;
  manifest: QuarantineManifest;
}

export interface UndoResult {
  entry: QuarantineEntry;
  restoredFiles: number;
  sampleIds: string[];
}

export class DeletionError extends Error {
  override name = 'DeletionError';
}

function toPosix(relativePath: string): string {
  return relativePath.split(sep).join('/');
}

/** The container a row names, or that its locator implies (`shard.tar#member`, `file.parquet#key`). */
function containerOf(row: DeletionRow): string | null {
  const declared = row.container;
  if (typeof declared === 'string' && declared.length > 0) return declared;
  if (typeof declared === 'object' && declared !== null && typeof (declared as { file?: unknown }).file === 'string') {
    return (declared as { file: string }).file;
  }
  const hash = row.image.indexOf('#');
  if (hash > 0 && /\.(tar|parquet)$/i.test(row.image.slice(0, hash))) return row.image.slice(0, hash);
  return null;
}

/**
 * Resolves a dataset-relative path from a result row to an absolute path that is a regular file inside the real root.
 * Returns a reason instead when it is absolute, escapes (lexically or through a symlink), is a symlink, or is missing.
 */
async function ownedFileInside(realRoot: string, relativePath: string): Promise<{ ok: true; absolute: string; size: number } | { ok: false; reason: string }> {
  if (relativePath.length === 0 || relativePath.includes('\0')) return { ok: false, reason: 'invalid path' };
  if (isAbsolute(relativePath) || win32.isAbsolute(relativePath)) return { ok: false, reason: `absolute path refused: ${JSON.stringify(relativePath)}` };
  const absolute = resolve(realRoot, relativePath);
  if (!isInside(realRoot, absolute) || absolute === realRoot) return { ok: false, reason: `path escapes the dataset folder: ${JSON.stringify(relativePath)}` };
  const quarantine = join(realRoot, QUARANTINE_DIR);
  if (isInside(quarantine, absolute)) return { ok: false, reason: 'path is inside the quarantine folder' };
  let real: string;
  try {
    real = await realpath(absolute);
  } catch {
    return { ok: false, reason: `file not found: ${JSON.stringify(relativePath)}` };
  }
  if (!isInside(realRoot, real)) return { ok: false, reason: `path leaves the dataset folder through a symlink: ${JSON.stringify(relativePath)}` };
  const stats = await lstat(absolute);
  if (stats.isSymbolicLink()) return { ok: false, reason: `symbolic link not moved: ${JSON.stringify(relativePath)}` };
  if (!stats.isFile()) return { ok: false, reason: `not a regular file: ${JSON.stringify(relativePath)}` };
  return { ok: true, absolute, size: stats.size };
}

/**
 * What deleting the marked samples would do. `rows` are the scan's own result rows (the only source of paths);
 * `markedIds` come from the panel and are looked up, never used as paths.
 */
export async function planDeletion(
  datasetRoot: string,
  rows: ReadonlyMap<string, DeletionRow>,
  markedIds: readonly string[],
  layout?: string,
): Promise<DeletionPlan> {
  const realRoot = await realpath(datasetRoot);
  const plan: DeletionPlan = {
    datasetRoot: realRoot,
    samples: [],
    containerSamples: [],
    skipped: [],
    needsCleanCopy: layout !== undefined && MANIFEST_LAYOUTS.has(layout),
    fileCount: 0,
    byteCount: 0,
  };
  const claimed = new Set<string>();
  for (const id of new Set(markedIds)) {
    const row = rows.get(id);
    if (!row || row.id !== id) {
      plan.skipped.push({ id, reason: 'not a sample of this scan' });
      continue;
    }
    const container = containerOf(row);
    if (container !== null) {
      plan.containerSamples.push({ id, container });
      plan.needsCleanCopy = true;
      continue;
    }
    const image = await ownedFileInside(realRoot, row.image);
    if (!image.ok) {
      plan.skipped.push({ id, reason: image.reason });
      continue;
    }
    const files: string[] = [];
    const stemPath = join(dirname(image.absolute), basename(image.absolute, extname(image.absolute)));
    const sidecars = SIDECAR_EXTENSIONS.map((ext) => stemPath + ext);
    const declared = (row.files ?? []).filter((f) => typeof f === 'string' && !isAbsolute(f) && !win32.isAbsolute(f)).map((f) => resolve(realRoot, f));
    const candidates = [...new Set([image.absolute, ...(row.files ? declared : sidecars)])];
    let bytes = 0;
    for (const candidate of candidates) {
      const rel = relative(realRoot, candidate);
      if (claimed.has(rel)) continue;
      const checked = candidate === image.absolute ? image : await ownedFileInside(realRoot, rel);
      if (!checked.ok) continue; // a sidecar that is absent, a symlink or escaping is simply not part of the sample
      claimed.add(rel);
      files.push(toPosix(rel));
      bytes += checked.size;
    }
    if (files.length === 0) {
      plan.skipped.push({ id, reason: 'its files are already part of another marked sample' });
      continue;
    }
    plan.samples.push({ id, files });
    plan.fileCount += files.length;
    plan.byteCount += bytes;
  }
  return plan;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Writes JSON atomically: a temp file beside the target, then rename. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, JSON.stringify(value, null, 2) + '\n', { flag: 'wx' });
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Moves a file without overwriting; across devices it copies, verifies and only then unlinks the source. */
async function moveFile(from: string, to: string, expectedSha256: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  if (await exists(to)) throw new DeletionError(`refusing to overwrite ${to}`);
  try {
    await rename(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    await copyFile(from, to, fsConstants.COPYFILE_EXCL);
    if ((await sha256File(to)) !== expectedSha256) {
      await unlink(to);
      throw new DeletionError(`copy of ${from} did not verify`);
    }
    await unlink(from);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

function entryName(now: Date): string {
  return `${now.toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`;
}

/**
 * Moves every planned file into a new quarantine entry. Each path is re-checked just before it moves (the tree may have
 * changed since planning). On any failure, files already moved are put back and the error is rethrown.
 */
export async function applyDeletion(plan: DeletionPlan, now: Date = new Date()): Promise<QuarantineEntry> {
  const realRoot = await realpath(plan.datasetRoot);
  if (realRoot !== plan.datasetRoot) throw new DeletionError('the dataset folder moved since the plan was made');
  const files: QuarantinedFile[] = [];
  for (const sample of plan.samples) {
    for (const path of sample.files) {
      const checked = await ownedFileInside(realRoot, path);
      if (!checked.ok) throw new DeletionError(`${sample.id}: ${checked.reason}`);
      files.push({ path, sha256: await sha256File(checked.absolute), size: checked.size });
    }
  }
  if (files.length === 0) throw new DeletionError('nothing to move');

  const quarantineRoot = join(realRoot, QUARANTINE_DIR);
  if ((await exists(quarantineRoot)) && !isInside(realRoot, await realpath(quarantineRoot))) {
    throw new DeletionError('the quarantine folder is a link that leaves the dataset folder');
  }
  const dir = join(quarantineRoot, entryName(now));
  await mkdir(join(dir, 'files'), { recursive: true });
  const manifest: QuarantineManifest = {
    version: 1,
    createdAt: now.toISOString(),
    datasetRoot: realRoot,
    status: 'moving',
    samples: plan.samples,
    files,
  };
  await writeJsonAtomic(join(dir, MANIFEST), manifest);

  const moved: QuarantinedFile[] = [];
  try {
    for (const file of files) {
      const checked = await ownedFileInside(realRoot, file.path);
      if (!checked.ok) throw new DeletionError(checked.reason);
      await moveFile(checked.absolute, join(dir, 'files', file.path), file.sha256);
      moved.push(file);
    }
  } catch (error) {
    for (const file of moved.reverse()) await moveFile(join(dir, 'files', file.path), join(realRoot, file.path), file.sha256);
    await rm(dir, { recursive: true, force: true });
    await removeIfEmpty(quarantineRoot);
    throw error;
  }
  const complete: QuarantineManifest = { ...manifest, status: 'complete' };
  await writeJsonAtomic(join(dir, MANIFEST), complete);
  return { dir, manifest: complete };
}

function isManifest(value: unknown): value is QuarantineManifest {
  const m = value as QuarantineManifest;
  return (
    typeof m === 'object' && m !== null && m.version === 1 && Array.isArray(m.files) && Array.isArray(m.samples) &&
    m.files.every((f) => typeof f?.path === 'string' && typeof f.sha256 === 'string' && typeof f.size === 'number')
  );
}

/** Quarantine entries of a dataset, oldest first. Unreadable entries are ignored (and never deleted). */
export async function listQuarantine(datasetRoot: string): Promise<QuarantineEntry[]> {
  const realRoot = await realpath(datasetRoot);
  const quarantineRoot = join(realRoot, QUARANTINE_DIR);
  let names: string[];
  try {
    names = (await readdir(quarantineRoot, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  } catch {
    return [];
  }
  const entries: QuarantineEntry[] = [];
  for (const name of names) {
    const dir = join(quarantineRoot, name);
    try {
      const manifest: unknown = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8'));
      if (isManifest(manifest)) entries.push({ dir, manifest });
    } catch {
      // not ours or half-written: leave it alone
    }
  }
  return entries;
}

/** Ids of samples that are currently deleted (in quarantine, or quarantined and then sent to the OS trash). */
export async function deletedSampleIds(datasetRoot: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const entry of await listQuarantine(datasetRoot)) for (const sample of entry.manifest.samples) ids.add(sample.id);
  for (const id of await readRemovedIds(datasetRoot)) ids.add(id);
  return ids;
}

async function readRemovedIds(datasetRoot: string): Promise<string[]> {
  try {
    const value: unknown = JSON.parse(await readFile(join(await realpath(datasetRoot), QUARANTINE_DIR, REMOVED_IDS), 'utf8'));
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}

/** Records that quarantine entries left for the OS trash, so their samples stay hidden; call before trashing them. */
export async function recordRemovedEntries(datasetRoot: string, entries: readonly QuarantineEntry[]): Promise<void> {
  const ids = new Set(await readRemovedIds(datasetRoot));
  for (const entry of entries) for (const sample of entry.manifest.samples) ids.add(sample.id);
  await writeJsonAtomic(join(await realpath(datasetRoot), QUARANTINE_DIR, REMOVED_IDS), [...ids]);
}

/**
 * Restores the newest quarantine entry byte for byte: every file's sha256 is checked before anything moves and again
 * at its original place; a file that reappeared at the original path with other content stops the undo untouched.
 * Then the entry folder is removed.
 */
export async function undoLastDeletion(datasetRoot: string): Promise<UndoResult | null> {
  const entries = await listQuarantine(datasetRoot);
  const entry = entries.at(-1);
  if (!entry) return null;
  const realRoot = await realpath(datasetRoot);
  const toMove: { from: string; to: string; file: QuarantinedFile }[] = [];
  let alreadyInPlace = 0;
  for (const file of entry.manifest.files) {
    const to = resolve(realRoot, file.path);
    const from = resolve(entry.dir, 'files', file.path);
    if (!isInside(realRoot, to) || !isInside(join(entry.dir, 'files'), from)) throw new DeletionError(`manifest path escapes the dataset: ${file.path}`);
    const parentReal = await realpathOfExistingAncestor(dirname(to));
    if (!isInside(realRoot, parentReal)) throw new DeletionError(`restoring ${file.path} would leave the dataset folder through a symlink`);
    const inQuarantine = await exists(from);
    const atOrigin = await exists(to);
    if (atOrigin) {
      if ((await sha256File(to)) !== file.sha256) throw new DeletionError(`${file.path} exists again with different content; nothing was restored`);
      if (inQuarantine) toMove.push({ from, to: '', file }); // identical copy already back: drop the quarantined one
      alreadyInPlace++;
      continue;
    }
    if (!inQuarantine) {
      if (entry.manifest.status === 'moving') continue; // never moved before an interrupted deletion
      throw new DeletionError(`${file.path} is missing from the quarantine folder; nothing was restored`);
    }
    if ((await sha256File(from)) !== file.sha256) throw new DeletionError(`${file.path} changed in quarantine (sha256 mismatch); nothing was restored`);
    toMove.push({ from, to, file });
  }
  let restored = alreadyInPlace;
  for (const { from, to, file } of toMove) {
    if (to === '') {
      await unlink(from);
      continue;
    }
    await moveFile(from, to, file.sha256);
    if ((await sha256File(to)) !== file.sha256) throw new DeletionError(`${file.path} did not verify after restoring`);
    restored++;
  }
  await rm(entry.dir, { recursive: true, force: true });
  await removeIfEmpty(join(realRoot, QUARANTINE_DIR));
  return { entry, restoredFiles: restored, sampleIds: entry.manifest.samples.map((s) => s.id) };
}

async function realpathOfExistingAncestor(path: string): Promise<string> {
  let current = path;
  for (;;) {
    try {
      return await realpath(current);
    } catch {
      const parent = dirname(current);
      if (parent === current) return current;
      current = parent;
    }
  }
}

async function removeIfEmpty(dir: string): Promise<void> {
  try {
    await rmdir(dir);
  } catch {
    // not empty or already gone
  }
}

/** A one-paragraph description of a plan for the confirmation dialog (file names listed up to `maxListed`). */
export function describePlan(plan: DeletionPlan, maxListed = 12): string {
  const lines: string[] = [];
  if (plan.samples.length > 0) {
    lines.push(
      `${plan.samples.length} sample(s), ${plan.fileCount} file(s) (${formatBytes(plan.byteCount)}) will move to ${QUARANTINE_DIR}/ inside the dataset; "Undo Last Deletion" puts them back.`,
    );
    const listed = plan.samples.flatMap((s) => s.files).slice(0, maxListed);
    lines.push(...listed.map((f) => `  ${f}`));
    if (plan.fileCount > listed.length) lines.push(`  … and ${plan.fileCount - listed.length} more`);
  }
  if (plan.containerSamples.length > 0) {
    const containers = [...new Set(plan.containerSamples.map((c) => c.container))];
    lines.push(
      `${plan.containerSamples.length} sample(s) live inside ${containers.length} shared file(s) (${containers.slice(0, 3).join(', ')}${containers.length > 3 ? ', …' : ''}); those files are never rewritten: you will be asked where to save a cleaned copy.`,
    );
  } else if (plan.needsCleanCopy && plan.samples.length > 0) {
    lines.push('This dataset lists its samples in a manifest; you will be asked where to save a cleaned copy of it.');
  }
  if (plan.skipped.length > 0) {
    lines.push(`${plan.skipped.length} sample(s) cannot be deleted: ${plan.skipped.slice(0, 3).map((s) => `${s.id} (${s.reason})`).join('; ')}${plan.skipped.length > 3 ? '; …' : ''}`);
  }
  return lines.join('\n');
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

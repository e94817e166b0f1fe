/**
 * The model cache: where models live (`<cacheDir>/models/<owner>/<name>/`), downloading a CLIP export from the Hugging
 * Face hub (progress, resume of partial files, SHA-256 verification, atomic rename), listing what is cached, and
 * turning the user's `--model` (a folder, a cached name, or nothing) into a folder.
 *
 * Downloads use the hub's `/{repo}/resolve/{revision}/{path}` URLs. For LFS files (the ONNX weights) the hub answers
 * with a redirect whose `X-Linked-Etag` is the SHA-256 of the content; redirects are followed by hand so that header
 * is seen. Nothing here runs unless the user asks for a download.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { writeFileAtomic } from './output';
import { layoutFileSets, parseVariant, variantsInFolder, type PrecisionVariant } from './modelDescriptor';

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';
export const DEFAULT_MODEL_NAME = 'Xenova/clip-vit-base-patch32';
/** Written into each downloaded model folder: where the files came from and their checksums. */
export const SOURCE_FILE = '.clip-model-source.json';

/** The command lines users are told to run when no model is available (CLI and extension messages share them). */
export const HOW_TO_GET_A_MODEL =
  `download one with \`backdoor-scan model download ${DEFAULT_MODEL_NAME} --variant quantized\`, ` +
  'or make a demo model with `backdoor-scan model synth --preset tiny --out DIR` and pass --model DIR';

/** Small files next to the ONNX weights: configs and every tokenizer format (each optional; 404 is fine). */
const AUXILIARY_FILES = [
  'config.json',
  'preprocessor_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'vocab.json',
  'merges.txt',
  // OpenCLIP / Immich exports keep their tokenizer and preprocessing next to each tower.
  'textual/tokenizer.json',
  'textual/tokenizer_config.json',
  'textual/special_tokens_map.json',
  'visual/preprocess_cfg.json',
];

const MAX_REDIRECTS = 10;
const DEFAULT_RETRIES = 4;
/** A transfer that delivers nothing for this long is dropped and resumed. */
const IDLE_TIMEOUT_MS = 60_000;

/** `$BACKDOOR_SCAN_CACHE`, else `$XDG_CACHE_HOME/clip-backdoor-scanner`, else `~/.cache/clip-backdoor-scanner`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const override = env.BACKDOOR_SCAN_CACHE;
  if (override && override.trim() !== '') return resolve(override);
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache');
  return join(base, 'clip-backdoor-scanner');
}

const REPO_PART = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;

/** True for `owner/name` hub ids (no path tricks: no '..', no extra slashes). */
export function isHubModelName(name: string): boolean {
  const parts = name.split('/');
  return parts.length === 2 && parts.every((part) => REPO_PART.test(part) && !part.includes('..'));
}

/** Folder of a hub model inside the cache. */
export function cachedModelDir(cacheDir: string, name: string): string {
  if (!isHubModelName(name)) throw new Error(`'${name}' is not a Hugging Face model id (expected owner/name, e.g. ${DEFAULT_MODEL_NAME})`);
  const [owner, repo] = name.split('/');
  return join(cacheDir, 'models', owner, repo);
}

export interface DownloadOptions {
  cacheDir: string;
  /** Precision variant ('quantized', 'fp16', …); default: the plain fp32 files. */
  variant?: string;
  /** Hub base URL; default `$HF_ENDPOINT`, else https://huggingface.co. */
  endpoint?: string;
  /** Branch, tag or commit; default 'main'. */
  revision?: string;
  /** Called as bytes arrive; `received` counts bytes already on disk from an earlier, interrupted run. */
  onProgress?(file: string, received: number, total: number | null): void;
  signal?: AbortSignal;
  /** Resumed attempts per file after a dropped connection or a server error; default 4. */
  retries?: number;
}

/** An HTTP answer; statuses below 500 are final (retrying will not change a 404 or a 401). */
class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface SourceRecord {
  name: string;
  endpoint: string;
  revision: string;
  files: Record<string, { bytes: number; sha256: string | null }>;
}

/**
 * Downloads a CLIP export from the hub into `<cacheDir>/models/<owner>/<name>/` and returns that folder.
 * Takes the first known layout (split HF, combined HF, OpenCLIP) whose files exist for the variant. Files already
 * present with the right SHA-256 are not fetched again; a `.part` file left by an interrupted run is resumed.
 */
export async function downloadModel(name: string, options: DownloadOptions): Promise<string> {
  const variant: PrecisionVariant = parseVariant(options.variant) ?? '';
  const endpoint = (options.endpoint ?? process.env.HF_ENDPOINT ?? DEFAULT_HUB_ENDPOINT).replace(/\/+$/, '');
  const revision = options.revision ?? 'main';
  const dir = cachedModelDir(options.cacheDir, name);
  await mkdir(dir, { recursive: true });
  const urlOf = (file: string): string =>
    `${endpoint}/${name}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
  const context: TransferContext = {
    signal: options.signal,
    retries: options.retries ?? DEFAULT_RETRIES,
    onProgress: options.onProgress,
  };

  const modelFiles = await findLayoutFiles(name, variant, urlOf, context);
  const record = await readSourceRecord(dir, name, endpoint, revision);
  for (const file of modelFiles) {
    const result = await fetchFile(urlOf(file), join(dir, file), file, context, true);
    if (result) record.files[file] = result;
  }
  for (const file of AUXILIARY_FILES) {
    const result = await fetchFile(urlOf(file), join(dir, file), file, context, false);
    if (result) record.files[file] = result;
  }
  await writeFileAtomic(join(dir, SOURCE_FILE), `${JSON.stringify(record, null, 2)}\n`);
  return dir;
}

interface TransferContext {
  signal: AbortSignal | undefined;
  retries: number;
  onProgress: DownloadOptions['onProgress'];
}

/** Which layout's files exist on the hub for the variant (HEAD requests; nothing large is transferred). */
async function findLayoutFiles(name: string, variant: PrecisionVariant, urlOf: (file: string) => string, context: TransferContext): Promise<string[]> {
  const sets = layoutFileSets(variant);
  for (const set of sets) {
    const [first, ...rest] = set.files;
    if (!(await remoteExists(urlOf(first), context))) continue;
    for (const file of rest) {
      if (!(await remoteExists(urlOf(file), context))) throw new Error(`${name} has ${first} but not ${file}; the export is incomplete`);
    }
    return set.files;
  }
  const tried = sets.map((set) => set.files.join(' + ')).join('; ');
  throw new Error(
    `${name} has no ONNX CLIP files for variant '${variant === '' ? 'fp32' : variant}' (tried ${tried}). ` +
      'Check the model id and the variant (e.g. --variant quantized); the repository must contain an ONNX export.',
  );
}

async function remoteExists(url: string, context: TransferContext): Promise<boolean> {
  let lastError: unknown = null;
  for (let attempt = 0; attempt <= context.retries; attempt++) {
    if (attempt > 0) await sleep(retryDelayMs(attempt));
    try {
      const { response } = await request(url, 'HEAD', {}, context.signal);
      await response.body?.cancel();
      if (response.status === 404) return false;
      if (response.ok) return true;
      throw describeHttpFailure(response.status, url);
    } catch (error) {
      if (isAbortError(error, context.signal) || (error instanceof HttpStatusError && error.status < 500)) throw error;
      lastError = error;
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

function describeHttpFailure(status: number, url: string): HttpStatusError {
  if (status === 401 || status === 403) {
    return new HttpStatusError(status, `${url}: HTTP ${status} — the repository does not exist or needs authentication (gated/private models are not supported)`);
  }
  if (status === 404) return new HttpStatusError(status, `${url}: HTTP 404 — the file does not exist on the hub`);
  return new HttpStatusError(status, `${url}: HTTP ${status}`);
}

/** Follows redirects by hand, remembering the content SHA-256 the hub announces (`X-Linked-Etag`, else `ETag`). */
async function request(
  url: string,
  method: 'GET' | 'HEAD',
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<{ response: Response; sha256: string | null; announcedSize: number | null }> {
  let current = url;
  let sha256: string | null = null;
  let announcedSize: number | null = null;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const response = await fetch(current, { method, headers, redirect: 'manual', signal });
    sha256 ??= lfsSha256(response.headers);
    if (announcedSize === null) {
      const linkedSize = Number(response.headers.get('x-linked-size'));
      if (Number.isSafeInteger(linkedSize) && linkedSize > 0) announcedSize = linkedSize;
    }
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      current = new URL(location, current).toString();
      continue;
    }
    return { response, sha256, announcedSize };
  }
  throw new Error(`${url}: more than ${MAX_REDIRECTS} redirects`);
}

/** The SHA-256 of an LFS file, when the hub names it: a 64-hex `X-Linked-Etag` (or `ETag`). Git-blob etags are ignored. */
export function lfsSha256(headers: Headers): string | null {
  for (const name of ['x-linked-etag', 'etag']) {
    const value = headers.get(name)?.trim().replace(/^W\//, '').replace(/^"|"$/g, '').toLowerCase();
    if (value && /^[0-9a-f]{64}$/.test(value)) return value;
  }
  return null;
}

async function fileSize(path: string): Promise<number | null> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : null;
  } catch {
    return null;
  }
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function isAbortError(error: unknown, signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true || (error instanceof Error && error.name === 'AbortError');
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));
/** Back-off before retry number `attempt` (1-based): 250 ms, 500 ms, 1 s, … capped at 5 s. */
const retryDelayMs = (attempt: number): number => Math.min(5000, 250 * 2 ** (attempt - 1));

/**
 * Fetches one file into `destination` through `destination.part`. Returns its size and checksum, or null when the file
 * is optional and the hub has no such file. Keeps the `.part` on interruption so the next attempt (or run) resumes.
 */
async function fetchFile(
  url: string,
  destination: string,
  label: string,
  context: TransferContext,
  required: boolean,
): Promise<{ bytes: number; sha256: string | null } | null> {
  const partPath = `${destination}.part`;
  await mkdir(dirname(destination), { recursive: true });

  // Already complete? Only an LFS checksum can prove it; small files are simply fetched again.
  const existing = await fileSize(destination);
  if (existing !== null) {
    const head = await request(url, 'HEAD', {}, context.signal);
    await head.response.body?.cancel();
    if (head.sha256 && head.response.ok && (await sha256OfFile(destination)) === head.sha256) {
      context.onProgress?.(label, existing, existing);
      return { bytes: existing, sha256: head.sha256 };
    }
  }

  let lastError: unknown = null;
  for (let attempt = 0; attempt <= context.retries; attempt++) {
    if (attempt > 0) await sleep(retryDelayMs(attempt));
    let outcome: Awaited<ReturnType<typeof transferOnce>>;
    try {
      outcome = await transferOnce(url, partPath, label, context);
    } catch (error) {
      if (isAbortError(error, context.signal)) throw error;
      if (error instanceof HttpStatusError && error.status < 500) throw error;
      lastError = error;
      continue;
    }
    if (outcome === 'not-found') {
      if (required) throw describeHttpFailure(404, url);
      return null;
    }
    if (outcome.sha256) {
      const actual = await sha256OfFile(partPath);
      if (actual !== outcome.sha256) {
        await rm(partPath, { force: true });
        throw new Error(`${label}: checksum mismatch (expected sha256 ${outcome.sha256}, got ${actual}); the partial file was deleted — run the download again`);
      }
    }
    await rename(partPath, destination);
    return { bytes: outcome.bytes, sha256: outcome.sha256 };
  }
  const detail = lastError instanceof Error ? (lastError.cause instanceof Error ? `${lastError.message} (${lastError.cause.message})` : lastError.message) : String(lastError);
  throw new Error(`${label}: download failed after ${context.retries + 1} attempts: ${detail}; the partial file is kept and the next run resumes it`);
}

/** One GET, resuming from the `.part` size with a Range request. */
async function transferOnce(
  url: string,
  partPath: string,
  label: string,
  context: TransferContext,
): Promise<'not-found' | { bytes: number; sha256: string | null }> {
  let offset = (await fileSize(partPath)) ?? 0;
  // An idle connection is aborted (and resumed by the caller); the user's signal aborts everything.
  const idle = new AbortController();
  const signal = context.signal ? AbortSignal.any([context.signal, idle.signal]) : idle.signal;
  let idleTimer = setTimeout(() => idle.abort(new Error('no data received for 60 s')), IDLE_TIMEOUT_MS);
  const touch = (): void => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => idle.abort(new Error('no data received for 60 s')), IDLE_TIMEOUT_MS);
  };
  try {
    const { response, sha256, announcedSize } = await request(url, 'GET', offset > 0 ? { Range: `bytes=${offset}-` } : {}, signal);
    if (response.status === 404) {
      await response.body?.cancel();
      return 'not-found';
    }
    if (response.status === 416 && offset > 0) {
      // The part is already complete (or stale and too long): the checksum decides; without one, start again.
      await response.body?.cancel();
      const total = contentRangeTotal(response.headers.get('content-range')) ?? announcedSize;
      if (total === offset) return { bytes: offset, sha256 };
      await rm(partPath, { force: true });
      throw new Error(`${label}: the partial file does not match the server's file; starting again`);
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw describeHttpFailure(response.status, url);
    }
    let append = false;
    if (response.status === 206) {
      const start = contentRangeStart(response.headers.get('content-range'));
      if (start !== offset) {
        await response.body.cancel();
        await rm(partPath, { force: true });
        throw new Error(`${label}: the server resumed at byte ${start} instead of ${offset}; starting again`);
      }
      append = true;
    } else {
      offset = 0; // a 200 answer is the whole file: the server ignored (or cannot do) ranges
    }
    const length = Number(response.headers.get('content-length'));
    const total =
      contentRangeTotal(response.headers.get('content-range')) ??
      (response.headers.has('content-length') && Number.isSafeInteger(length) ? offset + length : announcedSize);

    const handle = await open(partPath, append ? 'a' : 'w');
    let received = offset;
    try {
      context.onProgress?.(label, received, total);
      for await (const chunk of response.body) {
        touch();
        await handle.write(chunk);
        received += chunk.byteLength;
        context.onProgress?.(label, received, total);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (total !== null && received !== total) throw new Error(`${label}: connection closed at byte ${received} of ${total}`);
    return { bytes: received, sha256 };
  } catch (error) {
    // Report the user's abort as such, not as the idle timer's or the transport's error.
    if (context.signal?.aborted) throw Object.assign(new Error(`download of ${label} aborted`), { name: 'AbortError' });
    throw error;
  } finally {
    clearTimeout(idleTimer);
  }
}

function contentRangeStart(header: string | null): number | null {
  const match = header ? /bytes\s+(\d+)-\d+\/(?:\d+|\*)/i.exec(header) : null;
  return match ? Number(match[1]) : null;
}

function contentRangeTotal(header: string | null): number | null {
  const match = header ? /\/(\d+)\s*$/.exec(header) : null;
  return match ? Number(match[1]) : null;
}

async function readSourceRecord(dir: string, name: string, endpoint: string, revision: string): Promise<SourceRecord> {
  const fresh: SourceRecord = { name, endpoint, revision, files: {} };
  try {
    const parsed: unknown = JSON.parse(await readFile(join(dir, SOURCE_FILE), 'utf8'));
    if (typeof parsed === 'object' && parsed !== null && 'files' in parsed && typeof parsed.files === 'object' && parsed.files !== null) {
      // Keep the records of files downloaded earlier (another variant); the header describes this download.
      return { ...fresh, files: parsed.files as SourceRecord['files'] };
    }
  } catch {
    // No record yet, or an unreadable one: start a new one.
  }
  return fresh;
}

export interface CachedModel {
  /** Hub id, `owner/name`. */
  name: string;
  dir: string;
  /** Complete precision variants present ('' = fp32). */
  variants: string[];
  /** Bytes on disk, partial downloads included. */
  bytes: number;
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await folderBytes(path);
    else if (entry.isFile()) total += (await stat(path)).size;
  }
  return total;
}

async function subfolders(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
  } catch {
    return [];
  }
}

/** Models in the cache that have at least one complete variant, sorted by name. */
export async function listCachedModels(cacheDir: string): Promise<CachedModel[]> {
  const root = join(cacheDir, 'models');
  const models: CachedModel[] = [];
  for (const owner of await subfolders(root)) {
    for (const repo of await subfolders(join(root, owner))) {
      const dir = join(root, owner, repo);
      const variants = await variantsInFolder(dir);
      if (variants.length === 0) continue;
      models.push({ name: `${owner}/${repo}`, dir, variants, bytes: await folderBytes(dir) });
    }
  }
  return models;
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

/**
 * The model folder for a `--model` value: an existing folder, a cached hub id, or — when nothing is given — the only
 * cached model. Otherwise an error message that says exactly how to get a model.
 */
export async function resolveModelSpec(spec: string | undefined, cacheDir: string): Promise<{ dir: string } | { error: string }> {
  const trimmed = spec?.trim() ?? '';
  if (trimmed === '') {
    const cached = await listCachedModels(cacheDir);
    if (cached.length === 1) return { dir: cached[0].dir };
    if (cached.length === 0) return { error: `No model given and none cached in ${cacheDir}. To get one, ${HOW_TO_GET_A_MODEL}.` };
    return { error: `No model given and ${cached.length} are cached (${cached.map((model) => model.name).join(', ')}); choose one with --model NAME.` };
  }

  const path = resolve(expandHome(trimmed));
  try {
    const info = await stat(path);
    if (info.isDirectory()) return { dir: path };
    return { error: `--model ${trimmed}: ${path} is a file; pass the model folder (the one that contains onnx/).` };
  } catch {
    // Not a path on disk: try it as a hub id.
  }
  if (isHubModelName(trimmed)) {
    const dir = cachedModelDir(cacheDir, trimmed);
    if ((await variantsInFolder(dir).catch(() => [])).length > 0) return { dir };
    return {
      error:
        `Model ${trimmed} is not in the cache (${cacheDir}). Download it with ` +
        `\`backdoor-scan model download ${trimmed} --variant quantized\`, or pass a model folder with --model DIR.`,
    };
  }
  const cached = await listCachedModels(cacheDir);
  return {
    error:
      `--model ${trimmed}: no such folder, and not a model id (owner/name)` +
      (cached.length > 0 ? `; cached models: ${cached.map((model) => model.name).join(', ')}` : `. To get a model, ${HOW_TO_GET_A_MODEL}`) +
      '.',
  };
}

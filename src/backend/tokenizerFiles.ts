// Finds and reads CLIP tokenizer files (HF tokenizer.json, vocab.json + merges.txt, or OpenAI's bpe_simple_vocab_16e6.txt.gz).
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ClipTokenizer } from '../core/tokenizer';

export const BUNDLED_VOCAB_NAME = 'bpe_simple_vocab_16e6.txt.gz';
/** Where, inside a model folder, tokenizer files are looked for (HF layout at the root; OpenCLIP/Immich exports under textual/). */
const MODEL_SUBFOLDERS = ['', 'textual'];

async function readText(path: string): Promise<string> {
  const bytes = await readFile(path);
  return (path.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
}

function splitLines(text: string): string[] {
  return text.replace(/^\uFEFF/, '').split(/\r?\n/);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads a HF `tokenizer.json` (BPE model; merges as "a b" strings or [a, b] pairs). */
async function fromTokenizerJson(path: string): Promise<ClipTokenizer> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readText(path));
  } catch (error) {
    throw new Error(`${path}: not valid JSON (${(error as Error).message})`);
  }
  const model = isRecord(parsed) ? parsed.model : undefined;
  if (!isRecord(model) || !isRecord(model.vocab) || !Array.isArray(model.merges)) {
    throw new Error(`${path}: expected a BPE tokenizer with model.vocab and model.merges`);
  }
  const vocab: Record<string, number> = {};
  for (const [symbol, id] of Object.entries(model.vocab)) {
    if (typeof id !== 'number') throw new Error(`${path}: model.vocab[${JSON.stringify(symbol)}] is not a number`);
    vocab[symbol] = id;
  }
  const merges = model.merges.map((merge, index) => {
    if (typeof merge === 'string') return merge;
    if (Array.isArray(merge) && merge.length === 2 && merge.every((part) => typeof part === 'string')) return merge.join(' ');
    throw new Error(`${path}: model.merges[${index}] is neither "a b" nor ["a", "b"]`);
  });
  return wrap(path, () => ClipTokenizer.fromVocabAndMerges(vocab, merges));
}

async function fromVocabJsonAndMerges(vocabPath: string, mergesPath: string): Promise<ClipTokenizer> {
  let vocab: unknown;
  try {
    vocab = JSON.parse(await readText(vocabPath));
  } catch (error) {
    throw new Error(`${vocabPath}: not valid JSON (${(error as Error).message})`);
  }
  if (!isRecord(vocab) || !Object.values(vocab).every((id) => typeof id === 'number')) {
    throw new Error(`${vocabPath}: expected an object of symbol → id`);
  }
  const merges = splitLines(await readText(mergesPath));
  return wrap(mergesPath, () => ClipTokenizer.fromVocabAndMerges(vocab as Record<string, number>, merges));
}

async function fromOpenAiMerges(path: string): Promise<ClipTokenizer> {
  const lines = splitLines(await readText(path));
  return wrap(path, () => ClipTokenizer.fromMerges(lines));
}

function wrap(path: string, build: () => ClipTokenizer): ClipTokenizer {
  try {
    return build();
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
}

/** The repository's bundled vocabulary, found by walking up from this bundle (dist/, out/test/unit/…) to `assets/`. */
export function findBundledVocab(startDir: string = __dirname): string {
  const tried: string[] = [];
  let dir = resolve(startDir);
  for (;;) {
    const candidate = join(dir, 'assets', BUNDLED_VOCAB_NAME);
    tried.push(candidate);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`Bundled CLIP vocabulary not found; looked for assets/${BUNDLED_VOCAB_NAME} upward from ${startDir} (${tried.length} folders)`);
}

/**
 * Loads a CLIP tokenizer.
 * - undefined: the bundled OpenAI vocabulary (assets/bpe_simple_vocab_16e6.txt.gz).
 * - a folder: tokenizer.json, else vocab.json + merges.txt, else bpe_simple_vocab_16e6.txt(.gz), at its root or under textual/.
 * - a file: tokenizer.json (any *.json), or an OpenAI merges list (*.txt or *.txt.gz).
 */
export async function loadTokenizer(pathOrDir?: string): Promise<ClipTokenizer> {
  if (pathOrDir === undefined) return fromOpenAiMerges(findBundledVocab());
  const target = resolve(pathOrDir);
  if (!existsSync(target)) throw new Error(`Tokenizer path does not exist: ${target}`);
  if (statSync(target).isFile()) {
    const name = basename(target).toLowerCase();
    if (name.endsWith('.json')) return fromTokenizerJson(target);
    if (name.endsWith('.txt') || name.endsWith('.txt.gz')) {
      const sibling = join(dirname(target), 'vocab.json');
      // merges.txt beside a vocab.json is the HF pair; any other merges list is OpenAI's layout.
      if (name === 'merges.txt' && existsSync(sibling)) return fromVocabJsonAndMerges(sibling, target);
      return fromOpenAiMerges(target);
    }
    throw new Error(`Unrecognised tokenizer file ${target}: expected tokenizer.json, merges.txt or ${BUNDLED_VOCAB_NAME}`);
  }
  const looked: string[] = [];
  for (const sub of MODEL_SUBFOLDERS) {
    const dir = join(target, sub);
    const tokenizerJson = join(dir, 'tokenizer.json');
    const vocabJson = join(dir, 'vocab.json');
    const mergesTxt = join(dir, 'merges.txt');
    looked.push(tokenizerJson, `${vocabJson} + merges.txt`, join(dir, BUNDLED_VOCAB_NAME));
    if (existsSync(tokenizerJson)) return fromTokenizerJson(tokenizerJson);
    if (existsSync(vocabJson) && existsSync(mergesTxt)) return fromVocabJsonAndMerges(vocabJson, mergesTxt);
    for (const name of [BUNDLED_VOCAB_NAME, BUNDLED_VOCAB_NAME.replace(/\.gz$/, '')]) {
      if (existsSync(join(dir, name))) return fromOpenAiMerges(join(dir, name));
    }
  }
  throw new Error(`No CLIP tokenizer in ${target}; looked for: ${looked.join(', ')}`);
}

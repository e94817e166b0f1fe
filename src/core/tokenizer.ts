// CLIP byte-level BPE tokenizer (pure): the same ids as OpenAI's `simple_tokenizer.py` run without ftfy.
//
// Pipeline for one text: NFC → collapse whitespace (Python's `str.isspace` set) → strip → lowercase →
// split with the CLIP regex → UTF-8 bytes mapped to printable code points → BPE with a `</w>` end-of-word
// marker → [49406, …ids, 49407] truncated to `contextLength` (last slot forced to end-of-text), padded with 0.

export const START_OF_TEXT = '<|startoftext|>';
export const END_OF_TEXT = '<|endoftext|>';
export const CLIP_CONTEXT_LENGTH = 77;
/** OpenAI's vocabulary is 49152 entries of BPE: 256 bytes, 256 bytes + `</w>`, and this many merges, plus 2 specials. */
export const CLIP_MERGE_COUNT = 49152 - 256 - 2;

const END_OF_WORD = '</w>';

// Python's `str.isspace()` set, which OpenAI's `re.sub(r'\s+', ' ', text)` collapses. JS `\s` differs
// (it adds U+FEFF and lacks U+001C–U+001F and U+0085), so the class is spelled out.
const PYTHON_WHITESPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const WHITESPACE_RUN = new RegExp(`[${PYTHON_WHITESPACE}]+`, 'gu');
// The CLIP split pattern; `\s` is Python's set for the same reason as above.
const CLIP_SPLIT = new RegExp(
  `<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^${PYTHON_WHITESPACE}\\p{L}\\p{N}]+`,
  'giu',
);

/** GPT-2/CLIP byte → printable character. `order` is OpenAI's vocabulary order (printable bytes first, then the rest as 256+n). */
function byteToUnicodeTable(): { charOfByte: string[]; order: number[] } {
  const order: number[] = [];
  const push = (from: number, to: number): void => {
    for (let b = from; b <= to; b++) order.push(b);
  };
  push(0x21, 0x7e);
  push(0xa1, 0xac);
  push(0xae, 0xff);
  const charOfByte = new Array<string>(256);
  for (const b of order) charOfByte[b] = String.fromCodePoint(b);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (charOfByte[b] === undefined) {
      order.push(b);
      charOfByte[b] = String.fromCodePoint(256 + extra);
      extra++;
    }
  }
  return { charOfByte, order };
}

const { charOfByte: BYTE_TO_CHAR, order: BYTE_ORDER } = byteToUnicodeTable();
const UTF8 = new TextEncoder();

/** Applies the cleanup OpenAI's tokenizer applies before splitting (ftfy and html.unescape excepted; see docs/preprocessing.md). */
export function cleanCaption(text: string): string {
  return text.normalize('NFC').replace(WHITESPACE_RUN, ' ').trim().toLowerCase();
}

/** Splits a merges line "a b" into its two symbols; null for blank lines. */
function parseMergeLine(line: string): [string, string] | null {
  const trimmed = line.replace(/\r$/, '');
  if (trimmed === '') return null;
  const space = trimmed.indexOf(' ');
  if (space <= 0 || space === trimmed.length - 1 || trimmed.indexOf(' ', space + 1) !== -1) {
    throw new Error(`Malformed BPE merge line (expected "left right"): ${JSON.stringify(trimmed.slice(0, 80))}`);
  }
  return [trimmed.slice(0, space), trimmed.slice(space + 1)];
}

/** True for the header line of OpenAI's file (`"bpe_simple_vocab_16e6.txt#version: 0.2`) or HF's merges.txt (`#version: 0.2`). */
function isHeaderLine(line: string): boolean {
  return line.startsWith('#version') || line.startsWith('"bpe_simple_vocab') || /^"?[^ ]*#version/.test(line);
}

interface MergeRule {
  rank: number;
  merged: number;
}

export class ClipTokenizer {
  readonly startOfTextId: number;
  readonly endOfTextId: number;
  readonly vocabSize: number;
  private readonly idOf: Map<string, number>;
  /** Pair key (left * vocabSize + right) → rank and merged id. Lower rank merges first. */
  private readonly mergeRules = new Map<number, MergeRule>();
  /** Byte value → vocabulary id of its character, and of its character + `</w>`. */
  private readonly byteIds = new Int32Array(256);
  private readonly byteEndIds = new Int32Array(256);
  /** BPE result per pre-token; captions repeat words a lot. Bounded so hostile input cannot grow it forever. */
  private readonly wordCache = new Map<string, readonly number[]>();
  private static readonly WORD_CACHE_LIMIT = 100_000;

  private constructor(vocab: Map<string, number>, merges: readonly (readonly [string, string])[]) {
    this.idOf = vocab;
    let maxId = -1;
    for (const id of vocab.values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    const sot = vocab.get(START_OF_TEXT);
    const eot = vocab.get(END_OF_TEXT);
    if (sot === undefined || eot === undefined) {
      throw new Error(`Tokenizer vocabulary lacks ${START_OF_TEXT} or ${END_OF_TEXT}`);
    }
    this.startOfTextId = sot;
    this.endOfTextId = eot;
    for (let b = 0; b < 256; b++) {
      const ch = BYTE_TO_CHAR[b];
      const plain = vocab.get(ch);
      const withEnd = vocab.get(ch + END_OF_WORD);
      if (plain === undefined || withEnd === undefined) {
        throw new Error(`Tokenizer vocabulary lacks byte symbol ${JSON.stringify(ch)} (byte ${b}); not a CLIP byte-level vocabulary`);
      }
      this.byteIds[b] = plain;
      this.byteEndIds[b] = withEnd;
    }
    merges.forEach(([left, right], rank) => {
      const leftId = vocab.get(left);
      const rightId = vocab.get(right);
      const mergedId = vocab.get(left + right);
      // A merge whose parts or result are outside the vocabulary can never fire (HF files may carry such tails).
      if (leftId === undefined || rightId === undefined || mergedId === undefined) return;
      // dict(zip(merges, range(...))): a repeated pair keeps its last rank, as in OpenAI's code.
      this.mergeRules.set(leftId * this.vocabSize + rightId, { rank, merged: mergedId });
    });
  }

  /**
   * From OpenAI's `bpe_simple_vocab_16e6.txt` lines (header first). Uses the first 48894 merges and builds the
   * vocabulary the way OpenAI does: byte characters, the same with `</w>`, the merges joined, then the two specials.
   */
  static fromMerges(lines: readonly string[]): ClipTokenizer {
    const merges: [string, string][] = [];
    for (let i = 0; i < lines.length && merges.length < CLIP_MERGE_COUNT; i++) {
      if (i === 0 && isHeaderLine(lines[0])) continue;
      const pair = parseMergeLine(lines[i]);
      if (pair) merges.push(pair);
    }
    if (merges.length === 0) throw new Error('BPE merges list is empty');
    const order = BYTE_ORDER.map((b) => BYTE_TO_CHAR[b]);
    const symbols = [...order, ...order.map((c) => c + END_OF_WORD), ...merges.map(([a, b]) => a + b), START_OF_TEXT, END_OF_TEXT];
    // dict(zip(vocab, range(len(vocab)))): a repeated symbol keeps its last index.
    const vocab = new Map<string, number>();
    symbols.forEach((symbol, index) => vocab.set(symbol, index));
    return new ClipTokenizer(vocab, merges);
  }

  /** From Hugging Face `vocab.json` + `merges.txt` lines (the `#version` header, if present, is skipped). */
  static fromVocabAndMerges(vocab: Record<string, number>, merges: readonly string[]): ClipTokenizer {
    const vocabMap = new Map<string, number>();
    for (const [symbol, id] of Object.entries(vocab)) {
      if (!Number.isInteger(id) || id < 0) throw new Error(`vocab.json: id of ${JSON.stringify(symbol)} is not a non-negative integer`);
      vocabMap.set(symbol, id);
    }
    const pairs: [string, string][] = [];
    merges.forEach((line, i) => {
      if (i === 0 && isHeaderLine(line)) return;
      const pair = parseMergeLine(line);
      if (pair) pairs.push(pair);
    });
    return new ClipTokenizer(vocabMap, pairs);
  }

  /** Token ids of one text: [49406, …, 49407, 0, …] of exactly `contextLength` entries. */
  encode(text: string, contextLength: number = CLIP_CONTEXT_LENGTH): Int32Array {
    const out = new Int32Array(contextLength);
    this.encodeInto(text, out, 0, contextLength);
    return out;
  }

  /** Row-major [texts.length, contextLength] ids, ready for an `input_ids` tensor. */
  encodeBatch(texts: readonly string[], contextLength: number = CLIP_CONTEXT_LENGTH): Int32Array {
    const out = new Int32Array(texts.length * contextLength);
    texts.forEach((text, row) => this.encodeInto(text, out, row * contextLength, contextLength));
    return out;
  }

  /** The BPE ids of the text without start/end markers, truncation or padding. */
  encodeTokens(text: string): number[] {
    const ids: number[] = [];
    for (const match of cleanCaption(text).matchAll(CLIP_SPLIT)) {
      for (const id of this.bpeWord(match[0])) ids.push(id);
    }
    return ids;
  }

  private encodeInto(text: string, out: Int32Array, offset: number, contextLength: number): void {
    if (!Number.isInteger(contextLength) || contextLength < 2) throw new Error(`contextLength must be an integer ≥ 2, got ${contextLength}`);
    out[offset] = this.startOfTextId;
    let written = 1;
    const last = contextLength - 1;
    outer: for (const match of cleanCaption(text).matchAll(CLIP_SPLIT)) {
      for (const id of this.bpeWord(match[0])) {
        // OpenAI: tokens[:context_length] then tokens[-1] = eot, i.e. keep contextLength-1 tokens.
        if (written >= last) break outer;
        out[offset + written++] = id;
      }
    }
    out[offset + written] = this.endOfTextId;
    // The rest stays 0 (Int32Array is zero-filled), matching OpenAI's padding.
  }

  /** BPE of one pre-token; the special-token strings map to their own ids, as in OpenAI's cache. */
  private bpeWord(token: string): readonly number[] {
    const cached = this.wordCache.get(token);
    if (cached) return cached;
    let result: readonly number[];
    if (token === START_OF_TEXT) result = [this.startOfTextId];
    else if (token === END_OF_TEXT) result = [this.endOfTextId];
    else result = this.mergeSymbols(this.initialSymbols(token));
    if (this.wordCache.size >= ClipTokenizer.WORD_CACHE_LIMIT) this.wordCache.clear();
    this.wordCache.set(token, result);
    return result;
  }

  private initialSymbols(token: string): number[] {
    const bytes = UTF8.encode(token);
    const symbols = new Array<number>(bytes.length);
    for (let i = 0; i < bytes.length - 1; i++) symbols[i] = this.byteIds[bytes[i]];
    symbols[bytes.length - 1] = this.byteEndIds[bytes[bytes.length - 1]];
    return symbols;
  }

  /** Repeatedly merges the lowest-ranked adjacent pair, all its occurrences left to right (OpenAI's `bpe`). */
  private mergeSymbols(symbols: number[]): number[] {
    let word = symbols;
    while (word.length > 1) {
      let best: MergeRule | undefined;
      let bestLeft = -1;
      let bestRight = -1;
      for (let i = 0; i < word.length - 1; i++) {
        const rule = this.mergeRules.get(word[i] * this.vocabSize + word[i + 1]);
        if (rule && (!best || rule.rank < best.rank)) {
          best = rule;
          bestLeft = word[i];
          bestRight = word[i + 1];
        }
      }
      if (!best) break;
      const next: number[] = [];
      for (let i = 0; i < word.length; ) {
        if (i < word.length - 1 && word[i] === bestLeft && word[i + 1] === bestRight) {
          next.push(best.merged);
          i += 2;
        } else {
          next.push(word[i]);
          i += 1;
        }
      }
      word = next;
    }
    return word;
  }

  /** Vocabulary id of a symbol, if present (for tests and diagnostics). */
  idOfSymbol(symbol: string): number | undefined {
    return this.idOf.get(symbol);
  }
}

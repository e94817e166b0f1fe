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
/** Words with more byte symbols than this use the heap merge (the simple loop is quadratic). */
const LONG_WORD_SYMBOLS = 64;
/** Longer pre-tokens are not cached. */
const CACHEABLE_WORD_CHARS = 256;
/**
 * In encode(), a pre-token longer than this is cut before BPE: 76 tokens of at most 64 characters (the longest CLIP
 * token) fit well inside it, so the kept tokens are unaffected, and a megabyte-long hostile "word" costs nothing.
 */
const MAX_ENCODED_WORD_CHARS = 8192;

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

/** UTF-8 bytes of a string (src/core has no TextEncoder type); lone surrogates become U+FFFD like TextEncoder. */
function utf8Bytes(text: string): number[] {
  const bytes: number[] = [];
  for (const char of text) {
    let cp = char.codePointAt(0) ?? 0xfffd;
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    if (cp < 0x80) bytes.push(cp);
    else if (cp < 0x800) bytes.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000) bytes.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else bytes.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
  return bytes;
}

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
      const word = match[0].length > MAX_ENCODED_WORD_CHARS ? match[0].slice(0, MAX_ENCODED_WORD_CHARS) : match[0];
      for (const id of this.bpeWord(word)) {
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
    else {
      const symbols = this.initialSymbols(token);
      result = symbols.length > LONG_WORD_SYMBOLS ? this.mergeSymbolsHeap(symbols) : this.mergeSymbols(symbols);
    }
    // Long words are rare in real captions and would only fill the cache (hostile input can be megabytes).
    if (token.length <= CACHEABLE_WORD_CHARS) {
      if (this.wordCache.size >= ClipTokenizer.WORD_CACHE_LIMIT) this.wordCache.clear();
      this.wordCache.set(token, result);
    }
    return result;
  }

  private initialSymbols(token: string): number[] {
    const bytes = utf8Bytes(token);
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

  /**
   * The same merges as mergeSymbols in O(n log n) for long words: a min-heap of (rank, position) over a linked list.
   * Equivalent because a merge never creates a pair of its own rank (the merged symbol is new), so merging the
   * occurrences of the best pair one at a time, leftmost first, is what OpenAI's "all occurrences left to right" does.
   */
  private mergeSymbolsHeap(symbols: number[]): number[] {
    const n = symbols.length;
    const symbol = Int32Array.from(symbols);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const alive = new Uint8Array(n).fill(1);
    const heap = new PairHeap();
    const push = (left: number): void => {
      const right = next[left];
      if (right < 0) return;
      const rule = this.mergeRules.get(symbol[left] * this.vocabSize + symbol[right]);
      if (rule) heap.push(rule.rank, left, symbol[left], symbol[right]);
    };
    for (let i = 0; i < n - 1; i++) push(i);
    while (heap.size > 0) {
      const entry = heap.pop();
      const left = entry.position;
      const right = alive[left] ? next[left] : -1;
      // Stale entries: a side was merged away or changed since the pair was pushed.
      if (right < 0 || symbol[left] !== entry.left || symbol[right] !== entry.right) continue;
      const rule = this.mergeRules.get(entry.left * this.vocabSize + entry.right);
      if (!rule || rule.rank !== entry.rank) continue;
      symbol[left] = rule.merged;
      alive[right] = 0;
      next[left] = next[right];
      if (next[right] >= 0) prev[next[right]] = left;
      if (prev[left] >= 0) push(prev[left]);
      push(left);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(symbol[i]);
    return out;
  }

  /** Both BPE merge strategies on one word (for the equivalence test). */
  bpeBothWays(word: string): { simple: number[]; heap: number[] } {
    const symbols = this.initialSymbols(word);
    return { simple: this.mergeSymbols([...symbols]), heap: this.mergeSymbolsHeap([...symbols]) };
  }

  /** Vocabulary id of a symbol, if present (for tests and diagnostics). */
  idOfSymbol(symbol: string): number | undefined {
    return this.idOf.get(symbol);
  }
}

interface PairEntry {
  rank: number;
  position: number;
  left: number;
  right: number;
}

/** Binary min-heap on (rank, position): lowest rank first, leftmost first among equal ranks. */
class PairHeap {
  private readonly items: PairEntry[] = [];

  get size(): number {
    return this.items.length;
  }

  push(rank: number, position: number, left: number, right: number): void {
    const items = this.items;
    items.push({ rank, position, left, right });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!PairHeap.before(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  pop(): PairEntry {
    const items = this.items;
    const top = items[0];
    const last = items.pop() as PairEntry;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && PairHeap.before(items[left], items[smallest])) smallest = left;
        if (right < items.length && PairHeap.before(items[right], items[smallest])) smallest = right;
        if (smallest === i) break;
        [items[i], items[smallest]] = [items[smallest], items[i]];
        i = smallest;
      }
    }
    return top;
  }

  private static before(a: PairEntry, b: PairEntry): boolean {
    return a.rank < b.rank || (a.rank === b.rank && a.position < b.position);
  }
}

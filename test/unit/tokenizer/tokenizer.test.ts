import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ClipTokenizer, cleanCaption } from '../../../src/core/tokenizer';
import { findBundledVocab, loadTokenizer } from '../../../src/backend/tokenizerFiles';

interface TokenizerCase {
  text: string;
  ids: number[];
}

const EOT = 49407;

function findFixture(): string {
  // Tests run from out/test/unit/tokenizer/; the fixture stays in the source tree.
  const assetsFile = findBundledVocab(__dirname);
  return join(assetsFile, '..', '..', 'test', 'fixtures', 'tokenizer', 'tokenizer-cases.jsonl');
}

function readCases(): TokenizerCase[] {
  return readFileSync(findFixture(), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as TokenizerCase);
}

/** Ids up to and including the first end-of-text, as the reference comparison prescribes. */
function upToEot(ids: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    out.push(ids[i]);
    if (ids[i] === EOT) break;
  }
  return out;
}

function bundledLines(): string[] {
  return gunzipSync(readFileSync(findBundledVocab(__dirname))).toString('utf8').split('\n');
}

describe('ClipTokenizer', () => {
  const cases = readCases();
  let tokenizer: ClipTokenizer;

  before(async () => {
    tokenizer = await loadTokenizer();
  });

  it('matches every reference case up to and including 49407', () => {
    assert.ok(cases.length > 400, 'fixture should hold the shared cases');
    const mismatches = cases.filter((c) => JSON.stringify(upToEot(tokenizer.encode(c.text))) !== JSON.stringify(upToEot(c.ids)));
    assert.deepEqual(mismatches.map((c) => c.text), []);
  });

  it('pads with 0 to 77 exactly like the reference', () => {
    for (const c of cases) assert.deepEqual(Array.from(tokenizer.encode(c.text)), c.ids);
  });

  it('truncates long text to 76 tokens plus 49407', () => {
    const ids = tokenizer.encode('banana '.repeat(200));
    assert.equal(ids.length, 77);
    assert.equal(ids[0], 49406);
    assert.equal(ids[76], EOT);
    assert.ok(Array.from(ids.slice(1, 76)).every((id) => id !== 0 && id !== EOT));
  });

  it('encodeBatch lays rows out one after another', () => {
    const batch = tokenizer.encodeBatch(['a photo of a dog', 'x'], 77);
    assert.equal(batch.length, 154);
    assert.deepEqual(Array.from(batch.slice(0, 77)), Array.from(tokenizer.encode('a photo of a dog')));
    assert.deepEqual(Array.from(batch.slice(77)), Array.from(tokenizer.encode('x')));
  });

  it('honours a shorter context length', () => {
    const ids = tokenizer.encode('a photo of a dog', 4);
    assert.deepEqual(Array.from(ids), [49406, 320, 1125, EOT]);
  });

  it('cleans like OpenAI: NFC, Python whitespace set, strip, lowercase', () => {
    assert.equal(cleanCaption('  Cafe\u0301\u001c\u0085X\t\tY  '), 'café x y');
    // U+FEFF is not whitespace for Python, so it survives as a symbol.
    assert.ok(cleanCaption('a\ufeffb').includes('\ufeff'));
  });

  it('maps the special-token strings inside a caption to their ids, as OpenAI does', () => {
    assert.deepEqual(upToEot(tokenizer.encode('<|endoftext|> dog')), [49406, EOT]);
  });

  it('builds the same tokenizer from HF vocab.json + merges.txt and from tokenizer.json', async () => {
    const lines = bundledLines();
    const openAi = ClipTokenizer.fromMerges(lines);
    // Derive HF files from the OpenAI list, the way HF's exports were made.
    const merges = lines.slice(1, 1 + 48894);
    const vocab: Record<string, number> = {};
    const symbols = collectSymbols(openAi, merges);
    for (const [symbol, id] of symbols) vocab[symbol] = id;
    const dir = mkdtempSync(join(tmpdir(), 'tok-'));
    try {
      writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocab));
      writeFileSync(join(dir, 'merges.txt'), ['#version: 0.2', ...merges].join('\n'));
      const hf = await loadTokenizer(dir);
      mkdirSync(join(dir, 'j'));
      writeFileSync(
        join(dir, 'j', 'tokenizer.json'),
        JSON.stringify({ model: { type: 'BPE', vocab, merges: merges.map((m) => m.split(' ')) } }),
      );
      const fromJson = await loadTokenizer(join(dir, 'j'));
      for (const c of cases.slice(0, 120)) {
        assert.deepEqual(Array.from(hf.encode(c.text)), c.ids);
        assert.deepEqual(Array.from(fromJson.encode(c.text)), c.ids);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names what it looked for when a folder has no tokenizer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tok-empty-'));
    try {
      await assert.rejects(loadTokenizer(dir), /tokenizer\.json.*vocab\.json \+ merges\.txt.*bpe_simple_vocab_16e6\.txt\.gz/);
      await assert.rejects(loadTokenizer(join(dir, 'missing')), /does not exist/);
      writeFileSync(join(dir, 'tokenizer.json'), '{"model": {}}');
      await assert.rejects(loadTokenizer(dir), /model\.vocab and model\.merges/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the heap merge (long words) equals the simple merge loop', () => {
    let state = 99;
    const next = (n: number): number => (state = (state * 1103515245 + 12345) % 2147483648) % n;
    const alphabet = ['a', 'b', 'e', 'n', 'r', 's', 't', 'é', '🐶', '-', 'q'];
    for (let trial = 0; trial < 200; trial++) {
      let word = '';
      const length = 1 + next(300);
      for (let i = 0; i < length; i++) word += alphabet[next(trial % 2 === 0 ? 4 : alphabet.length)];
      const { simple, heap } = tokenizer.bpeBothWays(word);
      assert.deepEqual(heap, simple, word);
    }
  });

  it('encodes a megabyte-long hostile caption quickly and correctly shaped', () => {
    const ids = tokenizer.encode('x'.repeat(1_000_000) + ' ' + '🐶'.repeat(100_000));
    assert.equal(ids.length, 77);
    assert.equal(ids[76], EOT);
    // A long word's first tokens are the same whether or not it is cut at 8192 characters.
    assert.deepEqual(Array.from(ids.slice(0, 76)), [49406, ...tokenizer.encodeTokens('x'.repeat(20_000)).slice(0, 75)]);
  });

  it('rejects a malformed merges line', () => {
    assert.throws(() => ClipTokenizer.fromMerges(['#version: 0.2', 'i n', 'bad']), /Malformed BPE merge line/);
  });
});

/** Every vocabulary symbol with its id, reconstructed from the OpenAI construction (bytes, bytes+</w>, merges, specials). */
function collectSymbols(tokenizer: ClipTokenizer, merges: string[]): Map<string, number> {
  const out = new Map<string, number>();
  const candidates: string[] = ['<|startoftext|>', '<|endoftext|>', ...merges.map((m) => m.replace(' ', ''))];
  for (let cp = 0; cp < 512; cp++) {
    const ch = String.fromCodePoint(cp);
    candidates.push(ch, `${ch}</w>`);
  }
  for (const symbol of candidates) {
    const id = tokenizer.idOfSymbol(symbol);
    if (id !== undefined) out.set(symbol, id);
  }
  return out;
}

/** `backdoor-scan tokenize`: JSONL {"text"} on stdin → {"ids":[77 ids]} lines on stdout, same order. */
import { createInterface } from 'node:readline';
import { loadTokenizer } from '../../backend/tokenizerFiles';
import { CliFailure, UsageError, parseCommandArgs, stringOption } from '../args';
import type { Command } from '../command';

export const tokenizeCommand: Command = {
  name: 'tokenize',
  summary: 'CLIP-tokenize JSONL {"text": …} lines from stdin into {"ids": [77 ids]} lines',
  help: `Usage: backdoor-scan tokenize (--model DIR | --vocab FILE) < texts.jsonl > ids.jsonl

Reads one JSON object per line with a "text" string on stdin and writes {"ids": [...]} (77 ids: 49406 … 49407,
padded with 0, long texts cut to 76 tokens + 49407) per line on stdout, in the same order.

Options:
  --model DIR    a model folder with tokenizer.json, vocab.json + merges.txt, or bpe_simple_vocab_16e6.txt.gz
  --vocab FILE   a tokenizer file: tokenizer.json, merges.txt or OpenAI's bpe_simple_vocab_16e6.txt(.gz)
                 (with neither, the bundled OpenAI CLIP vocabulary is used)
  -h, --help     this help`,
  async run(argv, io) {
    const parsed = parseCommandArgs('tokenize', argv, { model: { type: 'string' }, vocab: { type: 'string' } });
    const model = stringOption(parsed, 'model');
    const vocab = stringOption(parsed, 'vocab');
    if (model !== undefined && vocab !== undefined) throw new UsageError('give --model or --vocab, not both.', 'tokenize');
    let tokenizer;
    try {
      tokenizer = await loadTokenizer(model ?? vocab);
    } catch (error) {
      throw new CliFailure(error instanceof Error ? error.message : String(error));
    }
    const lines = createInterface({ input: io.stdin, crlfDelay: Infinity });
    let lineNumber = 0;
    for await (const line of lines) {
      lineNumber += 1;
      if (line.trim() === '') continue;
      let text: unknown;
      try {
        const value: unknown = JSON.parse(line);
        text = value !== null && typeof value === 'object' ? (value as { text?: unknown }).text : undefined;
      } catch {
        throw new CliFailure(`stdin line ${lineNumber} is not JSON; expected {"text": "…"}.`);
      }
      if (typeof text !== 'string') throw new CliFailure(`stdin line ${lineNumber} has no "text" string; expected {"text": "…"}.`);
      const ids = tokenizer.encode(text);
      if (!io.stdout.write(`{"ids":[${ids.join(',')}]}\n`)) await new Promise((resolve) => io.stdout.once('drain', resolve));
    }
    return 0;
  },
};

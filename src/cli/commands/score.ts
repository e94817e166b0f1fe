/** `backdoor-scan score`: the detectors on embeddings the user already has (.npy). */
import { scoreEmbeddings } from '../../core/scoring';
import type { ScoreOptions } from '../../core/types';
import { scoreRowsTable, tableFormatFromPath, writeTable, writeTableToStream } from '../../backend/output';
import {
  CliFailure,
  SCORING_OPTIONS,
  UsageError,
  compatOption,
  detectorsOption,
  deviceOption,
  integerOption,
  parseCommandArgs,
  requiredString,
  stringOption,
} from '../args';
import { writeLine, type Command } from '../command';
import { readEmbeddingMatrix } from '../embeddingsFile';
import { openGemmEngine } from '../gemm';

export const SCORE_HELP = `Usage: backdoor-scan score --images IMG.npy [--texts TXT.npy] [options]

Scores every row of an image-embedding matrix with the backdoor-sample detectors (higher = more suspicious, except
clipScore, the raw image–caption cosine). With --texts (row i = caption of image i) the image–text pool is used and
clipScore + SafeCLIP's safe probability are computed; without it, image-only mode.

Options:
  --images FILE          image embeddings, .npy float32 or float16, shape (N, d), unnormalised projections
  --texts FILE           caption embeddings, .npy, shape (N, d)
  --k N                  neighbours for k-dist, SLOF, DAO (default 16)
  --lid-k N              neighbours for LID (default 64)
  --batch-size N         reference batch size B (default 2048; 0 = one batch of everything)
  --seed N               shuffle / isolation-forest seed (default 0)
  --detectors LIST       comma list of kdist,lid,slof,dao,iforest,clip,gmm (default all)
  --compat released-code reproduce the released code's neighbour-row quirk (default: correct mapping)
  --device auto|cpu|cuda where the distance GEMMs run (auto = CPU; cuda tries CUDA, falls back to CPU)
  -o, --out FILE         write .jsonl, .csv or .parquet (default: JSONL on stdout)

Output rows (input order): {"index","scores":{kdist,lid,slof,dao,iforest,clipScore},"safeProbability","safe"}
plus "warnings" when a score could not be computed (it is then null). CSV/Parquet carry the same columns, flat.

Example:
  backdoor-scan score --images img.npy --texts txt.npy --out scores.jsonl
  backdoor-scan eval --scores scores.jsonl --labels labels.npy`;

/** The detector options shared by score and scan. */
export function scoreOptionsFrom(parsed: ReturnType<typeof parseCommandArgs>, command: string): ScoreOptions {
  return {
    k: integerOption(parsed, 'k', 16, command, 1),
    lidK: integerOption(parsed, 'lid-k', 64, command, 1),
    batchSize: integerOption(parsed, 'batch-size', 2048, command, 0),
    seed: integerOption(parsed, 'seed', 0, command, 0),
    detectors: detectorsOption(parsed, command),
    compat: compatOption(parsed, command),
  };
}

/** Validates --out and returns its format (undefined = stdout JSONL). */
export function outFormatOf(out: string | undefined, command: string): ReturnType<typeof tableFormatFromPath> | undefined {
  if (out === undefined) return undefined;
  const format = tableFormatFromPath(out);
  if (format === null) throw new UsageError(`--out ${out}: use a .jsonl, .csv or .parquet file name.`, command);
  return format;
}

export const scoreCommand: Command = {
  name: 'score',
  summary: 'score image(/caption) embeddings from .npy files with the backdoor detectors',
  help: SCORE_HELP,
  async run(argv, io) {
    const parsed = parseCommandArgs('score', argv, { images: { type: 'string' }, texts: { type: 'string' }, ...SCORING_OPTIONS });
    const imagesPath = requiredString(parsed, 'images', 'score');
    const textsPath = stringOption(parsed, 'texts');
    const options = scoreOptionsFrom(parsed, 'score');
    const device = deviceOption(parsed, 'score');
    const out = stringOption(parsed, 'out');
    const format = outFormatOf(out, 'score');

    const images = await readEmbeddingMatrix(imagesPath, '--images');
    const texts = textsPath !== undefined ? await readEmbeddingMatrix(textsPath, '--texts') : null;
    if (texts && (texts.rows !== images.rows || texts.dim !== images.dim)) {
      throw new CliFailure(`--texts has shape (${texts.rows}, ${texts.dim}) but --images has (${images.rows}, ${images.dim}); row i of both must be the same pair.`);
    }
    const warn = (message: string): void => writeLine(io.stderr, `warning: ${message}`);
    const engine = await openGemmEngine(device, warn);
    let output;
    try {
      output = await scoreEmbeddings({ images, texts }, options, engine, { signal: io.signal });
    } catch (error) {
      if (io.signal.aborted) throw error;
      throw new CliFailure((error as Error).message);
    } finally {
      await engine.dispose?.();
    }
    output.warnings.forEach(warn);
    const table = scoreRowsTable(output.rows);
    if (out === undefined || format === undefined || format === null) await writeTableToStream(io.stdout, 'jsonl', table);
    else {
      await writeTable(out, format, table);
      writeLine(io.stderr, `Wrote ${output.rows.length} rows to ${out}.`);
    }
    return 0;
  },
};

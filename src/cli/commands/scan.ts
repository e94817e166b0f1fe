/** `backdoor-scan scan`: a dataset folder → scores for every image–caption pair. */
import { realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { LAYOUT_NAMES } from '../../backend/readers/types';
import { defaultCacheDir } from '../../backend/models';
import { sampleResultsTable, writeTable, writeTableToStream } from '../../backend/output';
import { runScan, ScanCancelledError } from '../../backend/pipeline';
import { readResultRows } from '../../backend/resultsFolder';
import { isInside } from '../../backend/safePath';
import { realScanDependencies } from '../../backend/scanDeps';
import { CliFailure, SCORING_OPTIONS, UsageError, deviceOption, flag, parseCommandArgs, stringOption } from '../args';
import { writeLine, type Command } from '../command';
import { createProgressReporter } from '../progress';
import { outFormatOf, scoreOptionsFrom } from './score';
import { EXIT_INTERRUPTED } from '../exitCodes';

export const scanCommand: Command = {
  name: 'scan',
  summary: 'scan a dataset folder (images + captions) and score every pair',
  help: `Usage: backdoor-scan scan DATASET [options]

Reads every image–caption pair of DATASET, embeds them with a CLIP ONNX model (cached), runs the backdoor detectors
and writes one result row per sample. Error rows (broken or missing images, paths escaping the dataset) carry
"error" and no scores; the scan still completes (exit 0). Nothing is ever written inside DATASET.

Options:
  --model DIR|NAME       model folder, or a cached hub name (see \`backdoor-scan model list\`); default: the only cached model
  --layout NAME          skip auto-detection: ${LAYOUT_NAMES.join(', ')}
  --manifest FILE        a CSV/TSV/JSONL/Parquet manifest (image path + caption columns)
  --image-column C       manifest column with the image path
  --caption-column C     manifest column with the caption
  --device auto|cpu|cuda where the model runs (auto: CUDA if available, else CPU; the device used is reported)
  --batch-size N         reference batch size B (default 2048; 0 = one batch of everything)
  --k N, --lid-k N, --seed N, --detectors LIST, --compat released-code   as for \`score\`
  -o, --out FILE         write results as .jsonl, .csv or .parquet (default: JSONL on stdout); refused inside DATASET
  --save-embeddings DIR  also write image_embeddings.npy, text_embeddings.npy and ids.jsonl there (for notebooks, \`score\`)
  --cache DIR            cache root (embeddings, results, thumbnails); default $BACKDOOR_SCAN_CACHE or ~/.cache/clip-backdoor-scanner
  --json                 progress as JSON lines on stderr: {"event":"progress","stage","done","total"},
                         {"event":"device",…}, {"event":"log",…}, and a final {"event":"done","summary","resultsDir"}
  --quiet                no progress output

Rows: {"id","image","caption","error","scores":{kdist,lid,slof,dao,iforest,clipScore},"safeProbability","safe"}.
Progress goes to stderr (a bar on a terminal), so stdout carries only result rows. Ctrl-C stops cleanly; embeddings
computed so far stay cached and the next scan resumes from them.`,
  async run(argv, io) {
    const parsed = parseCommandArgs(
      'scan',
      argv,
      {
        model: { type: 'string' },
        layout: { type: 'string' },
        manifest: { type: 'string' },
        'image-column': { type: 'string' },
        'caption-column': { type: 'string' },
        'save-embeddings': { type: 'string' },
        cache: { type: 'string' },
        json: { type: 'boolean' },
        quiet: { type: 'boolean', short: 'q' },
        ...SCORING_OPTIONS,
      },
      true,
    );
    if (parsed.positionals.length !== 1) throw new UsageError(parsed.positionals.length === 0 ? 'give the DATASET folder to scan.' : `one DATASET folder, got ${parsed.positionals.length}.`, 'scan');
    const dataset = resolve(parsed.positionals[0]);
    const layout = stringOption(parsed, 'layout');
    if (layout !== undefined && !(LAYOUT_NAMES as readonly string[]).includes(layout)) {
      throw new UsageError(`--layout ${layout}: choose one of ${LAYOUT_NAMES.join(', ')}.`, 'scan');
    }
    const scoreOptions = scoreOptionsFrom(parsed, 'scan');
    const device = deviceOption(parsed, 'scan');
    const out = stringOption(parsed, 'out');
    const format = outFormatOf(out, 'scan');
    const json = flag(parsed, 'json');
    let datasetReal: string;
    try {
      datasetReal = await realpath(dataset);
    } catch {
      throw new CliFailure(`dataset folder ${dataset} does not exist.`);
    }
    if (out !== undefined) {
      const outAbsolute = resolve(out);
      if (isInside(datasetReal, outAbsolute) || isInside(dataset, outAbsolute)) {
        throw new UsageError(`--out ${outAbsolute} is inside the dataset folder; the scanner never writes into a dataset. Choose a path outside it.`, 'scan');
      }
    }

    const reporter = createProgressReporter(io.stderr, flag(parsed, 'quiet') ? 'silent' : json ? 'json' : io.stderrIsTTY ? 'bar' : 'lines');
    const manifest = stringOption(parsed, 'manifest');
    let outcome;
    try {
      outcome = await runScan(
        dataset,
        {
          ...scoreOptions,
          detectors: [...scoreOptions.detectors],
          model: stringOption(parsed, 'model'),
          device,
          layout,
          manifest: manifest !== undefined ? resolve(manifest) : undefined,
          imageColumn: stringOption(parsed, 'image-column'),
          captionColumn: stringOption(parsed, 'caption-column'),
          cacheDir: resolve(stringOption(parsed, 'cache') ?? defaultCacheDir(io.env)),
          saveEmbeddings: stringOption(parsed, 'save-embeddings'),
        },
        {
          onProgress: (stage, done, total, message) => reporter.progress(stage, done, total, message),
          onDevice: (d, reason) => reporter.device(d, reason),
          onLog: (level, message) => reporter.log(level, message),
          signal: io.signal,
        },
        realScanDependencies,
      );
    } catch (error) {
      reporter.finish();
      if (error instanceof ScanCancelledError) {
        writeLine(io.stderr, 'Scan stopped. Embeddings computed so far are cached; run the same command to resume.');
        return EXIT_INTERRUPTED;
      }
      throw new CliFailure((error as Error).message);
    }
    reporter.finish();
    const { summary, resultsDir } = outcome;
    const rows = await readResultRows(resultsDir);
    const table = sampleResultsTable(rows);
    if (out === undefined || format === undefined || format === null) await writeTableToStream(io.stdout, 'jsonl', table);
    else await writeTable(out, format, table);
    if (json) {
      writeLine(io.stderr, JSON.stringify({ event: 'done', summary, resultsDir }));
    } else if (!flag(parsed, 'quiet')) {
      writeLine(
        io.stderr,
        `Scanned ${summary.sampleCount} samples (${summary.errorCount} errors) with ${summary.device === 'none' ? 'precomputed embeddings' : `${summary.model} on ${summary.device}`}; ` +
          `${summary.embeddedImages} images embedded, ${summary.cachedImages} from cache.`,
      );
      writeLine(io.stderr, `Results folder: ${resultsDir}${out !== undefined ? `; rows written to ${out}` : ''}`);
    }
    return 0;
  },
};

/** `backdoor-scan export`: a scan's results folder → scores, deletion list, cleaned manifest or safe set. */
import { readFile, realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { exportResults } from '../../backend/exporters';
import { defaultCacheDir } from '../../backend/models';
import { resultsDirFor } from '../../backend/resultsFolder';
import { EXPORT_FORMATS, type ExportFormat } from '../../protocol/backend';
import { CliFailure, UsageError, integerOption, parseCommandArgs, requiredString, stringOption } from '../args';
import { writeLine, type Command } from '../command';

export const exportCommand: Command = {
  name: 'export',
  summary: 'export a scan: scores, deletion list, cleaned manifest or the safe set for fine-tuning',
  help: `Usage: backdoor-scan export (DATASET | --results DIR) --format FORMAT --out FILE [--exclude FILE] [--seed S]

Reads the results of the last scan of DATASET (or the results folder DIR) and writes:
  csv | jsonl | parquet   every result row (id, image, caption, error, scores, safeProbability, safe)
  deletion-list           the samples listed in --exclude with the files each owns: JSONL {"id","image","files",
                          "absoluteFiles","container"}, or one absolute path per line when FILE ends in .txt
  clean-manifest          CSV image,caption of every sample kept (not excluded, not an error row)
  safe-set                JSONL of kept samples SafeCLIP calls safe, each with "positives" (EDA-style synonym
                          replacement / deletion / swap) and "negatives" (one noun or adjective dropped or replaced):
                          data for CleanCLIP / TA-Cleaner-style fine-tuning

Options:
  --format FORMAT   ${EXPORT_FORMATS.join(', ')}
  -o, --out FILE    where to write (atomically)
  --exclude FILE    sample ids to remove, one per line (e.g. the flagged ones)
  --results DIR     a results folder instead of DATASET
  --cache DIR       cache root the scan used (default $BACKDOOR_SCAN_CACHE or ~/.cache/clip-backdoor-scanner)
  --seed S          seed of the safe-set caption augmentations (default 0)`,
  async run(argv, io) {
    const parsed = parseCommandArgs(
      'export',
      argv,
      { format: { type: 'string' }, out: { type: 'string', short: 'o' }, exclude: { type: 'string' }, results: { type: 'string' }, cache: { type: 'string' }, seed: { type: 'string' } },
      true,
    );
    const format = requiredString(parsed, 'format', 'export');
    if (!(EXPORT_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(', ')}.`, 'export');
    const out = resolve(requiredString(parsed, 'out', 'export'));
    const resultsOption = stringOption(parsed, 'results');
    if ((resultsOption === undefined) === (parsed.positionals.length === 0) || parsed.positionals.length > 1) {
      throw new UsageError('give either one DATASET folder or --results DIR.', 'export');
    }
    let resultsDir: string;
    if (resultsOption !== undefined) resultsDir = resolve(resultsOption);
    else {
      const cacheDir = resolve(stringOption(parsed, 'cache') ?? defaultCacheDir(io.env));
      const dataset = await realpath(resolve(parsed.positionals[0])).catch(() => {
        throw new CliFailure(`dataset folder ${resolve(parsed.positionals[0])} does not exist.`);
      });
      resultsDir = resultsDirFor(cacheDir, dataset);
    }
    const excludePath = stringOption(parsed, 'exclude');
    let excludeIds: string[] = [];
    if (excludePath !== undefined) {
      const text = await readFile(excludePath, 'utf8').catch(() => {
        throw new CliFailure(`cannot read --exclude ${excludePath}.`);
      });
      excludeIds = text.split(/\r?\n/).filter((line) => line.length > 0);
    }
    if (format === 'deletion-list' && excludeIds.length === 0) throw new UsageError('deletion-list needs --exclude FILE with the ids to delete.', 'export');
    try {
      const result = await exportResults(resultsDir, format as ExportFormat, out, { excludeIds, seed: integerOption(parsed, 'seed', 0, 'export') });
      writeLine(io.stderr, `Wrote ${result.rowCount} rows to ${result.outPath}.`);
    } catch (error) {
      throw new CliFailure((error as Error).message);
    }
    return 0;
  },
};

/** `backdoor-scan eval`: AUROC, PR-AUC and FPR@95%TPR of each detector against known poison labels. */
import { CliFailure, flag, parseCommandArgs, requiredString } from '../args';
import { writeLine, type Command } from '../command';
import { evaluate, formatMetricsTable, matchLabels, readLabels, readScoresFile } from '../evaluation';

export const evalCommand: Command = {
  name: 'eval',
  summary: 'AUROC, PR-AUC and FPR@95TPR of each detector against poison labels',
  help: `Usage: backdoor-scan eval --scores FILE --labels FILE [--json]

Options:
  --scores FILE   output of \`score\` or \`scan\` (.jsonl, .csv or .parquet)
  --labels FILE   .npy of 0/1 (1 = poisoned; row i labels score row i), or a CSV/JSONL/Parquet table with an
                  "id" column (matched to scan ids) or an "index" column (matched to score rows) and a label column
                  (label, poisoned, is_poisoned, y, … — the labels.csv written by \`poison\` works as is)
  --json          print JSON instead of a table

Every detector is ranked higher = more suspicious: clipScore by −cos, safeProbability by −p.
AUROC counts ties as ½. Rows without a value for a detector (error rows, null scores) are left out for that detector.`,
  async run(argv, io) {
    const parsed = parseCommandArgs('eval', argv, { scores: { type: 'string' }, labels: { type: 'string' }, json: { type: 'boolean' } });
    const scoresPath = requiredString(parsed, 'scores', 'eval');
    const labelsPath = requiredString(parsed, 'labels', 'eval');
    const rows = await readScoresFile(scoresPath);
    const labels = matchLabels(rows, await readLabels(labelsPath));
    const metrics = evaluate(rows, labels);
    if (metrics.length === 0) throw new CliFailure(`${scoresPath} has no score columns to evaluate.`);
    if (flag(parsed, 'json')) {
      writeLine(io.stdout, JSON.stringify({ rows: rows.length, poisoned: labels.reduce((a, b) => a + b, 0), detectors: metrics }, null, 2));
    } else {
      writeLine(io.stdout, formatMetricsTable(metrics));
    }
    return 0;
  },
};

/**
 * `backdoor-scan demo` (README: `npm ci && npm run demo`): the whole pipeline on generated data, in seconds —
 * synthesise the tiny random-weight CLIP model into the cache, generate a small image–caption dataset in a temp folder,
 * poison it (BadNets, target "banana"), scan it, print the most suspicious samples and each detector's AUROC.
 * Writes only under the cache folder: the generated datasets live in `<cache>/demo/datasets/<settings>/` and are reused
 * (with their cached embeddings) by the next run with the same settings.
 */
import { access, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { defaultCacheDir } from '../../backend/models';
import { synthesizeClipModel } from '../../backend/onnx/clipSynth';
import { runScan } from '../../backend/pipeline';
import { poisonDataset } from '../../backend/poison';
import { readResultRows } from '../../backend/resultsFolder';
import { realScanDependencies } from '../../backend/scanDeps';
import { generateSyntheticDataset } from '../../backend/syntheticDataset';
import { DEFAULT_SCORE_OPTIONS, DETECTOR_NAMES } from '../../core/types';
import { integerOption, numberOption, parseCommandArgs, stringOption } from '../args';
import { writeLine, type Command } from '../command';
import { evaluate, formatMetricsTable, matchLabels, readLabels, type ScoredRow } from '../evaluation';
import { createProgressReporter } from '../progress';

const DEMO_TARGET = 'banana';

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the whole pipeline on a generated, poisoned dataset with a tiny random-weight model',
  help: `Usage: backdoor-scan demo [--count N] [--rate R] [--seed S] [--cache DIR]

Synthesises the tiny CLIP model into the cache, generates N images with captions (under the cache), poisons a
fraction R of them with a BadNets patch and the caption "a photo of a ${DEMO_TARGET}", scans the poisoned copy, prints
the 10 most suspicious samples (by DAO) and each detector's AUROC / PR-AUC / FPR@95TPR.

Options:
  --count N     samples to generate (default 600)
  --rate R      poisoning rate (default 0.015)
  --seed S      dataset / poison seed (default 0)
  --cache DIR   cache root (default $BACKDOOR_SCAN_CACHE or ~/.cache/clip-backdoor-scanner); the demo writes only there`,
  async run(argv, io) {
    const parsed = parseCommandArgs('demo', argv, {
      count: { type: 'string' },
      rate: { type: 'string' },
      seed: { type: 'string' },
      cache: { type: 'string' },
    });
    const count = integerOption(parsed, 'count', 600, 'demo', 100);
    const rate = numberOption(parsed, 'rate', 'demo', { min: 0.001, max: 0.5 }) ?? 0.015;
    const seed = integerOption(parsed, 'seed', 0, 'demo');
    const cacheDir = resolve(stringOption(parsed, 'cache') ?? defaultCacheDir(io.env));
    const say = (text = ''): void => writeLine(io.stdout, text);
    const started = Date.now();

    const modelDir = join(cacheDir, 'demo', 'tiny-model');
    if (!(await exists(join(modelDir, 'onnx', 'vision_model.onnx')))) {
      say(`1/4 Synthesising the tiny CLIP model (random weights) into ${modelDir}`);
      await synthesizeClipModel(modelDir, { preset: 'tiny', seed: 0 });
    } else {
      say(`1/4 Using the tiny CLIP model in ${modelDir}`);
    }

    const work = join(cacheDir, 'demo', 'datasets', `n${count}-r${rate}-s${seed}`);
    const clean = join(work, 'clean');
    const poisoned = join(work, 'poisoned');
    const labelsPath = join(poisoned, 'labels.csv');
    let poisonedIds: Set<string>;
    let poisonedCount: number;
    if (await exists(labelsPath)) {
      say(`2/4 Using the generated, poisoned dataset in ${poisoned}`);
      const labels = await readLabels(labelsPath);
      poisonedIds = new Set(labels.by === 'id' ? [...labels.values].filter(([, label]) => label === 1).map(([id]) => id) : []);
      poisonedCount = poisonedIds.size;
    } else {
      // A run stopped halfway leaves no labels.csv: start that folder again.
      await rm(work, { recursive: true, force: true });
      say(`2/4 Generating ${count} image–caption pairs in ${clean}`);
      await generateSyntheticDataset(clean, { count, seed });
      const poison = await poisonDataset({ source: clean, out: poisoned, attack: 'badnets', rate, target: DEMO_TARGET, seed });
      say(`    Poisoned ${poison.poisoned} of ${poison.total} with a BadNets patch + caption "a photo of a ${DEMO_TARGET}" → ${poisoned}`);
      poisonedIds = new Set(poison.poisonedIds);
      poisonedCount = poison.poisoned;
    }
    say('3/4 Scanning the poisoned copy');
    const reporter = createProgressReporter(io.stderr, io.stderrIsTTY ? 'bar' : 'silent');
    const { summary, resultsDir } = await runScan(
      poisoned,
      { ...DEFAULT_SCORE_OPTIONS, detectors: [...DETECTOR_NAMES], model: modelDir, device: 'cpu', cacheDir },
      {
        onProgress: (stage, done, total, message) => reporter.progress(stage, done, total, message),
        onDevice: () => undefined,
        onLog: () => undefined,
        signal: io.signal,
      },
      realScanDependencies,
    );
    reporter.finish();
    const rows = await readResultRows(resultsDir);
    say(`    ${summary.sampleCount} samples, ${summary.errorCount} errors, ${summary.embeddedImages} images embedded (${summary.cachedImages} cached), device ${summary.device}`);

    say('4/4 Results');
    say('');
    say('The 10 most suspicious samples (DAO, higher = more suspicious):');
    const ranked = rows
      .filter((r) => typeof r.scores?.dao === 'number')
      .sort((a, b) => (b.scores?.dao as number) - (a.scores?.dao as number))
      .slice(0, 10);
    ranked.forEach((r, i) => {
      const mark = poisonedIds.has(r.id) ? 'POISONED' : 'clean   ';
      say(`  ${String(i + 1).padStart(2)}. ${(r.scores?.dao as number).toFixed(4).padStart(9)}  ${mark}  ${r.id}  "${r.caption ?? ''}"`);
    });
    say('');
    const scored: ScoredRow[] = rows.map((r, position) => ({
      position,
      index: null,
      id: r.id,
      values: r.error === null ? { ...r.scores, safeProbability: r.safeProbability ?? null } : {},
    }));
    const labels = matchLabels(scored, await readLabels(labelsPath));
    say(`Detection quality against the ${poisonedCount} planted samples:`);
    say(formatMetricsTable(evaluate(scored, labels)));
    say('');
    say('Note: the tiny model has random weights. This demo shows the pipeline working end to end (reading, embedding,');
    say('caching, scoring, evaluation); its numbers say nothing about detection quality on real data. With a real CLIP model:');
    say('  backdoor-scan model download Xenova/clip-vit-base-patch32 --variant quantized');
    say('  backdoor-scan poison YOUR_DATASET --out /tmp/poisoned --attack badnets --rate 0.01 --target banana');
    say('  backdoor-scan scan /tmp/poisoned --model Xenova/clip-vit-base-patch32 --out scores.jsonl');
    say('  backdoor-scan eval --scores scores.jsonl --labels /tmp/poisoned/labels.csv');
    say('');
    say(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s. Results folder: ${resultsDir}`);
    return 0;
  },
};

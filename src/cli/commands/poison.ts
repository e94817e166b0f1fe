/** `backdoor-scan poison`: a poisoned copy of a dataset (the paper's attacks) with labels.csv, for evaluation. */
import { resolve } from 'node:path';
import { ATTACKS, poisonDataset, type AttackName } from '../../backend/poison';
import { LAYOUT_NAMES, type LayoutName } from '../../backend/readers/types';
import { CliFailure, UsageError, integerOption, numberOption, parseCommandArgs, requiredString, stringOption } from '../args';
import { writeLine, type Command } from '../command';

export const poisonCommand: Command = {
  name: 'poison',
  summary: 'write a poisoned copy of a dataset (badnets, blend, sig, wanet, nashville) + labels.csv',
  help: `Usage: backdoor-scan poison SRC --out DST --attack ${ATTACKS.join('|')} --rate R --target WORD [--seed S]

Copies the dataset SRC to DST (a sidecar folder), adding the attack's trigger to a random fraction R of the images and
replacing their captions with "a photo of a WORD", as in the paper's evaluation. DST/labels.csv lists every sample
id with label 1 (poisoned) or 0, ready for \`backdoor-scan eval --labels DST/labels.csv\`. SRC is only read.

Options:
  --out DST        output folder (must not be SRC or inside it)
  --attack NAME    ${ATTACKS.join(', ')}
  --rate R         fraction of samples to poison, in (0, 1] (any rate > 0 poisons at least one)
  --target WORD    the word the poisoned captions name, e.g. banana
  --seed S         which samples and trigger positions (default 0)
  --layout NAME    SRC's layout when auto-detection is wrong: ${LAYOUT_NAMES.join(', ')}`,
  async run(argv, io) {
    const parsed = parseCommandArgs(
      'poison',
      argv,
      { out: { type: 'string', short: 'o' }, attack: { type: 'string' }, rate: { type: 'string' }, target: { type: 'string' }, seed: { type: 'string' }, layout: { type: 'string' } },
      true,
    );
    if (parsed.positionals.length !== 1) throw new UsageError('give one SRC dataset folder.', 'poison');
    const attack = requiredString(parsed, 'attack', 'poison');
    if (!(ATTACKS as readonly string[]).includes(attack)) throw new UsageError(`--attack must be one of ${ATTACKS.join(', ')}, got "${attack}".`, 'poison');
    if (stringOption(parsed, 'rate') === undefined) throw new UsageError('--rate is required (e.g. 0.01).', 'poison');
    const rate = numberOption(parsed, 'rate', 'poison', { min: 0, max: 1 }) as number;
    const target = requiredString(parsed, 'target', 'poison');
    if (!/^[\p{L}\p{N}][\p{L}\p{N} '-]{0,63}$/u.test(target)) throw new UsageError('--target must be a word or short phrase (letters, digits, spaces).', 'poison');
    const layout = stringOption(parsed, 'layout');
    if (layout !== undefined && !(LAYOUT_NAMES as readonly string[]).includes(layout)) throw new UsageError(`--layout: choose one of ${LAYOUT_NAMES.join(', ')}.`, 'poison');
    const out = resolve(requiredString(parsed, 'out', 'poison'));
    try {
      const result = await poisonDataset({
        source: resolve(parsed.positionals[0]),
        out,
        attack: attack as AttackName,
        rate,
        target,
        seed: integerOption(parsed, 'seed', 0, 'poison'),
        layout: layout as LayoutName | undefined,
      });
      writeLine(io.stderr, `Poisoned ${result.poisoned} of ${result.total} samples with ${attack} → ${out} (labels: ${resolve(out, 'labels.csv')}).`);
      if (result.skipped.length > 0) writeLine(io.stderr, `Skipped ${result.skipped.length} unreadable source samples (first: ${result.skipped[0].id}: ${result.skipped[0].reason}).`);
    } catch (error) {
      throw new CliFailure((error as Error).message);
    }
    return 0;
  },
};

/** Every `backdoor-scan` subcommand, in the order `--help` lists them. */
import type { Command } from './command';
import { demoCommand } from './commands/demo';
import { evalCommand } from './commands/eval';
import { exportCommand } from './commands/export';
import { modelCommand } from './commands/model';
import { poisonCommand } from './commands/poison';
import { scanCommand } from './commands/scan';
import { scoreCommand } from './commands/score';
import { tokenizeCommand } from './commands/tokenize';

export const COMMANDS: readonly Command[] = [scanCommand, scoreCommand, evalCommand, tokenizeCommand, modelCommand, poisonCommand, exportCommand, demoCommand];

/** Every `backdoor-scan` subcommand, in the order `--help` lists them. */
import type { Command } from './command';
import { tokenizeCommand } from './commands/tokenize';

export const COMMANDS: readonly Command[] = [tokenizeCommand];

/** The `backdoor-scan` dispatcher: picks the subcommand, maps errors to exit codes (0 ok, 1 failure, 2 bad usage). */
import packageJson from '../../package.json';
import { CliFailure, UsageError } from './args';
import { writeLine, type CliIo, type Command } from './command';
import { COMMANDS } from './commands';

import { EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE } from './exitCodes';
export { EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE };

export function topLevelHelp(commands: readonly Command[] = COMMANDS): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'backdoor-scan — find poisoned (backdoor) image–caption pairs in CLIP training data.',
    '',
    'Usage: backdoor-scan <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `backdoor-scan <command> --help` for a command\'s options.',
    'Exit codes: 0 success, 1 failure, 2 bad usage, 130 interrupted.',
  ].join('\n');
}

export async function runCli(argv: string[], io: CliIo, commands: readonly Command[] = COMMANDS): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const target = name === 'help' ? commands.find((c) => c.name === rest[0]) : undefined;
    writeLine(io.stdout, target ? target.help : topLevelHelp(commands));
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === '--version' || name === '-v') {
    writeLine(io.stdout, VERSION);
    return EXIT_OK;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    writeLine(io.stderr, `backdoor-scan: unknown command "${name}". Commands: ${commands.map((c) => c.name).join(', ')}.`);
    writeLine(io.stderr, 'Run `backdoor-scan --help` for usage.');
    return EXIT_USAGE;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    writeLine(io.stdout, command.help);
    return EXIT_OK;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      writeLine(io.stderr, `backdoor-scan ${command.name}: ${error.message}`);
      writeLine(io.stderr, `Run \`backdoor-scan ${command.name} --help\` for usage.`);
      return EXIT_USAGE;
    }
    if (io.signal.aborted) {
      writeLine(io.stderr, `backdoor-scan ${command.name}: interrupted.`);
      return EXIT_INTERRUPTED;
    }
    const message = error instanceof Error ? error.message : String(error);
    writeLine(io.stderr, `backdoor-scan ${command.name}: ${message}`);
    if (!(error instanceof CliFailure) && io.env.BACKDOOR_SCAN_DEBUG && error instanceof Error && error.stack) writeLine(io.stderr, error.stack);
    return EXIT_FAILURE;
  }
}

export const VERSION: string = packageJson.version;

/** What every `backdoor-scan` subcommand looks like, and the I/O it is given (real streams, or test doubles). */
import type { Readable, Writable } from 'node:stream';

export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable;
  /** Whether stderr is a terminal: progress bars go there only then. */
  stderrIsTTY: boolean;
  env: NodeJS.ProcessEnv;
  /** Aborted on Ctrl-C: long commands stop cleanly (the scan keeps its cache). */
  signal: AbortSignal;
}

export interface Command {
  name: string;
  summary: string;
  /** Full `--help` text. */
  help: string;
  /** Returns the exit code: 0 success, 1 failure. Bad usage throws UsageError (exit 2). */
  run(argv: string[], io: CliIo): Promise<number>;
}

export function writeLine(stream: Writable, text = ''): void {
  stream.write(text + '\n');
}

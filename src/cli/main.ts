/** `backdoor-scan` entry (bundled to dist/cli.js, launched by bin/backdoor-scan.js). */
import { EXIT_INTERRUPTED, runCli } from './run';

const controller = new AbortController();
let interrupts = 0;
process.on('SIGINT', () => {
  interrupts += 1;
  // First Ctrl-C: stop cleanly (caches flushed). Second: leave now.
  if (interrupts > 1) process.exit(EXIT_INTERRUPTED);
  process.stderr.write('\nStopping… (press Ctrl-C again to quit immediately)\n');
  controller.abort(new Error('interrupted'));
});
// A closed pipe (`backdoor-scan score … | head`) is not an error worth a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  stderrIsTTY: process.stderr.isTTY === true,
  env: process.env,
  signal: controller.signal,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`backdoor-scan: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);

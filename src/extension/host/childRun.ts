/**
 * Runs a Node script (our CLI, or onnxruntime-node's install script) as a child process with its output streamed line by
 * line, cancellable, and never left behind. Used for model download/synthesis and "Set up GPU acceleration".
 */
import { fork } from 'node:child_process';

export interface ChildRunOptions {
  args?: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Each non-empty output line (stdout and stderr), with terminal control sequences removed. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  signal?: AbortSignal;
}

export interface ChildRunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines of output (both streams), for error messages. */
  tail: string[];
  cancelled: boolean;
}

const TAIL_LINES = 40;

/** Removes ANSI escapes and carriage-return redraws (progress bars) so that a line reads as text. */
export function cleanLine(line: string): string {
  const withoutEscapes = line.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, '');
  const lastRedraw = withoutEscapes.split('\r').filter((part) => part.trim() !== '').at(-1) ?? '';
  return lastRedraw.trim();
}

export function runNodeScript(script: string, options: ChildRunOptions = {}): Promise<ChildRunResult> {
  return new Promise((resolve, reject) => {
    const child = fork(script, options.args ?? [], {
      cwd: options.cwd,
      env: { ...(options.env ?? process.env), ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      execArgv: [],
    });
    const tail: string[] = [];
    let cancelled = false;
    const onAbort = (): void => {
      cancelled = true;
      child.kill('SIGTERM');
      // A script that ignores SIGTERM still goes.
      setTimeout(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'), 3000).unref();
    };
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
    for (const [stream, name] of [[child.stdout, 'stdout'], [child.stderr, 'stderr']] as const) {
      let pending = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const parts = (pending + chunk).split('\n');
        pending = parts.pop() ?? '';
        for (const part of parts) emit(part, name);
      });
      stream?.on('end', () => pending && emit(pending, name));
    }
    function emit(raw: string, stream: 'stdout' | 'stderr'): void {
      const line = cleanLine(raw);
      if (!line) return;
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      options.onLine?.(line, stream);
    }
    child.on('error', (error) => {
      options.signal?.removeEventListener('abort', onAbort);
      reject(error);
    });
    child.on('close', (code, signal) => {
      options.signal?.removeEventListener('abort', onAbort);
      resolve({ code, signal, tail, cancelled });
    });
  });
}

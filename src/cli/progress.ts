/**
 * Scan progress for people and for programs:
 * - a one-line bar redrawn on stderr when stderr is a terminal;
 * - with --json, one JSON object per line on stderr ({"event":"progress",…}), so stdout stays the results stream.
 * - otherwise (stderr redirected to a file), a plain line per stage change, not thousands of redraws.
 */
import type { Writable } from 'node:stream';
import type { Device, ScanStage } from '../protocol/backend';

export type ProgressMode = 'bar' | 'json' | 'lines' | 'silent';

export interface ProgressReporter {
  progress(stage: ScanStage, done: number, total: number, message?: string): void;
  device(device: Device, reason: string): void;
  log(level: 'info' | 'warn' | 'error', message: string): void;
  /** Clears the bar line so that the next output starts on a clean line. */
  finish(): void;
}

const STAGE_LABEL: Record<ScanStage, string> = {
  reading: 'Reading samples',
  'embedding-images': 'Embedding images',
  'embedding-texts': 'Embedding captions',
  scoring: 'Scoring',
  writing: 'Writing results',
};

export function createProgressReporter(stream: Writable, mode: ProgressMode, now: () => number = Date.now): ProgressReporter {
  let lastStage: ScanStage | null = null;
  let lastDraw = 0;
  let barVisible = false;
  let stageStarted = now();
  const emitJson = (event: Record<string, unknown>): void => {
    stream.write(JSON.stringify(event) + '\n');
  };
  const clearBar = (): void => {
    if (barVisible) stream.write('\r\x1b[2K');
    barVisible = false;
  };
  return {
    progress(stage, done, total, message) {
      if (mode === 'silent') return;
      if (mode === 'json') {
        emitJson({ event: 'progress', stage, done, total, ...(message ? { message } : {}) });
        return;
      }
      const stageChanged = stage !== lastStage;
      if (stageChanged) {
        lastStage = stage;
        stageStarted = now();
      }
      if (mode === 'lines') {
        if (stageChanged) stream.write(`${STAGE_LABEL[stage]}…\n`);
        return;
      }
      const time = now();
      if (!stageChanged && done < total && time - lastDraw < 100) return;
      lastDraw = time;
      const fraction = total > 0 ? Math.min(1, done / total) : 0;
      const width = 24;
      const filled = Math.round(fraction * width);
      const elapsed = (time - stageStarted) / 1000;
      const rate = elapsed > 0 && done > 0 ? ` ${(done / elapsed).toFixed(1)}/s` : '';
      stream.write(
        `\r\x1b[2K${STAGE_LABEL[stage].padEnd(19)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}${rate}${message ? ` ${message}` : ''}`,
      );
      barVisible = true;
    },
    device(device, reason) {
      // People already read the model's own "device: …" log line and the final summary; programs get the event.
      if (mode === 'json') emitJson({ event: 'device', device, reason });
    },
    log(level, message) {
      if (mode === 'json') return emitJson({ event: 'log', level, message });
      if (mode === 'silent' && level === 'info') return;
      clearBar();
      stream.write(`${level === 'info' ? '' : `${level}: `}${message}\n`);
    },
    finish() {
      if (mode === 'bar') clearBar();
    },
  };
}

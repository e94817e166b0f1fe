/**
 * Which ONNX Runtime execution providers to try for a device preference, and how a failed attempt is explained.
 *
 * onnxruntime-node does not fall back by itself: asking for 'cuda' when the CUDA provider's libraries do not load makes
 * session creation throw. So the embedder tries the attempts below in order, and the first one that opens wins.
 * This module is pure; the caller supplies the function that actually opens sessions.
 */
import type { Device, DevicePreference } from './types';

/** Execution-provider names as onnxruntime-node spells them. */
export type ExecutionProviderName = 'cuda' | 'cpu';

export interface DeviceAttempt {
  /** The device that runs the model when this attempt opens. */
  device: Device;
  /** Passed as `executionProviders`, in priority order (CUDA attempts keep CPU for nodes CUDA cannot run). */
  providers: readonly ExecutionProviderName[];
}

const CUDA_ATTEMPT: DeviceAttempt = { device: 'cuda', providers: ['cuda', 'cpu'] };
const CPU_ATTEMPT: DeviceAttempt = { device: 'cpu', providers: ['cpu'] };

/** How a GPU user enables CUDA; the extension's command and the CLI's README section share this wording. */
export const GPU_SETUP_HINT = "run 'Set up GPU acceleration' (needs CUDA 12 + cuDNN 9)";

/** The ordered attempts for a preference. 'cuda' still falls back to CPU (with a reason) rather than failing the scan. */
export function deviceAttempts(preference: DevicePreference): DeviceAttempt[] {
  switch (preference) {
    case 'auto':
    case 'cuda':
      return [CUDA_ATTEMPT, CPU_ATTEMPT];
    case 'cpu':
      return [CPU_ATTEMPT];
  }
}

/** Removes ANSI colour codes (ORT colours its log lines, and some of them end up in error messages). */
function stripAnsi(text: string): string {
  return text.replace(/\u001b\[[0-9;]*m/g, '');
}

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : String(error);
}

const MAX_DETAIL_LENGTH = 160;

/** First meaningful line of an error, without colour codes, cut to a length that fits a status line. */
export function shortErrorLine(error: unknown): string {
  const lines = stripAnsi(errorText(error))
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  const first = lines[0] ?? 'unknown error';
  return first.length > MAX_DETAIL_LENGTH ? `${first.slice(0, MAX_DETAIL_LENGTH - 1)}…` : first;
}

/**
 * Why the CUDA provider could not be used, in words a user can act on. Recognises the usual causes (a missing provider
 * library, missing CUDA/cuDNN runtime libraries, no GPU); anything else is quoted.
 */
export function explainCudaFailure(error: unknown): string {
  const text = stripAnsi(errorText(error));
  // The first library the loader could not open names what is missing (providers library, cuDNN, cuBLAS, the CUDA runtime).
  const missingLibrary = /(lib[\w.+-]+?\.so(?:\.\d+)*)\s*:\s*cannot open shared object file/i.exec(text)
    ?? /(?:Failed to load library|Error loading)\s+"?(?:[^\s"]*\/)?(lib[\w.+-]+?\.so(?:\.\d+)*|[\w.+-]+\.dll)/i.exec(text);
  if (missingLibrary) {
    const library = missingLibrary[1];
    if (/cudnn/i.test(library)) return `cuDNN not found (${library}) — ${GPU_SETUP_HINT}`;
    if (/cublas|cudart|cufft|curand/i.test(library)) return `CUDA 12 runtime not found (${library}) — ${GPU_SETUP_HINT}`;
    return `${library} not found — ${GPU_SETUP_HINT}`;
  }
  // onnxruntime-node's own message when the provider library, or a CUDA/cuDNN library it needs, does not load. Which one
  // is only written to ORT's log, so the reason names both possibilities.
  if (/AppendExecutionProvider_Cuda: Failed to load shared library/i.test(text)) {
    return `the CUDA execution provider or a library it needs could not be loaded — ${GPU_SETUP_HINT}`;
  }
  if (/no CUDA-capable device|cudaErrorNoDevice|CUDA driver version is insufficient|cudaErrorInsufficientDriver/i.test(text)) {
    return `no usable NVIDIA GPU or driver (${shortErrorLine(error)})`;
  }
  return shortErrorLine(error);
}

/** The one-line reason reported when an attempt opened: what ran, and why the earlier attempts did not. */
export function describeOutcome(preference: DevicePreference, used: Device, failures: readonly AttemptFailure[]): string {
  const cudaFailure = failures.find((failure) => failure.attempt.device === 'cuda');
  if (used === 'cuda') return preference === 'cuda' ? 'CUDA (requested)' : 'CUDA (auto: the CUDA provider loaded)';
  if (cudaFailure) {
    const lead = preference === 'cuda' ? 'CUDA requested but unavailable' : 'CUDA unavailable';
    return `${lead}: ${explainCudaFailure(cudaFailure.error)}; using CPU`;
  }
  return preference === 'cpu' ? 'CPU (requested)' : 'CPU';
}

export interface AttemptFailure {
  attempt: DeviceAttempt;
  error: unknown;
}

export interface DeviceChoice<T> {
  value: T;
  device: Device;
  /** One line for the summary, progress events and logs. */
  reason: string;
  failures: AttemptFailure[];
}

/**
 * Runs `open` for each attempt in order until one succeeds. A failed CUDA attempt is recorded and explained; if the last
 * attempt (CPU) fails too, its error is thrown unchanged, because then the model itself is at fault, not the GPU set-up.
 */
export async function openWithDevicePolicy<T>(
  preference: DevicePreference,
  open: (attempt: DeviceAttempt) => Promise<T>,
): Promise<DeviceChoice<T>> {
  const attempts = deviceAttempts(preference);
  const failures: AttemptFailure[] = [];
  for (let index = 0; index < attempts.length; index++) {
    const attempt = attempts[index];
    try {
      const value = await open(attempt);
      return { value, device: attempt.device, reason: describeOutcome(preference, attempt.device, failures), failures };
    } catch (error) {
      if (index === attempts.length - 1) throw error;
      failures.push({ attempt, error });
    }
  }
  // deviceAttempts never returns an empty list; this keeps the compiler's control-flow analysis honest.
  throw new Error(`no execution-provider attempts for device preference '${preference}'`);
}

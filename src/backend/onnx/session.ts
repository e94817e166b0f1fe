/**
 * onnxruntime-node session creation with the project's device policy (src/core/devicePolicy.ts): CUDA when asked and
 * loadable, CPU otherwise, with a one-line reason. Session options (threads, optimisation level) live here so that the
 * GEMM engine and the CLIP synthesiser tests open sessions the same way.
 */
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { openWithDevicePolicy } from '../../core/devicePolicy';
import type { Device, DevicePreference } from '../../protocol/backend';

export interface SessionWithDevice {
  readonly session: ort.InferenceSession;
  /** The execution provider that actually runs. */
  readonly device: Device;
  /** One line: what ran, and why CUDA did not if it was requested. */
  readonly reason: string;
  /** Set when CUDA was requested ('cuda' or 'auto') but CPU runs. */
  readonly fallbackReason?: string;
}

export interface SessionCreateOptions {
  /** 'cuda' and 'auto' try CUDA first and fall back to CPU. Default 'cpu'. */
  readonly device?: DevicePreference;
  /** Intra-op threads; default: all available cores. */
  readonly threads?: number;
  readonly graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
}

/** Creates an InferenceSession from a model file path or in-memory model bytes, applying the device fallback. */
export async function createSessionWithFallback(model: string | Uint8Array, options: SessionCreateOptions = {}): Promise<SessionWithDevice> {
  quietRuntimeLog();
  const preference = options.device ?? 'cpu';
  const base: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: options.threads ?? availableParallelism(),
    interOpNumThreads: 1,
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    // Spinning worker threads keep burning a core between runs, starving sharp's decoding and the JS top-k selection.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  const choice = await openWithDevicePolicy(preference, (attempt) => {
    const sessionOptions: ort.InferenceSession.SessionOptions = { ...base, executionProviders: [...attempt.providers] };
    return typeof model === 'string' ? ort.InferenceSession.create(model, sessionOptions) : ort.InferenceSession.create(model, sessionOptions);
  });
  const cudaWanted = preference !== 'cpu';
  return {
    session: choice.value,
    device: choice.device,
    reason: choice.reason,
    ...(cudaWanted && choice.device === 'cpu' ? { fallbackReason: choice.reason } : {}),
  };
}

let runtimeLogConfigured = false;

/**
 * A failed CUDA probe makes onnxruntime print a coloured error line before our fallback reports it in plain words.
 * The level is global and fixed at the first session, so set it once; BACKDOOR_SCAN_ORT_LOG=warning restores the detail.
 */
function quietRuntimeLog(): void {
  if (runtimeLogConfigured) return;
  runtimeLogConfigured = true;
  const requested = process.env.BACKDOOR_SCAN_ORT_LOG;
  const levels = ['verbose', 'info', 'warning', 'error', 'fatal'] as const;
  ort.env.logLevel = levels.find((level) => level === requested) ?? 'fatal';
}

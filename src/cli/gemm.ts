/** The GEMM engine the CLI scores with: onnxruntime (CUDA when asked and available, else CPU), else the JS fallback. */
import { jsGemmEngine } from '../core/jsGemm';
import type { GemmEngine } from '../core/linalg';
import type { DevicePreference } from '../protocol/backend';
import { createOrtGemmEngine } from '../backend/ortGemm';

export async function openGemmEngine(device: DevicePreference, warn: (message: string) => void): Promise<GemmEngine> {
  try {
    // 'auto' scores on the CPU: the distance GEMMs are fast there, and a failed CUDA probe costs time and log noise.
    const engine = await createOrtGemmEngine({ device: device === 'cuda' ? 'cuda' : 'cpu' });
    if (device === 'cuda' && engine.device !== 'cuda') warn(`CUDA unavailable for scoring, using the CPU${engine.fallbackReason ? `: ${engine.fallbackReason}` : ''}.`);
    return engine;
  } catch (error) {
    warn(`onnxruntime GEMM engine unavailable (${(error as Error).message}); scoring with the slower JavaScript engine.`);
    return jsGemmEngine;
  }
}

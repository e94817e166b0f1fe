/**
 * "Set up GPU acceleration": onnxruntime-node ships only CPU (and WebGPU) providers; its install script fetches the CUDA
 * provider libraries from NuGet when run with ONNXRUNTIME_NODE_INSTALL=cuda12 (read by parseInstallFlag in
 * node_modules/onnxruntime-node/script/install-utils.js). Those libraries then need CUDA 12 and cuDNN 9 on the system.
 * This module runs that step and explains the outcome in plain words; it is free of vscode.
 */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { runNodeScript, type ChildRunResult } from './childRun';

export const GPU_REQUIREMENTS = 'an NVIDIA GPU with its driver, CUDA 12 and cuDNN 9 installed system-wide (on the library path)';
const CUDA_PROVIDER = 'libonnxruntime_providers_cuda.so';

export interface GpuSetupPaths {
  /** Folder of the onnxruntime-node package (inside the extension). */
  onnxruntimeDir: string;
  platform?: string;
  arch?: string;
  env?: NodeJS.ProcessEnv;
}

export interface GpuSetupResult {
  ok: boolean;
  /** One or two sentences for the notification. */
  message: string;
  /** Lines for the log. */
  detail: string[];
}

function providerDir(paths: GpuSetupPaths): string {
  return join(paths.onnxruntimeDir, 'bin', 'napi-v6', paths.platform ?? process.platform, paths.arch ?? process.arch);
}

export function cudaProviderInstalled(paths: GpuSetupPaths): boolean {
  return existsSync(join(providerDir(paths), CUDA_PROVIDER));
}

/** Whether an NVIDIA driver tool is on PATH: a hint only (containers may lack it yet have a GPU). */
export function nvidiaSmiOnPath(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, 'nvidia-smi')));
}

/** Plain-language reading of the install script's outcome. */
export function explainInstall(result: Pick<ChildRunResult, 'code' | 'signal' | 'tail' | 'cancelled'>, installed: boolean, hasDriverTool: boolean): GpuSetupResult {
  const detail = result.tail;
  const driverNote = hasDriverTool ? '' : ' Note: nvidia-smi is not on PATH, so this machine may have no NVIDIA driver; scans will then use the CPU.';
  if (result.cancelled) return { ok: false, message: 'GPU set-up was cancelled; nothing changed.', detail };
  if (result.code === 0 && installed) {
    return {
      ok: true,
      message: `The CUDA execution provider for onnxruntime is installed. It needs ${GPU_REQUIREMENTS}; with device "auto" or "cuda" the next scan uses it, or falls back to the CPU and says why in the status bar.${driverNote}`,
      detail,
    };
  }
  const text = detail.join('\n');
  let why: string;
  if (/ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|fetch failed|getaddrinfo|socket hang up/i.test(text)) {
    const host = /ENOTFOUND ([\w.-]+)/.exec(text)?.[1] ?? 'api.nuget.org';
    why = `it could not reach ${host} to download the CUDA libraries (no internet access, or a proxy is needed: set GLOBAL_AGENT_HTTPS_PROXY)`;
  } else if (/Invalid installation|Manifest not found/i.test(text)) {
    why = `onnxruntime-node has no CUDA build for ${process.platform}/${process.arch} (CUDA is offered for linux/x64 and win32/x64 only)`;
  } else if (/Cannot find module/i.test(text)) {
    why = 'a file of onnxruntime-node\'s install script is missing from this installation';
  } else if (/EACCES|EPERM/i.test(text)) {
    why = 'it has no permission to write into the extension\'s onnxruntime-node folder';
  } else if (result.code === 0) {
    why = `the script finished but ${CUDA_PROVIDER} is still missing`;
  } else {
    why = `the install script stopped (${result.signal ? `signal ${result.signal}` : `exit code ${result.code}`}): ${detail.at(-1) ?? 'no output'}`;
  }
  return {
    ok: false,
    message: `GPU set-up failed: ${why}. Scanning still works on the CPU. Once the download works, the CUDA libraries also need ${GPU_REQUIREMENTS}.${driverNote}`,
    detail,
  };
}

export async function runGpuSetup(paths: GpuSetupPaths, onLine?: (line: string) => void, signal?: AbortSignal): Promise<GpuSetupResult> {
  const script = join(paths.onnxruntimeDir, 'script', 'install.js');
  if (!existsSync(script)) {
    return { ok: false, message: `GPU set-up is unavailable: onnxruntime-node's install script was not found at ${script}.`, detail: [] };
  }
  const env = { ...(paths.env ?? process.env), ONNXRUNTIME_NODE_INSTALL: 'cuda12' };
  try {
    const result = await runNodeScript(script, { cwd: paths.onnxruntimeDir, env, onLine: (line) => onLine?.(line), signal });
    return explainInstall(result, cudaProviderInstalled(paths), nvidiaSmiOnPath(env));
  } catch (error) {
    return { ok: false, message: `GPU set-up could not start the install script: ${(error as Error).message}`, detail: [] };
  }
}

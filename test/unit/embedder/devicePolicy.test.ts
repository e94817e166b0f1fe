import { strict as assert } from 'node:assert';
import {
  deviceAttempts,
  describeOutcome,
  explainCudaFailure,
  GPU_SETUP_HINT,
  openWithDevicePolicy,
  shortErrorLine,
  type DeviceAttempt,
} from '../../../src/core/devicePolicy';
import type { DevicePreference } from '../../../src/protocol/backend';

/** The message onnxruntime-node 1.30 throws on a machine without the CUDA provider libraries (captured on this machine). */
const ORT_NO_CUDA_MESSAGE = 'OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library';
/** The detailed form ORT logs (and some builds put into the error), with its colour codes. */
const ORT_DETAILED_MESSAGE =
  '\u001b[1;31m2026-11-22 02:59:21.182866576 [E:onnxruntime:onnxruntime-node, provider_bridge_ort.cc:2146 Create] ' +
  'onnxruntime::Provider& onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : Failed to load library ' +
  '/x/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_shared.so with error: ' +
  '/x/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_shared.so: cannot open shared object file: No such file or directory\n\u001b[m';
const NOT_INSTALLED = `the CUDA execution provider or a library it needs could not be loaded — ${GPU_SETUP_HINT}`;

describe('devicePolicy', () => {
  describe('deviceAttempts', () => {
    it('auto and cuda try CUDA (with CPU for unsupported nodes), then CPU alone', () => {
      for (const preference of ['auto', 'cuda'] as const) {
        assert.deepEqual(deviceAttempts(preference), [
          { device: 'cuda', providers: ['cuda', 'cpu'] },
          { device: 'cpu', providers: ['cpu'] },
        ]);
      }
    });
    it('cpu tries only CPU', () => {
      assert.deepEqual(deviceAttempts('cpu'), [{ device: 'cpu', providers: ['cpu'] }]);
    });
  });

  describe('explainCudaFailure', () => {
    it('explains the message onnxruntime-node throws when the provider libraries are absent', () => {
      assert.equal(explainCudaFailure(new Error(ORT_NO_CUDA_MESSAGE)), NOT_INSTALLED);
    });
    it('names the missing library from a detailed loader message, without colour codes', () => {
      assert.equal(explainCudaFailure(new Error(ORT_DETAILED_MESSAGE)), `libonnxruntime_providers_shared.so not found — ${GPU_SETUP_HINT}`);
    });
    it('names the CUDA provider library when that is what is missing', () => {
      const reason = explainCudaFailure(new Error('Failed to load library libonnxruntime_providers_cuda.so with error: oops'));
      assert.equal(reason, `libonnxruntime_providers_cuda.so not found — ${GPU_SETUP_HINT}`);
    });
    it('says cuDNN when libcudnn is what the loader could not open', () => {
      const reason = explainCudaFailure(
        new Error('Failed to load library libonnxruntime_providers_cuda.so with error: libcudnn.so.9: cannot open shared object file: No such file or directory'),
      );
      assert.equal(reason, `cuDNN not found (libcudnn.so.9) — ${GPU_SETUP_HINT}`);
    });
    it('says CUDA runtime for cuBLAS / cudart', () => {
      const reason = explainCudaFailure(new Error('x with error: libcublasLt.so.12: cannot open shared object file: No such file or directory'));
      assert.equal(reason, `CUDA 12 runtime not found (libcublasLt.so.12) — ${GPU_SETUP_HINT}`);
    });
    it('recognises a machine without a GPU', () => {
      const reason = explainCudaFailure(new Error('CUDA failure 100: no CUDA-capable device is detected ; GPU=0'));
      assert.match(reason, /^no usable NVIDIA GPU or driver \(CUDA failure 100: no CUDA-capable device is detected/);
    });
    it('quotes the first line of anything else, shortened', () => {
      assert.equal(explainCudaFailure(new Error('\n  something odd happened\nsecond line')), 'something odd happened');
      assert.equal(explainCudaFailure('plain string'), 'plain string');
      const long = shortErrorLine(new Error('x'.repeat(500)));
      assert.equal(long.length, 160);
      assert.ok(long.endsWith('…'));
      assert.equal(shortErrorLine(new Error('')), 'unknown error');
    });
  });

  describe('describeOutcome', () => {
    const cudaFailure = { attempt: deviceAttempts('auto')[0], error: new Error(ORT_NO_CUDA_MESSAGE) };
    it('is a single line in every case', () => {
      for (const preference of ['auto', 'cuda', 'cpu'] as const) {
        for (const used of ['cuda', 'cpu'] as const) {
          for (const failures of [[], [cudaFailure]]) {
            const reason = describeOutcome(preference, used, failures);
            assert.ok(reason.length > 0 && !reason.includes('\n'), reason);
          }
        }
      }
    });
    it('explains a CUDA fallback and says CPU is used', () => {
      assert.equal(
        describeOutcome('auto', 'cpu', [cudaFailure]),
        `CUDA unavailable: ${NOT_INSTALLED}; using CPU`,
      );
      assert.match(describeOutcome('cuda', 'cpu', [cudaFailure]), /^CUDA requested but unavailable: .*; using CPU$/);
    });
    it('reports success on the requested device', () => {
      assert.equal(describeOutcome('cuda', 'cuda', []), 'CUDA (requested)');
      assert.match(describeOutcome('auto', 'cuda', []), /^CUDA \(auto/);
      assert.equal(describeOutcome('cpu', 'cpu', []), 'CPU (requested)');
    });
  });

  describe('openWithDevicePolicy', () => {
    function recordingOpener(failOn: (attempt: DeviceAttempt) => Error | null) {
      const tried: DeviceAttempt[] = [];
      const open = async (attempt: DeviceAttempt): Promise<string> => {
        tried.push(attempt);
        const failure = failOn(attempt);
        if (failure) throw failure;
        return `session on ${attempt.providers.join('+')}`;
      };
      return { tried, open };
    }

    it('falls back to CPU with a reason when the CUDA attempt throws', async () => {
      for (const preference of ['auto', 'cuda'] as DevicePreference[]) {
        const { tried, open } = recordingOpener((attempt) => (attempt.device === 'cuda' ? new Error(ORT_NO_CUDA_MESSAGE) : null));
        const choice = await openWithDevicePolicy(preference, open);
        assert.equal(choice.device, 'cpu');
        assert.equal(choice.value, 'session on cpu');
        assert.deepEqual(tried.map((t) => t.device), ['cuda', 'cpu']);
        assert.equal(choice.failures.length, 1);
        assert.ok(choice.reason.endsWith(`${NOT_INSTALLED}; using CPU`), choice.reason);
        assert.equal(choice.reason.startsWith('CUDA requested'), preference === 'cuda');
      }
    });

    it('uses CUDA when it opens, without trying CPU', async () => {
      const { tried, open } = recordingOpener(() => null);
      const choice = await openWithDevicePolicy('auto', open);
      assert.equal(choice.device, 'cuda');
      assert.equal(choice.value, 'session on cuda+cpu');
      assert.equal(tried.length, 1);
      assert.deepEqual(choice.failures, []);
    });

    it('never tries CUDA when CPU is requested', async () => {
      const { tried, open } = recordingOpener((attempt) => (attempt.device === 'cuda' ? new Error('must not be tried') : null));
      const choice = await openWithDevicePolicy('cpu', open);
      assert.deepEqual(tried.map((t) => t.device), ['cpu']);
      assert.equal(choice.reason, 'CPU (requested)');
    });

    it('throws the CPU error unchanged when every attempt fails (the model, not the GPU, is at fault)', async () => {
      const cpuError = new Error('Protobuf parsing failed');
      const { open } = recordingOpener((attempt) => (attempt.device === 'cuda' ? new Error(ORT_NO_CUDA_MESSAGE) : cpuError));
      await assert.rejects(openWithDevicePolicy('auto', open), (error) => error === cpuError);
      const cpuOnly = recordingOpener(() => cpuError);
      await assert.rejects(openWithDevicePolicy('cpu', cpuOnly.open), (error) => error === cpuError);
    });
  });
});

import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanLine, runNodeScript } from '../../../src/extension/host/childRun';
import { cudaProviderInstalled, explainInstall, runGpuSetup } from '../../../src/extension/host/gpuSetup';

/** A stand-in for node_modules/onnxruntime-node: its install script's behaviour is chosen by the test. */
function fakeOnnxruntime(base: string, scriptBody: string): string {
  const dir = join(base, 'onnxruntime-node');
  mkdirSync(join(dir, 'script'), { recursive: true });
  mkdirSync(join(dir, 'bin', 'napi-v6', process.platform, process.arch), { recursive: true });
  writeFileSync(join(dir, 'script', 'install.js'), scriptBody);
  return dir;
}

describe('GPU set-up', () => {
  let base: string;
  beforeEach(() => (base = mkdtempSync(join(tmpdir(), 'bds-gpu-'))));
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('runs the install script with ONNXRUNTIME_NODE_INSTALL=cuda12 and reports success when the provider appears', async () => {
    const dir = fakeOnnxruntime(
      base,
      `const fs = require('fs'), path = require('path');
       if (process.env.ONNXRUNTIME_NODE_INSTALL !== 'cuda12') { console.error('wrong flag'); process.exit(2); }
       console.log('Downloading Microsoft.ML.OnnxRuntime.Gpu.Linux');
       fs.writeFileSync(path.join(__dirname, '..', 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so'), 'x');`,
    );
    const lines: string[] = [];
    const result = await runGpuSetup({ onnxruntimeDir: dir }, (line) => lines.push(line));
    assert.equal(result.ok, true, result.message);
    assert.match(result.message, /CUDA 12 and cuDNN 9/);
    assert.deepEqual(lines, ['Downloading Microsoft.ML.OnnxRuntime.Gpu.Linux']);
    assert.equal(cudaProviderInstalled({ onnxruntimeDir: dir }), true);
  });

  it('explains an offline failure by the host it could not reach', async () => {
    const dir = fakeOnnxruntime(base, `console.error("Error: getaddrinfo ENOTFOUND api.nuget.org"); process.exit(1);`);
    const result = await runGpuSetup({ onnxruntimeDir: dir });
    assert.equal(result.ok, false);
    assert.match(result.message, /could not reach api\.nuget\.org/);
    assert.match(result.message, /CPU/);
    assert.match(result.message, /CUDA 12 and cuDNN 9/);
  });

  it('says so when the install script is missing', async () => {
    const result = await runGpuSetup({ onnxruntimeDir: join(base, 'nothing-here') });
    assert.equal(result.ok, false);
    assert.match(result.message, /install script was not found/);
  });

  it('explains other outcomes', () => {
    const run = (tail: string[], code: number | null = 1) => explainInstall({ code, signal: null, tail, cancelled: false }, false, true);
    assert.match(run(['Error: Invalid installation: cuda12 for platform: linux/arm64']).message, /no CUDA build/);
    assert.match(run(['EACCES: permission denied']).message, /no permission/);
    assert.match(run([], 0).message, /still missing/);
    assert.match(run(['boom'], 7).message, /exit code 7\): boom/);
    assert.match(explainInstall({ code: null, signal: 'SIGTERM', tail: [], cancelled: true }, false, true).message, /cancelled/);
    assert.match(explainInstall({ code: 0, signal: null, tail: [], cancelled: false }, true, false).message, /nvidia-smi is not on PATH/);
  });
});

describe('runNodeScript', () => {
  let base: string;
  beforeEach(() => (base = mkdtempSync(join(tmpdir(), 'bds-run-'))));
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('streams cleaned lines from both streams and returns the exit code', async () => {
    const script = join(base, 's.js');
    writeFileSync(script, `process.stdout.write('a\\n\\u001b[32mgreen\\u001b[0m\\n10%\\r50%\\r100%\\n'); console.error('err'); process.exit(3);`);
    const lines: string[] = [];
    const result = await runNodeScript(script, { onLine: (l) => lines.push(l) });
    assert.equal(result.code, 3);
    assert.deepEqual(lines.filter((l) => l !== 'err'), ['a', 'green', '100%']);
    assert.ok(lines.includes('err'));
  });

  it('cancels by signal and leaves no process', async () => {
    const script = join(base, 'hang.js');
    writeFileSync(script, `console.log(process.pid); setInterval(() => {}, 1000);`);
    const controller = new AbortController();
    let pid = 0;
    const result = await runNodeScript(script, {
      signal: controller.signal,
      onLine: (line) => {
        pid = Number(line);
        controller.abort();
      },
    });
    assert.equal(result.cancelled, true);
    assert.ok(pid > 0);
    assert.throws(() => process.kill(pid, 0), /ESRCH/);
  });

  it('cleanLine strips escapes and keeps the last redraw', () => {
    assert.equal(cleanLine('\u001b[2K\r 12% \r 99% '), '99%');
  });
});

import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// The extension host may reuse pure-Node backend helpers (safePath, resultsFolder, models), but must never load a
// native runtime: that is the worker's job. esbuild keeps natives external, so a require() of one would show here.
describe('extension bundle boundary', () => {
  const repoRoot = join(__dirname, '..', '..', '..', '..');
  const bundle = readFileSync(join(repoRoot, 'dist', 'extension.js'), 'utf8');

  for (const runtime of ['sharp', 'onnxruntime-node']) {
    it(`dist/extension.js does not require ${runtime}`, () => {
      assert.ok(!new RegExp(`require\\(["']${runtime}["']\\)`).test(bundle), `${runtime} reached the extension host bundle`);
    });
  }

  it('the worker bundle does load both runtimes (so the check above can fail)', () => {
    const worker = readFileSync(join(repoRoot, 'dist', 'backend.js'), 'utf8');
    assert.match(worker, /require\(["']sharp["']\)/);
    assert.match(worker, /require\(["']onnxruntime-node["']\)/);
  });
});

// ONNX bench: the onnxruntime GEMM engine's GFLOP/s, and a ViT-B/32-sized synthetic CLIP's model-only throughput.
//   node scripts/bench/onnx-models.mjs                      GEMM 2048×4096×512 + vit-b-32 towers at batch 16 and 32
//   node scripts/bench/onnx-models.mjs --batches 8,16,32    other batch sizes
//   node scripts/bench/onnx-models.mjs --gemm-only          skip the model towers
// The vit-b-32 model (~600 MB) is synthesised once into .bench/models/vit-b-32 (gitignored) and reused.
import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { bundleExports } from '../lib/bundle.mjs';

const root = new URL('../../', import.meta.url).pathname;
const args = process.argv.slice(2);
const value = (name) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : undefined;
};

const lib = await bundleExports('onnx-models-lib', [
      "export { createOrtGemmEngine } from './src/backend/ortGemm';",
      "export { synthesizeClipModel, CLIP_PRESETS } from './src/backend/onnx/clipSynth';",
      "export { createSessionWithFallback } from './src/backend/onnx/session';",
      "export { Tensor } from 'onnxruntime-node';",
], ['onnxruntime-node']);

function seededFloats(count, seed) {
  let state = seed >>> 0 || 1;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = ((state >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}

/** Best and median seconds of `repeats` timed runs after one warm-up. */
async function time(run, repeats) {
  await run();
  const seconds = [];
  for (let r = 0; r < repeats; r++) {
    const start = performance.now();
    await run();
    seconds.push((performance.now() - start) / 1000);
  }
  seconds.sort((a, b) => a - b);
  return { best: seconds[0], median: seconds[Math.floor(seconds.length / 2)] };
}

console.log(`cores: ${availableParallelism()}`);
const [m, n, d] = [2048, 4096, 512];
const a = seededFloats(m * d, 1);
const b = seededFloats(n * d, 2);
console.log(`\nGEMM C = A·Bᵀ, A ${m}×${d}, B ${n}×${d}`);
for (const formulation of ['gemm', 'matmul-transpose']) {
  const engine = await lib.createOrtGemmEngine({ formulation });
  const t = await time(() => engine.multiplyABt(a, m, b, n, d), 7);
  const gflop = (2 * m * n * d) / 1e9;
  console.log(`  ${formulation.padEnd(17)} best ${(t.best * 1000).toFixed(1)} ms (${(gflop / t.best).toFixed(0)} GFLOP/s), median ${(t.median * 1000).toFixed(1)} ms (${(gflop / t.median).toFixed(0)} GFLOP/s)`);
  await engine.dispose();
}

if (!args.includes('--gemm-only')) {
  const modelDir = join(root, '.bench/models/vit-b-32');
  const visionPath = join(modelDir, 'onnx/vision_model.onnx');
  const textPath = join(modelDir, 'onnx/text_model.onnx');
  if (!existsSync(visionPath) || !existsSync(textPath)) {
    const start = performance.now();
    await lib.synthesizeClipModel(modelDir, { preset: 'vit-b-32', seed: 0 });
    console.log(`\nsynthesised vit-b-32 in ${((performance.now() - start) / 1000).toFixed(1)} s`);
  }
  const mb = (path) => (statSync(path).size / 1e6).toFixed(0);
  console.log(`\nvit-b-32 (synthetic): vision_model.onnx ${mb(visionPath)} MB, text_model.onnx ${mb(textPath)} MB`);
  const batches = (value('--batches') ?? '16,32').split(',').map(Number);

  const towers = [
    {
      label: 'image tower',
      unit: 'images/s',
      path: visionPath,
      feeds: (batch) => ({ pixel_values: new lib.Tensor('float32', seededFloats(batch * 3 * 224 * 224, batch), [batch, 3, 224, 224]) }),
    },
    {
      label: 'text tower',
      unit: 'captions/s',
      path: textPath,
      feeds: (batch) => {
        // Captions of 12 tokens between SOT and EOT, zero-padded to 77 (the tower's cost does not depend on the length).
        const ids = new BigInt64Array(batch * 77);
        for (let r = 0; r < batch; r++) {
          ids[r * 77] = 49406n;
          for (let t = 1; t <= 12; t++) ids[r * 77 + t] = BigInt(320 + ((r * 131 + t * 17) % 40000));
          ids[r * 77 + 13] = 49407n;
        }
        return { input_ids: new lib.Tensor('int64', ids, [batch, 77]) };
      },
    },
  ];
  for (const tower of towers) {
    const loadStart = performance.now();
    const { session, device } = await lib.createSessionWithFallback(tower.path, { device: 'cpu' });
    console.log(`\n${tower.label} (${device}, ${availableParallelism()} threads), session load ${((performance.now() - loadStart) / 1000).toFixed(1)} s`);
    for (const batch of batches) {
      const feeds = tower.feeds(batch);
      const t = await time(() => session.run(feeds), 3);
      console.log(`  batch ${String(batch).padStart(3)}: best ${(batch / t.best).toFixed(1)} ${tower.unit}, median ${(batch / t.median).toFixed(1)} ${tower.unit}`);
    }
    await session.release();
  }
}

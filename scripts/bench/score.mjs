// Score bench: time(ours) / time(NumPy reference) for the neighbour detectors, image–text mode, B = 2048.
//   node scripts/bench/score.mjs                 N ∈ {8192, 65536} × d = 512 (onnxruntime GEMM when it loads, else pure JS)
//   node scripts/bench/score.mjs --engine js     force the pure-JS GEMM
//   node scripts/bench/score.mjs --sizes 8192    other sizes
//   node scripts/bench/score.mjs --scale [N]     one run of N (default 1,000,000) pairs, all detectors; wall time + peak RSS
// The NumPy reference (scripts/bench/numpy_score_reference.py) runs through /usr/bin/python3 when numpy imports.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleExports } from '../lib/bundle.mjs';

const root = new URL('../../', import.meta.url).pathname;
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const value = (name) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length && !args[i + 1].startsWith('--') ? args[i + 1] : undefined;
};

// Bundle the core (and the onnxruntime engine, if present) into out/bench.
const hasOrt = existsSync(join(root, 'src/backend/ortGemm.ts'));
const lib = await bundleExports('score-lib', [
      "export { scoreEmbeddings } from './src/core/scoring';",
      "export { jsGemmEngine } from './src/core/jsGemm';",
      "export { encodeNpy } from './src/core/npy';",
      "export { DEFAULT_SCORE_OPTIONS } from './src/core/types';",
      hasOrt ? "export { createOrtGemmEngine } from './src/backend/ortGemm';" : 'export const createOrtGemmEngine = undefined;',
], ['onnxruntime-node']);

async function makeEngine() {
  if (value('--engine') !== 'js' && lib.createOrtGemmEngine) {
    try {
      return await lib.createOrtGemmEngine({ device: 'cpu' });
    } catch (error) {
      console.log(`onnxruntime engine unavailable (${error.message}); using the pure-JS GEMM`);
    }
  }
  return lib.jsGemmEngine;
}

/** Synthetic CLIP-like pairs: shared offset, 100 clusters, captions correlated with images, 0.1% planted poison. */
function syntheticPairs(rows, dim, seed) {
  let state = seed >>> 0 || 1;
  const uniform = () => {
    state ^= state << 13; state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5; state >>>= 0;
    return (state + 0.5) / 4294967296;
  };
  const gauss = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  const offset = Float32Array.from({ length: dim }, () => 0.3 * gauss());
  const centres = Float32Array.from({ length: 100 * dim }, () => 0.5 * gauss());
  const trigger = Float32Array.from({ length: dim }, () => 0.6 * gauss());
  const target = Float32Array.from({ length: dim }, () => 0.5 * gauss());
  const images = new Float32Array(rows * dim);
  const texts = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const c = Math.floor(uniform() * 100) * dim;
    const poisoned = uniform() < 0.001;
    for (let t = 0; t < dim; t++) {
      const base = offset[t] + centres[c + t];
      images[r * dim + t] = base + 0.35 * gauss() + (poisoned ? trigger[t] : 0);
      texts[r * dim + t] = poisoned ? target[t] + 0.05 * gauss() : 0.8 * base + 0.4 * gauss();
    }
  }
  return { images: { data: images, rows, dim }, texts: { data: texts, rows, dim } };
}

function pythonHasNumpy() {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import numpy'], { encoding: 'utf8' });
  return probe.status === 0;
}

const NEIGHBOUR_AND_CLIP = ['kdist', 'lid', 'slof', 'dao', 'clip'];

/** Wall and CPU seconds (CPU summed over all threads, onnxruntime's included) of one scoring run. */
async function timeOurs(engine, input, detectors) {
  const start = performance.now();
  const cpu = process.cpuUsage();
  await lib.scoreEmbeddings(input, { ...lib.DEFAULT_SCORE_OPTIONS, batchSize: 2048, detectors }, engine);
  const used = process.cpuUsage(cpu);
  return { wall: (performance.now() - start) / 1000, cpu: (used.user + used.system) / 1e6 };
}

async function comparisonTable() {
  const sizes = (value('--sizes') ?? '8192,65536').split(',').map(Number);
  const dim = 512;
  const engine = await makeEngine();
  const numpy = pythonHasNumpy();
  const dir = mkdtempSync(join(tmpdir(), 'score-bench-'));
  console.log(`engine: ${engine.name}; NumPy reference: ${numpy ? '/usr/bin/python3' : 'not available'}; load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const table = [];
  await timeOurs(engine, syntheticPairs(4096, dim, 1), NEIGHBOUR_AND_CLIP); // warm-up: JIT and the GEMM session
  try {
    for (const rows of sizes) {
      const input = syntheticPairs(rows, dim, rows);
      const ours = await timeOurs(engine, input, NEIGHBOUR_AND_CLIP);
      const all = await timeOurs(engine, input, lib.DEFAULT_SCORE_OPTIONS.detectors);
      let reference = { seconds: NaN, cpuSeconds: NaN };
      if (numpy) {
        writeFileSync(join(dir, 'images.npy'), lib.encodeNpy(input.images.data, [rows, dim]));
        writeFileSync(join(dir, 'texts.npy'), lib.encodeNpy(input.texts.data, [rows, dim]));
        const run = spawnSync('/usr/bin/python3', [join(root, 'scripts/bench/numpy_score_reference.py'), join(dir, 'images.npy'), join(dir, 'texts.npy'), '--batch-size', '2048'], { encoding: 'utf8' });
        if (run.status === 0) reference = JSON.parse(run.stdout.trim().split('\n').pop());
        else console.log(`NumPy reference failed: ${run.stderr.slice(-500)}`);
      }
      const fmt = (v) => (Number.isNaN(v) ? 'n/a' : v.toFixed(2));
      table.push({
        N: rows,
        'ours wall s': fmt(ours.wall),
        'numpy wall s': fmt(reference.seconds),
        'wall ratio': fmt(ours.wall / reference.seconds),
        'ours CPU s': fmt(ours.cpu),
        'numpy CPU s': fmt(reference.cpuSeconds),
        'CPU ratio': fmt(ours.cpu / reference.cpuSeconds),
        'ours wall s, all 7 detectors': fmt(all.wall),
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await engine.dispose?.();
  }
  console.log('d = 512, image–text, B = 2048; ratio columns compare kdist, lid, slof, dao, clip (same formulas both sides)');
  console.table(table);
}

async function scaleRun() {
  const rows = Number(value('--scale') ?? 1_000_000);
  const dim = 512;
  const engine = await makeEngine();
  let peak = 0;
  const sample = () => (peak = Math.max(peak, process.memoryUsage().rss));
  const timer = setInterval(sample, 200);
  const startGen = performance.now();
  const input = syntheticPairs(rows, dim, 7);
  const generation = (performance.now() - startGen) / 1000;
  const start = performance.now();
  let lastPrint = 0;
  const output = await lib.scoreEmbeddings(input, { ...lib.DEFAULT_SCORE_OPTIONS, batchSize: 2048 }, engine, {
    onProgress(done, total) {
      if (performance.now() - lastPrint > 30000) {
        lastPrint = performance.now();
        console.log(`  ${((100 * done) / total).toFixed(1)}% after ${((lastPrint - start) / 1000).toFixed(0)} s`);
      }
    },
  });
  const seconds = (performance.now() - start) / 1000;
  sample();
  clearInterval(timer);
  await engine.dispose?.();
  console.table([{ N: output.rows.length, d: dim, B: 2048, engine: engine.name, 'input fp32 GB': ((2 * rows * dim * 4) / 1e9).toFixed(1), 'generation s': generation.toFixed(0), 'scoring wall s': seconds.toFixed(0), 'peak RSS GB': (peak / 1e9).toFixed(2) }]);
}

if (flag('--scale')) await scaleRun();
else await comparisonTable();

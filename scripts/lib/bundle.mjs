// Bundles a few project exports into one CommonJS file so plain .mjs scripts (benches, fixture checks) can call TypeScript code.
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import { join } from 'node:path';

export const repoRoot = new URL('../..', import.meta.url).pathname;

/** `exportLines` are `export { … } from './src/…'` lines; returns the loaded module. */
export async function bundleExports(name, exportLines, external = ['onnxruntime-node', 'sharp']) {
  const outfile = join(repoRoot, 'out/bench', `${name}.cjs`);
  await build({
    stdin: { contents: exportLines.join('\n'), resolveDir: repoRoot, loader: 'ts' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile,
    external,
    logLevel: 'warning',
  });
  return createRequire(import.meta.url)(outfile);
}

// Bundles the TypeScript panel harness for the Node scripts (bench, screenshots) that cannot import .ts directly.
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;

/** @returns {Promise<typeof import('./harness')>} */
export async function loadHarness() {
  for (const file of ['dist/webview/panel.js', 'dist/webview/toolkit.min.js']) {
    if (!existsSync(join(root, file))) throw new Error(`${file} is missing: run \`npm run build\` first`);
  }
  const outfile = join(root, 'out/webview-harness/harness.cjs');
  await build({
    absWorkingDir: root,
    entryPoints: ['test/webview-harness/harness.ts'],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['playwright-core'],
    outfile,
    logLevel: 'warning',
  });
  return createRequire(import.meta.url)(outfile);
}

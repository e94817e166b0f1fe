// Bundles every entry point with esbuild. Type checking is `npm run typecheck` (tsc), kept separate so builds stay fast.
import { build } from 'esbuild';
import { readdirSync, statSync, mkdirSync, copyFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const nativeExternals = ['onnxruntime-node', 'sharp', 'mocha', 'playwright-core', 'vscode'];

function findTests(dir) {
  const found = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) found.push(...findTests(full));
    else if (name.endsWith('.test.ts')) found.push(full);
  }
  return found;
}

const common = { bundle: true, sourcemap: true, logLevel: 'warning', absWorkingDir: root };
const nodeCommon = { ...common, platform: 'node', target: 'node20', format: 'cjs', external: nativeExternals };

await Promise.all([
  build({ ...nodeCommon, entryPoints: { extension: 'src/extension/main.ts' }, outdir: 'dist' }),
  build({ ...nodeCommon, entryPoints: { backend: 'src/backend/main.ts', cli: 'src/cli/main.ts' }, outdir: 'dist' }),
  build({ ...common, platform: 'browser', target: 'es2022', format: 'esm', entryPoints: { panel: 'webview/src/main.ts' }, outdir: 'dist/webview' }),
  build({
    ...nodeCommon,
    entryPoints: findTests(join(root, 'test/unit')).map((file) => relative(root, file)),
    outdir: 'out/test/unit',
    outbase: 'test/unit',
  }),
]);

// The toolkit ships a prebuilt ES module; the panel loads it by nonce, unbundled.
mkdirSync(join(root, 'dist/webview'), { recursive: true });
copyFileSync(
  join(root, 'node_modules/@vscode/webview-ui-toolkit/dist/toolkit.min.js'),
  join(root, 'dist/webview/toolkit.min.js'),
);

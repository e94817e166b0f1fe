// Lint rules that enforce the architecture (see ARCHITECTURE.md, "Invariants").
import tseslint from 'typescript-eslint';

const nodeIo = ['fs', 'fs/promises', 'child_process', 'worker_threads', 'net', 'http', 'https', 'os', 'path'];
const withNodePrefix = (names) => names.flatMap((n) => [n, `node:${n}`]);
const nativeRuntimes = ['sharp', 'onnxruntime-node'];

const forbid = (names, message) => ({
  'no-restricted-imports': ['error', { paths: names.map((name) => ({ name, message })) }],
});

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '.vscode-test/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/core/**/*.ts', 'src/protocol/**/*.ts'],
    rules: forbid([...withNodePrefix(nodeIo), ...nativeRuntimes, 'vscode'], 'src/core and src/protocol are pure: no I/O, no native runtimes, no vscode.'),
  },
  {
    files: ['src/backend/**/*.ts', 'src/cli/**/*.ts'],
    rules: forbid(['vscode'], 'Only src/extension may import vscode.'),
  },
  {
    files: ['src/extension/**/*.ts'],
    rules: forbid([...nativeRuntimes], 'Only the backend process loads sharp and onnxruntime-node; the extension host talks to it over the protocol.'),
  },
  {
    files: ['webview/**/*.ts'],
    rules: forbid([...withNodePrefix(nodeIo), ...nativeRuntimes, 'vscode'], 'The webview is a browser sandbox: it talks to the host only by postMessage.'),
  },
);

/**
 * Loads the built dist/extension.js against a minimal stand-in for the `vscode` module and activates it: every
 * contributed command gets registered, and activation forks nothing (the backend starts with the first scan).
 */
import { strict as assert } from 'node:assert';
import childProcess from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import Module from 'node:module';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '../../../..');

interface Disposable {
  dispose(): void;
}
const disposable = (): Disposable => ({ dispose: () => undefined });

function fakeVscode(registered: string[]): unknown {
  class EventEmitter {
    event = (): Disposable => disposable();
    fire(): void {}
    dispose(): void {}
  }
  class Uri {
    constructor(readonly fsPath: string, readonly scheme = 'file') {}
    static file(path: string): Uri {
      return new Uri(path);
    }
    static joinPath(base: Uri, ...parts: string[]): Uri {
      return new Uri(join(base.fsPath, ...parts));
    }
    toString(): string {
      return `file://${this.fsPath}`;
    }
  }
  const channel = { info() {}, warn() {}, error() {}, show() {}, dispose() {} };
  const statusItem = { show() {}, hide() {}, dispose() {} };
  return {
    EventEmitter,
    Uri,
    MarkdownString: class {
      appendText(): void {}
      appendMarkdown(): void {}
    },
    ThemeColor: class {},
    StatusBarAlignment: { Left: 1, Right: 2 },
    ProgressLocation: { Notification: 15 },
    ViewColumn: { Active: -1 },
    ConfigurationTarget: { Global: 1 },
    window: {
      createOutputChannel: () => channel,
      createStatusBarItem: () => statusItem,
      registerFileDecorationProvider: disposable,
      registerWebviewPanelSerializer: disposable,
    },
    commands: {
      registerCommand: (id: string) => {
        registered.push(id);
        return disposable();
      },
      executeCommand: async () => undefined,
    },
    workspace: {
      isTrusted: true,
      getConfiguration: () => ({ get: () => undefined }),
      onDidChangeConfiguration: disposable,
      onDidGrantWorkspaceTrust: disposable,
    },
  };
}

describe('dist/extension.js activation', () => {
  it('registers every contributed command and starts no process', async function () {
    const bundle = join(root, 'dist', 'extension.js');
    if (!existsSync(bundle)) assert.fail('dist/extension.js is missing: run npm run build');
    const registered: string[] = [];
    const stub = fakeVscode(registered);
    const moduleInternals = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
    const originalLoad = moduleInternals._load;
    const originalFork = childProcess.fork;
    let forks = 0;
    moduleInternals._load = function (request: string, ...rest: unknown[]) {
      return request === 'vscode' ? stub : originalLoad.call(this, request, ...rest);
    };
    (childProcess as { fork: unknown }).fork = (...args: unknown[]) => {
      forks++;
      return (originalFork as (...a: unknown[]) => unknown)(...args);
    };
    const subscriptions: Disposable[] = [];
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const extension = require(bundle) as { activate(context: unknown): void; deactivate(): Promise<void> };
      extension.activate({
        subscriptions,
        extensionPath: root,
        extensionUri: { fsPath: root, scheme: 'file' },
        workspaceState: { get: () => undefined, update: async () => undefined },
        globalState: { get: () => undefined, update: async () => undefined },
      });
      await new Promise((r) => setTimeout(r, 10));
      await extension.deactivate();
    } finally {
      moduleInternals._load = originalLoad;
      (childProcess as { fork: unknown }).fork = originalFork;
      for (const d of subscriptions) d.dispose();
    }
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { contributes: { commands: { command: string }[] }; main: string };
    assert.equal(manifest.main, './dist/extension.js');
    assert.deepEqual([...registered].sort(), manifest.contributes.commands.map((c) => c.command).sort());
    assert.equal(forks, 0, 'activation must not fork the backend');
  });
});

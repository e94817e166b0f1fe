/**
 * Making sure a scan has a model. When the setting names none and the cache holds none (or several), a quick pick
 * offers: a local model folder, a download (the CLI's `model download`, with progress), or the demo model (the CLI's
 * `model synth --preset tiny`: random weights, honest about it). The choice is saved in `backdoorScanner.model`.
 */
import { join } from 'node:path';
import * as vscode from 'vscode';
import { DEFAULT_MODEL_NAME, listCachedModels, resolveModelSpec } from '../backend/models';
import { runNodeScript } from './host/childRun';

const DEMO_EXPLANATION =
  'The demo model is a tiny CLIP-shaped network with random weights, made on this machine in seconds. It runs the whole pipeline ' +
  '(reading, embedding, scoring, the panel), but its scores carry no knowledge of images or language: it cannot find real backdoors. ' +
  'Use a real CLIP model for real results.';

type Pick = vscode.QuickPickItem & { action: 'folder' | 'download' | 'demo' | 'cached'; value?: string };

export interface ModelChoiceContext {
  extensionPath: string;
  cacheDir: string;
  output: vscode.LogOutputChannel;
}

/** The model to scan with (a folder or a cached name), or undefined when the user backed out. */
export async function ensureModel(spec: string | undefined, context: ModelChoiceContext): Promise<string | undefined> {
  const resolved = await resolveModelSpec(spec, context.cacheDir);
  if ('dir' in resolved) return spec ?? resolved.dir;
  context.output.warn(resolved.error);

  const cached = await listCachedModels(context.cacheDir).catch(() => []);
  const items: Pick[] = [
    ...cached.map<Pick>((model) => ({ label: `$(database) ${model.name}`, description: 'cached', detail: model.dir, action: 'cached', value: model.dir })),
    {
      label: '$(folder-opened) Choose a local model folder…',
      detail: 'A CLIP ONNX export in Hugging Face layout (onnx/vision_model.onnx and onnx/text_model.onnx, or onnx/model.onnx, with tokenizer files).',
      action: 'folder',
    },
    {
      label: `$(cloud-download) Download ${DEFAULT_MODEL_NAME} (quantized, about 90 MB)`,
      detail: `From the Hugging Face hub into ${context.cacheDir}. Needs internet access; resumes if interrupted.`,
      action: 'download',
    },
    { label: '$(beaker) Use the demo model (random weights)', detail: DEMO_EXPLANATION, action: 'demo' },
  ];
  const pick = await vscode.window.showQuickPick(items, {
    title: spec ? `Model "${spec}" is not available: choose a model` : 'No CLIP model configured: choose one for scanning',
    placeHolder: 'The choice is saved in the setting backdoorScanner.model',
    ignoreFocusOut: true,
    matchOnDetail: true,
  });
  if (!pick) return undefined;

  let model: string | undefined;
  switch (pick.action) {
    case 'cached':
      model = pick.value;
      break;
    case 'folder': {
      const folder = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, openLabel: 'Use This Model' });
      if (!folder?.[0]) return undefined;
      const check = await resolveModelSpec(folder[0].fsPath, context.cacheDir);
      if ('error' in check) {
        void vscode.window.showErrorMessage(check.error);
        return undefined;
      }
      model = folder[0].fsPath;
      break;
    }
    case 'download':
      model = (await runCli(context, ['model', 'download', DEFAULT_MODEL_NAME, '--variant', 'quantized'], `Downloading ${DEFAULT_MODEL_NAME}`)) ? DEFAULT_MODEL_NAME : undefined;
      break;
    case 'demo': {
      const out = join(context.cacheDir, 'demo-model', 'tiny');
      if (await runCli(context, ['model', 'synth', '--preset', 'tiny', '--out', out], 'Making the demo model')) {
        model = out;
        void vscode.window.showInformationMessage(DEMO_EXPLANATION);
      }
      break;
    }
    default:
      return undefined;
  }
  if (model) await vscode.workspace.getConfiguration('backdoorScanner').update('model', model, vscode.ConfigurationTarget.Global);
  return model;
}

/** Runs the bundled CLI (dist/cli.js) in a cancellable progress notification; output goes to the log. */
async function runCli(context: ModelChoiceContext, args: string[], title: string): Promise<boolean> {
  const cli = join(context.extensionPath, 'dist', 'cli.js');
  context.output.info(`Running backdoor-scan ${args.join(' ')}`);
  const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, token) => {
    const controller = new AbortController();
    const subscription = token.onCancellationRequested(() => controller.abort());
    try {
      return await runNodeScript(cli, {
        args,
        env: { ...process.env, BACKDOOR_SCAN_CACHE: context.cacheDir },
        signal: controller.signal,
        onLine: (line) => {
          context.output.info(line);
          progress.report({ message: line.slice(0, 120) });
        },
      });
    } finally {
      subscription.dispose();
    }
  });
  if (result.cancelled) return false;
  if (result.code !== 0) {
    const choice = await vscode.window.showErrorMessage(`${title} failed: ${result.tail.at(-1) ?? `exit code ${result.code}`}`, 'Show Log');
    if (choice === 'Show Log') context.output.show(true);
    return false;
  }
  return true;
}

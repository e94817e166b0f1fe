/** `backdoor-scan model synth|download|list`: get a CLIP ONNX model into place. */
import { resolve } from 'node:path';
import { CLIP_PRESETS, synthesizeClipModel, type ClipPreset } from '../../backend/onnx/clipSynth';
import { defaultCacheDir, downloadModel, listCachedModels } from '../../backend/models';
import { PRECISION_VARIANTS } from '../../backend/modelDescriptor';
import { CliFailure, UsageError, integerOption, parseCommandArgs, requiredString, stringOption } from '../args';
import { writeLine, type Command } from '../command';

const HELP = `Usage:
  backdoor-scan model synth --preset tiny|vit-b-32 --out DIR [--seed N]
  backdoor-scan model download NAME [--variant quantized] [--cache DIR]
  backdoor-scan model list [--cache DIR]

synth     writes a CLIP-architecture ONNX model with deterministic random weights (Hugging Face layout, real CLIP
          tokenizer files). "tiny" runs in seconds (tests, demo); "vit-b-32" has the real size and cost (benchmarks).
          Random weights demonstrate the pipeline, not detection quality.
download  fetches a CLIP export from the Hugging Face hub (e.g. Xenova/clip-vit-base-patch32) into the cache, with
          progress, resume and SHA-256 checks. --variant: ${PRECISION_VARIANTS.filter((v) => v !== '').join(', ')} (default fp32).
list      shows the cached models (pass one to \`scan --model NAME\`).

The cache is --cache DIR, else $BACKDOOR_SCAN_CACHE, else ~/.cache/clip-backdoor-scanner.`;

function formatBytes(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

export const modelCommand: Command = {
  name: 'model',
  summary: 'synthesise, download or list CLIP ONNX models',
  help: HELP,
  async run(argv, io) {
    const [sub, ...rest] = argv;
    switch (sub) {
      case 'synth': {
        const parsed = parseCommandArgs('model synth', rest, { preset: { type: 'string' }, out: { type: 'string', short: 'o' }, seed: { type: 'string' } });
        const preset = requiredString(parsed, 'preset', 'model');
        if (!(preset in CLIP_PRESETS)) throw new UsageError(`--preset must be ${Object.keys(CLIP_PRESETS).join(' or ')}, got "${preset}".`, 'model');
        const out = resolve(requiredString(parsed, 'out', 'model'));
        const seed = integerOption(parsed, 'seed', 0, 'model');
        await synthesizeClipModel(out, { preset: preset as ClipPreset, seed });
        writeLine(io.stdout, out);
        writeLine(io.stderr, `Wrote a ${preset} CLIP model with random weights to ${out}. Use it with: backdoor-scan scan DATASET --model ${out}`);
        return 0;
      }
      case 'download': {
        const parsed = parseCommandArgs('model download', rest, { variant: { type: 'string' }, cache: { type: 'string' } }, true);
        if (parsed.positionals.length !== 1) throw new UsageError('give one model NAME, e.g. Xenova/clip-vit-base-patch32.', 'model');
        const cacheDir = resolve(stringOption(parsed, 'cache') ?? defaultCacheDir(io.env));
        let lastFile = '';
        let lastShown = 0;
        try {
          const dir = await downloadModel(parsed.positionals[0], {
            cacheDir,
            variant: stringOption(parsed, 'variant'),
            signal: io.signal,
            onProgress(file, received, total) {
              const now = Date.now();
              if (file === lastFile && now - lastShown < 500 && received !== total) return;
              lastFile = file;
              lastShown = now;
              const share = total ? ` ${((100 * received) / total).toFixed(0)}% of ${formatBytes(total)}` : ` ${formatBytes(received)}`;
              if (io.stderrIsTTY) io.stderr.write(`\r\x1b[2K${file}${share}`);
              else if (received === total) writeLine(io.stderr, `${file}${share}`);
            },
          });
          if (io.stderrIsTTY) io.stderr.write('\r\x1b[2K');
          writeLine(io.stdout, dir);
        } catch (error) {
          if (io.signal.aborted) throw error;
          throw new CliFailure((error as Error).message);
        }
        return 0;
      }
      case 'list': {
        const parsed = parseCommandArgs('model list', rest, { cache: { type: 'string' } });
        const cacheDir = resolve(stringOption(parsed, 'cache') ?? defaultCacheDir(io.env));
        const models = await listCachedModels(cacheDir);
        if (models.length === 0) {
          writeLine(io.stdout, `No models cached in ${cacheDir}.`);
          return 0;
        }
        for (const model of models) {
          const variants = model.variants.map((v) => (v === '' ? 'fp32' : v)).join(', ');
          writeLine(io.stdout, `${model.name}  [${variants}]  ${formatBytes(model.bytes)}  ${model.dir}`);
        }
        return 0;
      }
      case undefined:
        throw new UsageError('choose synth, download or list.', 'model');
      default:
        throw new UsageError(`unknown model subcommand "${sub}"; choose synth, download or list.`, 'model');
    }
  },
};

/** The real implementations behind the scan pipeline (readers, model, tokenizer, preprocessing, scoring, GEMM). */
import { jsGemmEngine } from '../core/jsGemm';
import { encodeNpy } from '../core/npy';
import { scoreEmbeddings } from '../core/scoring';
import { openClipModel } from './embedder';
import { preprocessForClip, loadPreprocessConfig } from './images';
import { defaultCacheDir, resolveModelSpec } from './models';
import { createOrtGemmEngine } from './ortGemm';
import type { ScanDependencies } from './pipeline';
import { openDataset } from './readers';
import { loadTokenizer } from './tokenizerFiles';

export const realScanDependencies: ScanDependencies = {
  openDataset,
  defaultCacheDir: () => defaultCacheDir(),
  resolveModel: resolveModelSpec,
  openModel: (dir, options) => openClipModel(dir, { device: options.device, log: options.log }),
  async loadTokenizer(modelDir) {
    const tokenizer = await loadTokenizer(modelDir);
    return (captions) => tokenizer.encodeBatch(captions);
  },
  async loadPreprocessor(modelDir) {
    const config = await loadPreprocessConfig(modelDir);
    return (bytes, out, offset) => preprocessForClip(bytes, config, out, offset);
  },
  createGemmEngine: (device) => createOrtGemmEngine({ device }),
  fallbackGemmEngine: jsGemmEngine,
  score: (input, options, engine, hooks) => scoreEmbeddings(input, options, engine, hooks),
  encodeNpy,
};

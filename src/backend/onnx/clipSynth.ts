/**
 * Synthesises CLIP-architecture ONNX models with deterministic random weights, in the Hugging Face export layout
 * (onnx/vision_model.onnx + onnx/text_model.onnx, or onnx/model.onnx), with config.json, preprocessor_config.json and
 * OpenAI's real BPE merges. The graphs follow OpenAI CLIP / HF CLIPModel exactly (ViT with class token and pre-LN,
 * causal text transformer pooled at the argmax of input_ids, QuickGELU MLPs, projections without bias), so speed and
 * memory match a real export of the same size; only the weights are random.
 *
 * Initialisation follows OpenAI's CLIP where it matters for realism: N(0, 0.02) for layers and token embeddings, 0.01 for
 * positions, width^-0.5 for the projections (so unnormalised embeddings have norms of a few units, like real CLIP).
 * Linear weights are stored [in, out] for MatMul (the transpose of PyTorch's nn.Linear.weight), as optimum exports do.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../output';
import { BUNDLED_VOCAB_NAME, findBundledVocab } from '../tokenizerFiles';
import { type Dim, GraphBuilder, attr } from './graph';
import { lazyNormalTensor } from './seededWeights';

export type ClipPreset = 'tiny' | 'vit-b-32';
export type ClipLayout = 'split' | 'combined';

export interface TransformerSpec {
  readonly width: number;
  readonly layers: number;
  readonly heads: number;
  /** Hidden width of the MLP (4 × width in CLIP). */
  readonly mlpWidth: number;
}

export interface ClipArchitecture {
  readonly vision: TransformerSpec & { readonly imageSize: number; readonly patchSize: number };
  readonly text: TransformerSpec & { readonly vocabSize: number; readonly contextLength: number };
  /** Dimension of image_embeds / text_embeds. */
  readonly embedDim: number;
}

/** The CLIP vocabulary size and context are fixed by the tokenizer, so every preset keeps them. */
const CLIP_VOCAB_SIZE = 49408;
const CLIP_CONTEXT_LENGTH = 77;
const LAYER_NORM_EPSILON = 1e-5;
/** CLIP's learned logit scale at the end of training (exp(4.6052) = 100). */
const LOGIT_SCALE = 100;
/** Large finite negative for masked attention scores: finite so that no row of the softmax can become NaN. */
const MASKED_SCORE = -1e9;

export const CLIP_PRESETS: Readonly<Record<ClipPreset, ClipArchitecture>> = {
  tiny: {
    vision: { width: 64, layers: 2, heads: 2, mlpWidth: 256, imageSize: 224, patchSize: 32 },
    text: { width: 32, layers: 2, heads: 2, mlpWidth: 128, vocabSize: CLIP_VOCAB_SIZE, contextLength: CLIP_CONTEXT_LENGTH },
    embedDim: 64,
  },
  'vit-b-32': {
    vision: { width: 768, layers: 12, heads: 12, mlpWidth: 3072, imageSize: 224, patchSize: 32 },
    text: { width: 512, layers: 12, heads: 8, mlpWidth: 2048, vocabSize: CLIP_VOCAB_SIZE, contextLength: CLIP_CONTEXT_LENGTH },
    embedDim: 512,
  },
};

export interface SynthesizeClipOptions {
  readonly preset: ClipPreset;
  /** Weight seed, an integer in [0, 2³²) (default 0). Same seed → identical weights in every layout. */
  readonly seed?: number;
  /** 'split' (default): vision_model.onnx + text_model.onnx, unnormalised. 'combined': model.onnx, normalised embeddings. */
  readonly layout?: ClipLayout;
  /** Fix every batch dimension at 1, like OpenCLIP/Immich exports that reject larger batches. */
  readonly fixedBatchOne?: boolean;
  /**
   * Normalise image_embeds/text_embeds inside the graph. Default: false for 'split' (like HF's vision/text models),
   * true for 'combined' (like HF's CLIPModel export).
   */
  readonly normalisedOutputs?: boolean;
}

/** CLIP's image preprocessing (OpenAI / HF CLIPImageProcessor defaults). */
export const CLIP_PREPROCESSOR_CONFIG = {
  crop_size: { height: 224, width: 224 },
  do_center_crop: true,
  do_convert_rgb: true,
  do_normalize: true,
  do_rescale: true,
  do_resize: true,
  feature_extractor_type: 'CLIPFeatureExtractor',
  image_mean: [0.48145466, 0.4578275, 0.40821073],
  image_processor_type: 'CLIPImageProcessor',
  image_std: [0.26862954, 0.26130258, 0.27577711],
  resample: 3,
  rescale_factor: 0.00392156862745098,
  size: { shortest_edge: 224 },
} as const;

/** Relative paths of the files a synthesised model folder contains, by layout. */
export function clipModelFiles(layout: ClipLayout): string[] {
  const onnx = layout === 'split' ? ['onnx/vision_model.onnx', 'onnx/text_model.onnx'] : ['onnx/model.onnx'];
  return [...onnx, 'config.json', 'preprocessor_config.json', BUNDLED_VOCAB_NAME];
}

/**
 * Writes a synthetic CLIP model folder to `outDir` (created if needed; files written atomically, existing ones replaced).
 * vit-b-32 writes about 600 MB; weights are generated tensor by tensor while the file is streamed out.
 */
export async function synthesizeClipModel(outDir: string, options: SynthesizeClipOptions): Promise<void> {
  // hasOwn, not `in`: 'toString' and friends are not presets.
  if (!Object.hasOwn(CLIP_PRESETS, options.preset)) throw new Error(`unknown CLIP preset '${String(options.preset)}' (expected ${Object.keys(CLIP_PRESETS).join(', ')})`);
  const architecture = CLIP_PRESETS[options.preset];
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`seed must be an integer from 0 to 4294967295, got ${seed}`);
  const layout = options.layout ?? 'split';
  if (layout !== 'split' && layout !== 'combined') throw new Error(`layout must be 'split' or 'combined', got '${String(layout)}'`);
  const normalised = options.normalisedOutputs ?? layout === 'combined';
  const fixedBatchOne = options.fixedBatchOne ?? false;

  await mkdir(join(outDir, 'onnx'), { recursive: true });
  const metadata = { synthetic: 'true', preset: options.preset, seed: String(seed) };
  const docString = `Synthetic CLIP (${options.preset}, seed ${seed}): real architecture, random weights; embeddings carry no semantics.`;

  if (layout === 'split') {
    const vision = new GraphBuilder('clip_vision_model');
    const weights = new ClipWeights(vision, seed);
    const imageBatch = fixedBatchOne ? 1 : 'batch_size';
    const imageEmbeds = buildVisionTower(vision, weights, architecture, imageBatch, normalised);
    vision.output(imageEmbeds, 'float32', [imageBatch, architecture.embedDim]);
    await vision.toModel({ docString, metadata }).writeToFile(join(outDir, 'onnx/vision_model.onnx'));

    const text = new GraphBuilder('clip_text_model');
    const textWeights = new ClipWeights(text, seed);
    const textBatch = fixedBatchOne ? 1 : 'batch_size';
    const textEmbeds = buildTextTower(text, textWeights, architecture, textBatch, normalised, false);
    text.output(textEmbeds, 'float32', [textBatch, architecture.embedDim]);
    await text.toModel({ docString, metadata }).writeToFile(join(outDir, 'onnx/text_model.onnx'));
  } else {
    const graph = new GraphBuilder('clip_model');
    const weights = new ClipWeights(graph, seed);
    const imageBatch = fixedBatchOne ? 1 : 'image_batch_size';
    const textBatch = fixedBatchOne ? 1 : 'text_batch_size';
    const textEmbeds = buildTextTower(graph, weights, architecture, textBatch, normalised, true);
    const imageEmbeds = buildVisionTower(graph, weights, architecture, imageBatch, normalised);
    addLogits(graph, imageEmbeds, textEmbeds, normalised);
    graph.output('logits_per_image', 'float32', [imageBatch, textBatch]);
    graph.output('logits_per_text', 'float32', [textBatch, imageBatch]);
    graph.output(textEmbeds, 'float32', [textBatch, architecture.embedDim]);
    graph.output(imageEmbeds, 'float32', [imageBatch, architecture.embedDim]);
    await graph.toModel({ docString, metadata }).writeToFile(join(outDir, 'onnx/model.onnx'));
  }

  await writeFileAtomic(join(outDir, 'config.json'), `${JSON.stringify(hfConfig(architecture, options.preset, seed), null, 2)}\n`);
  await writeFileAtomic(join(outDir, 'preprocessor_config.json'), `${JSON.stringify(CLIP_PREPROCESSOR_CONFIG, null, 2)}\n`);
  // Read + atomic write rather than copyFile: a read-only asset's mode would otherwise block the next synth into this folder.
  await writeFileAtomic(join(outDir, BUNDLED_VOCAB_NAME), await readFile(findBundledVocab()));
}

/** A HF CLIPConfig-shaped config.json, marked as synthetic so that tools can warn that the embeddings mean nothing. */
function hfConfig(architecture: ClipArchitecture, preset: ClipPreset, seed: number): Record<string, unknown> {
  const common = { hidden_act: 'quick_gelu', layer_norm_eps: LAYER_NORM_EPSILON, projection_dim: architecture.embedDim };
  return {
    architectures: ['CLIPModel'],
    model_type: 'clip',
    projection_dim: architecture.embedDim,
    logit_scale_init_value: 2.6592,
    text_config: {
      ...common,
      model_type: 'clip_text_model',
      hidden_size: architecture.text.width,
      intermediate_size: architecture.text.mlpWidth,
      num_attention_heads: architecture.text.heads,
      num_hidden_layers: architecture.text.layers,
      max_position_embeddings: architecture.text.contextLength,
      vocab_size: architecture.text.vocabSize,
      bos_token_id: 49406,
      eos_token_id: 49407,
      pad_token_id: 0,
    },
    vision_config: {
      ...common,
      model_type: 'clip_vision_model',
      hidden_size: architecture.vision.width,
      intermediate_size: architecture.vision.mlpWidth,
      num_attention_heads: architecture.vision.heads,
      num_hidden_layers: architecture.vision.layers,
      image_size: architecture.vision.imageSize,
      patch_size: architecture.vision.patchSize,
      num_channels: 3,
    },
    synthetic: { preset, seed, note: 'Random weights from backdoor-scan model synth; embeddings carry no semantics.' },
  };
}

/** Creates the weight initializers of one graph; values come from the per-tensor seeded streams. */
class ClipWeights {
  constructor(
    private readonly graph: GraphBuilder,
    private readonly seed: number,
  ) {}

  normal(name: string, dims: readonly number[], std: number, mean = 0): string {
    const count = dims.reduce((product, d) => product * d, 1);
    return this.graph.initializer(name, 'float32', dims, lazyNormalTensor(this.seed, name, count, std, mean));
  }

  /** Linear layer weights [in, out] with std 0.02, plus an optional bias. */
  linear(prefix: string, inputs: number, outputs: number, withBias = true): { weight: string; bias?: string } {
    const weight = this.normal(`${prefix}.weight`, [inputs, outputs], 0.02);
    return withBias ? { weight, bias: this.normal(`${prefix}.bias`, [outputs], 0.02) } : { weight };
  }

  /** LayerNorm scale ≈ 1 and shift ≈ 0, perturbed so that a wrong parameter order shows in tests. */
  layerNorm(prefix: string, width: number): { scale: string; bias: string } {
    return { scale: this.normal(`${prefix}.weight`, [width], 0.02, 1), bias: this.normal(`${prefix}.bias`, [width], 0.02) };
  }
}

function layerNorm(graph: GraphBuilder, weights: ClipWeights, prefix: string, x: string, width: number, outputName?: string): string {
  const { scale, bias } = weights.layerNorm(prefix, width);
  return graph.op('LayerNormalization', [x, scale, bias], { axis: attr.int(-1), epsilon: attr.float(LAYER_NORM_EPSILON) }, outputName);
}

function linear(graph: GraphBuilder, weights: ClipWeights, prefix: string, x: string, inputs: number, outputs: number, withBias = true): string {
  const { weight, bias } = weights.linear(prefix, inputs, outputs, withBias);
  const product = graph.op('MatMul', [x, weight]);
  return bias === undefined ? product : graph.op('Add', [product, bias]);
}

/**
 * One CLIP residual block: x + Attention(LN1(x)), then x + MLP(LN2(x)) with QuickGELU (h·σ(1.702h)).
 * `attentionBias` (broadcast to [B, heads, S, S]) is added to the scores before the softmax (causal/padding masks).
 */
function residualBlock(graph: GraphBuilder, weights: ClipWeights, prefix: string, x: string, spec: TransformerSpec, attentionBias?: string): string {
  const { width, heads, mlpWidth } = spec;
  const headDim = width / heads;
  const normed = layerNorm(graph, weights, `${prefix}.layer_norm1`, x, width);

  const splitHeads = graph.int64s(`${prefix}.self_attn.split_heads_shape`, [0, 0, heads, headDim]);
  const mergeHeads = graph.int64s(`${prefix}.self_attn.merge_heads_shape`, [0, 0, width]);
  const projectHeads = (name: string, perm: number[]): string => {
    const projected = linear(graph, weights, `${prefix}.self_attn.${name}`, normed, width, width);
    return graph.op('Transpose', [graph.op('Reshape', [projected, splitHeads])], { perm: attr.ints(perm) });
  };
  const query = projectHeads('q_proj', [0, 2, 1, 3]); // [B, H, S, hd]
  const keyT = projectHeads('k_proj', [0, 2, 3, 1]); // [B, H, hd, S]
  const value = projectHeads('v_proj', [0, 2, 1, 3]); // [B, H, S, hd]
  const scale = graph.float32s(`${prefix}.self_attn.scale`, [1 / Math.sqrt(headDim)], []);
  let scores = graph.op('Mul', [graph.op('MatMul', [query, keyT]), scale]);
  if (attentionBias !== undefined) scores = graph.op('Add', [scores, attentionBias]);
  const probabilities = graph.op('Softmax', [scores], { axis: attr.int(-1) });
  const context = graph.op('Transpose', [graph.op('MatMul', [probabilities, value])], { perm: attr.ints([0, 2, 1, 3]) });
  const merged = graph.op('Reshape', [context, mergeHeads]);
  const attended = linear(graph, weights, `${prefix}.self_attn.out_proj`, merged, width, width);
  const afterAttention = graph.op('Add', [x, attended]);

  const normed2 = layerNorm(graph, weights, `${prefix}.layer_norm2`, afterAttention, width);
  const hidden = linear(graph, weights, `${prefix}.mlp.fc1`, normed2, width, mlpWidth);
  const quickGeluFactor = graph.float32s(`${prefix}.mlp.quick_gelu_factor`, [1.702], []);
  const activated = graph.op('Mul', [hidden, graph.op('Sigmoid', [graph.op('Mul', [hidden, quickGeluFactor])])]);
  const mlpOut = linear(graph, weights, `${prefix}.mlp.fc2`, activated, mlpWidth, width);
  return graph.op('Add', [afterAttention, mlpOut]);
}

function l2Normalise(graph: GraphBuilder, x: string, outputName?: string): string {
  const norm = graph.op('ReduceL2', [x], { axes: attr.ints([-1]), keepdims: attr.int(1) });
  return graph.op('Div', [x, norm], {}, outputName);
}

/** ViT image tower: pixel_values [B,3,224,224] → image_embeds [B, embedDim]. Returns the output value name. */
function buildVisionTower(graph: GraphBuilder, weights: ClipWeights, architecture: ClipArchitecture, batch: Dim, normalised: boolean): string {
  const spec = architecture.vision;
  const { width, patchSize, imageSize } = spec;
  const gridCells = (imageSize / patchSize) ** 2;
  const pixels = graph.input('pixel_values', 'float32', [batch, 3, imageSize, imageSize]);

  const patchWeight = weights.normal('vision_model.embeddings.patch_embedding.weight', [width, 3, patchSize, patchSize], 0.02);
  const patches = graph.op('Conv', [pixels, patchWeight], {
    kernel_shape: attr.ints([patchSize, patchSize]),
    strides: attr.ints([patchSize, patchSize]),
  }); // [B, width, grid, grid]
  const flatPatches = graph.op('Reshape', [patches, graph.int64s('vision_model.embeddings.flatten_shape', [0, width, -1])]);
  const patchTokens = graph.op('Transpose', [flatPatches], { perm: attr.ints([0, 2, 1]) }); // [B, grid², width]

  // The class token is broadcast to the runtime batch size: Expand([1,1,W] → [B,1,W]).
  const classEmbedding = weights.normal('vision_model.embeddings.class_embedding', [1, 1, width], 0.02);
  const batchSize = graph.op('Slice', [graph.op('Shape', [pixels]), graph.int64s('vision_model.batch_start', [0]), graph.int64s('vision_model.batch_end', [1])]);
  const classShape = graph.op('Concat', [batchSize, graph.int64s('vision_model.class_token_tail', [1, width])], { axis: attr.int(0) });
  const classTokens = graph.op('Expand', [classEmbedding, classShape]);
  const tokens = graph.op('Concat', [classTokens, patchTokens], { axis: attr.int(1) }); // [B, 1 + grid², W]
  const positions = weights.normal('vision_model.embeddings.position_embedding.weight', [gridCells + 1, width], 0.01);
  let x = graph.op('Add', [tokens, positions]);

  x = layerNorm(graph, weights, 'vision_model.pre_layrnorm', x, width);
  for (let layer = 0; layer < spec.layers; layer++) {
    x = residualBlock(graph, weights, `vision_model.encoder.layers.${layer}`, x, spec);
  }
  const classState = graph.op('Gather', [x, graph.int64s('vision_model.class_token_index', [0], [])], { axis: attr.int(1) }); // [B, W]
  const pooled = layerNorm(graph, weights, 'vision_model.post_layernorm', classState, width);
  const projection = weights.normal('visual_projection.weight', [width, architecture.embedDim], width ** -0.5);
  if (!normalised) return graph.op('MatMul', [pooled, projection], {}, 'image_embeds');
  return l2Normalise(graph, graph.op('MatMul', [pooled, projection]), 'image_embeds');
}

/**
 * Text tower: input_ids [B,77] (+ attention_mask) → text_embeds [B, embedDim], pooled at argmax(input_ids) (the EOT
 * token 49407 has the largest id). Returns the output value name.
 */
function buildTextTower(
  graph: GraphBuilder,
  weights: ClipWeights,
  architecture: ClipArchitecture,
  batch: Dim,
  normalised: boolean,
  withAttentionMask: boolean,
): string {
  const spec = architecture.text;
  const { width, contextLength } = spec;
  const inputIds = graph.input('input_ids', 'int64', [batch, contextLength]);

  const tokenTable = weights.normal('text_model.embeddings.token_embedding.weight', [spec.vocabSize, width], 0.02);
  const positions = weights.normal('text_model.embeddings.position_embedding.weight', [contextLength, width], 0.01);
  let x = graph.op('Add', [graph.op('Gather', [tokenTable, inputIds], { axis: attr.int(0) }), positions]);

  // Causal mask: query i attends to keys j ≤ i.
  const causal = new Float32Array(contextLength * contextLength);
  for (let i = 0; i < contextLength; i++) for (let j = i + 1; j < contextLength; j++) causal[i * contextLength + j] = MASKED_SCORE;
  let attentionBias = graph.initializer('text_model.causal_mask', 'float32', [contextLength, contextLength], causal);
  if (withAttentionMask) {
    // HF CLIPTextTransformer adds the padding mask on the key axis; with the causal mask it cannot reach the EOT position.
    const mask = graph.input('attention_mask', 'int64', [batch, contextLength]);
    const keep = graph.op('Cast', [mask], { to: attr.int(1) });
    const one = graph.float32s('text_model.one', [1], []);
    const maskedScore = graph.float32s('text_model.masked_score', [MASKED_SCORE], []);
    const padding = graph.op('Mul', [graph.op('Sub', [one, keep]), maskedScore]);
    const paddingBias = graph.op('Unsqueeze', [padding, graph.int64s('text_model.mask_axes', [1, 2])]); // [B,1,1,S]
    attentionBias = graph.op('Add', [attentionBias, paddingBias]);
  }

  for (let layer = 0; layer < spec.layers; layer++) {
    x = residualBlock(graph, weights, `text_model.encoder.layers.${layer}`, x, spec, attentionBias);
  }
  x = layerNorm(graph, weights, 'text_model.final_layer_norm', x, width);

  const eotPosition = graph.op('ArgMax', [inputIds], { axis: attr.int(-1), keepdims: attr.int(1) }); // [B, 1]
  const pooled = graph.op('GatherND', [x, eotPosition], { batch_dims: attr.int(1) }); // [B, W]
  const projection = weights.normal('text_projection.weight', [width, architecture.embedDim], width ** -0.5);
  if (!normalised) return graph.op('MatMul', [pooled, projection], {}, 'text_embeds');
  return l2Normalise(graph, graph.op('MatMul', [pooled, projection]), 'text_embeds');
}

/** CLIPModel's similarity logits: logit_scale · cos(image, text), in both orientations. */
function addLogits(graph: GraphBuilder, imageEmbeds: string, textEmbeds: string, normalised: boolean): void {
  const image = normalised ? imageEmbeds : l2Normalise(graph, imageEmbeds);
  const text = normalised ? textEmbeds : l2Normalise(graph, textEmbeds);
  const scale = graph.float32s('logit_scale', [LOGIT_SCALE], []);
  const textT = graph.op('Transpose', [text], { perm: attr.ints([1, 0]) });
  const logitsPerImage = graph.op('Mul', [graph.op('MatMul', [image, textT]), scale], {}, 'logits_per_image');
  graph.op('Transpose', [logitsPerImage], { perm: attr.ints([1, 0]) }, 'logits_per_text');
}

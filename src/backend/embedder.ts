/**
 * CLIP ONNX embedder: opens a model folder (see modelDescriptor.ts for the layouts), discovers each tower's input and
 * output names, element types and shapes from the ONNX Runtime session (never assumed), and embeds batches of
 * preprocessed pixels and token ids.
 *
 * - Device: tried per src/core/devicePolicy.ts through onnx/session.ts; a CUDA failure falls back to CPU with a reason.
 * - Batch: a fixed leading dimension (batch-1 OpenCLIP exports) is honoured by looping (and padding for fixed N > 1).
 * - Combined exports (one graph with both towers): the other modality gets a batch-1 dummy input.
 * - fp16 exports with float16 inputs/outputs are converted at the boundary; callers always see float32.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Device, DevicePreference } from '../protocol/backend';
import { DESCRIPTOR_FILE, describeModelFolder, descriptorFiles, type ModelDescriptor, type TowerDescriptor } from './modelDescriptor';
import { fromFloat16Bits, toFloat16Bits } from './float16';
import { createSessionWithFallback, type SessionWithDevice } from './onnx/session';

export interface OpenClipModelOptions {
  device: DevicePreference;
  /** Precision variant: '', 'fp16', 'quantized', 'int8', 'uint8', 'q4', 'bnb4' ('fp32' = ''). Default: the plain file if present. */
  variant?: string;
  /** Progress and decisions worth telling the user (layout, variant, device). */
  log?: (message: string) => void;
  /** Intra-op threads per session; default: all cores. */
  threads?: number;
}

export interface ClipModel {
  readonly dir: string;
  /** Stable id of the model files (content hashes, sampled for files > 64 MB) and variant, for embedding caches. 32 hex characters. */
  readonly fingerprint: string;
  readonly descriptor: ModelDescriptor;
  /** The device that actually runs the model. */
  readonly device: Device;
  /** One line: what ran, and why CUDA did not if it was wanted. */
  readonly deviceReason: string;
  /** Side S of the square pixel input: embedImages takes count×3×S×S. */
  readonly imageSize: number;
  /** Tokens per caption: embedTexts takes count×contextLength ids (77 for CLIP). */
  readonly contextLength: number;
  readonly embedDim: number;
  /** Whether the returned embeddings are already L2-normalised (combined HF and OpenCLIP exports) or raw (HF split). */
  readonly outputsNormalised: boolean;
  /**
   * Largest batch the export accepts (1 for batch-1-only exports; the smaller tower's limit); null = any.
   * Larger inputs are split internally, so this is advice for memory and progress granularity, not a requirement.
   */
  readonly maxBatch: number | null;
  /** `pixels`: count×3×S×S float32, CLIP-normalised. Returns count×embedDim float32, as the model outputs them. */
  embedImages(pixels: Float32Array, count: number): Promise<Float32Array>;
  /** `ids`: count×contextLength token ids (0-padded after 49407). Returns count×embedDim float32. */
  embedTexts(ids: Int32Array, count: number): Promise<Float32Array>;
  close(): Promise<void>;
}

const CLIP_CONTEXT_LENGTH = 77;
const CLIP_IMAGE_SIZE = 224;
const START_OF_TEXT = 49406;
const END_OF_TEXT = 49407;

type TensorType = ort.InferenceSession.TensorValueMetadata['type'];

/** What an input of a CLIP graph is for. */
type InputRole = 'pixels' | 'ids' | 'mask' | 'positions' | 'token-types';

interface BoundInput {
  readonly name: string;
  readonly role: InputRole;
  readonly type: TensorType;
  /** Shape from the session; numbers are fixed dimensions, strings symbolic ones; [] when unknown. */
  readonly shape: ReadonlyArray<number | string>;
}

interface BoundOutput {
  readonly name: string;
  readonly type: TensorType;
  readonly shape: ReadonlyArray<number | string>;
}

/** One session's inputs, classified once. Combined exports share one of these between both towers. */
interface SessionBinding {
  readonly file: string;
  readonly opened: SessionWithDevice;
  readonly inputs: readonly BoundInput[];
  readonly outputs: readonly BoundOutput[];
}

interface Tower {
  readonly kind: 'image' | 'text';
  readonly binding: SessionBinding;
  readonly input: BoundInput;
  readonly output: BoundOutput;
  /** Fixed batch size of the tower's input, or null when dynamic. */
  readonly fixedBatch: number | null;
}

const FLOAT_TYPES: readonly TensorType[] = ['float32', 'float16'];
const INTEGER_TYPES: readonly TensorType[] = ['int64', 'int32'];

function describeValue(value: { name: string; type: TensorType; shape: ReadonlyArray<number | string> }): string {
  return `${value.name} (${value.type} [${value.shape.map((d) => (d === '' ? '?' : String(d))).join(',')}])`;
}

function tensorMetadata(metadata: readonly ort.InferenceSession.ValueMetadata[], file: string, what: string): ort.InferenceSession.TensorValueMetadata[] {
  return metadata.map((value) => {
    if (!value.isTensor) throw new Error(`${file}: ${what} '${value.name}' is not a tensor; not a CLIP export this embedder can run`);
    return value;
  });
}

/** Classifies a graph input by element type and name: float → pixels; integer → ids, unless named as a mask/positions. */
function classifyInput(value: ort.InferenceSession.TensorValueMetadata, file: string): BoundInput {
  const base = { name: value.name, type: value.type, shape: value.shape };
  if (FLOAT_TYPES.includes(value.type)) return { ...base, role: 'pixels' };
  if (INTEGER_TYPES.includes(value.type)) {
    if (/mask/i.test(value.name)) return { ...base, role: 'mask' };
    if (/position/i.test(value.name)) return { ...base, role: 'positions' };
    if (/token_?type/i.test(value.name)) return { ...base, role: 'token-types' };
    return { ...base, role: 'ids' };
  }
  throw new Error(`${file}: input ${describeValue(base)} has a type a CLIP tower does not take (expected float pixels or int64/int32 ids)`);
}

function bindSession(file: string, opened: SessionWithDevice): SessionBinding {
  const inputs = tensorMetadata(opened.session.inputMetadata, file, 'input').map((value) => classifyInput(value, file));
  const outputs = tensorMetadata(opened.session.outputMetadata, file, 'output').map((value) => ({ name: value.name, type: value.type, shape: value.shape }));
  return { file, opened, inputs, outputs };
}

function pickInput(binding: SessionBinding, kind: Tower['kind'], named: string | undefined): BoundInput {
  const role: InputRole = kind === 'image' ? 'pixels' : 'ids';
  const listing = binding.inputs.map(describeValue).join(', ');
  if (named !== undefined) {
    const input = binding.inputs.find((candidate) => candidate.name === named);
    if (!input) throw new Error(`${binding.file}: the descriptor names input '${named}', but the graph's inputs are ${listing}`);
    return { ...input, role };
  }
  const candidates = binding.inputs.filter((input) => input.role === role);
  if (candidates.length === 1) return candidates[0];
  const want = kind === 'image' ? 'one float pixel input' : 'one integer token-id input';
  throw new Error(`${binding.file}: expected ${want}, found ${candidates.length} among ${listing}; name it in a clip-model.json ("${kind}": { "input": … })`);
}

/** The embedding output of a tower: by name (image_embeds, text_embeds, embedding…), else the only (rank-2) output. */
function pickOutput(binding: SessionBinding, kind: Tower['kind'], named: string | undefined): BoundOutput {
  const outputs = binding.outputs.filter((output) => FLOAT_TYPES.includes(output.type));
  const listing = binding.outputs.map(describeValue).join(', ');
  if (named !== undefined) {
    const output = outputs.find((candidate) => candidate.name === named);
    if (!output) throw new Error(`${binding.file}: the descriptor names output '${named}', but the graph's float outputs are ${listing}`);
    return output;
  }
  const modality = kind === 'image' ? /^(image|vision|visual)[_-]?emb/i : /^(text|textual)[_-]?emb/i;
  const generic = /^(embeddings?|embeds|output|outputs)$/i;
  const choice =
    outputs.find((output) => modality.test(output.name)) ??
    (outputs.filter((output) => generic.test(output.name)).length === 1 ? outputs.find((output) => generic.test(output.name)) : undefined) ??
    (outputs.length === 1 ? outputs[0] : undefined) ??
    (outputs.filter((output) => output.shape.length === 2).length === 1 ? outputs.find((output) => output.shape.length === 2) : undefined);
  if (!choice) throw new Error(`${binding.file}: cannot tell which output is the ${kind} embedding among ${listing}; name it in a clip-model.json ("${kind}": { "output": … })`);
  return choice;
}

function fixedDim(value: number | string | undefined): number | null {
  return typeof value === 'number' && value > 0 ? value : null;
}

function makeTower(kind: Tower['kind'], binding: SessionBinding, descriptor: TowerDescriptor): Tower {
  const input = pickInput(binding, kind, descriptor.input);
  const output = pickOutput(binding, kind, descriptor.output);
  if (kind === 'image' && input.shape.length !== 0 && input.shape.length !== 4) {
    throw new Error(`${binding.file}: pixel input ${describeValue(input)} is not [batch, 3, height, width]`);
  }
  if (kind === 'text' && input.shape.length !== 0 && input.shape.length !== 2) {
    throw new Error(`${binding.file}: token-id input ${describeValue(input)} is not [batch, length]`);
  }
  return { kind, binding, input, output, fixedBatch: fixedDim(input.shape[0]) };
}

// ---------- tensors ----------

function floatTensor(type: TensorType, values: Float32Array, dims: readonly number[]): ort.Tensor {
  if (type === 'float16') return new ort.Tensor('float16', toFloat16Bits(values), dims);
  return new ort.Tensor('float32', values, dims);
}

function integerTensor(type: TensorType, values: Int32Array, dims: readonly number[]): ort.Tensor {
  if (type === 'int64') return new ort.Tensor('int64', BigInt64Array.from(values, (value) => BigInt(value)), dims);
  return new ort.Tensor('int32', values, dims);
}

function toFloat32(tensor: ort.Tensor, where: string): Float32Array {
  if (tensor.type === 'float32') return tensor.data as Float32Array;
  if (tensor.type === 'float16') {
    return fromFloat16Bits(tensor.data as Uint16Array);
  }
  throw new Error(`${where}: output is ${tensor.type}, expected float32 or float16`);
}

/** Attention mask as HF builds it: 1 up to and including the end-of-text token (the row's largest id), 0 after. */
function attentionMask(ids: Int32Array, count: number, length: number): Int32Array {
  const mask = new Int32Array(count * length);
  for (let row = 0; row < count; row++) {
    const offset = row * length;
    let last = 0;
    for (let i = 1; i < length; i++) if (ids[offset + i] > ids[offset + last]) last = i;
    mask.fill(1, offset, offset + last + 1);
  }
  return mask;
}

function positionIds(count: number, length: number): Int32Array {
  const positions = new Int32Array(count * length);
  for (let row = 0; row < count; row++) for (let i = 0; i < length; i++) positions[row * length + i] = i;
  return positions;
}

// ---------- model ----------

class OnnxClipModel implements ClipModel {
  private closed = false;
  /** Runs one session at a time: the CPU threads are shared, and close() must not release a session mid-run. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly dir: string,
    readonly fingerprint: string,
    readonly descriptor: ModelDescriptor,
    readonly device: Device,
    readonly deviceReason: string,
    readonly imageSize: number,
    readonly contextLength: number,
    readonly embedDim: number,
    private readonly image: Tower,
    private readonly text: Tower,
    private readonly bindings: readonly SessionBinding[],
  ) {}

  get outputsNormalised(): boolean {
    return this.descriptor.outputsNormalised;
  }

  get maxBatch(): number | null {
    const limits = [this.descriptor.maxBatch ?? null, this.image.fixedBatch, this.text.fixedBatch].filter((limit): limit is number => limit !== null);
    return limits.length > 0 ? Math.min(...limits) : null;
  }

  embedImages(pixels: Float32Array, count: number): Promise<Float32Array> {
    const perItem = 3 * this.imageSize * this.imageSize;
    return this.embed(this.image, count, perItem, pixels.length, (start, rows, padded) => {
      const values = new Float32Array(padded * perItem);
      values.set(pixels.subarray(start * perItem, (start + rows) * perItem));
      return values;
    });
  }

  embedTexts(ids: Int32Array, count: number): Promise<Float32Array> {
    return this.embed(this.text, count, this.contextLength, ids.length, (start, rows, padded) => {
      const values = new Int32Array(padded * this.contextLength);
      values.set(ids.subarray(start * this.contextLength, (start + rows) * this.contextLength));
      // Padding rows (fixed batch > rows) get a minimal valid caption so that masks and pooling stay well defined.
      for (let row = rows; row < padded; row++) dummyIds(values, row, this.contextLength);
      return values;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
    await Promise.all(this.bindings.map((binding) => binding.opened.session.release()));
  }

  private embed<T extends Float32Array | Int32Array>(
    tower: Tower,
    count: number,
    perItem: number,
    available: number,
    slice: (start: number, rows: number, padded: number) => T,
  ): Promise<Float32Array> {
    if (this.closed) return Promise.reject(new Error(`model ${this.dir} is closed`));
    if (!Number.isInteger(count) || count < 0) return Promise.reject(new Error(`count must be a non-negative integer, got ${count}`));
    if (available < count * perItem) {
      return Promise.reject(new Error(`${tower.kind} input holds ${available} values; ${count} items need ${count * perItem} (${perItem} each)`));
    }
    const run = async (): Promise<Float32Array> => {
      const result = new Float32Array(count * this.embedDim);
      const step = tower.fixedBatch ?? this.descriptor.maxBatch ?? Math.max(count, 1);
      for (let start = 0; start < count; start += step) {
        const rows = Math.min(step, count - start);
        // A fixed batch dimension must be filled exactly; extra rows are padding and are dropped.
        const padded = tower.fixedBatch ?? rows;
        const embeddings = await runTower(tower, slice(start, rows, padded), padded, this.imageSize, this.contextLength);
        if (embeddings.length < padded * this.embedDim) {
          throw new Error(`${tower.binding.file}: ${tower.output.name} returned ${embeddings.length} values for ${padded} items of ${this.embedDim}`);
        }
        result.set(embeddings.subarray(0, rows * this.embedDim), start * this.embedDim);
      }
      return result;
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

function dummyIds(values: Int32Array, row: number, length: number): void {
  values.fill(0, row * length, (row + 1) * length);
  values[row * length] = START_OF_TEXT;
  values[row * length + 1] = END_OF_TEXT;
}

/** Feeds for every input of a tower's session: the tower's own data, derived masks/positions, and dummies for the other tower. */
function buildFeeds(tower: Tower, data: Float32Array | Int32Array, batch: number, imageSize: number, contextLength: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  const pixelDims = (rows: number): number[] => [rows, 3, imageSize, imageSize];
  // Ids that drive masks/positions: the tower's own for the text tower, a batch-1 dummy caption otherwise.
  const idsInput = tower.binding.inputs.find((input) => input.role === 'ids' && input.name !== tower.input.name);
  const textRows = tower.kind === 'text' ? batch : fixedDim(idsInput?.shape[0]) ?? 1;
  let ids: Int32Array;
  if (tower.kind === 'text') {
    ids = data as Int32Array;
  } else {
    ids = new Int32Array(textRows * contextLength);
    for (let row = 0; row < textRows; row++) dummyIds(ids, row, contextLength);
  }
  for (const input of tower.binding.inputs) {
    if (input.name === tower.input.name) {
      feeds[input.name] = tower.kind === 'image'
        ? floatTensor(input.type, data as Float32Array, pixelDims(batch))
        : integerTensor(input.type, data as Int32Array, [batch, contextLength]);
      continue;
    }
    switch (input.role) {
      case 'pixels': {
        const rows = fixedDim(input.shape[0]) ?? 1;
        feeds[input.name] = floatTensor(input.type, new Float32Array(rows * 3 * imageSize * imageSize), pixelDims(rows));
        break;
      }
      case 'ids':
        feeds[input.name] = integerTensor(input.type, ids, [textRows, contextLength]);
        break;
      case 'mask':
        feeds[input.name] = integerTensor(input.type, attentionMask(ids, textRows, contextLength), [textRows, contextLength]);
        break;
      case 'positions':
        feeds[input.name] = integerTensor(input.type, positionIds(textRows, contextLength), [textRows, contextLength]);
        break;
      case 'token-types':
        feeds[input.name] = integerTensor(input.type, new Int32Array(textRows * contextLength), [textRows, contextLength]);
        break;
      default: {
        const unknown: never = input.role;
        throw new Error(`unhandled input role ${String(unknown)}`);
      }
    }
  }
  return feeds;
}

async function runTower(tower: Tower, data: Float32Array | Int32Array, batch: number, imageSize: number, contextLength: number): Promise<Float32Array> {
  const feeds = buildFeeds(tower, data, batch, imageSize, contextLength);
  const results = await tower.binding.opened.session.run(feeds, [tower.output.name]);
  const output = results[tower.output.name];
  if (!output || !('dims' in output)) throw new Error(`${tower.binding.file}: no tensor '${tower.output.name}' in the results`);
  return toFloat32(output as ort.Tensor, `${tower.binding.file}: ${tower.output.name}`);
}

// ---------- configuration ----------

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The crop size a preprocessor config asks for (HF `crop_size`, OpenCLIP `size`), or null. */
async function configuredImageSize(dir: string): Promise<number | null> {
  for (const file of ['preprocessor_config.json', 'visual/preprocess_cfg.json']) {
    let json: unknown;
    try {
      json = JSON.parse(await readFile(join(dir, file), 'utf8'));
    } catch {
      continue;
    }
    if (!isRecord(json)) continue;
    for (const value of [json.crop_size, json.size]) {
      if (typeof value === 'number' && value > 0) return value;
      if (Array.isArray(value) && typeof value[0] === 'number') return value[0];
      if (isRecord(value) && typeof value.height === 'number') return value.height;
      if (isRecord(value) && typeof value.shortest_edge === 'number') return value.shortest_edge;
    }
  }
  return null;
}

/** Files besides the weights that change embeddings: preprocessing and tokenizer. */
const FINGERPRINTED_CONFIGS = [
  DESCRIPTOR_FILE,
  'preprocessor_config.json',
  'tokenizer.json',
  'vocab.json',
  'merges.txt',
  'bpe_simple_vocab_16e6.txt.gz',
  'visual/preprocess_cfg.json',
  'textual/tokenizer.json',
];

const contentHashes = new Map<string, string>();

/** Files up to this size are hashed whole; larger ones (model weights) are sampled, see contentHash. */
const FULL_HASH_LIMIT = 64 * 1024 * 1024;
const SAMPLE_EDGE_BYTES = 1024 * 1024;
const SAMPLE_BLOCK_BYTES = 64 * 1024;
const SAMPLE_BLOCKS = 64;

async function sampledHash(path: string, size: number): Promise<string> {
  const hash = createHash('sha256').update(`sampled:${size}\n`);
  const handle = await open(path, 'r');
  try {
    const read = async (position: number, length: number): Promise<void> => {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, position);
      hash.update(buffer.subarray(0, bytesRead));
    };
    await read(0, SAMPLE_EDGE_BYTES);
    for (let block = 1; block <= SAMPLE_BLOCKS; block++) {
      await read(Math.floor((size * block) / (SAMPLE_BLOCKS + 1)), SAMPLE_BLOCK_BYTES);
    }
    await read(size - SAMPLE_EDGE_BYTES, SAMPLE_EDGE_BYTES);
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

/**
 * A content hash of a file, memoised per process by path, size and mtime. Files above 64 MB are identified by their
 * size plus about 6 MB of samples (head, tail, 64 evenly spaced blocks): hashing a 600 MB ViT-B/32 whole costs seconds
 * at every scan start, and any retrained or re-quantized export differs throughout its weights.
 */
export async function contentHash(path: string, fullHashLimit = FULL_HASH_LIMIT): Promise<string | null> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch {
    return null;
  }
  if (!info.isFile()) return null;
  const key = `${path}\0${info.size}\0${info.mtimeMs}\0${fullHashLimit}`;
  const cached = contentHashes.get(key);
  if (cached) return cached;
  let digest: string;
  if (info.size > Math.max(fullHashLimit, 2 * SAMPLE_EDGE_BYTES)) {
    digest = await sampledHash(path, info.size);
  } else {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
    digest = hash.digest('hex');
  }
  contentHashes.set(key, digest);
  return digest;
}

/** Content-based id: the same files give the same fingerprint wherever the folder is. */
async function modelFingerprint(dir: string, descriptor: ModelDescriptor): Promise<string> {
  const parts: string[] = [`layout=${descriptor.layout}`, `variant=${descriptor.variant}`, `towers=${JSON.stringify([descriptor.image, descriptor.text])}`];
  for (const file of [...descriptorFiles(descriptor), ...FINGERPRINTED_CONFIGS]) {
    const digest = await contentHash(join(dir, file));
    if (digest) parts.push(`${file}=${digest}`);
  }
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 32);
}

/**
 * Opens a CLIP model folder. Throws with a clear message for a folder without models, a missing variant, or a graph
 * whose inputs/outputs cannot be matched; never throws because CUDA is unavailable (falls back to CPU, see deviceReason).
 */
export async function openClipModel(dir: string, options: OpenClipModelOptions): Promise<ClipModel> {
  const log = options.log ?? (() => undefined);
  const descriptor = await describeModelFolder(dir, options.variant);
  const files = descriptorFiles(descriptor);
  log(`model ${dir}: ${descriptor.layout} layout, ${descriptor.variant === '' ? 'fp32' : descriptor.variant} variant (${files.join(', ')})`);

  // The first session decides the device; the others follow it, so both towers run on the same provider.
  const bindings: SessionBinding[] = [];
  try {
    let preference: DevicePreference = options.device;
    for (const file of files) {
      const opened = await createSessionWithFallback(join(dir, file), { device: preference, threads: options.threads });
      bindings.push(bindSession(file, opened));
      preference = opened.device;
    }
    const bindingOf = (tower: TowerDescriptor): SessionBinding => bindings[files.indexOf(tower.file)];
    const image = makeTower('image', bindingOf(descriptor.image), descriptor.image);
    const text = makeTower('text', bindingOf(descriptor.text), descriptor.text);

    const sessionSize = fixedDim(image.input.shape[2]);
    if (sessionSize !== null && fixedDim(image.input.shape[3]) !== sessionSize) {
      throw new Error(`${image.binding.file}: pixel input ${describeValue(image.input)} is not square; not supported`);
    }
    const configSize = await configuredImageSize(dir);
    if (sessionSize !== null && configSize !== null && configSize !== sessionSize) {
      log(`warning: preprocessing config says ${configSize} px but ${image.binding.file} takes ${sessionSize} px; using ${sessionSize}`);
    }
    const imageSize = sessionSize ?? configSize ?? CLIP_IMAGE_SIZE;
    const contextLength = fixedDim(text.input.shape[1]) ?? CLIP_CONTEXT_LENGTH;

    // The first session's reason says why this device; a later session only adds one if it had to fall back itself.
    const [first, ...rest] = bindings;
    const fellBack = rest.filter((binding) => binding.opened.device !== first.opened.device);
    const device: Device = fellBack.length > 0 ? 'cpu' : first.opened.device;
    const deviceReason = [first.opened.reason, ...fellBack.map((binding) => `${binding.file}: ${binding.opened.reason}`)].join('; ');
    log(`device: ${device} — ${deviceReason}`);

    const embedDim = await discoverEmbedDim(image, text, imageSize, contextLength);
    const fingerprint = await modelFingerprint(dir, descriptor);
    return new OnnxClipModel(dir, fingerprint, descriptor, device, deviceReason, imageSize, contextLength, embedDim, image, text, bindings);
  } catch (error) {
    await Promise.all(bindings.map((binding) => binding.opened.session.release().catch(() => undefined)));
    throw error;
  }
}

/** Embedding width from the output shapes, else from one dummy run per tower; both towers must agree. */
async function discoverEmbedDim(image: Tower, text: Tower, imageSize: number, contextLength: number): Promise<number> {
  const widthOf = async (tower: Tower): Promise<number> => {
    const declared = fixedDim(tower.output.shape[tower.output.shape.length - 1]);
    if (declared !== null && tower.output.shape.length === 2) return declared;
    const rows = tower.fixedBatch ?? 1;
    const data = tower.kind === 'image' ? new Float32Array(rows * 3 * imageSize * imageSize) : new Int32Array(rows * contextLength);
    if (data instanceof Int32Array) for (let row = 0; row < rows; row++) dummyIds(data, row, contextLength);
    const values = await runTower(tower, data, rows, imageSize, contextLength);
    if (values.length % rows !== 0 || values.length === 0) throw new Error(`${tower.binding.file}: ${tower.output.name} has ${values.length} values for ${rows} items`);
    return values.length / rows;
  };
  const imageDim = await widthOf(image);
  const textDim = await widthOf(text);
  if (imageDim !== textDim) {
    throw new Error(`image embeddings (${image.output.name}, ${imageDim}) and text embeddings (${text.output.name}, ${textDim}) differ in width; not a CLIP pair`);
  }
  return imageDim;
}

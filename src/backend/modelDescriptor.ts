/**
 * Model descriptors: a small JSON-able description of a CLIP export (which ONNX files hold the towers, optional input and
 * output names, whether outputs are normalised, batch limit). Known folder layouts are rows of one table (LAYOUTS), so
 * a new export family is a new row, not a special case in the embedder. A folder may also carry its own descriptor in
 * `clip-model.json` (same shape as ModelDescriptorFile) for exports that fit no known layout.
 */
import { existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Precision variants as Hugging Face exports name them: `<stem>_<variant>.onnx`; '' is the plain (fp32) file. */
export const PRECISION_VARIANTS = ['', 'fp16', 'quantized', 'int8', 'uint8', 'q4', 'bnb4'] as const;
export type PrecisionVariant = (typeof PRECISION_VARIANTS)[number];

/** When no variant is asked for: full precision first, then the CPU-friendly quantized file, then the rest. */
const DEFAULT_VARIANT_ORDER: readonly PrecisionVariant[] = ['', 'quantized', 'fp16', 'int8', 'uint8', 'q4', 'bnb4'];

/** Name of the optional descriptor file inside a model folder. */
export const DESCRIPTOR_FILE = 'clip-model.json';

export interface TowerDescriptor {
  /** ONNX file, relative to the model folder (forward slashes). Both towers name the same file for combined exports. */
  readonly file: string;
  /** The pixel (image tower) or token-id (text tower) input; discovered from the session when absent. */
  readonly input?: string;
  /** The embedding output; discovered from the session when absent. */
  readonly output?: string;
}

export type LayoutName = 'hf-split' | 'hf-combined' | 'openclip' | 'descriptor';

export interface ModelDescriptor {
  readonly layout: LayoutName;
  /** Precision variant the files belong to ('' = plain). */
  readonly variant: string;
  readonly image: TowerDescriptor;
  readonly text: TowerDescriptor;
  /** Whether the exported embeddings are already L2-normalised. */
  readonly outputsNormalised: boolean;
  /** Largest batch the export accepts; absent = read from the input shapes (a fixed leading dimension). */
  readonly maxBatch?: number;
}

/** The shape of `clip-model.json`. */
export interface ModelDescriptorFile {
  readonly image: TowerDescriptor;
  readonly text: TowerDescriptor;
  readonly outputsNormalised: boolean;
  readonly maxBatch?: number;
}

interface LayoutRule {
  readonly layout: Exclude<LayoutName, 'descriptor'>;
  /** File of each tower for a variant suffix ('' or '_quantized', …). */
  readonly imageFile: (suffix: string) => string;
  readonly textFile: (suffix: string) => string;
  readonly outputsNormalised: boolean;
  /** Folders whose file names reveal the variants present. */
  readonly folders: readonly string[];
}

/** Known layouts, tried in this order. */
const LAYOUTS: readonly LayoutRule[] = [
  {
    // Hugging Face / transformers.js split export: CLIPVisionModelWithProjection + CLIPTextModelWithProjection.
    layout: 'hf-split',
    imageFile: (suffix) => `onnx/vision_model${suffix}.onnx`,
    textFile: (suffix) => `onnx/text_model${suffix}.onnx`,
    outputsNormalised: false,
    folders: ['onnx'],
  },
  {
    // Hugging Face combined CLIPModel export: one graph, both inputs, normalised image_embeds / text_embeds.
    layout: 'hf-combined',
    imageFile: (suffix) => `onnx/model${suffix}.onnx`,
    textFile: (suffix) => `onnx/model${suffix}.onnx`,
    outputsNormalised: true,
    folders: ['onnx'],
  },
  {
    // OpenCLIP exports such as Immich's: usually batch fixed at 1, normalised outputs.
    layout: 'openclip',
    imageFile: (suffix) => `visual/model${suffix}.onnx`,
    textFile: (suffix) => `textual/model${suffix}.onnx`,
    outputsNormalised: true,
    folders: ['visual', 'textual'],
  },
];

export function variantSuffix(variant: string): string {
  return variant === '' ? '' : `_${variant}`;
}

export function isPrecisionVariant(value: string): value is PrecisionVariant {
  return (PRECISION_VARIANTS as readonly string[]).includes(value);
}

/** Normalises a user-given variant ('fp32'/'default' mean the plain file); throws on an unknown name. */
export function parseVariant(value: string | undefined): PrecisionVariant | undefined {
  if (value === undefined) return undefined;
  const lowered = value.trim().toLowerCase().replace(/^_/, '');
  if (lowered === 'fp32' || lowered === 'default' || lowered === 'none') return '';
  if (isPrecisionVariant(lowered)) return lowered;
  throw new Error(`unknown model variant '${value}': use one of fp32, ${PRECISION_VARIANTS.filter((v) => v !== '').join(', ')}`);
}

function variantLabel(variant: string): string {
  return variant === '' ? 'fp32 (no suffix)' : variant;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** ONNX files in the folders a layout looks at, relative to the model folder. */
async function onnxFilesIn(dir: string, folders: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const folder of folders) {
    let names: string[];
    try {
      names = await readdir(join(dir, folder));
    } catch {
      continue;
    }
    for (const name of names.sort()) if (name.endsWith('.onnx')) found.push(`${folder}/${name}`);
  }
  return found;
}

export interface LayoutVariants {
  readonly layout: Exclude<LayoutName, 'descriptor'>;
  /** Variants for which every file of the layout exists. */
  readonly variants: PrecisionVariant[];
}

/** Every known layout present in a folder, with its complete variants (a variant with only one tower is not listed). */
export async function detectLayouts(dir: string): Promise<LayoutVariants[]> {
  const detected: LayoutVariants[] = [];
  for (const rule of LAYOUTS) {
    const variants = PRECISION_VARIANTS.filter((variant) => {
      const suffix = variantSuffix(variant);
      return isFile(join(dir, rule.imageFile(suffix))) && isFile(join(dir, rule.textFile(suffix)));
    });
    if (variants.length > 0) detected.push({ layout: rule.layout, variants });
  }
  return detected;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseTower(value: unknown, where: string): TowerDescriptor {
  if (!isRecord(value) || typeof value.file !== 'string' || value.file.length === 0) {
    throw new Error(`${where}: expected { "file": "path/to/model.onnx", "input"?: string, "output"?: string }`);
  }
  if (value.file.split(/[\\/]/).includes('..') || value.file.startsWith('/')) {
    throw new Error(`${where}.file must be a path inside the model folder, got ${JSON.stringify(value.file)}`);
  }
  for (const key of ['input', 'output'] as const) {
    if (value[key] !== undefined && typeof value[key] !== 'string') throw new Error(`${where}.${key} must be a string`);
  }
  return {
    file: value.file,
    ...(typeof value.input === 'string' ? { input: value.input } : {}),
    ...(typeof value.output === 'string' ? { output: value.output } : {}),
  };
}

/** Validates the content of a `clip-model.json`. */
export function parseDescriptorFile(json: unknown, where = DESCRIPTOR_FILE): ModelDescriptorFile {
  if (!isRecord(json)) throw new Error(`${where}: expected a JSON object`);
  if (typeof json.outputsNormalised !== 'boolean') throw new Error(`${where}: "outputsNormalised" (true/false) is required`);
  if (json.maxBatch !== undefined && !(Number.isInteger(json.maxBatch) && (json.maxBatch as number) >= 1)) {
    throw new Error(`${where}: "maxBatch" must be a positive integer`);
  }
  return {
    image: parseTower(json.image, `${where}: image`),
    text: parseTower(json.text, `${where}: text`),
    outputsNormalised: json.outputsNormalised,
    ...(typeof json.maxBatch === 'number' ? { maxBatch: json.maxBatch } : {}),
  };
}

/**
 * The descriptor for a model folder and (optional) variant. Throws an Error whose message says what was looked for and
 * what exists: an unknown folder, a folder without models, or a variant that is missing.
 */
export async function describeModelFolder(dir: string, requestedVariant?: string): Promise<ModelDescriptor> {
  const variant = parseVariant(requestedVariant);
  if (!existsSync(dir)) throw new Error(`model folder ${dir} does not exist`);
  if (!statSync(dir).isDirectory()) throw new Error(`model path ${dir} is not a folder`);

  const descriptorPath = join(dir, DESCRIPTOR_FILE);
  if (isFile(descriptorPath)) {
    let json: unknown;
    try {
      json = JSON.parse(await readFile(descriptorPath, 'utf8'));
    } catch (error) {
      throw new Error(`${descriptorPath}: not valid JSON (${(error as Error).message})`);
    }
    const file = parseDescriptorFile(json, descriptorPath);
    if (variant !== undefined && variant !== '') {
      throw new Error(`${descriptorPath} describes one set of files; a variant ('${variant}') cannot be chosen for it`);
    }
    for (const tower of [file.image, file.text]) {
      if (!isFile(join(dir, tower.file))) throw new Error(`${descriptorPath} names ${tower.file}, which does not exist`);
    }
    return { layout: 'descriptor', variant: '', ...file };
  }

  const layouts = await detectLayouts(dir);
  if (layouts.length === 0) {
    const present = await onnxFilesIn(dir, ['.', 'onnx', 'visual', 'textual']);
    throw new Error(
      `no CLIP model found in ${dir}: looked for onnx/vision_model.onnx + onnx/text_model.onnx, onnx/model.onnx, ` +
        `visual/model.onnx + textual/model.onnx (each optionally _fp16, _quantized, …), or a ${DESCRIPTOR_FILE}` +
        (present.length > 0 ? `; ONNX files present: ${present.map((p) => p.replace(/^\.\//, '')).join(', ')}` : '; the folder has no ONNX files'),
    );
  }

  let chosen: { rule: LayoutRule; variant: PrecisionVariant } | undefined;
  if (variant !== undefined) {
    const layout = layouts.find((candidate) => candidate.variants.includes(variant));
    if (layout) chosen = { rule: ruleOf(layout.layout), variant };
  } else {
    // No variant asked for: the first layout that has one, in the default preference order.
    for (const layout of layouts) {
      const pick = DEFAULT_VARIANT_ORDER.find((candidate) => layout.variants.includes(candidate));
      if (pick !== undefined) {
        chosen = { rule: ruleOf(layout.layout), variant: pick };
        break;
      }
    }
  }
  if (!chosen) {
    const rules = layouts.map((layout) => ruleOf(layout.layout));
    const present = await onnxFilesIn(dir, [...new Set(rules.flatMap((rule) => rule.folders))]);
    const available = [...new Set(layouts.flatMap((layout) => layout.variants))].map(variantLabel).join(', ');
    throw new Error(
      `model folder ${dir} has no '${variantLabel(variant ?? '')}' variant: it needs ` +
        rules.map((rule) => [...new Set([rule.imageFile(variantSuffix(variant ?? '')), rule.textFile(variantSuffix(variant ?? ''))])].join(' + ')).join(' or ') +
        `. Variants present: ${available}. ONNX files: ${present.join(', ')}`,
    );
  }
  const suffix = variantSuffix(chosen.variant);
  return {
    layout: chosen.rule.layout,
    variant: chosen.variant,
    image: { file: chosen.rule.imageFile(suffix) },
    text: { file: chosen.rule.textFile(suffix) },
    outputsNormalised: chosen.rule.outputsNormalised,
  };
}

function ruleOf(layout: LayoutVariants['layout']): LayoutRule {
  const rule = LAYOUTS.find((candidate) => candidate.layout === layout);
  if (!rule) throw new Error(`unknown layout ${layout}`);
  return rule;
}

/** Every ONNX variant file of every known layout in a folder (used by listings), e.g. ['', 'quantized']. */
export async function variantsInFolder(dir: string): Promise<PrecisionVariant[]> {
  const layouts = await detectLayouts(dir);
  const variants = new Set<PrecisionVariant>(layouts.flatMap((layout) => layout.variants));
  if (variants.size === 0 && isFile(join(dir, DESCRIPTOR_FILE))) variants.add('');
  return PRECISION_VARIANTS.filter((variant) => variants.has(variant));
}

/** The model files of a descriptor (one entry per distinct file). */
export function descriptorFiles(descriptor: ModelDescriptor): string[] {
  return [...new Set([descriptor.image.file, descriptor.text.file])];
}

/** For each known layout, the files a variant needs, in layout order (what a download tries, first to last). */
export function layoutFileSets(variant: PrecisionVariant): { layout: LayoutRule['layout']; files: string[] }[] {
  const suffix = variantSuffix(variant);
  return LAYOUTS.map((rule) => ({ layout: rule.layout, files: [...new Set([rule.imageFile(suffix), rule.textFile(suffix)])] }));
}

/**
 * Small typed builder for ONNX graphs, serialised with the hand-rolled protobuf writer.
 * Field numbers follow onnx/onnx.proto (IR version 8 ↔ opset 17).
 */
import { type LazyBytes, ProtoWriter, littleEndianBytes } from './protobuf';

/** Tensor element types the project writes. Values are onnx.TensorProto.DataType codes. */
export const ELEMENT_TYPE_CODES = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
} as const;
export type ElementType = keyof typeof ELEMENT_TYPE_CODES;

const ELEMENT_BYTES: Record<ElementType, number> = { float32: 4, uint8: 1, int8: 1, int32: 4, int64: 8, bool: 1, float16: 2 };

/** A dimension: a fixed size, or a symbolic name (e.g. 'batch') for a dynamic axis. */
export type Dim = number | string;

/**
 * Tensor payload. float16 data is given as IEEE half bits (see `float32ToFloat16Bits`).
 * A `LazyBytes` payload (little-endian raw bytes) is produced only while the model is written.
 */
export type TensorPayload = Float32Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array | LazyBytes;

export interface TensorSpec {
  readonly name?: string;
  readonly type: ElementType;
  readonly dims: readonly number[];
  readonly data: TensorPayload;
}

export type AttributeValue =
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'floats'; readonly value: readonly number[] }
  | { readonly kind: 'ints'; readonly value: readonly number[] }
  | { readonly kind: 'tensor'; readonly value: TensorSpec };

/** Constructors for node attributes, so that 1 (int) and 1.0 (float) are never confused. */
export const attr = {
  float: (value: number): AttributeValue => ({ kind: 'float', value }),
  int: (value: number): AttributeValue => ({ kind: 'int', value }),
  string: (value: string): AttributeValue => ({ kind: 'string', value }),
  floats: (value: readonly number[]): AttributeValue => ({ kind: 'floats', value }),
  ints: (value: readonly number[]): AttributeValue => ({ kind: 'ints', value }),
  tensor: (value: TensorSpec): AttributeValue => ({ kind: 'tensor', value }),
};

// onnx.AttributeProto.AttributeType codes.
const ATTRIBUTE_TYPE_CODES: Record<AttributeValue['kind'], number> = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 };

interface NodeSpec {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  readonly name: string;
  readonly domain: string;
}

interface ValueInfoSpec {
  readonly name: string;
  readonly type: ElementType;
  readonly shape: readonly Dim[];
}

export interface ModelOptions {
  /** Default opset 17 (LayerNormalization is available from 17). */
  readonly opset?: number;
  /** Default 8, the IR version that goes with opset 17. */
  readonly irVersion?: number;
  readonly producerName?: string;
  readonly docString?: string;
  /** Free-form key/value metadata (ModelProto.metadata_props). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Builds one ONNX graph. Value names are strings; helper methods return the names of the values they create. */
export class GraphBuilder {
  private readonly nodes: NodeSpec[] = [];
  private readonly initializers: TensorSpec[] = [];
  private readonly inputs: ValueInfoSpec[] = [];
  private readonly outputs: ValueInfoSpec[] = [];
  private readonly usedNames = new Set<string>();
  private readonly nameCounters = new Map<string, number>();

  constructor(readonly name: string) {}

  /** A fresh value name starting with `prefix`, unique within this graph. */
  uniqueName(prefix: string): string {
    let counter = this.nameCounters.get(prefix) ?? 0;
    let candidate = counter === 0 ? prefix : `${prefix}_${counter}`;
    while (this.usedNames.has(candidate)) {
      counter++;
      candidate = `${prefix}_${counter}`;
    }
    this.nameCounters.set(prefix, counter + 1);
    this.usedNames.add(candidate);
    return candidate;
  }

  private claim(name: string): string {
    if (this.usedNames.has(name)) throw new Error(`ONNX graph '${this.name}': value name '${name}' is already used`);
    this.usedNames.add(name);
    return name;
  }

  /** Declares a graph input and returns its name. */
  input(name: string, type: ElementType, shape: readonly Dim[]): string {
    this.inputs.push({ name: this.claim(name), type, shape });
    return name;
  }

  /** Declares an existing value as a graph output. Rename with an Identity first if it needs a public name. */
  output(name: string, type: ElementType, shape: readonly Dim[]): string {
    this.outputs.push({ name, type, shape });
    return name;
  }

  /** Adds a weight/constant tensor and returns its name. */
  initializer(name: string, type: ElementType, dims: readonly number[], data: TensorPayload): string {
    checkPayloadSize(name, type, dims, data);
    const unique = this.uniqueName(name);
    this.initializers.push({ name: unique, type, dims, data });
    return unique;
  }

  /** Convenience: an int64 initializer (shapes, axes, indices). */
  int64s(name: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.initializer(name, 'int64', dims, BigInt64Array.from(values, (v) => BigInt(v)));
  }

  /** Convenience: a float32 scalar or vector initializer. */
  float32s(name: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.initializer(name, 'float32', dims, Float32Array.from(values));
  }

  /**
   * Adds a node. `outputs` is either explicit names or a count of outputs to name automatically.
   * Use '' for an omitted optional input. Returns the output names.
   */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[] | number = 1,
    attributes: Readonly<Record<string, AttributeValue>> = {},
    options: { name?: string; domain?: string } = {},
  ): string[] {
    const outputNames =
      typeof outputs === 'number'
        ? Array.from({ length: outputs }, () => this.uniqueName(`${opType.toLowerCase()}_out`))
        : outputs.map((n) => this.claim(n));
    const name = options.name ?? this.uniqueName(`${opType}_node`);
    this.nodes.push({ opType, inputs, outputs: outputNames, attributes, name, domain: options.domain ?? '' });
    return outputNames;
  }

  /** Single-output node; returns its output name. */
  op(opType: string, inputs: readonly string[], attributes: Readonly<Record<string, AttributeValue>> = {}, outputName?: string): string {
    const [out] = this.node(opType, inputs, outputName === undefined ? 1 : [outputName], attributes);
    return out;
  }

  /** Encodes the graph as an ONNX ModelProto. */
  toModel(options: ModelOptions = {}): ProtoWriter {
    const graph = new ProtoWriter();
    for (const node of this.nodes) graph.message(1, encodeNode(node));
    graph.string(2, this.name);
    for (const tensor of this.initializers) graph.message(5, encodeTensor(tensor));
    for (const input of this.inputs) graph.message(11, encodeValueInfo(input));
    for (const output of this.outputs) graph.message(12, encodeValueInfo(output));

    const model = new ProtoWriter();
    model.int(1, options.irVersion ?? 8);
    model.string(2, options.producerName ?? 'clip-backdoor-scanner');
    model.string(3, '0.1.0');
    if (options.docString) model.string(6, options.docString);
    model.message(7, graph);
    model.message(8, new ProtoWriter().string(1, '').int(2, options.opset ?? 17));
    for (const [key, value] of Object.entries(options.metadata ?? {})) {
      model.message(14, new ProtoWriter().string(1, key).string(2, value));
    }
    return model;
  }
}

function payloadBytes(data: TensorPayload): Uint8Array | LazyBytes {
  if (data instanceof Uint8Array) return data;
  if (data instanceof Float32Array || data instanceof Uint16Array || data instanceof BigInt64Array || data instanceof Int32Array) {
    return littleEndianBytes(data);
  }
  return data;
}

function checkPayloadSize(name: string, type: ElementType, dims: readonly number[], data: TensorPayload): void {
  const expected = dims.reduce((product, d) => product * d, 1) * ELEMENT_BYTES[type];
  const actual = payloadBytes(data).byteLength;
  if (expected !== actual) throw new Error(`tensor '${name}': ${type} ${JSON.stringify(dims)} needs ${expected} bytes, got ${actual}`);
}

/** onnx.TensorProto: dims=1, data_type=2, name=8, raw_data=9. */
export function encodeTensor(tensor: TensorSpec): ProtoWriter {
  const writer = new ProtoWriter();
  writer.packedInts(1, tensor.dims);
  writer.int(2, ELEMENT_TYPE_CODES[tensor.type]);
  if (tensor.name !== undefined) writer.string(8, tensor.name);
  writer.bytes(9, payloadBytes(tensor.data));
  return writer;
}

/** onnx.ValueInfoProto { name=1, type=2: TypeProto { tensor_type=1: { elem_type=1, shape=2: { dim=1: { dim_value=1 | dim_param=2 } } } } }. */
function encodeValueInfo(info: ValueInfoSpec): ProtoWriter {
  const shape = new ProtoWriter();
  for (const dim of info.shape) {
    const dimension = new ProtoWriter();
    if (typeof dim === 'number') dimension.int(1, dim);
    else dimension.string(2, dim);
    shape.message(1, dimension);
  }
  const tensorType = new ProtoWriter().int(1, ELEMENT_TYPE_CODES[info.type]).message(2, shape);
  const type = new ProtoWriter().message(1, tensorType);
  return new ProtoWriter().string(1, info.name).message(2, type);
}

/** onnx.NodeProto: input=1, output=2, name=3, op_type=4, attribute=5, domain=7. */
function encodeNode(node: NodeSpec): ProtoWriter {
  const writer = new ProtoWriter();
  for (const input of node.inputs) writer.string(1, input);
  for (const output of node.outputs) writer.string(2, output);
  writer.string(3, node.name);
  writer.string(4, node.opType);
  for (const [name, value] of Object.entries(node.attributes)) writer.message(5, encodeAttribute(name, value));
  if (node.domain) writer.string(7, node.domain);
  return writer;
}

/** onnx.AttributeProto: name=1, f=2, i=3, s=4, t=5, floats=7, ints=8, type=20. */
function encodeAttribute(name: string, value: AttributeValue): ProtoWriter {
  const writer = new ProtoWriter().string(1, name);
  switch (value.kind) {
    case 'float':
      writer.float(2, value.value);
      break;
    case 'int':
      writer.int(3, value.value);
      break;
    case 'string':
      writer.string(4, value.value);
      break;
    case 'tensor':
      writer.message(5, encodeTensor(value.value));
      break;
    case 'floats':
      writer.packedFloats(7, value.value);
      break;
    case 'ints':
      writer.packedInts(8, value.value);
      break;
    default: {
      const unknown: never = value;
      throw new Error(`unknown attribute kind ${JSON.stringify(unknown)}`);
    }
  }
  writer.int(20, ATTRIBUTE_TYPE_CODES[value.kind]);
  return writer;
}

/** IEEE 754 half-precision bits of a float32 value (round to nearest even; overflow to ±Inf; NaN kept). */
export function float32ToFloat16Bits(value: number): number {
  const scratch = new DataView(new ArrayBuffer(4));
  scratch.setFloat32(0, value);
  const bits = scratch.getUint32(0);
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  let halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - halfExponent;
    let half = mantissa >>> shift;
    const remainder = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (remainder > halfway || (remainder === halfway && (half & 1))) half++;
    return sign | half;
  }
  let half = mantissa >>> 13;
  const remainder = mantissa & 0x1fff;
  if (remainder > 0x1000 || (remainder === 0x1000 && (half & 1))) {
    half++;
    if (half === 0x400) {
      half = 0;
      halfExponent++;
      if (halfExponent >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (halfExponent << 10) | half;
}

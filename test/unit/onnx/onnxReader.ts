/**
 * Test-side protobuf decoder for ONNX files, written independently of the encoder in src/backend/onnx: it reads the
 * wire format field by field so that tests can check what the writer produced (initializer names, dims, raw data, nodes).
 */

interface Field {
  readonly number: number;
  readonly wireType: number;
  /** Varint / fixed values as bigint; length-delimited payloads as bytes. */
  readonly value: bigint | Uint8Array;
}

function readVarint(bytes: Uint8Array, start: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  let offset = start;
  for (;;) {
    if (offset >= bytes.length) throw new Error('truncated varint');
    const byte = bytes[offset++];
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [result, offset];
    shift += 7n;
  }
}

export function decodeFields(bytes: Uint8Array): Field[] {
  const fields: Field[] = [];
  let offset = 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  while (offset < bytes.length) {
    const [key, afterKey] = readVarint(bytes, offset);
    offset = afterKey;
    const number = Number(key >> 3n);
    const wireType = Number(key & 7n);
    if (wireType === 0) {
      const [value, next] = readVarint(bytes, offset);
      fields.push({ number, wireType, value });
      offset = next;
    } else if (wireType === 2) {
      const [length, next] = readVarint(bytes, offset);
      const end = next + Number(length);
      if (end > bytes.length) throw new Error('truncated length-delimited field');
      fields.push({ number, wireType, value: bytes.subarray(next, end) });
      offset = end;
    } else if (wireType === 5) {
      fields.push({ number, wireType, value: BigInt(view.getUint32(offset, true)) });
      offset += 4;
    } else if (wireType === 1) {
      fields.push({ number, wireType, value: view.getBigUint64(offset, true) });
      offset += 8;
    } else {
      throw new Error(`unsupported wire type ${wireType}`);
    }
  }
  return fields;
}

const utf8 = new TextDecoder();

function bytesOf(field: Field): Uint8Array {
  if (!(field.value instanceof Uint8Array)) throw new Error(`field ${field.number} is not length-delimited`);
  return field.value;
}

function packedVarints(field: Field): bigint[] {
  if (!(field.value instanceof Uint8Array)) return [field.value];
  const values: bigint[] = [];
  let offset = 0;
  while (offset < field.value.length) {
    const [value, next] = readVarint(field.value, offset);
    values.push(BigInt.asIntN(64, value));
    offset = next;
  }
  return values;
}

export interface DecodedTensor {
  readonly name: string;
  readonly dataType: number;
  readonly dims: number[];
  readonly raw: Uint8Array;
}

export interface DecodedNode {
  readonly opType: string;
  readonly inputs: string[];
  readonly outputs: string[];
  readonly attributeNames: string[];
}

export interface DecodedModel {
  readonly irVersion: number;
  readonly opsetVersion: number;
  readonly nodes: DecodedNode[];
  readonly initializers: Map<string, DecodedTensor>;
  readonly metadata: Map<string, string>;
}

export function decodeTensor(bytes: Uint8Array): DecodedTensor {
  let name = '';
  let dataType = 0;
  const dims: number[] = [];
  let raw: Uint8Array = new Uint8Array(0);
  for (const field of decodeFields(bytes)) {
    if (field.number === 1) dims.push(...packedVarints(field).map(Number));
    else if (field.number === 2) dataType = Number(field.value);
    else if (field.number === 8) name = utf8.decode(bytesOf(field));
    else if (field.number === 9) raw = bytesOf(field);
  }
  return { name, dataType, dims, raw };
}

export function decodeModel(bytes: Uint8Array): DecodedModel {
  let irVersion = 0;
  let opsetVersion = 0;
  const nodes: DecodedNode[] = [];
  const initializers = new Map<string, DecodedTensor>();
  const metadata = new Map<string, string>();
  for (const field of decodeFields(bytes)) {
    if (field.number === 1) irVersion = Number(field.value);
    else if (field.number === 8) {
      for (const opset of decodeFields(bytesOf(field))) if (opset.number === 2) opsetVersion = Number(opset.value);
    } else if (field.number === 14) {
      const entry = decodeFields(bytesOf(field));
      const key = entry.find((f) => f.number === 1);
      const value = entry.find((f) => f.number === 2);
      if (key && value) metadata.set(utf8.decode(bytesOf(key)), utf8.decode(bytesOf(value)));
    } else if (field.number === 7) {
      for (const graphField of decodeFields(bytesOf(field))) {
        if (graphField.number === 5) {
          const tensor = decodeTensor(bytesOf(graphField));
          initializers.set(tensor.name, tensor);
        } else if (graphField.number === 1) {
          const node: DecodedNode = { opType: '', inputs: [], outputs: [], attributeNames: [] };
          let opType = '';
          for (const nodeField of decodeFields(bytesOf(graphField))) {
            if (nodeField.number === 1) node.inputs.push(utf8.decode(bytesOf(nodeField)));
            else if (nodeField.number === 2) node.outputs.push(utf8.decode(bytesOf(nodeField)));
            else if (nodeField.number === 4) opType = utf8.decode(bytesOf(nodeField));
            else if (nodeField.number === 5) {
              const nameField = decodeFields(bytesOf(nodeField)).find((f) => f.number === 1);
              if (nameField) node.attributeNames.push(utf8.decode(bytesOf(nameField)));
            }
          }
          nodes.push({ ...node, opType });
        }
      }
    }
  }
  return { irVersion, opsetVersion, nodes, initializers, metadata };
}

/** Float32 values of a decoded initializer (copied, so alignment does not matter). */
export function float32Values(model: DecodedModel, name: string): Float32Array {
  const tensor = model.initializers.get(name);
  if (!tensor) throw new Error(`initializer ${name} not found`);
  if (tensor.dataType !== 1) throw new Error(`initializer ${name} has data type ${tensor.dataType}, not float32`);
  const copy = new Uint8Array(tensor.raw);
  return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
}

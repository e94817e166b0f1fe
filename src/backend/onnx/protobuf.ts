/**
 * Minimal protobuf wire-format encoder, enough to write ONNX ModelProto files without a protobuf dependency.
 *
 * Messages are built as a list of parts rather than one contiguous buffer, so that multi-hundred-megabyte weight
 * tensors are never copied into a big intermediate buffer: a part is either encoded bytes or a lazy payload whose
 * length is known up front and whose bytes are produced only when the message is written out (see `LazyBytes`).
 */
import { open, rename, unlink } from 'node:fs/promises';

/** Bytes whose length is known now but which are produced only when written (e.g. generated weights). */
export interface LazyBytes {
  readonly byteLength: number;
  /** Produces exactly `byteLength` bytes. Called once per serialisation. */
  produce(): Uint8Array;
}

type Part = Uint8Array | LazyBytes;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

const textEncoder = new TextEncoder();

function isLazy(part: Part): part is LazyBytes {
  return !(part instanceof Uint8Array);
}

/** Encodes a non-negative or negative integer as a varint; negatives use 64-bit two's complement (10 bytes), as protobuf int64 does. */
export function encodeVarint(value: number | bigint): Uint8Array {
  let remaining: bigint;
  if (typeof value === 'bigint') {
    remaining = BigInt.asUintN(64, value);
  } else {
    if (!Number.isSafeInteger(value)) throw new RangeError(`varint value ${value} is not a safe integer`);
    remaining = BigInt.asUintN(64, BigInt(value));
  }
  const bytes: number[] = [];
  while (remaining >= 0x80n) {
    bytes.push(Number(remaining & 0x7fn) | 0x80);
    remaining >>= 7n;
  }
  bytes.push(Number(remaining));
  return Uint8Array.from(bytes);
}

/** Accumulates the encoded fields of one protobuf message. Field methods return `this` for chaining. */
export class ProtoWriter {
  private readonly parts: Part[] = [];
  private length = 0;

  get byteLength(): number {
    return this.length;
  }

  private push(part: Part): void {
    this.parts.push(part);
    this.length += part.byteLength;
  }

  private tag(field: number, wireType: number): void {
    this.push(encodeVarint(field * 8 + wireType));
  }

  /** int32/int64/uint64/enum/bool field (varint). */
  int(field: number, value: number | bigint | boolean): this {
    this.tag(field, WIRE_VARINT);
    this.push(encodeVarint(typeof value === 'boolean' ? (value ? 1 : 0) : value));
    return this;
  }

  /** 32-bit float field (fixed32, little-endian). */
  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.push(bytes);
    return this;
  }

  /** 64-bit float field (fixed64, little-endian). */
  double(field: number, value: number): this {
    this.tag(field, WIRE_FIXED64);
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setFloat64(0, value, true);
    this.push(bytes);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, textEncoder.encode(value));
  }

  /** bytes field; the payload may be lazy so that large tensors are produced only while writing. */
  bytes(field: number, value: Uint8Array | LazyBytes): this {
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.push(encodeVarint(value.byteLength));
    this.push(value);
    return this;
  }

  /** Embedded message field. The nested writer's parts are shared, not copied. */
  message(field: number, nested: ProtoWriter): this {
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.push(encodeVarint(nested.length));
    for (const part of nested.parts) this.push(part);
    return this;
  }

  /** Packed repeated varint field (repeated int64 etc.). Parsers accept packed encoding for any repeated scalar. */
  packedInts(field: number, values: readonly (number | bigint)[]): this {
    if (values.length === 0) return this;
    const encoded = values.map((v) => encodeVarint(v));
    const total = encoded.reduce((sum, e) => sum + e.byteLength, 0);
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.push(encodeVarint(total));
    for (const e of encoded) this.push(e);
    return this;
  }

  /** Packed repeated float field. */
  packedFloats(field: number, values: readonly number[]): this {
    if (values.length === 0) return this;
    const data = new Float32Array(values);
    return this.bytes(field, littleEndianBytes(data));
  }

  /** Materialises the whole message into one buffer (fine for small models; use `writeToFile` for large ones). */
  toUint8Array(): Uint8Array {
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const part of this.parts) {
      const bytes = isLazy(part) ? produceChecked(part) : part;
      out.set(bytes, offset);
      offset += bytes.byteLength;
    }
    return out;
  }

  /**
   * Streams the message to `path` atomically (temp file + fsync + rename). Small parts are coalesced into
   * buffered writes; lazy parts are produced one at a time so peak memory is the largest single part.
   */
  async writeToFile(path: string): Promise<void> {
    const tempPath = `${path}.tmp-${process.pid}-${Date.now()}`;
    const handle = await open(tempPath, 'w');
    try {
      const buffer = new Uint8Array(1 << 20);
      let filled = 0;
      const flush = async (): Promise<void> => {
        if (filled > 0) await writeFully(handle, buffer.subarray(0, filled));
        filled = 0;
      };
      for (const part of this.parts) {
        const bytes = isLazy(part) ? produceChecked(part) : part;
        if (bytes.byteLength > buffer.byteLength - filled) {
          await flush();
          if (bytes.byteLength >= buffer.byteLength) {
            await writeFully(handle, bytes);
            continue;
          }
        }
        buffer.set(bytes, filled);
        filled += bytes.byteLength;
      }
      await flush();
      await handle.sync();
      await handle.close();
      await rename(tempPath, path);
    } catch (error) {
      await handle.close().catch(() => undefined);
      await unlink(tempPath).catch(() => undefined);
      throw error;
    }
  }
}

async function writeFully(handle: Awaited<ReturnType<typeof open>>, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.byteLength) {
    const result = await handle.write(bytes, written, bytes.byteLength - written);
    written += result.bytesWritten;
  }
}

function produceChecked(lazy: LazyBytes): Uint8Array {
  const bytes = lazy.produce();
  if (bytes.byteLength !== lazy.byteLength) {
    throw new Error(`lazy part produced ${bytes.byteLength} bytes, announced ${lazy.byteLength}`);
  }
  return bytes;
}

const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Little-endian bytes of a typed array (a view without copying on little-endian hosts, which is every supported host). */
export function littleEndianBytes(data: Float32Array | Uint16Array | BigInt64Array | Int32Array): Uint8Array {
  if (hostIsLittleEndian) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  const width = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) view.setFloat32(i * width, data[i], true);
    else if (data instanceof Uint16Array) view.setUint16(i * width, data[i], true);
    else if (data instanceof BigInt64Array) view.setBigInt64(i * width, data[i], true);
    else view.setInt32(i * width, data[i], true);
  }
  return out;
}

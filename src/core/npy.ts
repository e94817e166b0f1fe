/**
 * NumPy .npy reading and writing (format versions 1.0, 2.0 and 3.0), pure.
 * Supported dtypes: '<f4', '<f2' (converted to float32), '<f8', '<i8' (to float64, exact up to 2^53), '<i4', '|b1', '|u1'
 * ('<' may also be '=' or '|' where NumPy writes it). Big-endian data, Fortran order, object arrays and every other dtype
 * are rejected with a clear Error; a malformed or truncated file is an Error too, never a crash or a hang.
 */

export type NpyValues = Float32Array | Float64Array | Int32Array | Uint8Array;

export interface NpyArray {
  /** The dtype as written in the file, e.g. '<f2'. */
  dtype: string;
  shape: number[];
  fortranOrder: boolean;
  /** Row-major values: Float32Array for f4/f2, Float64Array for f8/i8, Int32Array for i4, Uint8Array for b1/u1. */
  values: NpyValues;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** A header larger than this is not a real .npy header. */
const MAX_HEADER_BYTES = 1 << 20;

interface DtypeInfo {
  itemSize: number;
  read(bytes: Uint8Array, offset: number, count: number): NpyValues;
}

function dtypeInfo(descr: string): DtypeInfo | null {
  const match = /^([<>=|])([fiub])(\d+)$/.exec(descr);
  if (!match) return null;
  const [, order, kind, sizeText] = match;
  const size = Number(sizeText);
  if (order === '>' && size > 1) return null;
  const view = (bytes: Uint8Array, offset: number, count: number): DataView => new DataView(bytes.buffer, bytes.byteOffset + offset, count * size);
  const key = `${kind}${size}`;
  switch (key) {
    case 'f4':
      return {
        itemSize: 4,
        read: (bytes, offset, count) =>
          (bytes.byteOffset + offset) % 4 === 0
            ? new Float32Array(bytes.buffer, bytes.byteOffset + offset, count)
            : new Float32Array(bytes.slice(offset, offset + count * 4).buffer),
      };
    case 'f2':
      return {
        itemSize: 2,
        read: (bytes, offset, count) => {
          const dv = view(bytes, offset, count);
          const out = new Float32Array(count);
          for (let i = 0; i < count; i++) out[i] = halfToFloat(dv.getUint16(2 * i, true));
          return out;
        },
      };
    case 'f8':
      return {
        itemSize: 8,
        read: (bytes, offset, count) => {
          const dv = view(bytes, offset, count);
          const out = new Float64Array(count);
          for (let i = 0; i < count; i++) out[i] = dv.getFloat64(8 * i, true);
          return out;
        },
      };
    case 'i8':
      return {
        itemSize: 8,
        read: (bytes, offset, count) => {
          const dv = view(bytes, offset, count);
          const out = new Float64Array(count);
          for (let i = 0; i < count; i++) out[i] = Number(dv.getBigInt64(8 * i, true));
          return out;
        },
      };
    case 'i4':
      return {
        itemSize: 4,
        read: (bytes, offset, count) => {
          const dv = view(bytes, offset, count);
          const out = new Int32Array(count);
          for (let i = 0; i < count; i++) out[i] = dv.getInt32(4 * i, true);
          return out;
        },
      };
    case 'b1':
    case 'u1':
      return { itemSize: 1, read: (bytes, offset, count) => bytes.slice(offset, offset + count) };
    default:
      return null;
  }
}

/** IEEE 754 half → float. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

function decodeAscii(bytes: Uint8Array): string {
  let text = '';
  for (const b of bytes) {
    if (b > 0x7e || (b < 0x20 && b !== 0x0a && b !== 0x09)) throw new Error('not a .npy file: the header contains non-ASCII bytes');
    text += String.fromCharCode(b);
  }
  return text;
}

/** Parses the header dict literal, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }. */
function parseHeader(text: string): { descr: string; fortranOrder: boolean; shape: number[] } {
  const body = text.trim();
  if (!body.startsWith('{') || !body.endsWith('}')) throw new Error('not a .npy file: the header is not a dictionary');
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(body);
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(body);
  const shape = /['"]shape['"]\s*:\s*\(([^()]*)\)/.exec(body);
  if (!descr || !fortran || !shape) {
    throw new Error(`malformed .npy header (need descr, fortran_order and shape${/['"]descr['"]\s*:\s*[[{]/.test(body) ? '; structured dtypes are not supported' : ''})`);
  }
  const dims = shape[1]
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) => {
      if (!/^\d+L?$/.test(part)) throw new Error(`malformed .npy header: shape entry '${part}'`);
      return Number.parseInt(part, 10);
    });
  return { descr: descr[1], fortranOrder: fortran[1] === 'True', shape: dims };
}

export function parseNpy(bytes: Uint8Array): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new Error('not a .npy file (missing the \\x93NUMPY magic)');
  const major = bytes[6];
  let headerLength: number;
  let headerStart: number;
  if (major === 1) {
    headerLength = bytes[8] | (bytes[9] << 8);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new Error('truncated .npy file (header length missing)');
    headerLength = (bytes[8] | (bytes[9] << 8) | (bytes[10] << 16)) + bytes[11] * 16777216;
    headerStart = 12;
  } else {
    throw new Error(`unsupported .npy format version ${major}.${bytes[7]}`);
  }
  if (headerLength > MAX_HEADER_BYTES || headerStart + headerLength > bytes.length) throw new Error('truncated or malformed .npy header');
  const header = parseHeader(decodeAscii(bytes.subarray(headerStart, headerStart + headerLength)));
  if (header.fortranOrder) throw new Error('Fortran-ordered .npy arrays are not supported: save with np.ascontiguousarray(x)');
  const info = dtypeInfo(header.descr);
  if (!info) throw new Error(`unsupported .npy dtype '${header.descr}' (supported: <f4, <f2, <f8, <i8, <i4, |b1, |u1)`);
  let count = 1;
  for (const d of header.shape) {
    count *= d;
    if (!Number.isSafeInteger(count)) throw new Error('malformed .npy header: the shape is too large');
  }
  const dataStart = headerStart + headerLength;
  const needed = count * info.itemSize;
  if (bytes.length - dataStart < needed) {
    throw new Error(`truncated .npy file: shape (${header.shape.join(', ')}) needs ${needed} data bytes, found ${bytes.length - dataStart}`);
  }
  return { dtype: header.descr, shape: header.shape, fortranOrder: false, values: info.read(bytes, dataStart, count) };
}

/** Encodes a C-order float32 array as .npy (version 1.0, or 2.0 when the header needs it). */
export function encodeNpy(data: Float32Array, shape: number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (shape.some((d) => !Number.isInteger(d) || d < 0) || count !== data.length) {
    throw new Error(`encodeNpy: shape (${shape.join(', ')}) does not match ${data.length} values`);
  }
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  let prefix = 10;
  let total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  if (total - prefix > 0xffff) {
    prefix = 12;
    total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  }
  const headerLength = total - prefix;
  const out = new Uint8Array(total + data.length * 4);
  out.set(MAGIC, 0);
  out[6] = prefix === 10 ? 1 : 2;
  out[7] = 0;
  if (prefix === 10) {
    out[8] = headerLength & 0xff;
    out[9] = headerLength >> 8;
  } else {
    new DataView(out.buffer).setUint32(8, headerLength, true);
  }
  const padded = dict.padEnd(headerLength - 1, ' ') + '\n';
  for (let i = 0; i < padded.length; i++) out[prefix + i] = padded.charCodeAt(i);
  new Uint8Array(out.buffer, total).set(new Uint8Array(data.buffer, data.byteOffset, data.length * 4));
  return out;
}

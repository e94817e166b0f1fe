/**
 * Lists the regular-file members of a tar with their data offsets, reading only the 512-byte headers
 * (positioned reads; member data is skipped, never extracted). Handles ustar prefixes, pax `path`/`size`
 * records and GNU long names. Links and special files are ignored: a tar member never points outside the tar.
 */
import type { FileHandle } from 'node:fs/promises';
import { decodeUtf8 } from '../tabular';

export interface TarMember {
  name: string;
  /** Byte offset of the member's data in the tar file. */
  offset: number;
  size: number;
}

const BLOCK = 512;
/** pax and GNU long-name records are small; a huge one is a corrupt or hostile archive. */
const MAX_META_BYTES = 1 << 20;

export async function* tarMembers(handle: FileHandle, fileSize: number): AsyncGenerator<TarMember> {
  const header = Buffer.alloc(BLOCK);
  let position = 0;
  let longName: string | null = null;
  let paxPath: string | null = null;
  let paxSize: number | null = null;
  while (position + BLOCK <= fileSize) {
    const { bytesRead } = await handle.read(header, 0, BLOCK, position);
    if (bytesRead < BLOCK) throw new Error(`truncated tar header at byte ${position}`);
    if (header.every((byte) => byte === 0)) return; // end-of-archive marker
    if (!checksumMatches(header)) throw new Error(`corrupt tar header at byte ${position} (checksum mismatch)`);
    const type = String.fromCharCode(header[156] || 0x30);
    const size = paxSize ?? readSize(header);
    const dataStart = position + BLOCK;
    if (dataStart + size > fileSize) throw new Error(`truncated tar: member at byte ${position} needs ${size} bytes`);
    const next = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x' || type === 'L') {
      if (size > MAX_META_BYTES) throw new Error(`tar metadata record of ${size} bytes at byte ${position}`);
      const data = Buffer.alloc(size);
      await handle.read(data, 0, size, dataStart);
      if (type === 'L') longName = cString(data, 0, size);
      else ({ path: paxPath, size: paxSize } = parsePax(data));
      position = next;
      continue;
    }
    if (type === '0' || type === '7') {
      yield { name: longName ?? paxPath ?? headerName(header), offset: dataStart, size };
    }
    longName = null;
    paxPath = null;
    paxSize = null;
    position = next;
  }
}

function checksumMatches(header: Buffer): boolean {
  const stored = parseOctal(header, 148, 8);
  let unsigned = 0;
  let signed = 0; // some old writers summed signed bytes
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : header[i];
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

function readSize(header: Buffer): number {
  if (header[124] & 0x80) {
    // GNU base-256 for members ≥ 8 GiB
    let value = 0;
    for (let i = 125; i < 136; i++) value = value * 256 + header[i];
    return value;
  }
  return parseOctal(header, 124, 12);
}

function parseOctal(buffer: Buffer, start: number, length: number): number {
  const text = buffer.toString('latin1', start, start + length).replace(/[\0 ]+$/g, '').trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function cString(buffer: Buffer, start: number, length: number): string {
  const end = buffer.indexOf(0, start);
  return decodeUtf8(buffer.subarray(start, end < 0 || end > start + length ? start + length : end));
}

function headerName(header: Buffer): string {
  const name = cString(header, 0, 100);
  const isPosixUstar = header.toString('latin1', 257, 263) === 'ustar\0';
  const prefix = isPosixUstar ? cString(header, 345, 155) : '';
  return prefix === '' ? name : `${prefix}/${name}`;
}

/** pax records: "<length> <key>=<value>\n", lengths in bytes. */
function parsePax(data: Buffer): { path: string | null; size: number | null } {
  let path: string | null = null;
  let size: number | null = null;
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space < 0) break;
    const length = parseInt(data.toString('latin1', at, space), 10);
    if (!(length > 0)) break;
    const record = decodeUtf8(data.subarray(space + 1, at + length - 1));
    const equals = record.indexOf('=');
    const key = record.slice(0, equals);
    const value = record.slice(equals + 1);
    if (key === 'path') path = value;
    if (key === 'size') size = Number(value);
    at += length;
  }
  return { path, size };
}

/** Test data builders for reader tests: everything is written into a fresh temp folder. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { pack } from 'tar-stream';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { ColumnSource } from 'hyparquet-writer';
import type { DatasetReader, SampleSource } from '../../../src/backend/readers/types';

export function makeTempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeFile(root: string, relativePath: string, data: string | Uint8Array): void {
  const path = join(root, relativePath);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
}

/** A small solid-colour image; the colour makes images distinguishable after decoding. */
export async function imageBytes(rgb: [number, number, number], format: 'jpeg' | 'png' = 'png', size = 8): Promise<Buffer> {
  const image = sharp({ create: { width: size, height: size, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
  return format === 'jpeg' ? image.jpeg().toBuffer() : image.png().toBuffer();
}

export async function collect(reader: DatasetReader): Promise<SampleSource[]> {
  const samples: SampleSource[] = [];
  for await (const sample of reader.samples()) samples.push(sample);
  return samples;
}

export function byId(samples: SampleSource[], id: string): SampleSource {
  const found = samples.find((sample) => sample.id === id);
  if (found === undefined) throw new Error(`no sample ${id} among ${samples.map((s) => s.id).join(', ')}`);
  return found;
}

export async function tarBuffer(entries: { name: string; data: string | Buffer; type?: 'file' | 'symlink' | 'directory'; linkname?: string }[]): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  archive.on('data', (chunk: unknown) => {
    chunks.push(chunk as Buffer);
  });
  const done = new Promise<void>((resolve, reject) => {
    archive.on('end', () => resolve());
    archive.on('error', reject);
  });
  for (const entry of entries) {
    await new Promise<void>((resolve, reject) => {
      const callback = (error?: Error | null) => (error ? reject(error) : resolve());
      if (entry.type === 'symlink' || entry.type === 'directory') {
        archive.entry({ name: entry.name, type: entry.type, linkname: entry.linkname }, callback);
      } else {
        const data = typeof entry.data === 'string' ? Buffer.from(entry.data, 'utf8') : entry.data;
        archive.entry({ name: entry.name, size: data.length }, data, callback);
      }
    });
  }
  archive.finalize();
  await done;
  return Buffer.concat(chunks);
}

export function parquetBytes(columns: ColumnSource[], rowGroupSize?: number): Uint8Array {
  return new Uint8Array(parquetWriteBuffer({ columnData: columns, rowGroupSize }));
}

/** Captions that break naive parsers, renderers and trimming. */
export const HOSTILE_CAPTIONS: readonly string[] = [
  '<script>alert("x")</script> & <b>bold</b> </script>',
  'right-to-left \u202Eevil\u202C override and \u200B zero width',
  'nul\u0000inside and tab\tand bell\u0007',
  'emoji 🍌🧨👩‍👩‍👧 and combining e\u0301 vs \u00e9',
  '  leading and trailing spaces  ',
  'comma, "quoted", and\nnewline\r\nand CRLF',
  'x'.repeat(10000),
  '',
];

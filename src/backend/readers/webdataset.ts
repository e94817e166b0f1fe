/**
 * img2dataset `webdataset` output: `00000.tar` shards whose members sharing a key (the member path up to the first '.'
 * of its base name) form one sample: an image (.jpg/.png/.webp/…), a `.txt` caption and a `.json` with `status`.
 * Tars are indexed by their headers and read in place: nothing is extracted, and memory holds one shard's index
 * (names, offsets and captions), never image bytes beyond the one being read.
 */
import { open, readdir, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeUtf8 } from '../tabular';
import { compareNames, errorSample, IMAGE_EXTENSIONS, MAX_SIDECAR_BYTES, parseJsonObject, throwIfAborted } from './common';
import { tarMembers } from './tarIndex';
import type { TarMember } from './tarIndex';
import type { DatasetReader, SampleSource } from './types';

/** No real training image is this large; refusing it avoids allocating gigabytes for one hostile member. */
const MAX_MEMBER_BYTES = 1 << 30;

interface KeyGroup {
  key: string;
  image: TarMember | null;
  caption: TarMember | null;
  json: TarMember | null;
}

export class WebdatasetReader implements DatasetReader {
  readonly layout = 'webdataset' as const;
  readonly description: string;
  private lastIndex: { shard: string; version: string; groups: Map<string, KeyGroup>; indexError: string | null } | null = null;

  constructor(
    readonly root: string,
    private readonly shards: string[],
  ) {
    this.description = `img2dataset webdataset: ${shards.length} tar shard(s)`;
  }

  static async findShards(root: string): Promise<string[]> {
    const entries = await readdir(root, { withFileTypes: true });
    return entries
      .filter((entry) => entry.isFile() && entry.name.toLowerCase().endsWith('.tar') && !entry.name.startsWith('.'))
      .map((entry) => entry.name)
      .sort(compareNames);
  }

  async *samples(signal?: AbortSignal): AsyncIterable<SampleSource> {
    for (const shard of this.shards) {
      throwIfAborted(signal);
      yield* this.shardSamples(shard, null, signal);
    }
  }

  async sampleById(id: string): Promise<SampleSource | null> {
    const hash = id.indexOf('#');
    if (hash < 0) return null;
    const shard = id.slice(0, hash);
    if (!this.shards.includes(shard)) return null;
    for await (const sample of this.shardSamples(shard, id.slice(hash + 1), undefined)) return sample;
    return null;
  }

  /** Samples of one shard; with `onlyKey`, just that key's sample (if any). */
  private async *shardSamples(shard: string, onlyKey: string | null, signal: AbortSignal | undefined): AsyncGenerator<SampleSource> {
    const container = { kind: 'tar' as const, file: shard };
    const shardPath = join(this.root, shard);
    let handle: FileHandle;
    let shardSize: number;
    let shardMtime: number;
    try {
      const info = await stat(shardPath);
      shardSize = info.size;
      shardMtime = info.mtimeMs;
      handle = await open(shardPath, 'r');
    } catch (error) {
      yield errorSample({ id: `${shard}#`, image: shard, caption: null, container }, `tar shard unreadable: ${(error as Error).message}`);
      return;
    }
    try {
      const version = `${shardSize}:${shardMtime}`;
      const cached = this.lastIndex?.shard === shard && this.lastIndex.version === version ? this.lastIndex : null;
      const groups = cached?.groups ?? new Map<string, KeyGroup>();
      let indexError: string | null = cached?.indexError ?? null;
      if (cached === null) {
        try {
          let count = 0;
          for await (const member of tarMembers(handle, shardSize)) {
            if (++count % 1024 === 0) throwIfAborted(signal);
            const { key, extension } = splitMemberName(member.name);
            let group = groups.get(key);
            if (group === undefined) groups.set(key, (group = { key, image: null, caption: null, json: null }));
            if (extension === 'txt') group.caption = member;
            else if (extension === 'json') group.json = member;
            else if (IMAGE_EXTENSIONS.has(`.${extension}`) && group.image === null) group.image = member;
          }
        } catch (error) {
          if (signal?.aborted) throw error;
          // Keep what was indexed before the damage; the damage itself is one error row.
          indexError = `tar shard damaged: ${(error as Error).message}`;
        }
      }
      // One shard's index (names, offsets) is small; keeping the last one makes repeated sampleById calls cheap.
      this.lastIndex = { shard, version, groups, indexError };
      for (const group of groups.values()) {
        if (onlyKey !== null && group.key !== onlyKey) continue;
        throwIfAborted(signal);
        const sample = await this.groupSample(shard, group, handle, version);
        if (sample !== null) yield sample;
      }
      if (indexError !== null && onlyKey === null) {
        yield errorSample({ id: `${shard}#`, image: shard, caption: null, container }, indexError);
      }
    } finally {
      await handle.close();
    }
  }

  /** null = skipped: no image and no caption (e.g. a stray file), or status ≠ success. */
  private async groupSample(shard: string, group: KeyGroup, handle: FileHandle, shardVersion: string): Promise<SampleSource | null> {
    const container = { kind: 'tar' as const, file: shard };
    const id = `${shard}#${group.key}`;
    const image = group.image === null ? `${shard}#${group.key}` : `${shard}#${group.image.name}`;
    let caption: string | null = null;
    if (group.json !== null) {
      const json = await readSmallMember(handle, group.json);
      const parsed = json === null ? null : parseJsonObject(json);
      if (parsed !== null && typeof parsed.status === 'string' && parsed.status !== 'success') return null;
    }
    if (group.caption !== null) {
      caption = await readSmallMember(handle, group.caption);
      if (caption === null) return errorSample({ id, image, caption: null, container }, `caption member larger than ${MAX_SIDECAR_BYTES} bytes`);
    }
    if (group.image === null) {
      if (group.caption === null) return null;
      return errorSample({ id, image, caption, container }, 'no image member for this key in the tar');
    }
    if (group.image.size === 0) return errorSample({ id, image, caption, container }, 'empty file (0 bytes)');
    if (group.image.size > MAX_MEMBER_BYTES) {
      return errorSample({ id, image, caption, container }, `image member of ${group.image.size} bytes, above the ${MAX_MEMBER_BYTES}-byte limit`);
    }
    const member = group.image;
    const shardPath = join(this.root, shard);
    return {
      id,
      image,
      caption,
      error: null,
      contentKey: `tar:${shardVersion}:${member.offset}:${member.size}`,
      readImage: () => readMember(shardPath, member),
      ownedFiles: [],
      container,
    };
  }
}

/** "dir/000000001.jpg" → key "dir/000000001", extension "jpg" (webdataset convention: split at the first '.' of the base name). */
export function splitMemberName(name: string): { key: string; extension: string } {
  const slash = name.lastIndexOf('/');
  const dot = name.indexOf('.', slash + 1);
  if (dot < 0) return { key: name, extension: '' };
  return { key: name.slice(0, dot), extension: name.slice(dot + 1).toLowerCase() };
}

async function readSmallMember(handle: FileHandle, member: TarMember): Promise<string | null> {
  if (member.size > MAX_SIDECAR_BYTES) return null;
  const data = Buffer.alloc(member.size);
  await handle.read(data, 0, member.size, member.offset);
  return decodeUtf8(data);
}

async function readMember(shardPath: string, member: TarMember): Promise<Buffer> {
  const handle = await open(shardPath, 'r');
  try {
    const data = Buffer.alloc(member.size);
    const { bytesRead } = await handle.read(data, 0, member.size, member.offset);
    if (bytesRead < member.size) throw new Error(`tar member truncated: read ${bytesRead} of ${member.size} bytes`);
    return data;
  } finally {
    await handle.close();
  }
}

/**
 * Sidecar folders: every image file under the root (recursively) is a sample; `a/b.txt` next to `a/b.jpg` is its caption.
 * Hidden entries (".name") are skipped and directory symlinks are not followed (no loops, no escapes);
 * file symlinks are followed only when they stay inside the root.
 */
import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { compareNames, errorSample, fileSample, isImageName, readSmallText, throwIfAborted } from './common';
import type { DatasetReader, SampleSource } from './types';

export class SidecarReader implements DatasetReader {
  readonly layout = 'sidecar' as const;
  readonly description: string;

  constructor(readonly root: string) {
    this.description = `sidecar folder: images with same-stem .txt captions under ${root}`;
  }

  async *samples(signal?: AbortSignal): AsyncIterable<SampleSource> {
    yield* this.walk('', signal);
  }

  private async *walk(relativeDir: string, signal: AbortSignal | undefined): AsyncGenerator<SampleSource> {
    throwIfAborted(signal);
    let entries: Dirent[];
    try {
      entries = await readdir(join(this.root, relativeDir), { withFileTypes: true });
    } catch (error) {
      if (relativeDir === '') throw error;
      yield errorSample({ id: relativeDir, image: relativeDir, caption: null }, `folder unreadable: ${(error as Error).message}`);
      return;
    }
    entries = entries.filter((entry) => !entry.name.startsWith('.')).sort((a, b) => compareNames(a.name, b.name));
    const names = new Set(entries.map((entry) => entry.name));
    // A stem shared by two images (a.jpg, a.png) shares its caption: neither owns the .txt then.
    const stemCounts = new Map<string, number>();
    for (const entry of entries) {
      if (!entry.isDirectory() && isImageName(entry.name)) {
        const stem = stemOf(entry.name);
        stemCounts.set(stem, (stemCounts.get(stem) ?? 0) + 1);
      }
    }
    for (const entry of entries) {
      const relative = relativeDir === '' ? entry.name : `${relativeDir}/${entry.name}`;
      if (entry.isDirectory()) {
        yield* this.walk(relative, signal);
      } else if ((entry.isFile() || entry.isSymbolicLink()) && isImageName(entry.name)) {
        throwIfAborted(signal);
        const stem = stemOf(entry.name);
        yield await this.sampleFor(relative, names, stemCounts.get(stem) === 1);
      }
    }
  }

  private async sampleFor(relativeImage: string, siblingNames: Set<string>, ownsSidecars: boolean): Promise<SampleSource> {
    const slash = relativeImage.lastIndexOf('/');
    const dir = slash < 0 ? '' : relativeImage.slice(0, slash + 1);
    const stem = stemOf(relativeImage.slice(slash + 1));
    const captionName = `${stem}.txt`;
    const jsonName = `${stem}.json`;
    let caption: string | null = null;
    const extras: string[] = [];
    if (siblingNames.has(captionName)) {
      const read = await readSmallText(this.root, dir + captionName);
      if (read.ok) {
        caption = read.text;
        extras.push(dir + captionName);
      } else if (!read.missing) {
        return errorSample({ id: relativeImage, image: relativeImage, caption: null }, `caption ${read.reason}`);
      }
    }
    if (siblingNames.has(jsonName)) extras.push(dir + jsonName);
    return fileSample({
      root: this.root,
      id: relativeImage,
      imagePath: relativeImage,
      caption,
      ownedExtras: ownsSidecars ? extras : [],
    });
  }

  async sampleById(id: string): Promise<SampleSource | null> {
    if (!isImageName(id) || id.split('/').some((part) => part.startsWith('.') || part === '')) return null;
    const slash = id.lastIndexOf('/');
    let siblings: string[];
    try {
      siblings = await readdir(join(this.root, slash < 0 ? '' : id.slice(0, slash)));
    } catch {
      return null;
    }
    const name = id.slice(slash + 1);
    if (!siblings.includes(name)) return null;
    const stem = stemOf(name);
    const sameStem = siblings.filter((sibling) => isImageName(sibling) && stemOf(sibling) === stem).length;
    return this.sampleFor(id, new Set(siblings), sameStem === 1);
  }
}

function stemOf(name: string): string {
  const extension = extname(name);
  return extension === '' ? name : name.slice(0, -extension.length);
}

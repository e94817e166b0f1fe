/**
 * COCO captions: `annotations/captions_<split>.json` with `images[].{id,file_name}` and `annotations[].{image_id,caption}`.
 * Images are looked for in `<split>/`, `images/<split>/`, `images/`, then the root (the first folder that holds
 * the split's first image wins). With cocoCaptions 'all' (default) every caption is a sample, id `<image path>#<annotation id>`;
 * with 'first', each image is one sample with its first caption (in file order), id `<image path>`.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveInsideRoot } from '../safePath';
import { cellText, decodeUtf8 } from '../tabular';
import { compareNames, errorSample, fileSample, IdAllocator, parseJsonObject, throwIfAborted } from './common';
import type { DatasetReader, SampleSource } from './types';

export const COCO_ANNOTATION_PATTERN = /^captions_.*\.json$/;

interface CaptionPlan {
  id: string;
  /** The annotations file. */
  file: string;
  /** Dataset-relative image path; null when the image entry has no file_name. */
  imagePath: string | null;
  caption: string | null;
}

interface CocoImage {
  id: unknown;
  fileName: string | null;
}

export class CocoReader implements DatasetReader {
  readonly layout = 'coco' as const;
  readonly description: string;

  constructor(
    readonly root: string,
    private readonly annotationFiles: string[],
    private readonly captionMode: 'first' | 'all',
  ) {
    this.description = `COCO captions: ${annotationFiles.join(', ')} (${captionMode === 'all' ? 'one sample per caption' : 'first caption per image'})`;
  }

  static async findAnnotationFiles(root: string): Promise<string[]> {
    try {
      const names = await readdir(join(root, 'annotations'));
      return names.filter((name) => COCO_ANNOTATION_PATTERN.test(name)).sort(compareNames).map((name) => `annotations/${name}`);
    } catch {
      return [];
    }
  }

  /** id → plan, built on the first sampleById so that later look-ups touch one file. */
  private planIndex: Map<string, CaptionPlan> | null = null;

  async *samples(signal?: AbortSignal): AsyncIterable<SampleSource> {
    for await (const plan of this.plans(signal)) yield await this.materialise(plan);
  }

  async sampleById(id: string): Promise<SampleSource | null> {
    if (this.planIndex === null) {
      const index = new Map<string, CaptionPlan>();
      for await (const plan of this.plans(undefined)) index.set(plan.id, plan);
      this.planIndex = index;
    }
    const plan = this.planIndex.get(id);
    return plan === undefined ? null : this.materialise(plan);
  }

  private materialise(plan: CaptionPlan): Promise<SampleSource> | SampleSource {
    const container = { kind: 'coco' as const, file: plan.file };
    if (plan.imagePath === null) return errorSample({ id: plan.id, image: '', caption: plan.caption, container }, 'image entry has no file_name');
    // In 'all' mode the image file is shared by its captions: no single caption row owns it.
    return fileSample({ root: this.root, id: plan.id, imagePath: plan.imagePath, caption: plan.caption, ownsImage: this.captionMode === 'first', container });
  }

  private async *plans(signal: AbortSignal | undefined): AsyncGenerator<CaptionPlan> {
    const ids = new IdAllocator();
    for (const file of this.annotationFiles) {
      throwIfAborted(signal);
      yield* this.filePlans(file, ids, signal);
    }
  }

  private async *filePlans(file: string, ids: IdAllocator, signal: AbortSignal | undefined): AsyncGenerator<CaptionPlan> {
    const parsed = parseJsonObject(decodeUtf8(await readFile(join(this.root, file))));
    if (parsed === null || !Array.isArray(parsed.images) || !Array.isArray(parsed.annotations)) {
      throw new Error(`${file}: not a COCO captions file (needs "images" and "annotations" arrays)`);
    }
    const images = new Map<string, CocoImage>();
    const imageOrder: string[] = [];
    for (const entry of parsed.images as unknown[]) {
      const image = entry as Record<string, unknown> | null;
      const key = String(image?.id);
      if (images.has(key)) continue;
      images.set(key, { id: image?.id, fileName: typeof image?.file_name === 'string' ? image.file_name : null });
      imageOrder.push(key);
    }
    const captions = new Map<string, { annotationId: string; caption: string | null }[]>();
    (parsed.annotations as unknown[]).forEach((entry, index) => {
      const annotation = entry as Record<string, unknown> | null;
      const key = String(annotation?.image_id);
      const list = captions.get(key) ?? [];
      list.push({ annotationId: annotation?.id === undefined ? `ann${index}` : String(annotation.id), caption: cellText(annotation?.caption) });
      captions.set(key, list);
    });
    const split = file.replace(/^annotations\/captions_/, '').replace(/\.json$/, '');
    const firstName = imageOrder.map((key) => images.get(key)?.fileName).find((name) => typeof name === 'string') ?? null;
    const imageDir = await this.findImageDir(split, firstName);
    let count = 0;
    for (const key of imageOrder) {
      const image = images.get(key);
      const list = captions.get(key) ?? [];
      if (image === undefined || list.length === 0) continue;
      const chosen = this.captionMode === 'first' ? list.slice(0, 1) : list;
      for (const { annotationId, caption } of chosen) {
        if (++count % 1024 === 0) throwIfAborted(signal);
        if (image.fileName === null) {
          yield { id: ids.take(`${file}#image${String(image.id)}`), file, imagePath: null, caption };
          continue;
        }
        const imagePath = imageDir === '' ? image.fileName : `${imageDir}/${image.fileName}`;
        const base = this.captionMode === 'first' ? imagePath : `${imagePath}#${annotationId}`;
        yield { id: ids.take(base), file, imagePath, caption };
      }
    }
  }

  private async findImageDir(split: string, firstName: string | null): Promise<string> {
    const candidates = [split, `images/${split}`, 'images', ''];
    if (firstName !== null) {
      for (const dir of candidates) {
        const resolved = await resolveInsideRoot(this.root, dir === '' ? firstName : `${dir}/${firstName}`);
        if (!resolved.ok) continue;
        try {
          if ((await stat(resolved.absolute)).isFile()) return dir;
        } catch {
          // try the next folder
        }
      }
    }
    for (const dir of candidates.slice(0, -1)) {
      try {
        if ((await stat(join(this.root, dir))).isDirectory()) return dir;
      } catch {
        // try the next folder
      }
    }
    return '';
  }
}

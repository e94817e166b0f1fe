/** The contract between dataset readers and the scan pipeline. */

export const LAYOUT_NAMES = [
  'sidecar',
  'imagefolder',
  'manifest',
  'img2dataset-files',
  'webdataset',
  'img2dataset-parquet',
  'coco',
  'clip-retrieval',
] as const;
export type LayoutName = (typeof LAYOUT_NAMES)[number];

export type ContainerKind = 'manifest' | 'tar' | 'parquet' | 'coco' | 'clip-retrieval';

/** One image–caption pair as found in the dataset. Nothing is decoded here: `readImage` returns raw bytes. */
export interface SampleSource {
  /** Stable and unique within the dataset: a relative path, or `container#key`. */
  id: string;
  /** Where the image is, relative to the dataset root (for tars and parquet: `shard.tar#member`, `file.parquet#key`). */
  image: string;
  /** Exactly as stored (no trimming, no normalisation); null when the sample has no caption. */
  caption: string | null;
  /** Set → this is an error row and readImage must not be called. */
  error: string | null;
  /** Changes whenever the image bytes may have changed (size + mtime, or container size + mtime + position). For caches. */
  contentKey: string;
  /** The image file's bytes. Rejects with a clear message when they cannot be read (the caller makes it an error row). */
  readImage(): Promise<Buffer>;
  /** Dataset-relative files that belong to this sample alone (image + sidecar caption/json): what deleting it removes. */
  ownedFiles: string[];
  /** The shared file the sample lives in, if any (its deletion means rewriting that file, not removing it). */
  container: { kind: ContainerKind; file: string } | null;
}

export interface PrecomputedEmbeddings {
  /** Row-major n × dim, in `ids` order. */
  images: Float32Array;
  texts: Float32Array | null;
  dim: number;
  ids: string[];
}

export interface DatasetReader {
  readonly layout: LayoutName;
  /** Absolute dataset root. */
  readonly root: string;
  /** One line for logs and summaries, e.g. "img2dataset webdataset: 3 tar shards". */
  readonly description: string;
  /** Every sample, in a stable order (the same on every run of an unchanged dataset). */
  samples(signal?: AbortSignal): AsyncIterable<SampleSource>;
  sampleById(id: string): Promise<SampleSource | null>;
  /** Only readers of embedding folders (clip-retrieval) have these; rows are aligned with `samples()`. */
  precomputedEmbeddings?(): Promise<PrecomputedEmbeddings>;
}

export interface OpenDatasetOptions {
  /** Skip auto-detection. */
  layout?: LayoutName;
  /** A CSV/TSV/JSONL/Parquet manifest (absolute, or relative to the dataset root); implies layout 'manifest'. */
  manifest?: string;
  imageColumn?: string;
  captionColumn?: string;
  /** COCO: one sample per caption ('all', default) or per image with its first caption ('first'). */
  cocoCaptions?: 'first' | 'all';
}

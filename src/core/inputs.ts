/**
 * Embedding inputs of the detection core and their per-row validation.
 * A row that cannot be used (NaN/Inf values, zero norm) is rejected on its own, with a reason; the rest goes on.
 */

/** Row-major matrix: row r is data[r*dim .. (r+1)*dim). */
export interface EmbeddingMatrix {
  data: Float32Array;
  rows: number;
  dim: number;
}

export interface ScoreInput {
  /** Image embeddings (unnormalised projection outputs). */
  images: EmbeddingMatrix;
  /** Caption embeddings, row i belongs to image i; null = image-only mode. */
  texts: EmbeddingMatrix | null;
  /** 1 = that row has no caption (its `texts` row is ignored). Only meaningful with `texts`. */
  captionMissing?: Uint8Array;
}

export type ScoreMode = 'image-text' | 'image-only';

/** Which rows and captions take part, and why the others do not. */
export interface RowValidity {
  /** 1 = the image row is usable. A rejected image rejects the whole pair (no scores, not in any pool). */
  imageOk: Uint8Array;
  /** 1 = the caption row is usable (in the pool, has a clipScore). All zeros in image-only mode. */
  captionOk: Uint8Array;
  /** Per-row warnings, undefined when the row is clean. */
  warnings: (string[] | undefined)[];
}

function checkMatrix(label: string, m: EmbeddingMatrix): void {
  if (!Number.isInteger(m.rows) || m.rows < 0 || !Number.isInteger(m.dim) || m.dim < 1) {
    throw new Error(`${label}: invalid shape ${m.rows}×${m.dim} (need a 2-D matrix with at least one column)`);
  }
  if (m.data.length !== m.rows * m.dim) {
    throw new Error(`${label}: ${m.data.length} values do not match the shape ${m.rows}×${m.dim}`);
  }
}

/** Throws a clear Error when the shapes do not fit together. */
export function checkInputShapes(input: ScoreInput): void {
  checkMatrix('images', input.images);
  if (input.texts) {
    checkMatrix('texts', input.texts);
    if (input.texts.rows !== input.images.rows) {
      throw new Error(`texts has ${input.texts.rows} rows but images has ${input.images.rows}; row i of each must be one pair`);
    }
    if (input.texts.dim !== input.images.dim) {
      throw new Error(`texts has ${input.texts.dim} dimensions but images has ${input.images.dim}; both must come from the same CLIP model`);
    }
  }
  if (input.captionMissing && input.captionMissing.length !== input.images.rows) {
    throw new Error(`captionMissing has ${input.captionMissing.length} entries for ${input.images.rows} rows`);
  }
}

/** null when the row is usable, else the reason. */
export function rowProblem(data: Float32Array, row: number, dim: number): string | null {
  let squared = 0;
  const start = row * dim;
  for (let t = start; t < start + dim; t++) squared += data[t] * data[t];
  if (!Number.isFinite(squared)) return 'contains NaN or infinite values';
  if (squared === 0) return 'has zero norm';
  return null;
}

export function scoreMode(input: ScoreInput): ScoreMode {
  return input.texts ? 'image-text' : 'image-only';
}

/** Validates every row. Rules: see RowValidity. */
export function assessRows(input: ScoreInput): RowValidity {
  const rows = input.images.rows;
  const dim = input.images.dim;
  const imageOk = new Uint8Array(rows);
  const captionOk = new Uint8Array(rows);
  const warnings: (string[] | undefined)[] = new Array<string[] | undefined>(rows);
  const note = (row: number, message: string): void => {
    (warnings[row] ??= []).push(message);
  };
  for (let r = 0; r < rows; r++) {
    const imageProblem = rowProblem(input.images.data, r, dim);
    if (imageProblem) {
      note(r, `image embedding ${imageProblem}: row rejected (no scores, excluded from every neighbour pool)`);
      continue;
    }
    imageOk[r] = 1;
    if (!input.texts) continue;
    if (input.captionMissing?.[r]) {
      note(r, 'no caption: excluded from neighbour pools; clipScore and safe are null');
      continue;
    }
    const captionProblem = rowProblem(input.texts.data, r, dim);
    if (captionProblem) {
      note(r, `caption embedding ${captionProblem}: caption excluded from neighbour pools; clipScore and safe are null`);
      continue;
    }
    captionOk[r] = 1;
  }
  return { imageOk, captionOk, warnings };
}

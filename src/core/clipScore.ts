/** CLIP score: cosine similarity of the L2-normalised image and caption embeddings (low = suspicious). */
export function cosineOfRows(x: Float32Array, y: Float32Array, row: number, dim: number): number {
  let dot = 0;
  let nx = 0;
  let ny = 0;
  for (let t = row * dim; t < (row + 1) * dim; t++) {
    dot += x[t] * y[t];
    nx += x[t] * x[t];
    ny += y[t] * y[t];
  }
  return dot / Math.sqrt(nx * ny);
}

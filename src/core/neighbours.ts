/**
 * A query image's nearest pool entries inside its batch, for the detail view. Same pool rules as scoreEmbeddings
 * (other images and other usable captions of the batch, own pair removed by index; rejected rows never appear),
 * with exact double-precision distances. Pass the `batchOf` returned by scoreEmbeddings for the same input.
 */
import { assessRows, checkInputShapes, type ScoreInput } from './inputs';
import { exactDistance } from './knn';

export interface PoolNeighbour {
  /** Input row of the neighbour (its image or its caption). */
  index: number;
  kind: 'image' | 'caption';
  distance: number;
}

export function nearestInBatch(input: ScoreInput, batchOf: Int32Array, queryIndex: number, count: number): PoolNeighbour[] {
  checkInputShapes(input);
  const n = input.images.rows;
  if (batchOf.length !== n) throw new Error(`batchOf has ${batchOf.length} entries for ${n} rows`);
  if (!Number.isInteger(queryIndex) || queryIndex < 0 || queryIndex >= n) throw new Error(`query index ${queryIndex} is out of range 0..${n - 1}`);
  const batch = batchOf[queryIndex];
  if (batch < 0) return []; // a rejected row has no pool
  const validity = assessRows(input);
  const dim = input.images.dim;
  const found: PoolNeighbour[] = [];
  for (let row = 0; row < n; row++) {
    if (row === queryIndex || batchOf[row] !== batch || !validity.imageOk[row]) continue;
    found.push({ index: row, kind: 'image', distance: exactDistance(input.images.data, queryIndex, input.images.data, row, dim) });
    if (input.texts && validity.captionOk[row]) {
      found.push({ index: row, kind: 'caption', distance: exactDistance(input.images.data, queryIndex, input.texts.data, row, dim) });
    }
  }
  found.sort((a, b) => a.distance - b.distance || a.index - b.index || (a.kind === 'image' ? -1 : 1));
  return found.slice(0, Math.max(0, Math.floor(count)));
}

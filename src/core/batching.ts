/**
 * Batch-local references (method.md): a seeded shuffle of the rows, split into batches of B; a sample's neighbours come
 * only from its own batch.
 *
 * Rules:
 * - The permutation (`batchOrder`) covers all N input rows; rejected rows keep their place in it but join no batch
 *   (`batchOf` = -1), so rejecting one row does not reshuffle everything else.
 * - B = 0 means one batch of every usable row, in input order (no shuffle: the order only matters for the
 *   released-code neighbour quirk, and exact comparison with reference code wants the dataset's own order).
 * - A short last batch is merged into the previous one when it holds fewer than `minRows` rows, so its scores are not
 *   computed against a much smaller (or too small) reference set. `minRows` is chosen by the caller (scoring uses
 *   max(⌈B/2⌉, the rows needed for a large enough pool)); batches therefore hold between that and B + minRows − 1 rows.
 */
import { createRng, shuffleInPlace } from './rng';

export interface BatchPlan {
  /** The seeded permutation of 0..N-1. */
  batchOrder: Int32Array;
  /** Batch index of each input row, -1 for rejected rows. */
  batchOf: Int32Array;
  /** Input row indices of each batch, in permutation order. */
  batches: Int32Array[];
}

/** Stream id of the batch shuffle in createRng, kept apart from the isolation-forest streams. */
export const SHUFFLE_STREAM = 0;

export function planBatches(usable: Uint8Array, batchSize: number, seed: number, minRows: number): BatchPlan {
  if (!Number.isInteger(batchSize) || batchSize < 0) throw new Error(`batch size must be a non-negative integer, got ${batchSize}`);
  const rows = usable.length;
  const batchOrder = new Int32Array(rows);
  for (let i = 0; i < rows; i++) batchOrder[i] = i;
  if (batchSize !== 0) shuffleInPlace(batchOrder, createRng(seed, SHUFFLE_STREAM));

  const ordered = batchOrder.filter((row) => usable[row] === 1);
  const size = batchSize === 0 ? Math.max(1, ordered.length) : batchSize;
  const batches: Int32Array[] = [];
  for (let start = 0; start < ordered.length; start += size) {
    const remaining = ordered.length - start;
    // Fold a short tail into this batch rather than leaving it alone.
    const tail = remaining - size;
    const take = tail > 0 && tail < minRows ? remaining : Math.min(size, remaining);
    batches.push(ordered.slice(start, start + take));
    if (take === remaining) break;
  }
  const batchOf = new Int32Array(rows).fill(-1);
  batches.forEach((batch, b) => batch.forEach((row) => (batchOf[row] = b)));
  return { batchOrder, batchOf, batches };
}

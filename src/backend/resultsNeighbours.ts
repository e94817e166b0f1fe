/** Neighbour look-ups on a results folder: the saved embeddings and batches, fed to the core's nearestInBatch. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ScoreInput } from '../core/inputs';
import { nearestInBatch } from '../core/neighbours';
import { parseNpy } from '../core/npy';
import { RESULTS_FILES, type NeighbourInfo } from '../protocol/backend';
import { readEmbeddedRecords, type EmbeddedRecord } from './resultsFolder';

export interface LoadedNeighbourData {
  input: ScoreInput;
  batchOf: Int32Array;
  records: EmbeddedRecord[];
  rowOfId: Map<string, number>;
}

async function readMatrix(path: string): Promise<{ data: Float32Array; rows: number; dim: number }> {
  const array = parseNpy(await readFile(path));
  if (array.shape.length !== 2 || !(array.values instanceof Float32Array)) throw new Error(`${path}: expected a 2-D float32 matrix`);
  return { data: array.values, rows: array.shape[0], dim: array.shape[1] };
}

async function exists(path: string): Promise<boolean> {
  return readFile(path).then(
    () => true,
    () => false,
  );
}

export async function loadNeighbourData(resultsDir: string): Promise<LoadedNeighbourData> {
  const records = await readEmbeddedRecords(resultsDir);
  const images = await readMatrix(join(resultsDir, RESULTS_FILES.imageEmbeddings));
  const textsPath = join(resultsDir, RESULTS_FILES.textEmbeddings);
  const texts = (await exists(textsPath)) ? await readMatrix(textsPath) : null;
  const batches = parseNpy(await readFile(join(resultsDir, RESULTS_FILES.batches)));
  const batchOf = Int32Array.from(batches.values as ArrayLike<number>);
  if (records.length !== images.rows || batchOf.length !== images.rows || (texts && texts.rows !== images.rows)) {
    throw new Error(`${resultsDir}: the saved embeddings, batches and ids do not line up; rescan the dataset.`);
  }
  const captionMissing = Uint8Array.from(records, (r) => (r.caption === null ? 1 : 0));
  return {
    input: { images, texts, captionMissing: texts ? captionMissing : undefined },
    batchOf,
    records,
    rowOfId: new Map(records.map((r, row) => [r.id, row])),
  };
}

/** The `count` nearest pool entries of a sample in its reference batch (other images and other captions). */
export function neighboursOf(data: LoadedNeighbourData, sampleId: string, count: number): NeighbourInfo[] {
  const row = data.rowOfId.get(sampleId);
  if (row === undefined) throw new Error(`sample ${sampleId} has no embedding in these results (an error row, or not in this scan)`);
  return nearestInBatch(data.input, data.batchOf, row, count).map((n) => {
    const record = data.records[n.index];
    return { id: record.id, kind: n.kind, distance: n.distance, image: record.image, caption: record.caption };
  });
}

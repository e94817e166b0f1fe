/** Reading user-supplied .npy embedding matrices and label files, with messages that say what is wrong and what to do. */
import { readFile } from 'node:fs/promises';
import type { EmbeddingMatrix } from '../core/inputs';
import { parseNpy, type NpyArray } from '../core/npy';
import { CliFailure } from './args';

export async function readNpyFile(path: string, what: string): Promise<NpyArray> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new CliFailure(`cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  try {
    return parseNpy(bytes);
  } catch (error) {
    throw new CliFailure(`${what} ${path}: ${(error as Error).message}`);
  }
}

/** A 2-D float16/float32 C-order matrix (float16 is widened to float32). */
export async function readEmbeddingMatrix(path: string, what: string): Promise<EmbeddingMatrix> {
  const array = await readNpyFile(path, what);
  if (array.dtype.slice(1) !== 'f4' && array.dtype.slice(1) !== 'f2') {
    throw new CliFailure(`${what} ${path}: dtype ${array.dtype}; expected float16 or float32 (np.asarray(x, dtype=np.float32)).`);
  }
  if (array.shape.length !== 2 || array.shape[1] < 1) {
    throw new CliFailure(`${what} ${path}: shape (${array.shape.join(', ')}); expected a 2-D array of shape (rows, dim).`);
  }
  return { data: array.values as Float32Array, rows: array.shape[0], dim: array.shape[1] };
}

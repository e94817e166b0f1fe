/**
 * Matrix product engine for distance blocks. src/core stays pure, so the fast engine (onnxruntime MatMul, CPU or CUDA)
 * is injected by the backend; jsGemmEngine is the pure fallback used in unit tests.
 */
export interface GemmEngine {
  readonly name: string;
  /** C = A·Bᵀ in row-major order. A is rowsA×dim, B is rowsB×dim, C is rowsA×rowsB. */
  multiplyABt(a: Float32Array, rowsA: number, b: Float32Array, rowsB: number, dim: number): Promise<Float32Array>;
  dispose?(): Promise<void>;
}

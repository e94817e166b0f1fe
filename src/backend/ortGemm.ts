/**
 * GEMM engine backed by onnxruntime-node: a one-node graph C = Gemm(A, B, transB=1) with dynamic dims.
 * MLAS handles the transposed operand inside its SGEMM kernel, so no explicit Transpose (or JS-side copy) of B is needed;
 * the MatMul(A, Transpose(B)) formulation is kept for comparison in the bench.
 */
import * as ort from 'onnxruntime-node';
import type { GemmEngine } from '../core/linalg';
import { GraphBuilder, attr } from './onnx/graph';
import type { Device } from '../protocol/backend';
import { createSessionWithFallback } from './onnx/session';

/** 'gemm': Gemm(A, B, transB=1). 'matmul-transpose': MatMul(A, Transpose(B)). */
export type GemmFormulation = 'gemm' | 'matmul-transpose';

export interface OrtGemmEngineOptions {
  /** 'cuda' tries CUDA and falls back to CPU (see `fallbackReason`). Default 'cpu'. */
  device?: 'cpu' | 'cuda';
  /** Intra-op threads; default all available cores. */
  threads?: number;
  /** Graph formulation; default 'gemm' (measured fastest, see the ONNX report). */
  formulation?: GemmFormulation;
}

export interface OrtGemmEngine extends GemmEngine {
  /** The execution provider that actually runs the product. */
  readonly device: Device;
  readonly fallbackReason?: string;
  dispose(): Promise<void>;
}

/** Serialised ONNX model computing c = a · bᵀ with a: [rows_a, dim], b: [rows_b, dim], all float32. */
export function buildGemmModel(formulation: GemmFormulation = 'gemm'): Uint8Array {
  const graph = new GraphBuilder('gemm_abt');
  const a = graph.input('a', 'float32', ['rows_a', 'dim']);
  const b = graph.input('b', 'float32', ['rows_b', 'dim']);
  if (formulation === 'gemm') {
    graph.op('Gemm', [a, b], { transB: attr.int(1) }, 'c');
  } else {
    const bT = graph.op('Transpose', [b], { perm: attr.ints([1, 0]) });
    graph.op('MatMul', [a, bT], {}, 'c');
  }
  graph.output('c', 'float32', ['rows_a', 'rows_b']);
  return graph.toModel().toUint8Array();
}

/** Creates the onnxruntime GEMM engine. Its `name` says which provider runs, e.g. 'onnxruntime-cpu'. */
export async function createOrtGemmEngine(options: OrtGemmEngineOptions = {}): Promise<OrtGemmEngine> {
  const created = await createSessionWithFallback(buildGemmModel(options.formulation ?? 'gemm'), {
    device: options.device ?? 'cpu',
    threads: options.threads,
  });
  const { session, device } = created;
  let disposed = false;

  return {
    name: `onnxruntime-${device}`,
    device,
    fallbackReason: created.fallbackReason,
    async multiplyABt(a: Float32Array, rowsA: number, b: Float32Array, rowsB: number, dim: number): Promise<Float32Array> {
      if (disposed) throw new Error('GEMM engine used after dispose()');
      checkOperand('A', a, rowsA, dim);
      checkOperand('B', b, rowsB, dim);
      // Degenerate shapes: answer directly rather than relying on zero-sized tensor support.
      if (rowsA === 0 || rowsB === 0) return new Float32Array(rowsA * rowsB);
      if (dim === 0) return new Float32Array(rowsA * rowsB);
      const feeds = {
        a: new ort.Tensor('float32', a.length === rowsA * dim ? a : a.subarray(0, rowsA * dim), [rowsA, dim]),
        b: new ort.Tensor('float32', b.length === rowsB * dim ? b : b.subarray(0, rowsB * dim), [rowsB, dim]),
      };
      const results = await session.run(feeds);
      const c = results.c;
      if (!(c.data instanceof Float32Array) || c.data.length !== rowsA * rowsB) {
        throw new Error(`GEMM engine: unexpected output ${c.type} [${c.dims.join(',')}]`);
      }
      return c.data;
    },
    async dispose(): Promise<void> {
      if (disposed) return;
      disposed = true;
      await session.release();
    },
  };
}

function checkOperand(label: string, data: Float32Array, rows: number, dim: number): void {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(dim) || dim < 0) {
    throw new RangeError(`GEMM operand ${label}: invalid shape ${rows}×${dim}`);
  }
  if (data.length < rows * dim) {
    throw new RangeError(`GEMM operand ${label}: ${data.length} values for shape ${rows}×${dim}`);
  }
}

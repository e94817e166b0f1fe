/**
 * Plain-JS (float64) CLIP forward pass written from the CLIP paper/OpenAI code, not from the ONNX graph: patch
 * convolution as explicit sums, per-head attention with an explicit causal loop, QuickGELU, pre-LN blocks.
 * Weights are read from the written ONNX file by the independent decoder in onnxReader.ts.
 */
import type { ClipArchitecture, TransformerSpec } from '../../../src/backend/onnx/clipSynth';
import { type DecodedModel, float32Values } from './onnxReader';

type Rows = Float64Array<ArrayBufferLike>; // row-major [rows, cols]

function layerNorm(x: Rows, rows: number, width: number, scale: Float32Array, bias: Float32Array): Rows {
  const out = new Float64Array(rows * width);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let c = 0; c < width; c++) mean += x[r * width + c];
    mean /= width;
    let variance = 0;
    for (let c = 0; c < width; c++) variance += (x[r * width + c] - mean) ** 2;
    variance /= width;
    const inv = 1 / Math.sqrt(variance + 1e-5);
    for (let c = 0; c < width; c++) out[r * width + c] = (x[r * width + c] - mean) * inv * scale[c] + bias[c];
  }
  return out;
}

/** y = x·W + b with W stored [in, out]. */
function linear(x: Rows, rows: number, inputs: number, outputs: number, weight: Float32Array, bias?: Float32Array): Rows {
  const out = new Float64Array(rows * outputs);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outputs; o++) {
      let sum = bias ? bias[o] : 0;
      for (let i = 0; i < inputs; i++) sum += x[r * inputs + i] * weight[i * outputs + o];
      out[r * outputs + o] = sum;
    }
  }
  return out;
}

function residualBlock(model: DecodedModel, prefix: string, x: Rows, tokens: number, spec: TransformerSpec, causal: boolean): Rows {
  const { width, heads, mlpWidth } = spec;
  const w = (name: string): Float32Array => float32Values(model, `${prefix}.${name}`);
  const headDim = width / heads;
  const h = layerNorm(x, tokens, width, w('layer_norm1.weight'), w('layer_norm1.bias'));
  const q = linear(h, tokens, width, width, w('self_attn.q_proj.weight'), w('self_attn.q_proj.bias'));
  const k = linear(h, tokens, width, width, w('self_attn.k_proj.weight'), w('self_attn.k_proj.bias'));
  const v = linear(h, tokens, width, width, w('self_attn.v_proj.weight'), w('self_attn.v_proj.bias'));
  const context = new Float64Array(tokens * width);
  for (let head = 0; head < heads; head++) {
    const offset = head * headDim;
    for (let i = 0; i < tokens; i++) {
      const lastKey = causal ? i : tokens - 1;
      const scores: number[] = [];
      for (let j = 0; j <= lastKey; j++) {
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot += q[i * width + offset + d] * k[j * width + offset + d];
        scores.push(dot / Math.sqrt(headDim));
      }
      const max = Math.max(...scores);
      const exps = scores.map((s) => Math.exp(s - max));
      const total = exps.reduce((a, b) => a + b, 0);
      for (let j = 0; j <= lastKey; j++) {
        const p = exps[j] / total;
        for (let d = 0; d < headDim; d++) context[i * width + offset + d] += p * v[j * width + offset + d];
      }
    }
  }
  const attended = linear(context, tokens, width, width, w('self_attn.out_proj.weight'), w('self_attn.out_proj.bias'));
  const afterAttention = x.map((value, index) => value + attended[index]);
  const h2 = layerNorm(afterAttention, tokens, width, w('layer_norm2.weight'), w('layer_norm2.bias'));
  const hidden = linear(h2, tokens, width, mlpWidth, w('mlp.fc1.weight'), w('mlp.fc1.bias'));
  const activated = hidden.map((value) => value / (1 + Math.exp(-1.702 * value)));
  const mlpOut = linear(activated, tokens, mlpWidth, width, w('mlp.fc2.weight'), w('mlp.fc2.bias'));
  return afterAttention.map((value, index) => value + mlpOut[index]);
}

/** Unnormalised image embedding of one image given as CHW float32 pixels. */
export function referenceImageEmbedding(model: DecodedModel, architecture: ClipArchitecture, pixels: Float32Array): Rows {
  const { width, patchSize, imageSize } = architecture.vision;
  const grid = imageSize / patchSize;
  const tokens = grid * grid + 1;
  const patchWeight = float32Values(model, 'vision_model.embeddings.patch_embedding.weight');
  const classEmbedding = float32Values(model, 'vision_model.embeddings.class_embedding');
  const positions = float32Values(model, 'vision_model.embeddings.position_embedding.weight');
  let x: Rows = new Float64Array(tokens * width);
  for (let c = 0; c < width; c++) x[c] = classEmbedding[c] + positions[c];
  for (let gy = 0; gy < grid; gy++) {
    for (let gx = 0; gx < grid; gx++) {
      const token = 1 + gy * grid + gx;
      for (let o = 0; o < width; o++) {
        let sum = 0;
        for (let channel = 0; channel < 3; channel++) {
          for (let ky = 0; ky < patchSize; ky++) {
            const pixelRow = (channel * imageSize + gy * patchSize + ky) * imageSize + gx * patchSize;
            const weightRow = ((o * 3 + channel) * patchSize + ky) * patchSize;
            for (let kx = 0; kx < patchSize; kx++) sum += patchWeight[weightRow + kx] * pixels[pixelRow + kx];
          }
        }
        x[token * width + o] = sum + positions[token * width + o];
      }
    }
  }
  x = layerNorm(x, tokens, width, float32Values(model, 'vision_model.pre_layrnorm.weight'), float32Values(model, 'vision_model.pre_layrnorm.bias'));
  for (let layer = 0; layer < architecture.vision.layers; layer++) {
    x = residualBlock(model, `vision_model.encoder.layers.${layer}`, x, tokens, architecture.vision, false);
  }
  const pooled = layerNorm(
    x.subarray(0, width),
    1,
    width,
    float32Values(model, 'vision_model.post_layernorm.weight'),
    float32Values(model, 'vision_model.post_layernorm.bias'),
  );
  return linear(pooled, 1, width, architecture.embedDim, float32Values(model, 'visual_projection.weight'));
}

/** Unnormalised text embedding of one 77-token sequence, pooled at the first position holding the largest id. */
export function referenceTextEmbedding(model: DecodedModel, architecture: ClipArchitecture, ids: readonly number[]): Rows {
  const { width, contextLength } = architecture.text;
  const table = float32Values(model, 'text_model.embeddings.token_embedding.weight');
  const positions = float32Values(model, 'text_model.embeddings.position_embedding.weight');
  let x: Rows = new Float64Array(contextLength * width);
  for (let t = 0; t < contextLength; t++) {
    for (let c = 0; c < width; c++) x[t * width + c] = table[ids[t] * width + c] + positions[t * width + c];
  }
  for (let layer = 0; layer < architecture.text.layers; layer++) {
    x = residualBlock(model, `text_model.encoder.layers.${layer}`, x, contextLength, architecture.text, true);
  }
  x = layerNorm(x, contextLength, width, float32Values(model, 'text_model.final_layer_norm.weight'), float32Values(model, 'text_model.final_layer_norm.bias'));
  let eot = 0;
  for (let t = 1; t < contextLength; t++) if (ids[t] > ids[eot]) eot = t;
  return linear(x.subarray(eot * width, (eot + 1) * width), 1, width, architecture.embedDim, float32Values(model, 'text_projection.weight'));
}

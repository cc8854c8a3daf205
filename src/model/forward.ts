// Inference: the forward pass of one dense input, softmax included. Used by predict,
// evaluate and the web page; training uses the batched kernels in kernels.ts.

import type { LayerLayout, ModelSpec } from './spec.js';

/** Scratch activations for forward(), one buffer per layer, allocated once. */
export function forwardScratch(spec: ModelSpec): Float32Array[] {
  return spec.sizes.map((width) => new Float32Array(width));
}

/**
 * Runs the network on `input` (inputSize values in 0..1) and writes the class
 * probabilities into `probs`. Returns the logits' log-sum-exp, so the caller can get
 * the cross-entropy of class c as lse - logit[c] without a lossy log(p).
 */
export function forward(
  spec: ModelSpec,
  params: Float32Array,
  input: ArrayLike<number>,
  probs: Float32Array,
  scratch: Float32Array[] = forwardScratch(spec),
): number {
  const acts = scratch;
  const x0 = acts[0];
  for (let i = 0; i < x0.length; i++) x0[i] = input[i];
  const last = spec.layers.length - 1;
  for (let l = 0; l <= last; l++) {
    const z = acts[l + 1];
    affine(params, spec.layers[l], acts[l], z);
    if (l < last) for (let o = 0; o < z.length; o++) if (z[o] < 0) z[o] = 0;
  }
  return softmax(acts[last + 1], probs);
}

/** out = bias + x W for one layer (W input-major); zero inputs, such as ReLU's, are skipped. */
export function affine(params: Float32Array, layer: LayerLayout, x: Float32Array, out: Float32Array): void {
  const { inputs, outputs, weightOffset, biasOffset } = layer;
  for (let o = 0; o < outputs; o++) out[o] = params[biasOffset + o];
  for (let i = 0; i < inputs; i++) {
    const xi = x[i];
    if (xi === 0) continue;
    const row = weightOffset + i * outputs;
    for (let o = 0; o < outputs; o++) out[o] += xi * params[row + o];
  }
}

/** Stable softmax of `logits` into `probs`; returns log-sum-exp of the logits. */
export function softmax(logits: ArrayLike<number>, probs: Float32Array | Float64Array): number {
  let max = -Infinity;
  for (let c = 0; c < logits.length; c++) if (logits[c] > max) max = logits[c];
  let sum = 0;
  for (let c = 0; c < logits.length; c++) {
    const e = Math.exp(logits[c] - max);
    probs[c] = e;
    sum += e;
  }
  for (let c = 0; c < logits.length; c++) probs[c] /= sum;
  return max + Math.log(sum);
}

/** Index of the largest value (the first one on ties). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

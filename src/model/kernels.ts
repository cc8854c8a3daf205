// Training kernels: forward and backward passes of the MLP over a run of samples.
//
// Each layer's forward and backward sit side by side. Two kernels share the code for
// hidden layers and differ in the first layer only:
//  - `dense`: multiplies every input pixel, zeros included; the plain reference that
//    tests compare the faster kernels against.
//  - `sparse`: walks only each image's nonzero pixels (about 1 in 5 for MNIST). W is
//    input-major, so a pixel's row of weights is `outputs` contiguous floats.
// Adding a zero product to a float never changes it, so both give bit-identical results.
// A third kernel, `wasm` (WebAssembly SIMD, src/model/wasm/), needs the shared memory and a
// scratch region, so it is built by createWasmKernel, not here.

import type { Dataset } from '../data/dataset.js';
import { affine, argmax, forwardScratch, softmax } from './forward.js';
import type { ModelSpec } from './spec.js';

/** 'none' does no arithmetic at all: `nnfs bench` times the step machinery alone with it. */
export type KernelName = 'dense' | 'sparse' | 'wasm' | 'none';
/** The kernels written in JS, which createKernel builds. */
export type JsKernelName = Exclude<KernelName, 'wasm' | 'none'>;

/** A kernel that computes nothing: for measuring what a step costs besides its arithmetic. */
export const NULL_KERNEL: Kernel = {
  name: 'none',
  gradient: () => 0,
  sgdSample: () => 0,
  evaluate: () => undefined,
};

export interface Kernel {
  readonly name: KernelName;
  /**
   * Overwrites `grad` (paramCount floats) with the gradient of the summed cross-entropy
   * over samples order[from..to) and returns that summed loss.
   */
  gradient(params: Float32Array, grad: Float32Array, data: Dataset, order: Int32Array, from: number, to: number): number;
  /**
   * Per-sample SGD with the update fused into the backward pass (the original recipe):
   * params -= lr * gradient of one sample, touching only the rows of W1 of its nonzero
   * pixels. Returns the sample's loss (before the update).
   */
  sgdSample(params: Float32Array, data: Dataset, sample: number, lr: number): number;
  /** Adds the summed loss and the number of correct predictions over samples [from, to) into totals[0], totals[1]. */
  evaluate(params: Float32Array, data: Dataset, from: number, to: number, totals: Float64Array): void;
  /**
   * Optional hint before sgdSample calls: samples order[from..to) come next, so their data
   * may be fetched into cache now, together (the wasm kernel's per-sample SGD is otherwise
   * held up by cache misses on randomly ordered samples). Changes no result.
   */
  prefetch?(data: Dataset, order: Int32Array, from: number, to: number): void;
}

/** Pixel byte -> input value in [0, 1], rounded to float32 once, so every kernel sees the same inputs. */
export const PIXEL_VALUE = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/** Sample `sample`'s inputs, every pixel's (zeros included), into `x`: the dense kernel's and meanLoss's input. */
export function sampleInput(data: Dataset, sample: number, x: Float32Array): void {
  const { offsets, entries } = data.sparse;
  x.fill(0);
  for (let e = offsets[sample], end = offsets[sample + 1]; e < end; e++) x[entries[e] >>> 8] = PIXEL_VALUE[entries[e] & 0xff];
}

/** Creates a kernel of the given kind with its scratch buffers allocated once. */
export function createKernel(spec: ModelSpec, name: JsKernelName): Kernel {
  const acts = forwardScratch(spec);
  const deltas = spec.sizes.map((width) => new Float32Array(width));
  const lastLayer = spec.layers.length - 1;
  const classes = spec.sizes[spec.sizes.length - 1];
  const probs = new Float64Array(classes);
  const sparseInput = name === 'sparse';

  /** Forward pass of one sample; leaves activations in `acts`, returns log-sum-exp of the logits. */
  function forwardSample(params: Float32Array, data: Dataset, sample: number): number {
    const first = spec.layers[0];
    const z = acts[1];
    for (let o = 0; o < first.outputs; o++) z[o] = params[first.biasOffset + o];
    if (sparseInput) {
      const { offsets, entries } = data.sparse;
      for (let e = offsets[sample], end = offsets[sample + 1]; e < end; e++) {
        const entry = entries[e];
        const xi = PIXEL_VALUE[entry & 0xff];
        const row = first.weightOffset + (entry >>> 8) * first.outputs;
        for (let o = 0; o < first.outputs; o++) z[o] += xi * params[row + o];
      }
    } else {
      const x = acts[0];
      sampleInput(data, sample, x);
      for (let i = 0; i < first.inputs; i++) {
        const row = first.weightOffset + i * first.outputs;
        for (let o = 0; o < first.outputs; o++) z[o] += x[i] * params[row + o];
      }
    }
    for (let l = 1; l <= lastLayer; l++) {
      const x = acts[l];
      for (let i = 0; i < x.length; i++) if (x[i] < 0) x[i] = 0; // ReLU of the layer below
      affine(params, spec.layers[l], x, acts[l + 1]);
    }
    return softmax(acts[lastLayer + 1], probs);
  }

  /** Softmax + cross-entropy: the output layer's delta is probs - onehot(label). */
  function outputDelta(label: number): void {
    const delta = deltas[lastLayer + 1];
    for (let c = 0; c < classes; c++) delta[c] = probs[c];
    delta[label] -= 1;
  }

  /**
   * Backward pass of one sample. With lr === 0 it accumulates into `grad`; with lr > 0 it
   * applies `params -= lr * gradient` in place instead (grad unused), computing each
   * layer's input delta before that layer's weights change.
   */
  function backwardSample(params: Float32Array, grad: Float32Array, data: Dataset, sample: number, lr: number): void {
    const target = lr > 0 ? params : grad;
    const sign = lr > 0 ? -lr : 1;
    for (let l = lastLayer; l >= 0; l--) {
      const { inputs, outputs, weightOffset, biasOffset } = spec.layers[l];
      const delta = deltas[l + 1];
      if (l > 0) {
        // delta of the layer below, through W (before any update) and the ReLU
        const x = acts[l];
        const below = deltas[l];
        for (let i = 0; i < inputs; i++) {
          if (x[i] === 0) { below[i] = 0; continue; }
          const row = weightOffset + i * outputs;
          let s = 0;
          for (let o = 0; o < outputs; o++) s += params[row + o] * delta[o];
          below[i] = s;
        }
      }
      if (l === 0 && sparseInput) {
        const { offsets, entries } = data.sparse;
        for (let e = offsets[sample], end = offsets[sample + 1]; e < end; e++) {
          const entry = entries[e];
          const xi = PIXEL_VALUE[entry & 0xff];
          const row = weightOffset + (entry >>> 8) * outputs;
          for (let o = 0; o < outputs; o++) target[row + o] += sign * Math.fround(xi * delta[o]);
        }
      } else {
        const x = acts[l];
        for (let i = 0; i < inputs; i++) {
          const xi = x[i];
          if (xi === 0) continue;
          const row = weightOffset + i * outputs;
          for (let o = 0; o < outputs; o++) target[row + o] += sign * Math.fround(xi * delta[o]);
        }
      }
      for (let o = 0; o < outputs; o++) target[biasOffset + o] += sign * delta[o];
    }
  }

  return {
    name,
    gradient(params, grad, data, order, from, to) {
      grad.fill(0);
      let loss = 0;
      for (let n = from; n < to; n++) {
        const sample = order[n];
        const lse = forwardSample(params, data, sample);
        const label = data.labels[sample];
        loss += lse - acts[lastLayer + 1][label];
        outputDelta(label);
        backwardSample(params, grad, data, sample, 0);
      }
      return loss;
    },
    sgdSample(params, data, sample, lr) {
      const lse = forwardSample(params, data, sample);
      const label = data.labels[sample];
      outputDelta(label);
      backwardSample(params, params, data, sample, lr);
      return lse - acts[lastLayer + 1][label];
    },
    evaluate(params, data, from, to, totals) {
      const logits = acts[lastLayer + 1];
      for (let sample = from; sample < to; sample++) {
        const lse = forwardSample(params, data, sample);
        const label = data.labels[sample];
        totals[0] += lse - logits[label];
        if (argmax(logits) === label) totals[1] += 1;
      }
    },
  };
}

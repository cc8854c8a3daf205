// When a run has diverged: a loss that is NaN, infinite or absurdly large. The workers check
// each step's loss before its update; these checks cover the weights a run is about to keep,
// which the last update before a save or an evaluation has already changed.

import type { Dataset } from '../data/dataset.js';
import { PIXEL_VALUE } from '../model/kernels.js';
import { forward, forwardScratch } from '../model/forward.js';
import type { ModelSpec } from '../model/spec.js';

/**
 * A mean cross-entropy above this (a probability of e^-1e6 for the true class) is divergence,
 * not learning: ReLU networks blown up by a huge learning rate often keep a finite but
 * absurd loss instead of reaching NaN. A fresh N(0,1) network starts below 100.
 */
export const DIVERGED_LOSS = 1e6;

/** Whether a mean loss says the run diverged (NaN included). */
export function lossDiverged(meanLoss: number): boolean {
  return !(meanLoss <= DIVERGED_LOSS);
}

/** Samples the weights are tried on before a save: enough to catch blown-up weights, cheap enough for a save every step. */
const PROBE_SAMPLES = 8;

/** Whether `params` give a diverged loss on the first few samples of `data`. */
export function weightsDiverged(spec: ModelSpec, params: Float32Array, data: Dataset): boolean {
  const count = Math.min(PROBE_SAMPLES, data.count);
  const scratch = forwardScratch(spec);
  const logits = scratch[scratch.length - 1];
  const probs = new Float32Array(logits.length);
  const input = new Float32Array(data.inputSize);
  let sum = 0;
  for (let s = 0; s < count; s++) {
    for (let i = 0; i < input.length; i++) input[i] = PIXEL_VALUE[data.pixels[s * data.inputSize + i]];
    const lse = forward(spec, params, input, probs, scratch);
    sum += lse - logits[data.labels[s]];
  }
  return lossDiverged(sum / count);
}

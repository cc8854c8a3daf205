// When a run has diverged: a loss that is NaN, infinite or absurdly large. The workers check
// each step's loss before its update (the original recipe's, fused into its backward pass,
// just after); these checks cover the weights a run is about to keep, which the last update
// before a save or an evaluation has already changed.

import type { Dataset } from '../data/dataset.js';
import { meanLoss } from '../model/mean-loss.js';
import type { ModelSpec } from '../model/spec.js';

/**
 * A mean cross-entropy above this (a probability of e^-1e6 for the true class) is divergence,
 * not learning: ReLU networks blown up by a huge learning rate often keep a finite but
 * absurd loss instead of reaching NaN. A fresh N(0,1) network starts below 100.
 */
const DIVERGED_LOSS = 1e6;

/** Whether a mean loss says the run diverged (NaN included). */
export function lossDiverged(loss: number): boolean {
  return !(loss <= DIVERGED_LOSS);
}

/** Samples the weights are tried on before a save: enough to catch blown-up weights, cheap enough for a save every step. */
const PROBE_SAMPLES = 8;

/** Whether `params` give a diverged loss on the first few samples of `data`. */
export function weightsDiverged(spec: ModelSpec, params: Float32Array, data: Dataset): boolean {
  return lossDiverged(meanLoss(spec, params, data, Math.min(PROBE_SAMPLES, data.count)));
}

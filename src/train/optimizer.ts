// Optimisers. Each call sums the gradient slots it is given in a fixed order (slot 0, 1, ...,
// float32 additions, as the reduction tree's) and updates one range of parameters, so any
// thread may update any range and the result is the same bit for bit.

import type { TrainConfig } from '../config.js';

/** Names of the state vectors each optimiser keeps, each as long as the parameters. */
export function optimizerStateNames(optimizer: TrainConfig['optimizer']): string[] {
  if (optimizer === 'momentum') return ['velocity'];
  if (optimizer === 'adam') return ['m', 'v'];
  return [];
}

export interface UpdateArgs {
  config: TrainConfig;
  params: Float32Array;
  /** slotCount gradient slots, slotStride floats apart, each indexed like the parameters. */
  grads: Float32Array;
  slotCount: number;
  slotStride: number;
  /** 1 / samples in the batch: the gradient is the batch mean. */
  scale: number;
  state: Record<string, Float32Array>;
  /** 1-based count of optimiser steps including this one (Adam's bias correction). */
  t: number;
  /** This step's learning rate (see schedule.ts). */
  lr: number;
  from: number;
  to: number;
}

/** Adam's bias corrections for the current call (see reduceAndUpdate). */
const corrections = new Float64Array(2);

/** Reduces the gradient slots over parameters [from, to) and applies the optimiser there. */
export function reduceAndUpdate(a: UpdateArgs): void {
  const { config, params, grads, slotCount, slotStride, scale, from, to } = a;
  const lr = a.lr;
  if (config.optimizer === 'sgd') {
    for (let k = from; k < to; k++) {
      params[k] -= lr * (sumSlots(grads, slotCount, slotStride, k) * scale);
    }
  } else if (config.optimizer === 'momentum') {
    const velocity = a.state.velocity;
    const mu = config.momentum;
    for (let k = from; k < to; k++) {
      const v = (velocity[k] = mu * velocity[k] + sumSlots(grads, slotCount, slotStride, k) * scale);
      params[k] -= lr * v;
    }
  } else {
    const { m, v } = a.state;
    const { beta1, beta2, eps } = config;
    // Through memory, not plain consts: V8's optimiser can place these pure Math.pow calls
    // inside the loop below, once per parameter (measured: ~1.25 ms a step instead of ~0.13).
    corrections[0] = lr / (1 - Math.pow(beta1, a.t));
    corrections[1] = 1 / (1 - Math.pow(beta2, a.t));
    const stepSize = corrections[0];
    const secondCorrection = corrections[1];
    for (let k = from; k < to; k++) {
      const g = sumSlots(grads, slotCount, slotStride, k) * scale;
      const mk = (m[k] = beta1 * m[k] + (1 - beta1) * g);
      const vk = (v[k] = beta2 * v[k] + (1 - beta2) * g * g);
      params[k] -= (stepSize * mk) / (Math.sqrt(vk * secondCorrection) + eps);
    }
  }
}

function sumSlots(grads: Float32Array, slotCount: number, stride: number, k: number): number {
  let g = grads[k];
  for (let s = 1; s < slotCount; s++) g = Math.fround(g + grads[s * stride + k]);
  return g;
}

// The learning-rate schedule: a pure function of the config and the epoch, never of the
// run's total length, so "train 1 epoch, resume to 3" sees the same rates as "train 3".

import type { TrainConfig } from '../config.js';

/** The learning rate during `epoch` (0-based): lr * lrDecay^epoch. */
export function learningRate(config: TrainConfig, epoch: number): number {
  return config.lrDecay === 1 ? config.lr : config.lr * Math.pow(config.lrDecay, epoch);
}

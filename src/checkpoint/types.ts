// What a checkpoint holds in memory: the parameters in the engine's layout, the
// optimiser's state, and the position of the run. format.ts maps this to and from
// the safetensors bytes on disk.

import type { TrainConfig } from '../config.js';

/** Where a run stands, enough to continue it exactly. */
export interface RunPosition {
  /** Epochs fully completed. */
  epoch: number;
  /** Optimiser steps completed within epoch `epoch + 1` (0 at an epoch boundary). */
  step: number;
  /** Optimiser steps taken since the run began (Adam's bias-correction counter). */
  globalStep: number;
  /** Sum of per-sample training losses so far in the unfinished epoch, and how many samples it covers. */
  partialLossSum: number;
  partialSamples: number;
}

export interface Checkpoint {
  config: TrainConfig;
  /** Layer sizes, input to output, e.g. [784, 16, 10]. */
  sizes: number[];
  position: RunPosition;
  /** sha256 hex of the training data the run used, so resume refuses other data. */
  dataFingerprint: string;
  /** All parameters in the engine's flat, input-major layout (see model/spec.ts). */
  params: Float32Array;
  /** Optimiser state vectors, each paramCount long, by name ('velocity'; 'm', 'v'). */
  optimizerState: Record<string, Float32Array>;
}

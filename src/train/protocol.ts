// The one declaration of what the coordinator and the worker threads share: the buffers of
// a run, the fields of the control block, and the messages (tasks) sent to workers.

import type { TrainConfig } from '../config.js';
import type { Dataset } from '../data/dataset.js';
import type { KernelName } from '../model/kernels.js';

/** Everything a worker needs for one training run; typed arrays are views of one shared memory. */
export interface SharedRun {
  /** Identifies the run, so a worker builds its kernel and views once per run. */
  runId: string;
  /** The process's shared WebAssembly.Memory; every typed array below is a view into it. */
  memory: WebAssembly.Memory;
  sizes: number[];
  config: TrainConfig;
  kernel: KernelName;
  train: Dataset;
  test: Dataset;
  params: Float32Array;
  /** Optimiser state vectors by name, each paramCount long. */
  state: Record<string, Float32Array>;
  /** One gradient slot of paramCount floats per microbatch of a step, back to back. */
  grads: Float32Array;
  /** The epoch's sample order: a permutation of the training set, a pure function of (seed, epoch). */
  order: Int32Array;
  /** Summed loss of each microbatch of the epoch, at step * microbatchesPerStep + index. */
  losses: Float64Array;
  /** Control block, fields at the Control indices below. */
  control: Int32Array;
  /**
   * The 'wasm' kernel's working memory: one region of wasmScratchFloats(spec) floats per
   * thread, back to back, each claimed once per run with Control.SCRATCH_CLAIM (empty for
   * the JS kernels, which keep their scratch in plain arrays).
   */
  scratch: Float32Array;
  /**
   * How many threads take part in a training segment: min(threads, cores, microbatches per
   * step). More threads than cores can only take turns on them (each turn a sleep and a
   * wake-up), and more than a step's microbatches mostly wait; so the threads with the
   * first `participants` seats do the steps and the others return at
   * once (every thread still takes part in evaluation). Which threads they are does not
   * change the results: those are the same for any number of them.
   */
  participants: number;
  /** Spin iterations on SEQ before sleeping: participants each have a core, so a short spin pays. */
  spin: number;
}

/** Int32 slots per 64-byte cache line: fields written by different threads sit on lines of their own. */
const LINE = 16;

/**
 * Indices into SharedRun.control. The three fields every claim writes (TICKET, DONE) or
 * spinners poll (SEQ) each have a cache line to themselves, so a thread spinning on SEQ
 * does not slow down the atomic adds of the thread at work; the rest change rarely.
 */
export const Control = {
  /** Work tickets: (phase << PHASE_SHIFT) | index, claimed with Atomics.add. */
  TICKET: 0,
  /** Bumped at every phase change; idle threads sleep on it. */
  SEQ: LINE,
  /** Items finished in the current phase. */
  DONE: 2 * LINE,
  /** Current step within the epoch. */
  STEP: 3 * LINE,
  /** The step at which this segment ends (exclusive). */
  STEP_END: 3 * LINE + 1,
  /** Set by the coordinator: finish the current step, then end the segment. */
  STOP: 3 * LINE + 2,
  /** Non-zero when the run must end: see Failure. */
  FAILED: 3 * LINE + 3,
  /** Optimiser steps taken before step 0 of this epoch (Adam's t = T_BASE + STEP + 1). */
  T_BASE: 3 * LINE + 4,
  /** The step whose loss diverged (NaN, infinite or over 1e6), when FAILED is Failure.DIVERGED. */
  FAILED_STEP: 3 * LINE + 5,
  /** Scratch regions claimed so far (Atomics.add): each thread that builds a 'wasm' kernel takes the next. */
  SCRATCH_CLAIM: 3 * LINE + 6,
  /** The epoch (0-based) being trained: it sets the learning rate. */
  EPOCH: 3 * LINE + 7,
  /** Seats claimed so far (Atomics.add), one per thread per run: seats below run.participants train. */
  SEATS: 3 * LINE + 8,
  /** Set by the coordinator when no seated thread took part in a segment: then every thread may. */
  OPEN_TO_ALL: 3 * LINE + 9,
  LENGTH: 4 * LINE,
} as const;

export const Failure = { NONE: 0, WORKER: 1, DIVERGED: 2 } as const;

/** Phase A computes microbatch gradients; phase B reduces them and updates the parameters. */
export const PHASE_SHIFT = 24;
export const PHASE_A = 0;
export const PHASE_B = 1;
/** A ticket no claim can use: the segment is over. */
export const CLOSED_TICKET = (PHASE_B << PHASE_SHIFT) | ((1 << PHASE_SHIFT) - 1 - 4096);

/** Parameters per reduce-and-update work item. */
export const UPDATE_CHUNK = 1024;

export type WorkerTask =
  | { kind: 'train'; run: SharedRun }
  | { kind: 'evaluate'; run: SharedRun; split: 'train' | 'test'; from: number; to: number }
  /** The data set's fingerprint (see data/mnist.ts), hashed on a worker while the run starts. */
  | { kind: 'fingerprint'; data: Dataset }
  /** Does nothing: `nnfs bench` times a round trip through the pool with it. */
  | { kind: 'noop' };

/** Result of an 'evaluate' task: summed loss and correct predictions over its range. */
export interface EvaluateResult {
  lossSum: number;
  correct: number;
}

/** Geometry of a run's steps, derived from its config and data. */
export function stepGeometry(config: TrainConfig, samples: number) {
  const microbatch = Math.min(config.microbatch, config.batchSize);
  const microbatchesPerStep = Math.ceil(config.batchSize / microbatch);
  const stepsPerEpoch = Math.ceil(samples / config.batchSize);
  /** The original recipe: one sample per step with plain SGD, the update fused into the backward pass. */
  const fused = config.batchSize === 1 && config.optimizer === 'sgd';
  return { samples, batch: config.batchSize, microbatch, microbatchesPerStep, stepsPerEpoch, fused };
}

export type StepGeometry = ReturnType<typeof stepGeometry>;

/** Samples order[first, end) of a step; only the epoch's last step may be short. */
export function stepRange(g: StepGeometry, step: number): { first: number; end: number } {
  const first = step * g.batch;
  return { first, end: Math.min(g.samples, first + g.batch) };
}

/** Microbatches in a step. */
export function microbatchesIn(g: StepGeometry, step: number): number {
  const { first, end } = stepRange(g, step);
  return Math.ceil((end - first) / g.microbatch);
}

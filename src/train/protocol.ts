// The one declaration of what the coordinator and the worker threads share: the buffers of
// a run, the fields of the control block, and the messages (tasks) sent to workers.

import { availableParallelism } from 'node:os';
import type { TrainConfig } from '../config.js';
import type { Dataset } from '../data/dataset.js';
import type { FingerprintInput } from '../data/fingerprint.js';
import type { KernelName } from '../model/kernels.js';
import { leavesPerTask, levelsFor } from './reduction-tree.js';

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
  /**
   * One gradient slot of paramCount floats per microbatch of a step, back to back; a task's
   * pending subtree sums reuse its microbatches' slots (reduction-tree.ts).
   */
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
  /**
   * Each thread's own buffer for phase B (paramCount floats for the summed gradient, then
   * a chunk's floats per level of reduction-tree.ts sumTasks), at seat * its length.
   */
  reduced: Float32Array;
}

/** Int32 slots per 64-byte cache line: fields written by different threads sit on lines of their own. */
const LINE = 16;

/**
 * Indices into SharedRun.control. The fields every claim writes (a range's ticket), every
 * finished piece (DONE) or spinners poll (SEQ) each have a cache line to themselves, so a
 * thread spinning on SEQ does not slow down the atomic adds of the thread at work; the
 * rest change at most once a step and share one line.
 */
export const Control = {
  /** Bumped at every phase change; idle threads sleep on it. */
  SEQ: 0,
  /** Items finished in the current phase. */
  DONE: LINE,
  /** Current step within the epoch. */
  STEP: 2 * LINE,
  /** The step at which this segment ends (exclusive). */
  STEP_END: 2 * LINE + 1,
  /** Set by the coordinator: finish the current step, then end the segment. */
  STOP: 2 * LINE + 2,
  /** Non-zero when the run must end: see Failure. */
  FAILED: 2 * LINE + 3,
  /** Optimiser steps taken before step 0 of this epoch (Adam's t = T_BASE + STEP + 1). */
  T_BASE: 2 * LINE + 4,
  /** The step whose loss diverged (NaN, infinite or over 1e6), when FAILED is Failure.DIVERGED. */
  FAILED_STEP: 2 * LINE + 5,
  /** Scratch regions claimed so far (Atomics.add): each thread that builds a 'wasm' kernel takes the next. */
  SCRATCH_CLAIM: 2 * LINE + 6,
  /** The epoch (0-based) being trained: it sets the learning rate. */
  EPOCH: 2 * LINE + 7,
  /** Seats claimed so far (Atomics.add), one per thread per run: seats below run.participants train. */
  SEATS: 2 * LINE + 8,
  /** Set by the coordinator when no seated thread took part in a segment: then every thread may. */
  OPEN_TO_ALL: 2 * LINE + 9,
  /**
   * Work tickets, one line per range of a phase's items (see ranges below):
   * (phase << PHASE_SHIFT) | index within the range, claimed with Atomics.add.
   */
  TICKETS: 3 * LINE,
} as const;

/** The ticket field of range `range`. */
export function ticketField(range: number): number {
  return Control.TICKETS + range * LINE;
}

/** Length of the control block of a run with `ranges` ticket ranges (one per training thread). */
export function controlLength(ranges: number): number {
  return ticketField(ranges);
}

/**
 * Sets every range's ticket, in range order: to `phase << PHASE_SHIFT` before the workers
 * start a segment, to CLOSED_TICKET to close one. Not for opening a phase while workers run:
 * step-loop.ts openPhase does that in the order that keeps it safe.
 */
export function setTickets(control: Int32Array, ranges: number, ticket: number): void {
  for (let r = 0; r < ranges; r++) Atomics.store(control, ticketField(r), ticket);
}

export const Failure = { NONE: 0, WORKER: 1, DIVERGED: 2 } as const;

/** Phase A computes microbatch gradients; phase B reduces them and updates the parameters. */
export const PHASE_SHIFT = 24;
export const PHASE_A = 0;
export const PHASE_B = 1;
/** A ticket no claim can use: the segment is over. */
export const CLOSED_TICKET = (PHASE_B << PHASE_SHIFT) | ((1 << PHASE_SHIFT) - 1 - 4096);

/** Parameters per reduce-and-update work item, at most (taskGeometry evens them out). */
const UPDATE_CHUNK = 2048;

/**
 * A phase's items are cut into one range per training thread, `perRange` items each (the
 * last ranges may hold fewer or none), each range with its own ticket. A thread claims
 * from its own range first and takes from the others only when it is used up, so the
 * same thread computes the same task and updates the same parameters step after step,
 * and their cache lines stay on its core. perRange is fixed for the run: a range never
 * holds more items than at the previous step, so a ticket left over from a finished
 * phase can never pass for a piece of a later one.
 */
export function rangeItems(range: number, perRange: number, items: number): number {
  return Math.max(0, Math.min(perRange, items - range * perRange));
}

export type WorkerTask =
  | { kind: 'train'; run: SharedRun }
  /** Test samples [from, to): their summed loss and how many were predicted right. */
  | { kind: 'evaluate'; run: SharedRun; from: number; to: number }
  /** The data set's fingerprint (see data/mnist.ts), hashed on a worker while the run starts. */
  | { kind: 'fingerprint'; data: FingerprintInput }
  /** Does nothing: `nnfs bench` times a round trip through the pool with it. */
  | { kind: 'noop' };

/** Result of an 'evaluate' task: summed loss and correct predictions over its range. */
export interface EvaluateResult {
  lossSum: number;
  correct: number;
}

/** How a recipe's batch is cut into microbatches, whatever the data. */
export function microbatchShape(config: TrainConfig) {
  const microbatch = Math.min(config.microbatch, config.batchSize);
  return { batch: config.batchSize, microbatch, microbatchesPerStep: Math.ceil(config.batchSize / microbatch) };
}

export type MicrobatchShape = ReturnType<typeof microbatchShape>;

/** Geometry of a run's steps, derived from its config and data. */
export function stepGeometry(config: TrainConfig, samples: number) {
  const stepsPerEpoch = Math.ceil(samples / config.batchSize);
  /** The original recipe: one sample per step with plain SGD, the update fused into the backward pass. */
  const fused = config.batchSize === 1 && config.optimizer === 'sgd';
  return { samples, ...microbatchShape(config), stepsPerEpoch, fused };
}

export type StepGeometry = ReturnType<typeof stepGeometry>;

/**
 * How many of a run's threads train its steps: one per core at most, and no more than a
 * step has microbatches; beyond that, extra threads only wait through phase A and crowd
 * the short update phase (16 cores, batch 64: 4 threads beat 16). See also pool.ts workersFor.
 */
export function trainingThreads(threads: number, g: Pick<MicrobatchShape, 'microbatchesPerStep'>, cores = availableParallelism()): number {
  return Math.max(1, Math.min(threads, cores, g.microbatchesPerStep));
}

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

/** How a run's steps are shared out among `participants` training threads (see step-loop.ts). */
export function taskGeometry(g: StepGeometry, participants: number, paramCount: number) {
  const perTask = leavesPerTask(g.microbatchesPerStep, participants);
  const tasks = Math.ceil(g.microbatchesPerStep / perTask);
  // The same number of chunks for every thread, each of whole cache lines (16 floats):
  // a thread with one chunk more than the others would keep them waiting every step.
  const chunksPerRange = Math.ceil(paramCount / (participants * UPDATE_CHUNK));
  const chunkFloats = Math.ceil(paramCount / (participants * chunksPerRange) / 16) * 16;
  // A summed gradient and sumTasks' scratch levels, in whole cache lines.
  const reducedFloats = tasks <= 3 ? 0 : Math.ceil((paramCount + levelsFor(tasks) * chunkFloats) / 16) * 16;
  return {
    leavesPerTask: perTask,
    tasksPerRange: Math.ceil(tasks / participants),
    chunkFloats,
    chunks: Math.ceil(paramCount / chunkFloats),
    chunksPerRange,
    /** Floats of SharedRun.reduced per thread: none when the update reads the tasks' sums in place (three or fewer). */
    reducedFloats,
  };
}

export type TaskGeometry = ReturnType<typeof taskGeometry>;

/** Tasks in a step. */
export function tasksIn(g: StepGeometry, t: TaskGeometry, step: number): number {
  return Math.ceil(microbatchesIn(g, step) / t.leavesPerTask);
}

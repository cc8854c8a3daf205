// The coordinator: owns a run's shared buffers and the worker pool, and runs segments of
// steps and evaluations on the workers. It knows nothing of files, flags or terminals.

import { randomUUID } from 'node:crypto';
import type { Piscina } from 'piscina';
import type { TrainConfig } from '../config.js';
import type { Dataset } from '../data/dataset.js';
import type { KernelName } from '../model/kernels.js';
import type { ModelSpec } from '../model/spec.js';
import { RunFailure } from '../errors.js';
import { wasmScratchFloats } from '../model/wasm/scratch-layout.js';
import { sharedFloat32, sharedFloat64, sharedInt32, sharedMemory } from '../shared-memory.js';
import { optimizerStateNames } from './optimizer.js';
import { createPool } from './pool.js';
import {
  Control, controlLength, Failure, PHASE_A, PHASE_SHIFT, setTickets, stepGeometry, taskGeometry, trainingThreads,
  type EvaluateResult, type SharedRun, type StepGeometry,
} from './protocol.js';

/** Test-set evaluation is cut into this many pieces, whatever the thread count, so its sums are deterministic. */
const EVALUATION_PIECES = 16;

export interface Evaluation {
  loss: number;
  accuracy: number;
  correct: number;
  count: number;
}

export interface CoordinatorOptions {
  /** Instead of config.kernel: `nnfs bench` times the protocol alone with 'none'. */
  kernel?: KernelName;
  /** A pool of exactly `threads` workers started earlier (their start-up overlaps data loading); else one is made. */
  pool?: Piscina;
  /**
   * The cores to plan the training threads for, instead of this machine's: tests run the
   * layouts of a 16-core machine on 2 cores with it (slowly: the threads then share cores).
   */
  cores?: number;
}

export class Coordinator {
  readonly run: SharedRun;
  readonly geometry: StepGeometry;
  private readonly pool: Piscina;

  constructor(
    readonly spec: ModelSpec,
    config: TrainConfig,
    data: { train: Dataset; test: Dataset },
    readonly threads: number,
    options: CoordinatorOptions = {},
  ) {
    const kernel = options.kernel ?? config.kernel;
    const geometry = stepGeometry(config, data.train.count);
    const state: Record<string, Float32Array> = {};
    for (const name of optimizerStateNames(config.optimizer)) state[name] = sharedFloat32(spec.paramCount);
    this.geometry = geometry;
    const participants = trainingThreads(threads, geometry, options.cores);
    this.run = {
      runId: randomUUID(),
      memory: sharedMemory(),
      sizes: spec.sizes,
      config,
      kernel,
      train: data.train,
      test: data.test,
      params: sharedFloat32(spec.paramCount),
      state,
      grads: sharedFloat32(geometry.fused ? 1 : geometry.microbatchesPerStep * spec.paramCount),
      order: sharedInt32(data.train.count),
      losses: sharedFloat64(geometry.stepsPerEpoch * geometry.microbatchesPerStep),
      control: sharedInt32(controlLength(participants)),
      // Every worker that builds a context (training or evaluating) claims one region, and
      // the pool has exactly `threads` workers.
      scratch: sharedFloat32(kernel === 'wasm' ? threads * wasmScratchFloats(spec) : 0),
      participants,
      reduced: sharedFloat32(threads * taskGeometry(geometry, participants, spec.paramCount).reducedFloats),
    };
    this.pool = options.pool ?? createPool(threads);
  }

  /**
   * Runs steps [from, to) of `epoch` (0-based; run.order must hold its sample order) and
   * resolves with the step reached: `to`, or earlier after requestStop().
   */
  async trainSteps(epoch: number, from: number, to: number, stepsBeforeEpoch: number): Promise<number> {
    const c = this.run.control;
    // A stop asked for between segments (Ctrl-C while the run starts up) holds for this one.
    Atomics.store(c, Control.STOP, this.stopRequested ? 1 : 0);
    Atomics.store(c, Control.FAILED, Failure.NONE);
    Atomics.store(c, Control.DONE, 0);
    Atomics.store(c, Control.STEP, from);
    Atomics.store(c, Control.STEP_END, to);
    Atomics.store(c, Control.T_BASE, stepsBeforeEpoch);
    Atomics.store(c, Control.EPOCH, epoch);
    Atomics.store(c, Control.OPEN_TO_ALL, 0);
    setTickets(c, this.run.participants, PHASE_A << PHASE_SHIFT);
    Atomics.add(c, Control.SEQ, 1);
    for (;;) {
      await this.settle(Array.from({ length: this.threads }, () => this.pool.run({ kind: 'train', run: this.run })));
      if (Atomics.load(c, Control.FAILED) !== Failure.NONE || Atomics.load(c, Control.STEP) >= Atomics.load(c, Control.STEP_END)) break;
      // Every task went to a thread without a training seat (the pool chose so): let anyone train.
      Atomics.store(c, Control.OPEN_TO_ALL, 1);
    }
    if (Atomics.load(c, Control.FAILED) === Failure.DIVERGED) {
      const step = Atomics.load(c, Control.FAILED_STEP);
      // A batched step's loss is checked before its update; the original recipe's fused step has changed the weights already.
      const notApplied = this.geometry.fused ? '' : ' that step was not applied and';
      throw new RunFailure(
        `training diverged at epoch ${epoch + 1}, step ${step + 1}: the loss became NaN, infinite or absurdly large (over 1e6), so${notApplied} nothing after the last checkpoint was saved; try a lower --lr`,
      );
    }
    return Atomics.load(c, Control.STEP);
  }

  private stopRequested = false;

  /** Asks the workers to finish the current step and end the segment there; later segments stop after their first step. */
  requestStop(): void {
    this.stopRequested = true;
    Atomics.store(this.run.control, Control.STOP, 1);
  }

  /** The step the running segment has reached, for progress reports. */
  currentStep(): number {
    return Atomics.load(this.run.control, Control.STEP);
  }

  /**
   * What a step would cost if each one were dispatched through the pool (one task per
   * thread per step, the design nnfs does not use): microseconds per round of empty tasks.
   */
  async measureDispatchPerStep(rounds: number): Promise<number> {
    const started = performance.now();
    for (let r = 0; r < rounds; r++) await Promise.all(Array.from({ length: this.threads }, () => this.pool.run({ kind: 'noop' })));
    return ((performance.now() - started) * 1000) / rounds;
  }

  /** Mean loss and accuracy over the test set, computed in parallel in fixed pieces. */
  async evaluate(): Promise<Evaluation> {
    const count = this.run.test.count;
    const pieces = Math.min(EVALUATION_PIECES, count);
    const results = await this.settle(
      Array.from({ length: pieces }, (_, p) =>
        this.pool.run({ kind: 'evaluate', run: this.run, from: Math.floor((p * count) / pieces), to: Math.floor(((p + 1) * count) / pieces) }) as Promise<EvaluateResult>,
      ),
    );
    let lossSum = 0;
    let correct = 0;
    for (const r of results) {
      lossSum += r.lossSum;
      correct += r.correct;
    }
    return { loss: lossSum / count, accuracy: correct / count, correct, count };
  }

  /** Awaits every task; if one fails, tells the others to stop and reports the first failure. */
  private async settle<T>(tasks: Promise<T>[]): Promise<T[]> {
    const outcomes = await Promise.allSettled(
      tasks.map((t) =>
        t.catch((error: unknown) => {
          Atomics.store(this.run.control, Control.FAILED, Failure.WORKER);
          Atomics.notify(this.run.control, Control.SEQ);
          throw error;
        }),
      ),
    );
    const failed = outcomes.find((o) => o.status === 'rejected');
    if (failed) {
      const reason = (failed as PromiseRejectedResult).reason;
      throw new RunFailure(`a worker thread failed: ${reason instanceof Error ? reason.message : String(reason)}`);
    }
    return outcomes.map((o) => (o as PromiseFulfilledResult<T>).value);
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

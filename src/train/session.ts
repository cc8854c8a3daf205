// A training run from start (or a checkpoint) to its last epoch: epoch orders, segments
// between checkpoints, evaluation, metrics lines and checkpoint files.

import { checkpointName, pruneCheckpoints, saveCheckpoint } from '../checkpoint/store.js';
import type { Checkpoint, RunPosition } from '../checkpoint/types.js';
import { layerSizes, type TrainConfig } from '../config.js';
import type { Dataset } from '../data/dataset.js';
import { initParams } from '../model/init.js';
import type { Piscina } from 'piscina';
import { modelSpec } from '../model/spec.js';
import { shuffledOrder } from '../rng.js';
import { Coordinator } from './coordinator.js';
import { RunFailure } from '../errors.js';
import { lossDiverged, weightsDiverged } from './divergence.js';
import { appendMetrics, trimMetrics } from './metrics-file.js';
import { microbatchesIn, stepRange } from './protocol.js';
import type { EpochMetrics } from './epoch-metrics.js';

/** What a running session tells the terminal (or whoever listens). */
export interface Reporter {
  epochStart(epoch: number, epochs: number, steps: number, fromStep: number): void;
  progress(step: number): void;
  epochEnd(metrics: EpochMetrics): void;
  /** Takes down any live display: the run has ended, perhaps in the middle of an epoch. */
  end?(): void;
}

export interface SessionOptions {
  config: TrainConfig;
  /** The data; its fingerprint may still be being hashed (see runTraining). */
  data: { train: Dataset; test: Dataset; fingerprint: string | Promise<string> };
  threads: number;
  /** The run folder: checkpoints and metrics.jsonl go here. */
  outDir: string;
  /** Throws if outDir is no longer this run's (moved or deleted while it trains): called before each write there. */
  checkFolder?: () => void;
  /** Workers started ahead of time (see Coordinator). */
  pool?: Piscina;
  /** The cores to plan training threads for, instead of this machine's (see Coordinator). */
  cores?: number;
  /** Continue from here instead of a fresh initialisation. */
  resume?: Checkpoint;
  /** Also save every this many steps within an epoch (0: only at epoch ends). */
  saveEverySteps?: number;
  /** Keep only the newest this many numbered checkpoints (0: keep all). */
  keep?: number;
  reporter: Reporter;
}

export interface SessionResult {
  status: 'finished' | 'interrupted';
  /** The newest checkpoint written (undefined if none was). */
  checkpoint?: string;
  position: RunPosition;
  metrics: EpochMetrics[];
}

export class Session {
  readonly coordinator: Coordinator;
  private stopRequested = false;
  private readonly spec;

  constructor(private readonly options: SessionOptions) {
    const { config, data, threads } = options;
    this.spec = modelSpec(layerSizes(config, data.train.inputSize, data.train.classes));
    this.coordinator = new Coordinator(this.spec, config, data, threads, { pool: options.pool, cores: options.cores });
    const { run } = this.coordinator;
    if (options.resume) {
      run.params.set(options.resume.params);
      for (const [name, values] of Object.entries(options.resume.optimizerState)) run.state[name].set(values);
    } else {
      initParams(this.spec, config.init, config.seed, run.params);
    }
  }

  /** Finish the current step, save a checkpoint and return (Ctrl-C). */
  requestStop(): void {
    this.stopRequested = true;
    this.coordinator.requestStop();
  }

  async run(): Promise<SessionResult> {
    const { config, outDir, reporter } = this.options;
    const { run, geometry } = this.coordinator;
    const steps = geometry.stepsPerEpoch;
    const position: RunPosition = this.options.resume
      ? { ...this.options.resume.position }
      : { epoch: 0, step: 0, globalStep: 0, partialLossSum: 0, partialSamples: 0 };
    const metrics: EpochMetrics[] = [];
    let checkpoint: string | undefined;
    await trimMetrics(outDir, position.epoch);

    const timer = setInterval(() => reporter.progress(this.coordinator.currentStep()), 100);
    try {
      while (position.epoch < config.epochs) {
        run.order.set(shuffledOrder(run.train.count, config.seed, position.epoch));
        reporter.epochStart(position.epoch + 1, config.epochs, steps, position.step);
        let seconds = 0;
        while (position.step < steps) {
          const every = this.options.saveEverySteps ?? 0;
          const target = every > 0 ? Math.min(steps, (Math.floor(position.step / every) + 1) * every) : steps;
          const started = performance.now();
          const reached = await this.coordinator.trainSteps(position.epoch, position.step, target, position.globalStep - position.step);
          seconds += (performance.now() - started) / 1000;
          this.addLosses(position, position.step, reached);
          position.globalStep += reached - position.step;
          position.step = reached;
          // A stop at the epoch's last step falls through to the normal end of the epoch below.
          if (reached < steps && (this.stopRequested || this.saveFailed || reached === target)) {
            await this.flushSave();
            checkpoint = await this.save(position);
            if (this.stopRequested) return { status: 'interrupted', checkpoint, position, metrics };
          }
        }
        reporter.progress(steps);
        const test = await this.coordinator.evaluate();
        // The epoch's last update is checked by no step: its weights may have blown up. Both
        // checks come before the metrics line, which a failed one must not leave behind.
        if (lossDiverged(test.loss)) throw diverged(position.epoch + 1, 'test loss');
        if (weightsDiverged(this.spec, run.params, run.train)) throw diverged(position.epoch + 1, 'loss on the first training images');
        const line: EpochMetrics = {
          epoch: position.epoch + 1,
          trainLoss: position.partialLossSum / run.train.count,
          testLoss: test.loss,
          testAccuracy: test.accuracy,
          seconds,
          samplesPerSecond: (run.train.count - (this.options.resume && metrics.length === 0 ? this.options.resume.position.partialSamples : 0)) / seconds,
        };
        // The previous epoch's save first: if it failed, the run ends here, with no line for this epoch.
        checkpoint = (await this.flushSave()) ?? checkpoint;
        await this.inRunFolder(() => appendMetrics(outDir, line));
        Object.assign(position, { epoch: position.epoch + 1, step: 0, partialLossSum: 0, partialSamples: 0 });
        // Report first: the result is known now, and saving (hashing, fsync) takes a while.
        metrics.push(line);
        reporter.epochEnd(line);
        // The next epoch trains while this checkpoint is written (save() snapshots the weights first).
        this.pendingSave = this.save(position, true);
        // Its error is raised by flushSave; a failed save also stops the epoch at its next step.
        this.pendingSave.catch(() => {
          this.saveFailed = true;
          this.coordinator.requestStop();
        });
        if (this.stopRequested && position.epoch < config.epochs) return { status: 'interrupted', checkpoint: await this.flushSave(), position, metrics };
      }
      return { status: 'finished', checkpoint: (await this.flushSave()) ?? checkpoint, position, metrics };
    } finally {
      clearInterval(timer);
      reporter.end?.();
      await this.pendingSave?.catch(() => undefined);
    }
  }

  /** Adds the losses of steps [from, to) to the epoch's running sum, in step and microbatch order. */
  private addLosses(position: RunPosition, from: number, to: number): void {
    const { run, geometry } = this.coordinator;
    const perStep = geometry.microbatchesPerStep;
    for (let s = from; s < to; s++) {
      const { first, end } = stepRange(geometry, s);
      const items = microbatchesIn(geometry, s);
      for (let i = 0; i < items; i++) position.partialLossSum += run.losses[s * perStep + i];
      position.partialSamples += end - first;
    }
  }

  /** The checkpoint being written while the next epoch trains, if any. */
  private pendingSave?: Promise<string>;
  /** That save failed: the epoch stops at its next step and flushSave raises the error. */
  private saveFailed = false;

  /** Waits for the pending save (one at a time, in order) and returns its file. */
  private async flushSave(): Promise<string | undefined> {
    const pending = this.pendingSave;
    this.pendingSave = undefined;
    return pending ? await pending : undefined;
  }

  /** Saves the weights as they are now; `checked`: they have passed weightsDiverged already. */
  private async save(live: RunPosition, checked = false): Promise<string> {
    const { run } = this.coordinator;
    // A snapshot: training goes on (and moves `live`) while the file is written.
    const position = { ...live };
    // Copied before the first await: the caller goes on training as soon as this yields.
    const params = run.params.slice();
    if (!checked && weightsDiverged(this.spec, params, run.train)) throw diverged(position.epoch + (position.step ? 1 : 0), 'loss on the first training images');
    const state: Record<string, Float32Array> = {};
    for (const [name, values] of Object.entries(run.state)) state[name] = values.slice();
    const dataFingerprint = await this.options.data.fingerprint;
    const file = await this.inRunFolder(() => saveCheckpoint(this.options.outDir, checkpointName(position.epoch, position.step), {
      config: this.options.config,
      sizes: this.spec.sizes,
      position,
      dataFingerprint,
      params,
      optimizerState: state,
    }, { createFolder: false }));
    if (this.options.keep) await pruneCheckpoints(this.options.outDir, this.options.keep, position);
    return file;
  }

  /** A write into the run folder, which must still be this run's before it and, if it fails, is the likelier reason. */
  private async inRunFolder<T>(write: () => Promise<T>): Promise<T> {
    this.options.checkFolder?.();
    try {
      return await write();
    } catch (e) {
      this.options.checkFolder?.();
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.coordinator.close();
  }
}

/** The run's end when the weights it reached give a diverged loss (see divergence.ts). */
function diverged(epoch: number, measured: string): RunFailure {
  return new RunFailure(`training diverged in epoch ${epoch}: the weights it reached give a ${measured} that is NaN, infinite or over 1e6, so no checkpoint of them was written; try a lower --lr`);
}

// Throughput at each thread count for the recipes bench reports, and what a step costs
// with no arithmetic at all (the synchronisation alone).

import { DEFAULTS, layerSizes, ORIGINAL_RECIPE, type TrainConfig } from '../src/config.js';
import type { Mnist } from '../src/data/mnist.js';
import { modelSpec } from '../src/model/spec.js';
import { Coordinator } from '../src/train/coordinator.js';
import { measureThroughput, type Timing } from './throughput.js';

export interface Recipe {
  name: string;
  config: TrainConfig;
}

export const RECIPES: Recipe[] = [
  { name: 'default (adam, batch 32)', config: DEFAULTS },
  { name: 'adam, batch 64', config: { ...DEFAULTS, batchSize: 64, lrDecay: 1 } },
  { name: 'adam, batch 256', config: { ...DEFAULTS, batchSize: 256, lrDecay: 1 } },
];

export interface ScalingRow {
  recipe: string;
  threads: number;
  samplesPerSecond: number;
  /** Over the same recipe at the smallest thread count measured (normally 1). */
  speedup: number;
  /** speedup / (threads / smallest thread count). */
  efficiency: number;
  microsecondsPerStep: number;
}

/** One row per recipe and thread count, each as soon as it is measured; `threadCounts` ascending (the first is the base). */
export async function* measureScaling(data: Mnist, threadCounts: number[], timing: Timing): AsyncGenerator<ScalingRow> {
  for (const recipe of RECIPES) {
    let base: number | undefined;
    for (const threads of threadCounts) {
      // A window of an epoch's steps, as `nnfs train` runs them: one segment, so one start and end of the workers' loop per epoch.
      const r = await measureThroughput({ config: recipe.config, data, threads, windowSamples: data.train.count, ...timing });
      base ??= r.samplesPerSecond;
      const speedup = r.samplesPerSecond / base;
      yield { recipe: recipe.name, threads, samplesPerSecond: r.samplesPerSecond, speedup, efficiency: speedup / (threads / threadCounts[0]), microsecondsPerStep: r.microsecondsPerStep };
    }
  }
}

export interface SyncRow {
  threads: number;
  /** Microseconds per step of 64 samples (4 microbatches) when the kernel does nothing: the claiming protocol nnfs uses. */
  microsecondsPerEmptyStep: number;
  /** The other design: one pool task per thread per step, empty. */
  microsecondsPerDispatchedStep: number;
}

/** One row per thread count, each as soon as it is measured. */
export async function* measureSync(data: Mnist, threadCounts: number[], timing: Timing): AsyncGenerator<SyncRow> {
  for (const threads of threadCounts) {
    const config = { ...DEFAULTS, batchSize: 64 };
    const r = await measureThroughput({ config, data, threads, kernel: 'none', windowSamples: 30_000, ...timing });
    const spec = modelSpec(layerSizes(config, data.train.inputSize, data.train.classes));
    const coordinator = new Coordinator(spec, config, data, threads, { kernel: 'none' });
    try {
      await coordinator.measureDispatchPerStep(200); // warm-up
      const perStep = await coordinator.measureDispatchPerStep(1000);
      yield { threads, microsecondsPerEmptyStep: r.microsecondsPerStep, microsecondsPerDispatchedStep: perStep };
    } finally {
      await coordinator.close();
    }
  }
}

/** The original project's recipe on one thread: seconds per epoch of the training set (MNIST's 60,000 samples). */
export async function measureOriginalRecipe(data: Mnist, timing: Timing): Promise<{ samplesPerEpoch: number; secondsPerEpoch: number; samplesPerSecond: number }> {
  const config: TrainConfig = { ...DEFAULTS, ...ORIGINAL_RECIPE };
  const r = await measureThroughput({ config, data, threads: 1, windowSamples: 30_000, ...timing });
  return { samplesPerEpoch: data.train.count, secondsPerEpoch: data.train.count / r.samplesPerSecond, samplesPerSecond: r.samplesPerSecond };
}

// Training throughput of one recipe at one thread count: samples/s over timed windows of
// real steps on MNIST after a warm-up, reported as the median window.

import { layerSizes, type TrainConfig } from '../src/config.js';
import type { Mnist } from '../src/data/mnist.js';
import { initParams } from '../src/model/init.js';
import type { KernelName } from '../src/model/kernels.js';
import { modelSpec } from '../src/model/spec.js';
import { shuffledOrder } from '../src/rng.js';
import { Coordinator } from '../src/train/coordinator.js';
import { median } from './stats.js';

/** How many windows are timed, and the least time spent warming up before them. */
export interface Timing {
  windows: number;
  /**
   * V8 optimises each worker's step loop on background threads during about the first
   * 0.3 s of a run (~100 ms of compile jobs per worker). With no core to spare, those jobs
   * take turns with the training threads: measured on 2 cores, 2-thread windows timed
   * after a one-epoch warm-up ran 10-50% slow for the next 4-5 epochs, which put the
   * median window among them; 1-thread windows, with a core free for the compiler, did not.
   */
  warmUpSeconds: number;
}

/** `nnfs bench`'s timing, and its `--quick` one. */
export const FULL_TIMING: Timing = { windows: 7, warmUpSeconds: 0.5 };
export const QUICK_TIMING: Timing = { windows: 3, warmUpSeconds: 0.25 };

export interface ThroughputResult {
  samplesPerSecond: number;
  /** Every timed window's samples/s, for the spread. */
  windows: number[];
  /** Microseconds per optimiser step (median window). */
  microsecondsPerStep: number;
}

export interface ThroughputOptions extends Timing {
  config: TrainConfig;
  data: Mnist;
  threads: number;
  kernel?: KernelName;
  /** Samples per timed window (rounded to whole steps). */
  windowSamples: number;
}

export async function measureThroughput(o: ThroughputOptions): Promise<ThroughputResult> {
  const spec = modelSpec(layerSizes(o.config, o.data.train.inputSize, o.data.train.classes));
  const coordinator = new Coordinator(spec, o.config, o.data, o.threads, { kernel: o.kernel });
  try {
    const { run, geometry } = coordinator;
    initParams(spec, o.config.init, o.config.seed, run.params);
    run.order.set(shuffledOrder(run.train.count, o.config.seed, 0));
    const stepsPerWindow = Math.max(1, Math.min(geometry.stepsPerEpoch - 1, Math.round(o.windowSamples / o.config.batchSize)));
    let step = 0;
    let taken = 0;
    const window = async () => {
      if (step + stepsPerWindow >= geometry.stepsPerEpoch) step = 0;
      const started = performance.now();
      await coordinator.trainSteps(0, step, step + stepsPerWindow, taken);
      const seconds = (performance.now() - started) / 1000;
      step += stepsPerWindow;
      taken += stepsPerWindow;
      return seconds;
    };
    // Warm-up: at least an epoch's worth and o.warmUpSeconds, so every worker's code is
    // optimised (each thread has its own JIT) before the timed windows; a real run spends
    // nearly all its time in this state.
    const warmUps = Math.max(1, Math.round(o.data.train.count / (stepsPerWindow * o.config.batchSize)));
    const warmUpStarted = performance.now();
    for (let w = 0; w < warmUps || performance.now() - warmUpStarted < o.warmUpSeconds * 1000; w++) await window();
    const seconds: number[] = [];
    for (let w = 0; w < o.windows; w++) seconds.push(await window());
    const windows = seconds.map((s) => (stepsPerWindow * o.config.batchSize) / s);
    const samplesPerSecond = median(windows);
    return { samplesPerSecond, windows, microsecondsPerStep: (o.config.batchSize / samplesPerSecond) * 1e6 };
  } finally {
    await coordinator.close();
  }
}

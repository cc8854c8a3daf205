// Starts and owns the worker threads (piscina). The pool is used to start a long task per
// worker per training segment, not to dispatch every step (see step-loop.ts).

import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import { packageRoot } from '../package-paths.js';
import { trainingThreads, type MicrobatchShape } from './protocol.js';

/**
 * `--threads N` trimmed to the cores, the first limit of workersFor (the engine itself runs
 * any number of threads, as the tests and `nnfs bench` do). Training steps
 * run in lockstep, so threads beyond the cores never train (see SharedRun.participants);
 * started anyway, each costs Node's ~9 MB per worker and its start-up: measured on 2 cores,
 * `--threads 8` reached its first epoch 0.12 s later than 2 threads, with 53 MB more.
 */
export function threadsToRun(requested: number, cores = availableParallelism()): number {
  return Math.max(1, Math.min(requested, cores));
}

/**
 * The worker threads a training run starts: threadsToRun's, but no more than its steps can
 * train with (protocol.ts trainingThreads: no more than a batch has microbatches), except
 * that two cores asked for get two workers, which share the test-set evaluation.
 * On 16 cores the default batch of 32 (2 microbatches) ran 16 workers, 14 of them with
 * nothing to train: 311 MB at its peak against 180 MB for 2, at the same speed.
 */
export function workersFor(requested: number, shape: Pick<MicrobatchShape, 'microbatchesPerStep'>, cores = availableParallelism()): number {
  return Math.max(trainingThreads(requested, shape, cores), Math.min(threadsToRun(requested, cores), 2));
}

/** The bundled worker script (src/build.mjs), whoever asks: the bundled command line, dist/src, or the TypeScript sources (tests). */
function workerScript(): string {
  const script = join(packageRoot(), 'dist', 'bin', 'gradient.worker.js');
  if (!existsSync(script)) throw new Error(`the worker script is missing (looked for ${script}); run \`npm run build\` first`);
  return script;
}

/** A pool of exactly `threads` workers, all started now. */
export function createPool(threads: number): Piscina {
  return new Piscina({
    filename: workerScript(),
    minThreads: threads,
    maxThreads: threads,
    concurrentTasksPerWorker: 1,
    idleTimeout: 60_000,
  });
}

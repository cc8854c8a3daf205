// Starts and owns the worker threads (piscina). The pool is used to start a long task per
// worker per training segment, not to dispatch every step (see DESIGN.md, "Data flow").

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import { packageRoot } from '../package-paths.js';

/** The compiled worker script, whoever asks: the bundled command line, dist/src, or the TypeScript sources (tests). */
export function workerScript(): string {
  const script = join(packageRoot(), 'dist', 'workers', 'gradient.worker.js');
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

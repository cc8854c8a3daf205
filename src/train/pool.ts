// Starts and owns the worker threads (piscina). The pool is used to start a long task per
// worker per training segment, not to dispatch every step (see DESIGN.md, "Data flow").

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';

/** The compiled worker script. From TypeScript sources (tests) it is the build's copy under dist/. */
export function workerScript(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const compiled = join(here, '..', '..', 'workers', 'gradient.worker.js');
  if (existsSync(compiled)) return compiled;
  const fromSources = join(here, '..', '..', 'dist', 'workers', 'gradient.worker.js');
  if (existsSync(fromSources)) return fromSources;
  throw new Error(`the worker script is missing (looked for ${compiled}); run \`npm run build\` first`);
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

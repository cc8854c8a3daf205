// One training run per folder at a time. Two runs given the same --out (or resuming the
// same run) would overwrite each other's checkpoints and interleave their metrics.jsonl;
// checking the folder's contents first cannot stop that, since both look before either
// writes. The lock is a file made with O_EXCL that holds the run's pid, so a lock left by
// a killed run (its pid gone) is taken over instead of blocking the folder for good.

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { describeFsError, processAlive } from './store.js';

export const LOCK_NAME = '.nnfs-run.lock';

/** The pid in a lock file, or undefined when it is gone or holds no pid (a crash mid-write). */
function holder(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Claims `dir` (an existing folder) for this process's run; returns the release, which
 * also runs if the process exits first (a second Ctrl-C). Refused with a sentence while a
 * live process holds it.
 */
export function lockRunFolder(dir: string): () => void {
  const file = join(dir, LOCK_NAME);
  // A second try after removing a dead run's lock; a third in case another run raced us to it.
  for (let attempt = 1; ; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt === 3) {
        throw new UserError(`cannot lock ${dir} for this run: ${describeFsError(e)}.`);
      }
    }
    const pid = holder(file);
    // Our own pid there is a dead run's whose pid came round again: we hold no lock yet.
    if (pid !== undefined && pid !== process.pid && processAlive(pid)) {
      throw new UserError(`${dir} is in use by another nnfs run (process ${pid}); wait for it to end or give another --out (if no run is using it, delete ${file}).`);
    }
    rmSync(file, { force: true });
  }
  const release = () => {
    if (holder(file) === process.pid) rmSync(file, { force: true });
  };
  process.on('exit', release);
  return () => {
    process.off('exit', release);
    release();
  };
}

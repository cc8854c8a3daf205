// A training run's folder: a new one named by the time, the refusal of one that holds another
// run, and the removal of a metrics.jsonl that no checkpoint came to stand beside.

import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describeFsError, UserError } from '../errors.js';
import { pathWord } from '../report/shown-path.js';
import { METRICS_FILE } from '../train/metrics-file.js';
import { LAST_NAME, parseCheckpointName, runFolderCheckpoint } from './store.js';

/**
 * Makes a new run folder under checkpoints/, named by time and so sortable; runs started
 * within the same second, even at the same instant, get -2, -3 …: mkdir claims a name.
 */
export function newRunFolder(): string {
  const stamp = new Date().toISOString().replace(/[:T]/g, '-').replace(/\..*/, '');
  const base = join('checkpoints', `run-${stamp}`);
  try {
    mkdirSync('checkpoints', { recursive: true });
  } catch (e) {
    throw new UserError(`cannot make the folder checkpoints: ${describeFsError(e)}.`);
  }
  for (let n = 1; ; n++) {
    const dir = n === 1 ? base : `${base}-${n}`;
    try {
      mkdirSync(dir);
      return dir;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new UserError(`cannot make the run folder ${dir}: ${describeFsError(e)}.`);
    }
  }
}

/**
 * For the way out of a run that started the folder's metrics.jsonl: removes it if no
 * checkpoint came to stand beside it (the first save failed, the disk being full, say),
 * since a metrics.jsonl without one is a half-written run that neither train nor resume
 * could take up again.
 */
export function orphanMetricsRemover(dir: string): () => void {
  const metrics = join(dir, METRICS_FILE);
  if (existsSync(metrics)) return () => {}; // an earlier history's (resume): never this run's to remove
  return () => {
    try {
      if (runFolderCheckpoint(dir) === undefined) rmSync(metrics, { force: true });
    } catch {
      // on the way out of a failure already reported: a leftover is refused in words by the next run
    }
  };
}

/** A fresh run never writes into a folder that holds another run: its checkpoints and metrics would be overwritten. */
export function refuseUsedFolder(dir: string, dataDir: string | undefined): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // a folder that cannot be listed: assertWritable has said what is wrong
  }
  // A numbered checkpoint without last.safetensors is a run stopped while it saved: resumable too.
  if (names.some((name) => name === LAST_NAME || parseCheckpointName(name))) {
    const data = dataDir === undefined ? '' : ` --data ${pathWord(dataDir)}`;
    throw new UserError(`${dir} already holds a training run; continue it with \`npx nnfs resume --checkpoint ${pathWord(dir)}${data}\`, or give another --out.`);
  }
  // Only a run that saved no checkpoint at all (killed before its first) leaves this alone.
  if (names.includes(METRICS_FILE)) throw new UserError(`${dir} holds files of an earlier run (${METRICS_FILE}); move them away or give another --out.`);
}

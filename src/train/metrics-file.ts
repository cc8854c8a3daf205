// A run's metrics.jsonl: one JSON line per finished epoch, appended as it ends; on resume, cut
// back to the epochs the checkpoint holds. Whatever goes wrong is one sentence.

import { existsSync, promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { replaceFile } from '../checkpoint/safe-files.js';
import { describeFsError, UserError } from '../errors.js';

export const METRICS_FILE = 'metrics.jsonl';

/** Appends one epoch's line to dir's metrics.jsonl. */
export async function appendMetrics(dir: string, line: object): Promise<void> {
  const path = join(dir, METRICS_FILE);
  try {
    await fs.appendFile(path, JSON.stringify(line) + '\n');
  } catch (e) {
    throw new UserError(`cannot write ${path}: ${describeFsError(e)}.`, { cause: e });
  }
}

/** Drops the lines of epochs after `completedEpochs` (they will be redone), and any line a crash cut short. */
export async function trimMetrics(dir: string, completedEpochs: number): Promise<void> {
  const path = join(dir, METRICS_FILE);
  const stat = await fs.stat(path).catch(() => undefined);
  if (!stat) return;
  // A pipe there would never end (a read blocks until someone writes), nor would a device.
  if (!stat.isFile()) throw new UserError(`${path} is not a regular file; move it out of the way to resume this run.`);
  try {
    const text = await fs.readFile(path, 'utf8');
    const kept = text.split('\n').filter((line) => {
      try {
        return (JSON.parse(line) as { epoch: number }).epoch <= completedEpochs;
      } catch {
        return false;
      }
    }).map((l) => l + '\n').join('');
    // Written aside and renamed over: a full disk or a kill half-way leaves the history whole.
    if (kept !== text) await replaceFile(path, new TextEncoder().encode(kept));
  } catch (e) {
    throw new UserError(`cannot rewrite ${path}: ${describeFsError(e)}.`, { cause: e });
  }
}

/**
 * The metrics of the run a checkpoint came from: `NAME.metrics.jsonl` beside `NAME.safetensors`
 * (how the shipped model keeps its curves), else the run folder's metrics.jsonl.
 */
export function metricsFileFor(checkpoint: string): string {
  const own = join(dirname(checkpoint), `${basename(checkpoint, '.safetensors')}.metrics.jsonl`);
  return existsSync(own) ? own : join(dirname(checkpoint), METRICS_FILE);
}

// One training run per folder at a time. Two runs given the same --out (or resuming the
// same run) would overwrite each other's checkpoints and interleave their metrics.jsonl;
// checking the folder's contents first cannot stop that, since both look before either
// writes.
//
// The lock is a file naming its holder: pid and start time, so that a lock left by a killed
// run is taken over even once its pid belongs to another process. It is made whole under a
// temporary name and given its name by link(), which fails if the name exists: there is no
// moment when it exists empty (where the file system has hard links; see below), and of two
// runs only one can make it. A dead holder's lock is removed only under a second lock made
// the same way, after reading it again: two runs that both found it dead would otherwise each
// remove it, the second removing the first's new one.

import { linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeFsError, UserError } from '../errors.js';
import { lacksHardLinks, processAlive } from './safe-files.js';

const LOCK_NAME = '.nnfs-run.lock';
const BREAKING_NAME = '.nnfs-run.lock.breaking';

/** How a process is told apart from a later one with the same pid: its start time (Linux), when it can be read. */
function startTime(pid: number): string | undefined {
  try {
    // Field 22 of /proc/PID/stat, counting from the one after the command name (which may hold spaces).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

interface Holder {
  pid: number;
  started?: string;
}

function describeSelf(): string {
  return `${process.pid} ${startTime(process.pid) ?? '-'}\n`;
}

/**
 * The holder named in a lock file; undefined when it is gone, or empty (only where there are
 * no hard links: another run between making it and writing it); null when it names none.
 */
function readHolder(file: string): Holder | undefined | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  if (text === '') return undefined;
  const [pid, started] = text.trim().split(' ');
  const n = Number(pid);
  if (!Number.isSafeInteger(n) || n <= 0) return null;
  return { pid: n, started: started === '-' ? undefined : started };
}

function alive(holder: Holder): boolean {
  if (holder.pid === process.pid) return false; // a dead run's pid that came round again: we hold no lock yet
  if (!processAlive(holder.pid)) return false;
  const now = startTime(holder.pid);
  return holder.started === undefined || now === undefined || now === holder.started;
}

/** Makes `file` holding `content` if no file has that name; false if one has. */
function makeExclusive(dir: string, file: string, content: string): boolean {
  const temp = join(dir, `.nnfs-run.lock.tmp-${process.pid}-${Math.random().toString(16).slice(2)}`);
  writeFileSync(temp, content, { flag: 'wx' });
  try {
    linkSync(temp, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    if (!lacksHardLinks(e)) throw e;
    // No hard links here: O_EXCL, then the content, a moment apart.
    return createThenWrite(file, content);
  } finally {
    rmSync(temp, { force: true });
  }
}

function createThenWrite(file: string, content: string): boolean {
  try {
    writeFileSync(file, content, { flag: 'wx' });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/** Waits a moment without returning to the event loop (the lock is taken before a run starts). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Removes `file` if it still names a dead holder, while holding the breaking lock; false if another run is breaking it. */
function removeIfDead(dir: string, file: string): boolean {
  const guard = join(dir, BREAKING_NAME);
  if (!makeExclusive(dir, guard, describeSelf())) {
    const breaker = readHolder(guard);
    if (breaker && !alive(breaker)) rmSync(guard, { force: true }); // left by a run killed in the instant it held it
    return false;
  }
  try {
    const holder = readHolder(file);
    if (holder === null || (holder && !alive(holder))) rmSync(file, { force: true });
  } finally {
    rmSync(guard, { force: true });
  }
  return true;
}

/**
 * Claims `dir` (an existing folder) for this process's run; returns the release, which also
 * runs if the process exits first (a second Ctrl-C). While a live run holds it, refused with
 * a sentence that ends with `instead` (what the user can do rather than wait).
 */
export function lockRunFolder(dir: string, instead: string): () => void {
  const file = join(dir, LOCK_NAME);
  const self = describeSelf();
  try {
    for (let attempt = 0; !makeExclusive(dir, file, self); attempt++) {
      const holder = readHolder(file);
      if (holder && alive(holder)) {
        throw new UserError(`${dir} is in use by another nnfs run (process ${holder.pid}); wait for it to end, or ${instead} (if no run is using it, delete ${file}).`);
      }
      if (holder === undefined || !removeIfDead(dir, file)) pause(2);
      if (attempt === 100) throw new UserError(`cannot lock ${dir} for this run: ${file} stays empty or keeps coming back; delete it if no run is using the folder.`);
    }
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot lock ${dir} for this run with ${file}: ${describeFsError(e)}.`);
  }
  const release = () => {
    try {
      if (readHolder(file)?.pid === process.pid) rmSync(file, { force: true });
    } catch {
      // the folder went away or became unreadable: there is no lock left to release
    }
  };
  process.on('exit', release);
  return () => {
    process.off('exit', release);
    release();
  };
}

/**
 * Throws unless `dir`'s lock still names this process. A run folder moved or deleted while
 * its run trains is not made again by the next save: the run would write on without a lock,
 * and a second run could take the new folder at the same time.
 */
export function assertStillLocked(dir: string): void {
  let holder: Holder | undefined | null;
  try {
    holder = readHolder(join(dir, LOCK_NAME));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOTDIR') throw new UserError(`cannot check this run's lock in ${dir}: ${describeFsError(e)}.`);
    holder = undefined; // the folder's path now runs through a file
  }
  if (holder?.pid === process.pid) return;
  if (holder) {
    throw new UserError(`the run folder ${dir} was taken over by another run (process ${holder.pid}) during training, so this run stopped without writing there again.`);
  }
  throw new UserError(`the run folder ${dir} was moved or deleted during training (its lock file ${LOCK_NAME} is gone), so the run stopped rather than start the folder again.`);
}

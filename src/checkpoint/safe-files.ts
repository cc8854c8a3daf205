// Files written so that a crash or a full disk never leaves one half-written (a temporary
// file, fsync, rename, fsync the folder), and the folders and temporary files that go with
// them: made on demand, removed again when a command leaves nothing in them.

import { randomBytes } from 'node:crypto';
import { close, existsSync, fsync, mkdirSync, openSync, promises as fs, readdirSync, rmdirSync, rmSync, statSync, writeFile, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describeFsError, UserError } from '../errors.js';

/**
 * mkdir -p; returns the folders it made, outermost first. Node's own { recursive: true }
 * spins forever where a parent exists but answers ENOENT for any child (procfs: --out
 * /proc/x); here a second ENOENT, once the parent is in place, is final.
 */
export function makeFolder(dir: string): string[] {
  const isFolder = () => statSync(dir, { throwIfNoEntry: false })?.isDirectory() === true;
  // EEXIST for a file where a folder should be would read as the saved file being in the way.
  const fileInTheWay = () => Object.assign(new Error(`${dir} is a file, not a folder`), { code: 'ENOTDIR' });
  try {
    mkdirSync(dir);
    return [dir];
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if (isFolder()) return [];
      throw fileInTheWay();
    }
    if (code !== 'ENOENT' || path.dirname(dir) === dir) throw e;
  }
  const made = makeFolder(path.dirname(dir));
  try {
    mkdirSync(dir);
    made.push(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (!(code === 'EEXIST' && isFolder())) {
      removeEmptyFolders(made);
      throw code === 'EEXIST' ? fileInTheWay() : e;
    }
  }
  return made;
}

/** Removes the folders makeFolder made (innermost first) where they are still empty: a failed command leaves no trace. */
export function removeEmptyFolders(made: readonly string[]): void {
  for (const dir of [...made].reverse()) {
    try {
      rmdirSync(dir);
    } catch {
      return; // not empty (something was saved there), or gone: it and its parents stay as they are
    }
  }
}

/** tempName's names, with the pid of the process that made them (removeTemps). */
const TEMP_NAME = /^\..+\.tmp-(\d+)-[0-9a-f]+$/;

function tempName(dir: string, fileName: string): string {
  return path.join(dir, `.${fileName}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** Writes bytes to a fresh temp file in `dir` and fsyncs it; returns the temp path, or removes it on failure. */
export async function writeTemp(dir: string, fileName: string, bytes: Uint8Array): Promise<string> {
  const temp = tempName(dir, fileName);
  // 'wx' so a name clash never overwrites someone else's file. Opened synchronously: a second
  // Ctrl-C (removeUnfinishedSaves, then exit) then finds every temp file there will be, where
  // an open still under way in the thread pool could make one just after it had looked.
  const fd = openSync(temp, 'wx');
  let open = true;
  try {
    await writeToFd(fd, bytes);
    await fsyncFd(fd);
    open = false;
    await closeFd(fd);
  } catch (e) {
    if (open) await closeFd(fd).catch(() => undefined);
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw e;
  }
  return temp;
}

// The file-descriptor forms, for writeTemp: a FileHandle cannot be made from a descriptor opened synchronously.
const writeToFd = promisify(writeFile);
const fsyncFd = promisify(fsync);
const closeFd = promisify(close);

/** Makes the renames durable; some platforms cannot open or fsync a folder, which costs only durability. */
export async function syncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') throw e;
  } finally {
    await handle?.close();
  }
}

/** Writes `bytes` to a temp file beside `file` and renames it over `file`; the temp file goes if the rename fails. */
export async function writeAndRename(file: string, bytes: Uint8Array): Promise<void> {
  const temp = await writeTemp(path.dirname(file), path.basename(file), bytes);
  try {
    await fs.rename(temp, file);
  } catch (e) {
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw e;
  }
}

/** Replaces `file` with `bytes` so that a crash or a full disk leaves the old content whole; errors as they come. */
export async function replaceFile(file: string, bytes: Uint8Array): Promise<void> {
  await writeAndRename(file, bytes);
  await syncDir(path.dirname(file));
}

/** linkAsNew's refusal: `file` exists, and a new file never replaces one. */
export class FileExistsError extends Error {
  constructor(readonly file: string) {
    super(`${file} already exists`);
  }
}

/** link()'s failure on a file system without hard links (FAT, some network shares), where callers fall back. */
export function lacksHardLinks(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS';
}

/**
 * Gives the finished temp file its name only if that name is free: link() refuses an
 * existing name in the same step, where a check and then a rename would leave a moment for
 * another process to create it. File systems without hard links get the check and rename.
 */
export async function linkAsNew(temp: string, file: string): Promise<void> {
  try {
    await fs.link(temp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new FileExistsError(file);
    if (!lacksHardLinks(e)) throw e;
    if (existsSync(file)) throw new FileExistsError(file);
    await fs.rename(temp, file);
    return;
  }
  await fs.rm(temp, { force: true });
}

/**
 * Creates `dir` if needed and proves it writable with a probe file, so a bad --out fails
 * before training. Returns the folders it made (removeEmptyFolders, if the run saves nothing).
 */
export function assertWritable(dir: string): string[] {
  const probe = path.join(dir, `.nnfs-write-probe-${process.pid}-${randomBytes(6).toString('hex')}`);
  let made: string[] = [];
  try {
    made = makeFolder(dir);
    writeFileSync(probe, 'probe', { flag: 'wx' });
    rmSync(probe, { force: true });
  } catch (e) {
    try {
      rmSync(probe, { force: true });
    } catch {
      // the probe was never made
    }
    removeEmptyFolders(made);
    throw new UserError(`cannot write to ${dir}: ${describeFsError(e)}.`);
  }
  // Temporary files of saves that a killed process never finished (its pid is gone): never a checkpoint, only clutter.
  removeTemps(dir, (pid) => !processAlive(pid));
  return made;
}

/** For a process about to quit in the middle of a save: removes its own temporary files in `dir`. */
export function removeUnfinishedSaves(dir: string): void {
  removeTemps(dir, (pid) => pid === process.pid);
}

function removeTemps(dir: string, doomed: (pid: number) => boolean): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // a folder that can be written but not listed: nothing to tidy
  }
  for (const name of names) {
    const match = TEMP_NAME.exec(name);
    if (!match || !doomed(Number(match[1]))) continue;
    try {
      rmSync(path.join(dir, name), { force: true });
    } catch {
      // clutter that stays is harmless
    }
  }
}

/** Whether process `pid` exists (EPERM: it does, under another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

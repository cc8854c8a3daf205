// Checkpoint files on disk: their names, the atomic save (safe-files.ts) with
// last.safetensors kept equal to the newest save, loading, listing and pruning.

import { existsSync, promises as fs, readdirSync } from 'node:fs';
import path from 'node:path';
import { describeFsError, refuseSpecialFile, UserError } from '../errors.js';
import { decodeCheckpoint, encodeCheckpoint } from './format.js';
import { FileExistsError, linkAsNew, makeFolder, removeEmptyFolders, syncDir, writeAndRename, writeTemp } from './safe-files.js';
import type { Checkpoint } from './types.js';

export const LAST_NAME = 'last.safetensors';
const NUMBERED = /^epoch-(\d{4,})(?:-step-(\d{6,}))?\.safetensors$/;

export interface CheckpointFile {
  name: string;
  path: string;
  epoch: number;
  step: number;
}

/**
 * The file name of a checkpoint taken after `epoch` completed epochs and `step` more steps,
 * in the words a user reads in the progress lines: `epoch-0003.safetensors` at the end of
 * epoch 3, `epoch-0004-step-000120.safetensors` 120 steps into epoch 4.
 */
export function checkpointName(epoch: number, step: number): string {
  const pad = (n: number, width: number) => String(n).padStart(width, '0');
  return step === 0 ? `epoch-${pad(epoch, 4)}.safetensors` : `epoch-${pad(epoch + 1, 4)}-step-${pad(step, 6)}.safetensors`;
}

/** The position (completed epochs, steps into the next) a numbered checkpoint's name encodes, or null for any other name. */
export function parseCheckpointName(name: string): { epoch: number; step: number } | null {
  const match = NUMBERED.exec(name);
  if (!match) return null;
  if (match[2] === undefined) return { epoch: Number(match[1]), step: 0 };
  const inEpoch = Number(match[1]);
  return inEpoch === 0 ? null : { epoch: inEpoch - 1, step: Number(match[2]) };
}

/**
 * Makes last.safetensors hold `bytes` atomically: a copy of its own, written the careful way
 * and renamed over. Not a hard link to the numbered file: a tool that writes over
 * last.safetensors in place (`cp`, a Python save) would then change that checkpoint too.
 */
async function updateLast(dir: string, bytes: Uint8Array): Promise<void> {
  const last = path.join(dir, LAST_NAME);
  try {
    await writeAndRename(last, bytes);
  } catch (e) {
    throw new UserError(`cannot save checkpoint ${last}: ${describeFsError(e)}.`, { cause: e });
  }
}

interface WriteOptions {
  /** Run between the rename and the folder's fsync (last.safetensors), so one fsync covers both. */
  afterRename?: () => Promise<void>;
  /** false: never replace an existing file (FileExistsError). */
  replace?: boolean;
  /** false: the folder must exist already (a run's own folder, which must not come back once gone). */
  createFolder?: boolean;
}

/**
 * Writes `bytes` as exactly `file`: temp file, fsync, rename, then `afterRename`, then fsync
 * the folder. A crash at any instant leaves whatever `file` held before whole.
 */
async function writeAtomically(file: string, bytes: Uint8Array, { afterRename, replace = true, createFolder = true }: WriteOptions = {}): Promise<string> {
  const dir = path.dirname(file);
  let temp: string | undefined;
  let made: string[] = [];
  try {
    if (createFolder) made = makeFolder(dir);
    temp = await writeTemp(dir, path.basename(file), bytes);
    if (replace) await fs.rename(temp, file);
    else await linkAsNew(temp, file);
    temp = undefined;
    await afterRename?.();
    await syncDir(dir);
  } catch (e) {
    if (temp !== undefined) await fs.rm(temp, { force: true }).catch(() => undefined);
    removeEmptyFolders(made);
    if (e instanceof UserError || e instanceof FileExistsError) throw e; // afterRename's, which names its own file
    throw new UserError(`cannot save checkpoint ${file}: ${describeFsError(e)}.`, { cause: e });
  }
  return file;
}

/**
 * Saves `c` as dir/fileName and makes dir/last.safetensors the same content. A crash at
 * any instant leaves both the previous checkpoint and last.safetensors whole. Returns the
 * path. `createFolder: false` for a run's own folder, which must not come back once gone.
 */
export async function saveCheckpoint(dir: string, fileName: string, c: Checkpoint, { createFolder = true } = {}): Promise<string> {
  const bytes = encodeCheckpoint(c);
  const finalPath = path.join(dir, fileName);
  return writeAtomically(finalPath, bytes, { afterRename: fileName === LAST_NAME ? undefined : () => updateLast(dir, bytes), createFolder });
}

/**
 * Saves `c` as a new file `file`, touching no other file and never replacing one (throws
 * FileExistsError): for checkpoints that belong to no run folder, such as imported weights.
 */
export async function writeCheckpointFile(file: string, c: Checkpoint): Promise<string> {
  return writeAtomically(file, encodeCheckpoint(c), { replace: false });
}

/** `file`, or the checkpoint it stands for when it is a run folder (runFolderCheckpoint; else its last.safetensors, to say it is missing). */
export async function resolveCheckpointFile(file: string): Promise<string> {
  const stat = await fs.stat(file).catch(() => undefined);
  return stat?.isDirectory() ? runFolderCheckpoint(file) ?? path.join(file, LAST_NAME) : file;
}

/**
 * The checkpoint a run folder stands for: its last.safetensors, or, where the run stopped
 * between renaming its first numbered checkpoint into place and writing last.safetensors
 * (killed, a second Ctrl-C, a full disk), that newest numbered one. (Stopped there at a
 * later save, last.safetensors is the save before: a valid checkpoint of the same run, from
 * which resume redoes the lost steps bit for bit.) undefined when the folder has neither.
 */
export function runFolderCheckpoint(dir: string): string | undefined {
  const last = path.join(dir, LAST_NAME);
  if (existsSync(last)) return last;
  try {
    return numberedCheckpoints(dir, readdirSync(dir)).at(-1)?.path;
  } catch {
    return undefined;
  }
}

/** Loads a checkpoint file, or the checkpoint a run folder stands for (runFolderCheckpoint). */
export async function loadCheckpoint(file: string): Promise<Checkpoint> {
  const target = await resolveCheckpointFile(file);
  return decodeCheckpoint(await readCheckpointBytes(target), target);
}

/** The bytes of the checkpoint file `file`, or one sentence saying why they cannot be read. */
export async function readCheckpointBytes(file: string): Promise<Uint8Array> {
  try {
    refuseSpecialFile(await fs.stat(file), `cannot read ${file}: it is not a regular file.`);
    return await fs.readFile(file);
  } catch (e) {
    if (e instanceof UserError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`no checkpoint at ${file}; train one with \`npx nnfs train\`.`);
    throw new UserError(`cannot read ${file}: ${describeFsError(e)}.`);
  }
}

/** Numbered checkpoints in `dir`, oldest first by (epoch, step); [] when the folder does not exist. */
export async function listCheckpoints(dir: string): Promise<CheckpointFile[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new UserError(`cannot list ${dir}: ${describeFsError(e)}.`);
  }
  return numberedCheckpoints(dir, names);
}

/** The numbered checkpoints among `names`, the entries of `dir`, oldest first by (epoch, step). */
function numberedCheckpoints(dir: string, names: string[]): CheckpointFile[] {
  const files: CheckpointFile[] = [];
  for (const name of names) {
    const parsed = parseCheckpointName(name);
    if (parsed) files.push({ name, path: path.join(dir, name), ...parsed });
  }
  return files.sort((a, b) => a.epoch - b.epoch || a.step - b.step || a.name.localeCompare(b.name));
}

/** Deletes all but the newest `keep` numbered checkpoints; never touches last.safetensors. Returns the removed paths. */
export async function pruneCheckpoints(dir: string, keep: number, upTo?: { epoch: number; step: number }): Promise<string[]> {
  if (!Number.isInteger(keep) || keep < 0) throw new Error(`keep must be a non-negative integer, got ${keep}`);
  // A run resumed from an older checkpoint leaves the later files of its first attempt alone
  // (they are not newer than what it just wrote, only further along).
  const files = (await listCheckpoints(dir)).filter((f) => !upTo || f.epoch < upTo.epoch || (f.epoch === upTo.epoch && f.step <= upTo.step));
  const doomed = files.slice(0, Math.max(0, files.length - keep));
  for (const f of doomed) {
    try {
      await fs.rm(f.path, { force: true });
    } catch (e) {
      throw new UserError(`cannot remove old checkpoint ${f.path}: ${describeFsError(e)}.`);
    }
  }
  return doomed.map((f) => f.path);
}

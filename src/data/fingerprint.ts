// The name of a data set in checkpoints: resuming on other data is refused. Commands hash it
// on the main thread when they need it; a training run has a worker thread hash it
// (src/commands/training-run.ts hashedOnWorker).

import { createHash } from 'node:crypto';
import { type Dataset, imagesPerSlice, unpackImages } from './dataset.js';

/** What a fingerprint covers: the images' dimensions, pixels and labels. */
export type FingerprintInput = Pick<Dataset, 'count' | 'rows' | 'cols' | 'inputSize' | 'sparse' | 'labels'>;

/**
 * sha256 of the dimensions, pixels and labels: equal for the .gz and plain copies of a set.
 * The pixels are every image's, zeros included, as in the file (unpacked a slice at a time
 * from the packed images the run trains on), so a checkpoint names the data by its content.
 */
export function fingerprint(data: FingerprintInput): string {
  const hash = createHash('sha256').update(`idx images ${data.count}x${data.rows}x${data.cols}\n`);
  const perSlice = imagesPerSlice(data.inputSize);
  const pixels = new Uint8Array(Math.min(data.count, perSlice) * data.inputSize);
  for (let first = 0; first < data.count; first += perSlice) {
    const n = Math.min(perSlice, data.count - first);
    unpackImages(data, first, n, pixels);
    hash.update(pixels.subarray(0, n * data.inputSize));
  }
  return hash.update(`idx labels ${data.count}\n`).update(data.labels).digest('hex');
}

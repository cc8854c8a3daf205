// The name of a data set in checkpoints: resuming on other data is refused. A module of its
// own, so the worker threads that hash it for a training run load nothing else of the loader.

import { createHash } from 'node:crypto';
import type { Dataset } from './dataset.js';

/** What a fingerprint covers: the images' dimensions, pixels and labels (the packed pixels follow from them). */
export type FingerprintInput = Pick<Dataset, 'count' | 'rows' | 'cols' | 'pixels' | 'labels'>;

/** sha256 of the dimensions, pixels and labels: equal for the .gz and plain copies of a set. */
export function fingerprint(data: FingerprintInput): string {
  return createHash('sha256')
    .update(`idx images ${data.count}x${data.rows}x${data.cols}\n`)
    .update(data.pixels)
    .update(`idx labels ${data.count}\n`)
    .update(data.labels)
    .digest('hex');
}

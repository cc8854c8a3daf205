// The original project's toy data set: size x size images, blank but for one full
// horizontal row (label 0) or one full vertical column (label 1). Seeded and pure.

import { UserError } from '../errors.js';
import { LINES_STREAM, hash32 } from '../rng.js';
import { type Dataset, makeDataset, sharedUint8 } from './dataset.js';

/** Label 0; a vertical line is label 1. */
const LINE_HORIZONTAL = 0;

/** `count` images; image i's label and line position depend only on (seed, i). */
export function generateLines(count: number, seed: number, size = 16): Dataset {
  if (!Number.isInteger(count) || count < 1 || count > 1e7) {
    throw new UserError(`the lines data set needs a whole number of images from 1 to 10000000, got ${String(count)}.`);
  }
  if (!Number.isInteger(size) || size < 2 || size > 1024) {
    throw new UserError(`lines images must be from 2 to 1024 pixels wide, got ${String(size)}.`);
  }
  const inputSize = size * size;
  const pixels = sharedUint8(count * inputSize);
  const labels = sharedUint8(count);
  for (let i = 0; i < count; i++) {
    // Two counters per image: one draws the orientation, one the row or column.
    const label = hash32(seed, LINES_STREAM, 2 * i) & 1;
    const at = hash32(seed, LINES_STREAM, 2 * i + 1) % size;
    const base = i * inputSize;
    labels[i] = label;
    for (let k = 0; k < size; k++) {
      // 255 is 1.0 once the engine scales pixels by 1/255.
      pixels[base + (label === LINE_HORIZONTAL ? at * size + k : k * size + at)] = 255;
    }
  }
  return makeDataset(pixels, labels, { count, rows: size, cols: size, classes: 2 });
}

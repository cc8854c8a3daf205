// Random MNIST test digits for the page's "test digits" panel: the raw 28x28 pixels and
// their labels; the page classifies them itself with the model it runs.

import { type Dataset, imagePixels } from '../data/dataset.js';
import { defaultMnistDir, loadSplit } from '../data/mnist.js';
import { MNIST_SIDE } from '../data/preprocess.js';
import { UserError } from '../errors.js';
import type { SamplesFile } from './page/api.js';

/** Samples per request: enough to show a mistake or two at ~93% accuracy, few enough to scan. */
const SAMPLE_COUNT = 24;

/**
 * Loads only the test split: the training set is not needed to show a few digits. The
 * page draws and classifies 28x28 digits of ten classes; other images are refused here
 * (the page reads 784 values per digit, so others became nonsense answers).
 */
export function loadTestSplit(dataDir: string = defaultMnistDir()): Dataset {
  const test = loadSplit(dataDir, 't10k');
  if (test.rows !== MNIST_SIDE || test.cols !== MNIST_SIDE) {
    throw new UserError(`${dataDir} holds ${test.rows}x${test.cols} images; the page shows MNIST's 28x28 digits.`);
  }
  if (test.classes > 10) throw new UserError(`${dataDir} has labels up to ${test.classes - 1}; the page shows the digits 0 to 9.`);
  return test;
}

/** `count` distinct random test digits; random per call so a reload shows new ones. */
export function randomSamples(test: Dataset, count = SAMPLE_COUNT, random: () => number = Math.random): SamplesFile {
  const picked = new Set<number>();
  const want = Math.min(count, test.count);
  while (picked.size < want) picked.add(Math.floor(random() * test.count));
  const samples = [...picked].map((index) => ({
    index,
    label: test.labels[index],
    pixels: Array.from(imagePixels(test, index)),
  }));
  return { rows: test.rows, cols: test.cols, samples };
}

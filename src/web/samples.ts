// Random MNIST test digits for the page's "test digits" panel: the raw 28x28 pixels and
// their labels; the page classifies them itself with the model it runs.

import { type Dataset } from '../data/dataset.js';
import { defaultMnistDir, loadSplit } from '../data/mnist.js';
import type { SamplesFile } from './page/api.js';

/** Samples per request: enough to show a mistake or two at ~93% accuracy, few enough to scan. */
export const SAMPLE_COUNT = 24;

/** Loads only the test split: the training set is not needed to show a few digits. */
export function loadTestSplit(dataDir: string = defaultMnistDir()): Dataset {
  return loadSplit(dataDir, 't10k');
}

/** `count` distinct random test digits; random per call so a reload shows new ones. */
export function randomSamples(test: Dataset, count = SAMPLE_COUNT, random: () => number = Math.random): SamplesFile {
  const picked = new Set<number>();
  const want = Math.min(count, test.count);
  while (picked.size < want) picked.add(Math.floor(random() * test.count));
  const samples = [...picked].map((index) => ({
    index,
    label: test.labels[index],
    pixels: Array.from(test.pixels.subarray(index * test.inputSize, (index + 1) * test.inputSize)),
  }));
  return { rows: test.rows, cols: test.cols, samples };
}

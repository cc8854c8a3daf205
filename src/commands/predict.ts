// `nnfs predict`: shows one digit (a test image or a PNG) as ASCII art with the model's ten
// class probabilities, as the original project's network.py did.

import type { Argv } from 'yargs';
import { imagePixels } from '../data/dataset.js';
import { defaultMnistDir, loadSplit } from '../data/mnist.js';
import { MNIST_SIDE } from '../data/preprocess.js';
import { UserError } from '../errors.js';
import { argmax, forward } from '../model/forward.js';
import { PIXEL_VALUE } from '../model/kernels.js';
import { asciiDigit, formatProbabilities } from '../report/ascii.js';
import { dataOption, jsonOption, oneValue } from './flags.js';
import { checkpointOption, loadModel } from './model-option.js';

export const command = 'predict';
export const describe = 'show a test digit (or a PNG of your own) and what the model thinks it is';

export function builder(yargs: Argv) {
  return yargs
    .option('checkpoint', checkpointOption)
    .option('index', { type: 'string', requiresArg: true, describe: 'test image number, 0-9999', defaultDescription: 'a random one', coerce: oneValue('index') })
    .option('image', { type: 'string', requiresArg: true, describe: 'a PNG of a hand-drawn digit (up to 16,384 pixels a side and 50 million in all, either polarity)', coerce: oneValue('image') })
    .option('data', dataOption)
    .option('json', jsonOption)
    .example('$0 predict', 'a random test digit, with the shipped model')
    .example('$0 predict --index 1234 --checkpoint checkpoints/run1/last.safetensors', 'test digit 1234 with your model')
    .example('$0 predict --image my-digit.png', 'a digit you drew');
}

interface PredictArgs {
  checkpoint?: string;
  /** As given: checked against the test set's size (testDigit). */
  index?: string;
  image?: string;
  data?: string;
  json: boolean;
}

/** The digit to classify: model inputs in 0..1, 0-255 intensities to draw, and what is known about it. */
interface Digit {
  input: Float32Array;
  pixels: Uint8Array;
  rows: number;
  cols: number;
  /** Classes of the data it comes from: the model must have at least this many outputs. */
  classes: number;
  label?: number;
  index?: number;
}

async function pngDigit(file: string): Promise<Digit> {
  // pngjs is loaded only here, so other commands start without it.
  const { readDigitPng } = await import('../data/png.js');
  const input = readDigitPng(file);
  return { input, pixels: Uint8Array.from(input, (v) => Math.round(v * 255)), rows: MNIST_SIDE, cols: MNIST_SIDE, classes: 10 };
}

/** `requested`: --index as given, checked once the test set's size is known, so every wrong value gets the same sentence. */
function testDigit(dataDir: string, requested: string | undefined): Digit {
  const test = loadSplit(dataDir, 't10k');
  const asked = requested !== undefined && /^[+-]?\d+$/.test(requested) ? Number(requested) : NaN;
  if (requested !== undefined && !(Number.isSafeInteger(asked) && asked >= 0 && asked < test.count)) {
    throw new UserError(`--index must be a whole number from 0 to ${test.count - 1}, got ${requested}.`);
  }
  const index = requested === undefined ? Math.floor(Math.random() * test.count) : asked;
  const pixels = imagePixels(test, index);
  // The same byte -> float32 table as training, so a test image gives the kernels' exact inputs.
  const input = Float32Array.from(pixels, (v) => PIXEL_VALUE[v]);
  return { input, pixels, rows: test.rows, cols: test.cols, classes: test.classes, label: test.labels[index], index };
}

export async function handler(args: PredictArgs): Promise<void> {
  if (args.image !== undefined && args.index !== undefined) throw new UserError('give --index or --image, not both.');
  // Said rather than ignored: whoever gives both may think the image is checked against that data.
  if (args.image !== undefined && args.data !== undefined) throw new UserError('--data names test images for --index; an --image needs none.');
  const digit = args.image !== undefined ? await pngDigit(args.image) : testDigit(args.data ?? defaultMnistDir(), args.index);
  const what = args.image !== undefined ? 'a digit from a PNG' : 'this test set';
  const model = await loadModel(args.checkpoint, digit.input.length, digit.classes, what);
  const probs = new Float32Array(model.spec.sizes[model.spec.sizes.length - 1]);
  forward(model.spec, model.params, digit.input, probs);
  const predicted = argmax(probs);

  if (args.json) {
    const result: Record<string, unknown> = { predicted, probabilities: Array.from(probs) };
    if (digit.label !== undefined) result.label = digit.label;
    if (digit.index !== undefined) result.index = digit.index;
    process.stdout.write(JSON.stringify(result) + '\n');
    return;
  }
  const lines = [asciiDigit(digit.pixels, digit.rows, digit.cols), '', formatProbabilities(probs), `predicted: ${predicted}`];
  if (digit.label !== undefined) lines.push(`label: ${digit.label} (test image ${digit.index})`);
  process.stdout.write(lines.join('\n') + '\n');
}

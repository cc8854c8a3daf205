// `nnfs lines`: the original project's toy — a 256-16-2 network told horizontal from
// vertical lines — trained on the same coordinator, kernels and optimiser as MNIST runs.

import type { Argv } from 'yargs';
import { DEFAULTS, layerSizes, ORIGINAL_RECIPE, validateConfig, type TrainConfig } from '../config.js';
import { generateLines } from '../data/lines.js';
import { initParams } from '../model/init.js';
import { modelSpec } from '../model/spec.js';
import { Coordinator } from '../train/coordinator.js';
import { microbatchShape } from '../train/protocol.js';
import { integer, jsonOption, MAX_THREADS, threadPlan } from './flags.js';

export const command = 'lines';
export const describe = "the original's toy: tell horizontal from vertical lines in 16x16 images (256-16-2, per-sample SGD)";

/** The loss is reported as its mean over each run of this many samples, as the original did. */
const LOSS_EVERY = 100;

/**
 * --train and --test at most: both at this size fit the shared memory and run in about 6 s
 * here; 10 million of each failed after 12 s and 3 GB with a sentence about the model.
 */
const MAX_IMAGES = 4_000_000;

export function builder(yargs: Argv) {
  return yargs
    .option('train', { type: 'string', requiresArg: true, describe: 'generated training images', default: '1500', coerce: integer('train', 1, MAX_IMAGES) })
    .option('test', { type: 'string', requiresArg: true, describe: 'generated test images', default: '10000', coerce: integer('test', 1, MAX_IMAGES) })
    .option('seed', { type: 'string', requiresArg: true, describe: 'seed for the images and the initial weights', default: '1', coerce: integer('seed', 0, 0xffffffff) })
    .option('threads', { type: 'string', requiresArg: true, describe: 'worker threads (one sample per step leaves little to share)', default: '1', coerce: integer('threads', 1, MAX_THREADS) })
    .option('json', jsonOption)
    .example('$0 lines', 'with the default seed, 37% right before training and all right after one pass over 1,500 images');
}

interface LinesArgs {
  train: number;
  test: number;
  seed: number;
  threads: number;
  json: boolean;
}

/** Mean of each full or final partial run of `every` values. */
function blockMeans(values: Float64Array, every: number): { samples: number; loss: number }[] {
  const out: { samples: number; loss: number }[] = [];
  for (let from = 0; from < values.length; from += every) {
    const to = Math.min(values.length, from + every);
    let sum = 0;
    for (let i = from; i < to; i++) sum += values[i];
    out.push({ samples: to, loss: sum / (to - from) });
  }
  return out;
}

export async function handler(args: LinesArgs): Promise<void> {
  // The original recipe: N(0, 1) initialisation, plain SGD, one sample per step, one epoch.
  const config: TrainConfig = validateConfig({ ...DEFAULTS, ...ORIGINAL_RECIPE, hidden: [16], epochs: 1, seed: args.seed });
  const train = generateLines(args.train, args.seed);
  // Another seed, so the test images are drawn independently of the training images.
  const test = generateLines(args.test, (args.seed + 1) >>> 0);
  const spec = modelSpec(layerSizes(config, train.inputSize, train.classes));
  const coordinator = new Coordinator(spec, config, { train, test }, threadPlan(args.threads, microbatchShape(config)).workers);
  try {
    const { run, geometry } = coordinator;
    initParams(spec, config.init, config.seed, run.params);
    const before = await coordinator.evaluate();
    const say = (line: string) => { if (!args.json) process.stdout.write(line + '\n'); };
    const images = `${test.count} image${test.count === 1 ? '' : 's'}`;
    say(`before training: ${(before.accuracy * 100).toFixed(2)}% correct on ${images}`);

    // The images are already in random order, so the epoch walks them as generated.
    for (let i = 0; i < train.count; i++) run.order[i] = i;
    await coordinator.trainSteps(0, 0, geometry.stepsPerEpoch, 0);
    // One sample per step: run.losses holds each sample's loss, in training order.
    const losses = blockMeans(run.losses.subarray(0, train.count), LOSS_EVERY);
    for (const l of losses) say(`samples ${l.samples}: loss ${l.loss.toFixed(4)}`);

    const after = await coordinator.evaluate();
    say(`after training: ${(after.accuracy * 100).toFixed(2)}% correct on ${images}`);
    if (args.json) {
      process.stdout.write(JSON.stringify({ before: before.accuracy, after: after.accuracy, losses: losses.map((l) => l.loss), testLoss: after.loss }) + '\n');
    }
  } finally {
    await coordinator.close();
  }
}

// `nnfs train`: trains a network from scratch on MNIST (or --data) with every core.

import type { Argv } from 'yargs';
import { UserError } from '../errors.js';
import { DEFAULTS, INITS, KERNELS, OPTIMIZERS, ORIGINAL_RECIPE, validateConfig, type InitName, type OptimizerName, type TrainConfig, type TrainKernel } from '../config.js';
import { loadMnist } from '../data/mnist.js';
import { choice, dataOption, decayFactor, fraction, integer, integerList, jsonOption, keepOption, oneValue, positive, saveEveryStepsOption, threadsOption } from './flags.js';
import { runTraining } from './training-run.js';

export const command = 'train';
export const describe = 'train a network on MNIST with every core its batch can use, saving checkpoints each epoch';

/** ORIGINAL_RECIPE as flags, so the help's example cannot drift from it. */
const ORIGINAL_FLAGS = `--optimizer ${ORIGINAL_RECIPE.optimizer} --lr ${ORIGINAL_RECIPE.lr} --lr-decay ${ORIGINAL_RECIPE.lrDecay} --batch-size ${ORIGINAL_RECIPE.batchSize} --init ${ORIGINAL_RECIPE.init}`;

export function builder(yargs: Argv) {
  return yargs
    .option('threads', threadsOption)
    .option('epochs', { type: 'string', requiresArg: true, describe: 'epochs to train', default: String(DEFAULTS.epochs), coerce: integer('epochs', 1, 1_000_000) })
    .option('batch-size', { type: 'string', requiresArg: true, describe: 'samples per optimiser step', default: String(DEFAULTS.batchSize), coerce: integer('batch-size', 1, 1_000_000) })
    .option('lr', { type: 'string', requiresArg: true, describe: 'learning rate (of the first epoch)', default: String(DEFAULTS.lr), coerce: positive('lr') })
    .option('lr-decay', { type: 'string', requiresArg: true, describe: 'multiply the learning rate by this after every epoch, in (0, 1] (1: constant)', default: String(DEFAULTS.lrDecay), coerce: decayFactor('lr-decay') })
    .option('optimizer', { type: 'string', requiresArg: true, describe: 'sgd | momentum | adam', default: DEFAULTS.optimizer, coerce: choice('optimizer', OPTIMIZERS) })
    .option('hidden', { type: 'string', requiresArg: true, describe: 'hidden layer widths, e.g. 16 or 128,64', default: DEFAULTS.hidden.join(','), coerce: integerList('hidden', 1, 100_000) })
    .option('init', { type: 'string', requiresArg: true, describe: "he (N(0, 2/fan_in)) or randn (the original's N(0, 1))", default: DEFAULTS.init, coerce: choice('init', INITS) })
    .option('momentum', { type: 'string', requiresArg: true, describe: 'momentum coefficient (--optimizer momentum)', defaultDescription: JSON.stringify(String(DEFAULTS.momentum)), coerce: fraction('momentum') })
    .option('seed', { type: 'string', requiresArg: true, describe: 'seed for initialisation and shuffling', default: String(DEFAULTS.seed), coerce: integer('seed', 0, 0xffffffff) })
    .option('microbatch', { type: 'string', requiresArg: true, describe: 'samples per gradient slot (fixes the summation order)', default: String(DEFAULTS.microbatch), coerce: integer('microbatch', 1, 1_000_000) })
    .option('kernel', { type: 'string', requiresArg: true, describe: 'wasm (WebAssembly SIMD), sparse (JS, nonzero pixels only) or dense (JS, the reference)', default: DEFAULTS.kernel, coerce: choice('kernel', KERNELS) })
    .option('data', dataOption)
    .option('out', { type: 'string', requiresArg: true, describe: 'run folder for checkpoints and metrics.jsonl', defaultDescription: 'checkpoints/run-<time>', coerce: oneValue('out') })
    .option('save-every-steps', saveEveryStepsOption)
    .option('keep', keepOption)
    .option('json', jsonOption)
    .example('$0 train', 'the default recipe')
    .example(`$0 train ${ORIGINAL_FLAGS} --epochs 200`, "the original project's recipe")
    .example('$0 train --threads 8 --hidden 128,64 --epochs 10 --out checkpoints/big', 'a bigger model');
}

interface TrainArgs {
  threads: number;
  epochs: number;
  batchSize: number;
  lr: number;
  lrDecay: number;
  optimizer: OptimizerName;
  hidden: number[];
  init: InitName;
  momentum?: number;
  seed: number;
  microbatch: number;
  kernel: TrainKernel;
  data?: string;
  out?: string;
  saveEverySteps: number;
  keep: number;
  json: boolean;
}

export async function handler(args: TrainArgs): Promise<void> {
  // Said rather than ignored: whoever gives it may think it changes their run.
  if (args.momentum !== undefined && args.optimizer !== 'momentum') {
    throw new UserError(`--momentum is for --optimizer momentum; ${args.optimizer} takes none.`);
  }
  const config: TrainConfig = validateConfig({
    ...DEFAULTS,
    hidden: args.hidden,
    optimizer: args.optimizer,
    lr: args.lr,
    lrDecay: args.lrDecay,
    batchSize: args.batchSize,
    epochs: args.epochs,
    seed: args.seed,
    init: args.init,
    momentum: args.momentum ?? DEFAULTS.momentum,
    microbatch: args.microbatch,
    kernel: args.kernel,
  });
  await runTraining({
    config,
    loadData: (whenTrainLoaded) => {
      const data = loadMnist(args.data, { whenTrainLoaded });
      // Each step would take the whole set while the run claimed batches of this size.
      if (config.batchSize > data.train.count) {
        throw new UserError(`--batch-size ${config.batchSize} is more than the ${data.train.count} training image${data.train.count === 1 ? '' : 's'}; --batch-size ${data.train.count} trains on ${data.train.count === 1 ? 'it' : 'all of them'} at each step.`);
      }
      return data;
    },
    dataDir: args.data,
    threads: args.threads,
    outDir: args.out,
    json: args.json,
    saveEverySteps: args.saveEverySteps,
    keep: args.keep,
  });
}

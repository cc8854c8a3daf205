// The one typed training configuration, with documented defaults. The CLI validates
// flags against it; checkpoints store it; resume rebuilds it from there.

import { UserError } from './errors.js';
import type { KernelName } from './model/kernels.js';

export type OptimizerName = 'sgd' | 'momentum' | 'adam';
export type InitName = 'he' | 'randn';
/** The training kernels: they agree to within rounding, not bit for bit, so a run keeps its kernel. */
export type TrainKernel = Exclude<KernelName, 'none'>;

export interface TrainConfig {
  /** Hidden layer widths; input size and class count come from the data. */
  hidden: number[];
  optimizer: OptimizerName;
  /** Learning rate of the first epoch. */
  lr: number;
  /** Each epoch's learning rate is the previous one times this (1: constant). */
  lrDecay: number;
  /** Samples per optimiser step; the gradient is their mean. */
  batchSize: number;
  /** Total epochs of the run. */
  epochs: number;
  /** One seed fixes initialisation and every epoch's shuffle order. */
  seed: number;
  /** 'he': N(0, 2/fan_in), 'randn': N(0, 1) as the original project. */
  init: InitName;
  /** Momentum coefficient for 'momentum' (PyTorch's SGD momentum). */
  momentum: number;
  /** Adam's moment decay rates and epsilon. */
  beta1: number;
  beta2: number;
  eps: number;
  /**
   * Samples per microbatch: each step's batch is cut into pieces of this size whose
   * gradients are summed over a fixed tree (train/reduction-tree.ts), so results do not
   * depend on the thread count.
   */
  microbatch: number;
  /** 'wasm' (WebAssembly SIMD), 'sparse' (JS over nonzero pixels) or 'dense' (the JS reference). */
  kernel: TrainKernel;
}

/** Defaults chosen by measurement (see README, "Choosing the default recipe"). */
export const DEFAULTS: TrainConfig = {
  hidden: [16],
  optimizer: 'adam',
  lr: 0.005,
  lrDecay: 0.7,
  batchSize: 32,
  epochs: 8,
  seed: 1,
  init: 'he',
  momentum: 0.9,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  microbatch: 16,
  kernel: 'wasm',
};

/** The original project's recipe, reproducible as flags. */
export const ORIGINAL_RECIPE: Partial<TrainConfig> = {
  optimizer: 'sgd',
  lr: 0.01,
  lrDecay: 1,
  batchSize: 1,
  init: 'randn',
};

export const OPTIMIZERS: readonly OptimizerName[] = ['sgd', 'momentum', 'adam'];
export const INITS: readonly InitName[] = ['he', 'randn'];
export const KERNELS: readonly TrainKernel[] = ['wasm', 'sparse', 'dense'];

function positiveInteger(name: string, value: number, max = 1e9): void {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new UserError(`--${name} must be a whole number from 1 to ${max}, got ${String(value)}.`);
  }
}

/** `name` as the user would know it: a flag, or for Adam's constants (no flags; only a damaged checkpoint can hold a bad one) the config's word. */
const shownName = (name: string): string => (['beta1', 'beta2', 'eps'].includes(name) ? `Adam's ${name}` : `--${name}`);

function positiveNumber(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new UserError(`${shownName(name)} must be a positive number, got ${String(value)}.`);
  }
}

/** Checks every field; throws a UserError naming the first bad one. */
export function validateConfig(config: TrainConfig): TrainConfig {
  if (config.hidden.length === 0) throw new UserError('--hidden needs at least one layer width, such as 16 or 128,64.');
  for (const width of config.hidden) positiveInteger('hidden', width, 100000);
  if (!OPTIMIZERS.includes(config.optimizer)) {
    throw new UserError(`--optimizer must be one of ${OPTIMIZERS.join(', ')}, got ${String(config.optimizer)}.`);
  }
  if (!KERNELS.includes(config.kernel)) throw new UserError(`--kernel must be one of ${KERNELS.join(', ')}, got ${String(config.kernel)}.`);
  if (!INITS.includes(config.init)) throw new UserError(`--init must be one of ${INITS.join(', ')}, got ${String(config.init)}.`);
  positiveNumber('lr', config.lr);
  if (!Number.isFinite(config.lrDecay) || config.lrDecay <= 0 || config.lrDecay > 1) {
    throw new UserError(`--lr-decay must be a number in (0, 1], got ${String(config.lrDecay)}.`);
  }
  positiveInteger('batch-size', config.batchSize, 1_000_000);
  positiveInteger('epochs', config.epochs, 1_000_000);
  positiveInteger('microbatch', config.microbatch, 1_000_000);
  if (!Number.isInteger(config.seed) || config.seed < 0 || config.seed > 0xffffffff) {
    throw new UserError(`--seed must be a whole number from 0 to 4294967295, got ${String(config.seed)}.`);
  }
  for (const [name, value] of [['momentum', config.momentum], ['beta1', config.beta1], ['beta2', config.beta2]] as const) {
    if (!Number.isFinite(value) || value < 0 || value >= 1) throw new UserError(`${shownName(name)} must be in [0, 1), got ${String(value)}.`);
  }
  positiveNumber('eps', config.eps);
  return config;
}

/** Layer sizes of the model this config trains on data of the given shape. */
export function layerSizes(config: TrainConfig, inputSize: number, classes: number): number[] {
  return [inputSize, ...config.hidden, classes];
}

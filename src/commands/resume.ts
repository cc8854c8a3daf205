// `nnfs resume`: continues a run from a checkpoint exactly as if it had never stopped.

import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Argv } from 'yargs';
import { LAST_NAME, listCheckpoints, loadCheckpoint, parseCheckpointName, resolveCheckpointFile } from '../checkpoint/store.js';
import type { Checkpoint, RunPosition } from '../checkpoint/types.js';
import { layerSizes, validateConfig, type TrainConfig } from '../config.js';
import { UserError } from '../errors.js';
import { loadMnist } from '../data/mnist.js';
import { optimizerStateNames } from '../train/optimizer.js';
import { stepGeometry } from '../train/protocol.js';
import { dataOption, integer, jsonOption, keepOption, oneValue, saveEveryStepsOption, threadsOption } from './flags.js';
import { runTraining } from './training-run.js';

export const command = 'resume';
export const describe = 'continue a run from a checkpoint (model, optimiser state, data order and position come from it)';

/** Flags for what the checkpoint says the run is; refused with a clear sentence, whatever their value. */
export const FIXED_BY_CHECKPOINT = ['hidden', 'optimizer', 'lr', 'lr-decay', 'kernel', 'batch-size', 'seed', 'init', 'momentum', 'microbatch'];

export function builder(yargs: Argv) {
  let built = yargs
    .option('checkpoint', { type: 'string', requiresArg: true, demandOption: 'name the checkpoint to continue with --checkpoint FILE.', describe: 'checkpoint file (or a run folder: its last.safetensors)', coerce: oneValue('checkpoint') })
    .option('epochs', { type: 'string', requiresArg: true, describe: "the run's new total number of epochs (default: the checkpoint's)", coerce: integer('epochs', 1, 1_000_000) })
    .option('threads', threadsOption)
    .option('data', dataOption)
    .option('save-every-steps', saveEveryStepsOption)
    .option('keep', keepOption)
    .option('json', jsonOption);
  for (const flag of FIXED_BY_CHECKPOINT) {
    built = built.option(flag, { type: 'string', requiresArg: true, hidden: true, coerce: () => {
      throw new UserError(`resume takes no --${flag}: the checkpoint fixes it; to change it, start a new run with \`npx nnfs train\`.`);
    } });
  }
  return built.example('$0 resume --checkpoint checkpoints/run1/last.safetensors --epochs 10', 'train on to 10 epochs in total');
}

interface ResumeArgs {
  checkpoint: string;
  epochs?: number;
  threads: number;
  data?: string;
  saveEverySteps: number;
  keep: number;
  json: boolean;
}

export async function handler(args: ResumeArgs): Promise<void> {
  const checkpoint = await loadCheckpoint(args.checkpoint);
  const config = validateConfig({ ...checkpoint.config, epochs: args.epochs ?? checkpoint.config.epochs });
  const expectedState = optimizerStateNames(config.optimizer).sort().join(', ');
  const foundState = Object.keys(checkpoint.optimizerState).sort().join(', ');
  if (expectedState !== foundState) {
    throw new UserError(`${args.checkpoint} holds optimiser state [${foundState}] but ${config.optimizer} needs [${expectedState}].`);
  }
  if (checkpoint.position.epoch >= config.epochs) {
    const done = checkpoint.position.epoch;
    throw new UserError(done === config.epochs
      ? `the checkpoint already has ${done} of ${config.epochs} epochs; pass a larger --epochs to continue.`
      : `the checkpoint already has ${done} epochs, more than --epochs ${config.epochs}; pass a larger --epochs to continue.`);
  }
  const outDir = await resumeFolder(args.checkpoint, checkpoint);
  const loadData = () => {
    const data = loadMnist(args.data);
    if (data.fingerprint !== checkpoint.dataFingerprint) {
      throw new UserError(`${args.checkpoint} was trained on other data than ${data.dir} (data fingerprints differ); pass the run's data with --data.`);
    }
    const sizes = layerSizes(config, data.train.inputSize, data.train.classes);
    if (sizes.join(',') !== checkpoint.sizes.join(',')) {
      throw new UserError(`${args.checkpoint} is a ${checkpoint.sizes.join('-')} model but the data needs ${sizes.join('-')}.`);
    }
    assertPositionFits(args.checkpoint, checkpoint.position, config, data.train.count);
    return data;
  };
  await runTraining({
    config,
    loadData,
    dataDir: args.data,
    threads: args.threads,
    outDir,
    json: args.json,
    resume: checkpoint,
    // Another resume of this run may have saved into its folder while this one loaded.
    whenLocked: () => assertNotMovedOn(args.checkpoint, checkpoint),
    saveEverySteps: args.saveEverySteps,
    keep: args.keep,
  });
}

/**
 * Where the resumed epochs write their checkpoints and metrics. A run's own checkpoint (a
 * run folder, its last.safetensors or a numbered one) goes on in its folder, unless that
 * would write over another history: the folder's last.safetensors and its numbered
 * checkpoints being different runs, or checkpoints there after a numbered one (resumed in
 * place, the two histories would interleave in its files and its metrics.jsonl). Any other
 * file (the shipped model, an import, a copy) starts a run folder of its own under
 * checkpoints/: undefined.
 */
async function resumeFolder(given: string, checkpoint: Checkpoint): Promise<string | undefined> {
  const file = await resolveCheckpointFile(given);
  const dir = dirname(file);
  const name = basename(file);
  if (name === LAST_NAME) {
    // last.safetensors copied in from elsewhere: going on here would write over this folder's own run.
    const newest = (await listCheckpoints(dir)).at(-1);
    // A damaged neighbour says nothing about whose run this is: it does not stand in the way.
    const neighbour = newest && (await loadCheckpoint(newest.path).catch(() => undefined));
    if (newest && neighbour && !sameRun(neighbour, checkpoint)) {
      throw new UserError(`${file} belongs to another run than ${newest.path} beside it; copy it to a folder of its own to resume it.`);
    }
    return dir;
  }
  if (!parseCheckpointName(name)) return undefined;
  const lastFile = join(dir, LAST_NAME);
  if (existsSync(lastFile) && !sameRun(await loadCheckpoint(lastFile), checkpoint)) {
    throw new UserError(`${file} belongs to another run than ${lastFile}; copy it to a folder of its own to resume it.`);
  }
  const { epoch, step } = checkpoint.position;
  const later = (await listCheckpoints(dir)).filter((f) => f.epoch > epoch || (f.epoch === epoch && f.step > step));
  if (later.length > 0) {
    throw new UserError(`${dir} has checkpoints after ${name} (up to ${later.at(-1)!.name}); to go on from ${name}, copy it to a folder of its own and resume that copy.`);
  }
  return dir;
}

/** Refuses if another run has saved into the checkpoint's folder since `checkpoint` was read from it. */
async function assertNotMovedOn(given: string, checkpoint: Checkpoint): Promise<void> {
  const file = await resolveCheckpointFile(given);
  if (basename(file) !== LAST_NAME) {
    await resumeFolder(given, checkpoint); // its refusals: later checkpoints beside it, another run's last
    return;
  }
  const now = await loadCheckpoint(file);
  const at = (c: Checkpoint) => `${c.position.epoch}/${c.position.step}/${c.position.globalStep}`;
  if (!sameRun(now, checkpoint) || at(now) !== at(checkpoint)) {
    throw new UserError(`${dirname(file)} has moved on since ${given} was read (another run saved into it); resume it again to go on from there.`);
  }
}

/** Two checkpoints of one run: the same model, data and recipe (the epoch total aside, which resume may raise). */
function sameRun(a: Checkpoint, b: Checkpoint): boolean {
  const recipe = (c: Checkpoint) => JSON.stringify(Object.entries({ ...c.config, epochs: 0 }).sort(([x], [y]) => x.localeCompare(y)));
  return a.dataFingerprint === b.dataFingerprint && a.sizes.join() === b.sizes.join() && recipe(a) === recipe(b);
}

/**
 * Refuses a position this run could not have reached (its tensors have a checksum, its
 * metadata has none): a flipped digit in `step` would otherwise resume a different run, or
 * one with a 0-sample epoch, without a word.
 */
function assertPositionFits(given: string, p: RunPosition, config: TrainConfig, samples: number): void {
  const steps = stepGeometry(config, samples).stepsPerEpoch;
  const fits = p.step < steps && p.globalStep === p.epoch * steps + p.step && p.partialSamples === p.step * config.batchSize
    && p.partialLossSum >= 0 && (p.step > 0 || p.partialLossSum === 0);
  if (!fits) {
    throw new UserError(`${given} is damaged: its position (epoch ${p.epoch}, step ${p.step}, global step ${p.globalStep}, ${p.partialSamples} samples and a loss sum of ${p.partialLossSum} into the epoch) is not one a run of ${steps} steps an epoch reaches.`);
  }
}

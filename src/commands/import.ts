// `nnfs import --from-dat DIR`: turns the original project's W1/b1/W2/b2.dat weights into an
// nnfs checkpoint, so its trained model can be used with predict, evaluate and resume.

import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Argv } from 'yargs';
import { readDatWeights } from '../checkpoint/dat-import.js';
import { FileExistsError, removeUnfinishedSaves } from '../checkpoint/safe-files.js';
import { LAST_NAME, parseCheckpointName, writeCheckpointFile } from '../checkpoint/store.js';
import type { Checkpoint } from '../checkpoint/types.js';
import { DEFAULTS, ORIGINAL_RECIPE, validateConfig } from '../config.js';
import { loadMnist } from '../data/mnist.js';
import { INTERRUPTED_EXIT_CODE, UserError } from '../errors.js';
import { offStopSignals, onStopSignals } from '../stop-signals.js';
import { oneValue } from './flags.js';

export const command = 'import';
export const describe = "convert the original project's weight files (W1.dat, b1.dat, W2.dat, b2.dat) into an nnfs checkpoint";

export function builder(yargs: Argv) {
  return yargs
    .option('from-dat', { type: 'string', requiresArg: true, demandOption: 'name the folder of W1.dat, b1.dat, W2.dat and b2.dat with --from-dat DIR.', describe: "folder of the original's float64 .dat weights", coerce: oneValue('from-dat') })
    .option('out', { type: 'string', requiresArg: true, demandOption: 'name the checkpoint to write with --out FILE.safetensors.', describe: 'checkpoint file to write', coerce: oneValue('out') })
    .example('$0 import --from-dat path/to/MNISTDigitRecog --out checkpoints/original.safetensors', "then: npx nnfs evaluate --checkpoint checkpoints/original.safetensors");
}

interface ImportArgs {
  fromDat: string;
  out: string;
}

export async function handler(args: ImportArgs): Promise<void> {
  // A checkpoint there may be a trained model: import never replaces one. Checked first to
  // spare the reading, and again by the write itself, in case the file appears meanwhile.
  if (existsSync(args.out)) throw alreadyExists(args.out);
  if (/[/\\]$/.test(args.out)) throw new UserError(`--out ${args.out} names a folder; give the file to write, such as ${join(args.out, 'original.safetensors')}.`);
  // A run writes these names itself (and would write over the import, or resume the two as one history).
  const name = basename(args.out);
  if (name === LAST_NAME || parseCheckpointName(name)) {
    throw new UserError(`--out ${args.out}: ${name} is a name training runs give their own checkpoints; give another, such as ${join(dirname(args.out), 'original.safetensors')}.`);
  }
  const { sizes, params } = readDatWeights(args.fromDat);
  const checkpoint: Checkpoint = {
    // The recipe the original trained with (200 epochs of per-sample SGD), so the file says how the weights came about.
    config: validateConfig({ ...DEFAULTS, ...ORIGINAL_RECIPE, hidden: sizes.slice(1, -1), epochs: 200 }),
    sizes,
    position: { epoch: 0, step: 0, globalStep: 0, partialLossSum: 0, partialSamples: 0 },
    // The original trained on standard MNIST; its fingerprint lets `nnfs resume` go on training these weights.
    dataFingerprint: loadMnist().fingerprint,
    params,
    optimizerState: {},
  };
  // Ctrl-C while the file is written: its temporary file goes too, and nothing is left.
  const interrupted = () => {
    removeUnfinishedSaves(dirname(args.out));
    process.stderr.write(existsSync(args.out) ? `\ninterrupted once ${args.out} was written whole.\n` : '\ninterrupted; nothing was written.\n');
    process.exit(INTERRUPTED_EXIT_CODE);
  };
  onStopSignals(interrupted);
  const file = await writeCheckpointFile(args.out, checkpoint).catch((e: unknown) => {
    throw e instanceof FileExistsError ? alreadyExists(args.out) : e;
  }).finally(() => {
    offStopSignals(interrupted);
  });
  process.stdout.write(`wrote ${file}: the original's ${sizes.join('-')} weights from ${args.fromDat}\n`);
}

function alreadyExists(out: string): UserError {
  return new UserError(`${out} already exists; import writes only a new file, so give another --out.`);
}

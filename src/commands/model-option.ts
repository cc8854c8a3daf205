// What predict and evaluate share: the --checkpoint flag (serve's too), its shipped default,
// and the check that the model fits the data it is asked about.

import { existsSync } from 'node:fs';
import { decodeCheckpoint } from '../checkpoint/format.js';
import { readCheckpointBytes, resolveCheckpointFile } from '../checkpoint/store.js';
import type { Checkpoint } from '../checkpoint/types.js';
import { UserError } from '../errors.js';
import { modelSpec, type ModelSpec } from '../model/spec.js';
import { pretrainedCheckpoint } from '../package-paths.js';
import { oneValue } from './flags.js';

export const checkpointOption = {
  type: 'string',
  requiresArg: true,
  describe: 'checkpoint file (or a run folder: its last.safetensors)',
  defaultDescription: 'the shipped checkpoints/pretrained.safetensors',
  coerce: oneValue('checkpoint'),
} as const;

/** A loaded model and the checkpoint it came from. */
export interface Model {
  file: string;
  spec: ModelSpec;
  params: Float32Array;
  checkpoint: Checkpoint;
}

/** Loads `file` (or the shipped model) and checks it takes `inputSize` inputs and gives at least `classes` classes. */
export async function loadModel(file: string | undefined, inputSize: number, classes: number, what: string): Promise<Model> {
  if (file === undefined && !existsSync(pretrainedCheckpoint())) {
    throw new UserError(`no pretrained model at ${pretrainedCheckpoint()} (this copy of nnfs ships without one); pass --checkpoint FILE or train one with \`npx nnfs train\`.`);
  }
  // A run folder named as the file it stands for, so the output says which checkpoint was used.
  const path = await resolveCheckpointFile(file ?? pretrainedCheckpoint());
  const checkpoint = decodeCheckpoint(await readCheckpointBytes(path), path);
  const sizes = checkpoint.sizes;
  const outputs = sizes[sizes.length - 1];
  if (sizes[0] !== inputSize || outputs < classes) {
    throw new UserError(
      `${path} is a ${sizes.join('-')} model, but ${what} needs ${inputSize} inputs and ${classes} classes.`,
    );
  }
  return { file: path, spec: modelSpec(sizes), params: checkpoint.params, checkpoint };
}

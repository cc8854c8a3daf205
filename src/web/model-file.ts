// Checkpoint bytes -> the weights the page needs, with no Node APIs: format.ts hashes with
// node:crypto, so the browser reads the same safetensors layout through safetensors.ts
// and rebuilds the engine's input-major layout itself. The server already validated the
// whole checkpoint (checksum included) before offering it.

import { FORMAT_NAME } from '../checkpoint/format-name.js';
import { decodeSafetensors, type TensorOut } from '../checkpoint/safetensors.js';
import { modelSpec, setWeightsFromOutByIn, type ModelSpec } from '../model/spec.js';

export interface WebModel {
  spec: ModelSpec;
  params: Float32Array;
  /** Epochs the checkpoint was trained for, when its metadata says. */
  epoch?: number;
  /** Steps it was trained for in all (0 for imported weights: no history here), when its metadata says. */
  globalStep?: number;
  /** The optimiser named in its config, when present. */
  optimizer?: string;
}

function tensor(tensors: Map<string, TensorOut>, name: string, shape: number[]): Float32Array {
  const t = tensors.get(name);
  if (t === undefined) throw new Error(`the model file has no tensor ${name}.`);
  if (t.dtype !== 'F32' || t.shape.join(',') !== shape.join(',')) {
    throw new Error(`the model file's tensor ${name} is ${t.dtype} [${t.shape.join(',')}], expected F32 [${shape.join(',')}].`);
  }
  return t.data as Float32Array;
}

/** Decodes an nnfs checkpoint into the flat parameter layout forward() reads. */
export function decodeWebModel(bytes: Uint8Array): WebModel {
  const { metadata, tensors } = decodeSafetensors(bytes);
  if (metadata.format !== FORMAT_NAME) throw new Error('the model file is not an nnfs checkpoint.');
  let sizes: unknown;
  try {
    sizes = JSON.parse(metadata.sizes ?? '');
  } catch {
    throw new Error('the model file has no readable layer sizes.');
  }
  if (!Array.isArray(sizes) || !sizes.every((s) => Number.isSafeInteger(s) && s > 0)) {
    throw new Error('the model file has no readable layer sizes.');
  }
  const spec = modelSpec(sizes as number[]);
  const params = new Float32Array(spec.paramCount);
  spec.layers.forEach((layer, l) => {
    const { inputs, outputs, biasOffset } = layer;
    setWeightsFromOutByIn(layer, tensor(tensors, `layers.${l}.weight`, [outputs, inputs]), params);
    params.set(tensor(tensors, `layers.${l}.bias`, [outputs]), biasOffset);
  });
  const epoch = Number(metadata.epoch);
  const globalStep = Number(metadata.global_step);
  let optimizer: string | undefined;
  try {
    const config = JSON.parse(metadata.config ?? '{}') as { optimizer?: unknown };
    if (typeof config.optimizer === 'string') optimizer = config.optimizer;
  } catch {
    // The config is only shown as a caption; the weights are what matter.
  }
  const count = (n: number) => (Number.isSafeInteger(n) ? n : undefined);
  return { spec, params, epoch: count(epoch), globalStep: count(globalStep), optimizer };
}

// A Checkpoint <-> safetensors bytes: names and transposes the tensors (PyTorch's
// out x in on disk, input-major in the engine), writes the run's position as string
// metadata, and on reading checks every field before anything uses it.

import { createHash } from 'node:crypto';
import { validateConfig, type TrainConfig } from '../config.js';
import { UserError } from '../errors.js';
import { modelSpec, setWeightsFromOutByIn, weightsOutByIn, type ModelSpec } from '../model/spec.js';
import { decodeSafetensors, encodeSafetensors, type TensorIn, type TensorOut } from './safetensors.js';
import type { Checkpoint, RunPosition } from './types.js';
import { FORMAT_NAME } from './format-name.js';

export const FORMAT_VERSION = 1;

const weightName = (prefix: string, layer: number): string => `${prefix}layers.${layer}.weight`;
const biasName = (prefix: string, layer: number): string => `${prefix}layers.${layer}.bias`;
const OPTIMIZER_TENSOR = /^optimizer\.([A-Za-z0-9_]+)\.layers\.\d+\.(?:weight|bias)$/;
/** Far beyond any real MLP: a forged sizes list of millions of layers is refused before anything is built from it. */
const MAX_LAYERS = 10_000;

/** Engine layout (input-major) -> one out x in tensor per layer plus its bias. */
function layerTensors(spec: ModelSpec, flat: Float32Array, prefix: string): TensorIn[] {
  const tensors: TensorIn[] = [];
  spec.layers.forEach((layer, l) => {
    const { inputs, outputs, biasOffset } = layer;
    tensors.push({ name: weightName(prefix, l), dtype: 'F32', shape: [outputs, inputs], data: weightsOutByIn(layer, flat) });
    tensors.push({ name: biasName(prefix, l), dtype: 'F32', shape: [outputs], data: flat.slice(biasOffset, biasOffset + outputs) });
  });
  return tensors;
}

/** Encodes a checkpoint as safetensors bytes that PyTorch and Hugging Face tools can read. */
export function encodeCheckpoint(c: Checkpoint): Uint8Array {
  const spec = modelSpec(c.sizes);
  if (c.params.length !== spec.paramCount) throw new Error(`params has ${c.params.length} values; sizes ${c.sizes.join(',')} need ${spec.paramCount}`);
  const p = c.position;
  if (!Number.isFinite(p.partialLossSum)) {
    throw new UserError('cannot save a checkpoint: the running training loss is not a finite number (training diverged; try a lower --lr).');
  }
  for (const [name, value] of Object.entries({ epoch: p.epoch, step: p.step, globalStep: p.globalStep, partialSamples: p.partialSamples })) {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`position.${name} must be a non-negative integer, got ${value}`);
  }
  const tensors = layerTensors(spec, c.params, '');
  // Sorted so equal checkpoints give equal bytes.
  for (const name of Object.keys(c.optimizerState).sort()) {
    const state = c.optimizerState[name];
    if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`optimizer state name ${name} must be letters, digits or _`);
    if (state.length !== spec.paramCount) throw new Error(`optimizer state ${name} has ${state.length} values, expected ${spec.paramCount}`);
    tensors.push(...layerTensors(spec, state, `optimizer.${name}.`));
  }
  const metadata: Record<string, string> = {
    format: FORMAT_NAME,
    format_version: String(FORMAT_VERSION),
    sizes: JSON.stringify(c.sizes),
    // Keys sorted, so the same config always gives the same bytes (a resumed run's checkpoints equal the uninterrupted run's).
    config: JSON.stringify(Object.fromEntries(Object.entries(c.config).sort(([a], [b]) => (a < b ? -1 : 1)))),
    epoch: String(p.epoch),
    step: String(p.step),
    global_step: String(p.globalStep),
    // String() of a double is its shortest round-tripping decimal, so Number() gets the same bits back.
    partial_loss_sum: String(p.partialLossSum),
    partial_samples: String(p.partialSamples),
    data_fingerprint: c.dataFingerprint,
    tensor_sha256: '',
  };
  // The checksum covers the data section, which does not depend on the metadata: encode once to
  // get those bytes, then again with the checksum filled in.
  const draft = encodeSafetensors(tensors, metadata);
  const headerLength = Number(new DataView(draft.buffer, draft.byteOffset, 8).getBigUint64(0, true));
  metadata.tensor_sha256 = sha256(draft.subarray(8 + headerLength));
  return encodeSafetensors(tensors, metadata);
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Reads the metadata fields one by one, each failure naming the source and the field. */
class MetadataReader {
  constructor(private readonly source: string, private readonly metadata: Record<string, string>) {}

  fail(detail: string): never {
    throw new UserError(`${this.source} is not a valid nnfs checkpoint: ${detail}.`);
  }

  string(key: string): string {
    const value = this.metadata[key];
    if (value === undefined) this.fail(`its metadata has no ${key}`);
    return value;
  }

  json(key: string): unknown {
    try {
      return JSON.parse(this.string(key)) as unknown;
    } catch (e) {
      if (e instanceof UserError) throw e;
      return this.fail(`its metadata field ${key} is not valid JSON`);
    }
  }

  count(key: string): number {
    const text = this.string(key);
    const value = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) this.fail(`its metadata field ${key} is ${JSON.stringify(text)}, not a non-negative whole number`);
    return value;
  }

  finite(key: string): number {
    const text = this.string(key);
    const value = Number(text);
    // Number('') and Number(' ') are 0, so demand some text that is not blank.
    if (text.trim() === '' || !Number.isFinite(value)) this.fail(`its metadata field ${key} is ${JSON.stringify(text)}, not a finite number`);
    return value;
  }
}

function readSizes(meta: MetadataReader): number[] {
  const sizes = meta.json('sizes');
  if (!Array.isArray(sizes) || sizes.length < 2 || !sizes.every((s) => Number.isSafeInteger(s) && (s as number) > 0)) {
    meta.fail('its layer sizes are not a list of at least two positive whole numbers');
  }
  if (sizes.length - 1 > MAX_LAYERS) meta.fail(`its layer sizes describe ${sizes.length - 1} layers; nnfs reads at most ${MAX_LAYERS}`);
  return sizes as number[];
}

const CONFIG_FIELDS: Record<keyof TrainConfig, 'number' | 'string' | 'number[]'> = {
  hidden: 'number[]',
  optimizer: 'string',
  lr: 'number',
  lrDecay: 'number',
  kernel: 'string',
  batchSize: 'number',
  epochs: 'number',
  seed: 'number',
  init: 'string',
  momentum: 'number',
  beta1: 'number',
  beta2: 'number',
  eps: 'number',
  microbatch: 'number',
};

function readConfig(meta: MetadataReader, source: string, sizes: number[]): TrainConfig {
  const raw = meta.json('config');
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) meta.fail('its config is not a JSON object');
  const fields = raw as Record<string, unknown>;
  const config: Record<string, unknown> = {};
  for (const [key, type] of Object.entries(CONFIG_FIELDS)) {
    const value = fields[key];
    const ok = type === 'number[]' ? Array.isArray(value) && value.every((v) => typeof v === 'number') : typeof value === type;
    if (!ok) meta.fail(`its config field ${key} is missing or not a ${type === 'number[]' ? 'list of numbers' : type}`);
    config[key] = Array.isArray(value) ? [...(value as number[])] : value;
  }
  try {
    validateConfig(config as unknown as TrainConfig);
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    throw new UserError(`${source} holds an invalid training config (${e.message.replace(/\.$/, '')}).`);
  }
  const hidden = (config as unknown as TrainConfig).hidden;
  if (hidden.join(',') !== sizes.slice(1, -1).join(',')) {
    meta.fail(`its config's hidden widths [${hidden.join(',')}] disagree with its layer sizes [${sizes.join(',')}]`);
  }
  return config as unknown as TrainConfig;
}

function readPosition(meta: MetadataReader): RunPosition {
  return {
    epoch: meta.count('epoch'),
    step: meta.count('step'),
    globalStep: meta.count('global_step'),
    partialLossSum: meta.finite('partial_loss_sum'),
    partialSamples: meta.count('partial_samples'),
  };
}

/** Checks one tensor against the shape the sizes demand; returns its data. */
function expectTensor(tensors: Map<string, TensorOut>, name: string, shape: number[], source: string): Float32Array {
  const t = tensors.get(name);
  if (t === undefined) throw new UserError(`${source} is not a valid nnfs checkpoint: it has no tensor ${name}.`);
  if (t.dtype !== 'F32') throw new UserError(`${source} stores tensor ${name} as ${t.dtype}; nnfs expects F32.`);
  if (t.shape.join(',') !== shape.join(',')) {
    throw new UserError(`${source} has tensor ${name} of shape [${t.shape.join(',')}], but its layer sizes need [${shape.join(',')}].`);
  }
  // A NaN or infinite weight would only print NaN probabilities (or poison a resumed run).
  const data = t.data as Float32Array;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new UserError(`${source} is damaged: tensor ${name} holds ${data[i]} at index ${i}; every value must be finite.`);
  }
  return data;
}

/** Disk (out x in per layer) -> the engine's flat input-major layout. */
function readLayers(spec: ModelSpec, tensors: Map<string, TensorOut>, prefix: string, source: string, used: Set<string>): Float32Array {
  // Check every shape first: the tensors are bounded by the file, so only then is paramCount safe to allocate.
  const found = spec.layers.map((layer, l) => ({
    weight: expectTensor(tensors, weightName(prefix, l), [layer.outputs, layer.inputs], source),
    bias: expectTensor(tensors, biasName(prefix, l), [layer.outputs], source),
  }));
  const flat = new Float32Array(spec.paramCount);
  spec.layers.forEach((layer, l) => {
    const { weight, bias } = found[l];
    setWeightsFromOutByIn(layer, weight, flat);
    flat.set(bias, layer.biasOffset);
    used.add(weightName(prefix, l)).add(biasName(prefix, l));
  });
  return flat;
}

/** Decodes and validates checkpoint bytes; `source` (a path) starts every error message. */
export function decodeCheckpoint(bytes: Uint8Array, source: string): Checkpoint {
  let decoded;
  try {
    decoded = decodeSafetensors(bytes);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${source}: ${e.message}`);
    throw e;
  }
  const { metadata, tensors, dataSection } = decoded;
  if (metadata.format !== FORMAT_NAME) throw new UserError(`${source} is not an nnfs checkpoint (no nnfs metadata).`);
  const version = metadata.format_version;
  if (version !== String(FORMAT_VERSION)) {
    const written = version === undefined ? 'an unknown checkpoint format version' : `checkpoint format version ${version}`;
    throw new UserError(`${source} was written by ${written}; this nnfs reads version ${FORMAT_VERSION}.`);
  }
  if (metadata.tensor_sha256 !== sha256(dataSection)) throw new UserError(`${source} is damaged: its tensor checksum does not match.`);

  const meta = new MetadataReader(source, metadata);
  const sizes = readSizes(meta);
  const config = readConfig(meta, source, sizes);
  const position = readPosition(meta);
  const dataFingerprint = meta.string('data_fingerprint');

  // Each layer needs two tensors, so a sizes list longer than the file can back is refused before modelSpec walks it.
  if (2 * (sizes.length - 1) > tensors.size) {
    meta.fail(`its layer sizes describe ${sizes.length - 1} layers but it holds only ${tensors.size} tensors`);
  }
  const spec = modelSpec(sizes);
  const used = new Set<string>();
  const params = readLayers(spec, tensors, '', source, used);
  const stateNames = new Set<string>();
  for (const name of tensors.keys()) {
    const match = OPTIMIZER_TENSOR.exec(name);
    if (match) stateNames.add(match[1]);
  }
  const optimizerState: Record<string, Float32Array> = {};
  for (const name of [...stateNames].sort()) {
    optimizerState[name] = readLayers(spec, tensors, `optimizer.${name}.`, source, used);
  }
  for (const name of tensors.keys()) {
    if (!used.has(name)) throw new UserError(`${source} is not a valid nnfs checkpoint: tensor ${name} does not belong to layer sizes [${sizes.join(',')}].`);
  }
  return { config, sizes, position, dataFingerprint, params, optimizerState };
}

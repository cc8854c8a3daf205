// Layer sizes -> one flat parameter layout. Every weight and bias is a view into one
// Float32Array (over a SharedArrayBuffer when training), so workers share it in place.
//
// Inside the engine a layer's weights are stored input-major: W[i * out + o] is the
// weight from input i to output o. For the first layer that makes the row of one input
// pixel 16 contiguous floats, which the sparse kernel walks. Checkpoints transpose to
// PyTorch's out x in on the way to disk.

export interface LayerLayout {
  inputs: number;
  outputs: number;
  /** Offset of W (inputs x outputs, input-major) in the flat parameter array. */
  weightOffset: number;
  /** Offset of the bias (outputs) in the flat parameter array. */
  biasOffset: number;
}

export interface ModelSpec {
  /** Layer sizes from input to output, e.g. [784, 16, 10]. */
  sizes: number[];
  layers: LayerLayout[];
  /** Total number of parameters. */
  paramCount: number;
}

/** Lays out an MLP with the given sizes (input, hidden..., classes). */
export function modelSpec(sizes: readonly number[]): ModelSpec {
  if (sizes.length < 2) throw new Error('a model needs at least an input and an output size');
  for (const s of sizes) {
    if (!Number.isInteger(s) || s < 1) throw new Error(`layer sizes must be positive integers, got ${sizes.join(',')}`);
  }
  const layers: LayerLayout[] = [];
  let offset = 0;
  for (let l = 0; l + 1 < sizes.length; l++) {
    const inputs = sizes[l];
    const outputs = sizes[l + 1];
    const weightOffset = offset;
    offset += inputs * outputs;
    const biasOffset = offset;
    offset += outputs;
    layers.push({ inputs, outputs, weightOffset, biasOffset });
  }
  return { sizes: [...sizes], layers, paramCount: offset };
}

/** Copies a layer's weights given out x in (PyTorch's nn.Linear order, as checkpoints hold them) into the engine's input-major `flat`. */
export function setWeightsFromOutByIn(layer: LayerLayout, outByIn: ArrayLike<number>, flat: Float32Array): void {
  const { inputs, outputs, weightOffset } = layer;
  for (let o = 0; o < outputs; o++) {
    for (let i = 0; i < inputs; i++) flat[weightOffset + i * outputs + o] = outByIn[o * inputs + i];
  }
}

/** A layer's weights from the engine's input-major `flat`, out x in. */
export function weightsOutByIn(layer: LayerLayout, flat: Float32Array): Float32Array {
  const { inputs, outputs, weightOffset } = layer;
  const weight = new Float32Array(inputs * outputs);
  for (let i = 0; i < inputs; i++) {
    for (let o = 0; o < outputs; o++) weight[o * inputs + i] = flat[weightOffset + i * outputs + o];
  }
  return weight;
}

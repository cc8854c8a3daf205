// Seeded initialisation: each parameter's value is a pure function of (seed, layer, index),
// so a run is reproducible from its seed alone.

import type { InitName } from '../config.js';
import { fillNormal, INIT_STREAM } from '../rng.js';
import type { ModelSpec } from './spec.js';

/**
 * 'he': weights N(0, 2/fan_in), biases 0 (the usual choice for ReLU).
 * 'randn': weights and biases N(0, 1), as the original project (np.random.randn).
 */
export function initParams(spec: ModelSpec, init: InitName, seed: number, params: Float32Array): void {
  spec.layers.forEach((layer, l) => {
    const weightScale = init === 'he' ? Math.sqrt(2 / layer.inputs) : 1;
    fillNormal(params.subarray(layer.weightOffset, layer.weightOffset + layer.inputs * layer.outputs), seed, INIT_STREAM + 2 * l, weightScale);
    const biases = params.subarray(layer.biasOffset, layer.biasOffset + layer.outputs);
    if (init === 'he') biases.fill(0);
    else fillNormal(biases, seed, INIT_STREAM + 2 * l + 1, 1);
  });
}

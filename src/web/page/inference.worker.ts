// The page's inference Web Worker, exposed with comlink: it fetches the checkpoint as the
// safetensors file itself and runs the engine's own preprocess.ts and forward.ts on it,
// so what the page predicts is what `nnfs predict --image` would, off the main thread (save
// that the pad's polarity is known, where a PNG's is guessed: grayFromPad).

import { expose, transfer } from 'comlink';
import { grayFromPad, toMnistInput } from '../../data/preprocess.js';
import { UserError } from '../../errors.js';
import { forward, forwardScratch } from '../../model/forward.js';
import { decodeWebModel, type WebModel } from '../model-file.js';
import type { DrawingAnswer, InferenceApi, ModelInfo } from './api.js';
import { fetchFromServer, refusal } from './fetch-server.js';

let model: WebModel | undefined;
let scratch: Float32Array[] = [];

function loaded(): WebModel {
  if (!model) throw new Error('the model is not loaded yet.');
  return model;
}

const api: InferenceApi = {
  async load(url: string): Promise<ModelInfo> {
    const response = await fetchFromServer(url);
    if (!response.ok) throw await refusal(response, 'the model');
    model = decodeWebModel(new Uint8Array(await response.arrayBuffer()));
    scratch = forwardScratch(model.spec);
    return { sizes: model.spec.sizes, epoch: model.epoch, globalStep: model.globalStep, optimizer: model.optimizer };
  },

  async predictDrawing(rgba: Uint8ClampedArray, width: number, height: number): Promise<DrawingAnswer | null> {
    const { spec, params } = loaded();
    let input: Float32Array;
    try {
      input = toMnistInput(grayFromPad(rgba, width, height), width, height);
    } catch (e) {
      if (e instanceof UserError) return null; // an empty pad: nothing to classify yet
      throw e;
    }
    const probs = new Float32Array(spec.sizes[spec.sizes.length - 1]);
    forward(spec, params, input, probs, scratch);
    // Hand the buffers over instead of copying them back.
    return transfer({ input, probs }, [input.buffer, probs.buffer]);
  },

  async classify(pixels: Uint8Array, count: number): Promise<Float32Array> {
    const { spec, params } = loaded();
    const inputs = spec.sizes[0];
    const classes = spec.sizes[spec.sizes.length - 1];
    const out = new Float32Array(count * classes);
    const x = new Float32Array(inputs);
    for (let s = 0; s < count; s++) {
      // Raw MNIST bytes scaled to 0..1, as `evaluate` feeds the test set.
      for (let i = 0; i < inputs; i++) x[i] = pixels[s * inputs + i] / 255;
      forward(spec, params, x, out.subarray(s * classes, (s + 1) * classes), scratch);
    }
    return transfer(out, [out.buffer]);
  },
};

expose(api);

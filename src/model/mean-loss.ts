// Whole samples of a data set through the network, one at a time: their mean cross-entropy,
// and each one's predicted class if asked. evaluate runs it over the test set, the
// divergence check over a few training images.

import type { Dataset } from '../data/dataset.js';
import { argmax, forward, forwardScratch } from './forward.js';
import { sampleInput } from './kernels.js';
import type { ModelSpec } from './spec.js';

/** Mean cross-entropy of samples [0, count) of `data`; their predicted classes go to `predictions`, if given. */
export function meanLoss(spec: ModelSpec, params: Float32Array, data: Dataset, count = data.count, predictions?: Uint8Array): number {
  const scratch = forwardScratch(spec);
  const logits = scratch[scratch.length - 1];
  const input = new Float32Array(data.inputSize);
  const probs = new Float32Array(logits.length);
  let lossSum = 0;
  for (let n = 0; n < count; n++) {
    // The same byte -> float32 table as training, so the inputs are the kernels' inputs.
    sampleInput(data, n, input);
    const lse = forward(spec, params, input, probs, scratch);
    // -log softmax(label) computed from the logits, exact even where the probability underflows.
    lossSum += lse - logits[data.labels[n]];
    if (predictions) predictions[n] = argmax(probs);
  }
  return lossSum / count;
}

// The backward pass against finite differences of an independent float64 forward pass,
// and the fast kernels against the dense reference.

import { describe, expect, it } from 'vitest';
import { makeDataset, sharedUint8 } from '../src/data/dataset.js';
import { createKernel, PIXEL_VALUE } from '../src/model/kernels.js';
import { initParams } from '../src/model/init.js';
import { modelSpec, type ModelSpec } from '../src/model/spec.js';
import { Stream } from '../src/rng.js';
import { pixelsOf, realMnist } from './helpers.js';

/** A small data set of random sparse images (about 70% zeros, like MNIST) and random labels. */
function randomData(count: number, inputSize: number, classes: number, seed: number) {
  const rng = new Stream(seed, 99);
  const pixels = sharedUint8(count * inputSize);
  const labels = sharedUint8(count);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rng.nextFloat() < 0.7 ? 0 : 1 + rng.nextBelow(255);
  for (let i = 0; i < count; i++) labels[i] = rng.nextBelow(classes);
  return { data: makeDataset(pixels, labels, { count, rows: 1, cols: inputSize, classes }), pixels };
}

/** A sample's logits computed plainly in float64, straight from the definition (input-major W). */
function referenceLogits(spec: ModelSpec, params: Float64Array, pixels: Uint8Array, s: number): number[] {
  let a = Array.from({ length: spec.sizes[0] }, (_, i) => PIXEL_VALUE[pixels[s * spec.sizes[0] + i]]);
  spec.layers.forEach((layer, l) => {
    const z = Array.from({ length: layer.outputs }, (_, o) => {
      let sum = params[layer.biasOffset + o];
      for (let i = 0; i < layer.inputs; i++) sum += a[i] * params[layer.weightOffset + i * layer.outputs + o];
      return sum;
    });
    a = l < spec.layers.length - 1 ? z.map((v) => Math.max(0, v)) : z;
  });
  return a;
}

/** Summed cross-entropy of referenceLogits. */
function referenceLoss(spec: ModelSpec, params: Float64Array, pixels: Uint8Array, labels: Uint8Array, samples: number[]): number {
  let total = 0;
  for (const s of samples) {
    const a = referenceLogits(spec, params, pixels, s);
    const max = Math.max(...a);
    const lse = max + Math.log(a.reduce((acc, v) => acc + Math.exp(v - max), 0));
    total += lse - a[labels[s]];
  }
  return total;
}

describe('backward pass', () => {
  for (const sizes of [[12, 5, 3], [10, 6, 4, 3]]) {
    it(`matches finite differences for sizes ${sizes.join('-')}`, () => {
      const spec = modelSpec(sizes);
      const { data, pixels } = randomData(6, sizes[0], sizes.at(-1)!, 7);
      const params = new Float32Array(spec.paramCount);
      initParams(spec, 'randn', 3, params);
      const order = Int32Array.from({ length: data.count }, (_, i) => i);
      const grad = new Float32Array(spec.paramCount);
      const kernel = createKernel(spec, 'dense');
      const loss = kernel.gradient(params, grad, data, order, 0, data.count);
      const samples = [...order];
      const wide = Float64Array.from(params);
      expect(loss).toBeCloseTo(referenceLoss(spec, wide, pixels, data.labels, samples), 4);
      const h = 1e-6;
      for (let k = 0; k < spec.paramCount; k++) {
        const saved = wide[k];
        wide[k] = saved + h;
        const up = referenceLoss(spec, wide, pixels, data.labels, samples);
        wide[k] = saved - h;
        const down = referenceLoss(spec, wide, pixels, data.labels, samples);
        wide[k] = saved;
        const numeric = (up - down) / (2 * h);
        expect(Math.abs(grad[k] - numeric)).toBeLessThan(1e-3 * Math.max(1, Math.abs(numeric)));
      }
    });
  }
});

describe('kernels', () => {
  const mnist = realMnist();
  const spec = modelSpec([784, 16, 10]);
  const params = new Float32Array(spec.paramCount);
  initParams(spec, 'he', 5, params);
  const order = Int32Array.from({ length: 64 }, (_, i) => 1000 + 3 * i);

  it('sparse gives bit-identical gradients and loss to the dense reference', () => {
    const dense = new Float32Array(spec.paramCount);
    const sparse = new Float32Array(spec.paramCount);
    const lossDense = createKernel(spec, 'dense').gradient(params, dense, mnist.train, order, 0, 64);
    const lossSparse = createKernel(spec, 'sparse').gradient(params, sparse, mnist.train, order, 0, 64);
    expect(lossSparse).toBe(lossDense);
    expect(Buffer.from(sparse.buffer).equals(Buffer.from(dense.buffer))).toBe(true);
  });

  it('fused per-sample SGD equals gradient then update', () => {
    const kernel = createKernel(spec, 'sparse');
    const fused = params.slice();
    const stepwise = params.slice();
    const grad = new Float32Array(spec.paramCount);
    for (let n = 0; n < 20; n++) {
      const sample = order[n];
      const lossFused = kernel.sgdSample(fused, mnist.train, sample, 0.01);
      const lossStep = kernel.gradient(stepwise, grad, mnist.train, order, n, n + 1);
      for (let k = 0; k < grad.length; k++) stepwise[k] -= 0.01 * grad[k];
      expect(lossFused).toBe(lossStep);
    }
    expect(Buffer.from(fused.buffer).equals(Buffer.from(stepwise.buffer))).toBe(true);
  });

  it('evaluate counts correct predictions and sums the loss', () => {
    const totals = new Float64Array(2);
    createKernel(spec, 'sparse').evaluate(params, mnist.test, 0, 100, totals);
    const grad = new Float32Array(spec.paramCount);
    const ids = Int32Array.from({ length: 100 }, (_, i) => i);
    const loss = createKernel(spec, 'sparse').gradient(params, grad, mnist.test, ids, 0, 100);
    expect(totals[0]).toBeCloseTo(loss, 6);
    const wide = Float64Array.from(params);
    const testPixels = pixelsOf(mnist.test, 100);
    const right = ids.filter((s) => {
      const logits = referenceLogits(spec, wide, testPixels, s);
      return logits.indexOf(Math.max(...logits)) === mnist.test.labels[s];
    }).length;
    expect(totals[1]).toBe(right);
  });
});

// The WebAssembly SIMD kernel against the JS kernels on real MNIST samples: gradients and
// losses against the dense reference, fused SGD against the sparse kernel, evaluation;
// and the wasm optimiser updates against optimizer.ts. Needs `npm run build` (the .wasm files).

import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULTS, type TrainConfig } from '../src/config.js';
import { loadMnist, type Mnist } from '../src/data/mnist.js';
import { initParams } from '../src/model/init.js';
import { createKernel, type Kernel } from '../src/model/kernels.js';
import { modelSpec, type ModelSpec } from '../src/model/spec.js';
import { scratchLayout } from '../src/model/wasm/scratch-layout.js';
import { createWasmKernel, wasmScratchFloats } from '../src/model/wasm/wasm-kernel.js';
import { createWasmUpdate } from '../src/model/wasm/wasm-update.js';
import { shuffledOrder } from '../src/rng.js';
import { sharedFloat32, sharedInt32, sharedMemory } from '../src/shared-memory.js';
import { reduceAndUpdate, type UpdateArgs } from '../src/train/optimizer.js';

/**
 * [784,16,10] takes the 16-wide register path; the others the general loops, odd widths their
 * scalar tails. Later layers of 9-12 outputs (the 10 classes; 12, 9 and a last layer of 11
 * here) keep their sums in registers and mask what a row's last quad reads past its end;
 * 8 and 13 are the general loops' on either side.
 */
const SHAPES = [[784, 16, 10], [784, 32, 16, 10], [784, 7, 5, 10], [784, 16, 12, 10], [784, 8, 9, 10], [784, 13, 8, 11]];

let mnist: Mnist;
beforeAll(() => {
  mnist = loadMnist();
});

function wasmKernel(spec: ModelSpec): Kernel {
  return createWasmKernel(spec, sharedMemory(), sharedFloat32(wasmScratchFloats(spec)));
}

function params(spec: ModelSpec, init: 'he' | 'randn', seed: number): Float32Array {
  const p = sharedFloat32(spec.paramCount);
  initParams(spec, init, seed, p);
  return p;
}

/**
 * Each weight matrix and bias vector of `actual` within `tolerance` of `expected`, relative
 * to that tensor's largest magnitude (single entries can cancel to near zero, where a
 * per-entry relative error means nothing).
 */
function expectClose(spec: ModelSpec, actual: Float32Array, expected: Float32Array, tolerance: number): void {
  for (const layer of spec.layers) {
    for (const [start, length] of [[layer.weightOffset, layer.inputs * layer.outputs], [layer.biasOffset, layer.outputs]]) {
      let scale = 0;
      let worst = 0;
      for (let k = start; k < start + length; k++) {
        scale = Math.max(scale, Math.abs(expected[k]));
        worst = Math.max(worst, Math.abs(actual[k] - expected[k]));
      }
      expect(worst).toBeLessThanOrEqual(tolerance * scale);
    }
  }
}

describe('wasm kernel gradient', () => {
  for (const sizes of SHAPES) {
    it(`matches the dense reference for ${sizes.join('-')}`, () => {
      const spec = modelSpec(sizes);
      const order = sharedInt32(mnist.train.count);
      order.set(shuffledOrder(mnist.train.count, 7, 0));
      const dense = createKernel(spec, 'dense');
      const wasm = wasmKernel(spec);
      for (const [init, seed] of [['he', 1], ['randn', 2]] as const) {
        const p = params(spec, init, seed);
        // A microbatch of 16, and 41 samples: two full chunks and a short one.
        for (const [from, to] of [[0, 16], [100, 141]]) {
          const expected = sharedFloat32(spec.paramCount);
          const actual = sharedFloat32(spec.paramCount).fill(123); // must be overwritten
          const expectedLoss = dense.gradient(p, expected, mnist.train, order, from, to);
          const loss = wasm.gradient(p, actual, mnist.train, order, from, to);
          expect(Math.abs(loss - expectedLoss)).toBeLessThanOrEqual(1e-6 * expectedLoss);
          expectClose(spec, actual, expected, 1e-5);
        }
      }
    });
  }

  it('gives the same bits for the same microbatch, whatever ran before', () => {
    const spec = modelSpec([784, 16, 10]);
    const p = params(spec, 'he', 3);
    const order = sharedInt32(64);
    order.set(Array.from({ length: 64 }, (_, i) => i * 911));
    const first = sharedFloat32(spec.paramCount);
    const second = sharedFloat32(spec.paramCount);
    const wasm = wasmKernel(spec);
    const loss = wasm.gradient(p, first, mnist.train, order, 16, 32);
    wasm.gradient(p, second, mnist.train, order, 0, 64);
    expect(wasm.gradient(p, second, mnist.train, order, 16, 32)).toBe(loss);
    expect(second).toEqual(first);
  });
  it.each([[784, 8, 9, 10], [784, 13, 8, 11]])('leaves the padding of every activation and delta zero (%i-%i-%i-%i)', (...sizes) => {
    const spec = modelSpec(sizes);
    const layout = scratchLayout(spec);
    const scratch = sharedFloat32(wasmScratchFloats(spec));
    const wasm = createWasmKernel(spec, sharedMemory(), scratch);
    const order = sharedInt32(16);
    order.set(Array.from({ length: 16 }, (_, i) => i * 37));
    wasm.gradient(params(spec, 'he', 6), sharedFloat32(spec.paramCount), mnist.train, order, 0, 16);
    for (let sample = 0; sample < layout.chunk; sample++) {
      spec.layers.forEach((layer, l) => {
        for (const area of [layout.act[l], layout.delta[l]]) {
          const start = (layout.blocks + sample * layout.stride + area) / 4;
          const padding = scratch.subarray(start + layer.outputs, start + Math.ceil(layer.outputs / 4) * 4);
          expect(Array.from(padding)).toEqual(Array.from(padding, () => 0));
        }
      });
    }
  });
});

describe('wasm kernel fused SGD', () => {
  // randn (N(0, 1)) only where the original recipe uses it: deeper, its logits grow to
  // hundreds, and the float32 rounding of a logit alone then exceeds 1e-5 of the loss.
  const cases: [number[], 'he' | 'randn'][] = [[[784, 16, 10], 'randn'], ...SHAPES.map((sizes): [number[], 'he'] => [sizes, 'he'])];
  for (const [sizes, init] of cases) {
    it(`follows the sparse kernel's per-sample SGD for ${sizes.join('-')} (${init})`, () => {
      const spec = modelSpec(sizes);
      const expected = params(spec, init, 4);
      const actual = sharedFloat32(spec.paramCount);
      actual.set(expected);
      const sparse = createKernel(spec, 'sparse');
      const wasm = wasmKernel(spec);
      for (let sample = 0; sample < 300; sample++) {
        const expectedLoss = sparse.sgdSample(expected, mnist.train, sample, 0.01);
        const loss = wasm.sgdSample(actual, mnist.train, sample, 0.01);
        expect(Math.abs(loss - expectedLoss)).toBeLessThanOrEqual(1e-5 * Math.max(1, expectedLoss));
      }
      expectClose(spec, actual, expected, 1e-5);
    });
  }
});

describe('wasm kernel evaluate', () => {
  it('counts the same correct predictions and sums the same loss', () => {
    const spec = modelSpec([784, 16, 10]);
    const p = params(spec, 'he', 5);
    const sparse = createKernel(spec, 'sparse');
    for (let sample = 0; sample < 2000; sample++) sparse.sgdSample(p, mnist.train, sample, 0.01);
    const expected = new Float64Array([2.5, 7]); // evaluate adds to what is there
    const actual = new Float64Array([2.5, 7]);
    createKernel(spec, 'dense').evaluate(p, mnist.test, 0, mnist.test.count, expected);
    wasmKernel(spec).evaluate(p, mnist.test, 0, mnist.test.count, actual);
    expect(actual[1]).toBe(expected[1]);
    expect(expected[1]).toBeGreaterThan(7 + 5000); // the model did learn something
    expect(Math.abs(actual[0] - expected[0])).toBeLessThanOrEqual(1e-6 * expected[0]);
  });
});

describe('wasm optimiser update', () => {
  const spec = modelSpec([784, 16, 10]);
  const n = spec.paramCount; // 12730: not a multiple of 4, so the last elements take the one-lane path
  const slots = 3;

  function setup(optimizer: TrainConfig['optimizer']) {
    const grads = sharedFloat32(slots * n);
    for (let i = 0; i < grads.length; i++) grads[i] = Math.sin(i * 0.7) * 0.3;
    const p = params(spec, 'he', 6);
    const state: Record<string, Float32Array> = { m: sharedFloat32(n), v: sharedFloat32(n), velocity: sharedFloat32(n) };
    for (const s of Object.values(state)) for (let k = 0; k < n; k++) s[k] = Math.cos(k) * 1e-3 + 1e-3;
    const config: TrainConfig = { ...DEFAULTS, optimizer, lr: 0.01 };
    return { config, params: p, grads, slotCount: slots, slotStride: n, scale: 1 / 48, state, t: 3, lr: config.lr };
  }
  function copy(a: ReturnType<typeof setup>) {
    const clone = (x: Float32Array) => { const y = sharedFloat32(x.length); y.set(x); return y; };
    return { ...a, params: clone(a.params), state: Object.fromEntries(Object.entries(a.state).map(([k, v]) => [k, clone(v)])) };
  }
  function run(update: (u: UpdateArgs) => void, a: ReturnType<typeof setup>, pieces: number[]): void {
    for (let i = 0; i + 1 < pieces.length; i++) update({ ...a, from: pieces[i], to: pieces[i + 1] });
  }

  for (const optimizer of ['sgd', 'momentum', 'adam'] as const) {
    it(`${optimizer}: matches optimizer.ts, state included, and is the same bits however the range is cut`, () => {
      const wasm = createWasmUpdate(sharedMemory());
      const base = setup(optimizer);
      const js = copy(base);
      const whole = copy(base);
      const chunks = copy(base);
      const ones = copy(base);
      run(reduceAndUpdate, js, [0, n]);
      run(wasm, whole, [0, n]);
      run(wasm, chunks, [0, 4096, 8192, 12288, n]);
      run(wasm, ones, Array.from({ length: n + 1 }, (_, k) => k));
      expectClose(spec, whole.params, js.params, 1e-6);
      // The state the next steps start from (m, v, velocity) as well as the weights.
      for (const name of Object.keys(base.state)) expectClose(spec, whole.state[name], js.state[name], 1e-6);
      for (const name of Object.keys(base.state)) {
        expect(chunks.state[name]).toEqual(whole.state[name]);
        expect(ones.state[name]).toEqual(whole.state[name]);
      }
      expect(chunks.params).toEqual(whole.params);
      expect(ones.params).toEqual(whole.params);
      // And a second step from there, with the step count t moved on.
      run(reduceAndUpdate, { ...js, t: 4 }, [0, n]);
      run(wasm, { ...whole, t: 4 }, [0, n]);
      expectClose(spec, whole.params, js.params, 1e-6);
    });
  }

  for (const optimizer of ['momentum', 'adam'] as const) {
    it(`${optimizer}: state so small that its step would be subnormal is flushed to 0, and no weight notices`, () => {
      const wasm = createWasmUpdate(sharedMemory());
      const base = setup(optimizer);
      // Every tenth weight of the first layer (nonzero, unlike the biases He starts at 0): no
      // gradient, and state decayed to 1e-37, where the step (lr, or Adam's stepSize, times
      // it) is below the smallest normal float32, which x86 computes with a microcode assist.
      const name = optimizer === 'adam' ? 'm' : 'velocity';
      const tenths = Array.from({ length: Math.floor(784 * 16 / 10) }, (_, i) => 10 * i);
      for (const k of tenths) {
        base.state[name][k] = 1e-37;
        for (let s = 0; s < slots; s++) base.grads[s * n + k] = 0;
      }
      const js = copy(base);
      const whole = copy(base);
      const ones = copy(base);
      run(reduceAndUpdate, js, [0, n]);
      run(wasm, whole, [0, n]);
      run(wasm, ones, Array.from({ length: n + 1 }, (_, k) => k));
      for (const k of tenths) {
        expect(whole.state[name][k]).toBe(0);
        // optimizer.ts keeps the state and takes the step: too small to move a float32 weight.
        expect(js.state[name][k]).not.toBe(0);
        expect(whole.params[k]).toBe(base.params[k]);
        expect(js.params[k]).toBe(base.params[k]);
      }
      expect(ones.state[name]).toEqual(whole.state[name]);
      expect(ones.params).toEqual(whole.params);
      expectClose(spec, whole.params, js.params, 1e-6);
    });
  }

  it('adam: the floor sits where stepSize * m turns subnormal, and v keeps the smallest normal float32 as its floor', () => {
    const wasm = createWasmUpdate(sharedMemory());
    const base = setup('adam');
    const f = Math.fround;
    const stepSize = f(base.lr / (1 - Math.pow(DEFAULTS.beta1, base.t)));
    const floor = 2 ** -125 / stepSize;
    // With no gradient, m becomes beta1 * m: four times the floor stays, half of it goes; a v
    // of 1e-37, far under m's floor but over 2^-126, stays.
    const [above, below, tinyV] = [100, 200, 300];
    for (const k of [above, below, tinyV]) for (let s = 0; s < slots; s++) base.grads[s * n + k] = 0;
    base.state.m[above] = 4 * floor;
    base.state.m[below] = floor / 2;
    base.state.v[tinyV] = 1e-37;
    const whole = copy(base);
    run(wasm, whole, [0, n]);
    expect(whole.state.m[above]).toBe(f(f(DEFAULTS.beta1) * base.state.m[above]));
    expect(whole.state.m[below]).toBe(0);
    expect(whole.state.v[tinyV]).toBe(f(f(DEFAULTS.beta2) * base.state.v[tinyV]));
  });
});

describe('wasm kernel setup', () => {
  it('refuses a scratch region that is too small, and arrays outside the shared memory', () => {
    const spec = modelSpec([784, 16, 10]);
    expect(() => createWasmKernel(spec, sharedMemory(), sharedFloat32(wasmScratchFloats(spec) - 4))).toThrow(/scratch/);
    const wasm = wasmKernel(spec);
    expect(() => wasm.sgdSample(new Float32Array(spec.paramCount), mnist.train, 0, 0.01)).toThrow(/shared memory/);
  });
});

// The optimisers' reduce-and-update in WebAssembly SIMD (update.wat): the same contract as
// optimizer.ts reduceAndUpdate, but for state too small to move a weight, which it sets to 0
// (see update.wat), used by runs with the 'wasm' kernel. Adam over the
// 12,730 parameters of 784-16-10: ~13 µs a step on one thread, against ~140 µs in JS.

import type { UpdateArgs } from '../../train/optimizer.js';
import type { Adder } from '../../train/reduction-tree.js';
import { wasmModule } from './modules.js';
import { checkShared } from './shared-views.js';

type Fn<A extends number[]> = (...args: A) => void;
interface UpdateExports {
  updateSgd: Fn<[number, number, number, number, number, number, number, number]>;
  updateMomentum: Fn<[number, number, number, number, number, number, number, number, number, number]>;
  updateAdam: Fn<[number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number]>;
  sum: Fn<[number, number, number, number]>;
  warm: Fn<[number, number]>;
}

const instances = new WeakMap<WebAssembly.Memory, UpdateExports>();

/** update.wat over `memory`: one instance per memory, shared by the update, the adder and the warm-up read. */
function instantiate(memory: WebAssembly.Memory): UpdateExports {
  let exports = instances.get(memory);
  if (!exports) {
    exports = new WebAssembly.Instance(wasmModule('update'), { env: { memory } }).exports as unknown as UpdateExports;
    instances.set(memory, exports);
  }
  return exports;
}

/** An update function over arrays in `memory` (the process's shared WebAssembly.Memory). */
export function createWasmUpdate(memory: WebAssembly.Memory): (a: UpdateArgs) => void {
  const wasm = instantiate(memory);
  const check = checkShared(memory);
  return (a) => {
    const { config, params, grads, slotCount, scale, from, to } = a;
    const slotBytes = 4 * a.slotStride;
    check(params);
    check(grads);
    if (config.optimizer === 'sgd') {
      wasm.updateSgd(params.byteOffset, grads.byteOffset, slotCount, slotBytes, from, to, scale, a.lr);
    } else if (config.optimizer === 'momentum') {
      const velocity = check(a.state.velocity);
      wasm.updateMomentum(params.byteOffset, grads.byteOffset, slotCount, slotBytes, velocity.byteOffset, from, to, scale, a.lr, config.momentum);
    } else {
      const m = check(a.state.m);
      const v = check(a.state.v);
      const { beta1, beta2, eps } = config;
      // Computed in float64 as optimizer.ts does; wasm takes them as float32.
      wasm.updateAdam(params.byteOffset, grads.byteOffset, slotCount, slotBytes, m.byteOffset, v.byteOffset, from, to, scale,
        beta1, 1 - beta1, beta2, 1 - beta2, a.lr / (1 - Math.pow(beta1, a.t)), 1 / (1 - Math.pow(beta2, a.t)), eps);
    }
  };
}

/** The reduction tree's additions in wasm SIMD; offsets and lengths in floats of `memory`. */
export function createWasmAdder(memory: WebAssembly.Memory): Adder {
  const wasm = instantiate(memory);
  return {
    sum: (dst, a, b, n) => wasm.sum(4 * dst, 4 * a, 4 * b, 4 * n),
    add: (dst, src, n) => wasm.sum(4 * dst, 4 * dst, 4 * src, 4 * n),
  };
}

/** Reads one float per cache line of `array` (a view of `memory`): see update.wat's warm. */
export function createWasmWarm(memory: WebAssembly.Memory): (array: Float32Array) => void {
  const wasm = instantiate(memory);
  const check = checkShared(memory);
  return (array) => wasm.warm(check(array).byteOffset, array.byteLength);
}

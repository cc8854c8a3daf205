// The 'wasm' kernel: the Kernel interface of kernels.ts over the WebAssembly SIMD code of
// kernel.wat. Data, parameters and gradients stay where they are in the shared memory:
// each call passes their byte offsets.
//
// Every model shape runs in wasm: a first layer 16 wide (the default and the original
// model) keeps its sums in four f32x4 registers, a later layer of 9-12 outputs (the 10
// classes) in three; other widths go through the general f32x4 loops with a scalar tail,
// so no shape needs the JS kernels as a fallback.

import type { Dataset } from '../../data/dataset.js';
import { PIXEL_VALUE, type Kernel } from '../kernels.js';
import type { ModelSpec } from '../spec.js';
import { wasmModule } from './modules.js';
import { scratchLayout, TABLE_FIELDS, wasmScratchFloats } from './scratch-layout.js';
import { checkShared } from './shared-views.js';

export { wasmScratchFloats };

type Fn<A extends number[], R> = (...args: A) => R;
type Six = [number, number, number, number, number, number];
interface KernelExports {
  init: Fn<[number, number, number, number, number, number, number, number, number, number], void>;
  gradient: Fn<[number, number, number, number, number, number, number, number], number>;
  sgdSample: Fn<Six, number>;
  evaluate: Fn<Six, void>;
  prefetch: Fn<Six, void>;
}

/**
 * A kernel for `spec` that works in `memory` (the process's shared WebAssembly.Memory),
 * using `scratch` (wasmScratchFloats(spec) floats of that memory, this thread's alone) as
 * its working memory. Every array later passed to it must be a view of `memory` too.
 */
export function createWasmKernel(spec: ModelSpec, memory: WebAssembly.Memory, scratch: Float32Array): Kernel {
  const layout = scratchLayout(spec);
  if (scratch.length < layout.bytes / 4) throw new RangeError(`the wasm kernel needs ${layout.bytes / 4} floats of scratch, got ${scratch.length}`);
  if (scratch.byteOffset % 16 !== 0) throw new RangeError('the wasm kernel scratch must be 16-byte aligned');
  const check = checkShared(memory);
  check(scratch);
  const base = scratch.byteOffset;
  const buffer = memory.buffer;

  // Zero it all (padding must stay zero), then fill in the layer and pixel tables.
  new Uint8Array(buffer, base, layout.bytes).fill(0);
  const table = new Int32Array(buffer, base + layout.table, TABLE_FIELDS * spec.layers.length);
  spec.layers.forEach((layer, l) => {
    table.set([
      layer.inputs, layer.outputs, 4 * layer.weightOffset, 4 * layer.biasOffset,
      l > 0 ? layout.act[l - 1] : -1, layout.act[l], l > 0 ? layout.delta[l - 1] : -1, layout.delta[l],
    ], TABLE_FIELDS * l);
  });
  new Float32Array(buffer, base + layout.pix, 256).set(PIXEL_VALUE);
  const totals = new Float64Array(buffer, base + layout.totals, 2);

  const instance = new WebAssembly.Instance(wasmModule('kernel'), { env: { memory }, Math: { log: Math.log } });
  const wasm = instance.exports as unknown as KernelExports;
  wasm.init(
    spec.layers.length, base + layout.table, base + layout.blocks, layout.stride, layout.chunk,
    base + layout.pix, base + layout.exps, base + layout.sd, base + layout.totals, 4 * spec.paramCount,
  );

  const checkedData = new WeakSet<Dataset>();
  function data(d: Dataset): { offsets: number; entries: number; labels: number } {
    if (!checkedData.has(d)) {
      check(d.sparse.offsets);
      check(d.sparse.entries);
      check(d.labels);
      checkedData.add(d);
    }
    return { offsets: d.sparse.offsets.byteOffset, entries: d.sparse.entries.byteOffset, labels: d.labels.byteOffset };
  }

  return {
    name: 'wasm',
    gradient(params, grad, dataset, order, from, to) {
      if (grad.length !== spec.paramCount) throw new RangeError('grad must hold exactly one gradient');
      const d = data(dataset);
      return wasm.gradient(check(params).byteOffset, check(grad).byteOffset, d.offsets, d.entries, d.labels, check(order).byteOffset, from, to);
    },
    sgdSample(params, dataset, sample, lr) {
      const d = data(dataset);
      return wasm.sgdSample(check(params).byteOffset, d.offsets, d.entries, d.labels, sample, lr);
    },
    evaluate(params, dataset, from, to, out) {
      const d = data(dataset);
      // The running sums go through scratch, so wasm adds each sample to them in JS's order.
      totals[0] = out[0];
      totals[1] = out[1];
      wasm.evaluate(check(params).byteOffset, d.offsets, d.entries, d.labels, from, to);
      out[0] = totals[0];
      out[1] = totals[1];
    },
    prefetch(dataset, order, from, to) {
      const d = data(dataset);
      wasm.prefetch(d.offsets, d.entries, d.labels, check(order).byteOffset, Math.max(0, from), Math.min(order.length, to));
    },
  };
}

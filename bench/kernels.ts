// Kernel micro-benchmarks (benchmark.js): the plain dense reference against each faster
// kernel, on real MNIST microbatches, in GFLOP/s of dense-equivalent work, so a kernel that
// skips zero pixels gets credit for the multiplications it did not need to do.

import Benchmark from 'benchmark';
import type { Mnist } from '../src/data/mnist.js';
import { initParams } from '../src/model/init.js';
import { createKernel, type Kernel, type KernelName } from '../src/model/kernels.js';
import { modelSpec, type ModelSpec } from '../src/model/spec.js';
import { createWasmKernel, wasmScratchFloats } from '../src/model/wasm/wasm-kernel.js';
import { sharedFloat32, sharedInt32, sharedMemory } from '../src/shared-memory.js';

export interface KernelResult {
  kernel: KernelName;
  pass: 'forward' | 'forward+backward';
  /** Dense-equivalent GFLOP/s. */
  gflops: number;
  samplesPerSecond: number;
  /** Relative margin of error of the benchmark.js measurement, in percent. */
  rme: number;
}

/** Multiply-adds of the dense forward pass of one sample, times two. */
function forwardFlops(spec: ModelSpec): number {
  return spec.layers.reduce((sum, l) => sum + 2 * l.inputs * l.outputs, 0);
}

/** Forward, weight gradients, and the deltas of every layer but the input. */
function gradientFlops(spec: ModelSpec): number {
  return 2 * forwardFlops(spec) + spec.layers.slice(1).reduce((sum, l) => sum + 2 * l.inputs * l.outputs, 0);
}

function build(name: KernelName, spec: ModelSpec): Kernel {
  if (name === 'wasm') return createWasmKernel(spec, sharedMemory(), sharedFloat32(wasmScratchFloats(spec)));
  if (name === 'none') throw new Error('the null kernel is not benchmarked');
  return createKernel(spec, name);
}

export function benchmarkKernels(data: Mnist, options: { maxTime: number; microbatch?: number }): Promise<KernelResult[]> {
  const spec = modelSpec([data.train.inputSize, 16, data.train.classes]);
  const params = sharedFloat32(spec.paramCount);
  initParams(spec, 'he', 1, params);
  const grad = sharedFloat32(spec.paramCount);
  const batch = options.microbatch ?? 16;
  // A test set smaller than a microbatch (--data of a few images) is evaluated whole.
  const forwardBatch = Math.min(batch, data.test.count);
  const order = sharedInt32(4096);
  for (let i = 0; i < order.length; i++) order[i] = (i * 7919) % data.train.count;
  const totals = new Float64Array(2);
  const results: KernelResult[] = [];
  const suite = new Benchmark.Suite();
  for (const name of ['dense', 'sparse', 'wasm'] as const) {
    const kernel = build(name, spec);
    let at = 0;
    const next = () => (at = (at + batch) % (order.length - batch));
    suite.add(`${name} forward+backward`, () => {
      kernel.gradient(params, grad, data.train, order, next(), at + batch);
    }, { maxTime: options.maxTime, minSamples: 5 });
    suite.add(`${name} forward`, () => {
      const from = next() % (data.test.count - forwardBatch + 1);
      kernel.evaluate(params, data.test, from, from + forwardBatch, totals);
    }, { maxTime: options.maxTime, minSamples: 5 });
  }
  suite.on('cycle', (event: Benchmark.Event) => {
    const target = event.target as unknown as Benchmark & { name: string };
    const [kernel, pass] = target.name.split(' ') as [KernelName, KernelResult['pass']];
    const samplesPerSecond = target.hz * (pass === 'forward' ? forwardBatch : batch);
    const flops = pass === 'forward' ? forwardFlops(spec) : gradientFlops(spec);
    results.push({ kernel, pass, samplesPerSecond, gflops: (samplesPerSecond * flops) / 1e9, rme: target.stats.rme });
  });
  // Asynchronous, so that Ctrl-C is acted on between cycles, not only once the last kernel is done (up to 7 s).
  return new Promise((resolve) => {
    suite.on('complete', () => resolve(results));
    suite.run({ async: true });
  });
}

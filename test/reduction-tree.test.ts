// The reduction tree gives the same bits however a step is cut into tasks, in JS and in
// wasm SIMD alike: the property the thread-count determinism of training rests on
// (test/determinism.test.ts can only vary the task size as far as this machine's cores go).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createWasmAdder } from '../src/model/wasm/wasm-update.js';
import { jsAdder, leavesPerTask, levelsFor, runTask, sumTasks, type Adder } from '../src/train/reduction-tree.js';
import { sharedFloat32, sharedMemory } from '../src/shared-memory.js';

fc.configureGlobal({ seed: 7, numRuns: 150 });

/** The tree by its definition: a node splits at the largest power of two below its leaf count. */
function reference(leaves: Float32Array[], first: number, end: number): Float32Array {
  if (end - first === 1) return leaves[first];
  let split = 1;
  while (split * 2 < end - first) split *= 2;
  const left = reference(leaves, first, first + split);
  const right = reference(leaves, first + split, end);
  return left.map((x, i) => Math.fround(x + right[i]));
}

/**
 * Sums `leaves` as a step does: tasks of `perTask` leaves in gradient slots, then the
 * tasks' sums over the upper levels, `chunk` floats at a time.
 */
function sumAsAStep(leaves: Float32Array[], perTask: number, chunk: number, adder: (heap: Float32Array) => Adder): Float32Array {
  const n = leaves[0].length;
  const tasks = Math.ceil(leaves.length / perTask);
  const slots = sharedFloat32(leaves.length * n);
  const out = sharedFloat32(n + levelsFor(tasks) * chunk);
  const heap = new Float32Array(sharedMemory().buffer);
  const add = adder(heap);
  const slotsAt = slots.byteOffset / 4;
  const sizes = new Int32Array(32);
  for (let t = 0; t < tasks; t++) {
    const first = t * perTask;
    runTask(first, Math.min(leaves.length, first + perTask), (leaf, slot) => slots.set(leaves[leaf], slot * n), (slot) => slotsAt + slot * n, n, add, sizes);
  }
  if (tasks === 1) return slots.slice(0, n);
  const outAt = out.byteOffset / 4;
  for (let from = 0; from < n; from += chunk) {
    const to = Math.min(n, from + chunk);
    sumTasks(outAt + from, 0, tasks, (t) => slotsAt + t * perTask * n, from, to - from, add, (level) => outAt + n + level * chunk);
  }
  return out.slice(0, n);
}

// Values over many magnitudes, so that a different order of additions shows in the bits.
const vector = (n: number) => fc.array(fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), { minLength: n, maxLength: n })
  .map((v) => Float32Array.from(v, (x, i) => x * 2 ** ((i % 7) - 3)));
const step = fc.integer({ min: 1, max: 9 }).chain((n) => fc.array(vector(n), { minLength: 1, maxLength: 40 }));
const wasmAdder = () => createWasmAdder(sharedMemory());

describe('the reduction tree', () => {
  it('is not the plain left-to-right sum (so the tests below can tell orders apart)', () => {
    const leaves = [1, 2 ** -24, 2 ** -24, 2 ** -24].map((x) => Float32Array.of(x));
    const sequential = leaves.reduce((s, x) => Float32Array.of(Math.fround(s[0] + x[0])));
    expect(reference(leaves, 0, 4)[0]).not.toBe(sequential[0]);
    expect(sumAsAStep(leaves, 1, 16, jsAdder)[0]).toBe(reference(leaves, 0, 4)[0]);
  });

  it('gives the same bits for every task size, chunk size and adder (JS, wasm SIMD)', () => {
    fc.assert(fc.property(step, fc.integer({ min: 1, max: 5 }), (leaves, chunk) => {
      const expected = reference(leaves, 0, leaves.length);
      for (let perTask = 1; perTask <= leaves.length; perTask *= 2) {
        expect(sumAsAStep(leaves, perTask, chunk, jsAdder)).toEqual(expected);
        expect(sumAsAStep(leaves, perTask, chunk, wasmAdder)).toEqual(expected);
      }
    }));
  });

  it('gives every training thread a task, in runs of a power of two', () => {
    expect(leavesPerTask(16, 1)).toBe(16);
    expect(leavesPerTask(16, 2)).toBe(8);
    expect(leavesPerTask(16, 3)).toBe(4);
    expect(leavesPerTask(4, 2)).toBe(2);
    expect(leavesPerTask(2, 8)).toBe(1);
    expect(leavesPerTask(13, 2)).toBe(4);
  });
});

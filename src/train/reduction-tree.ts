// How a step's microbatch gradients are summed: over one fixed binary tree, so the sum is
// the same bit for bit however the work is shared out.
//
// A step's microbatches are the tree's leaves, in order. Every node of more than one
// leaf splits at the largest power of two below its leaf count: 16 leaves make a complete
// tree, 7 make (4 | (2 | 1)). Aligned runs of 2^k leaves are always whole subtrees.
//
// Phase A hands out tasks: aligned runs of `leavesPerTask` microbatches (a power of two
// chosen for the thread count). A task's thread computes its leaves one by one and adds
// siblings as soon as both exist (a binary counter), so its subtree's sum ends up in the
// task's first slot, on the core that computed it. Phase B then adds the tasks' sums in
// the tree's upper levels, one chunk of parameters at a time: into the updating thread's
// own buffer, or, for three sums or fewer (which the tree adds left to right), inside the
// optimiser's own loop over the slots it is given. Fewer tasks, fewer slots that cross between cores: two threads at batch 256
// read two sums each step instead of sixteen. The thread count decides which nodes are
// added in which phase, never the tree, so the weights do not depend on it.

/** dst = a + b and dst += src over n floats; offsets are float indices into one heap. */
export interface Adder {
  sum(dst: number, a: number, b: number, n: number): void;
  add(dst: number, src: number, n: number): void;
}

/** The Adder in plain JS, for runs with the JS kernels (float32 adds, as wasm's f32x4.add). */
export function jsAdder(heap: Float32Array): Adder {
  return {
    sum(dst, a, b, n) {
      for (let i = 0; i < n; i++) heap[dst + i] = heap[a + i] + heap[b + i];
    },
    add(dst, src, n) {
      for (let i = 0; i < n; i++) heap[dst + i] += heap[src + i];
    },
  };
}

export const NO_ADDER: Adder = { sum() {}, add() {} };

/** The largest power of two <= n, for n >= 1. */
function floorPow2(n: number): number {
  return 2 ** (31 - Math.clz32(n));
}

/**
 * Leaves per task for a step of `leaves` microbatches and `threads` training threads:
 * the largest power of two that still gives every thread a task.
 */
export function leavesPerTask(leaves: number, threads: number): number {
  return floorPow2(Math.max(1, Math.floor(leaves / threads)));
}

/**
 * Runs one task's leaves [first, end) and leaves their subtree's sum in slot `first`.
 * leaf(i, slot) overwrites gradient slot `slot` with leaf i's gradient; slotAt(slot) is
 * where that slot starts in the heap. The pending subtrees stay in slots first, first + 1, ...
 * (never more than the leaves done so far, so within the task's own slots). `sizes` is
 * scratch of at least 32 entries.
 */
export function runTask(
  first: number, end: number, leaf: (index: number, slot: number) => void,
  slotAt: (slot: number) => number, slotFloats: number, adder: Adder, sizes: Int32Array,
): void {
  let depth = 0;
  for (let i = first; i < end; i++) {
    leaf(i, first + depth);
    sizes[depth++] = 1;
    // Two pending subtrees of one size are siblings: add the right one into the left.
    while (depth >= 2 && sizes[depth - 1] === sizes[depth - 2]) {
      adder.add(slotAt(first + depth - 2), slotAt(first + depth - 1), slotFloats);
      sizes[depth - 2] *= 2;
      depth--;
    }
  }
  // What is left has falling power-of-two sizes: the tree adds them right to left.
  for (; depth >= 2; depth--) adder.add(slotAt(first + depth - 2), slotAt(first + depth - 1), slotFloats);
}

/**
 * Adds the sums of tasks [first, end) (task j's at root(j)) over the tree's upper levels
 * into dst, `n` floats from float offset `at` of each; needs end - first >= 2. temp(level)
 * is a scratch area of n floats for each level of recursion (levelsFor(tasks) of them).
 */
export function sumTasks(
  dst: number, first: number, end: number, root: (task: number) => number, at: number, n: number,
  adder: Adder, temp: (level: number) => number, level = 0,
): void {
  const count = end - first;
  if (count === 2) {
    adder.sum(dst, root(first) + at, root(first + 1) + at, n);
    return;
  }
  const split = first + floorPow2(count - 1);
  sumTasks(dst, first, split, root, at, n, adder, temp, level);
  if (end - split === 1) {
    adder.add(dst, root(split) + at, n);
  } else {
    sumTasks(temp(level), split, end, root, at, n, adder, temp, level + 1);
    adder.add(dst, temp(level), n);
  }
}

/** Scratch areas sumTasks needs for `tasks` task sums. */
export function levelsFor(tasks: number): number {
  return tasks <= 2 ? 0 : Math.ceil(Math.log2(tasks)) - 1;
}

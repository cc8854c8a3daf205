// Where the wasm kernel keeps its per-thread working memory: a layer table, the pixel
// table, softmax and delta buffers, and one block of activations and deltas per sample
// of a chunk. The caller reserves wasmScratchFloats(spec) floats in the shared memory
// (16-byte aligned, zeroed); kernel.wat reads the table's fields at the offsets below.

import type { ModelSpec } from '../spec.js';

/** Samples whose forward passes run before their backward passes, their data fetched in one go (kernel.wat's $touch). */
const CHUNK = 16;
/** Chunks of very wide models shrink so one chunk's blocks stay within about this many bytes. */
const CHUNK_BYTES = 256 * 1024;
/** i32 fields per layer in the table. */
export const TABLE_FIELDS = 8;

/** Byte offsets from the start of the scratch region (all multiples of 16). */
export interface ScratchLayout {
  table: number;
  pix: number;
  exps: number;
  totals: number;
  sd: number;
  blocks: number;
  /** Bytes per sample block. */
  stride: number;
  chunk: number;
  /** Bytes in all. */
  bytes: number;
  /** Per layer: byte offsets of its output activations and output delta within a block. */
  act: number[];
  delta: number[];
}

const quadBytes = (floats: number) => Math.ceil(floats / 4) * 16;

export function scratchLayout(spec: ModelSpec): ScratchLayout {
  const act: number[] = [];
  const delta: number[] = [];
  let stride = 0;
  // Widths padded to whole f32x4s whose padding stays zero, so ReLU and delta scaling run by quads.
  for (const layer of spec.layers) {
    act.push(stride);
    stride += quadBytes(layer.outputs);
    delta.push(stride);
    stride += quadBytes(layer.outputs);
  }
  const chunk = Math.max(1, Math.min(CHUNK, Math.floor(CHUNK_BYTES / stride)));
  const classes = spec.sizes[spec.sizes.length - 1];
  const table = 0;
  const pix = table + quadBytes(TABLE_FIELDS * spec.layers.length);
  const exps = pix + 256 * 4;
  const totals = exps + quadBytes(2 * classes);
  const sd = totals + 16;
  const blocks = sd + quadBytes(Math.max(...spec.layers.map((layer) => layer.outputs)));
  // Whole cache lines, so the next thread's region (they sit back to back) shares none with this one.
  const bytes = Math.ceil((blocks + chunk * stride) / 64) * 64;
  return { table, pix, exps, totals, sd, blocks, stride, chunk, bytes, act, delta };
}

/** Floats of scratch one wasm kernel (one thread) needs for this model. */
export function wasmScratchFloats(spec: ModelSpec): number {
  return scratchLayout(spec).bytes / 4;
}

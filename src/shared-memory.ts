// One shared WebAssembly.Memory per process holds the data set, parameters, gradients and
// optimiser state. Its buffer is a SharedArrayBuffer, so worker threads read every array
// in place, and a WebAssembly kernel given the same Memory reaches them by byte offset.
// Allocation only grows (a bump pointer; only the latest allocation can give back its tail,
// resizeLatest): memory is never freed, which suits a command that loads its data once and
// trains (a bench or a test builds several runs; each adds its own).

import { UserError } from './errors.js';

const PAGE_BYTES = 65536;
/** wasm32's whole address space; only what is used is committed. */
const MAX_PAGES = 65536;
/** Cache-line alignment: arrays written by different threads never share a line (SIMD needs only 16). */
const ALIGN = 64;

let memory: WebAssembly.Memory | undefined;
let top = ALIGN; // offset 0 stays unused, so no array sits at a null pointer

/** The process's shared memory (created on first use). */
export function sharedMemory(): WebAssembly.Memory {
  memory ??= new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
  return memory;
}

/** Bytes handed out so far (for tests that check nothing was allocated). */
export function sharedBytesInUse(): number {
  return top;
}

/** Reserves `bytes` (zeroed) and returns their byte offset in sharedMemory(). */
function allocate(bytes: number): number {
  const start = Math.ceil(top / ALIGN) * ALIGN;
  moveTop(start + Math.max(bytes, 0));
  return start;
}

/** Ends the allocated memory at `end`, growing the memory to reach it. */
function moveTop(end: number): void {
  const mem = sharedMemory();
  if (end > MAX_PAGES * PAGE_BYTES) throw tooBig(end, 'over the 4 GiB limit of WebAssembly memory');
  const have = mem.buffer.byteLength;
  try {
    if (end > have) mem.grow(Math.ceil((end - have) / PAGE_BYTES));
  } catch {
    throw tooBig(end, 'the system refused them');
  }
  top = end;
}

/**
 * Reachable from the command line (--hidden 20000,20000), so a sentence.
 */
function tooBig(bytes: number, why: string): UserError {
  return new UserError(`the model and data need more shared memory than nnfs can use (${Math.ceil(bytes / 2 ** 20)} MB, ${why}); use smaller layers, batches or data sets.`);
}

type View<T> = { new (buffer: SharedArrayBuffer, byteOffset: number, length: number): T; BYTES_PER_ELEMENT: number };

/** `length` zeroed elements of type `Type`, in the shared memory. */
function view<T>(Type: View<T>, length: number): T {
  const at = allocate(Type.BYTES_PER_ELEMENT * length);
  return new Type(sharedMemory().buffer as unknown as SharedArrayBuffer, at, length);
}

export const sharedUint8 = (length: number): Uint8Array => view(Uint8Array, length);
export const sharedInt32 = (length: number): Int32Array => view(Int32Array, length);
export const sharedUint32 = (length: number): Uint32Array => view(Uint32Array, length);
export const sharedFloat32 = (length: number): Float32Array => view(Float32Array, length);
export const sharedFloat64 = (length: number): Float64Array => view(Float64Array, length);

/**
 * `array`, the latest allocation, resized to `length` elements, its contents kept: for an
 * array whose length is known only once it is filled (the packed images). What it gives
 * back must be as it was allocated (zero): the next allocation starts there.
 */
export function resizeLatest<T extends Uint8Array | Int32Array | Uint32Array>(array: T, length: number): T {
  if (array.byteOffset + array.byteLength !== top) throw new Error('resizeLatest: not the latest allocation');
  moveTop(array.byteOffset + length * array.BYTES_PER_ELEMENT);
  const Type = array.constructor as View<T>;
  return new Type(sharedMemory().buffer as unknown as SharedArrayBuffer, array.byteOffset, length);
}

// One shared WebAssembly.Memory per process holds the data set, parameters, gradients and
// optimiser state. Its buffer is a SharedArrayBuffer, so worker threads read every array
// in place, and a WebAssembly kernel given the same Memory reaches them by byte offset.
// Allocation only grows (a bump pointer): a process loads its data and builds its runs once.

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
  const mem = sharedMemory();
  const start = Math.ceil(top / ALIGN) * ALIGN;
  const end = start + Math.max(bytes, 0);
  if (end > MAX_PAGES * PAGE_BYTES) throw new RangeError(`shared memory is full (asked for ${bytes} bytes more)`);
  const have = mem.buffer.byteLength;
  if (end > have) mem.grow(Math.ceil((end - have) / PAGE_BYTES));
  top = end;
  return start;
}

function buffer(): SharedArrayBuffer {
  return sharedMemory().buffer as unknown as SharedArrayBuffer;
}

export function sharedUint8(length: number): Uint8Array {
  const at = allocate(length);
  return new Uint8Array(buffer(), at, length);
}

export function sharedInt32(length: number): Int32Array {
  const at = allocate(4 * length);
  return new Int32Array(buffer(), at, length);
}

export function sharedUint32(length: number): Uint32Array {
  const at = allocate(4 * length);
  return new Uint32Array(buffer(), at, length);
}

export function sharedFloat32(length: number): Float32Array {
  const at = allocate(4 * length);
  return new Float32Array(buffer(), at, length);
}

export function sharedFloat64(length: number): Float64Array {
  const at = allocate(8 * length);
  return new Float64Array(buffer(), at, length);
}

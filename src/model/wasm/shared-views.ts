// Wasm code reaches arrays by byte offset into the shared WebAssembly.Memory, so an array
// from anywhere else would be read at a meaningless offset, silently. This check, done once
// per array object, turns that mistake into an error.

interface View {
  buffer: ArrayBufferLike;
  byteOffset: number;
  byteLength: number;
}

/** A checker that accepts views of `memory` (remembering each one) and throws on others. */
export function checkShared(memory: WebAssembly.Memory): <T extends View>(view: T) => T {
  const checked = new WeakSet<View>();
  return (view) => {
    if (checked.has(view)) return view;
    if (!(view.buffer instanceof SharedArrayBuffer) || view.byteOffset + view.byteLength > memory.buffer.byteLength) {
      throw new RangeError('wasm code only reaches arrays in the shared memory (src/shared-memory.ts)');
    }
    checked.add(view);
    return view;
  };
}

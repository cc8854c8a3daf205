// The SIMD image packer (src/model/wasm/pack.wat), instantiated once per thread over the
// process's shared memory; null where its module cannot be loaded.

import { wasmModule } from '../model/wasm/modules.js';
import { sharedMemory, sharedUint8 } from '../shared-memory.js';

export interface Packer {
  /** Also writes up to PACK_OVERRUN_BYTES past the last entry (see pack.wat). */
  pack(pixels: number, count: number, size: number, offsets: number, entries: number, at: number): number;
}

/** Room the entries array needs after its last entry. */
export const PACK_OVERRUN_BYTES = 16;

interface PackExports extends Packer {
  init(table: number): void;
}

let packer: Packer | null | undefined;

export function wasmPacker(): Packer | null {
  if (packer === undefined) {
    try {
      const exports = new WebAssembly.Instance(wasmModule('pack'), { env: { memory: sharedMemory() } }).exports as unknown as PackExports;
      exports.init(sharedUint8(256).byteOffset);
      packer = exports;
    } catch {
      packer = null;
    }
  }
  return packer;
}

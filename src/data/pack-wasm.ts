// The SIMD image packer (src/model/wasm/pack.wat), instantiated once per thread over the
// process's shared memory; undefined where its module cannot be loaded.

import { wasmModule } from '../model/wasm/modules.js';
import { sharedMemory } from '../shared-memory.js';

export interface Packer {
  countNonzero(pointer: number, count: number): number;
  pack(pixels: number, count: number, size: number, offsets: number, entries: number, at: number): number;
}

let packer: Packer | null | undefined;

export function wasmPacker(): Packer | undefined {
  if (packer === undefined) {
    try {
      packer = new WebAssembly.Instance(wasmModule('pack'), { env: { memory: sharedMemory() } }).exports as unknown as Packer;
    } catch {
      packer = null;
    }
  }
  return packer ?? undefined;
}

// Build step: assembles kernel.wat, update.wat and pack.wat into .wasm files next to the compiled
// loader (dist/src/model/wasm/), with the `wabt` package. `npm run build` runs it after tsc.
//
// Plain .wasm files, not JS modules of bytes: Node workers read them synchronously from
// disk, and a browser page can fetch them (WebAssembly.compileStreaming) or let a bundler
// emit them from `new URL('./kernel.wasm', import.meta.url)`, the pattern bundlers know.

import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import wabt from 'wabt';
import type { WasmModuleName } from './modules.js';

const NAMES: WasmModuleName[] = ['kernel', 'update', 'pack'];

/**
 * simd and bulk memory are wabt defaults, named anyway; the shared memory needs `threads`. Never
 * relaxed SIMD: Node 20 has it only behind --experimental-wasm-relaxed-simd, and its fused
 * multiply-add in the first layer's loops gained 3% at batch 64 (they wait on the cache more
 * than on arithmetic).
 */
const features = { simd: true, bulk_memory: true, threads: true, relaxed_simd: false };

const toolkit = await wabt();
for (const name of NAMES) {
  // Runs from dist/src/model/wasm/, so the sources are four folders up.
  const source = fileURLToPath(new URL(`../../../../src/model/wasm/${name}.wat`, import.meta.url));
  const target = fileURLToPath(new URL(`./${name}.wasm`, import.meta.url));
  const parsed = toolkit.parseWat(source, readFileSync(source, 'utf8'), features);
  try {
    // wabt's validate takes the features too, though its typings omit the argument.
    (parsed.validate as (options?: typeof features) => void)(features);
    const { buffer } = parsed.toBinary({});
    // The Node running the build must accept it too (no feature it lacks slipped in).
    if (!WebAssembly.validate(buffer)) throw new Error(`${source} assembled, but this Node's WebAssembly rejects it`);
    writeFileSync(target, buffer);
  } finally {
    parsed.destroy();
  }
}

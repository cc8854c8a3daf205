// Finds and compiles the assembled wasm modules (kernel.wasm, update.wasm, pack.wasm) once per thread.
// Node reads them synchronously, so a worker builds its kernel without awaiting anything.
// No static node: import, so a bundler for a page can include this file without breaking.

export type WasmModuleName = 'kernel' | 'update' | 'pack';

/** Where the build put `<name>.wasm`: beside this module's compiled JavaScript. */
function moduleUrl(name: WasmModuleName): URL {
  return new URL(`./${name}.wasm`, import.meta.url);
}

const compiled = new Map<WasmModuleName, WebAssembly.Module>();

/** This thread's compiled module. Compiling a few KB takes well under a millisecond. */
export function wasmModule(name: WasmModuleName): WebAssembly.Module {
  let module = compiled.get(name);
  if (!module) {
    module = new WebAssembly.Module(readModuleFile(name));
    compiled.set(name, module);
  }
  return module;
}

function readModuleFile(name: WasmModuleName): Uint8Array<ArrayBuffer> {
  const fs = globalThis.process?.getBuiltinModule?.('node:fs') as typeof import('node:fs') | undefined;
  if (!fs) throw new Error(`${name}.wasm can only be read from disk under Node.js`);
  // From the TypeScript sources (vitest) the build's copy is under dist/, as for the worker script.
  const candidates = [moduleUrl(name), new URL(`../../../dist/src/model/wasm/${name}.wasm`, import.meta.url)];
  for (const url of candidates) {
    if (fs.existsSync(url)) return fs.readFileSync(url);
  }
  throw new Error(`${name}.wasm is missing (looked for ${candidates[0].pathname}); run \`npm run build\` first`);
}

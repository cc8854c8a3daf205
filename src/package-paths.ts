// Where nnfs finds its own files, whatever the working folder: the package root and the
// shipped pretrained model.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Manifest {
  name?: string;
  version: string;
  engines?: { node?: string };
}

let found: { root: string; manifest: Manifest } | undefined;

/** nnfs's package.json and its folder, found once by walking up from this module. */
function packageManifest(): { root: string; manifest: Manifest } {
  if (found) return found;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
      if (manifest.name === 'nnfs') return (found = { root: dir, manifest });
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the nnfs package root above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** The folder holding nnfs's package.json, found upwards from this module (in src/ under vitest, in dist/ when built). */
export function packageRoot(): string {
  return packageManifest().root;
}

/** nnfs's version, from its package.json (yargs, bundled, would look beside the working folder). */
export function packageVersion(): string {
  return packageManifest().manifest.version;
}

/** The Node.js versions nnfs runs on, as package.json's `engines` gives them (">=20.19"). */
export function supportedNode(): string | undefined {
  return packageManifest().manifest.engines?.node;
}

/** The bundled command line that `npx nnfs` runs (package.json's bin). */
export function cliEntry(): string {
  return join(packageRoot(), 'dist', 'bin', 'nnfs.js');
}

/** The model that predict, evaluate and serve use when given no --checkpoint. */
export function pretrainedCheckpoint(): string {
  return join(packageRoot(), 'checkpoints', 'pretrained.safetensors');
}

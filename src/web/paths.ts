// Where the server finds its files: the package root (so `npx nnfs serve` works from any
// folder), the bundled page in dist/web, and the shipped pretrained checkpoint.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding nnfs's package.json, found by walking up from this module (dist/src/web or src/web under vitest). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'nnfs') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the nnfs package root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/** Where `npm run build:web` writes the bundled page. */
export function pageDir(): string {
  return join(packageRoot(), 'dist', 'web');
}

/** The checkpoint `nnfs serve` shows when given none. */
export function defaultCheckpoint(): string {
  return join(packageRoot(), 'checkpoints', 'pretrained.safetensors');
}

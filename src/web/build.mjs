// `npm run build:web`: bundles the page (main.ts and its comlink worker, with the engine's
// forward pass and preprocessing) for the browser with esbuild, and copies the HTML and
// CSS beside them into dist/web, the folder `nnfs serve` serves.

import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const page = join(here, 'page');
const out = resolve(here, '..', '..', 'dist', 'web');

// Start clean, so a file renamed or removed here never lingers in what is served.
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  entryPoints: { main: join(page, 'main.ts'), 'inference.worker': join(page, 'inference.worker.ts') },
  outdir: out,
  bundle: true,
  format: 'esm',
  // The browser platform: any node: import reaching the page fails the build instead of the page.
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
for (const file of ['index.html', 'style.css']) await copyFile(join(page, file), join(out, file));

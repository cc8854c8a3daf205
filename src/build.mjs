// Part of `npm run build`: bundles the command line (src/main.ts, src/cli.ts and everything it
// imports) and the worker threads' script into dist/bin with esbuild. Node loads one file
// about 40 ms faster than the ~110 modules it replaces (a tenth of a cold `nnfs train` up to
// its first epoch); each command's rarely used parts (the benchmarks, PNG decoding, the web
// server) stay in chunks loaded only when needed.

import { build } from 'esbuild';
import { chmod, copyFile, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'bin');
const wasm = join(root, 'dist', 'src', 'model', 'wasm');
const require = createRequire(import.meta.url);

/**
 * yargs measures text with string-width, whose start-up (Intl.Segmenter, Unicode property
 * regexes) and first use cost ~30 ms of every command's start, even one that prints no
 * help; fast-string-width gives the same widths for the help text (see test/cli.test.ts).
 * Only yargs and its layout packages get it: cli-progress require()s string-width 4, whose
 * export is the function itself (an alias for the whole bundle broke the progress bar).
 */
const yargsTextWidth = {
  name: 'yargs-text-width',
  setup(build) {
    build.onResolve({ filter: /^string-width$/ }, (args) =>
      /[\\/]node_modules[\\/](yargs|cliui|wrap-ansi)[\\/]/.test(args.importer)
        ? build.resolve('fast-string-width', { kind: args.kind, resolveDir: args.resolveDir })
        : undefined);
  },
};

/**
 * piscina is bundled too (loading its ~15 CommonJS files took ~25 ms of every training
 * command's start-up, against ~8 ms bundled), and so is the worker.js its pool starts each
 * thread on, found beside its code: in the bundle its __dirname becomes dist/bin/piscina,
 * where the second build below puts that file, so the pool and its threads always come from
 * the same piscina (the installed one could be updated without a rebuild).
 */
let piscinaHomeSet = false;
const piscinaHome = {
  name: 'piscina-home',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]piscina[\\/]dist[\\/]index\.js$/ }, async (args) => {
      piscinaHomeSet = true;
      const code = await readFile(args.path, 'utf8');
      if (!code.includes("__dirname, 'worker.js'")) throw new Error(`${args.path} no longer finds worker.js beside itself: see piscinaHome in src/build.mjs`);
      return { contents: code.replaceAll('__dirname', 'nnfsPiscinaHome'), loader: 'js' };
    });
  },
};

await rm(out, { recursive: true, force: true });
await build({
  entryPoints: { nnfs: join(root, 'src', 'main.ts') },
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: ['node20'],
  plugins: [yargsTextWidth, piscinaHome],
  // Bundled CommonJS packages (cli-progress, pngjs, benchmark) call require(); piscina's pool
  // looks for its thread script in nnfsPiscinaHome (see piscinaHome). Every chunk is in dist/bin.
  banner: { js: "import { createRequire as nnfsCreateRequire } from 'node:module'; import { fileURLToPath as nnfsFileURLToPath } from 'node:url'; const require = nnfsCreateRequire(import.meta.url); const nnfsPiscinaHome = nnfsFileURLToPath(new URL('piscina', import.meta.url));" },
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
});
if (!piscinaHomeSet) throw new Error("piscina's dist/index.js was not bundled: see piscinaHome in src/build.mjs");
// The worker threads' script in one file as well: each thread loads it at start-up, while
// the main thread loads the data, and on 2 cores they share the cores.
await build({
  entryPoints: { 'gradient.worker': join(root, 'workers', 'gradient.worker.ts') },
  outdir: out,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: ['node20'],
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
});
// tsc type-checks the worker's sources and emits them into dist/workers, but every pool runs
// the bundle above (src/train/pool.ts): the unused copy is removed so it cannot be run stale.
await rm(join(root, 'dist', 'workers'), { recursive: true, force: true });
// piscina's own thread script, which loads the one above; CommonJS, as piscina ships it, so
// its folder says so (dist/bin is in this ES module package). Its optional native helper for
// thread priorities (niceIncrement, which nnfs never sets) stays a run-time require.
const piscinaOut = join(out, 'piscina');
await build({
  entryPoints: { worker: join(dirname(require.resolve('piscina')), 'worker.js') },
  outdir: piscinaOut,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: ['node20'],
  external: ['@napi-rs/nice'],
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
});
await writeFile(join(piscinaOut, 'package.json'), '{ "type": "commonjs" }\n');
// src/model/wasm/modules.ts finds each module beside the code that loads it.
for (const file of await readdir(wasm)) if (file.endsWith('.wasm')) await copyFile(join(wasm, file), join(out, file));
// npx keeps a project's bin links per folder and never updates them: in a checkout (this
// one, or a user's, updated by git pull) where `npx nnfs` ran before the bundle existed, it
// still runs dist/src/cli.js, the same command line unbundled, as a script of its own: so
// that keeps its shebang (src/cli.ts) and stays executable (else sh reads it: 'Syntax
// error: "(" unexpected', or 'Permission denied'). A fresh clone never needs this.
await chmod(join(root, 'dist', 'src', 'cli.js'), 0o755);

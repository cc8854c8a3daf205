// `nnfs import --from-dat` through the real CLI: the .dat weights come back unchanged from
// the checkpoint it writes, only the named file is written, and bad folders are named.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDatWeights } from '../src/checkpoint/dat-import.js';
import { loadCheckpoint } from '../src/checkpoint/store.js';
import { loadMnist } from '../src/data/mnist.js';
import { CLI, hasStackTrace, runCli, tempDir } from './helpers.js';

/** A folder of the four .dat files (float64 little-endian, row-major, out x in) with distinct values. */
function datFolder(): string {
  const dir = tempDir('nnfs-dat-');
  const files: [string, number, number][] = [['W1.dat', 16, 784], ['b1.dat', 16, 1], ['W2.dat', 10, 16], ['b2.dat', 10, 1]];
  files.forEach(([name, rows, cols], f) => {
    const bytes = Buffer.alloc(rows * cols * 8);
    // Multiples of 1/8 stay exact in float32, so the round trip must be exact too.
    for (let k = 0; k < rows * cols; k++) bytes.writeDoubleLE((f + 1) * 0.125 * ((k % 97) - 48), k * 8);
    writeFileSync(join(dir, name), bytes);
  });
  return dir;
}

describe('nnfs import --from-dat', () => {
  it('writes a checkpoint holding exactly the .dat weights, the original recipe and the MNIST fingerprint', async () => {
    const from = datFolder();
    const outDir = join(tempDir(), 'models');
    const out = join(outDir, 'original.safetensors');
    const r = runCli(['import', '--from-dat', from, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*original\.safetensors/);

    const c = await loadCheckpoint(out);
    const expected = readDatWeights(from);
    expect(c.sizes).toEqual([784, 16, 10]);
    expect(Array.from(c.params)).toEqual(Array.from(expected.params));
    expect(c.config).toMatchObject({ hidden: [16], optimizer: 'sgd', lr: 0.01, batchSize: 1, init: 'randn', epochs: 200 });
    expect(c.position).toEqual({ epoch: 0, step: 0, globalStep: 0, partialLossSum: 0, partialSamples: 0 });
    expect(c.optimizerState).toEqual({});
    // So `nnfs resume` accepts it on the default data.
    expect(c.dataFingerprint).toBe(loadMnist().fingerprint);
    // Only the named file: no last.safetensors, no temporary files left behind.
    expect(readdirSync(outDir)).toEqual(['original.safetensors']);
  });

  it('names the file and its expected size when a .dat file has the wrong size or is missing', () => {
    const from = datFolder();
    truncateSync(join(from, 'W2.dat'), 1000);
    const out = join(tempDir(), 'x.safetensors');
    const wrong = runCli(['import', '--from-dat', from, '--out', out]);
    expect(wrong.status).not.toBe(0);
    expect(hasStackTrace(wrong.stderr)).toBe(false);
    expect(wrong.stderr.trim()).toBe(`nnfs: W2.dat in ${from} has 1000 bytes; expected 1280 (10x16 float64).`);

    const empty = tempDir();
    const missing = runCli(['import', '--from-dat', empty, '--out', out]);
    expect(missing.stderr.trim()).toBe(`nnfs: missing W1.dat in ${empty} (expected 100352 bytes: 16x784 float64).`);
    expect(readdirSync(join(out, '..'))).toEqual([]);
  });

  it('asks for --from-dat and --out, and refuses an --out it cannot write', () => {
    const r = runCli(['import', '--out', 'x.safetensors']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--from-dat DIR/);
    const blocker = tempDir();
    mkdirSync(join(blocker, 'taken.safetensors'));
    const busy = runCli(['import', '--from-dat', datFolder(), '--out', join(blocker, 'taken.safetensors')]);
    expect(busy.status).not.toBe(0);
    expect(hasStackTrace(busy.stderr)).toBe(false);
    expect(busy.stderr.trim()).toMatch(/^nnfs: .*taken\.safetensors already exists; import writes only a new file, so give another --out\.$/);
    writeFileSync(join(blocker, 'file'), '');
    const unwritable = runCli(['import', '--from-dat', datFolder(), '--out', join(blocker, 'file', 'x.safetensors')]);
    expect(unwritable.status).not.toBe(0);
    expect(hasStackTrace(unwritable.stderr)).toBe(false);
    // The file in the way is the folder's, not the checkpoint's.
    expect(unwritable.stderr.trim()).toMatch(/^nnfs: cannot save checkpoint .*x\.safetensors: part of the path is a file, not a folder\.$/);
    const folder = join(tempDir(), 'models/');
    const named = runCli(['import', '--from-dat', datFolder(), '--out', folder]);
    expect(named.status).toBe(1);
    expect(named.stderr).toBe(`nnfs: --out ${folder} names a folder; give the file to write, such as ${folder}original.safetensors.\n`);
  });

  it("refuses the names a run gives its own checkpoints: a run there would write over the import, or take it for its own", () => {
    const run = tempDir();
    for (const name of ['last.safetensors', 'epoch-0005.safetensors', 'epoch-0004-step-000120.safetensors']) {
      const r = runCli(['import', '--from-dat', datFolder(), '--out', join(run, name)]);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`nnfs: --out ${join(run, name)}: ${name} is a name training runs give their own checkpoints; give another, such as ${join(run, 'original.safetensors')}.\n`);
    }
    expect(readdirSync(run)).toEqual([]);
  });

  it('a write that fails leaves none of the folders it made for --out behind', () => {
    const parent = tempDir();
    // Files over 50 KB refused (EFBIG, with SIGXFSZ ignored): the checkpoint is 154 KB.
    const limited = spawnSync('bash', ['-c', 'trap "" XFSZ; ulimit -f 50; exec "$0" "$@"', process.execPath, CLI,
      'import', '--from-dat', datFolder(), '--out', join(parent, 'new', 'models', 'original.safetensors')], { encoding: 'utf8' });
    expect(limited.status).toBe(1);
    expect(limited.stderr.trim()).toMatch(/^nnfs: cannot save checkpoint .*original\.safetensors: the file would be larger than this system lets a process write\.$/);
    expect(readdirSync(parent)).toEqual([]);
  });
});

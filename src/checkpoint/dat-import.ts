// The original NumPy project's raw weights -> engine parameters. Its folder holds W1.dat,
// b1.dat, W2.dat, b2.dat: float64 little-endian, row-major, W as (out x in) like W @ x.

import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describeFsError, UserError } from '../errors.js';
import { modelSpec, setWeightsFromOutByIn } from '../model/spec.js';

/** The original project's only architecture. */
const ORIGINAL_SIZES = [784, 16, 10];

/** Reads one .dat file as `rows x cols` float64 values, checking its size and every value. */
function readMatrix(dir: string, name: string, rows: number, cols: number): Float64Array {
  const path = join(dir, name);
  const expected = rows * cols * 8;
  const shape = `${rows}x${cols} float64`;
  let size: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw new UserError(`${name} in ${dir} is not a file; expected ${expected} bytes (${shape}).`);
    size = stat.size;
  } catch (err) {
    if (err instanceof UserError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new UserError(`cannot read ${name} in ${dir}: ${describeFsError(err)}.`);
    throw new UserError(`missing ${name} in ${dir} (expected ${expected} bytes: ${shape}).`);
  }
  if (size !== expected) throw new UserError(`${name} in ${dir} has ${size} bytes; expected ${expected} (${shape}).`);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new UserError(`cannot read ${name} in ${dir}: ${describeFsError(err)}.`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values = new Float64Array(rows * cols);
  for (let k = 0; k < values.length; k++) {
    const v = view.getFloat64(k * 8, true);
    // The engine stores float32, so a finite float64 beyond float32's range is as bad as NaN.
    if (!Number.isFinite(Math.fround(v))) {
      throw new UserError(
        `${name} in ${dir} holds ${String(v)} at row ${Math.floor(k / cols)}, column ${k % cols} (from 0); weights must be finite float32 values.`,
      );
    }
    values[k] = v;
  }
  return values;
}

/**
 * Loads the original project's weights from `dir` into the engine's flat layout of
 * modelSpec([784, 16, 10]): W is transposed from (out x in) to input-major, float64 -> float32.
 */
export function readDatWeights(dir: string): { sizes: number[]; params: Float32Array } {
  let isFolder: boolean;
  try {
    isFolder = statSync(dir).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new UserError(`cannot read the weights folder ${dir}: ${describeFsError(err)}.`);
    throw new UserError(`no weights folder at ${dir}; expected a folder holding W1.dat, b1.dat, W2.dat and b2.dat.`);
  }
  if (!isFolder) throw new UserError(`${dir} is not a folder; expected a folder holding W1.dat, b1.dat, W2.dat and b2.dat.`);

  const spec = modelSpec(ORIGINAL_SIZES);
  const params = new Float32Array(spec.paramCount);
  spec.layers.forEach((layer, l) => {
    const { inputs, outputs, biasOffset } = layer;
    const w = readMatrix(dir, `W${l + 1}.dat`, outputs, inputs);
    const b = readMatrix(dir, `b${l + 1}.dat`, outputs, 1);
    setWeightsFromOutByIn(layer, w, params);
    for (let o = 0; o < outputs; o++) params[biasOffset + o] = b[o];
  });
  return { sizes: [...ORIGINAL_SIZES], params };
}

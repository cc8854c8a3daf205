// Node side of reading a hand-drawn digit: a PNG file on disk -> the 784 MNIST-style inputs.

import { readFileSync, statSync } from 'node:fs';
import { PNG } from 'pngjs';
import { refuseSpecialFile, UserError } from '../errors.js';
import { chunkList, imageDataBytes, imageDataProblem, readHeader } from './png-chunks.js';
import { grayFromRgba, toMnistInput } from './preprocess.js';

/** Every PNG file starts with these eight bytes. */
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Larger images would take gigabytes once expanded to RGBA; no digit drawing needs them. */
const MAX_PIXELS = 50_000_000;
/** pngjs spends a few hundred bytes on every row: 50 million 1-pixel rows exhaust the heap. */
const MAX_SIDE = 16_384;
/** Deflate expands data at most about 1032-fold, so a file cannot hold more pixel data than this times its size. */
const MAX_INFLATE_RATIO = 1032;

/** Why a failed read or decode failed, short enough to sit inside one sentence. */
function shortReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a folder';
  const message = err instanceof Error ? err.message : String(err);
  // pngjs's words for a file cut short.
  if (/read requests wait/i.test(message)) return 'the file ends too early';
  const line = (message.split('\n')[0] || 'unknown error').replace(/[.\s]+$/, '');
  return line.length > 80 ? `${line.slice(0, 77)}...` : line;
}

/**
 * Reads a PNG of any size, colour type and bit depth (pngjs expands everything to 8-bit
 * RGBA) and turns it into MNIST inputs with grayFromRgba + toMnistInput.
 */
export function readDigitPng(path: string): Float32Array {
  let bytes: Buffer;
  try {
    refuseSpecialFile(statSync(path), `${path} is not a readable PNG image (it is not a regular file).`);
    bytes = readFileSync(path);
  } catch (err) {
    if (err instanceof UserError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new UserError(`no image at ${path}.`);
    throw new UserError(`${path} is not a readable PNG image (${shortReason(err)}).`);
  }
  if (bytes.length === 0) throw new UserError(`${path} is not a readable PNG image (the file is empty).`);
  if (bytes.length < SIGNATURE.length || !bytes.subarray(0, SIGNATURE.length).equals(SIGNATURE)) {
    throw new UserError(`${path} is not a readable PNG image (it does not start with the PNG signature).`);
  }
  // Look at the header and the chunk list before pngjs decodes: it cannot decode a 0-pixel
  // image (which has no digit), a huge one would exhaust memory, and its words for a
  // malformed file seldom say what is wrong.
  const header = readHeader(bytes);
  if (typeof header === 'string') throw new UserError(`${path} is not a readable PNG image (${header}).`);
  const { width, height } = header;
  if (width === 0 || height === 0) return digitIn(path, new Float32Array(0), 0, 0);
  if (width * height > MAX_PIXELS || width > MAX_SIDE || height > MAX_SIDE) {
    throw new UserError(`${path} is too large to read as a digit (${width}x${height} pixels; at most ${MAX_PIXELS} pixels and ${MAX_SIDE} a side).`);
  }
  const chunks = chunkList(bytes);
  if (typeof chunks === 'string') throw new UserError(`${path} is not a readable PNG image (${chunks}).`);
  // The header's size must be backed by the file's bytes before anything allocates for it.
  if (imageDataBytes(header) > bytes.length * MAX_INFLATE_RATIO) {
    throw new UserError(`${path} is not a readable PNG image (its header claims ${width}x${height} pixels, more than its ${bytes.length} bytes can hold).`);
  }
  const problem = imageDataProblem(chunks, header);
  if (problem) throw new UserError(`${path} is not a readable PNG image (${problem}).`);
  let png: PNG;
  try {
    png = PNG.sync.read(chunks);
  } catch (err) {
    throw new UserError(`${path} is not a readable PNG image (${shortReason(err)}).`);
  }
  const gray = grayFromRgba(png.data, png.width, png.height);
  return digitIn(path, gray, png.width, png.height);
}

/** toMnistInput, its refusal (an image with no digit) naming the file. */
function digitIn(path: string, gray: Float32Array, width: number, height: number): Float32Array {
  try {
    return toMnistInput(gray, width, height);
  } catch (e) {
    throw e instanceof UserError ? new UserError(`${path}: ${e.message}`) : e;
  }
}

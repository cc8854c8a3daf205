// Strict reader for the IDX format of the MNIST files: bytes in, shared typed arrays out.
// No fs and no zlib here: callers read and gunzip the bytes (mnist.ts, gzip.ts).
//
// Layout: a big-endian header (two zero bytes, a data type byte, a dimension count byte,
// then one uint32 per dimension) followed by the values. MNIST uses magic 0x00000803
// (unsigned-byte images, 3 dims: count, rows, cols) and 0x00000801 (labels, 1 dim).

import { UserError } from '../errors.js';
import { sharedUint8 } from './dataset.js';

export type IdxHeader =
  | { kind: 'images'; count: number; rows: number; cols: number; headerBytes: number; dataBytes: number }
  | { kind: 'labels'; count: number; headerBytes: number; dataBytes: number };

export type IdxFile =
  | { kind: 'images'; count: number; rows: number; cols: number; data: Uint8Array }
  | { kind: 'labels'; count: number; data: Uint8Array };

/** The sparse packing keeps a pixel index in 24 bits. */
const MAX_PIXELS_PER_IMAGE = 1 << 24;
/** Shared buffers and the sparse offsets (Int32Array) stay within 2^31 bytes. */
const MAX_DATA_BYTES = 2 ** 31 - 1;

const UNSIGNED_BYTE = 0x08;
/** The other IDX data types (int8, int16, int32, float32, float64): valid IDX, but not ours. */
const OTHER_TYPES = new Set([0x09, 0x0b, 0x0c, 0x0d, 0x0e]);

function hex(value: number, digits: number): string {
  return '0x' + value.toString(16).padStart(digits, '0');
}

function uint32At(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

/**
 * Reads and checks the header from the first bytes of a file (`head`, at least 16 bytes
 * where the file has them) against the whole file's length. Pure arithmetic: it never
 * allocates for the data, so a header claiming 2^31 images is refused at no cost.
 */
export function parseIdxHeader(head: Uint8Array, fileBytes: number, source: string): IdxHeader {
  if (fileBytes < 4 || head.length < 4) {
    throw new UserError(`${source} is too short to be an IDX file (${fileBytes} bytes).`);
  }
  const magic = uint32At(head, 0);
  const type = head[2];
  const dims = head[3];
  if (head[0] !== 0 || head[1] !== 0 || (type !== UNSIGNED_BYTE && !OTHER_TYPES.has(type)) || dims === 0) {
    throw new UserError(`${source} is not an IDX file (magic ${hex(magic, 8)}).`);
  }
  if (type !== UNSIGNED_BYTE) {
    throw new UserError(`${source} holds IDX values of type ${hex(type, 2)}, but nnfs reads only unsigned bytes (type 0x08).`);
  }
  if (dims !== 1 && dims !== 3) {
    throw new UserError(`${source} is an IDX file with ${dims} dimensions, neither images (3) nor labels (1).`);
  }
  const headerBytes = 4 + 4 * dims;
  if (fileBytes < headerBytes || head.length < headerBytes) {
    throw new UserError(`${source} is truncated: its IDX header needs ${headerBytes} bytes but the file has ${fileBytes} bytes.`);
  }

  const count = uint32At(head, 4);
  const rows = dims === 3 ? uint32At(head, 8) : 1;
  const cols = dims === 3 ? uint32At(head, 12) : 1;
  const what = dims === 3 ? `${count} images of ${rows}x${cols}` : `${count} labels`;
  if (count === 0 || rows === 0 || cols === 0) {
    throw new UserError(`${source} has a zero in its header: it says ${what}.`);
  }
  if (rows * cols > MAX_PIXELS_PER_IMAGE) {
    throw new UserError(`${source} claims images of ${rows}x${cols} pixels; nnfs handles at most ${MAX_PIXELS_PER_IMAGE} pixels an image.`);
  }

  // BigInt keeps the size exact even for absurd headers (2^32 images of 4096x4096).
  const expected = BigInt(headerBytes) + BigInt(count) * BigInt(rows) * BigInt(cols);
  const actual = BigInt(fileBytes);
  if (actual < expected) {
    throw new UserError(`${source} is truncated: header says ${what} (${expected} bytes) but the file has ${fileBytes} bytes.`);
  }
  if (actual > expected) {
    throw new UserError(`${source} is too long: header says ${what} (${expected} bytes) but the file has ${fileBytes} bytes.`);
  }
  const dataBytes = fileBytes - headerBytes;
  if (dataBytes > MAX_DATA_BYTES) {
    throw new UserError(`${source} holds ${dataBytes} bytes of data; nnfs loads at most ${MAX_DATA_BYTES}.`);
  }
  return dims === 3
    ? { kind: 'images', count, rows, cols, headerBytes, dataBytes }
    : { kind: 'labels', count, headerBytes, dataBytes };
}

/** Parses a whole IDX file held in memory; the values are copied once into shared memory. */
export function parseIdx(bytes: Uint8Array, source: string): IdxFile {
  const header = parseIdxHeader(bytes, bytes.length, source);
  const data = sharedUint8(header.dataBytes);
  data.set(bytes.subarray(header.headerBytes));
  return withData(header, data);
}

/** Pairs a checked header with its values (read by whatever means the caller chose). */
export function withData(header: IdxHeader, data: Uint8Array): IdxFile {
  return header.kind === 'images'
    ? { kind: 'images', count: header.count, rows: header.rows, cols: header.cols, data }
    : { kind: 'labels', count: header.count, data };
}

// Checks a PNG's header and chunk list before it is decoded, so a malformed file is refused
// for what is wrong with it: pngjs's own words for most of these ("unrecognised content at
// end of stream", "Unrecognised filter type - 16") do not say.

import { constants, inflateSync } from 'node:zlib';

/** Samples per pixel of each PNG colour type. */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** The bit depths PNG allows for each colour type. */
const DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

/** Critical chunks (their type starts upper case) that a decoder may not skip; pngjs knows these. */
const KNOWN_CRITICAL = new Set(['IHDR', 'PLTE', 'IDAT', 'IEND']);

export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colourType: number;
  interlaced: boolean;
}

/**
 * The header of `bytes` (a file that starts with the PNG signature), or why it is not a
 * PNG this reader can decode, as a phrase.
 */
export function readHeader(bytes: Buffer): PngHeader | string {
  if (bytes.length < 33) return 'the file ends too early';
  if (bytes.toString('latin1', 12, 16) !== 'IHDR') return 'its first chunk is not the IHDR header';
  const [bitDepth, colourType, compression, filter, interlace] = bytes.subarray(24, 29);
  if (!(colourType in DEPTHS)) return `its header names colour type ${colourType}, which PNG does not have`;
  if (!DEPTHS[colourType].includes(bitDepth)) return `its header names bit depth ${bitDepth} for colour type ${colourType}, where PNG allows ${DEPTHS[colourType].join(', ')}`;
  if (compression !== 0) return `its header names compression method ${compression}; PNG has only 0`;
  if (filter !== 0) return `its header names filter method ${filter}; PNG has only 0`;
  if (interlace > 1) return `its header names interlace method ${interlace}; PNG has 0 and 1`;
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20), bitDepth, colourType, interlaced: interlace === 1 };
}

/**
 * Walks the chunk list after the signature: the bytes up to the end of IEND (anything after
 * it is ignored, as other decoders do), or why the list is unusable, as a phrase.
 */
export function chunkList(bytes: Buffer): Buffer | string {
  let at = 8;
  let imageData = false;
  while (at + 12 <= bytes.length) {
    const length = bytes.readUInt32BE(at);
    const type = bytes.toString('latin1', at + 4, at + 8);
    const end = at + 12 + length;
    if (end > bytes.length) return 'the file ends too early';
    if (type === 'IDAT') imageData = true;
    if (type === 'IEND') return imageData ? bytes.subarray(0, end) : 'it holds no image data';
    const critical = type.charCodeAt(0) >= 0x41 && type.charCodeAt(0) <= 0x5a;
    if (critical && !KNOWN_CRITICAL.has(type)) return `it holds a chunk (${JSON.stringify(type)}) that a reader may not skip and this one does not know`;
    at = end;
  }
  return 'the file ends too early';
}

/** The Adam7 passes: first column and row, then the step between columns and rows. */
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];

/** The bytes the image data inflates to: each row of each pass (one pass unless interlaced) with its filter byte. */
export function imageDataBytes(h: PngHeader): number {
  const bits = CHANNELS[h.colourType] * h.bitDepth;
  const rows = (width: number, height: number) => (width === 0 ? 0 : height * (1 + Math.ceil((width * bits) / 8)));
  if (!h.interlaced) return rows(h.width, h.height);
  let total = 0;
  for (const [x0, y0, dx, dy] of ADAM7) total += rows(Math.ceil((h.width - x0) / dx), Math.ceil((h.height - y0) / dy));
  return total;
}

/**
 * Why the image data of `chunks` (chunkList's bytes) does not make exactly the whole image, as
 * a phrase, or undefined if it does. pngjs does not check: given too little, it decodes
 * whatever memory follows (a different digit, or a different error, every run); given too
 * much, or bytes after the compressed stream, it says the file ends too early.
 */
export function imageDataProblem(chunks: Buffer, h: PngHeader): string | undefined {
  const parts: Buffer[] = [];
  for (let at = 8; at + 12 <= chunks.length; at += 12 + chunks.readUInt32BE(at)) {
    if (chunks.toString('latin1', at + 4, at + 8) === 'IDAT') parts.push(chunks.subarray(at + 8, at + 8 + chunks.readUInt32BE(at)));
  }
  const needed = imageDataBytes(h);
  const stream = Buffer.concat(parts);
  const tooLong = `its image data is longer than the ${needed} bytes its ${h.width}x${h.height} header needs`;
  let inflated: Buffer;
  let used: number;
  try {
    // A stream cut short still gives what it holds; more than the image needs is not inflated.
    // With info, zlib also returns its engine, whose bytesWritten is the input it consumed.
    const result = inflateSync(stream, { info: true, finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: needed + 1 }) as unknown as Inflated;
    inflated = result.buffer;
    used = result.engine.bytesWritten;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return tooLong;
    return `its image data is damaged: ${(err as Error).message}`;
  }
  if (inflated.length < needed) return `its image data is cut short: ${inflated.length} of the ${needed} bytes the image needs`;
  if (inflated.length > needed) return tooLong;
  if (used < stream.length) return `its image data has ${stream.length - used} stray bytes after its compressed stream ends`;
  return undefined;
}

/** What inflateSync returns when given `info: true` (its typings say Buffer). */
interface Inflated {
  buffer: Buffer;
  engine: { bytesWritten: number };
}

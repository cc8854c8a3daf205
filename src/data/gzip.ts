// Transparent gunzip for data files (MNIST is often shipped as .gz), apart from the IDX
// parser, which takes bytes from wherever they came.

import { gunzipSync } from 'node:zlib';
import { UserError } from '../errors.js';

/** No IDX data set nnfs reads comes near this; a bound stops a gzip bomb filling memory. */
const MAX_GUNZIP_BYTES = 1 << 30;

/** True when `bytes` start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Returns `bytes` decompressed if they are gzip, else `bytes` unchanged. */
export function gunzipIfNeeded(bytes: Uint8Array, source: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return gunzipSync(bytes, { maxOutputLength: MAX_GUNZIP_BYTES });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new UserError(`${source} decompresses to more than 1 GiB, far more than any data set nnfs reads.`);
    }
    throw new UserError(`${source} is a damaged gzip file.`);
  }
}

// The safetensors byte layout, generic and pure (bytes in, bytes out, no files):
// 8-byte little-endian header length, a JSON header, then raw little-endian tensors.
// Decoding trusts nothing in the header: every field is checked before it sizes a copy.

import { UserError } from '../errors.js';

export type Dtype = 'F32' | 'F64';

export interface TensorIn {
  name: string;
  dtype: Dtype;
  shape: number[];
  data: Float32Array | Float64Array;
}

export interface TensorOut {
  dtype: Dtype;
  shape: number[];
  data: Float32Array | Float64Array;
}

export interface DecodedSafetensors {
  metadata: Record<string, string>;
  tensors: Map<string, TensorOut>;
  /** The raw data section (a view into the input), for checksums over the tensor bytes. */
  dataSection: Uint8Array;
}

const DTYPE_SIZE: Record<Dtype, number> = { F32: 4, F64: 8 };
/** Refuse headers above this size: a real one is a few KB, and a damaged length must not drive an allocation. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const METADATA_KEY = '__metadata__';
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function damaged(detail: string): UserError {
  return new UserError(`checkpoint header is damaged: ${detail}.`);
}

function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Writes `data` as little-endian bytes into `out` at `offset`, whatever the host's byte order. */
function writeLittleEndian(out: Uint8Array, offset: number, data: Float32Array | Float64Array): void {
  if (HOST_IS_LITTLE_ENDIAN) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), offset);
    return;
  }
  const view = new DataView(out.buffer, out.byteOffset + offset, data.byteLength);
  const f64 = data instanceof Float64Array;
  for (let i = 0; i < data.length; i++) {
    if (f64) view.setFloat64(i * 8, data[i], true);
    else view.setFloat32(i * 4, data[i], true);
  }
}

/** Copies little-endian bytes into a fresh (hence aligned) typed array of `dtype`. */
function readLittleEndian(bytes: Uint8Array, dtype: Dtype, count: number): Float32Array | Float64Array {
  const out = dtype === 'F64' ? new Float64Array(count) : new Float32Array(count);
  if (HOST_IS_LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < count; i++) out[i] = dtype === 'F64' ? view.getFloat64(i * 8, true) : view.getFloat32(i * 4, true);
  return out;
}

/** Serialises tensors (in the given order, packed without gaps) and string metadata. */
export function encodeSafetensors(tensors: readonly TensorIn[], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { [METADATA_KEY]: { ...metadata } };
  let offset = 0;
  for (const t of tensors) {
    if (t.name === METADATA_KEY || Object.prototype.hasOwnProperty.call(header, t.name)) {
      throw new Error(`duplicate or reserved tensor name ${t.name}`);
    }
    const expected = elementCount(t.shape) * DTYPE_SIZE[t.dtype];
    const matchesType = t.dtype === 'F64' ? t.data instanceof Float64Array : t.data instanceof Float32Array;
    if (!matchesType || t.data.byteLength !== expected) {
      throw new Error(`tensor ${t.name} does not match its dtype ${t.dtype} and shape [${t.shape.join(',')}]`);
    }
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + expected] };
    offset += expected;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let at = 8 + padded;
  for (const t of tensors) {
    writeLittleEndian(out, at, t.data);
    at += t.data.byteLength;
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isIndex(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Reads the 8-byte length and the JSON header; throws a UserError on anything malformed. */
function readHeader(bytes: Uint8Array): { header: Record<string, unknown>; dataStart: number } {
  if (bytes.length < 8) {
    throw new UserError(`checkpoint is truncated: it is ${bytes.length} bytes long, too short to hold even the 8-byte header length.`);
  }
  // A safetensors header is a JSON object, so its 9th byte is "{". A file where it is not is
  // something else (a README, a PNG), better told so than that its "header length" is absurd.
  if (bytes.length > 8 && bytes[8] !== 0x7b) {
    throw new UserError('not a checkpoint (a safetensors file has a JSON header from its 9th byte on; this one does not).');
  }
  const length = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES)) {
    throw damaged(`it claims a ${length} byte header, more than the ${MAX_HEADER_BYTES} bytes nnfs accepts`);
  }
  if (length > BigInt(bytes.length - 8)) {
    throw new UserError(`checkpoint is truncated: its header should be ${length} bytes but only ${bytes.length - 8} follow the header length.`);
  }
  const dataStart = 8 + Number(length);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart));
  } catch {
    throw damaged('it is not valid UTF-8 text');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch {
    throw damaged('it is not valid JSON');
  }
  if (!isPlainObject(header)) throw damaged('it is not a JSON object');
  return { header, dataStart };
}

function readMetadata(header: Record<string, unknown>): Record<string, string> {
  const raw = header[METADATA_KEY];
  if (raw === undefined) return {};
  if (!isPlainObject(raw)) throw damaged('__metadata__ is not an object');
  const entries: [string, string][] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== 'string') throw damaged(`metadata value ${key} is not a string`);
    entries.push([key, value]);
  }
  // fromEntries defines own properties, so a key like "__proto__" stays plain data.
  return Object.fromEntries(entries);
}

interface Entry {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

function readEntry(name: string, raw: unknown, dataLength: number): Entry {
  if (!isPlainObject(raw)) throw damaged(`tensor ${name} is not described by an object`);
  const { dtype, shape, data_offsets: offsets } = raw;
  if (dtype !== 'F32' && dtype !== 'F64') {
    throw damaged(`tensor ${name} has dtype ${JSON.stringify(dtype) ?? 'undefined'}, which nnfs does not read (only F32 and F64)`);
  }
  if (!Array.isArray(shape) || !shape.every(isIndex)) throw damaged(`tensor ${name} has a shape that is not a list of non-negative whole numbers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) {
    throw damaged(`tensor ${name} has data_offsets that are not two non-negative whole numbers`);
  }
  const [begin, end] = offsets as number[];
  if (begin > end) throw damaged(`tensor ${name} ends before it begins`);
  if (end > dataLength) throw new UserError(`checkpoint is truncated: tensor ${name} ends past the end of the file.`);
  // Compare sizes without overflow: stop multiplying once the product exceeds the bytes present.
  const limit = (end - begin) / DTYPE_SIZE[dtype];
  // A zero anywhere in the shape makes it empty, even after a dimension that exceeds the limit.
  let count = (shape as number[]).includes(0) ? 0 : 1;
  for (const d of shape as number[]) {
    count *= d;
    if (count > limit) break;
  }
  if (count !== limit) throw damaged(`tensor ${name} has ${end - begin} bytes, which does not fit its shape [${shape.join(',')}] of ${dtype}`);
  return { name, dtype, shape: shape as number[], begin, end };
}

/** Parses safetensors bytes; every failure is a UserError with one sentence. */
export function decodeSafetensors(bytes: Uint8Array): DecodedSafetensors {
  const { header, dataStart } = readHeader(bytes);
  const metadata = readMetadata(header);
  const dataSection = bytes.subarray(dataStart);
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name !== METADATA_KEY) entries.push(readEntry(name, raw, dataSection.length));
  }
  // Tensors must tile the data section: no overlaps, and (as the reference reader demands) no holes.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const e of sorted) {
    if (e.begin < covered) throw damaged(`tensor ${e.name} overlaps another tensor`);
    if (e.begin > covered) throw damaged(`there are unused bytes before tensor ${e.name}`);
    covered = e.end;
  }
  if (covered !== dataSection.length) throw damaged(`${dataSection.length - covered} bytes after the last tensor belong to no tensor`);
  const tensors = new Map<string, TensorOut>();
  for (const e of entries) {
    const data = readLittleEndian(dataSection.subarray(e.begin, e.end), e.dtype, (e.end - e.begin) / DTYPE_SIZE[e.dtype]);
    tensors.set(e.name, { dtype: e.dtype, shape: [...e.shape], data });
  }
  return { metadata, tensors, dataSection };
}

// Property-based fuzzing of every reader of outside bytes: the IDX reader (plain, gzip and
// from disk), the safetensors / checkpoint reader, the original project's .dat importer and
// the PNG path. Each property starts from VALID bytes built here, then mutates bytes,
// truncates at every length class, grows header counts or feeds random bytes. Every case
// must end in a correct-looking result (its invariants are checked) or a UserError whose
// message is one non-empty line, quickly, and a refused IDX file must not have touched
// the shared-memory arena.
//
// Default (CI): seed 42, 200 runs per property, a few seconds in all.
// Longer run (any seed; a failure prints the seed and path that reproduce it):
//   NNFS_FUZZ_RUNS=20000 NNFS_FUZZ_SEED=7 npx vitest run test/fuzz-readers.test.ts
//
// The readers are synchronous, so a hang cannot be interrupted from here: every case is
// timed instead and must finish within CASE_LIMIT_MS (the CI job's timeout is the backstop).

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateSync, gzipSync, inflateSync } from 'node:zlib';
import fc from 'fast-check';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { readDatWeights } from '../src/checkpoint/dat-import.js';
import { decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint/format.js';
import { decodeSafetensors, encodeSafetensors, type TensorIn } from '../src/checkpoint/safetensors.js';
import { assertWritable } from '../src/checkpoint/safe-files.js';
import { loadCheckpoint } from '../src/checkpoint/store.js';
import type { Checkpoint } from '../src/checkpoint/types.js';
import { DEFAULTS, validateConfig, type TrainConfig } from '../src/config.js';
import { gunzipIfNeeded } from '../src/data/gzip.js';
import { parseIdx, type IdxFile } from '../src/data/idx.js';
import { loadMnist, readIdxFile } from '../src/data/mnist.js';
import { readDigitPng } from '../src/data/png.js';
import { grayFromRgba, toMnistInput } from '../src/data/preprocess.js';
import { UserError } from '../src/errors.js';
import { modelSpec } from '../src/model/spec.js';
import { sharedBytesInUse } from '../src/shared-memory.js';
import { tempDir } from './helpers.js';

const SEED = Number(process.env.NNFS_FUZZ_SEED ?? 42);
const RUNS = Number(process.env.NNFS_FUZZ_RUNS ?? 200);
fc.configureGlobal({ seed: SEED, numRuns: RUNS });
/** Properties that write files run a quarter as often. */
const FILE_RUNS = Math.max(20, Math.round(RUNS / 4));
/** Generous per-test budget that grows with the run count, so a long run is not cut short. */
const TIMEOUT = 30_000 + RUNS * 40;
/** No single case may take longer than this: the inputs are at most a few hundred KB. */
const CASE_LIMIT_MS = 2_000;
/** A header claiming an absurd size must be refused within this (far below reading or filling gigabytes; loose enough for a busy CI machine). */
const FAST_MS = 500;

// ---------------------------------------------------------------------------------------
// The contract every case is held to.

type Outcome<T> = { ok: true; value: T } | { ok: false; error: UserError };

/**
 * Runs a reader on hostile input: returns its result, or the UserError it threw after
 * checking the message is one clear line. Any other exception fails the property (and
 * fast-check shrinks the input that caused it).
 */
function attempt<T>(run: () => T): Outcome<T> {
  const started = performance.now();
  try {
    return { ok: true, value: run() };
  } catch (error) {
    return { ok: false, error: asUserError(error) };
  } finally {
    const ms = performance.now() - started;
    if (ms > CASE_LIMIT_MS) throw new Error(`a case took ${ms.toFixed(0)} ms`);
  }
}

async function attemptAsync<T>(run: () => Promise<T>): Promise<Outcome<T>> {
  const started = performance.now();
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    return { ok: false, error: asUserError(error) };
  } finally {
    const ms = performance.now() - started;
    if (ms > CASE_LIMIT_MS) throw new Error(`a case took ${ms.toFixed(0)} ms`);
  }
}

function asUserError(error: unknown): UserError {
  if (!(error instanceof UserError)) {
    const what = error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error);
    throw new Error(`expected a UserError or a result, got ${what}`);
  }
  const message = error.message;
  if (message.trim() === '' || /[\r\n]/.test(message)) throw new Error(`UserError message is not one line: ${JSON.stringify(message)}`);
  return error;
}

/** Asserts `run` throws a UserError within FAST_MS without growing the shared arena. */
function refusedFast(run: () => unknown, pattern?: RegExp): UserError {
  const before = sharedBytesInUse();
  const arrays = process.memoryUsage().arrayBuffers;
  const started = performance.now();
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  const ms = performance.now() - started;
  expect(caught, 'expected a UserError').toBeInstanceOf(UserError);
  if (pattern) expect((caught as Error).message).toMatch(pattern);
  expect(ms).toBeLessThan(FAST_MS);
  expect(sharedBytesInUse() - before).toBe(0);
  // Nothing big landed in ordinary ArrayBuffers either (a GC in between only lowers it).
  expect(process.memoryUsage().arrayBuffers - arrays).toBeLessThan(1 << 20);
  return caught as UserError;
}

function allFinite(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}

// ---------------------------------------------------------------------------------------
// Generic byte mutations, shared by every format.

/** Length classes of a truncation for a file with `header` header bytes: 0, inside the header, at its end, inside the data, one short. */
function truncationLength(total: number, header: number): fc.Arbitrary<number> {
  const classes: fc.Arbitrary<number>[] = [fc.constant(0), fc.constant(Math.max(0, total - 1)), fc.integer({ min: 0, max: Math.max(0, total - 1) })];
  if (header > 1) classes.push(fc.integer({ min: 1, max: header - 1 }));
  if (header < total) classes.push(fc.constant(header));
  if (header + 1 < total - 1) classes.push(fc.integer({ min: header + 1, max: total - 2 }));
  return fc.oneof(...classes);
}

/** Up to 8 (position, byte) edits; positions are taken modulo the length. */
const byteEdits = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 });

function applyEdits(bytes: Uint8Array, edits: [number, number][], within = bytes.length): Uint8Array {
  const out = Uint8Array.from(bytes);
  if (out.length === 0 || within === 0) return out;
  for (const [at, value] of edits) out[at % Math.min(within, out.length)] = value;
  return out;
}

/** Values a damaged header field likes to hold. */
const uint32Field = fc.oneof(
  fc.constantFrom(0, 1, 2, 255, 256, 0xffff, 1 << 24, (1 << 24) + 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1),
  fc.integer({ min: 0, max: 2 ** 32 - 1 }),
);

// ---------------------------------------------------------------------------------------
// IDX

interface IdxSpec {
  kind: 'images' | 'labels';
  count: number;
  rows: number;
  cols: number;
  payload: Uint8Array;
}

function idxBytes(spec: IdxSpec): Uint8Array {
  const dims = spec.kind === 'images' ? [spec.count, spec.rows, spec.cols] : [spec.count];
  const out = new Uint8Array(4 + 4 * dims.length + spec.payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, spec.kind === 'images' ? 0x803 : 0x801, false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(spec.payload, 4 + 4 * dims.length);
  return out;
}

const validIdx: fc.Arbitrary<IdxSpec> = fc
  .record({
    kind: fc.constantFrom<'images' | 'labels'>('images', 'labels'),
    count: fc.integer({ min: 1, max: 5 }),
    rows: fc.integer({ min: 1, max: 7 }),
    cols: fc.integer({ min: 1, max: 7 }),
  })
  .chain((h) => {
    const n = h.kind === 'images' ? h.count * h.rows * h.cols : h.count;
    return fc.uint8Array({ minLength: n, maxLength: n }).map((payload) => ({ ...h, ...(h.kind === 'labels' ? { rows: 1, cols: 1 } : {}), payload }));
  });

const idxHeaderBytes = (bytes: Uint8Array): number => (bytes.length >= 4 ? 4 + 4 * bytes[3] : 4);

/** What a successful parse of `bytes` must look like: every field as the header says, every byte copied. */
function checkIdx(file: IdxFile, bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  expect([bytes[0], bytes[1], bytes[2]]).toEqual([0, 0, 8]);
  const dims = bytes[3];
  expect(dims === 3 ? 'images' : dims === 1 ? 'labels' : 'other').toBe(file.kind);
  const count = view.getUint32(4, false);
  expect(file.count).toBe(count);
  let values = count;
  if (file.kind === 'images') {
    expect([file.rows, file.cols]).toEqual([view.getUint32(8, false), view.getUint32(12, false)]);
    values = count * file.rows * file.cols;
  }
  expect(count).toBeGreaterThan(0);
  expect(file.data.length).toBe(values);
  expect(bytes.length).toBe(4 + 4 * dims + values);
  expect(file.data.buffer).toBeInstanceOf(SharedArrayBuffer);
  expect(Buffer.from(file.data).equals(Buffer.from(bytes.subarray(4 + 4 * dims)))).toBe(true);
}

/** parseIdx on hostile bytes: a correct file or a UserError, and a refusal allocates nothing. */
function idxCase(bytes: Uint8Array): Outcome<IdxFile> {
  const before = sharedBytesInUse();
  const result = attempt(() => parseIdx(bytes, 'fuzz.idx'));
  if (result.ok) checkIdx(result.value, bytes);
  else expect(sharedBytesInUse()).toBe(before);
  return result;
}

/** A hostile variant of a valid IDX file. */
const hostileIdx: fc.Arbitrary<Uint8Array> = fc.oneof(
  // Random byte edits, biased towards the header.
  validIdx.chain((s) => {
    const bytes = idxBytes(s);
    return fc.tuple(byteEdits, fc.boolean()).map(([edits, headerOnly]) => applyEdits(bytes, edits, headerOnly ? idxHeaderBytes(bytes) : bytes.length));
  }),
  // Truncation at every length class.
  validIdx.chain((s) => {
    const bytes = idxBytes(s);
    return truncationLength(bytes.length, idxHeaderBytes(bytes)).map((n) => bytes.slice(0, n));
  }),
  // Extra bytes appended.
  fc.tuple(validIdx, fc.uint8Array({ minLength: 1, maxLength: 16 })).map(([s, extra]) => Buffer.concat([idxBytes(s), extra])),
  // A grown (or shrunk) header field: count, rows or cols set to anything a uint32 holds.
  fc.tuple(validIdx, fc.integer({ min: 0, max: 2 }), uint32Field).map(([s, field, value]) => {
    const bytes = idxBytes(s);
    const at = 4 + 4 * Math.min(field, s.kind === 'images' ? 2 : 0);
    new DataView(bytes.buffer).setUint32(at, value, false);
    return bytes;
  }),
  // Wrong magic: another data type or dimension count.
  fc.tuple(validIdx, fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })).map(([s, type, dims]) => {
    const bytes = idxBytes(s);
    bytes[2] = type;
    bytes[3] = dims;
    return bytes;
  }),
  // Fully random bytes, with and without a plausible magic.
  fc.uint8Array({ maxLength: 64 }),
  fc.tuple(fc.constantFrom([0, 0, 8, 1], [0, 0, 8, 3]), fc.uint8Array({ maxLength: 48 })).map(([magic, rest]) => Uint8Array.from([...magic, ...rest])),
);

describe('fuzz: IDX reader', () => {
  it('parses every valid file exactly', () => {
    fc.assert(fc.property(validIdx, (s) => {
      const bytes = idxBytes(s);
      const result = idxCase(bytes);
      expect(result.ok).toBe(true);
    }));
  }, TIMEOUT);

  it('turns mutated, truncated, grown and random bytes into a correct file or one UserError', () => {
    fc.assert(fc.property(hostileIdx, (bytes) => {
      idxCase(bytes);
    }));
  }, TIMEOUT);

  it('refuses headers claiming huge counts (up to 2^32-1) before any allocation', () => {
    fc.assert(fc.property(validIdx, fc.integer({ min: 2 ** 20, max: 2 ** 32 - 1 }), (s, count) => {
      const bytes = idxBytes(s);
      new DataView(bytes.buffer).setUint32(4, count, false);
      refusedFast(() => parseIdx(bytes, 'fuzz.idx'), /is truncated: header says/);
    }), { numRuns: Math.min(RUNS, 500) });
  }, TIMEOUT);

  it('refuses a header claiming 2^31 images of 28x28 in under 50 ms, allocating nothing', () => {
    const bytes = idxBytes({ kind: 'images', count: 2 ** 31, rows: 28, cols: 28, payload: new Uint8Array(784) });
    refusedFast(() => parseIdx(bytes, 'fuzz.idx'), /2147483648 images of 28x28/);
    const dir = tempDir('nnfs-fuzz-idx-');
    writeFileSync(join(dir, 'claim'), bytes);
    refusedFast(() => readIdxFile(join(dir, 'claim')), /2147483648 images of 28x28/);
    writeFileSync(join(dir, 'claim.gz'), gzipSync(bytes));
    refusedFast(() => readIdxFile(join(dir, 'claim.gz')), /2147483648 images of 28x28/);
  });

  it('refuses a (sparse) file whose size matches a 2^31-image header, before allocating its data', () => {
    const dir = tempDir('nnfs-fuzz-idx-');
    const path = join(dir, 'huge-images-idx3-ubyte');
    const header = idxBytes({ kind: 'images', count: 2 ** 31, rows: 1, cols: 1, payload: new Uint8Array(0) });
    const fd = openSync(path, 'w');
    try {
      writeSync(fd, header);
      ftruncateSync(fd, header.length + 2 ** 31); // holes: no disk used
    } finally {
      closeSync(fd);
    }
    refusedFast(() => readIdxFile(path), /holds 2147483648 bytes of data; nnfs loads at most 2147483647/);
  });
});

describe('fuzz: gzip IDX', () => {
  const hostileGzip: fc.Arbitrary<Uint8Array> = validIdx.chain((s) => {
    const gz = gzipSync(idxBytes(s));
    return fc.oneof(
      fc.constant(gz),
      byteEdits.map((edits) => applyEdits(gz, edits)),
      truncationLength(gz.length, 10).map((n) => gz.slice(0, n)),
      fc.uint8Array({ minLength: 1, maxLength: 16 }).map((extra) => Buffer.concat([gz, extra])),
      // A valid gzip around a damaged IDX file.
      fc.tuple(byteEdits, fc.nat()).map(([edits, cut]) => {
        const inner = applyEdits(idxBytes(s), edits);
        return gzipSync(inner.subarray(0, cut % (inner.length + 1)));
      }),
      // Random bytes behind the gzip magic.
      fc.uint8Array({ maxLength: 64 }).map((rest) => Uint8Array.from([0x1f, 0x8b, ...rest])),
    );
  });

  it('gunzips and parses a valid, damaged, truncated or random .gz into a correct file or one UserError', () => {
    fc.assert(fc.property(hostileGzip, (gz) => {
      const before = sharedBytesInUse();
      const unzipped = attempt(() => gunzipIfNeeded(gz, 'fuzz.idx.gz'));
      if (!unzipped.ok) {
        expect(unzipped.error.message).toMatch(/^fuzz\.idx\.gz /);
        expect(sharedBytesInUse()).toBe(before);
        return;
      }
      idxCase(unzipped.value);
    }));
  }, TIMEOUT);

  it('leaves bytes that are not gzip untouched', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      fc.pre(!(bytes[0] === 0x1f && bytes[1] === 0x8b));
      expect(gunzipIfNeeded(bytes, 'x')).toBe(bytes);
    }));
  });
});

describe('fuzz: IDX files on disk (readIdxFile, loadMnist)', () => {
  it('reads plain and .gz files, damaged or not, into a correct file or one UserError', () => {
    const dir = tempDir('nnfs-fuzz-idx-');
    let n = 0;
    fc.assert(fc.property(hostileIdx, fc.boolean(), (bytes, gz) => {
      const path = join(dir, `f${n++}${gz ? '.gz' : ''}`);
      writeFileSync(path, gz ? gzipSync(bytes) : bytes);
      const before = sharedBytesInUse();
      const result = attempt(() => readIdxFile(path));
      rmSync(path);
      if (result.ok) checkIdx(result.value, bytes);
      else {
        expect(result.error.message).toContain(path);
        expect(sharedBytesInUse()).toBe(before);
      }
    }), { numRuns: FILE_RUNS });
  }, TIMEOUT);

  it('loads a data folder with one damaged file into consistent data sets or one UserError', () => {
    const base = (count: number, side: number, classes: number) => ({
      images: idxBytes({ kind: 'images', count, rows: side, cols: side, payload: new Uint8Array(count * side * side).map((_, i) => (i * 37) & 255) }),
      labels: idxBytes({ kind: 'labels', count, rows: 1, cols: 1, payload: new Uint8Array(count).map((_, i) => i % classes) }),
    });
    const names = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
    const root = tempDir('nnfs-fuzz-mnist-');
    let n = 0;
    fc.assert(fc.property(fc.integer({ min: 0, max: 3 }), hostileIdx, fc.boolean(), (which, replacement, keep) => {
      const dir = join(root, `d${n++}`);
      mkdirSync(dir);
      const train = base(6, 3, 3);
      const test = base(4, 3, 2);
      const files = [train.images, train.labels, test.images, test.labels];
      // Either a damaged file in place of a good one, or the good one left whole (a control).
      names.forEach((name, i) => writeFileSync(join(dir, name), i === which && !keep ? replacement : files[i]));
      const result = attempt(() => loadMnist(dir));
      rmSync(dir, { recursive: true });
      if (!result.ok) return;
      const { train: tr, test: te } = result.value;
      for (const d of [tr, te]) {
        expect(d.sparse.offsets.length).toBe(d.count + 1);
        expect(d.labels.length).toBe(d.count);
        expect(d.inputSize).toBe(d.rows * d.cols);
        expect(d.classes).toBeGreaterThanOrEqual(2);
        expect(Math.max(...d.labels)).toBeLessThan(d.classes);
      }
      expect([tr.rows, tr.cols]).toEqual([te.rows, te.cols]);
      expect(result.value.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    }), { numRuns: FILE_RUNS });
  }, TIMEOUT);
});

// ---------------------------------------------------------------------------------------
// safetensors and checkpoints

const SIZES = [4, 3, 2];

function makeCheckpoint(salt = 1): Checkpoint {
  const { paramCount } = modelSpec(SIZES);
  const fill = (k: number) => Float32Array.from({ length: paramCount }, (_, i) => Math.sin(i * 12.9898 + k + salt) * 3);
  return {
    config: { ...DEFAULTS, hidden: [3] },
    sizes: [...SIZES],
    position: { epoch: 2, step: 3, globalStep: 40, partialLossSum: 1.25, partialSamples: 192 },
    dataFingerprint: 'ab'.repeat(32),
    params: fill(1),
    optimizerState: { m: fill(2), v: fill(3).map(Math.abs) },
  };
}

const VALID_CHECKPOINT = encodeCheckpoint(makeCheckpoint());
const VALID_HEADER_LENGTH = headerLength(VALID_CHECKPOINT);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The header length field of safetensors bytes. */
function headerLength(bytes: Uint8Array): number {
  return Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
}

/** Splits safetensors bytes into the parsed header and the data section. */
function splitSafetensors(bytes: Uint8Array): { header: Record<string, Json>; data: Uint8Array } {
  const length = headerLength(bytes);
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + length)).toString('utf8')) as Record<string, Json>;
  return { header, data: bytes.slice(8 + length) };
}

/** Header text + data -> safetensors bytes with a correct length field. */
function joinSafetensors(headerText: string, data: Uint8Array): Uint8Array {
  const json = Buffer.from(headerText, 'utf8');
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** What a decoded safetensors file must look like: each tensor's values fill its shape, and the tensors tile the data. */
function checkSafetensors(bytes: Uint8Array): void {
  const result = attempt(() => decodeSafetensors(bytes));
  if (!result.ok) return;
  const { metadata, tensors, dataSection } = result.value;
  for (const value of Object.values(metadata)) expect(typeof value).toBe('string');
  let total = 0;
  for (const t of tensors.values()) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    expect(t.data.length).toBe(count);
    expect(t.data).toBeInstanceOf(t.dtype === 'F32' ? Float32Array : Float64Array);
    total += t.data.byteLength;
  }
  expect(total).toBe(dataSection.length);
  expect(8 + headerLength(bytes) + dataSection.length).toBe(bytes.length);
}

/** What a decoded checkpoint must look like: a valid config and position, and finite parameters of the right count. */
function checkCheckpoint(c: Checkpoint): void {
  expect(c.sizes.length).toBeGreaterThanOrEqual(2);
  for (const s of c.sizes) expect(Number.isSafeInteger(s) && s > 0).toBe(true);
  const spec = modelSpec(c.sizes);
  expect(c.params).toBeInstanceOf(Float32Array);
  expect(c.params.length).toBe(spec.paramCount);
  expect(allFinite(c.params), 'parameters are finite').toBe(true);
  for (const state of Object.values(c.optimizerState)) {
    expect(state.length).toBe(spec.paramCount);
    expect(allFinite(state), 'optimiser state is finite').toBe(true);
  }
  expect(() => validateConfig(structuredClone(c.config))).not.toThrow();
  expect(c.config.hidden).toEqual(c.sizes.slice(1, -1));
  const p = c.position;
  for (const v of [p.epoch, p.step, p.globalStep, p.partialSamples]) expect(Number.isSafeInteger(v) && v >= 0).toBe(true);
  expect(Number.isFinite(p.partialLossSum)).toBe(true);
  expect(typeof c.dataFingerprint).toBe('string');
}

function checkpointCase(bytes: Uint8Array): Outcome<Checkpoint> {
  const result = attempt(() => decodeCheckpoint(bytes, 'fuzz.safetensors'));
  if (result.ok) checkCheckpoint(result.value);
  else expect(result.error.message).toMatch(/^fuzz\.safetensors\b/);
  checkSafetensors(bytes);
  return result;
}

/** Numbers a damaged header likes to hold, as JSON text (so 1e400 and -0 survive). */
const hostileNumberText = fc.oneof(
  fc.constantFrom('0', '-0', '1', '-1', '2', '3', '4', '1.5', '1e400', '-1e400', '1e-400', '4294967295', '4294967296', '2147483648',
    '1099511627776', '4398046511104', '9007199254740991', '9007199254740993', '9223372036854775808', '18446744073709551615', '0.0', '00', '1e3'),
  fc.integer().map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
);

/** Any JSON value as text, weighted towards the kinds a header holds. */
const hostileJsonText: fc.Arbitrary<string> = fc.oneof(
  hostileNumberText,
  fc.array(hostileNumberText, { maxLength: 4 }).map((a) => `[${a.join(',')}]`),
  fc.constantFrom('null', 'true', 'false', '""', '"F32"', '"F64"', '"F16"', '"I64"', '{}', '[]', '[[]]', '{"__proto__":{}}', '"x"'),
  fc.json({ maxDepth: 2 }),
);

/** Text a metadata value likes to hold (all metadata values are strings). */
const hostileMetaValue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', ' ', '-1', 'NaN', 'Infinity', '-Infinity', '1e309', '0x10', '1.5', '+1', '00', '9007199254740993', '[]', '{}', 'null',
    '[4,3,2]', '[4,3]', '[4]', '[4,3,2,2]', '[4,1048576,2]', '[1099511627776,3,2]', '[4,3,0]', '[4,3,-2]', '[4,3.5,2]', '"[4,3,2]"',
    JSON.stringify({ ...DEFAULTS, hidden: [3] }), JSON.stringify({ ...DEFAULTS, hidden: [] }), JSON.stringify({ ...DEFAULTS, hidden: [3], lr: -1 }),
    JSON.stringify({ ...DEFAULTS, hidden: [3], optimizer: 'sgd' }), JSON.stringify({ ...DEFAULTS, hidden: [3], batchSize: 1e300 }),
    'nnfs-checkpoint', '1', '2', '0'),
  hostileNumberText,
  fc.string({ maxLength: 12 }),
  fc.json({ maxDepth: 2 }),
);

/** A config with one field replaced by a hostile value. */
const hostileConfig: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom(...(Object.keys(DEFAULTS) as (keyof TrainConfig)[])), hostileJsonText)
  .map(([key, value]) => {
    const text = JSON.stringify({ ...DEFAULTS, hidden: [3], [key]: '@@' });
    return text.replace('"@@"', value);
  });

const TENSOR_NAMES = ['layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias', 'layers.2.weight', 'layers.2.bias',
  'optimizer.m.layers.0.weight', 'optimizer.v.layers.1.bias', 'optimizer.velocity.layers.0.weight', 'optimizer.x-y.layers.0.weight',
  '__proto__', 'constructor', '', 'other'];
const META_KEYS = ['format', 'format_version', 'sizes', 'config', 'epoch', 'step', 'global_step', 'partial_loss_sum', 'partial_samples',
  'data_fingerprint', 'tensor_sha256', '__proto__'];

type HeaderEdit = (header: Record<string, Json>) => string;

/** One structural edit of a safetensors header, returning the new header text. */
const headerEdit: fc.Arbitrary<HeaderEdit> = fc.oneof(
  // A tensor's field (dtype, shape, data_offsets) set to anything.
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...TENSOR_NAMES), fc.constantFrom('dtype', 'shape', 'data_offsets', 'extra'), hostileJsonText).map(
    ([name, field, value]): HeaderEdit => (h) => {
      const tensor = (typeof h[name] === 'object' && h[name] !== null && !Array.isArray(h[name]) ? h[name] : {}) as Record<string, Json>;
      const text = JSON.stringify({ ...h, [name]: { ...tensor, [field]: '@@' } });
      return text.replace('"@@"', value);
    },
  ) },
  // A tensor replaced by any JSON value, or removed.
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...TENSOR_NAMES), fc.option(hostileJsonText)).map(([name, value]): HeaderEdit => (h) => {
    const copy = { ...h };
    delete copy[name];
    if (value === null) return JSON.stringify(copy);
    return JSON.stringify({ ...copy, [name]: '@@' }).replace('"@@"', value);
  }) },
  // A shape that claims far more elements than the file holds (up to 2^40 and beyond).
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...TENSOR_NAMES.slice(0, 8)), fc.array(fc.constantFrom(1, 2, 3, 4, 1024, 2 ** 20, 2 ** 31, 2 ** 32, 2 ** 40, 2 ** 53 - 1), { minLength: 1, maxLength: 4 }), fc.boolean()).map(
    ([name, shape, grow]): HeaderEdit => (h) => {
      const tensor = (typeof h[name] === 'object' && h[name] !== null ? h[name] : {}) as Record<string, Json>;
      const offsets = Array.isArray(tensor.data_offsets) ? (tensor.data_offsets as number[]) : [0, 0];
      const elements = shape.reduce((a, b) => a * b, 1);
      return JSON.stringify({ ...h, [name]: { dtype: 'F32', ...tensor, shape, data_offsets: grow ? [offsets[0], offsets[0] + 4 * elements] : offsets } });
    },
  ) },
  // A metadata value set to anything (all must be strings).
  { weight: 5, arbitrary: fc.tuple(fc.constantFrom(...META_KEYS), hostileMetaValue, fc.boolean()).map(([key, value, asString]): HeaderEdit => (h) => {
    const meta = (typeof h.__metadata__ === 'object' && h.__metadata__ !== null ? h.__metadata__ : {}) as Record<string, Json>;
    return asString
      ? JSON.stringify({ ...h, __metadata__: { ...meta, [key]: value } })
      : JSON.stringify({ ...h, __metadata__: { ...meta, [key]: '@@' } }).replace('"@@"', value);
  }) },
  // The config with one hostile field.
  { weight: 4, arbitrary: hostileConfig.map((config): HeaderEdit => (h) => JSON.stringify({ ...h, __metadata__: { ...(h.__metadata__ as Record<string, Json>), config } })) },
  // No metadata, or metadata that is not an object.
  { weight: 1, arbitrary: fc.option(hostileJsonText).map((value): HeaderEdit => (h) => {
    const copy = { ...h };
    delete copy.__metadata__;
    return value === null ? JSON.stringify(copy) : JSON.stringify({ ...copy, __metadata__: '@@' }).replace('"@@"', value);
  }) },
  // The whole header replaced by any JSON.
  { weight: 1, arbitrary: hostileJsonText.map((text): HeaderEdit => () => text) },
);

/** Applies edits in turn; an edit that left the text unparsable ends the chain. */
function applyHeaderEdits(header: Record<string, Json>, edits: HeaderEdit[]): string {
  let text = JSON.stringify(header);
  for (const edit of edits) {
    let parsed: Json;
    try {
      parsed = JSON.parse(text) as Json;
    } catch {
      break;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) break;
    text = edit(parsed);
  }
  return text;
}

/** A structurally edited checkpoint, usually with its checksum repaired so the deeper checks run. */
const editedCheckpoint: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.array(headerEdit, { minLength: 1, maxLength: 3 }),
    fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    fc.boolean(),
    fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 64 }) }),
  )
  .map(([edits, fixChecksum, pad, cut]) => {
    const { header, data } = splitSafetensors(VALID_CHECKPOINT);
    // Sometimes the data section loses its last bytes too.
    const body = data.slice(0, Math.max(0, data.length - cut));
    let text = applyHeaderEdits(header, edits);
    if (fixChecksum) {
      try {
        const parsed = JSON.parse(text) as Record<string, Json>;
        const meta = parsed?.__metadata__;
        if (typeof meta === 'object' && meta !== null && !Array.isArray(meta)) {
          (meta as Record<string, Json>).tensor_sha256 = sha256(body);
          text = JSON.stringify(parsed);
        }
      } catch {
        // not JSON: nothing to repair
      }
    }
    return joinSafetensors(pad ? text + ' '.repeat(7) : text, body);
  });

const hostileCheckpoint: fc.Arbitrary<Uint8Array> = fc.oneof(
  // Random byte edits anywhere, and within the length field and header only.
  { weight: 2, arbitrary: byteEdits.map((edits) => applyEdits(VALID_CHECKPOINT, edits)) },
  { weight: 1, arbitrary: byteEdits.map((edits) => applyEdits(VALID_CHECKPOINT, edits, 8 + VALID_HEADER_LENGTH)) },
  // Truncation at every length class (inside the 8-byte length, at its end, inside the header, at the header's end, inside the data, one short).
  { weight: 2, arbitrary: fc.oneof(fc.integer({ min: 1, max: 7 }), truncationLength(VALID_CHECKPOINT.length, 8 + VALID_HEADER_LENGTH), fc.constant(8)).map((n) => VALID_CHECKPOINT.slice(0, n)) },
  // The header length set to anything a uint64 holds (up to 2^63 and 2^64-1).
  { weight: 2, arbitrary: fc.oneof(
    fc.constantFrom(0n, 1n, 7n, 8n, BigInt(VALID_HEADER_LENGTH - 1), BigInt(VALID_HEADER_LENGTH + 1), 100n * 1024n * 1024n, 100n * 1024n * 1024n + 1n, 2n ** 31n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n),
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  ).map((length) => {
    const bytes = Uint8Array.from(VALID_CHECKPOINT);
    new DataView(bytes.buffer).setBigUint64(0, length, true);
    return bytes;
  }) },
  // Structural edits of the JSON header (shapes, offsets, dtypes, metadata, config), the deepest checks.
  { weight: 12, arbitrary: editedCheckpoint },
  // Fully random bytes, and random JSON behind a correct length.
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 128 }) },
  { weight: 1, arbitrary: fc.tuple(hostileJsonText, fc.uint8Array({ maxLength: 64 })).map(([text, data]) => joinSafetensors(text, data)) },
);

/** Valid safetensors of random F32/F64 tensors (zero-sized ones too), for the generic decoder. */
const validSafetensors: fc.Arbitrary<{ bytes: Uint8Array; tensors: TensorIn[] }> = fc
  .uniqueArray(
    fc.record({
      name: fc.string({ minLength: 1, maxLength: 6 }),
      dtype: fc.constantFrom<'F32' | 'F64'>('F32', 'F64'),
      shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
      seed: fc.integer(),
    }),
    { selector: (t) => t.name, maxLength: 5 },
  )
  .filter((ts) => ts.every((t) => t.name !== '__metadata__'))
  .chain((ts) => fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }).map((metadata) => {
    const tensors: TensorIn[] = ts.map((t) => {
      const n = t.shape.reduce((a, b) => a * b, 1);
      const data = t.dtype === 'F32' ? new Float32Array(n) : new Float64Array(n);
      for (let i = 0; i < n; i++) data[i] = Math.sin(t.seed + i);
      return { name: t.name, dtype: t.dtype, shape: t.shape, data };
    });
    return { bytes: encodeSafetensors(tensors, metadata), tensors };
  }));

describe('fuzz: safetensors decoder', () => {
  it('decodes every valid file exactly', () => {
    fc.assert(fc.property(validSafetensors, ({ bytes, tensors }) => {
      const decoded = decodeSafetensors(bytes);
      expect(decoded.tensors.size).toBe(tensors.length);
      for (const t of tensors) {
        const got = decoded.tensors.get(t.name)!;
        expect(got.shape).toEqual(t.shape);
        expect(Array.from(got.data)).toEqual(Array.from(t.data));
      }
    }));
  }, TIMEOUT);

  it('turns edited headers, truncations and random bytes into a consistent result or one UserError', () => {
    const hostile = validSafetensors.chain(({ bytes }) => {
      const h = headerLength(bytes);
      const { header, data } = splitSafetensors(bytes);
      return fc.oneof(
        byteEdits.map((edits) => applyEdits(bytes, edits, 8 + h)),
        truncationLength(bytes.length, 8 + h).map((n) => bytes.slice(0, n)),
        fc.array(headerEdit, { minLength: 1, maxLength: 2 }).map((edits) => joinSafetensors(applyHeaderEdits(header, edits), data)),
      );
    });
    fc.assert(fc.property(hostile, (bytes) => checkSafetensors(bytes)));
  }, TIMEOUT);

  it('refuses a header length of 2^63 and a tensor of 2^40 elements in under 50 ms, allocating nothing', () => {
    const bytes = Uint8Array.from(VALID_CHECKPOINT);
    new DataView(bytes.buffer).setBigUint64(0, 2n ** 63n, true);
    refusedFast(() => decodeSafetensors(bytes), /claims a 9223372036854775808 byte header/);
    refusedFast(() => decodeCheckpoint(bytes, 'x'), /claims a 9223372036854775808 byte header/);
    // 2^40 float32 elements: 4 TiB of claimed data in a file of a few hundred bytes.
    const huge = joinSafetensors(JSON.stringify({ big: { dtype: 'F32', shape: [2 ** 20, 2 ** 20], data_offsets: [0, 2 ** 42] } }), new Uint8Array(16));
    refusedFast(() => decodeSafetensors(huge), /truncated: tensor big ends past the end of the file/);
    // The same shape over the 16 bytes that are there.
    const liar = joinSafetensors(JSON.stringify({ big: { dtype: 'F32', shape: [2 ** 20, 2 ** 20], data_offsets: [0, 16] } }), new Uint8Array(16));
    refusedFast(() => decodeSafetensors(liar), /does not fit its shape/);
  });
});

describe('fuzz: checkpoint reader', () => {
  it('decodes the valid checkpoint exactly', () => {
    const c = decodeCheckpoint(VALID_CHECKPOINT, 'x');
    checkCheckpoint(c);
    expect(Array.from(c.params)).toEqual(Array.from(makeCheckpoint().params));
  });

  it('turns mutated, truncated, re-lengthed, edited and random checkpoints into a valid checkpoint or one UserError', () => {
    fc.assert(fc.property(hostileCheckpoint, (bytes) => {
      checkpointCase(bytes);
    }));
  }, TIMEOUT);

  it('refuses a checkpoint whose weights or optimiser state are not finite', () => {
    const bad = [NaN, Infinity, -Infinity];
    fc.assert(fc.property(fc.constantFrom(...bad), fc.nat(), fc.constantFrom('params', 'm', 'v'), (value, at, where) => {
      const c = makeCheckpoint();
      const target = where === 'params' ? c.params : c.optimizerState[where];
      target[at % target.length] = value;
      const result = checkpointCase(encodeCheckpoint(c));
      expect(result.ok).toBe(false);
    }), { numRuns: Math.min(RUNS, 100) });
  });

  it('refuses a checkpoint claiming a model of 2^40 weights, or 200,000 layers, without building it', () => {
    const { header, data } = splitSafetensors(VALID_CHECKPOINT);
    const meta = header.__metadata__ as Record<string, string>;
    const withSizes = (sizes: number[], extra: Record<string, Json> = {}) =>
      joinSafetensors(JSON.stringify({ ...header, ...extra, __metadata__: { ...meta, sizes: JSON.stringify(sizes), config: JSON.stringify({ ...DEFAULTS, hidden: sizes.slice(1, -1) }) } }), data);
    refusedFast(() => decodeCheckpoint(withSizes([2 ** 20, 3, 2 ** 20]), 'x'), /^x has tensor layers\.0\.weight of shape \[3,4\], but its layer sizes need \[3,1048576\]\.$/);
    // Many zero-sized tensors make a 200,000-layer claim look backed by the file.
    const layers = 200_000;
    const empty: Record<string, Json> = {};
    for (let i = 0; i < 2 * layers; i++) empty[`z${i}`] = { dtype: 'F32', shape: [0], data_offsets: [0, 0] };
    const bytes = withSizes([4, ...new Array<number>(layers - 1).fill(1), 2], empty);
    // Not timed: parsing a 24 MB header takes a while. It used to die of a RangeError in modelSpec.
    const result = (() => {
      try {
        return decodeCheckpoint(bytes, 'x');
      } catch (error) {
        return error;
      }
    })();
    expect(result).toBeInstanceOf(UserError);
    expect((result as Error).message).toBe('x is not a valid nnfs checkpoint: its layer sizes describe 200000 layers; nnfs reads at most 10000.');
  }, 30_000);

  it('loads damaged checkpoint files from disk into a valid checkpoint or one UserError', async () => {
    const dir = tempDir('nnfs-fuzz-ckpt-');
    let n = 0;
    await fc.assert(fc.asyncProperty(hostileCheckpoint, fc.boolean(), async (bytes, asFolder) => {
      const folder = join(dir, `r${n++}`);
      mkdirSync(folder);
      const file = join(folder, 'last.safetensors');
      writeFileSync(file, bytes);
      const result = await attemptAsync(() => loadCheckpoint(asFolder ? folder : file));
      rmSync(folder, { recursive: true });
      if (result.ok) checkCheckpoint(result.value);
      else expect(result.error.message).toContain(file);
    }), { numRuns: FILE_RUNS });
  }, TIMEOUT);
});

// ---------------------------------------------------------------------------------------
// The original project's .dat weights

const DAT_SHAPES: Record<string, [number, number]> = { 'W1.dat': [16, 784], 'b1.dat': [16, 1], 'W2.dat': [10, 16], 'b2.dat': [10, 1] };
const DAT_NAMES = Object.keys(DAT_SHAPES);

/** Deterministic float32-exact values for each file. */
function datFile(name: string, salt: number): Buffer {
  const [rows, cols] = DAT_SHAPES[name];
  const bytes = Buffer.alloc(rows * cols * 8);
  for (let k = 0; k < rows * cols; k++) bytes.writeDoubleLE(Math.fround(Math.sin(k * 0.37 + salt) * 2), k * 8);
  return bytes;
}

/** A successful import must hold every value of the files, float32-rounded, in the engine's layout. */
function checkDat(params: Float32Array, files: Record<string, Uint8Array>): void {
  const spec = modelSpec([784, 16, 10]);
  expect(params.length).toBe(spec.paramCount);
  expect(allFinite(params)).toBe(true);
  const expected = new Float32Array(spec.paramCount);
  spec.layers.forEach((layer, l) => {
    const w = Buffer.from(files[`W${l + 1}.dat`]);
    const b = Buffer.from(files[`b${l + 1}.dat`]);
    for (let o = 0; o < layer.outputs; o++) {
      for (let i = 0; i < layer.inputs; i++) expected[layer.weightOffset + i * layer.outputs + o] = w.readDoubleLE((o * layer.inputs + i) * 8);
      expected[layer.biasOffset + o] = b.readDoubleLE(o * 8);
    }
  });
  // Bit-exact (Object.is tells -0 from 0), compared in one pass rather than 12,730 expects.
  const first = expected.findIndex((v, k) => !Object.is(v, params[k]));
  expect(first, `first differing parameter: ${first}`).toBe(-1);
}

type DatChange = { name: string; kind: 'bytes'; bytes: (good: Buffer) => Uint8Array } | { name: string; kind: 'missing' | 'folder' };

const datChange: fc.Arbitrary<DatChange> = fc.constantFrom(...DAT_NAMES).chain((name): fc.Arbitrary<DatChange> => {
  const size = DAT_SHAPES[name][0] * DAT_SHAPES[name][1] * 8;
  const special = fc.constantFrom(NaN, Infinity, -Infinity, 3.5e38, -3.5e38, 1e308, 5e-324, -0, 3.4028234663852886e38);
  return fc.oneof(
    byteEdits.map((edits) => ({ name, kind: 'bytes' as const, bytes: (good: Buffer) => applyEdits(good, edits) })),
    fc.tuple(fc.nat(), special).map(([at, value]) => ({ name, kind: 'bytes' as const, bytes: (good: Buffer) => {
      const out = Buffer.from(good);
      out.writeDoubleLE(value, (at % (size / 8)) * 8);
      return out;
    } })),
    fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 0, max: size - 1 }), fc.constant(size - 1), fc.constant(size - 8)).map((n) => ({ name, kind: 'bytes' as const, bytes: (good: Buffer) => good.subarray(0, n) })),
    fc.uint8Array({ minLength: 1, maxLength: 16 }).map((extra) => ({ name, kind: 'bytes' as const, bytes: (good: Buffer) => Buffer.concat([good, extra]) })),
    fc.uint8Array({ maxLength: 256 }).map((random) => ({ name, kind: 'bytes' as const, bytes: () => random })),
    fc.constantFrom<'missing' | 'folder'>('missing', 'folder').map((kind) => ({ name, kind })),
  );
});

describe('fuzz: .dat importer', () => {
  it('turns damaged, truncated, grown, random or missing .dat files into exact weights or one UserError', () => {
    const dir = join(tempDir('nnfs-fuzz-dat-'), 'weights');
    mkdirSync(dir);
    const good: Record<string, Buffer> = {};
    for (const name of DAT_NAMES) {
      good[name] = datFile(name, name.length + name.charCodeAt(0));
      writeFileSync(join(dir, name), good[name]);
    }
    checkDat(readDatWeights(dir).params, good);
    fc.assert(fc.property(datChange, (change) => {
      const path = join(dir, change.name);
      const files: Record<string, Uint8Array> = { ...good };
      rmSync(path, { recursive: true, force: true });
      if (change.kind === 'bytes') {
        files[change.name] = change.bytes(good[change.name]);
        writeFileSync(path, files[change.name]);
      } else if (change.kind === 'folder') mkdirSync(path);
      try {
        const result = attempt(() => readDatWeights(dir));
        if (result.ok) checkDat(result.value.params, files);
        else expect(result.error.message).toContain(change.name);
      } finally {
        rmSync(path, { recursive: true, force: true });
        writeFileSync(path, good[change.name]);
      }
    }), { numRuns: FILE_RUNS });
  }, TIMEOUT);

  it('refuses a weights "folder" that is missing, a file, or empty', () => {
    const dir = tempDir('nnfs-fuzz-dat-');
    for (const path of [join(dir, 'nope'), join(dir, 'file'), dir]) {
      if (path.endsWith('file')) writeFileSync(path, 'x');
      expect(attempt(() => readDatWeights(path)).ok).toBe(false);
    }
  });
});

// ---------------------------------------------------------------------------------------
// Files that are not files: a device never ends, a pipe may never open.

describe('fuzz: paths that are not ordinary files or folders', () => {
  it('refuses an output folder under /proc at once (Node\'s recursive mkdir would spin there forever)', async () => {
    if (!existsSync('/proc/self')) return;
    const started = performance.now();
    expect(() => assertWritable('/proc/nnfs-fuzz/run')).toThrow(/^cannot write to \/proc\/nnfs-fuzz\/run: no such file or folder\.$/);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('refuses /dev/zero and a FIFO in every reader at once, instead of reading forever', async () => {
    const dir = tempDir('nnfs-fuzz-dev-');
    const fifo = join(dir, 'fifo');
    const made = spawnSync('mkfifo', [fifo]).status === 0;
    const paths = existsSync('/dev/zero') ? ['/dev/zero'] : [];
    if (made) paths.push(fifo);
    for (const path of paths) {
      refusedFast(() => readDigitPng(path), /not a regular file/);
      refusedFast(() => readIdxFile(path), /not a regular file/);
      const started = performance.now();
      await expect(loadCheckpoint(path)).rejects.toThrow(/not a regular file/);
      expect(performance.now() - started).toBeLessThan(1000);
    }
    if (made) {
      const weights = join(dir, 'weights');
      mkdirSync(weights);
      for (const name of DAT_NAMES) spawnSync('mkfifo', [join(weights, name)]);
      refusedFast(() => readDatWeights(weights), /is not a file/);
    }
  });
});

// ---------------------------------------------------------------------------------------
// PNG

interface PngSpec {
  width: number;
  height: number;
  colorType: 0 | 2 | 4 | 6;
  bitDepth: 8 | 16;
  rgba: Uint8Array;
}

const validPng: fc.Arbitrary<PngSpec> = fc
  .record({
    width: fc.integer({ min: 1, max: 24 }),
    height: fc.integer({ min: 1, max: 24 }),
    colorType: fc.constantFrom<0 | 2 | 4 | 6>(0, 2, 4, 6),
    bitDepth: fc.constantFrom<8 | 16>(8, 16),
  })
  .chain((s) => fc.uint8Array({ minLength: s.width * s.height * 4, maxLength: s.width * s.height * 4 }).map((rgba) => ({ ...s, rgba })));

function pngBytes(s: PngSpec): Buffer {
  const png = new PNG({ width: s.width, height: s.height });
  png.data = Buffer.from(s.rgba);
  return PNG.sync.write(png, { colorType: s.colorType, bitDepth: s.bitDepth, inputHasAlpha: true });
}

interface Chunk {
  at: number;
  length: number;
  type: string;
}

/** The chunks of a well-formed PNG. */
function chunks(bytes: Uint8Array): Chunk[] {
  const out: Chunk[] = [];
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 8; at + 12 <= bytes.length; ) {
    const length = view.readUInt32BE(at);
    out.push({ at, length, type: view.toString('latin1', at + 4, at + 8) });
    at += 12 + length;
  }
  return out;
}

/** Recomputes a chunk's CRC, so pngjs looks past it. */
function fixCrc(bytes: Buffer, chunk: Chunk): void {
  bytes.writeUInt32BE(crc32(bytes.subarray(chunk.at + 4, chunk.at + 8 + chunk.length)), chunk.at + 8 + chunk.length);
}

/** Replaces the IDAT chunks with one holding `data`. */
function withIdat(bytes: Buffer, data: Uint8Array): Buffer {
  const cs = chunks(bytes);
  const ihdr = cs[0];
  const head = bytes.subarray(0, ihdr.at + 12 + ihdr.length);
  const idat = Buffer.alloc(12 + data.length);
  idat.writeUInt32BE(data.length, 0);
  idat.write('IDAT', 4, 'latin1');
  idat.set(data, 8);
  fixCrc(idat, { at: 0, length: data.length, type: 'IDAT' });
  const iend = Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);
  return Buffer.concat([head, idat, iend]);
}

const hostilePng: fc.Arbitrary<Buffer> = validPng.chain((s) => {
  const bytes = pngBytes(s);
  const cs = chunks(bytes);
  const idat = cs.find((c) => c.type === 'IDAT')!;
  const raw = inflateSync(bytes.subarray(idat.at + 8, idat.at + 8 + idat.length));
  return fc.oneof(
    // Raw byte edits (most break a CRC), and edits inside one chunk with its CRC repaired.
    byteEdits.map((edits) => Buffer.from(applyEdits(bytes, edits))),
    fc.tuple(fc.integer({ min: 0, max: cs.length - 1 }), byteEdits).map(([i, edits]) => {
      const c = cs[i];
      const out = Buffer.from(bytes);
      if (c.length > 0) for (const [at, v] of edits) out[c.at + 8 + (at % c.length)] = v;
      fixCrc(out, c);
      return out;
    }),
    // Truncation: empty, inside the signature, at its end, inside IHDR, at its end, inside the data, one short.
    fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 7 }), fc.constant(8), fc.integer({ min: 9, max: 32 }), fc.constant(33),
      truncationLength(bytes.length, 33)).map((n) => bytes.subarray(0, n)),
    // IHDR fields (width, height, bit depth, colour type, compression, filter, interlace) set to anything, CRC repaired.
    fc.tuple(fc.constantFrom(0, 4), uint32Field, fc.constantFrom(8, 9, 10, 11, 12), fc.integer({ min: 0, max: 255 }), fc.boolean()).map(([field, size, other, value, sizeEdit]) => {
      const out = Buffer.from(bytes);
      if (sizeEdit) out.writeUInt32BE(size, 16 + field);
      else out[16 + other] = value;
      fixCrc(out, cs[0]);
      return out;
    }),
    // Width and height grown together (square claims up to and past the pixel limit), CRC repaired.
    fc.constantFrom(100, 1000, 4096, 7071, 7072, 16384, 20000, 65535, 2 ** 31).map((side) => {
      const out = Buffer.from(bytes);
      out.writeUInt32BE(side, 16);
      out.writeUInt32BE(side, 20);
      fixCrc(out, cs[0]);
      return out;
    }),
    // A valid zlib stream around damaged, short or long pixel rows (bad filter bytes and all).
    fc.oneof(
      byteEdits.map((edits) => applyEdits(raw, edits)),
      fc.nat().map((n) => raw.subarray(0, n % (raw.length + 1))),
      fc.uint8Array({ minLength: 1, maxLength: 64 }).map((extra) => Buffer.concat([raw, extra])),
    ).map((rows) => withIdat(bytes, deflateSync(rows))),
    // A damaged zlib stream.
    fc.uint8Array({ maxLength: 64 }).map((junk) => withIdat(bytes, junk)),
    // Random bytes, with and without the PNG signature.
    fc.uint8Array({ maxLength: 128 }).map((r) => Buffer.from(r)),
    fc.uint8Array({ maxLength: 128 }).map((r) => Buffer.concat([bytes.subarray(0, 8), r])),
  );
});

function checkDigit(input: Float32Array): void {
  expect(input).toBeInstanceOf(Float32Array);
  expect(input.length).toBe(784);
  for (const v of input) expect(v >= 0 && v <= 1).toBe(true);
}

describe('fuzz: PNG reader', () => {
  const dir = tempDir('nnfs-fuzz-png-');
  let n = 0;

  it('reads every valid PNG (grey, RGB, grey+alpha, RGBA; 8 and 16 bit) as the preprocessing of its pixels', () => {
    fc.assert(fc.property(validPng, (s) => {
      const path = join(dir, `v${n++}.png`);
      writeFileSync(path, pngBytes(s));
      const result = attempt(() => readDigitPng(path));
      rmSync(path);
      if (!result.ok) {
        expect(result.error.message).toBe(`${path}: the image is empty: no digit found.`);
        return;
      }
      checkDigit(result.value);
      if (s.colorType === 6 && s.bitDepth === 8) {
        const expected = toMnistInput(grayFromRgba(s.rgba, s.width, s.height), s.width, s.height);
        expect(expected.findIndex((v, k) => !Object.is(v, result.value[k])), 'first differing input').toBe(-1);
      }
    }), { numRuns: FILE_RUNS });
  }, TIMEOUT);

  it('turns damaged, truncated, re-sized and random PNGs into 784 inputs in [0, 1] or one UserError', () => {
    fc.assert(fc.property(hostilePng, (bytes) => {
      const path = join(dir, `h${n++}.png`);
      writeFileSync(path, bytes);
      const result = attempt(() => readDigitPng(path));
      rmSync(path);
      if (result.ok) checkDigit(result.value);
    }), { numRuns: FILE_RUNS });
  }, TIMEOUT);

  it('refuses a tiny file claiming a huge image fast, before decoding it', () => {
    const base = pngBytes({ width: 2, height: 2, colorType: 0, bitDepth: 8, rgba: new Uint8Array(16).fill(255) });
    const ihdr = chunks(base)[0];
    for (const [width, height] of [[7000, 7000], [1, 50_000_000], [50_000_000, 1], [2 ** 31, 2 ** 31], [65535, 65535]]) {
      const bytes = Buffer.from(base);
      bytes.writeUInt32BE(width, 16);
      bytes.writeUInt32BE(height, 20);
      fixCrc(bytes, ihdr);
      const path = join(dir, `claim${width}x${height}.png`);
      writeFileSync(path, bytes);
      refusedFast(() => readDigitPng(path), new RegExp(`${width}x${height}`));
    }
  });
});

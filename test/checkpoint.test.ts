// Checkpoint layer: bit-exact round trips through real files, the PyTorch out x in layout
// as an outside reader sees it, one clear UserError for each kind of damage, and the
// atomic save / last.safetensors / prune behaviour of the store.

import { createHash } from 'node:crypto';
import { promises as fs, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint, FORMAT_VERSION } from '../src/checkpoint/format.js';
import { decodeSafetensors, encodeSafetensors, type TensorIn } from '../src/checkpoint/safetensors.js';
import { assertWritable, FileExistsError, removeUnfinishedSaves, writeTemp } from '../src/checkpoint/safe-files.js';
import {
  checkpointName,
  LAST_NAME,
  listCheckpoints,
  loadCheckpoint,
  parseCheckpointName,
  pruneCheckpoints,
  saveCheckpoint,
  writeCheckpointFile,
} from '../src/checkpoint/store.js';
import type { Checkpoint } from '../src/checkpoint/types.js';
import { DEFAULTS } from '../src/config.js';
import { UserError } from '../src/errors.js';
import { modelSpec } from '../src/model/spec.js';

const SIZES = [4, 3, 2];

/** Distinct, awkward float32 values (negative zero, subnormals, non-round numbers) so any mix-up shows. */
function filled(n: number, salt: number): Float32Array {
  const a = new Float32Array(n);
  for (let k = 0; k < n; k++) a[k] = Math.sin(k * 12.9898 + salt) * 43758.5453;
  a[0] = -0;
  a[1] = 1.4e-45;
  return a;
}

function makeCheckpoint(): Checkpoint {
  const { paramCount } = modelSpec(SIZES);
  return {
    config: { ...DEFAULTS, hidden: [3] },
    sizes: [...SIZES],
    position: { epoch: 2, step: 37, globalStep: 1234, partialLossSum: 0.1 + 0.2, partialSamples: 2368 },
    dataFingerprint: 'ab'.repeat(32),
    params: filled(paramCount, 1),
    optimizerState: { m: filled(paramCount, 2), v: filled(paramCount, 3) },
  };
}

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

/** A minimal safetensors reader written from the spec alone, as an outside tool would. */
function handRead(bytes: Uint8Array): { header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>; dataStart: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8')) as ReturnType<typeof handRead>['header'];
  return { header, dataStart: 8 + n };
}

function handTensor(bytes: Uint8Array, name: string): { shape: number[]; values: number[] } {
  const { header, dataStart } = handRead(bytes);
  const entry = header[name];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values: number[] = [];
  for (let at = entry.data_offsets[0]; at < entry.data_offsets[1]; at += 4) values.push(view.getFloat32(dataStart + at, true));
  return { shape: entry.shape, values };
}

/** Rebuilds checkpoint bytes after `edit` changes tensors or metadata, with a correct checksum. */
function rebuilt(edit: (tensors: TensorIn[], metadata: Record<string, string>) => void): Uint8Array {
  const { tensors, metadata } = decodeSafetensors(encodeCheckpoint(makeCheckpoint()));
  const list: TensorIn[] = [...tensors].map(([name, t]) => ({ name, ...t }));
  edit(list, metadata);
  const draft = encodeSafetensors(list, metadata);
  metadata.tensor_sha256 = createHash('sha256').update(decodeSafetensors(draft).dataSection).digest('hex');
  return encodeSafetensors(list, metadata);
}

function decodeError(bytes: Uint8Array, source = 'run/x.safetensors'): UserError {
  try {
    decodeCheckpoint(bytes, source);
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error('decodeCheckpoint accepted bad bytes');
}

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nnfs-ckpt-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('round trip', () => {
  it('restores params, optimizer state and every position field bit-exactly through a file', async () => {
    const c = makeCheckpoint();
    const file = await saveCheckpoint(dir, checkpointName(2, 37), c);
    const back = await loadCheckpoint(file);
    expect(bits(back.params)).toEqual(bits(c.params));
    expect(Object.keys(back.optimizerState).sort()).toEqual(['m', 'v']);
    expect(bits(back.optimizerState.m)).toEqual(bits(c.optimizerState.m));
    expect(bits(back.optimizerState.v)).toEqual(bits(c.optimizerState.v));
    expect(back.position).toEqual(c.position);
    expect(Object.is(back.position.partialLossSum, 0.1 + 0.2)).toBe(true);
    expect(back.config).toEqual(c.config);
    expect(back.sizes).toEqual(SIZES);
    expect(back.dataFingerprint).toBe(c.dataFingerprint);
  });

  it('round-trips a checkpoint with no optimizer state (plain SGD)', () => {
    const c = { ...makeCheckpoint(), optimizerState: {} };
    expect(decodeCheckpoint(encodeCheckpoint(c), 'x').optimizerState).toEqual({});
  });

  it('loads dir/last.safetensors when given a folder', async () => {
    const c = makeCheckpoint();
    await saveCheckpoint(dir, checkpointName(1, 0), c);
    expect(bits((await loadCheckpoint(dir)).params)).toEqual(bits(c.params));
  });

  it('keeps last.safetensors a file of its own: writing over it in place leaves the numbered checkpoint whole', async () => {
    const file = await saveCheckpoint(dir, checkpointName(1, 0), makeCheckpoint());
    const saved = await fs.readFile(file);
    expect((await fs.readFile(path.join(dir, LAST_NAME))).equals(saved)).toBe(true);
    await fs.writeFile(path.join(dir, LAST_NAME), 'written over in place, as cp does'); // opens the same inode with O_TRUNC
    expect((await fs.readFile(file)).equals(saved)).toBe(true);
  });

  it('encodes deterministically', () => {
    expect(Buffer.from(encodeCheckpoint(makeCheckpoint())).equals(Buffer.from(encodeCheckpoint(makeCheckpoint())))).toBe(true);
  });
});

describe('on-disk layout', () => {
  it('stores weights out x in (PyTorch nn.Linear), readable by a hand-written reader', async () => {
    const c = makeCheckpoint();
    const bytes = new Uint8Array(await fs.readFile(await saveCheckpoint(dir, checkpointName(1, 0), c)));
    const { header, dataStart } = handRead(bytes);
    expect(dataStart % 8).toBe(0);
    expect(header.__metadata__).toMatchObject({ format: 'nnfs-checkpoint', format_version: String(FORMAT_VERSION) });
    expect(header['layers.0.weight']).toMatchObject({ dtype: 'F32', shape: [3, 4] });
    expect(header['layers.1.weight']).toMatchObject({ dtype: 'F32', shape: [2, 3] });

    // One element by hand: engine W[i * out + o] (i = 2, o = 1, out = 3) is disk [o][i] = [1][2].
    const w0 = handTensor(bytes, 'layers.0.weight');
    expect(w0.values[1 * 4 + 2]).toBe(c.params[2 * 3 + 1]);

    // Then every weight, bias and optimizer tensor, through the hand reader.
    const spec = modelSpec(SIZES);
    for (const [prefix, flat] of [['', c.params], ['optimizer.m.', c.optimizerState.m], ['optimizer.v.', c.optimizerState.v]] as const) {
      spec.layers.forEach((layer, l) => {
        const w = handTensor(bytes, `${prefix}layers.${l}.weight`);
        expect(w.shape).toEqual([layer.outputs, layer.inputs]);
        for (let i = 0; i < layer.inputs; i++) {
          for (let o = 0; o < layer.outputs; o++) {
            expect(Object.is(w.values[o * layer.inputs + i], flat[layer.weightOffset + i * layer.outputs + o])).toBe(true);
          }
        }
        const b = handTensor(bytes, `${prefix}layers.${l}.bias`);
        expect(b.values).toEqual(Array.from(flat.subarray(layer.biasOffset, layer.biasOffset + layer.outputs)));
      });
    }
  });
});

describe('damaged or foreign files', () => {
  const good = encodeCheckpoint(makeCheckpoint());
  const headerLength = Number(new DataView(good.buffer).getBigUint64(0, true));

  it('reports every truncation as a truncated or damaged file', () => {
    const cuts = new Set<number>();
    for (let n = 0; n <= 40; n++) cuts.add(n);
    for (const n of [8 + headerLength - 1, 8 + headerLength, 8 + headerLength + 1, Math.floor(good.length / 2), good.length - 4, good.length - 1]) cuts.add(n);
    for (const n of cuts) {
      const e = decodeError(good.slice(0, n));
      expect(e.message, `cut at ${n}`).toMatch(/^run\/x\.safetensors: checkpoint (is truncated|header is damaged): .+\.$/);
    }
    expect(decodeError(good.slice(0, 3)).message).toMatch(/too short to hold even the 8-byte header length/);
    expect(decodeError(good.slice(0, good.length - 1)).message).toMatch(/is truncated: tensor .+ ends past the end of the file\.$/);
  });

  it('detects a flipped byte in the tensor data by its checksum', () => {
    const bad = good.slice();
    bad[bad.length - 5] ^= 0x10;
    expect(decodeError(bad).message).toBe('run/x.safetensors is damaged: its tensor checksum does not match.');
  });

  it('reports broken header JSON', () => {
    const bad = good.slice();
    bad[9] = 'x'.charCodeAt(0);
    expect(decodeError(bad).message).toMatch(/^run\/x\.safetensors: checkpoint header is damaged: it is not valid JSON\.$/);
  });

  it('calls a file with no JSON header where safetensors has one not a checkpoint, not a damaged one', () => {
    // A text file's first 8 bytes read as a header length of about 10^19 ("more than nnfs accepts").
    const readme = new TextEncoder().encode('# nnfs\n\nA multi-threaded TypeScript engine that trains neural networks.\n');
    expect(decodeError(readme).message).toBe('run/x.safetensors: not a checkpoint (a safetensors file has a JSON header from its 9th byte on; this one does not).');
    const bad = good.slice();
    bad[8] = 'x'.charCodeAt(0);
    expect(decodeError(bad).message).toMatch(/: not a checkpoint \(/);
  });

  it('reports a header length larger than the file, without allocating it', () => {
    const bad = good.slice();
    new DataView(bad.buffer).setBigUint64(0, BigInt(bad.length), true);
    expect(decodeError(bad).message).toMatch(/checkpoint is truncated: its header should be \d+ bytes but only \d+ follow/);
    new DataView(bad.buffer).setBigUint64(0, 2n ** 63n, true);
    expect(decodeError(bad).message).toMatch(/header is damaged: it claims a \d+ byte header, more than/);
  });

  it('reports tensor offsets past the data and overlapping tensors', () => {
    const { header, dataStart } = handRead(good);
    const rewrite = (edit: (h: typeof header) => void): Uint8Array => {
      const h = structuredClone(header);
      edit(h);
      let json = JSON.stringify(h);
      json += ' '.repeat((8 - (json.length % 8)) % 8);
      const out = new Uint8Array(8 + json.length + good.length - dataStart);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(Buffer.from(json), 8);
      out.set(good.subarray(dataStart), 8 + json.length);
      return out;
    };
    const past = rewrite((h) => {
      h['layers.1.bias'].data_offsets = [good.length, good.length + 8];
    });
    expect(decodeError(past).message).toMatch(/tensor layers\.1\.bias ends past the end of the file/);
    const overlap = rewrite((h) => {
      const [b] = h['layers.0.weight'].data_offsets;
      h['layers.0.bias'].data_offsets = [b, b + 12];
    });
    expect(decodeError(overlap).message).toMatch(/header is damaged: tensor .+ overlaps another tensor/);
    const wrongSize = rewrite((h) => {
      h['layers.0.bias'].shape = [4];
    });
    expect(decodeError(wrongSize).message).toMatch(/tensor layers\.0\.bias has 12 bytes, which does not fit its shape \[4\]/);
  });

  it('reports a tensor shape that disagrees with the layer sizes', () => {
    const bad = rebuilt((tensors) => {
      const w = tensors.find((t) => t.name === 'layers.0.weight')!;
      w.shape = [4, 3];
    });
    expect(decodeError(bad).message).toBe('run/x.safetensors has tensor layers.0.weight of shape [4,3], but its layer sizes need [3,4].');
    const badSizes = rebuilt((_, metadata) => {
      metadata.sizes = '[4,5,2]';
      metadata.config = JSON.stringify({ ...DEFAULTS, hidden: [5] });
    });
    expect(decodeError(badSizes).message).toMatch(/has tensor layers\.0\.weight of shape \[3,4\], but its layer sizes need \[5,4\]\.$/);
  });

  it('reports F64 where F32 is expected', () => {
    const bad = rebuilt((tensors) => {
      const b = tensors.find((t) => t.name === 'layers.1.bias')!;
      b.dtype = 'F64';
      b.data = Float64Array.from(b.data);
    });
    expect(decodeError(bad).message).toBe('run/x.safetensors stores tensor layers.1.bias as F64; nnfs expects F32.');
  });

  it('reports a missing tensor and a stray one', () => {
    const missing = rebuilt((tensors) => {
      tensors.splice(tensors.findIndex((t) => t.name === 'optimizer.m.layers.1.bias'), 1);
    });
    expect(decodeError(missing).message).toMatch(/^run\/x\.safetensors is not a valid nnfs checkpoint: it has no tensor optimizer\.m\.layers\.1\.bias\.$/);
    const stray = rebuilt((tensors) => {
      tensors.push({ name: 'layers.2.bias', dtype: 'F32', shape: [2], data: new Float32Array(2) });
    });
    expect(decodeError(stray).message).toMatch(/tensor layers\.2\.bias does not belong to layer sizes \[4,3,2\]/);
  });

  it('reports another format version', () => {
    const bad = rebuilt((_, metadata) => {
      metadata.format_version = '7';
    });
    expect(decodeError(bad).message).toBe('run/x.safetensors was written by checkpoint format version 7; this nnfs reads version 1.');
  });

  it('reports a foreign safetensors file', () => {
    const foreign = encodeSafetensors([{ name: 'weight', dtype: 'F32', shape: [2, 2], data: new Float32Array(4) }], { format: 'pt' });
    expect(decodeError(foreign).message).toBe('run/x.safetensors is not an nnfs checkpoint (no nnfs metadata).');
    const bare = encodeSafetensors([], {});
    expect(decodeError(bare).message).toMatch(/is not an nnfs checkpoint/);
  });

  it('reports bad metadata fields', () => {
    const cases: [(m: Record<string, string>) => void, RegExp][] = [
      [(m) => (m.sizes = '[4,0,2]'), /layer sizes are not a list of at least two positive whole numbers/],
      [(m) => (m.sizes = 'four'), /metadata field sizes is not valid JSON/],
      [(m) => (m.config = JSON.stringify({ ...DEFAULTS, hidden: [3], lr: 'fast' })), /config field lr is missing or not a number/],
      [(m) => (m.config = JSON.stringify({ ...DEFAULTS, hidden: [3], optimizer: 'lbfgs' })), /holds an invalid training config \(--optimizer must be one of/],
      [(m) => (m.config = JSON.stringify({ ...DEFAULTS, hidden: [3], beta1: 2 })), /holds an invalid training config \(Adam's beta1 must be in \[0, 1\), got 2\)/],
      [(m) => (m.config = JSON.stringify({ ...DEFAULTS })), /config's hidden widths \[16\] disagree with its layer sizes \[4,3,2\]/],
      [(m) => (m.epoch = '-1'), /metadata field epoch is "-1", not a non-negative whole number/],
      [(m) => (m.step = '1.5'), /metadata field step is "1.5"/],
      [(m) => delete m.global_step, /its metadata has no global_step/],
      [(m) => (m.partial_loss_sum = 'NaN'), /partial_loss_sum is "NaN", not a finite number/],
      [(m) => (m.partial_loss_sum = ''), /partial_loss_sum is "", not a finite number/],
      [(m) => delete m.data_fingerprint, /its metadata has no data_fingerprint/],
    ];
    for (const [edit, pattern] of cases) {
      const message = decodeError(rebuilt((_, m) => edit(m))).message;
      expect(message).toMatch(/^run\/x\.safetensors /);
      expect(message).toMatch(pattern);
    }
  });

  it('says how to get a checkpoint when the file is missing', async () => {
    const missing = path.join(dir, 'nope.safetensors');
    await expect(loadCheckpoint(missing)).rejects.toThrow(UserError);
    await expect(loadCheckpoint(missing)).rejects.toThrow(`no checkpoint at ${missing}; train one with \`npx nnfs train\`.`);
    await expect(loadCheckpoint(dir)).rejects.toThrow(`no checkpoint at ${path.join(dir, LAST_NAME)}; train one with \`npx nnfs train\`.`);
  });

  it('prefixes the file path to damage found on disk', async () => {
    const file = path.join(dir, 'cut.safetensors');
    await fs.writeFile(file, good.subarray(0, 20));
    await expect(loadCheckpoint(file)).rejects.toThrow(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: checkpoint is truncated`));
  });

  it('refuses to save a diverged run with a clear message', () => {
    const c = makeCheckpoint();
    c.position.partialLossSum = Number.NaN;
    expect(() => encodeCheckpoint(c)).toThrow(UserError);
  });
});

describe('store', () => {
  it('names checkpoints by epoch and step and parses the names back', () => {
    expect(checkpointName(3, 0)).toBe('epoch-0003.safetensors');
    expect(checkpointName(3, 120)).toBe('epoch-0004-step-000120.safetensors');
    expect(parseCheckpointName('epoch-0004-step-000120.safetensors')).toEqual({ epoch: 3, step: 120 });
    expect(parseCheckpointName('epoch-12345.safetensors')).toEqual({ epoch: 12345, step: 0 });
    expect(parseCheckpointName(LAST_NAME)).toBeNull();
  });

  it('saves atomically: no temp files left, last.safetensors equals the newest save', async () => {
    const c = makeCheckpoint();
    const saves: [number, number][] = [[1, 0], [1, 120], [2, 0], [2, 60]];
    for (const [epoch, step] of saves) {
      c.position = { ...c.position, epoch, step };
      c.params[5] = epoch * 1000 + step;
      await saveCheckpoint(dir, checkpointName(epoch, step), c);
      const names = await fs.readdir(dir);
      expect(names.filter((n) => n.includes('.tmp-'))).toEqual([]);
      const newest = await fs.readFile(path.join(dir, checkpointName(epoch, step)));
      expect((await fs.readFile(path.join(dir, LAST_NAME))).equals(newest)).toBe(true);
      expect((await loadCheckpoint(dir)).position.step).toBe(step);
    }
    expect((await listCheckpoints(dir)).map((f) => [f.epoch, f.step])).toEqual(saves);
  });

  it("a save's temp file exists from the moment the save starts, so a second Ctrl-C finds and removes it", async () => {
    // Made by an open in the thread pool, it could appear just after removeUnfinishedSaves had
    // looked (the second Ctrl-C's clean-up, then exit), and stay behind.
    const bytes = new Uint8Array(1 << 20).fill(7);
    const saving = writeTemp(dir, 'last.safetensors', bytes);
    const temps = () => readdirSync(dir).filter((n) => n.includes('.tmp-'));
    expect(temps()).toHaveLength(1);
    removeUnfinishedSaves(dir);
    expect(temps()).toEqual([]);
    // The write goes on to the removed file, whose name is gone.
    const temp = await saving.catch((e: unknown) => e);
    expect(typeof temp).toBe('string');
    expect(temps()).toEqual([]);
    // And an ordinary save leaves just its file, all of it.
    const kept = await writeTemp(dir, 'x.safetensors', bytes);
    expect((await fs.readFile(kept)).equals(Buffer.from(bytes))).toBe(true);
  });

  it('prunes to the newest N numbered checkpoints and keeps last.safetensors', async () => {
    const c = makeCheckpoint();
    const order: [number, number][] = [[2, 0], [1, 120], [10, 0], [1, 0], [2, 30]];
    for (const [epoch, step] of order) await saveCheckpoint(dir, checkpointName(epoch, step), c);
    await fs.writeFile(path.join(dir, 'notes.txt'), 'mine');
    const removed = await pruneCheckpoints(dir, 2);
    // Oldest first by position: end of epoch 1, 120 steps into epoch 2, end of epoch 2.
    expect(removed.map((p) => path.basename(p))).toEqual(['epoch-0001.safetensors', 'epoch-0002-step-000120.safetensors', 'epoch-0002.safetensors']);
    expect((await fs.readdir(dir)).sort()).toEqual(['epoch-0003-step-000030.safetensors', 'epoch-0010.safetensors', LAST_NAME, 'notes.txt'].sort());
    await pruneCheckpoints(dir, 0);
    expect((await fs.readdir(dir)).sort()).toEqual([LAST_NAME, 'notes.txt']);
    // last.safetensors is a copy of a pruned file's content, and still whole.
    expect(bits((await loadCheckpoint(dir)).params)).toEqual(bits(c.params));
    expect(await listCheckpoints(path.join(dir, 'absent'))).toEqual([]);
  });

  it('reports an unwritable output folder before training and on save', async () => {
    const file = path.join(dir, 'a-file');
    await fs.writeFile(file, 'x');
    const under = path.join(file, 'out');
    expect(() => assertWritable(under)).toThrow(UserError);
    expect(() => assertWritable(under)).toThrow(`cannot write to ${under}: part of the path is a file, not a folder.`);
    await expect(saveCheckpoint(under, checkpointName(1, 0), makeCheckpoint())).rejects.toThrow(/^cannot save checkpoint .+: part of the path is a file, not a folder\.$/);
    const fresh = path.join(dir, 'new', 'deeper');
    assertWritable(fresh);
    expect(await fs.readdir(fresh)).toEqual([]);
  });

  it('writes a loose checkpoint file only under a free name, replacing nothing and leaving no temp file', async () => {
    const file = path.join(dir, 'model.safetensors');
    await writeCheckpointFile(file, makeCheckpoint());
    const before = await fs.readFile(file);
    const other = makeCheckpoint();
    other.params = filled(other.params.length, 9);
    await expect(writeCheckpointFile(file, other)).rejects.toThrow(FileExistsError);
    expect((await fs.readFile(file)).equals(before)).toBe(true);
    expect(await fs.readdir(dir)).toEqual(['model.safetensors']);
  });
});

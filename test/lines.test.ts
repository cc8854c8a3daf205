// The synthetic lines data set, and the seeded counter-based RNG it is drawn from.

import { describe, expect, it } from 'vitest';
import { UserError } from '../src/errors.js';
import { generateLines } from '../src/data/lines.js';
import { pixelsOf } from './helpers.js';
import { Stream, hash32, normal, shuffledOrder, uniform } from '../src/rng.js';

describe('generateLines', () => {
  it('makes balanced labels and images with exactly one full line matching the label', () => {
    const size = 16;
    const data = generateLines(2000, 7);
    expect([data.count, data.rows, data.cols, data.inputSize, data.classes]).toEqual([2000, 16, 16, 256, 2]);
    expect(data.sparse.entries.buffer).toBeInstanceOf(SharedArrayBuffer);
    const pixels = pixelsOf(data);
    const ones = data.labels.reduce((sum, label) => sum + label, 0);
    expect(ones).toBeGreaterThan(850);
    expect(ones).toBeLessThan(1150);
    const positions = [new Set<number>(), new Set<number>()];
    for (let i = 0; i < data.count; i++) {
      const image = pixels.subarray(i * 256, (i + 1) * 256);
      const lit: number[] = [];
      image.forEach((value, p) => {
        if (value !== 0) {
          expect(value).toBe(255);
          lit.push(p);
        }
      });
      expect(lit.length).toBe(size);
      const label = data.labels[i];
      expect(label === 0 || label === 1).toBe(true);
      // Horizontal: every lit pixel in one row. Vertical: every lit pixel in one column.
      const line = label === 0 ? lit.map((p) => Math.floor(p / size)) : lit.map((p) => p % size);
      expect(new Set(line).size).toBe(1);
      positions[label].add(line[0]);
      expect(data.sparse.offsets[i + 1] - data.sparse.offsets[i]).toBe(size);
    }
    expect(positions[0].size).toBe(size);
    expect(positions[1].size).toBe(size);
  });

  it('is a pure function of the seed', () => {
    const a = generateLines(500, 42);
    const b = generateLines(500, 42);
    const c = generateLines(500, 43);
    expect(Buffer.from(pixelsOf(a)).equals(Buffer.from(pixelsOf(b)))).toBe(true);
    expect(Buffer.from(a.labels).equals(Buffer.from(b.labels))).toBe(true);
    expect(Buffer.from(pixelsOf(a)).equals(Buffer.from(pixelsOf(c)))).toBe(false);
    // A longer set starts with the shorter one: image i depends on (seed, i) only.
    const longer = generateLines(600, 42);
    expect(Buffer.from(pixelsOf(longer, 500)).equals(Buffer.from(pixelsOf(a)))).toBe(true);
  });

  it('takes other image sizes and refuses bad arguments', () => {
    const small = generateLines(10, 1, 8);
    expect([small.rows, small.cols, small.inputSize]).toEqual([8, 8, 64]);
    expect(pixelsOf(small).reduce((n, v) => n + (v === 255 ? 1 : 0), 0)).toBe(80);
    expect(() => generateLines(0, 1)).toThrow(UserError);
    expect(() => generateLines(2.5, 1)).toThrow(UserError);
    expect(() => generateLines(10, 1, 1)).toThrow(UserError);
  });
});

describe('rng', () => {
  it('is deterministic and sensitive to every argument', () => {
    expect(hash32(1, 2, 3)).toBe(3660472503);
    const values = new Set([hash32(1, 2, 3), hash32(2, 2, 3), hash32(1, 3, 3), hash32(1, 2, 4), hash32(1, 2, 3 + 2 ** 32)]);
    expect(values.size).toBe(5);
    for (let k = 0; k < 1000; k++) {
      const u = uniform(9, 0, k);
      expect(u >= 0 && u < 1).toBe(true);
    }
  });

  it('Stream draws the counter-based sequence', () => {
    const stream = new Stream(5, 6);
    expect([stream.nextUint32(), stream.nextUint32()]).toEqual([hash32(5, 6, 0), hash32(5, 6, 1)]);
    expect(stream.nextFloat()).toBe(uniform(5, 6, 2));
    for (let k = 0; k < 1000; k++) expect(stream.nextBelow(7)).toBeLessThan(7);
  });

  it('shuffledOrder is a permutation fixed by (seed, epoch)', () => {
    const order = shuffledOrder(1000, 1, 0);
    expect([...order].sort((a, b) => a - b)).toEqual([...Array(1000).keys()]);
    expect(shuffledOrder(1000, 1, 0)).toEqual(order);
    expect(shuffledOrder(1000, 1, 1)).not.toEqual(order);
    expect(shuffledOrder(1000, 2, 0)).not.toEqual(order);
    expect(shuffledOrder(1, 1, 0)).toEqual(new Int32Array([0]));
  });

  it('normal has mean 0 and variance 1', () => {
    const n = 20000;
    let sum = 0;
    let squares = 0;
    for (let i = 0; i < n; i++) {
      const z = normal(3, 0x1000, i);
      expect(Number.isFinite(z)).toBe(true);
      sum += z;
      squares += z * z;
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.05);
    expect(Math.abs(squares / n - 1)).toBeLessThan(0.05);
  });
});

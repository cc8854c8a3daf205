// The seeded randomness every run's initialisation and sample order come from: its values
// must never change (a seed names a run), and its fast paths must give the same values.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fillNormal, hash32, INIT_STREAM, LINES_STREAM, normal, shuffleStream, shuffledOrder, Stream } from '../src/rng.js';

fc.configureGlobal({ seed: 11, numRuns: 100 });

const seed = fc.integer({ min: 0, max: 0xffffffff });
const stream = fc.integer({ min: 0, max: 0x7fffffff });

describe('rng', () => {
  it('gives the values it always has (they fix every run: README figures, shipped checkpoints)', () => {
    expect([hash32(0, 0, 0), hash32(1, 2, 3), hash32(42, 7, 2 ** 33 + 5)]).toEqual([2167721464, 3660472503, 3202037604]);
    expect(Array.from(shuffledOrder(10, 1, 0))).toEqual([7, 1, 9, 2, 4, 6, 8, 0, 5, 3]);
    expect([normal(1, 0x1000, 0), normal(1, 0x1000, 1)]).toEqual([0.07303429405670675, 1.1917398423269812]);
  });

  it("no epoch's shuffle replays another stream's draws (the initial weights', the lines data's)", () => {
    const epochs = fc.integer({ min: 0, max: 999_999 }); // --epochs goes up to 1,000,000
    fc.assert(fc.property(epochs, (epoch) => {
      const stream = shuffleStream(epoch);
      expect(stream === LINES_STREAM || (stream >= INIT_STREAM && stream < INIT_STREAM + 2 ** 20)).toBe(false);
      if (epoch < INIT_STREAM) expect(stream).toBe(epoch); // the orders every earlier run trained with
    }));
    // Epoch 4096's order used to come from the first layer's initial weights' stream.
    const initDraws = new Stream(1, INIT_STREAM);
    const replayed = Array.from({ length: 9 }, (_, k) => initDraws.nextBelow(10 - k));
    const drawn = Array.from(shuffledOrder(10, 1, 4096));
    const fisherYates = Array.from({ length: 10 }, (_, i) => i);
    replayed.forEach((j, k) => { const i = 9 - k; [fisherYates[i], fisherYates[j]] = [fisherYates[j], fisherYates[i]]; });
    expect(drawn).not.toEqual(fisherYates);
  });

  it('fillNormal fills the same values as normal() one draw at a time', () => {
    fc.assert(fc.property(seed, stream, fc.integer({ min: 0, max: 300 }), fc.double({ min: 0.01, max: 10, noNaN: true }), (s, st, n, scale) => {
      const filled = new Float32Array(n);
      fillNormal(filled, s, st, scale);
      expect(filled).toEqual(Float32Array.from({ length: n }, (_, i) => scale * normal(s, st, i)));
    }));
  });

  it("a Stream's k-th draw is hash32(seed, stream, k)", () => {
    fc.assert(fc.property(seed, stream, (s, st) => {
      const random = new Stream(s, st);
      for (let k = 0; k < 20; k++) expect(random.nextUint32()).toBe(hash32(s, st, k));
    }));
  });

  it('shuffledOrder is a permutation', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 2000 }), seed, fc.integer({ min: 0, max: 1000 }), (n, s, epoch) => {
      expect(Array.from(shuffledOrder(n, s, epoch)).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    }));
  });
});

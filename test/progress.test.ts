// The epoch lines' numbers: written as en-US writes them, without loading ICU for it.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatEpochLine, groupDigits } from '../src/report/progress.js';

describe('numbers in the epoch lines', () => {
  it('groupDigits writes any whole number as toLocaleString("en-US") does, and rounds the rest', () => {
    fc.assert(fc.property(fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }), (n) => groupDigits(n) === n.toLocaleString('en-US')), { seed: 1 });
    expect(groupDigits(999.5)).toBe('1,000');
    expect(groupDigits(1234567.4)).toBe('1,234,567');
  });

  it('an epoch line reads as the README shows it', () => {
    const line = formatEpochLine({ epoch: 5, trainLoss: 0.14409, testLoss: 0.17031, testAccuracy: 0.9512, seconds: 0.11, samplesPerSecond: 544386.2 }, 5);
    expect(line).toBe('epoch 5/5  train loss 0.1441  test loss 0.1703  test accuracy 95.12%  0.11 s  544,386 samples/s');
  });
});

// ASCII art of a digit and the probability listing, checked against hand-written expectations.

import { describe, expect, it } from 'vitest';
import { asciiDigit, formatProbabilities, RAMP } from '../src/report/ascii.js';

describe('asciiDigit', () => {
  it('draws a tiny hand-made image exactly, every bin edge included', () => {
    // Ten bins of 25.6: each row holds the first and last value of two neighbouring bins.
    const pixels = [
      0, 25, 26, 51,
      52, 76, 77, 102,
      103, 127, 128, 153,
      154, 179, 180, 204,
      205, 230, 231, 255,
    ];
    expect(asciiDigit(pixels, 5, 4)).toBe(['  ..', '::--', '==++', '**##', '%%@@'].join('\n'));
  });

  it('maps the ramp endpoints: 0 -> space, 255 -> @, and clamps out-of-range values', () => {
    expect(RAMP).toBe(' .:-=+*#%@');
    expect(asciiDigit([0, 255, -40, 999, Number.NaN], 1, 5)).toBe(' @ @ ');
  });

  it('draws a 28x28 image as 28 lines of 28 characters', () => {
    const pixels = new Uint8Array(784);
    for (let r = 0; r < 28; r++) pixels[r * 28 + r] = 255; // a diagonal
    const lines = asciiDigit(pixels).split('\n');
    expect(lines).toHaveLength(28);
    for (const [r, line] of lines.entries()) {
      expect(line).toHaveLength(28);
      expect(line).toBe(' '.repeat(r) + '@' + ' '.repeat(27 - r));
    }
  });

  it('refuses too few pixels', () => {
    expect(() => asciiDigit(new Uint8Array(10))).toThrow(/784 pixels/);
  });
});

describe('formatProbabilities', () => {
  it('prints one line per class with five decimals', () => {
    expect(formatProbabilities([0.000012, 0.5, 0.499988])).toBe('0: 0.00001\n1: 0.50000\n2: 0.49999');
    expect(formatProbabilities(new Float32Array(10)).split('\n')).toHaveLength(10);
  });
});

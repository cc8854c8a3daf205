// `nnfs lines` through the real CLI: the original's toy, trained on the shared engine,
// goes from chance to every test image right, as the original's 40.68% -> 100.0%.

import { describe, expect, it } from 'vitest';
import { hasStackTrace, runCli } from './helpers.js';

interface LinesResult {
  before: number;
  after: number;
  losses: number[];
}

describe('nnfs lines', () => {
  it('--json: about half right before training, all right after one pass over 1,500 images', () => {
    const r = runCli(['lines', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as LinesResult;
    expect(result.before).toBeGreaterThan(0.2);
    expect(result.before).toBeLessThan(0.8);
    expect(result.after).toBe(1);
    // One mean per 100 samples, falling as it learns.
    expect(result.losses).toHaveLength(15);
    expect(result.losses[14]).toBeLessThan(result.losses[0] / 10);
  });

  it('prints before, the loss every 100 samples, and after, and is the same for any thread count', () => {
    const one = runCli(['lines', '--train', '300', '--test', '500', '--seed', '4']);
    expect(one.status, one.stderr).toBe(0);
    expect(one.stdout.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^before training: \d+\.\d\d% correct on 500 images$/),
      expect.stringMatching(/^samples 100: loss \d+\.\d{4}$/),
      expect.stringMatching(/^samples 200: loss \d+\.\d{4}$/),
      expect.stringMatching(/^samples 300: loss \d+\.\d{4}$/),
      expect.stringMatching(/^after training: \d+\.\d\d% correct on 500 images$/),
    ]);
    const two = runCli(['lines', '--train', '300', '--test', '500', '--seed', '4', '--threads', '2']);
    expect(two.stdout).toBe(one.stdout);
  });

  it('refuses a bad flag in one sentence', () => {
    const r = runCli(['lines', '--train', '0']);
    expect(r.status).not.toBe(0);
    expect(hasStackTrace(r.stderr)).toBe(false);
    expect(r.stderr.trim()).toBe('nnfs: --train must be a whole number from 1 to 4000000, got 0.');
  });
});

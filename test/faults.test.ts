// Faults during training: a worker that throws or exits mid-step, and a run that diverges,
// each stop the run quickly with one clear sentence and leave the last good checkpoint alone.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasStackTrace, runCli, smallMnistFolder, tempDir } from './helpers.js';

describe('a failing worker', () => {
  const data = smallMnistFolder(4000, 500);
  const run = join(tempDir(), 'run');
  const trained = runCli(['train', '--data', data, '--out', run, '--epochs', '1', '--batch-size', '16']);

  for (const fault of ['throw', 'exit'] as const) {
    it(`that ${fault}s in the middle of a step stops the run within seconds, with the checkpoint untouched`, () => {
      expect(trained.status).toBe(0);
      const before = readFileSync(join(run, 'last.safetensors'));
      const started = performance.now();
      const result = runCli(['resume', '--checkpoint', run, '--data', data, '--epochs', '3', '--threads', '2'], {
        timeout: 20_000,
        env: { NNFS_TEST_FAULT: `${fault}:100` },
      });
      const seconds = (performance.now() - started) / 1000;
      expect(result.status).toBe(1);
      expect(seconds).toBeLessThan(5);
      expect(result.stderr).toMatch(fault === 'throw' ? /^nnfs: a worker thread failed: injected test fault at step 100\.$/m : /^nnfs: a worker thread failed: worker exited/m);
      expect(hasStackTrace(result.stderr)).toBe(false);
      expect(readFileSync(join(run, 'last.safetensors')).equals(before)).toBe(true);
    }, 30_000);
  }
});

describe('a thread descheduled while it opens a phase', () => {
  it('strands no work when a range is left empty (a short last step): the run finishes', () => {
    // 612 images at batch 256: steps of 256, 256 and 100, the last a single task, so on two
    // threads the second range has nothing in it. The thread opening that step stalls before
    // its last ticket write until another thread moves the run on (at most a second).
    // Needs two cores to have two training threads; on one it passes without the race.
    const data = smallMnistFolder(612, 100);
    const started = performance.now();
    const result = runCli(['train', '--data', data, '--out', join(tempDir(), 'run'), '--epochs', '2', '--batch-size', '256', '--threads', '2'], {
      timeout: 20_000,
      env: { NNFS_TEST_FAULT: 'stall:2' },
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect((performance.now() - started) / 1000).toBeLessThan(10);
  }, 30_000);
});

describe('divergence', () => {
  for (const args of [['--lr', '1e6'], ['--optimizer', 'sgd', '--lr', '1e6', '--batch-size', '1']]) {
    it(`train ${args.join(' ')} stops naming the epoch and step, and writes no checkpoint`, () => {
      const data = smallMnistFolder(2000, 200);
      const out = join(tempDir(), 'run');
      const result = runCli(['train', '--data', data, '--out', out, '--epochs', '3', ...args]);
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/^nnfs: training diverged at epoch 1, step \d+: .* try a lower --lr\.$/m);
      // A batched step's loss is checked before its update; the original recipe's fused step has been applied.
      expect(result.stderr.includes('that step was not applied')).toBe(!args.includes('sgd'));
      expect(hasStackTrace(result.stderr)).toBe(false);
      const files = existsSync(out) ? readdirSync(out) : [];
      expect(files.filter((f) => f.endsWith('.safetensors'))).toEqual([]);
    }, 30_000);
  }

  // The last update before a save is checked by no step's loss: the weights themselves are.
  const cases: [string, string[], string][] = [
    ['a one-step epoch whose update blows the weights up', ['--batch-size', '3000', '--optimizer', 'sgd', '--lr', '1e30', '--epochs', '2'], 'test loss'],
    ['a save within the epoch, just after such an update', ['--optimizer', 'momentum', '--lr', '0.05', '--lr-decay', '1', '--init', 'randn', '--batch-size', '1', '--hidden', '64,64', '--save-every-steps', '8', '--epochs', '1'], 'loss on the first training images'],
  ];
  for (const [name, args, measured] of cases) {
    it(`${name}: no checkpoint of those weights, no metrics line for them`, () => {
      const data = smallMnistFolder(3000, 1000);
      const out = join(tempDir(), 'run');
      const result = runCli(['train', '--data', data, '--out', out, ...args]);
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`^nnfs: training diverged in epoch 1: the weights it reached give a ${measured} that is NaN, infinite or over 1e6, so no checkpoint of them was written; try a lower --lr\\.$`, 'm'));
      // The run made --out, and leaves nothing there: so the folder goes too.
      expect(existsSync(out)).toBe(false);
    }, 30_000);
  }
});

// Parallel training gives bit-identical weights whatever the thread count, and a short real
// run on MNIST learns.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, type TrainConfig } from '../src/config.js';
import { Session, type Reporter } from '../src/train/session.js';
import { firstSamples, realMnist, tempDir } from './helpers.js';

const quiet: Reporter = { epochStart() {}, progress() {}, epochEnd() {} };

async function trainWeights(config: TrainConfig, threads: number, trainCount: number) {
  const mnist = realMnist();
  const data = { train: firstSamples(mnist.train, trainCount), test: firstSamples(mnist.test, 1000), fingerprint: 'test' };
  const outDir = tempDir();
  const session = new Session({ config, data, threads, outDir, reporter: quiet });
  try {
    const result = await session.run();
    return { bytes: readFileSync(join(outDir, 'last.safetensors')), metrics: result.metrics };
  } finally {
    await session.close();
  }
}

describe('thread count does not change the result', () => {
  const recipes: [string, TrainConfig][] = [
    ['adam, batch 64 (four microbatches: four tasks at 3 and 8 threads, summed in the tree\'s upper levels)', { ...DEFAULTS, batchSize: 64, epochs: 2 }],
    ['momentum, batch 100 with a short last batch, two hidden layers', { ...DEFAULTS, optimizer: 'momentum', lr: 0.02, batchSize: 100, hidden: [24, 12], epochs: 1 }],
    // Six microbatches: three tasks of two at 2 threads, whose sums the update adds in place.
    ['adam, batch 96, the JS sparse kernel', { ...DEFAULTS, kernel: 'sparse', batchSize: 96, epochs: 1 }],
    ['the original recipe: sgd, batch 1', { ...DEFAULTS, optimizer: 'sgd', lr: 0.01, batchSize: 1, init: 'randn', epochs: 1 }],
  ];
  for (const [name, config] of recipes) {
    it(`${name}: weights are bit-identical for 1, 2, 3 and 8 threads`, async () => {
      const runs = [];
      for (const threads of [1, 2, 3, 8]) runs.push(await trainWeights(config, threads, 3050));
      for (const run of runs.slice(1)) {
        expect(run.bytes.equals(runs[0].bytes)).toBe(true);
        expect(run.metrics.map((m) => [m.trainLoss, m.testLoss, m.testAccuracy])).toEqual(runs[0].metrics.map((m) => [m.trainLoss, m.testLoss, m.testAccuracy]));
      }
    }, 60_000);
  }
});

describe('learning', () => {
  it('one epoch of the default recipe on 10,000 real images reaches over 85% test accuracy', async () => {
    const { metrics } = await trainWeights({ ...DEFAULTS, epochs: 1 }, 2, 10_000);
    expect(metrics[0].testAccuracy).toBeGreaterThan(0.85);
    expect(metrics[0].trainLoss).toBeLessThan(1);
  }, 60_000);
});

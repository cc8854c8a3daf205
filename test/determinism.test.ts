// Parallel training gives bit-identical weights whatever the thread count, and a short real
// run on MNIST learns.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, type TrainConfig } from '../src/config.js';
import { Session, type Reporter } from '../src/train/session.js';
import { firstSamples, realMnist, tempDir } from './helpers.js';

const quiet: Reporter = { epochStart() {}, progress() {}, epochEnd() {} };

/**
 * Planned as on a 16-core machine, so `threads` training threads really share each step
 * (here they share this machine's cores): else any count above the cores here would run
 * the layout of as many threads as there are cores, and layouts of 3 or more threads, which
 * bigger machines run, would go untested on a 2-core one.
 */
const CORES = 16;

async function trainWeights(config: TrainConfig, threads: number, trainCount: number) {
  const mnist = realMnist();
  const data = { train: firstSamples(mnist.train, trainCount), test: firstSamples(mnist.test, 1000), fingerprint: 'test' };
  const outDir = tempDir();
  const session = new Session({ config, data, threads, outDir, reporter: quiet, cores: CORES });
  try {
    const result = await session.run();
    return { bytes: readFileSync(join(outDir, 'last.safetensors')), metrics: result.metrics };
  } finally {
    await session.close();
  }
}

describe('thread count does not change the result', () => {
  const recipes: [string, TrainConfig, number[]][] = [
    ['adam, batch 64 (four microbatches: four tasks at 3 and 8 threads, summed in the tree\'s upper levels)', { ...DEFAULTS, batchSize: 64, epochs: 2 }, [1, 2, 3, 8]],
    ['momentum, batch 100 with a short last batch, two hidden layers', { ...DEFAULTS, optimizer: 'momentum', lr: 0.02, batchSize: 100, hidden: [24, 12], epochs: 1 }, [1, 2, 3, 8]],
    // Six microbatches: three tasks of two at 2 threads, whose sums the update adds in place.
    ['adam, batch 96, the JS sparse kernel', { ...DEFAULTS, kernel: 'sparse', batchSize: 96, epochs: 1 }, [1, 2, 3, 8]],
    // Sixteen microbatches: tasks of eight, four, two (at 5) and one (at 16), and a short last step.
    ['adam, batch 256', { ...DEFAULTS, batchSize: 256, epochs: 1 }, [1, 2, 4, 5, 16]],
    ['the original recipe: sgd, batch 1', { ...DEFAULTS, optimizer: 'sgd', lr: 0.01, batchSize: 1, init: 'randn', epochs: 1 }, [1, 2, 3, 8]],
  ];
  for (const [name, config, threadCounts] of recipes) {
    it(`${name}: weights are bit-identical for ${threadCounts.join(', ')} threads`, async () => {
      const runs = [];
      for (const threads of threadCounts) runs.push(await trainWeights(config, threads, 3050));
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

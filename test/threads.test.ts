// How many worker threads a training run starts for --threads N, and how its first line
// says so, for machines of any core count (the count is a parameter: this one has its own).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeThreads } from '../src/commands/flags.js';
import { DEFAULTS } from '../src/config.js';
import { threadsToRun, workersFor } from '../src/train/pool.js';
import { microbatchShape, trainingThreads } from '../src/train/protocol.js';

const shape = (batchSize: number) => microbatchShape({ ...DEFAULTS, batchSize });

describe('threads of a training run', () => {
  const cases: [cores: number, requested: number, batch: number, line: string][] = [
    // The default batch of 32 is 2 microbatches: 16 cores ran 16 workers, 14 with nothing to train.
    [16, 16, 32, '2 threads (more would have nothing to train: a batch of 32 is 2 microbatches of 16; --threads 16 asked for more)'],
    [16, 8, 64, '4 threads (more would have nothing to train: a batch of 64 is 4 microbatches of 16; --threads 8 asked for more)'],
    [16, 16, 256, '16 threads'],
    [2, 2, 32, '2 threads'],
    [2, 8, 32, '2 threads (one per core; --threads 8 asked for more)'],
    [1, 4, 32, '1 thread (one per core; --threads 4 asked for more)'],
    // One microbatch: one trains, and a second core's worker shares the evaluation.
    [2, 2, 16, '2 threads (1 of them trains: a batch of 16 is 1 microbatch of 16)'],
    [2, 2, 1, '2 threads (1 of them trains: each step is one sample)'],
    [16, 16, 1, '2 threads (1 of them trains: each step is one sample; --threads 16 asked for more)'],
    [16, 1, 256, '1 thread'],
  ];
  for (const [cores, requested, batch, line] of cases) {
    it(`${cores} cores, --threads ${requested}, batch ${batch}: ${line}`, () => {
      expect(describeThreads(requested, shape(batch), cores)).toBe(line);
    });
  }

  it('never more workers than asked for or than cores, never fewer than train, two where two cores are asked for', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 256 }), fc.integer({ min: 1, max: 1024 }), (cores, requested, batch) => {
        const workers = workersFor(requested, shape(batch), cores);
        expect(workers).toBeLessThanOrEqual(threadsToRun(requested, cores));
        expect(workers).toBeGreaterThanOrEqual(trainingThreads(workers, shape(batch), cores));
        expect(workers).toBeGreaterThanOrEqual(Math.min(requested, cores, 2));
        expect(trainingThreads(workers, shape(batch), cores)).toBe(trainingThreads(requested, shape(batch), cores));
      }),
      { seed: 7 },
    );
  });
});

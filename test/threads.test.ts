// How many worker threads a training run starts for --threads N, and how its first line
// says so, for machines of any core count (the count is a parameter: this one has its own).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { threadPlan } from '../src/commands/flags.js';
import { DEFAULTS } from '../src/config.js';
import { threadsToRun } from '../src/train/pool.js';
import { microbatchShape, trainingThreads } from '../src/train/protocol.js';

const shape = (batchSize: number) => microbatchShape({ ...DEFAULTS, batchSize });

describe('threads of a training run', () => {
  const cases: [cores: number, requested: number, batch: number, line: string][] = [
    // The default batch of 32 is 2 microbatches: 16 cores ran 16 workers, 14 with nothing to train.
    [16, 16, 32, '2 threads (more would have nothing to train: a batch of 32 is 2 microbatches of 16; --threads 16 asked for more)'],
    [4, 4, 32, '2 threads (more would have nothing to train: a batch of 32 is 2 microbatches of 16; --threads 4 asked for more)'],
    [16, 8, 64, '4 threads (more would have nothing to train: a batch of 64 is 4 microbatches of 16; --threads 8 asked for more)'],
    [16, 16, 40, '3 threads (more would have nothing to train: a batch of 40 is 3 microbatches of up to 16; --threads 16 asked for more)'],
    [16, 16, 256, '16 threads'],
    [2, 2, 32, '2 threads'],
    [2, 8, 32, '2 threads (one per core; --threads 8 asked for more)'],
    [1, 4, 32, '1 thread (one per core; --threads 4 asked for more)'],
    // One microbatch: one trains, and a second worker shares the evaluation.
    [2, 2, 16, '2 threads (1 of them trains, as a batch of 16 is 1 microbatch of 16; the other shares the evaluation)'],
    [2, 2, 1, '2 threads (1 of them trains, as each step is one sample; the other shares the evaluation)'],
    [3, 3, 1, '2 threads (1 of them trains, as each step is one sample; the other shares the evaluation; --threads 3 asked for more)'],
    [16, 1, 256, '1 thread'],
  ];
  for (const [cores, requested, batch, line] of cases) {
    it(`${cores} cores, --threads ${requested}, batch ${batch}: ${line}`, () => {
      const plan = threadPlan(requested, shape(batch), cores);
      expect(plan.description).toBe(line);
      expect(plan.workers).toBe(Number(line.split(' ')[0]));
    });
  }

  it('never more workers than asked for or than cores, never fewer than can train, two where two cores are asked for', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 256 }), fc.integer({ min: 1, max: 1024 }), (cores, requested, batch) => {
        const { workers } = threadPlan(requested, shape(batch), cores);
        const training = trainingThreads(requested, shape(batch), cores);
        expect(workers).toBeLessThanOrEqual(threadsToRun(requested, cores));
        expect(workers).toBeGreaterThanOrEqual(training);
        expect(workers).toBeGreaterThanOrEqual(Math.min(requested, cores, 2));
        // Beyond those two floors, no worker without a step to train.
        expect(workers).toBe(Math.max(training, Math.min(requested, cores, 2)));
        expect(trainingThreads(workers, shape(batch), cores)).toBe(training);
      }),
      { seed: 7 },
    );
  });
});

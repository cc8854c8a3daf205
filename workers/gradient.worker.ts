// The piscina worker: takes part in training segments, evaluates ranges of samples, hashes
// the data set (a fingerprint, off the main thread) and answers no-op tasks (bench's timing).
// All state lives in the run's shared buffers; see src/train/protocol.ts.

import { threadContext, trainSegment } from '../src/train/step-loop.js';
import type { EvaluateResult, WorkerTask } from '../src/train/protocol.js';
import { wasmModule } from '../src/model/wasm/modules.js';
import { fingerprint } from '../src/data/fingerprint.js';

// Compile the kernels now, while the thread starts (piscina loads this file at start-up,
// which overlaps the coordinator's data loading), not at the first step.
wasmModule('kernel');
wasmModule('update');

export default function handle(task: WorkerTask): EvaluateResult | string | null {
  if (task.kind === 'noop') return null;
  if (task.kind === 'fingerprint') return fingerprint(task.data);
  if (task.kind === 'train') {
    trainSegment(task.run);
    return null;
  }
  const { kernel } = threadContext(task.run);
  const totals = new Float64Array(2);
  kernel.evaluate(task.run.params, task.run.test, task.from, task.to, totals);
  return { lossSum: totals[0], correct: totals[1] };
}

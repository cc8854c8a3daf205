// Text form of bench records: a heading per kind of measurement, then aligned lines.

import { MEMORY_BATCH, type BenchRecord } from './runner.js';
import { groupDigits } from '../src/report/progress.js';
import { FULL_TIMING, QUICK_TIMING } from './throughput.js';

const HEADINGS: Record<string, string> = {
  machine: 'machine',
  throughput: 'training throughput of the engine with N worker threads (median of timed one-epoch windows after a warm-up of at least ' +
    `an epoch and ${FULL_TIMING.warmUpSeconds} s, ${QUICK_TIMING.warmUpSeconds} s with --quick)`,
  sync: 'synchronisation: a step of 64 samples with no arithmetic (claiming protocol; a pool task per thread per step instead)',
  'original-recipe': "the original recipe (batch 1, SGD, lr 0.01) on one thread",
  kernel: 'kernels on one thread, microbatches of 16 real MNIST images (dense-equivalent GFLOP/s)',
  'time-to-accuracy': 'default recipe from a cold start of `nnfs train` (wall time since the process started)',
  memory: `peak memory (RSS) of \`nnfs train --epochs 1 --batch-size ${MEMORY_BATCH}\``,
};

const int = (n: unknown) => groupDigits(Number(n));

/** '; median of 3 cold starts: 0.43, 0.46, 0.50 s' where there were several. */
function coldStarts(runs: unknown): string {
  if (!Array.isArray(runs) || runs.length < 2) return '';
  return `; median of ${runs.length} cold starts: ${runs.map((t) => (t === null ? 'not reached' : Number(t).toFixed(2))).join(', ')} s`;
}

function line(r: BenchRecord): string {
  switch (r.kind) {
    case 'machine':
      return `  ${r.cpu}, ${r.cores} cores, ${r.memoryGiB} GiB, Node ${r.node} (${r.platform})`;
    case 'throughput':
      return `  ${String(r.recipe).padEnd(26)} threads ${String(r.threads).padStart(2)}  ${int(r.samplesPerSecond).padStart(10)} samples/s  x${Number(r.speedup).toFixed(2)}  efficiency ${(Number(r.efficiency) * 100).toFixed(0).padStart(3)}%  ${Number(r.microsecondsPerStep).toFixed(1)} µs/step`;
    case 'sync':
      return `  threads ${String(r.threads).padStart(2)}  ${Number(r.microsecondsPerEmptyStep).toFixed(2).padStart(6)} µs per step   (pool task per step: ${Number(r.microsecondsPerDispatchedStep).toFixed(0)} µs)`;
    case 'original-recipe':
      return `  ${Number(r.secondsPerEpoch).toFixed(3)} s per epoch of ${int(r.samplesPerEpoch)} (${int(r.samplesPerSecond)} samples/s)`;
    case 'kernel':
      return `  ${String(r.kernel).padEnd(7)} ${String(r.pass).padEnd(17)} ${Number(r.gflops).toFixed(2).padStart(7)} GFLOP/s  ${int(r.samplesPerSecond).padStart(10)} samples/s  ±${Number(r.rme).toFixed(1)}%`;
    case 'time-to-accuracy':
      return r.seconds === null
        ? `  ${(Number(r.target) * 100).toFixed(2)}% test accuracy or more: not reached in 20 epochs`
        : `  ${(Number(r.target) * 100).toFixed(2)}% test accuracy or more after ${Number(r.seconds).toFixed(2)} s (epoch ${r.epochs}${coldStarts(r.runs)})`;
    case 'memory':
      return `  --threads ${String(r.threads).padStart(2)}  ${String(r.peakRssMB).padStart(4)} MiB  (${r.workerThreads} worker thread${r.workerThreads === 1 ? '' : 's'})`;
    default:
      return `  ${JSON.stringify(r)}`;
  }
}

/** Prints records as they arrive, with a heading whenever the kind changes. */
export function textPrinter(write: (s: string) => void): (r: BenchRecord) => void {
  let kind = '';
  return (r) => {
    if (r.kind !== kind) {
      write(`${kind ? '\n' : ''}${HEADINGS[r.kind] ?? r.kind}\n`);
      kind = r.kind;
    }
    write(line(r) + '\n');
  };
}

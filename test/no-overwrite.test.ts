// What a user already has on disk stays theirs: a new run never writes into another run's
// folder, runs started together get folders of their own, import never replaces a file, and
// odd things where a run keeps its files (a pipe, an unusable folder) get a sentence, not a hang.

import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, hasStackTrace, runCli, smallMnistFolder, tempDir } from './helpers.js';

const data = smallMnistFolder(2000, 300);

/** Run A (seed 1, `epochs` epochs, a checkpoint each) and run B (seed 7, one epoch), in a fresh folder. */
function twoRuns(epochs: number): { cwd: string; a: string; b: string } {
  const cwd = tempDir();
  const a = join(cwd, 'A');
  const b = join(cwd, 'B');
  expect(runCli(['train', '--data', data, '--out', a, '--epochs', String(epochs)]).status).toBe(0);
  expect(runCli(['train', '--data', data, '--out', b, '--epochs', '1', '--seed', '7']).status).toBe(0);
  return { cwd, a, b };
}

/** Every file in a folder with its bytes. */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((name) => [name, readFileSync(join(dir, name)).toString('base64')]));
}

/** The test loss of each epoch in a run folder's metrics.jsonl: what a run learned, without its timings. */
function testLosses(dir: string): number[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line).testLoss);
}

function refused(result: ReturnType<typeof runCli>, sentence: RegExp): void {
  expect(result.status).toBe(1);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(sentence);
  expect(hasStackTrace(result.stderr)).toBe(false);
}

describe('earlier runs', () => {
  it('train --out a folder with files of a run that never saved last.safetensors is refused too', () => {
    const run = join(tempDir(), 'run');
    mkdirSync(run);
    writeFileSync(join(run, 'metrics.jsonl'), '{"epoch":1}\n');
    refused(runCli(['train', '--data', data, '--out', run, '--epochs', '1']), /holds files of an earlier run \(metrics\.jsonl\); move them away or give another --out\./);
    expect(readdirSync(run)).toEqual(['metrics.jsonl']);
  });

  it('a run stopped between saving epoch-0001 and copying it to last.safetensors is refused as a run, and resumes from that folder', () => {
    const run = join(tempDir(), 'run');
    const straight = join(tempDir(), 'straight');
    expect(runCli(['train', '--data', data, '--out', straight, '--epochs', '2']).status).toBe(0);
    expect(runCli(['train', '--data', data, '--out', run, '--epochs', '2']).status).toBe(0);
    // What a kill, a second Ctrl-C or a full disk leaves in that instant: the numbered file and the metrics line, no last.
    for (const name of ['last.safetensors', 'epoch-0002.safetensors']) rmSync(join(run, name));
    refused(runCli(['train', '--data', data, '--out', run, '--epochs', '1']), /already holds a training run; continue it with `npx nnfs resume --checkpoint /);
    const resumed = runCli(['resume', '--checkpoint', run, '--data', data, '--epochs', '2']);
    expect(resumed.stderr).not.toMatch(/nnfs:/);
    expect(resumed.status).toBe(0);
    expect(readFileSync(join(run, 'last.safetensors')).equals(readFileSync(join(straight, 'last.safetensors')))).toBe(true);
    expect(testLosses(run)).toEqual(testLosses(straight));
  }, 30_000);

  it('a run stopped between saving epoch-0002 and copying it to last.safetensors (which still holds epoch 1) resumes from epoch 1 to the same end', () => {
    const run = join(tempDir(), 'run');
    const straight = join(tempDir(), 'straight');
    expect(runCli(['train', '--data', data, '--out', straight, '--epochs', '3']).status).toBe(0);
    expect(runCli(['train', '--data', data, '--out', run, '--epochs', '2']).status).toBe(0);
    copyFileSync(join(run, 'epoch-0001.safetensors'), join(run, 'last.safetensors'));
    const resumed = runCli(['resume', '--checkpoint', run, '--data', data, '--epochs', '3']);
    expect(resumed.stderr).not.toMatch(/nnfs:/);
    expect(resumed.status).toBe(0);
    expect(readFileSync(join(run, 'last.safetensors')).equals(readFileSync(join(straight, 'last.safetensors')))).toBe(true);
    expect(readFileSync(join(run, 'epoch-0002.safetensors')).equals(readFileSync(join(straight, 'epoch-0002.safetensors')))).toBe(true);
    expect(testLosses(run)).toEqual(testLosses(straight));
  }, 30_000);

  it('train --out a folder that holds a run is refused, and that run is left as it was', () => {
    const run = join(tempDir(), 'run');
    expect(runCli(['train', '--data', data, '--out', run, '--epochs', '1']).status).toBe(0);
    const before = new Map(readdirSync(run).map((name) => [name, readFileSync(join(run, name))]));
    refused(runCli(['train', '--data', data, '--out', run, '--epochs', '1', '--seed', '2']), /already holds a training run; continue it with `npx nnfs resume --checkpoint .*`, or give another --out\./);
    expect(readdirSync(run).sort()).toEqual([...before.keys()].sort());
    for (const [name, bytes] of before) expect(readFileSync(join(run, name)).equals(bytes)).toBe(true);
  }, 30_000);

  it('the resume command that refusal suggests works as given, for a folder named like a flag', () => {
    const cwd = tempDir();
    expect(runCli(['train', '--data', data, '--out=-run', '--epochs', '1'], { cwd }).status).toBe(0);
    const result = runCli(['train', '--data', data, '--out=-run', '--epochs', '1'], { cwd });
    const hint = /`npx nnfs (resume .*)`/.exec(result.stderr);
    expect(hint![1]).toBe(`resume --checkpoint ./-run --data ${data}`);
    const resumed = spawnSync('sh', ['-c', `"$0" "$1" ${hint![1]} --epochs 2`, process.execPath, CLI], { cwd, encoding: 'utf8' });
    expect(resumed.stderr).toBe('');
    expect(resumed.status).toBe(0);
  }, 30_000);

  it('a run that starts in a second whose folder exists gets one of its own (-2), and one that leaves nothing, none', () => {
    const cwd = tempDir();
    // Every folder name of the next 20 seconds taken (run-<UTC time to the second>, as training-run.ts names them).
    const stamp = (ms: number) => new Date(ms).toISOString().replace(/[:T]/g, '-').replace(/\..*/, '');
    const taken = Array.from({ length: 20 }, (_, i) => `run-${stamp(Date.now() + 1000 * i)}`);
    for (const name of taken) mkdirSync(join(cwd, 'checkpoints', name), { recursive: true });
    expect(runCli(['train', '--data', data, '--epochs', '1'], { cwd }).status).toBe(0);
    const made = readdirSync(join(cwd, 'checkpoints')).filter((name) => !taken.includes(name));
    expect(made).toHaveLength(1);
    expect(made[0]).toMatch(/^run-[-\d]+-2$/);
    for (const name of taken) expect(readdirSync(join(cwd, 'checkpoints', name))).toEqual([]);
    // A run that fails before saving anything takes no folder with it.
    refused(runCli(['train', '--data', data, '--epochs', '1', '--hidden', '20000,20000'], { cwd }), /more shared memory/);
    expect(readdirSync(join(cwd, 'checkpoints')).filter((name) => !taken.includes(name))).toEqual(made);
  }, 30_000);

  it('runs started together without --out each get a folder of their own', async () => {
    const cwd = tempDir();
    const runs = [1, 2, 3].map((seed) => spawn(process.execPath, [CLI, 'train', '--data', data, '--epochs', '1', '--seed', String(seed), '--threads', '1'], { cwd, stdio: 'ignore' }));
    const codes = await Promise.all(runs.map((child) => new Promise((resolve) => child.on('exit', resolve))));
    expect(codes).toEqual([0, 0, 0]);
    const folders = readdirSync(join(cwd, 'checkpoints'));
    expect(folders).toHaveLength(3);
    for (const folder of folders) expect(readdirSync(join(cwd, 'checkpoints', folder))).toContain('last.safetensors');
  }, 30_000);

  it('resume of a copied checkpoint starts a run folder of its own, leaving the folder it sits in alone', () => {
    const { cwd, a, b } = twoRuns(2);
    copyFileSync(join(b, 'epoch-0001.safetensors'), join(a, 'from-b.safetensors'));
    const before = snapshot(a);
    const resumed = runCli(['resume', '--checkpoint', join(a, 'from-b.safetensors'), '--data', data, '--epochs', '2'], { cwd });
    expect(resumed.status).toBe(0);
    expect(snapshot(a)).toEqual(before);
    const [made] = readdirSync(join(cwd, 'checkpoints'));
    expect(readdirSync(join(cwd, 'checkpoints', made))).toContain('last.safetensors');
  }, 30_000);

  it('resume of a checkpoint of another run than the one beside it, or of one with later checkpoints beside it, is refused', () => {
    const { cwd, a, b } = twoRuns(3);
    const before = snapshot(a);
    // Going on from epoch 2 in place would interleave a second history with epoch 3's.
    refused(runCli(['resume', '--checkpoint', join(a, 'epoch-0002.safetensors'), '--data', data, '--epochs', '4']), /has checkpoints after epoch-0002\.safetensors \(up to epoch-0003\.safetensors\); to go on from epoch-0002\.safetensors, copy it to a folder of its own/);
    const mixed = join(cwd, 'mixed');
    mkdirSync(mixed);
    copyFileSync(join(a, 'last.safetensors'), join(mixed, 'last.safetensors'));
    copyFileSync(join(b, 'epoch-0001.safetensors'), join(mixed, 'epoch-0001.safetensors'));
    refused(runCli(['resume', '--checkpoint', join(mixed, 'epoch-0001.safetensors'), '--data', data, '--epochs', '2']), /belongs to another run than .*last\.safetensors/);
    // The other way round: another run's last.safetensors among this run's numbered checkpoints.
    const mixedAgain = snapshot(mixed);
    refused(runCli(['resume', '--checkpoint', mixed, '--data', data, '--epochs', '4']), /last\.safetensors belongs to another run than .*epoch-0001\.safetensors beside it; copy it to a folder of its own/);
    expect(snapshot(mixed)).toEqual(mixedAgain);
    expect(snapshot(a)).toEqual(before);
  }, 30_000);

  it('a damaged numbered checkpoint beside last.safetensors does not stop the run from going on', () => {
    const run = join(tempDir(), 'run');
    expect(runCli(['train', '--data', data, '--out', run, '--epochs', '2']).status).toBe(0);
    const numbered = join(run, 'epoch-0002.safetensors');
    const bytes = readFileSync(numbered);
    bytes.fill(0, bytes.length - 64); // the end of its tensors: its checksum no longer matches
    writeFileSync(numbered, bytes);
    const resumed = runCli(['resume', '--checkpoint', run, '--data', data, '--epochs', '3']);
    expect(resumed.stderr).toBe('');
    expect(resumed.status).toBe(0);
  }, 30_000);

  it('resume of a run that already has its epochs says so in one line, before anything else', () => {
    const run = join(tempDir(), 'run');
    expect(runCli(['train', '--data', data, '--out', run, '--epochs', '1']).status).toBe(0);
    const result = runCli(['resume', '--checkpoint', run, '--data', data, '--epochs', '1']);
    refused(result, /^nnfs: the checkpoint already has 1 of 1 epochs; pass a larger --epochs to continue\.$/m);
    expect(result.stdout).toBe('');
    const two = join(tempDir(), 'two');
    expect(runCli(['train', '--data', data, '--out', two, '--epochs', '2']).status).toBe(0);
    refused(runCli(['resume', '--checkpoint', two, '--data', data, '--epochs', '1']), /^nnfs: the checkpoint already has 2 epochs, more than --epochs 1; pass a larger --epochs to continue\.$/m);
  }, 30_000);

  it('import --out an existing file is refused and leaves it alone', () => {
    const dir = tempDir();
    const out = join(dir, 'model.safetensors');
    writeFileSync(out, 'a trained model, say');
    refused(runCli(['import', '--from-dat', dir, '--out', out]), /model\.safetensors already exists; import writes only a new file, so give another --out\./);
    expect(readFileSync(out, 'utf8')).toBe('a trained model, say');
  });
});

describe('a first save that fails', () => {
  it('leaves no metrics.jsonl without a checkpoint: the folder can be trained into again', () => {
    const run = join(tempDir(), 'run');
    mkdirSync(run);
    // Files over 50 KB refused (EFBIG, with SIGXFSZ ignored): the checkpoint fails, metrics.jsonl does not.
    const limited = spawnSync('bash', ['-c', 'trap "" XFSZ; ulimit -f 50; exec "$0" "$@"', process.execPath, CLI, 'train', '--data', data, '--out', run, '--epochs', '2'], { encoding: 'utf8' });
    refused(limited as ReturnType<typeof runCli>, /^nnfs: cannot save checkpoint .*epoch-0001\.safetensors: the file would be larger than this system lets a process write\.$/m);
    expect(readdirSync(run)).toEqual([]);
    expect(runCli(['train', '--data', data, '--out', run, '--epochs', '1']).status).toBe(0);
  }, 30_000);

  it('removes the folders it made for --out', () => {
    const parent = tempDir();
    const limited = spawnSync('bash', ['-c', 'trap "" XFSZ; ulimit -f 50; exec "$0" "$@"', process.execPath, CLI, 'train', '--data', data, '--out', join(parent, 'new', 'run'), '--epochs', '1'], { encoding: 'utf8' });
    refused(limited as ReturnType<typeof runCli>, /^nnfs: cannot save checkpoint .*epoch-0001\.safetensors: .+\.$/m);
    expect(readdirSync(parent)).toEqual([]);
  }, 30_000);
});

describe('a later save that fails', () => {
  it('stops the run within the next epoch, before that epoch has a metrics line', async () => {
    const run = join(tempDir(), 'run');
    const child = spawn(process.execPath, [CLI, 'train', '--data', data, '--out', run, '--epochs', '400', '--threads', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    while (!existsSync(join(run, 'last.safetensors'))) await new Promise((wait) => setTimeout(wait, 2));
    // A folder where last.safetensors goes: every save from now on fails. (A save may put
    // the file back between the two calls: then again.)
    for (;;) {
      rmSync(join(run, 'last.safetensors'), { force: true });
      try {
        mkdirSync(join(run, 'last.safetensors'));
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
    expect(await exited).toBe(1);
    expect(stderr).toMatch(/^nnfs: cannot save checkpoint .*last\.safetensors: it is a folder\.\n$/);
    const saved = readdirSync(run).filter((name) => name.startsWith('epoch-')).length;
    const lines = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').length;
    // Epoch k's save wrote its numbered file, then failed at last.safetensors; epoch k + 1,
    // training meanwhile, stopped at its next step, without a line.
    expect(lines).toBe(saved);
  }, 60_000);
});

describe('one run per folder at a time', () => {
  const LOCK = '.nnfs-run.lock';
  const exitCode = (child: ReturnType<typeof spawn>) => new Promise<number | null>((resolve) => child.on('exit', resolve));
  const stderrOf = (child: ReturnType<typeof spawn>) => {
    let text = '';
    child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
    return () => text;
  };

  it('a folder locked by a live process is refused; a lock left by a killed run is taken over, and removed at the end', () => {
    const run = join(tempDir(), 'run');
    mkdirSync(run);
    writeFileSync(join(run, LOCK), `${process.pid}\n`); // this test's process: alive
    refused(runCli(['train', '--data', data, '--out', run, '--epochs', '1']), new RegExp(`is in use by another nnfs run \\(process ${process.pid}\\); wait for it to end, or give another --out \\(if no run is using it, delete .*${LOCK}\\)\\.`));
    expect(readdirSync(run)).toEqual([LOCK]);
    // This live pid again, but with another start time: a killed run's pid that came round again.
    writeFileSync(join(run, LOCK), `${process.pid} 1\n`);
    expect(runCli(['train', '--data', data, '--out', run, '--epochs', '1']).status).toBe(0);
    expect(readdirSync(run)).toContain('last.safetensors');
    expect(readdirSync(run)).not.toContain(LOCK);
  }, 30_000);

  it("two trains into one --out at once, a killed run's lock there: one trains, the other is refused", async () => {
    const run = join(tempDir(), 'run');
    mkdirSync(run);
    writeFileSync(join(run, LOCK), `${spawnSync('true').pid} 1\n`); // both find it dead; only one may take it over
    const runs = [1, 2].map((seed) => spawn(process.execPath, [CLI, 'train', '--data', data, '--out', run, '--epochs', '2', '--seed', String(seed), '--threads', '1'], { stdio: ['ignore', 'ignore', 'pipe'] }));
    const errors = runs.map(stderrOf);
    const codes = await Promise.all(runs.map(exitCode));
    expect([...codes].sort()).toEqual([0, 1]);
    // Refused at the lock, or, if the other run had already finished, by its files.
    expect(errors[codes.indexOf(1)]()).toMatch(/^nnfs: .*(is in use by another nnfs run|already holds a training run).*\.\n$/);
    expect(readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
    expect(readdirSync(run)).not.toContain(LOCK);
  }, 30_000);

  it('two resumes of one run at once: one goes on, the other is refused', async () => {
    const run = join(tempDir(), 'run');
    expect(runCli(['train', '--data', data, '--out', run, '--epochs', '1']).status).toBe(0);
    const runs = [0, 1].map(() => spawn(process.execPath, [CLI, 'resume', '--checkpoint', run, '--data', data, '--epochs', '3', '--threads', '1'], { stdio: ['ignore', 'ignore', 'pipe'] }));
    const errors = runs.map(stderrOf);
    const codes = await Promise.all(runs.map(exitCode));
    expect([...codes].sort()).toEqual([0, 1]);
    expect(errors[codes.indexOf(1)]()).toMatch(/^nnfs: .*(is in use by another nnfs run|has moved on since .* was read|already has 3 of 3 epochs).*\.\n$/);
    expect(readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line).epoch)).toEqual([1, 2, 3]);
  }, 30_000);
});

describe('a run folder moved or deleted while training', () => {
  it('stops the run with one sentence instead of making the folder again; the moved folder resumes', async () => {
    const cwd = tempDir();
    const run = join(cwd, 'run');
    const moved = join(cwd, 'moved');
    const child = spawn(process.execPath, [CLI, 'train', '--data', data, '--out', run, '--epochs', '400', '--threads', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    while (!existsSync(join(run, 'last.safetensors'))) await new Promise((wait) => setTimeout(wait, 5));
    renameSync(run, moved);
    expect(await exited).toBe(1);
    expect(stderr).toMatch(/^nnfs: the run folder .*run was moved or deleted during training \(its lock file \.nnfs-run\.lock is gone\), so the run stopped rather than start the folder again\.\n$/);
    expect(existsSync(run)).toBe(false);
    // The run's lock went with the folder; its process is gone, so resume takes it over.
    const resumed = runCli(['resume', '--checkpoint', moved, '--data', data, '--epochs', '400', '--threads', '1'], { timeout: 60_000 });
    expect(resumed.stderr).toBe('');
    expect(resumed.status).toBe(0);
  }, 60_000);
});

describe('odd places and sizes', () => {
  it('resume with a pipe named metrics.jsonl in the run folder says so instead of waiting on it', () => {
    const run = join(tempDir(), 'run');
    expect(runCli(['train', '--data', data, '--out', run, '--epochs', '1']).status).toBe(0);
    spawnSync('rm', [join(run, 'metrics.jsonl')]);
    expect(spawnSync('mkfifo', [join(run, 'metrics.jsonl')]).status).toBe(0);
    refused(runCli(['resume', '--checkpoint', run, '--data', data, '--epochs', '2'], { timeout: 20_000 }), /metrics\.jsonl is not a regular file; move it out of the way to resume this run\./);
  }, 30_000);

  it('a model too big for shared memory is one sentence', () => {
    refused(runCli(['train', '--data', data, '--out', join(tempDir(), 'run'), '--hidden', '20000,20000', '--epochs', '1']), /the model and data need more shared memory than nnfs can use/);
  }, 30_000);

  it('a working folder that was deleted is one sentence, for any command', () => {
    const parent = tempDir();
    mkdirSync(join(parent, 'gone'));
    const result = spawnSync('sh', ['-c', `cd gone && rmdir ../gone && exec "$0" "$1" --version`, process.execPath, CLI], { cwd: parent, encoding: 'utf8' });
    refused(result as ReturnType<typeof runCli>, /^nnfs: the current folder no longer exists; cd to one that does and try again\.$/m);
  });
});

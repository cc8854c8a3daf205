// The command line as a user meets it: help, a real short run, and every bad input named in
// the engine issue refused with one sentence, a non-zero exit and nothing written.

import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import fastStringWidth from 'fast-string-width';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../src/checkpoint/store.js';
import { loadMnist } from '../src/data/mnist.js';
import { trainingRunFailed } from '../bench/child.js';
import { textPrinter } from '../bench/format.js';
import { CLI, hasStackTrace, ROOT, runCli, smallMnistFolder, tempDir } from './helpers.js';

describe('help', () => {
  it('nnfs --help lists the commands and train --help every flag', () => {
    const top = runCli(['--help']);
    expect(top.status).toBe(0);
    expect(top.stdout).toMatch(/train/);
    expect(top.stdout).toMatch(/resume/);
    const train = runCli(['train', '--help']);
    for (const flag of ['--threads', '--epochs', '--batch-size', '--lr', '--optimizer', '--hidden', '--seed', '--init', '--data', '--out', '--json', '--save-every-steps', '--keep']) {
      expect(train.stdout).toContain(flag);
    }
  });

  it.skipIf(!existsSync('/dev/full'))('help and the version that cannot be written (stdout on a full disk) end in one sentence and status 1', () => {
    for (const args of [['--help'], ['train', '--help'], ['--version']]) {
      const full = spawnSync('sh', ['-c', '"$0" "$@" > /dev/full', process.execPath, CLI, ...args], { encoding: 'utf8' });
      expect(full.status, args.join(' ')).toBe(1);
      expect(full.stderr).toBe('nnfs: cannot write to standard output (ENOSPC: no space left on device, write).\n');
    }
  });

  it('the bundle lays out help with the widths yargs\' own string-width gives (src/build.mjs swaps it)', async () => {
    const fromYargs = createRequire(join(ROOT, 'node_modules', 'yargs', 'package.json'));
    const { default: stringWidth } = (await import(fromYargs.resolve('string-width'))) as { default: (text: string) => number };
    for (const command of [[], ['train'], ['resume'], ['predict'], ['evaluate'], ['lines'], ['import'], ['serve'], ['bench']]) {
      const help = runCli([...command, '--help']);
      expect(help.status).toBe(0);
      for (const text of help.stdout.split(/\n| {2,}/)) expect(fastStringWidth(text), text).toBe(stringWidth(text));
    }
  });
});

describe('a short real run', () => {
  it('train --json prints one object per epoch and writes checkpoints and metrics.jsonl', async () => {
    const data = smallMnistFolder(3000, 500);
    const out = join(tempDir(), 'run');
    const result = runCli(['train', '--data', data, '--out', out, '--epochs', '2', '--threads', '2', '--json']);
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    for (const [i, line] of lines.entries()) {
      expect(line.epoch).toBe(i + 1);
      for (const key of ['trainLoss', 'testLoss', 'testAccuracy', 'seconds', 'samplesPerSecond']) expect(typeof line[key]).toBe('number');
      expect(line.testAccuracy).toBeGreaterThan(0.5);
      expect(line.testAccuracy).toBeLessThanOrEqual(1);
    }
    expect(existsSync(join(out, 'epoch-0001.safetensors'))).toBe(true);
    expect(readFileSync(join(out, 'last.safetensors')).equals(readFileSync(join(out, 'epoch-0002.safetensors')))).toBe(true);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
    // A worker hashes the data while training starts: the checkpoint must name the data exactly.
    expect((await loadCheckpoint(join(out, 'last.safetensors'))).dataFingerprint).toBe(loadMnist(data).fingerprint);
  }, 60_000);

  it('train --threads (cores + 1) runs one thread per core and says so', () => {
    const cores = availableParallelism();
    // A batch of more microbatches than threads, so that the cores are what limits them.
    const batch = 16 * (cores + 1);
    const data = smallMnistFolder(Math.max(500, batch), 100);
    const result = runCli(['train', '--data', data, '--out', join(tempDir(), 'run'), '--epochs', '1', '--threads', String(cores + 1), '--batch-size', String(batch)]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`with ${cores} thread${cores === 1 ? '' : 's'} (one per core; --threads ${cores + 1} asked for more)`);
  }, 60_000);

  it.skipIf(availableParallelism() < 2)('train says how many of its threads train when a batch has fewer microbatches', () => {
    const data = smallMnistFolder(500, 100);
    const result = runCli(['train', '--data', data, '--out', join(tempDir(), 'run'), '--epochs', '1', '--threads', '2', '--batch-size', '16']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('with 2 threads (1 of them trains, as a batch of 16 is 1 microbatch of 16; the other shares the evaluation) ->');
  }, 60_000);

  it('nnfs --version names nnfs\'s version from any working folder', () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const result = runCli(['--version'], { cwd: tempDir() });
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(version);
  });

  it('runs as dist/src/cli.js too, where npx linked the bin in a checkout made before the bundle existed', () => {
    // Run as the link runs it, as a program of its own: without its shebang sh read the JavaScript.
    const result = spawnSync(join(ROOT, 'dist', 'src', 'cli.js'), ['--version'], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});

describe('on a terminal', () => {
  // `script` (util-linux) runs the command on a pseudo-terminal, as a user's shell does: the
  // progress bar is drawn only there, so only there can it break a run.
  const hasScript = spawnSync('script', ['--version']).status === 0;
  it.skipIf(!hasScript)('train draws a progress bar of samples, finishes, and gives the cursor back', () => {
    const data = smallMnistFolder(2000, 500);
    const out = join(tempDir(), 'run');
    const command = [process.execPath, CLI, 'train', '--data', data, '--out', out, '--epochs', '2'].map((a) => `'${a}'`).join(' ');
    const result = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', timeout: 60_000 });
    expect(result.stdout).not.toMatch(/internal error/);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/epoch 2\/2 \S+ 100% \| 2000\/2000 samples \|/);
    expect(result.stdout).toMatch(/done: test accuracy/);
    // The bar hides the cursor while it runs (ESC [?25l); the last word must be to show it.
    expect(result.stdout.lastIndexOf('\u001b[?25h')).toBeGreaterThan(result.stdout.lastIndexOf('\u001b[?25l'));
  }, 60_000);

  it.skipIf(!hasScript)('Ctrl-C takes the bar down before it speaks, so the resume command reads whole', () => {
    const data = smallMnistFolder(6000, 500);
    const out = join(tempDir(), 'run');
    const train = [process.execPath, CLI, 'train', '--data', data, '--out', out, '--epochs', '1000'].map((a) => `'${a}'`).join(' ');
    // The run in the background of the terminal's shell, interrupted once it is well under way.
    const result = spawnSync('script', ['-qec', `${train} & pid=$!; sleep 1.5; kill -INT $pid; wait $pid`, '/dev/null'], { encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(130);
    const said = result.stdout.indexOf('finishing the current step');
    expect(said).toBeGreaterThan(0);
    // The last bar before the message was stopped (cursor shown again) and none was drawn after it.
    expect(result.stdout.lastIndexOf('\u001b[?25h', said)).toBeGreaterThan(result.stdout.lastIndexOf('\u001b[?25l', said));
    expect(result.stdout.indexOf('\u001b[?25l', said)).toBe(-1);
    expect(result.stdout).toMatch(/npx nnfs resume --checkpoint \S+ --epochs 1000 --data \S+\r?\n/);
  }, 60_000);
});

describe('bad input', () => {
  const data = smallMnistFolder(500, 100);

  function refused(args: string[], pattern: RegExp) {
    const out = join(tempDir(), 'never');
    const result = runCli([...args, '--out', out]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(pattern);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(hasStackTrace(result.stderr)).toBe(false);
    expect(existsSync(out)).toBe(false);
  }

  const flagCases: [string[], RegExp][] = [
    [['--threads', '0'], /--threads must be a whole number from 1/],
    [['--threads', '-2'], /--threads must be a whole number from 1/],
    [['--threads', 'many'], /--threads must be a whole number from 1 .* got many/],
    [['--batch-size', '0'], /--batch-size must be a whole number/],
    [['--lr', '-1'], /--lr must be a positive number/],
    [['--lr', 'NaN'], /--lr must be a positive number/],
    [['--epochs', '0'], /--epochs must be a whole number/],
    [['--hidden', '0'], /--hidden must be a whole number/],
    [['--hidden', '16,,8'], /--hidden must be a comma-separated list/],
    [['--optimizer', 'rmsprop'], /--optimizer must be one of sgd, momentum, adam/],
    [['--threads', '2', '--threads', '3'], /--threads was given more than once/],
    // Named as typed: yargs drops the dashes.
    [['--frobnicate'], /^nnfs: Unknown argument: --frobnicate\.$/m],
    [['stray'], /^nnfs: Unknown argument: stray\.$/m],
    // Number() reads these as 16 and 1; nobody types a learning rate in hex.
    [['--lr', '0x10'], /--lr must be a positive number, got 0x10\./],
    [['--lr-decay', '0b1'], /--lr-decay must be a number in \(0, 1\], got 0b1\./],
    // Dotted names made objects ("got [object Object]", or --json.x turning --json on).
    [['--hidden.x', '5'], /Unknown argument: --hidden\.x/],
    [['--json.x', '1'], /Unknown argument: --json\.x/],
    [['--momentum', '0.5'], /--momentum is for --optimizer momentum; adam takes none\./],
    // yargs reads any value but true as false: the run would print text without a word.
    [['--json=yes'], /^nnfs: --json takes no value \(got "yes"\); write --json alone\.$/m],
    [['--version=x'], /^nnfs: --version takes no value \(got "x"\); write --version alone\.$/m],
    [['--no-json=1'], /^nnfs: --no-json takes no value \(got "1"\); write --no-json alone\.$/m],
    // Only bench has --quick: with a value it is as unknown as without.
    [['--quick=1'], /^nnfs: Unknown argument: --quick\.$/m],
    // A value that starts with a dash is a flag, never a bundle of one-letter flags: read as
    // -d -a -s -h, `--out -dash` printed the help and trained nothing, with status 0.
    [['--out', '-dash'], /^nnfs: --out needs a value\.$/m],
    [['-dash'], /^nnfs: Unknown argument: -dash\.$/m],
    // Not a stray number 0.5.
    [['-0.5'], /^nnfs: Unknown argument: -0\.5\.$/m],
    // yargs added the camel-cased name: "Unknown arguments: frob-nicate, frobNicate."
    [['--frob-nicate'], /^nnfs: Unknown argument: --frob-nicate\.$/m],
    [['--frob-nicate', '--x-y'], /^nnfs: Unknown arguments: --frob-nicate, --x-y\.$/m],
    // So a one-dash word is its two-dash flag, and gets the same checks.
    [['-json=yes'], /^nnfs: --json takes no value \(got "yes"\); write --json alone\.$/m],
    [['-json', '--no-json'], /^nnfs: --json was given more than once\.$/m],
    // yargs keeps the last of a repeated on/off flag; a repeated value flag is refused, so this is too.
    [['--json', '--no-json'], /^nnfs: --json was given more than once\.$/m],
    [['--json=true', '--json=false'], /^nnfs: --json was given more than once\.$/m],
    // Each recipe flag's range and choices, at their edges.
    [['--lr-decay', '2'], /^nnfs: --lr-decay must be a number in \(0, 1\], got 2\.$/m],
    [['--lr-decay', '0'], /^nnfs: --lr-decay must be a number in \(0, 1\], got 0\.$/m],
    [['--optimizer', 'momentum', '--momentum', '1'], /^nnfs: --momentum must be a number from 0 up to \(not including\) 1, got 1\.$/m],
    [['--seed', '4294967296'], /^nnfs: --seed must be a whole number from 0 to 4294967295, got 4294967296\.$/m],
    [['--seed', '-1'], /^nnfs: --seed must be a whole number from 0 to 4294967295, got -1\.$/m],
    [['--microbatch', '0'], /^nnfs: --microbatch must be a whole number from 1 to 1000000, got 0\.$/m],
    [['--kernel', 'gpu'], /^nnfs: --kernel must be one of wasm, sparse, dense, got gpu\.$/m],
    [['--init', 'xavier'], /^nnfs: --init must be one of he, randn, got xavier\.$/m],
  ];
  for (const [args, pattern] of flagCases) {
    it(`train ${args.join(' ')}`, () => refused(['train', '--data', data, ...args], pattern));
  }

  it('a command that does not exist is named, with the ones that do (yargs said "Unknown argument", or only "Did you mean train?")', () => {
    const commands = 'train, resume, predict, evaluate, lines, import, serve and bench';
    refused(['trian', '--epochs', '1'], new RegExp(`^nnfs: unknown command trian; the commands are ${commands} \\(see npx nnfs --help\\)\\.$`, 'm'));
    refused(['frobnicate'], /^nnfs: unknown command frobnicate; the commands are /m);
    refused(['frobnicate', '--help=false'], /^nnfs: unknown command frobnicate; the commands are /m);
    refused(['help', 'trian'], /^nnfs: unknown command trian; the commands are /m);
    // yargs' `help` word, and --help or --version with any first word, still just print.
    for (const args of [['help'], ['frobnicate', '--help'], ['frobnicate', '--version']]) {
      const result = runCli(args);
      expect(result.status).toBe(0);
      expect(result.stderr).toBe('');
    }
    // `help train` is train's help (yargs took train for a stray word: "Unknown argument: help").
    const help = runCli(['help', 'train']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^nnfs train\n/);
    expect(help.stdout).toMatch(/--threads/);
  });

  it('words after --, which yargs would keep aside unused', () => {
    const out = join(tempDir(), 'never');
    const result = runCli(['train', '--data', data, '--out', out, '--epochs', '1', '--', '--lr', '5']);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^nnfs: nnfs reads nothing after --, got --lr 5; write flags before it\.$/m);
    expect(existsSync(out)).toBe(false);
  });

  it('--help or --version said twice still just prints; --help --no-help is a contradiction', () => {
    for (const args of [['--help', '--help'], ['--version', '--version'], ['lines', '--help', '--help']]) {
      const result = runCli(args);
      expect(result.status).toBe(0);
      expect(result.stderr).toBe('');
    }
    for (const args of [['train', '--help', '--no-help'], ['train', '-h', '--no-help'], ['train', '-help', '--no-help'], ['train', '-help=true', '--no-help'], ['train', '--help', '-help=false'], ['--no-help', '--help'], ['--version=true', '--no-version']]) {
      const out = join(tempDir(), 'never');
      const name = args.some((a) => a.includes('version')) ? 'version' : 'help';
      const mixed = runCli([...args, '--data', data, '--epochs', '1', '--out', out]);
      expect(mixed.status).toBe(1);
      expect(mixed.stdout).toBe('');
      expect(mixed.stderr).toBe(`nnfs: --${name} and --no-${name} contradict each other; give one of them.\n`);
      expect(existsSync(out)).toBe(false);
    }
    for (const args of [['--help', '--help=true'], ['-h', '--help'], ['train', '-h', '-h']]) expect(runCli(args).status).toBe(0);
  });

  it('on/off flags still take true and false, and a closing -- is still nothing', () => {
    const small = ['lines', '--train', '20', '--test', '20'];
    expect(JSON.parse(runCli([...small, '--json=true']).stdout)).toHaveProperty('after');
    expect(runCli([...small, '--json=false']).stdout).toMatch(/^after training: /m);
    expect(JSON.parse(runCli([...small, '--json', '--']).stdout)).toHaveProperty('after');
  });

  it('a missing --data folder', () => refused(['train', '--data', join(data, 'nope')], /data folder .* does not exist/));
  it('a batch larger than the training set', () => refused(['train', '--data', data, '--batch-size', '501'], /--batch-size 501 is more than the 500 training images; --batch-size 500 trains on all of them at each step\./));

  it('a truncated IDX file', () => {
    const dir = tempDir();
    for (const name of ['train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) copyFileSync(join(data, name), join(dir, name));
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), readFileSync(join(data, 'train-images-idx3-ubyte')).subarray(0, 5000));
    refused(['train', '--data', dir], /truncated/);
  });

  it('a foreign file in place of an IDX file', () => {
    const dir = tempDir();
    for (const name of ['train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) copyFileSync(join(data, name), join(dir, name));
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), '<html>not data</html>');
    refused(['train', '--data', dir], /not an IDX file/);
  });

  it('images and labels of different counts', () => {
    const dir = tempDir();
    for (const name of ['train-images-idx3-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) copyFileSync(join(data, name), join(dir, name));
    const labels = Buffer.from(readFileSync(join(data, 'train-labels-idx1-ubyte')));
    const fewer = labels.subarray(0, labels.length - 1);
    fewer.writeUInt32BE(499, 4);
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), fewer);
    refused(['train', '--data', dir], /disagree: 500 images but 499 labels/);
  });
});

describe('bench on small data', () => {
  const tiny = smallMnistFolder(300, 10); // fewer test images than a microbatch

  it('refuses a training set smaller than its largest batch in one sentence', () => {
    const result = runCli(['bench', '--quick', '--threads', '1', '--data', smallMnistFolder(100, 10)]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^nnfs: bench needs at least 256 training images \(its largest batch\); .* holds 100\.\n$/);
    expect(result.stdout).toBe(''); // not even the machine's line: nothing was measured
  });

  it('refuses a temporary folder it cannot use for its training runs before measuring anything', () => {
    const result = runCli(['bench', '--quick', '--threads', '1', '--data', tiny], { env: { TMPDIR: join(tempDir(), 'absent') } });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^nnfs: bench cannot write its training runs in .*absent \(TMPDIR\): .+\.\n$/);
    expect(result.stdout).toBe('');
  });

  it('names the epoch it timed and measures kernels on a test set smaller than a microbatch, from a folder named like a flag', () => {
    // Its timed `nnfs train` runs get the folder too: as `--data -tiny` they refused it as a missing value.
    const parent = tempDir();
    cpSync(tiny, join(parent, '-tiny'), { recursive: true });
    const result = runCli(['bench', '--quick', '--threads', '1', '--json', '--data=-tiny'], { timeout: 90_000, cwd: parent });
    expect(result.status).toBe(0);
    const records = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.find((r) => r.kind === 'original-recipe')?.samplesPerEpoch).toBe(300);
    for (const kernel of records.filter((r) => r.kind === 'kernel')) expect(kernel.samplesPerSecond).toBeGreaterThan(0);
    expect(records.filter((r) => r.kind === 'memory').map((r) => r.threads)).toEqual([1]);
  }, 90_000);

  it('stopped while it times the kernels, exits at once, not when the last kernel is done', async () => {
    const bench = spawn(process.execPath, [CLI, 'bench', '--quick', '--threads', '1', '--json', '--data', tiny], { stdio: ['ignore', 'pipe', 'ignore'] });
    const exited = new Promise<number | null>((resolve) => bench.on('exit', resolve));
    let out = '';
    // The kernels are timed right after the original recipe's record.
    await new Promise<void>((resolve) => bench.stdout.on('data', (chunk: Buffer) => ((out += chunk.toString()).includes('"original-recipe"') ? resolve() : undefined)));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const signalled = performance.now();
    bench.kill('SIGINT');
    expect(await exited).toBe(130);
    // The kernel phase lasts about 3 s; before, the signal waited for its end.
    expect(performance.now() - signalled).toBeLessThan(1_500);
  }, 60_000);

  it('gives the median of its cold starts, with each of them', () => {
    let text = '';
    const print = textPrinter((s) => (text += s));
    print({ kind: 'time-to-accuracy', target: 0.9244, seconds: 0.46, epochs: 1, runs: [0.43, 0.46, 0.504] });
    print({ kind: 'time-to-accuracy', target: 0.95, seconds: 0.81, epochs: 5, runs: [0.81] });
    expect(text.split('\n').slice(1, 3)).toEqual([
      '  92.44% test accuracy or more after 0.46 s (epoch 1; median of 3 cold starts: 0.43, 0.46, 0.50 s)',
      '  95.00% test accuracy or more after 0.81 s (epoch 5)',
    ]);
  });

  it('a timed `nnfs train` run that fails is one sentence, in its own words', () => {
    const stderr = 'training 784-16-10 (adam, lr 0.005, batch 32) on 256 images with 2 threads -> /tmp/x/run\nnnfs: cannot save checkpoint /tmp/x/run/epoch-0001.safetensors: the disk is full.\n';
    expect(trainingRunFailed(1, stderr).message).toBe("bench's timed `nnfs train` run failed: cannot save checkpoint /tmp/x/run/epoch-0001.safetensors: the disk is full.");
    expect(trainingRunFailed(3, '').message).toBe("bench's timed `nnfs train` run failed: it exited with status 3.");
  });

  it('stopped by SIGTERM or SIGHUP while it times the engine, exits 130 as the other commands do', async () => {
    for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
      const bench = spawn(process.execPath, [CLI, 'bench', '--quick', '--threads', '1', '--json'], { stdio: ['ignore', 'pipe', 'ignore'] });
      const exited = new Promise<number | null>((resolve) => bench.on('exit', resolve));
      // The machine's record comes just before the first throughput measurement starts.
      await new Promise<void>((resolve) => bench.stdout.once('data', () => resolve()));
      bench.kill(signal);
      expect(await exited).toBe(130);
    }
  }, 60_000);

  for (const signal of ['SIGINT', 'SIGHUP'] as const) {
    it(`stopped by ${signal} while it times a run of \`nnfs train\`, leaves that run nothing on disk`, async () => {
      const tmp = tempDir();
      const bench = spawn(process.execPath, [CLI, 'bench', '--quick', '--threads', '1', '--data', tiny], { env: { ...process.env, TMPDIR: tmp }, stdio: 'ignore' });
      const exited = new Promise<number | null>((resolve) => bench.on('exit', resolve));
      // The timed run's folder, once it has trained an epoch.
      const started = Date.now();
      while (!readdirSync(tmp).some((name) => existsSync(join(tmp, name, 'run', 'metrics.jsonl'))) && Date.now() - started < 60_000) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      bench.kill(signal);
      expect(await exited).toBe(130);
      expect(readdirSync(tmp)).toEqual([]);
    }, 90_000);
  }
});

// CLI fuzzing: every command with random and boundary flag values (0, -1, NaN, Infinity,
// 1e309, huge integers, '', text, repeated flags, unknown flags, flags without values).
// Each run must either exit 0 with the output its command promises, or exit non-zero with
// exactly one `nnfs: ` sentence on stderr (after at most the informational lines a run
// prints before it starts, which go to stderr under --json) and no stack trace.
//
// Runs stay short: train, resume, predict and evaluate always get a small data folder
// (unless the case itself names --data), --out is always a fresh folder, train runs
// 1 epoch unless the case says otherwise, and the values a case may draw are either
// refused or cheap. serve only ever gets an invalid --port, so it never starts listening, and
// bench an invalid --threads, so it never starts its minute of measurements.
//
// Default (CI): seed 42, 40 random cases plus the fixed boundary cases, in parallel.
// Longer run (a failure prints the command line that reproduces it):
//   NNFS_FUZZ_RUNS=2000 NNFS_FUZZ_SEED=7 npx vitest run test/fuzz-cli.test.ts
// (NNFS_FUZZ_RUNS is the reader fuzzer's run count; this file takes a fifth of it, at least 40;
// NNFS_FUZZ_VERBOSE=1 prints every command line and how it ended.)
// Needs the built CLI (npm run build).

import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { hasStackTrace, runCli, smallMnistFolder, startCli, tempDir } from './helpers.js';

const SEED = Number(process.env.NNFS_FUZZ_SEED ?? 42);
const CASES = Math.max(40, Math.round(Number(process.env.NNFS_FUZZ_RUNS ?? 200) / 5));
/** Runs at once: each is mostly process start-up, and train uses two threads. */
const PARALLEL = Math.max(2, Math.min(6, availableParallelism()));
/** A single run this long is a hang. */
const RUN_LIMIT_MS = 60_000;

interface Fixtures {
  root: string;
  data: string;
  checkpoint: string;
  png: string;
  dat: string;
  damagedCheckpoint: string;
  damagedData: string;
  emptyDir: string;
  textFile: string;
}
let fx: Fixtures;

beforeAll(() => {
  const root = tempDir('nnfs-fuzz-cli-');
  const data = smallMnistFolder(600, 200);
  const run = join(root, 'run');
  const trained = runCli(['train', '--data', data, '--out', run, '--epochs', '1', '--threads', '1', '--hidden', '8']);
  expect(trained.status, trained.stderr).toBe(0);

  // A thick vertical bar on white: a plausible '1'.
  const png = new PNG({ width: 40, height: 60 });
  for (let p = 0; p < 40 * 60; p++) png.data.set((p % 40) >= 16 && (p % 40) < 24 ? [0, 0, 0, 255] : [255, 255, 255, 255], p * 4);
  writeFileSync(join(root, 'digit.png'), PNG.sync.write(png));

  const dat = join(root, 'dat');
  mkdirSync(dat);
  for (const [name, values] of [['W1.dat', 16 * 784], ['b1.dat', 16], ['W2.dat', 10 * 16], ['b2.dat', 10]] as const) {
    const bytes = Buffer.alloc(values * 8);
    for (let k = 0; k < values; k++) bytes.writeDoubleLE(Math.sin(k) / 10, k * 8);
    writeFileSync(join(dat, name), bytes);
  }

  writeFileSync(join(root, 'damaged.safetensors'), Buffer.from('\x10\x00\x00\x00\x00\x00\x00\x00{"a":1}        ', 'latin1'));
  const damagedData = join(root, 'damaged-data');
  mkdirSync(damagedData);
  for (const name of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) {
    writeFileSync(join(damagedData, name), Buffer.from([0, 0, 8, 3, 0x80, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28]));
  }
  mkdirSync(join(root, 'empty'));
  writeFileSync(join(root, 'text.txt'), 'not a checkpoint\n');
  fx = {
    root,
    data,
    checkpoint: join(run, 'last.safetensors'),
    png: join(root, 'digit.png'),
    dat,
    damagedCheckpoint: join(root, 'damaged.safetensors'),
    damagedData,
    emptyDir: join(root, 'empty'),
    textFile: join(root, 'text.txt'),
  };
}, 120_000);

// ---------------------------------------------------------------------------------------
// What a case may draw. Paths are symbolic ('@data', '@fresh', ...) so cases can be drawn
// before the fixtures exist; they are resolved per run.

/** Values that are wrong for (nearly) every flag, or at its boundary. */
const HOSTILE = ['0', '-1', '-0', 'NaN', 'Infinity', '-Infinity', '1e309', '-1e309', '9007199254740993', '99999999999999999999999',
  '4294967296', '2147483648', '', ' ', 'abc', '1.5', '0x10', '1e3', '1,2', ',', '--', '-', '=', 'é', 'true', 'null', '1 2'];

/** serve must never start listening: every serve case leads with one of these. */
const BAD_PORTS = ['-1', '65536', 'NaN', 'abc', '', '1e3', '1.5', '99999999999999999999', '0x50'];
/** bench must never start measuring (a minute or more): every bench case leads with one of these. */
const BAD_BENCH_THREADS = ['0', '-1', '257', '', 'abc', '1,,2', '1,1', 'NaN', '1e3', '2,0'];
/** Commands that only ever get a bad value for one flag, given first. */
const NEVER_START: Record<string, [string, readonly string[]]> = { serve: ['port', BAD_PORTS], bench: ['threads', BAD_BENCH_THREADS] };

/** Per command: each flag and the valid (and cheap) values it may draw. */
const FLAGS: Record<string, Record<string, readonly string[]>> = {
  train: {
    threads: ['1', '2', '+1'],
    epochs: ['1', '2'],
    'batch-size': ['1', '16', '64', '1000000'],
    lr: ['0.003', '1e-300', '1e300', '1.5', '1'],
    'lr-decay': ['1', '0.5', '1e-300', '2'],
    optimizer: ['sgd', 'momentum', 'adam', 'SGD'],
    hidden: ['8', '4,3', '1', ' 5 , 6 '],
    init: ['he', 'randn', 'xavier'],
    momentum: ['0.5', '0.9', '0.999999', '1'],
    seed: ['0', '7', '4294967295'],
    microbatch: ['1', '16', '1000000'],
    kernel: ['wasm', 'sparse', 'dense', 'gpu'],
    data: ['@data', '@damagedData', '@emptyDir', '@textFile', '@missing'],
    out: ['@fresh', '@textFile', '/proc/nnfs-cannot-write-here'],
    'save-every-steps': ['0', '3', '1000000000'],
    keep: ['0', '1', '1000000'],
    json: [],
  },
  resume: {
    checkpoint: ['@checkpointCopy', '@runCopy', '@damagedCheckpoint', '@textFile', '@emptyDir', '@missing', '@png'],
    epochs: ['1', '2', '3'],
    threads: ['1', '2'],
    data: ['@data', '@damagedData', '@missing'],
    'save-every-steps': ['0', '3'],
    keep: ['0', '1'],
    json: [],
    // Fixed by the checkpoint: each must be refused (REFUSED).
    lr: ['0.1'],
    'lr-decay': ['0.5'],
    hidden: ['8'],
    optimizer: ['sgd'],
    seed: ['1'],
  },
  predict: {
    checkpoint: ['@checkpoint', '@damagedCheckpoint', '@textFile', '@emptyDir', '@missing', '@png'],
    index: ['0', '199', '200', '9999', '+3'],
    image: ['@png', '@checkpoint', '@textFile', '@emptyDir', '@missing'],
    data: ['@data', '@damagedData', '@missing'],
    json: [],
  },
  evaluate: {
    checkpoint: ['@checkpoint', '@damagedCheckpoint', '@textFile', '@emptyDir', '@missing'],
    data: ['@data', '@damagedData', '@emptyDir', '@missing'],
    json: [],
  },
  lines: {
    train: ['1', '50', '300'],
    test: ['1', '50', '300'],
    seed: ['0', '1', '4294967295'],
    threads: ['1', '2'],
    json: [],
  },
  import: {
    'from-dat': ['@dat', '@emptyDir', '@textFile', '@missing'],
    out: ['@freshFile', '@emptyDir', '/proc/nnfs-cannot-write-here/x.safetensors'],
  },
  bench: {
    // Any --threads in a case repeats the leading bad one, so bench still never starts.
    threads: BAD_BENCH_THREADS,
    data: ['@data', '@damagedData', '@missing'],
    quick: [],
    json: [],
  },
  serve: {
    // Any --port in a case repeats the leading bad one, so serve still never starts.
    port: BAD_PORTS,
    checkpoint: ['@checkpoint', '@missing'],
    host: ['127.0.0.1', 'localhost'],
    data: ['@data', '@missing'],
  },
};

/**
 * Adds the flags a command's --help lists but FLAGS does not (a flag added since this file
 * was written) with a generic value, so they are fuzzed too; returns their names.
 */
function discoverFlags(): string[] {
  const added: string[] = [];
  for (const command of Object.keys(FLAGS)) {
    const help = runCli([command, '--help']).stdout;
    for (const m of help.matchAll(/^\s+(?:-\w, )?--([\w-]+)\s.*?(\[boolean\])?\s*$/gm)) {
      const [, flag, boolean] = m;
      if (flag === 'help' || flag === 'version' || flag in FLAGS[command]) continue;
      FLAGS[command][flag] = boolean ? [] : ['1'];
      added.push(`${command} --${flag}`);
    }
  }
  return added;
}

/** Values FLAGS draws that must be refused (out of range, a wrong name, fixed by the checkpoint): a run that takes one is a violation. */
const REFUSED: Record<string, Record<string, readonly string[]>> = {
  train: { 'lr-decay': ['2'], optimizer: ['SGD'], init: ['xavier'], momentum: ['1'], kernel: ['gpu'] },
  resume: { lr: ['0.1'], 'lr-decay': ['0.5'], hidden: ['8'], optimizer: ['sgd'], seed: ['1'] },
};

/** The first (flag, value) of args that REFUSED lists for the command, as the args spell it. */
function refusedValueIn(command: string, args: readonly string[]): string | undefined {
  const refused = REFUSED[command] ?? {};
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].startsWith('--') ? args[i].slice(2).split(/=(.*)/s) : [];
    if (flag === undefined || !(flag in refused)) continue;
    const value = inline ?? args[i + 1];
    if (refused[flag].includes(value)) return inline === undefined ? `--${flag} ${value}` : args[i];
  }
  return undefined;
}

/** Flags each command gets unless the case names them, so every run is bounded and offline. */
const BASE: Record<string, [string, string][]> = {
  train: [['data', '@data'], ['out', '@fresh'], ['epochs', '1'], ['threads', '2']],
  resume: [['checkpoint', '@checkpointCopy'], ['data', '@data'], ['epochs', '2'], ['threads', '2']],
  predict: [['checkpoint', '@checkpoint'], ['data', '@data']],
  evaluate: [['checkpoint', '@checkpoint'], ['data', '@data']],
  lines: [['train', '200'], ['test', '200'], ['threads', '1']],
  import: [['from-dat', '@dat'], ['out', '@freshFile']],
  bench: [],
  serve: [],
};


type Token = string;
interface Case {
  command: string;
  tokens: Token[];
}

function tokenArb(command: string): fc.Arbitrary<Token[]> {
  const flags = Object.keys(FLAGS[command]);
  const value = (flag: string) => {
    const valid = FLAGS[command][flag];
    return valid.length === 0
      ? fc.constantFrom('true', 'false', 'maybe', '')
      : fc.oneof({ weight: 1, arbitrary: fc.constantFrom(...valid) }, { weight: 1, arbitrary: fc.constantFrom(...HOSTILE) });
  };
  const flagArb = fc.constantFrom(...flags);
  return fc.oneof(
    // --flag value, --flag=value, or a boolean flag alone
    { weight: 6, arbitrary: flagArb.chain((f) => fc.tuple(fc.constant(f), value(f), fc.boolean())).map(([f, v, equals]) =>
      FLAGS[command][f].length === 0 && !equals ? [`--${f}`] : equals ? [`--${f}=${v}`] : [`--${f}`, v]) },
    // a flag without its value
    { weight: 1, arbitrary: flagArb.map((f) => [`--${f}`]) },
    // the same flag twice
    { weight: 1, arbitrary: flagArb.chain((f) => fc.tuple(fc.constant(f), value(f), value(f))).map(([f, a, b]) => [`--${f}`, a, `--${f}`, b]) },
    // unknown flags, short flags, stray words
    { weight: 1, arbitrary: fc.constantFrom<string[]>(['--bogus', '1'], ['--Epochs', '1'], ['-z'], ['--no-such-flag'], ['extra'], ['-'], ['--lr'], ['--threads', '0'], ['--hidden=']) },
  );
}

const caseArb = (): fc.Arbitrary<Case> => fc.constantFrom(...Object.keys(FLAGS)).chain((command) =>
  fc.array(tokenArb(command), { minLength: 1, maxLength: 3 }).chain((parts) => {
    const tokens = parts.flat();
    if (!(command in NEVER_START)) return fc.constant({ command, tokens });
    const [flag, bad] = NEVER_START[command];
    return fc.constantFrom(...bad).map((value) => ({ command, tokens: [`--${flag}`, value, ...tokens] }));
  }),
);

// ---------------------------------------------------------------------------------------
// Running a case

interface Result {
  args: string[];
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

let freshCount = 0;
function resolve(value: string): string {
  const fresh = () => mkdtempSync(join(fx.root, `case${freshCount++}-`));
  switch (value) {
    case '@data': return fx.data;
    case '@damagedData': return fx.damagedData;
    case '@emptyDir': return fx.emptyDir;
    case '@textFile': return fx.textFile;
    case '@missing': return join(fx.root, 'no-such-thing');
    case '@fresh': return join(fresh(), 'out');
    case '@freshFile': return join(fresh(), 'imported.safetensors');
    case '@checkpoint': return fx.checkpoint;
    case '@damagedCheckpoint': return fx.damagedCheckpoint;
    case '@png': return fx.png;
    case '@dat': return fx.dat;
    // resume writes into the checkpoint's folder, so each run gets a copy of its own.
    case '@checkpointCopy':
    case '@runCopy': {
      const dir = fresh();
      copyFileSync(fx.checkpoint, join(dir, 'last.safetensors'));
      return value === '@runCopy' ? dir : join(dir, 'last.safetensors');
    }
    default: return value;
  }
}

/**
 * The concrete command line of a case: the base flags it does not name, then its tokens with
 * paths resolved. Base flags go first so a stray `--` or a flag without a value in the case
 * cannot swallow them.
 */
function argsOf(c: Case): string[] {
  const tokens = c.tokens.map((t) => {
    const eq = /^(--[^=]+)=(@\w+)$/.exec(t);
    return eq ? `${eq[1]}=${resolve(eq[2])}` : resolve(t);
  });
  const named = new Set(c.tokens.filter((t) => t.startsWith('--')).map((t) => t.slice(2).split('=')[0]));
  const base = BASE[c.command].filter(([flag]) => !named.has(flag)).flatMap(([flag, value]) => [`--${flag}`, resolve(value)]);
  return [c.command, ...base, ...tokens];
}

function runAsync(args: string[]): Promise<Result> {
  return new Promise((done) => {
    const started = performance.now();
    const child = startCli(args, fx.root);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_LIMIT_MS);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      done({ args, status, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}

async function runAll(cases: string[][]): Promise<Result[]> {
  const results: Result[] = new Array(cases.length);
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      results[i] = await runAsync(cases[i]);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  return results;
}

/** Lines a run may print to stderr before it fails (informational lines go there under --json). */
const INFO = /^(training|resuming) .* -> /;

/** Why a result breaks the contract, or null when it keeps it. */
function violation(r: Result): string | null {
  if (r.signal !== null) return `killed by ${r.signal} after ${Math.round(r.ms)} ms (a hang?)`;
  if (hasStackTrace(r.stderr) || hasStackTrace(r.stdout)) return 'printed a stack trace';
  if (/internal error/.test(r.stderr)) return 'reported an internal error';
  const command = r.args[0];
  if (r.status === 0) {
    if (r.args.includes('--help') || r.args.includes('--version')) return null;
    if (command in NEVER_START) return `${command} ran despite an invalid --${NEVER_START[command][0]}`;
    const refused = refusedValueIn(command, r.args);
    if (refused !== undefined) return `accepted ${refused}, which must be refused`;
    const out = r.stdout.trim();
    const notJson = out.split('\n').find((line) => {
      try {
        JSON.parse(line);
        return false;
      } catch {
        return true;
      }
    });
    // One plain --json must give JSON; repeated or valued ones (--json --json=, --json false) may go either way.
    const jsonFlags = r.args.map((a, i) => [a, r.args[i + 1]]).filter(([a]) => /^--(no-)?json(=|$)/.test(a));
    const mustBeJson = jsonFlags.length === 1 && jsonFlags[0][0] === '--json' && !['true', 'false'].includes(jsonFlags[0][1]);
    if (mustBeJson && notJson !== undefined) return `--json printed a line that is not JSON: ${notJson}`;
    const json = notJson === undefined;
    const expected: Record<string, RegExp> = {
      train: json ? /"testAccuracy"/ : /^done: test accuracy \d+\.\d\d% after epoch \d+/m,
      resume: json ? /"testAccuracy"/ : /^done: test accuracy \d+\.\d\d% after epoch \d+/m,
      predict: json ? /"predicted":\d/ : /^predicted: \d$/m,
      evaluate: json ? /"accuracy":[\d.]+/ : /^accuracy \d+\.\d\d% \(\d+ correct\)/m,
      lines: json ? /"after":[\d.]+/ : /^after training: \d+\.\d\d% correct/m,
      import: /^wrote .+: the original's 784-16-10 weights from /m,
    };
    const where = json && (command === 'train' || command === 'resume') ? r.stdout + r.stderr : r.stdout;
    if (!expected[command].test(where)) return `exit 0 without the expected output: ${JSON.stringify(out.slice(0, 300))}`;
    return null;
  }
  if (r.status !== 1) return `exit status ${r.status} (expected 0 or 1)`;
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  const errors = lines.filter((l) => l.startsWith('nnfs: '));
  if (errors.length !== 1) return `expected exactly one "nnfs: " line on stderr, got ${errors.length}: ${JSON.stringify(r.stderr)}`;
  if (lines[lines.length - 1] !== errors[0]) return `the "nnfs: " line is not the last on stderr: ${JSON.stringify(r.stderr)}`;
  const others = lines.slice(0, -1).filter((l) => !INFO.test(l));
  if (others.length > 0) return `unexpected stderr lines besides the error: ${JSON.stringify(others)}`;
  if (errors[0].length <= 'nnfs: '.length + 3 || errors[0].length > 400) return `the error is not one clear sentence: ${errors[0]}`;
  return null;
}

function report(results: Result[]): string[] {
  return results.flatMap((r) => {
    const why = violation(r);
    const ends = (text: string) => JSON.stringify(text.length > 600 ? `${text.slice(0, 300)} … ${text.slice(-300)}` : text);
    return why === null ? [] : [`nnfs ${r.args.map((a) => JSON.stringify(a)).join(' ')}\n    ${why}\n    stdout: ${ends(r.stdout)}\n    stderr: ${ends(r.stderr)}`];
  });
}

// ---------------------------------------------------------------------------------------

describe('fuzz: command line', () => {
  it('lists the commands this file fuzzes', () => {
    const help = runCli(['--help']);
    expect(help.status).toBe(0);
    const listed = [...help.stdout.matchAll(/^\s+nnfs (\w+)/gm)].map((m) => m[1]);
    // A new command must be added to FLAGS.
    expect(listed.sort()).toEqual(Object.keys(FLAGS).sort());
  });

  it('answers fixed boundary command lines with a correct run or one clear sentence', async () => {
    const fixed: string[][] = [
      [],
      ['trian'],
      ['bogus', '--epochs', '1'],
      ['--version'],
      ['--help'],
      ...Object.keys(FLAGS).map((c) => [c, '--help']),
      ['train', '--data', fx.data, '--out', join(fx.root, 'f-out'), '--epochs', '1', '--threads', '0'],
      ['train', '--data', fx.data, '--out', join(fx.root, 'f-out'), '--epochs', '1', '--threads', '257'],
      ['train', '--data', fx.data, '--out', join(fx.root, 'f-out'), '--epochs', '1e309'],
      ['train', '--data', fx.data, '--out', join(fx.root, 'f-out'), '--epochs', '1', '--lr', '1e300', '--json'],
      ['train', '--data', fx.data, '--out', fx.textFile, '--epochs', '1'],
      // Node's recursive mkdir spins forever under /proc; nnfs must not.
      ['train', '--data', fx.data, '--out', '/proc/nnfs-cannot-write-here/run', '--epochs', '1'],
      ['import', '--from-dat', fx.dat, '--out', '/proc/nnfs-cannot-write-here/x.safetensors'],
      ['predict', '--checkpoint', fx.checkpoint, '--data', fx.data, '--index', '0', '--image', fx.png],
      ['predict', '--checkpoint', fx.checkpoint, '--image', '/dev/zero'],
      ['predict', '--checkpoint', '/dev/zero', '--data', fx.data],
      ['evaluate', '--checkpoint', fx.checkpoint, '--data', fx.data, '--json'],
      ['lines', '--train', '1', '--test', '1', '--threads', '1', '--json'],
      ['serve', '--port', '65536'],
      ['bench', '--threads', '0', '--quick'],
      ['bench', '--threads', '2,2', '--quick'],
    ];
    const results = await runAll(fixed);
    expect(report(results)).toEqual([]);
  }, 180_000);

  it(`answers ${CASES} random command lines (seed ${SEED}) with a correct run or one clear sentence`, async () => {
    const added = discoverFlags();
    if (added.length > 0) console.warn(`fuzz-cli: flags not in FLAGS, fuzzed with a generic value: ${added.join(', ')}`);
    const cases = fc.sample(caseArb(), { seed: SEED, numRuns: CASES });
    const results = await runAll(cases.map(argsOf));
    if (process.env.NNFS_FUZZ_VERBOSE) {
      for (const r of results) console.log(`${r.status} ${Math.round(r.ms)}ms nnfs ${r.args.join(' ')}\n    ${(r.status === 0 ? r.stdout : r.stderr).trim().split('\n').at(-1)}`);
    }
    const failures = report(results);
    expect(failures, `${failures.length} of ${CASES} command lines broke the contract:\n${failures.join('\n')}`).toEqual([]);
    // The draw is not degenerate: some runs succeed and some are refused.
    expect(results.some((r) => r.status === 0)).toBe(true);
    expect(results.some((r) => r.status === 1)).toBe(true);
  }, Math.max(300_000, CASES * 3_000));

  // yargs joins the messages of missing required flags with newlines; src/cli.ts makes them one sentence.
  it('names a missing required flag in one line', async () => {
    const results = await runAll([['resume'], ['import'], ['import', '--from-dat', fx.dat], ['import', '--out', join(fx.root, 'x.safetensors')]]);
    expect(report(results)).toEqual([]);
  }, 60_000);

  // yargs-parser would give a bare flag its default (`--epochs` alone training the default
  // number of epochs); every value flag is declared requiresArg, so it asks instead.
  it('asks for the value of a flag that has a default when it is given bare', async () => {
    const [r] = await runAll([['train', '--data', fx.data, '--out', resolve('@fresh'), '--threads', '1', '--epochs']]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('nnfs: --epochs needs a value.\n');
  }, 60_000);
});


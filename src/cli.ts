#!/usr/bin/env node
// The nnfs command line: one yargs command module per verb (src/commands). Beyond yargs'
// parsing, it turns failures into one clear sentence on stderr, and catches what yargs would
// misread or answer with its help: unknown commands, `help COMMAND`, one-dash flags.

import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { RunFailure, UserError } from './errors.js';
import { packageVersion } from './package-paths.js';
import { watchOutput } from './report/stdout.js';
import { refuseMisreadArgs, refuseSwitchMistakes } from './commands/flags.js';
import * as evaluate from './commands/evaluate.js';
import * as importDat from './commands/import.js';
import * as lines from './commands/lines.js';
import * as predict from './commands/predict.js';
import * as bench from './commands/bench.js';
import * as resume from './commands/resume.js';
import * as serve from './commands/serve.js';
import * as train from './commands/train.js';

/** The command names, in the order --help lists them. */
const COMMAND_NAMES: string[] = [train, resume, predict, evaluate, lines, importDat, serve, bench].map((c) => c.command);

/**
 * A first word that names no command: yargs calls it an unknown argument ("Unknown argument:
 * frobnicate."), or says only "Did you mean train?"; this names it and the commands there are.
 * `help` is yargs' word for --help, and with --help or --version nothing runs anyway. (A
 * command after flags, `nnfs --epochs 1 trian`, is left to yargs' own "Did you mean".)
 */
function refuseUnknownCommand(args: readonly string[]): void {
  const first = args[0];
  if (first === undefined || first.startsWith('-') || first === 'help' || COMMAND_NAMES.includes(first)) return;
  if (args.some((a) => /^--?(help|version|h)(=true)?$/s.test(a))) return;
  throw unknownCommand(first);
}

function unknownCommand(word: string): UserError {
  const list = `${COMMAND_NAMES.slice(0, -1).join(', ')} and ${COMMAND_NAMES.at(-1)!}`;
  return new UserError(`unknown command ${word}; the commands are ${list} (see npx nnfs --help).`);
}

/** `nnfs help train` as `nnfs train --help` (yargs knows only a bare `help`, and read `train` as a stray word). */
function helpAsFlag(args: string[]): string[] {
  const [first, second, ...rest] = args;
  if (first !== 'help' || second === undefined || second.startsWith('-')) return args;
  if (!COMMAND_NAMES.includes(second)) throw unknownCommand(second);
  return [second, '--help', ...rest];
}

/** Prints a failure as one sentence and sets a non-zero exit; stack traces only for real bugs or NNFS_DEBUG. */
function reportFailure(error: unknown): void {
  const debug = Boolean(process.env.NNFS_DEBUG);
  if (error instanceof UserError || error instanceof RunFailure) {
    const text = /[.?!]$/.test(error.message) ? error.message : `${error.message}.`;
    process.stderr.write(`nnfs: ${text}\n`);
    if (debug) process.stderr.write(`${error.stack}\n`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`nnfs: internal error: ${message} (set NNFS_DEBUG=1 for details)\n`);
    if (debug && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  }
  process.exitCode = 1;
}

/**
 * A name yargs calls unknown, as the user typed it: yargs drops the dashes, so `-0.5` read as
 * "0.5", a stray number; a word that was no flag stays as it is.
 */
function asTyped(name: string, args: readonly string[]): string {
  const typed = args.find((arg) => arg === `--${name}` || arg === `-${name}` || arg.startsWith(`--${name}=`) || arg.startsWith(`-${name}=`));
  return typed === undefined ? name : typed.startsWith('--') ? `--${name}` : `-${name}`;
}

/** yargs' usage complaints, some over several lines, as one sentence in nnfs's words. */
function oneSentence(message: string, args: readonly string[]): string {
  const [first, ...rest] = message.split('\n').map((line) => line.trim()).filter(Boolean);
  const bare = /^Not enough arguments following: (\S+)$/.exec(first);
  if (bare) return `--${bare[1]} needs a value.`;
  // yargs names an unknown --frob-nicate twice, the second time camel-cased (frobNicate).
  const unknown = /^Unknown arguments?: (.+)$/.exec(first);
  if (unknown) {
    const names = unknown[1].split(', ');
    const camel = (name: string) => name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
    const kept = names.filter((name) => !names.some((other) => other !== name && camel(other) === name));
    return `Unknown argument${kept.length === 1 ? '' : 's'}: ${kept.map((name) => asTyped(name, args)).join(', ')}`;
  }
  const missing = /^Missing required arguments?: (.+)$/.exec(first);
  if (missing) {
    const flags = missing[1].split(', ').map((flag) => `--${flag}`).join(' and ');
    const hints = rest.map((hint) => hint.replace(/\.$/, ''));
    return `missing ${flags}${hints.length ? `: ${hints.join('; ')}` : ''}.`;
  }
  return [first, ...rest].join(' ');
}

async function main(): Promise<void> {
  // Stack traces (NNFS_DEBUG) then name the TypeScript sources, not the bundle's chunks.
  if (process.env.NNFS_DEBUG) process.setSourceMapsEnabled(true);
  watchOutput();
  const args = helpAsFlag(hideBin(process.argv));
  refuseMisreadArgs(args);
  refuseUnknownCommand(args);
  const parser = yargs(args)
    .scriptName('nnfs')
    .usage('$0 <command> [options]\n\nTrains small neural networks on MNIST from scratch, on every core.')
    .command(train)
    .command(resume)
    .command(predict)
    .command(evaluate)
    .command(lines)
    .command(importDat)
    .command(serve)
    .command(bench)
    .demandCommand(1, 'name a command; see npx nnfs --help.')
    // No --lr.x objects: a flag is one name and one value. And no bundles of one-letter
    // flags: nnfs has only -h, and `--out -dash` read as -d -a -s -h printed the help.
    .parserConfiguration({ 'dot-notation': false, 'short-option-groups': false })
    // After yargs' own checks: a missing value (--out --json=x) is named first, and a flag
    // the command lacks (train --quick=1) is unknown, as without the value.
    .middleware((parsed) => refuseSwitchMistakes(args, parsed), false)
    .strict()
    .recommendCommands()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((message, error) => {
      // yargs' own complaints (unknown flag, missing value) and our flag parsers' errors,
      // which yargs re-wraps, are usage mistakes; anything else is passed on as it is.
      if (error instanceof UserError || error instanceof RunFailure) throw error;
      if (!error || error.name === 'YError') throw new UserError(oneSentence(message ?? error?.message ?? 'bad command line', args));
      throw error;
    })
    .help()
    .alias('h', 'help')
    .version(packageVersion())
    // Help and the version end the way any command does, not by process.exit: a failed
    // write of them (`nnfs --help > /dev/full`) then still gets its sentence and status 1.
    .exitProcess(false);
  skipHelpRendering(parser);
  await parser.parseAsync();
}

/**
 * yargs renders a command's whole help text as soon as it has called the command's handler,
 * in case the handler asks for it (showHelp). nnfs's handlers never do, and its failures are
 * one sentence with no help, so that text was never shown; rendering it took ~10 ms of main
 * thread time in every command, in `nnfs train` just before its first step. `--help` is
 * rendered on its own path and is unaffected. (The Angular CLI skips it the same way.)
 */
function skipHelpRendering(parser: object): void {
  // yargs' internals, not its API: where a later yargs has moved them, render the help as yargs does.
  const usage = (parser as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: unknown } } }).getInternalMethods?.().getUsageInstance?.();
  if (typeof usage?.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => undefined;
}

main().catch(reportFailure);

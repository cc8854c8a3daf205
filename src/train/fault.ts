// A test-only hook to inject a fault into a worker thread in the middle of a step, so tests
// can check that a failing worker stops the run with a clear error instead of a hang.
// Set NNFS_TEST_FAULT=throw:STEP or exit:STEP (STEP counted within the epoch, from 0), or
// stall:STEP: the thread opening that step (its first phase) stops before its last ticket write,
// as if descheduled, until another thread moves the run on (at most a second); STEP >= 1,
// as the coordinator itself opens a segment's first step.
// Unset (always, outside tests) it costs one comparison per microbatch.

import { Control } from './protocol.js';

export interface Fault {
  kind: 'throw' | 'exit' | 'stall';
  step: number;
}

function parseFault(text: string | undefined): Fault | undefined {
  const match = /^(throw|exit|stall):(\d+)$/.exec(text ?? '');
  return match ? { kind: match[1] as Fault['kind'], step: Number(match[2]) } : undefined;
}

export const INJECTED_FAULT = parseFault(globalThis.process?.env?.NNFS_TEST_FAULT);

/** Fails the way the fault says, if this is its step. */
export function maybeFail(step: number): void {
  if (INJECTED_FAULT?.step !== step || INJECTED_FAULT.kind === 'stall') return;
  if (INJECTED_FAULT.kind === 'exit') process.exit(3);
  throw new Error(`injected test fault at step ${step}`);
}

/**
 * The 'stall' fault: spins (at most 1 s) until the phase sequence moves, so the caller
 * goes on the moment another thread has moved the run on, the worst time for it.
 */
export function maybeStallOpening(control: Int32Array, step: number): void {
  if (INJECTED_FAULT?.kind !== 'stall' || INJECTED_FAULT.step !== step) return;
  const seq = Atomics.load(control, Control.SEQ);
  const until = Date.now() + 1000;
  while (Atomics.load(control, Control.SEQ) === seq && Date.now() < until);
}

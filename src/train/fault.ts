// A test-only hook to inject a fault into a worker thread in the middle of a step, so tests
// can check that a failing worker stops the run with a clear error instead of a hang.
// Set NNFS_TEST_FAULT=throw:STEP or exit:STEP (STEP counted within the epoch, from 0).
// Unset (always, outside tests) it costs one comparison per microbatch.

export interface Fault {
  kind: 'throw' | 'exit';
  step: number;
}

function parseFault(text: string | undefined): Fault | undefined {
  const match = /^(throw|exit):(\d+)$/.exec(text ?? '');
  return match ? { kind: match[1] as Fault['kind'], step: Number(match[2]) } : undefined;
}

export const INJECTED_FAULT = parseFault(globalThis.process?.env?.NNFS_TEST_FAULT);

/** Fails the way the fault says, if this is its step. */
export function maybeFail(step: number): void {
  if (INJECTED_FAULT?.step !== step) return;
  if (INJECTED_FAULT.kind === 'exit') process.exit(3);
  throw new Error(`injected test fault at step ${step}`);
}

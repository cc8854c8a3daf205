// When whoever reads nnfs's standard output goes away (`nnfs bench | head -3`), every later
// write fails with EPIPE, which Node raises as an unhandled 'error' event: a stack trace and
// exit status 1. A shell tool is instead ended quietly by SIGPIPE. nnfs notes it and stops
// writing there; a command with more to do decides what it means (train and resume stop
// and save, as for Ctrl-C; bench stops measuring; the rest just finish).

let closed = false;
const listeners = new Set<(reason: string) => void>();

/** Installs the handlers; cli.ts calls it once, before any command runs. */
export function watchOutput(): void {
  // A closed stderr leaves nowhere to report anything, this included.
  process.stderr.on('error', () => undefined);
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' && !closed) {
      process.stderr.write(`nnfs: cannot write to standard output (${error.message}).\n`);
      process.exitCode = 1;
    }
    if (closed) return;
    closed = true;
    const reason = error.code === 'EPIPE' ? 'standard output was closed' : 'standard output cannot be written';
    for (const listener of listeners) listener(reason);
  });
}

/** Whether a write to stdout has failed: nothing written there now reaches anyone. */
export function stdoutClosed(): boolean {
  return closed;
}

/** Calls `listener` once, with a few words on why, when stdout closes or fails; returns the function that removes it. */
export function onStdoutClosed(listener: (reason: string) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

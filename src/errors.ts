// User-facing failures: one clear sentence for stderr, never a stack trace.

/** An error caused by the user's input (a flag, a file, a checkpoint), not by a bug in nnfs. */
export class UserError extends Error {
  override name = 'UserError';
}


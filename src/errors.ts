// User-facing failures: one clear sentence for stderr, never a stack trace.

/** An error caused by the user's input (a flag, a file, a checkpoint), not by a bug in nnfs. */
export class UserError extends Error {
  override name = 'UserError';
}

/**
 * Refuses anything but a regular file or a folder (which callers report in their own words):
 * a device such as /dev/zero never ends, and a pipe may never open.
 */
export function refuseSpecialFile(stat: { isFile(): boolean; isDirectory(): boolean }, message: string): void {
  if (!stat.isFile() && !stat.isDirectory()) throw new UserError(message);
}

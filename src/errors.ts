// User-facing failures: one clear sentence for stderr, never a stack trace.

/** Exit status for a command stopped by Ctrl-C, SIGTERM or SIGHUP (stop-signals.ts), as shells report a SIGINT death. */
export const INTERRUPTED_EXIT_CODE = 130;

/** An error caused by the user's input (a flag, a file, a checkpoint), not by a bug in nnfs. */
export class UserError extends Error {
  override name = 'UserError';
}

/**
 * A run that cannot go on, through no fault of the command line: the loss or the weights
 * diverged (NaN, infinite or over 1e6), or a worker thread failed. Reported as one
 * sentence, like a UserError.
 */
export class RunFailure extends Error {}

/**
 * Refuses anything but a regular file or a folder (which callers report in their own words):
 * a device such as /dev/zero never ends, and a pipe may never open.
 */
export function refuseSpecialFile(stat: { isFile(): boolean; isDirectory(): boolean }, message: string): void {
  if (!stat.isFile() && !stat.isDirectory()) throw new UserError(message);
}

/** A short human reason for a file-system error, without Node's code and syscall noise. */
export function describeFsError(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOSPC':
      return 'the disk is full';
    case 'EDQUOT':
      return 'the disk quota is used up';
    case 'EFBIG':
      return 'the file would be larger than this system lets a process write';
    case 'EROFS':
      return 'the file system is read-only';
    case 'ENOTDIR':
      return 'part of the path is a file, not a folder';
    case 'EISDIR':
      return 'it is a folder';
    case 'ENOENT':
      return 'no such file or folder';
    case 'EEXIST':
      return 'a file with that name is in the way';
    case 'ENAMETOOLONG':
      return 'the name is too long';
    case 'ELOOP':
      return 'too many symbolic links in the path';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

// How a path is shown to the user: relative to the working folder when it lies inside it
// (as they would type it), else as it is; quoted where it goes into a command to copy.

import { relative } from 'node:path';

export function shownPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' || rel.startsWith('..') ? path : rel;
}

/** `word` as one word of a POSIX shell command: as it is when that is safe, else in single quotes. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** A path as one word of a command: quoted, and never read as a flag (-run becomes ./-run). */
export function pathWord(path: string): string {
  return shellWord(path.startsWith('-') ? `./${path}` : path);
}

// How a path is shown to the user: relative to the working folder when it lies inside it
// (as they would type it), else as it is.

import { relative } from 'node:path';

export function shownPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' || rel.startsWith('..') ? path : rel;
}

// Where the server finds the bundled page (dist/web, written by `npm run build:web`).

import { join } from 'node:path';
import { packageRoot } from '../package-paths.js';

export function pageDir(): string {
  return join(packageRoot(), 'dist', 'web');
}

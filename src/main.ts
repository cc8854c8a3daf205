#!/usr/bin/env node
// The nnfs executable (src/build.mjs bundles from here). yargs reads the working folder as
// it loads, and where that folder has been deleted Node answers with a stack trace, as it
// does on a Node.js too old for yargs; so both are checked first, and the command line
// (cli.ts) loaded after.

import { nodeVersionProblem } from './node-version.js';
import { supportedNode } from './package-paths.js';

const tooOld = nodeVersionProblem(process.versions.node, supportedNode());
if (tooOld) {
  process.stderr.write(`nnfs: ${tooOld}\n`);
  process.exit(1);
}
try {
  process.cwd();
} catch {
  process.stderr.write('nnfs: the current folder no longer exists; cd to one that does and try again.\n');
  process.exit(1);
}
await import('./cli.js');

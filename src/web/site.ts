// What `nnfs serve` offers, as a fixed table of URL paths: the bundled page, the
// checkpoint's bytes, its run's metrics.jsonl and a few test digits. Nothing else on disk
// is reachable, because requests are looked up in this table, never joined onto a folder.

import { promises as fs } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { decodeCheckpoint } from '../checkpoint/format.js';
import { LAST_NAME, readCheckpointBytes, resolveCheckpointFile } from '../checkpoint/store.js';
import type { Dataset } from '../data/dataset.js';
import { UserError } from '../errors.js';
import { metricsFileFor } from '../train/metrics-file.js';
import { randomSamples } from './samples.js';

/** A response the server sends as it is. */
export interface Reply {
  status: number;
  type: string;
  body: Uint8Array | string;
  /** Files that can change while serving (a run still training) must not be cached. */
  noStore?: boolean;
}

export type Route = () => Promise<Reply>;

/** The page's files, as build.mjs writes them; a fixed list, so a stray file in dist/web is never served. */
const PAGE_FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'main.js': 'text/javascript; charset=utf-8',
  'inference.worker.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

/** The page needs a 28x28 input and ten classes: it draws MNIST digits. */
const MNIST_SIZES = { inputs: 784, classes: 10 };

export interface SiteOptions {
  /** A checkpoint file, or a run folder (its last.safetensors: runFolderCheckpoint). */
  checkpoint: string;
  pageDir: string;
  /** The MNIST test split, or why it could not be loaded. */
  testSet: Dataset | Error;
}

export interface Site {
  /** The checkpoint file served at start-up (a folder resolves to its last.safetensors). */
  checkpointFile: string;
  /** Why the checkpoint cannot be shown, in one sentence; the page shows the same text. */
  modelError?: string;
  routes: Map<string, Route>;
}

/** A short plain-text reply that is never cached. */
export const text = (status: number, body: string): Reply => ({ status, type: 'text/plain; charset=utf-8', body, noStore: true });

/** Validates the checkpoint fully (format, checksum, shapes) and returns its bytes, or the one-sentence reason it cannot be used. */
async function loadModelBytes(file: string): Promise<{ bytes: Uint8Array } | { error: string }> {
  try {
    // The bytes checked are the bytes served, even if a run replaces the file meanwhile.
    const bytes = await readCheckpointBytes(file);
    const { sizes } = decodeCheckpoint(bytes, file);
    if (sizes[0] !== MNIST_SIZES.inputs || sizes[sizes.length - 1] !== MNIST_SIZES.classes) {
      throw new UserError(`${file} is a ${sizes.join('-')} model; the page needs an MNIST model (784 inputs, 10 classes).`);
    }
    return { bytes };
  } catch (e) {
    if (e instanceof UserError) return { error: e.message };
    throw e;
  }
}

async function readPageFiles(dir: string): Promise<Map<string, Reply>> {
  const files = new Map<string, Reply>();
  for (const [name, type] of Object.entries(PAGE_FILES)) {
    try {
      files.set(name, { status: 200, type, body: await fs.readFile(join(dir, name)) });
    } catch {
      throw new UserError(`the page is not built (${join(dir, name)} is missing); run \`npm run build\` first.`);
    }
  }
  return files;
}

/** Far more than any run writes (about 150 bytes an epoch). */
const MAX_METRICS_MB = 16;

/**
 * A reply made from a file that a training run may replace or extend while the page is
 * open: made again only when which file it is (fileOf), or that file's identity, size or
 * time, changes, and shared by every request meanwhile (200 requests for a 15 MB
 * metrics.jsonl are one copy, not 200).
 */
function fromChangingFile(fileOf: () => Promise<string>, make: (file: string) => Promise<Reply>): Route {
  let cached: { key: string; reply: Promise<Reply> } | undefined;
  return async () => {
    const file = await fileOf();
    const stat = await fs.stat(file).catch(() => undefined);
    const key = `${file}\0${stat ? `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}` : 'absent'}`;
    if (cached?.key !== key) cached = { key, reply: make(file) };
    return cached.reply;
  };
}

/** Loads the page's files once; the checkpoint and its metrics.jsonl as a training run saves them. */
export async function buildSite(options: SiteOptions): Promise<Site> {
  const page = await readPageFiles(options.pageDir);
  // Resolved at every request: a run folder named before the run that makes it exists is
  // a folder (served by its last.safetensors) once that run has started. Until then a path
  // with no extension stands for that folder's last.safetensors, so that its metrics are
  // looked for in it, not in the folder above; one with an extension is a file (a
  // misspelled pretrained.safetensor is not a folder to wait for).
  const checkpointFileNow = async () => {
    const file = await resolveCheckpointFile(options.checkpoint);
    const there = await fs.stat(file).then(() => true, () => false);
    return there || extname(file) !== '' ? file : join(file, LAST_NAME);
  };
  const checkpointFile = await checkpointFileNow();

  const routes = new Map<string, Route>();
  for (const [name, reply] of page) routes.set(`/${name}`, async () => reply);
  routes.set('/', async () => page.get('index.html')!);
  const modelRoute = fromChangingFile(checkpointFileNow, async (file) => {
    const model = await loadModelBytes(file);
    return 'bytes' in model
      ? { status: 200, type: 'application/octet-stream', body: model.bytes, noStore: true }
      : // 503 with the sentence as the body: the page shows it as it is.
        text(503, model.error);
  });
  routes.set('/model.safetensors', modelRoute);
  routes.set('/metrics.jsonl', fromChangingFile(async () => metricsFileFor(await checkpointFileNow()), async (metricsFile) => {
    // A pipe under that name would hang the reply, and a link to a device never end it.
    const stat = await fs.stat(metricsFile).catch(() => undefined);
    if (stat && (!stat.isFile() || stat.size > MAX_METRICS_MB * 2 ** 20)) return text(404, `${metricsFile} is not a metrics file (not a regular file, or over ${MAX_METRICS_MB} MB).`);
    try {
      return { status: 200, type: 'application/x-ndjson; charset=utf-8', body: await fs.readFile(metricsFile), noStore: true };
    } catch {
      return text(404, `no ${basename(metricsFile)} in ${dirname(metricsFile)}.`);
    }
  }));
  routes.set('/test-samples.json', async () => {
    const test = options.testSet;
    if (test instanceof Error) return text(404, test.message);
    return { status: 200, type: 'application/json', body: JSON.stringify(randomSamples(test)), noStore: true };
  });
  // Read once now, to say at start-up what is wrong with it; the route keeps what it read.
  const first = await modelRoute();
  return { checkpointFile, modelError: first.status === 503 ? String(first.body) : undefined, routes };
}

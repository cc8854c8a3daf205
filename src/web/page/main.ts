// The page's entry point: wires the pad, the answer panel, the test digits and the curves
// to the inference worker. The main thread only draws and posts pixels; preprocessing and
// the forward pass run in the worker, and at most one drawing is in flight at a time.

import { transfer, wrap } from 'comlink';
import type { InferenceApi, ModelInfo } from './api.js';
import { plainText, showCurves } from './curves.js';
import { Pad } from './pad.js';
import { MIN_INK_EXTENT } from './pad-geometry.js';
import { PredictionView } from './prediction.js';
import { showSamples } from './samples-panel.js';

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no #${id}`);
  return node as T;
}

const MNIST_CLASSES = 10;

const api = wrap<InferenceApi>(new Worker(new URL('./inference.worker.js', import.meta.url), { type: 'module' }));
const errorBox = byId('model-error');
const view = new PredictionView(byId('prediction'), byId('confidence'), byId('spoken'), byId<HTMLCanvasElement>('preview'), byId('bars'), MNIST_CLASSES);

/** A failure's words, as the page shows them (without the terminal's backticks). */
function messageOf(error: unknown): string {
  return plainText(error instanceof Error ? error.message : String(error));
}

function showError(prefix: string, error: unknown): void {
  errorBox.textContent = `${prefix}: ${messageOf(error)}`;
  errorBox.hidden = false;
}

// Coalesce: strokes arrive faster than answers, so keep only "something changed" and
// classify the latest drawing once per frame, never queueing stale ones.
let dirty = false;
let scheduled = false;
let running = false;
/** A stroke ended (or the pad was cleared): say the answer once the drawing's is shown. */
let announcePending = false;

function announceWhenSettled(): void {
  announcePending = true;
  if (!dirty && !scheduled && !running) announceIfDue();
}

function announceIfDue(): void {
  if (!announcePending) return;
  announcePending = false;
  view.announce();
}

function schedule(): void {
  dirty = true;
  view.setPending(true);
  if (!scheduled && !running) {
    scheduled = true;
    requestAnimationFrame(() => void classifyDrawing());
  }
}

async function classifyDrawing(): Promise<void> {
  scheduled = false;
  if (running || !dirty) return;
  dirty = false;
  running = true;
  try {
    if (pad.isEmpty) {
      view.show(null);
    } else if (pad.inkExtent < MIN_INK_EXTENT) {
      view.show(null, 'too small to read: draw the digit larger');
    } else {
      const image = pad.snapshot();
      view.show(await api.predictDrawing(transfer(image.data, [image.data.buffer]), image.width, image.height));
    }
  } catch (error) {
    showError('The model could not classify the drawing', error);
  } finally {
    running = false;
    if (dirty) {
      schedule();
    } else {
      view.setPending(false);
      announceIfDue();
    }
  }
}

const pad = new Pad(byId<HTMLCanvasElement>('pad'), schedule, announceWhenSettled);
byId('clear').addEventListener('click', () => {
  pad.clear();
  announceWhenSettled();
});

async function refreshSamples(): Promise<void> {
  const more = byId<HTMLButtonElement>('more');
  const grid = byId('samples');
  // One request at a time, and a visible sign that it is under way.
  more.disabled = true;
  grid.setAttribute('aria-busy', 'true');
  try {
    await showSamples(api, grid, byId('samples-summary'));
  } catch (error) {
    const why = messageOf(error).replace(/\.$/, '');
    byId('samples-summary').textContent = grid.childElementCount > 0
      ? `No new test digits: ${why}. The digits below are the earlier ones.`
      : `No test digits: ${why}.`;
  } finally {
    more.disabled = false;
    grid.removeAttribute('aria-busy');
  }
}

async function start(): Promise<void> {
  const loading = api.load(new URL('model.safetensors', location.href).href);
  // Fetched at once, drawn up to the model's epoch once it is known: all of them for imported
  // weights (no training history here) or a model that did not load.
  const upToEpoch = loading.then((info) => (info.globalStep ? info.epoch : undefined), () => undefined);
  void showCurves(byId('curves'), byId('charts'), byId('curves-note'), upToEpoch).catch((error: unknown) => {
    byId('curves-note').textContent = `No training curves: ${messageOf(error)}`;
  });
  let info: ModelInfo;
  try {
    info = await loading;
  } catch (error) {
    document.body.dataset.model = 'error';
    byId('model-info').textContent = 'no model';
    // Nothing to draw for or test with: the controls say so instead of doing nothing.
    for (const id of ['clear', 'more']) byId<HTMLButtonElement>(id).disabled = true;
    byId('confidence').textContent = 'no model to ask';
    showError('The model could not be loaded', error);
    byId('samples-summary').textContent = 'No model to test the digits with.';
    return;
  }
  const parts = [`${info.sizes.join('-')} network`];
  // Imported weights (nnfs import) record epoch 0: their training history is unknown, so say nothing.
  if (info.epoch !== undefined && info.epoch > 0) parts.push(`${info.epoch} epoch${info.epoch === 1 ? '' : 's'}`);
  if (info.optimizer) parts.push(info.optimizer);
  byId('model-info').textContent = parts.join(' · ');
  pad.setEnabled(true);
  document.body.dataset.model = 'ready';
  // Enabled (by refreshSamples) only now: until the model is loaded there is nothing to test the digits with.
  byId('more').addEventListener('click', () => void refreshSamples());
  await refreshSamples();
}

void start();

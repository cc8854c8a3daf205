// The test-digits panel: a few random MNIST test images from the server, each with the
// model's answer; mistakes are marked. The images are fed raw (pixels / 255), as
// `evaluate` does, since they are already MNIST-shaped.

import { argmax } from '../../model/forward.js';
import type { InferenceApi, SamplesFile } from './api.js';
import { fetchFromServer, refusal } from './fetch-server.js';

function digitCanvas(pixels: number[], rows: number, cols: number, label: string): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  // A canvas has no role of its own, so without one screen readers skip its label.
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', label);
  canvas.width = cols;
  canvas.height = rows;
  const ctx = canvas.getContext('2d')!;
  const image = ctx.createImageData(cols, rows);
  pixels.forEach((v, i) => image.data.set([v, v, v, 255], i * 4));
  ctx.putImageData(image, 0, 0);
  return canvas;
}

/** Fetches a fresh set of test digits and shows the model's answer for each. */
export async function showSamples(api: InferenceApi, grid: HTMLElement, summary: HTMLElement): Promise<void> {
  const response = await fetchFromServer('test-samples.json');
  // The server's one sentence says why (no test set, say); the digits shown so far stay.
  if (!response.ok) throw await refusal(response, 'test digits');
  const { rows, cols, samples } = (await response.json()) as SamplesFile;
  const pixels = new Uint8Array(samples.length * rows * cols);
  samples.forEach((s, i) => pixels.set(s.pixels, i * rows * cols));
  const probs = await api.classify(pixels, samples.length);
  const classes = probs.length / Math.max(1, samples.length);
  let right = 0;
  const figures = samples.map((s, i) => {
    const p = probs.subarray(i * classes, (i + 1) * classes);
    const predicted = argmax(p);
    const ok = predicted === s.label;
    if (ok) right++;
    const figure = document.createElement('figure');
    figure.className = ok ? 'sample' : 'sample mistake';
    figure.dataset.label = String(s.label);
    figure.dataset.predicted = String(predicted);
    const sure = `${(p[predicted] * 100).toFixed(1)}%`;
    figure.title = `test image #${s.index}: label ${s.label}, model ${predicted} (${sure})`;
    const caption = document.createElement('figcaption');
    caption.textContent = ok ? String(predicted) : `${predicted} ≠ ${s.label}`;
    // The title shows on hover only; a screen reader gets the same in the image's name.
    figure.append(digitCanvas(s.pixels, rows, cols, `test image #${s.index}, labelled ${s.label}; the model reads ${predicted}, ${sure} sure`), caption);
    return figure;
  });
  grid.replaceChildren(...figures);
  summary.textContent = `${right} of ${samples.length} right; mistakes are marked in red (model ≠ label).`;
}

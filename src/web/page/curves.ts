// The training-curves panel: loss and test accuracy per epoch from the run's
// metrics.jsonl, drawn as two small SVG line charts (no chart library: two polylines
// and some ticks are all it takes).

import type { EpochMetrics } from '../../train/epoch-metrics.js';
import { fetchFromServer } from './fetch-server.js';

/** What the charts read of a metrics.jsonl line. */
type EpochLine = Pick<EpochMetrics, 'epoch' | 'trainLoss' | 'testLoss' | 'testAccuracy'>;

interface Series {
  name: string;
  /** CSS class giving the line its colour. */
  cls: string;
  values: number[];
}

const SVG = 'http://www.w3.org/2000/svg';
const W = 360;
const H = 200;
const M = { left: 46, right: 14, top: 12, bottom: 30 };

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, parent?: Element): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  parent?.append(node);
  return node;
}

/** A loss for the axis: three decimals, or three significant digits once it is large (a diverging run), so it fits the margin. */
function lossLabel(v: number): string {
  return Math.abs(v) >= 1000 ? v.toPrecision(3) : v.toFixed(3);
}

/** The server's sentences name commands in backticks, for a terminal; the page shows them plainly. */
export function plainText(sentence: string): string {
  return sentence.replace(/`/g, '');
}

/** `count` evenly spaced values covering [lo, hi]. */
function ticks(lo: number, hi: number, count: number): number[] {
  if (hi === lo) return [lo];
  return Array.from({ length: count }, (_, i) => lo + ((hi - lo) * i) / (count - 1));
}

/** Whole epochs to label on the x axis, at most about six. */
function epochTicks(epochs: number[]): number[] {
  const first = epochs[0];
  const last = epochs[epochs.length - 1];
  const step = Math.max(1, Math.ceil((last - first) / 5));
  const out: number[] = [];
  for (let e = first; e <= last; e += step) out.push(e);
  if (out[out.length - 1] !== last) out.push(last);
  return out;
}

function lineChart(title: string, epochs: number[], series: Series[], format: (v: number) => string): HTMLElement {
  // A loop, not Math.min(...values): spreading a long run's epochs overflows the stack.
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of series) {
    for (const v of s.values) {
      if (!Number.isFinite(v)) continue;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  const pad = (hi - lo || Math.abs(hi) || 1) * 0.08;
  lo -= pad;
  hi += pad;
  const e0 = epochs[0];
  const e1 = epochs[epochs.length - 1];
  const x = (e: number) => (e1 === e0 ? (M.left + W - M.right) / 2 : M.left + ((e - e0) / (e1 - e0)) * (W - M.left - M.right));
  const y = (v: number) => M.top + (1 - (v - lo) / (hi - lo)) * (H - M.top - M.bottom);

  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title, 'data-points': epochs.length });
  let previous: string | undefined;
  for (const v of ticks(lo + pad, hi - pad, 4)) {
    // A flat line's ticks differ by rounding only: one label, not four drawn on top of each other.
    const label = format(v);
    if (label === previous) continue;
    previous = label;
    el('line', { class: 'grid', x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }, svg);
    el('text', { class: 'tick', x: M.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, svg).textContent = label;
  }
  for (const e of epochTicks(epochs)) {
    el('text', { class: 'tick', x: x(e), y: H - M.bottom + 16, 'text-anchor': 'middle' }, svg).textContent = String(e);
  }
  el('text', { class: 'axis-title', x: (M.left + W - M.right) / 2, y: H - 2, 'text-anchor': 'middle' }, svg).textContent = 'epoch';
  for (const s of series) {
    const points = s.values.map((v, i) => `${x(epochs[i]).toFixed(1)},${y(v).toFixed(1)}`);
    el('polyline', { class: `line ${s.cls}`, points: points.join(' '), 'data-series': s.name }, svg);
    // Dots only while they stay readable; a 200-epoch run is a line.
    if (epochs.length <= 40) s.values.forEach((v, i) => el('circle', { class: `dot ${s.cls}`, cx: x(epochs[i]), cy: y(v), r: 3 }, svg));
  }

  const figure = document.createElement('figure');
  figure.className = 'chart';
  const caption = document.createElement('figcaption');
  caption.textContent = title;
  for (const s of series) {
    const key = document.createElement('span');
    key.className = `key ${s.cls}`;
    key.textContent = s.name;
    caption.append(key);
  }
  figure.append(caption, svg);
  return figure;
}

/** Parses metrics.jsonl, skipping lines a crash may have cut short. */
function parseMetrics(text: string): EpochLine[] {
  const lines: EpochLine[] = [];
  for (const raw of text.split('\n')) {
    try {
      const m = JSON.parse(raw) as Partial<EpochLine>;
      if ([m.epoch, m.trainLoss, m.testLoss, m.testAccuracy].every((v) => typeof v === 'number' && Number.isFinite(v))) lines.push(m as EpochLine);
    } catch {
      // blank or partial line
    }
  }
  return lines.sort((a, b) => a.epoch - b.epoch);
}

/**
 * Fills `charts` and a one-line summary in `note`; hides the charts and explains why when the
 * run has no metrics. The epochs after `upToEpoch` (once known; undefined: none) are left
 * out: while a run trains, its metrics can be an epoch ahead of the checkpoint the page has.
 */
export async function showCurves(panel: HTMLElement, charts: HTMLElement, note: HTMLElement, upToEpoch: Promise<number | undefined>): Promise<void> {
  const response = await fetchFromServer('metrics.jsonl');
  const body = await response.text();
  const limit = await upToEpoch;
  const lines = (response.ok ? parseMetrics(body) : []).filter((l) => limit === undefined || l.epoch <= limit);
  panel.dataset.points = String(lines.length);
  if (lines.length === 0) {
    charts.hidden = true;
    note.hidden = false;
    // Not ok: the server's one sentence says why (none beside the checkpoint, or not a metrics file).
    note.textContent = response.ok
      ? 'The run’s metrics.jsonl holds no finished epoch yet.'
      : `No training curves: ${plainText(body)} Runs of nnfs train write a metrics.jsonl in their folder.`;
    return;
  }
  const epochs = lines.map((l) => l.epoch);
  charts.replaceChildren(
    lineChart('Loss', epochs, [
      { name: 'train', cls: 's-train', values: lines.map((l) => l.trainLoss) },
      { name: 'test', cls: 's-test', values: lines.map((l) => l.testLoss) },
    ], lossLabel),
    lineChart('Test accuracy', epochs, [{ name: 'test accuracy', cls: 's-acc', values: lines.map((l) => l.testAccuracy) }], (v) => `${(v * 100).toFixed(1)}%`),
  );
  charts.hidden = false;
  const last = lines[lines.length - 1];
  note.hidden = false;
  note.textContent = `${lines.length} epoch${lines.length === 1 ? '' : 's'}; last: test accuracy ${(last.testAccuracy * 100).toFixed(2)}%, test loss ${last.testLoss.toFixed(4)}.`;
}

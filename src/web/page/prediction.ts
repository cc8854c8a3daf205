// The answer panel: the predicted digit, the 28x28 image the model saw, and one
// probability bar per class. Each bar carries data-digit and data-p for tests and tools.
// Screen readers hear the answer in one sentence once a stroke is done (announce), not
// every answer while the pen moves.

import { argmax } from '../../model/forward.js';
import type { DrawingAnswer } from './api.js';

const SIDE = 28;
/** The confidence line's words when nothing is drawn. */
const EMPTY_NOTE = 'draw a digit';

export class PredictionView {
  private readonly bars: HTMLElement[] = [];
  private readonly preview: CanvasRenderingContext2D;
  /** What announce() says: the answer shown now. */
  private sentence = '';

  constructor(
    private readonly digit: HTMLElement,
    private readonly confidence: HTMLElement,
    /** A role="status" element, read out when its text changes. */
    private readonly spoken: HTMLElement,
    previewCanvas: HTMLCanvasElement,
    barList: HTMLElement,
    classes: number,
  ) {
    previewCanvas.width = SIDE;
    previewCanvas.height = SIDE;
    const ctx = previewCanvas.getContext('2d');
    if (!ctx) throw new Error('this browser cannot draw on a canvas.');
    this.preview = ctx;
    barList.replaceChildren();
    for (let c = 0; c < classes; c++) {
      const bar = document.createElement('li');
      bar.className = 'bar';
      bar.dataset.digit = String(c);
      bar.innerHTML = '<span class="label"></span><span class="track"><span class="fill"></span></span><span class="value"></span>';
      bar.querySelector('.label')!.textContent = String(c);
      barList.append(bar);
      this.bars.push(bar);
    }
    this.show(null);
  }

  /** Marks the answer as stale (a newer drawing is being classified) or current. */
  setPending(pending: boolean): void {
    this.digit.dataset.pending = String(pending);
  }

  /** Shows an answer, or no answer with `note` saying why (nothing drawn, by default). */
  show(answer: DrawingAnswer | null, note = EMPTY_NOTE): void {
    const best = answer ? argmax(answer.probs) : -1;
    const sure = answer ? `${(answer.probs[best] * 100).toFixed(1)}% sure` : '';
    this.digit.textContent = answer ? String(best) : '–';
    this.digit.dataset.digit = answer ? String(best) : '';
    this.confidence.textContent = answer ? sure : note;
    this.sentence = answer ? `The model says ${best}, ${sure}.` : `${note[0].toUpperCase()}${note.slice(1)}.`;
    this.bars.forEach((bar, c) => {
      const p = answer ? answer.probs[c] : 0;
      bar.dataset.p = String(p);
      bar.classList.toggle('top', c === best);
      (bar.querySelector('.fill') as HTMLElement).style.width = `${(p * 100).toFixed(2)}%`;
      bar.querySelector('.value')!.textContent = answer ? `${(p * 100).toFixed(1)}%` : '';
    });
    this.drawPreview(answer?.input);
  }

  /** Reads the answer shown out to screen readers, unless it is what they heard last. */
  announce(): void {
    if (this.spoken.textContent !== this.sentence) this.spoken.textContent = this.sentence;
  }

  /** The model's view, light ink on black as in MNIST; the CSS scales it up without smoothing. */
  private drawPreview(input: Float32Array | undefined): void {
    const image = this.preview.createImageData(SIDE, SIDE);
    for (let i = 0; i < SIDE * SIDE; i++) {
      const v = Math.round((input ? input[i] : 0) * 255);
      image.data.set([v, v, v, 255], i * 4);
    }
    this.preview.putImageData(image, 0, 0);
  }
}

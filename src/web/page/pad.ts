// The drawing pad: pointer events (mouse, pen, touch) draw round strokes on a canvas.
// Strokes are kept in coordinates relative to the pad, so a resize redraws them crisply
// at the new size instead of losing them.

import { MAX_PIXEL_RATIO, PEN_FRACTION } from './pad-geometry.js';

interface Point {
  /** 0..1 across the pad. */
  x: number;
  /** 0..1 down the pad. */
  y: number;
}

const PAPER = '#ffffff';
/** Smaller than this, the pad is not laid out yet (MNIST's own images are 28 pixels). */
const MIN_PAD_PIXELS = 28;
const INK = '#111827';

export class Pad {
  private readonly ctx: CanvasRenderingContext2D;
  private strokes: Point[][] = [];
  /** The stroke each pointer down on the pad is drawing: two fingers draw two lines, not one zigzag. */
  private readonly active = new Map<number, Point[]>();
  private enabled = false;

  /**
   * `onChange` runs on every change of the drawing; it should be cheap (it only schedules work).
   * `onStrokeEnd` runs when the last pen or finger on the pad lifts.
   */
  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly onChange: () => void,
    private readonly onStrokeEnd: () => void,
  ) {
    // Read back on every change, so ask for a CPU-side canvas that makes getImageData cheap.
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error('this browser cannot draw on a canvas.');
    this.ctx = ctx;
    this.fitBackingStore();
    new ResizeObserver(() => {
      if (this.fitBackingStore()) this.onChange();
    }).observe(canvas);
    canvas.addEventListener('pointerdown', (e) => this.down(e));
    canvas.addEventListener('pointermove', (e) => this.move(e));
    for (const type of ['pointerup', 'pointercancel'] as const) {
      canvas.addEventListener(type, (e) => {
        if (this.active.delete(e.pointerId) && this.active.size === 0) this.onStrokeEnd();
      });
    }
  }

  /** Drawing is refused until a model is loaded. */
  setEnabled(enabled: boolean): void {
    this.enabled = enabled;
    this.canvas.classList.toggle('disabled', !enabled);
    this.canvas.setAttribute('aria-disabled', String(!enabled));
  }

  get isEmpty(): boolean {
    return this.strokes.length === 0;
  }

  /** The larger side of the ink's bounding box, pen width included, as a fraction of the pad's side (0 when empty). */
  get inkExtent(): number {
    if (this.isEmpty) return 0;
    let [left, top, right, bottom] = [Infinity, Infinity, -Infinity, -Infinity];
    for (const stroke of this.strokes) {
      for (const { x, y } of stroke) {
        [left, right, top, bottom] = [Math.min(left, x), Math.max(right, x), Math.min(top, y), Math.max(bottom, y)];
      }
    }
    return Math.max(right - left, bottom - top) + PEN_FRACTION;
  }

  clear(): void {
    this.strokes = [];
    this.active.clear();
    this.redraw();
    this.onChange();
  }

  /** The pixels as they are now, for the worker (which takes ownership of the buffer). */
  snapshot(): ImageData {
    return this.ctx.getImageData(0, 0, this.canvas.width, this.canvas.height);
  }

  /** Matches the backing store to the displayed size; true if it changed (and so was redrawn). */
  private fitBackingStore(): boolean {
    const ratio = Math.min(MAX_PIXEL_RATIO, Math.max(1, window.devicePixelRatio || 1));
    // Mid-layout (a window being resized, a page being captured) the pad can briefly measure a
    // few pixels; a drawing squeezed into those would read as a solid block, so wait for a real size.
    if (this.canvas.clientWidth < MIN_PAD_PIXELS) return false;
    const side = Math.round(this.canvas.clientWidth * ratio);
    if (this.canvas.width === side && this.canvas.height === side) return false;
    this.canvas.width = side;
    this.canvas.height = side;
    this.redraw();
    return true;
  }

  private point(e: PointerEvent): Point {
    const rect = this.canvas.getBoundingClientRect();
    return { x: (e.clientX - rect.left) / rect.width, y: (e.clientY - rect.top) / rect.height };
  }

  private down(e: PointerEvent): void {
    if (!this.enabled || (e.pointerType === 'mouse' && e.button !== 0)) return;
    e.preventDefault();
    // Keep receiving moves when the stroke leaves the canvas, so it is not cut short.
    this.canvas.setPointerCapture(e.pointerId);
    const stroke = [this.point(e)];
    this.active.set(e.pointerId, stroke);
    this.strokes.push(stroke);
    this.drawSegment(stroke[0], stroke[0]);
    this.onChange();
  }

  private move(e: PointerEvent): void {
    const stroke = this.active.get(e.pointerId);
    if (!stroke) return;
    // Pens and touch report more points than frames; use them all for a smooth line.
    const events = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
    for (const event of events.length > 0 ? events : [e]) {
      const p = this.point(event);
      this.drawSegment(stroke[stroke.length - 1], p);
      stroke.push(p);
    }
    this.onChange();
  }

  private drawSegment(from: Point, to: Point): void {
    const { ctx, canvas } = this;
    ctx.strokeStyle = INK;
    ctx.lineWidth = PEN_FRACTION * canvas.width;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    if (from.x === to.x && from.y === to.y) {
      // A tap: a line of no length draws nothing in Chromium, round cap or not, so a dot.
      ctx.fillStyle = INK;
      ctx.arc(from.x * canvas.width, from.y * canvas.height, ctx.lineWidth / 2, 0, 2 * Math.PI);
      ctx.fill();
      return;
    }
    ctx.moveTo(from.x * canvas.width, from.y * canvas.height);
    ctx.lineTo(to.x * canvas.width, to.y * canvas.height);
    ctx.stroke();
  }

  private redraw(): void {
    // Opaque white paper under dark ink, as grayFromPad reads the pad.
    this.ctx.fillStyle = PAPER;
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    for (const stroke of this.strokes) {
      for (let i = 0; i < stroke.length; i++) this.drawSegment(stroke[Math.max(0, i - 1)], stroke[i]);
    }
  }
}

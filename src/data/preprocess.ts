// MNIST's own preprocessing for a hand-drawn digit: crop to the ink, fit it into a 20x20
// box, then centre it by mass in a 28x28 field. No Node APIs: the web page reuses it.

import { UserError } from '../errors.js';

/** Side of an MNIST image. */
export const MNIST_SIDE = 28;
/** MNIST digits were scaled so their longer side fills this box inside the 28x28 field. */
const MNIST_BOX = 20;

/** A pixel counts as ink (for the crop only) above this fraction of the brightest pixel. */
const INK_THRESHOLD = 0.1;
/**
 * Ink must stand this far (of full scale, about 13 of 255 levels) above the background, or
 * the image holds no digit: paper's grain stays below it, the faintest pencil above.
 */
const MIN_CONTRAST = 0.05;
/** How far (of full scale, about 25 levels) paper's own pixels may stray from its level. */
const GRAIN = 0.1;

/**
 * RGBA bytes -> ink intensity 0 (background) .. 1 (ink), row-major.
 * Luminance is Rec. 601 (as PIL's 'L'); alpha is composited over white, since a drawing
 * on a transparent canvas is mostly dark strokes on nothing. Where that leaves no ink at
 * all, and the image has transparency, it is composited over black instead: light
 * strokes on a transparent canvas (a dark-mode drawing app's white ink) vanish over white.
 * If the border is mostly light (mean luminance > 0.5) the picture is dark-on-light, so it
 * is inverted to MNIST's light-on-dark polarity. Then the background's own level is taken
 * off (grey paper is not ink): MNIST's background is exactly 0, and left in, it made the
 * whole page the digit's bounding box.
 */
export function grayFromRgba(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): Float32Array {
  const n = width * height;
  if (rgba.length !== n * 4) throw new Error(`grayFromRgba: ${width}x${height} needs ${n * 4} bytes, got ${rgba.length}`);
  const luminance = new Float32Array(n);
  const alpha = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const p = i * 4;
    alpha[i] = rgba[p + 3] / 255;
    luminance[i] = luminanceAt(rgba, p);
  }
  const overWhite = inkOver(1, luminance, alpha, width, height);
  if (holdsInk(brightest(overWhite)) || alpha.every((a) => a === 1)) return overWhite;
  return inkOver(0, luminance, alpha, width, height);
}

/**
 * The page's drawing pad (dark ink on white paper) -> ink intensity 0..1. Nothing to guess:
 * grayFromRgba's border test took a drawing along the pad's edges, a frame or a 0 drawn
 * large, for dark paper, and read the page's white as the digit.
 */
export function grayFromPad(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): Float32Array {
  const n = width * height;
  if (rgba.length !== n * 4) throw new Error(`grayFromPad: ${width}x${height} needs ${n * 4} bytes, got ${rgba.length}`);
  const ink = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const alpha = rgba[i * 4 + 3] / 255;
    ink[i] = 1 - overBackdrop(luminanceAt(rgba, i * 4), alpha, 1);
  }
  return ink;
}

/** A pixel of `luminance` and `alpha` composited over a backdrop of luminance `backdrop` (1 white, 0 black). */
function overBackdrop(luminance: number, alpha: number, backdrop: number): number {
  return Math.min(1, luminance * alpha + backdrop * (1 - alpha));
}

/** Rec. 601 luminance (as PIL's 'L') of the pixel at byte `p`, 0..1. */
function luminanceAt(rgba: Uint8Array | Uint8ClampedArray, p: number): number {
  return (0.299 * rgba[p] + 0.587 * rgba[p + 1] + 0.114 * rgba[p + 2]) / 255;
}

/** The largest ink intensity (0 for none). */
function brightest(gray: Float32Array): number {
  let max = 0;
  for (let i = 0; i < gray.length; i++) if (gray[i] > max) max = gray[i];
  return max;
}

/** Whether ink whose brightest pixel is `max` holds a digit at all: something stands clear of the background. */
function holdsInk(max: number): boolean {
  return max > MIN_CONTRAST && Number.isFinite(max);
}

/** grayFromRgba's steps after the luminance, with transparent pixels showing `backdrop` (1 white, 0 black). */
function inkOver(backdrop: number, luminance: Float32Array, alpha: Float32Array, width: number, height: number): Float32Array {
  const n = width * height;
  const light = new Float32Array(n);
  for (let i = 0; i < n; i++) light[i] = overBackdrop(luminance[i], alpha[i], backdrop);
  const ring = borderValues(light, width, height);
  // No pixels at all counts as light, as on a blank canvas.
  const darkOnLight = ring.length === 0 || ring.reduce((sum, v) => sum + v, 0) / ring.length > 0.5;
  if (darkOnLight) {
    for (let i = 0; i < n; i++) light[i] = 1 - light[i];
    for (let i = 0; i < ring.length; i++) ring[i] = 1 - ring[i];
  }
  const background = backgroundLevel(ring);
  if (background > 0) {
    for (let i = 0; i < n; i++) light[i] = Math.max(0, (light[i] - background) / (1 - background));
  }
  return light;
}

/**
 * The background's level, from the outermost ring of pixels. Its palest third is paper
 * even where a digit, tightly cropped or drawn off the edges, covers most of the ring; the
 * ring's pixels near that (within GRAIN) are the paper, whose median plus twice its median
 * deviation is taken off, so the paper's grain goes with it. 0 for an empty image.
 */
function backgroundLevel(border: number[]): number {
  const ring = Float64Array.from(border).sort();
  if (ring.length === 0) return 0;
  const median = (sorted: Float64Array) => sorted[Math.floor((sorted.length - 1) / 2)];
  const rough = median(ring.subarray(0, Math.ceil(ring.length / 3))); // ink is high by now
  const paper = ring.filter((v) => Math.abs(v - rough) <= GRAIN);
  const level = median(paper);
  const deviation = median(Float64Array.from(paper, (v) => Math.abs(v - level)).sort());
  return Math.min(1 - MIN_CONTRAST, level + 2 * deviation);
}

/** The outermost ring of pixels, each once. */
function borderValues(values: Float32Array, width: number, height: number): number[] {
  const ring: number[] = [];
  for (let y = 0; y < height; y++) {
    const onEdgeRow = y === 0 || y === height - 1;
    for (let x = 0; x < width; x += onEdgeRow || width === 1 ? 1 : width - 1) ring.push(values[y * width + x]);
  }
  return ring;
}

/**
 * Ink intensities (0..1, any size) -> the 784 inputs an MNIST model expects:
 * crop to the ink's bounding box, scale the longer side to 20 pixels keeping the aspect
 * ratio, and place the result so its centre of mass falls on pixel (14, 14) — how the
 * MNIST images themselves were made. Ink is rescaled so the darkest stroke is 1.
 */
export function toMnistInput(gray: Float32Array, width: number, height: number): Float32Array {
  if (gray.length !== width * height) throw new Error(`toMnistInput: ${width}x${height} needs ${width * height} values, got ${gray.length}`);
  const max = brightest(gray);
  // A uniform page, or one whose marks barely differ from it (grain, a shadow), holds no digit.
  if (!holdsInk(max)) throw new UserError('the image is empty: no digit found.');

  // Bounding box of clear ink; faint specks below the threshold do not widen it.
  const threshold = INK_THRESHOLD * max;
  let x0 = width, x1 = -1, y0 = height, y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (gray[y * width + x] > threshold) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  const bw = x1 - x0 + 1;
  const bh = y1 - y0 + 1;
  const crop = new Float32Array(bw * bh);
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      const v = gray[(y + y0) * width + x + x0];
      crop[y * bw + x] = v > 0 ? Math.min(1, v / max) : 0; // also maps NaN to 0
    }
  }

  const scale = MNIST_BOX / Math.max(bw, bh);
  const nw = Math.max(1, Math.round(bw * scale));
  const nh = Math.max(1, Math.round(bh * scale));
  return centreByMass(resize(crop, bw, bh, nw, nh), nw, nh);
}

/** For each output index along one axis: the source indices it reads and their weights (summing to 1). */
function axisTaps(src: number, dst: number): { index: number[]; weight: number[] }[] {
  const taps: { index: number[]; weight: number[] }[] = [];
  const ratio = src / dst;
  for (let j = 0; j < dst; j++) {
    const index: number[] = [];
    const weight: number[] = [];
    if (dst < src) {
      // Shrinking: average the source span this pixel covers (a box filter), so a
      // one-pixel stroke fades instead of vanishing between samples.
      const a = j * ratio;
      const b = (j + 1) * ratio;
      for (let i = Math.floor(a); i < Math.min(src, Math.ceil(b)); i++) {
        const overlap = Math.min(b, i + 1) - Math.max(a, i);
        if (overlap > 0) {
          index.push(i);
          weight.push(overlap / ratio);
        }
      }
    } else {
      // Growing (or same size): bilinear between the two nearest source pixel centres.
      const s = Math.min(src - 1, Math.max(0, (j + 0.5) * ratio - 0.5));
      const i0 = Math.floor(s);
      const f = s - i0;
      index.push(i0, Math.min(src - 1, i0 + 1));
      weight.push(1 - f, f);
    }
    taps.push({ index, weight });
  }
  return taps;
}

/** Separable resize, rows first then columns. */
function resize(src: Float32Array, sw: number, sh: number, dw: number, dh: number): Float32Array {
  const xTaps = axisTaps(sw, dw);
  const yTaps = axisTaps(sh, dh);
  const wide = new Float32Array(sh * dw);
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < dw; x++) {
      const { index, weight } = xTaps[x];
      let sum = 0;
      for (let k = 0; k < index.length; k++) sum += weight[k] * src[y * sw + index[k]];
      wide[y * dw + x] = sum;
    }
  }
  const out = new Float32Array(dh * dw);
  for (let y = 0; y < dh; y++) {
    const { index, weight } = yTaps[y];
    for (let x = 0; x < dw; x++) {
      let sum = 0;
      for (let k = 0; k < index.length; k++) sum += weight[k] * wide[index[k] * dw + x];
      out[y * dw + x] = Math.min(1, Math.max(0, sum));
    }
  }
  return out;
}

/**
 * Places a small image into 28x28 so its centre of mass (in pixel-index coordinates, as
 * scipy's center_of_mass) lands on (14, 14), shifting by whole pixels and clipping ink
 * that would fall off the edge.
 */
function centreByMass(img: Float32Array, w: number, h: number): Float32Array {
  let mass = 0, mx = 0, my = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = img[y * w + x];
      mass += v;
      mx += x * v;
      my += y * v;
    }
  }
  const centre = MNIST_SIDE / 2;
  const dx = mass > 0 ? Math.round(centre - mx / mass) : Math.floor((MNIST_SIDE - w) / 2);
  const dy = mass > 0 ? Math.round(centre - my / mass) : Math.floor((MNIST_SIDE - h) / 2);
  const out = new Float32Array(MNIST_SIDE * MNIST_SIDE);
  for (let y = 0; y < h; y++) {
    const oy = y + dy;
    if (oy < 0 || oy >= MNIST_SIDE) continue;
    for (let x = 0; x < w; x++) {
      const ox = x + dx;
      if (ox >= 0 && ox < MNIST_SIDE) out[oy * MNIST_SIDE + ox] = img[y * w + x];
    }
  }
  return out;
}

// Hand-drawn digit -> MNIST inputs: cropping, 20-pixel fit, centring by mass, polarity,
// and reading real PNG files of several colour types and bit depths.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../src/errors.js';
import { readDigitPng } from '../src/data/png.js';
import { grayFromPad, grayFromRgba, toMnistInput } from '../src/data/preprocess.js';
import { loadCheckpoint } from '../src/checkpoint/store.js';
import { argmax, forward } from '../src/model/forward.js';
import { modelSpec } from '../src/model/spec.js';
import { pretrainedCheckpoint } from '../src/package-paths.js';
import { pixelsOf, realMnist } from './helpers.js';

type Rgba = [number, number, number, number];
const WHITE: Rgba = [255, 255, 255, 255];
const BLACK: Rgba = [0, 0, 0, 255];

function canvas(width: number, height: number, fill: Rgba): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) rgba.set(fill, p * 4);
  return rgba;
}

/** Fills the inclusive rectangle [x0..x1] x [y0..y1]. */
function rect(rgba: Uint8Array, width: number, x0: number, y0: number, x1: number, y1: number, color: Rgba): void {
  for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) rgba.set(color, (y * width + x) * 4);
}

/** A thick '1' (a bar with a flag at the top) on a 200x300 canvas. */
function drawOne(background: Rgba, ink: Rgba): Uint8Array {
  const rgba = canvas(200, 300, background);
  rect(rgba, 200, 90, 40, 115, 259, ink); // the stem, 26 x 220
  rect(rgba, 200, 60, 40, 89, 62, ink); // the flag
  return rgba;
}

function inkBox(img: Float32Array): { width: number; height: number } {
  let x0 = 28, x1 = -1, y0 = 28, y1 = -1;
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      if (img[y * 28 + x] > 0) {
        x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
      }
    }
  }
  return { width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

function centreOfMass(img: Float32Array): { x: number; y: number } {
  let m = 0, mx = 0, my = 0;
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const v = img[y * 28 + x];
      m += v; mx += x * v; my += y * v;
    }
  }
  return { x: mx / m, y: my / m };
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

function expectUserError(fn: () => unknown, message: string): void {
  const err = thrown(fn);
  expect(err).toBeInstanceOf(UserError);
  expect(err.message).toBe(message);
}

const EMPTY = 'the image is empty: no digit found.';
const oneInput = toMnistInput(grayFromRgba(drawOne(WHITE, BLACK), 200, 300), 200, 300);

describe('toMnistInput', () => {
  it('fits a thick 1 into 20 pixels and centres its mass at (14, 14)', () => {
    expect(oneInput).toHaveLength(784);
    const box = inkBox(oneInput);
    expect(Math.max(box.width, box.height)).toBe(20);
    expect(box.height).toBe(20);
    expect(box.width).toBeLessThan(20);
    const com = centreOfMass(oneInput);
    expect(Math.abs(com.x - 14)).toBeLessThanOrEqual(1);
    expect(Math.abs(com.y - 14)).toBeLessThanOrEqual(1);
    expect(Math.max(...oneInput)).toBeCloseTo(1, 5);
    expect(Math.min(...oneInput)).toBe(0);
  });

  it('gives the same input for dark-on-light, light-on-dark and ink on a transparent canvas', () => {
    const lightOnDark = toMnistInput(grayFromRgba(drawOne(BLACK, WHITE), 200, 300), 200, 300);
    const transparent = toMnistInput(grayFromRgba(drawOne([0, 0, 0, 0], BLACK), 200, 300), 200, 300);
    expect([...lightOnDark]).toEqual([...oneInput]);
    expect([...transparent]).toEqual([...oneInput]);
  });

  it('keeps a one-pixel outline visible when shrinking 14 times (area averaging)', () => {
    // A 280x280 square outline, inset so the canvas border stays white background.
    const rgba = canvas(300, 300, WHITE);
    rect(rgba, 300, 10, 10, 289, 10, BLACK);
    rect(rgba, 300, 10, 289, 289, 289, BLACK);
    rect(rgba, 300, 10, 10, 10, 289, BLACK);
    rect(rgba, 300, 289, 10, 289, 289, BLACK);
    const img = toMnistInput(grayFromRgba(rgba, 300, 300), 300, 300);
    const box = inkBox(img);
    expect(box).toEqual({ width: 20, height: 20 });
    // Every pixel of the outline's 20x20 ring still holds some ink.
    let ringInk = 0;
    for (let i = 0; i < 784; i++) if (img[i] > 0.05) ringInk++;
    expect(ringInk).toBe(4 * 20 - 4);
  });

  it('scales a small digit up so its longer side is 20 pixels', () => {
    const gray = new Float32Array(8 * 12);
    for (let y = 1; y <= 10; y++) for (let x = 2; x <= 6; x++) gray[y * 8 + x] = 0.5; // 5 x 10 of grey ink
    const img = toMnistInput(gray, 8, 12);
    expect(inkBox(img)).toEqual({ width: 10, height: 20 });
    expect(Math.max(...img)).toBeCloseTo(1, 5); // ink is rescaled so the darkest stroke is 1
  });

  it('refuses an empty image with one clear sentence', () => {
    expectUserError(() => toMnistInput(grayFromRgba(canvas(50, 40, WHITE), 50, 40), 50, 40), EMPTY);
    expectUserError(() => toMnistInput(grayFromRgba(canvas(50, 40, BLACK), 50, 40), 50, 40), EMPTY);
    expectUserError(() => toMnistInput(new Float32Array(0), 0, 0), EMPTY);
  });
});

describe('grayFromRgba', () => {
  it('uses luminance, composites alpha over white and inverts a light background', () => {
    const rgba = canvas(3, 3, WHITE);
    rgba.set([255, 0, 0, 255], 4 * 4); // the centre is pure red
    const gray = grayFromRgba(rgba, 3, 3);
    expect(gray[0]).toBeCloseTo(0, 6);
    expect(gray[4]).toBeCloseTo(1 - 0.299, 5);
    const faint = canvas(3, 3, WHITE);
    faint.set([0, 0, 0, 128], 4 * 4); // half-transparent black on white
    expect(grayFromRgba(new Uint8ClampedArray(faint), 3, 3)[4]).toBeCloseTo(128 / 255, 5);
  });

  it('reads light strokes on a transparent canvas (a dark-mode app) as it reads dark ones', () => {
    const clear: Rgba = [0, 0, 0, 0];
    const whiteInk = toMnistInput(grayFromRgba(drawOne(clear, WHITE), 200, 300), 200, 300);
    expect([...whiteInk]).toEqual([...oneInput]);
    expect([...toMnistInput(grayFromRgba(drawOne(clear, BLACK), 200, 300), 200, 300)]).toEqual([...oneInput]);
    // Dark ink on a white card inside transparent margins is still the card's ink, not the card.
    const card = canvas(220, 320, clear);
    const one = drawOne(WHITE, BLACK);
    for (let y = 0; y < 300; y++) card.set(one.subarray(y * 800, (y + 1) * 800), ((y + 10) * 220 + 10) * 4);
    expect([...toMnistInput(grayFromRgba(card, 220, 320), 220, 320)]).toEqual([...oneInput]);
  });
});

describe('grayFromPad (the page\'s pad: dark ink on white)', () => {
  const PAD_INK: Rgba = [17, 24, 39, 255]; // the page's ink colour, #111827

  it('reads a frame drawn along the edges as the frame, where the border test reads the paper as ink', () => {
    const frame = canvas(100, 100, WHITE);
    for (const [x0, y0, x1, y1] of [[0, 0, 99, 7], [0, 92, 99, 99], [0, 0, 7, 99], [92, 0, 99, 99]]) rect(frame, 100, x0, y0, x1, y1, PAD_INK);
    const inked = (img: Float32Array) => img.filter((v) => v > 0.5).length;
    const padInput = toMnistInput(grayFromPad(frame, 100, 100), 100, 100);
    const guessedInput = toMnistInput(grayFromRgba(frame, 100, 100), 100, 100);
    // The frame's 20x20 box: its outline is ink, its middle is not.
    expect(padInput[14 * 28 + 14]).toBe(0);
    expect(inked(padInput)).toBeLessThan(150);
    // Most of the border is ink, so grayFromRgba takes it for dark paper: the middle becomes the digit.
    expect(guessedInput[14 * 28 + 14]).toBeGreaterThan(0.5);
  });

  it('reads an ordinary drawing as grayFromRgba does', () => {
    const one = drawOne(WHITE, PAD_INK);
    expect(toMnistInput(grayFromPad(one, 200, 300), 200, 300)).toEqual(toMnistInput(grayFromRgba(one, 200, 300), 200, 300));
  });
});

describe('readDigitPng', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nnfs-png-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function writePng(name: string, png: PNG, options: Parameters<typeof PNG.sync.write>[1]): string {
    const path = join(dir, name);
    writeFileSync(path, PNG.sync.write(png, options));
    return path;
  }

  /** A byte of the IHDR chunk as written: 24 is the bit depth, 25 the colour type. */
  function headerByte(path: string, offset: number): number {
    return readFileSync(path)[offset];
  }

  function rgbaPng(rgba: Uint8Array, width: number, height: number): PNG {
    const png = new PNG({ width, height });
    png.data = Buffer.from(rgba);
    return png;
  }

  it('reads an 8-bit RGBA PNG', () => {
    const path = writePng('rgba.png', rgbaPng(drawOne(WHITE, BLACK), 200, 300), {});
    expect([...readDigitPng(path)]).toEqual([...oneInput]);
  });

  it('reads an RGB PNG without alpha', () => {
    const path = writePng('rgb.png', rgbaPng(drawOne(WHITE, BLACK), 200, 300), { colorType: 2 });
    expect(headerByte(path, 25)).toBe(2); // colour type 2: RGB, no alpha
    expect([...readDigitPng(path)]).toEqual([...oneInput]);
  });

  it('reads a 16-bit grayscale PNG', () => {
    const rgba = drawOne(WHITE, BLACK);
    const gray16 = new Uint16Array(200 * 300);
    for (let p = 0; p < gray16.length; p++) gray16[p] = rgba[p * 4] === 255 ? 65535 : 0;
    const png = new PNG({ width: 200, height: 300, bitDepth: 16, colorType: 0, inputColorType: 0, inputHasAlpha: false });
    png.data = Buffer.from(gray16.buffer);
    const path = writePng('gray16.png', png, { bitDepth: 16, colorType: 0, inputColorType: 0, inputHasAlpha: false });
    expect(headerByte(path, 24)).toBe(16); // bit depth
    expect(headerByte(path, 25)).toBe(0); // colour type 0: grayscale
    expect([...readDigitPng(path)]).toEqual([...oneInput]);
  });

  it('says so when there is no file', () => {
    const path = join(dir, 'nothing-here.png');
    expectUserError(() => readDigitPng(path), `no image at ${path}.`);
  });

  it('refuses a file that is not a PNG', () => {
    const path = join(dir, 'notes.png');
    writeFileSync(path, 'this is text, not an image\n');
    expectUserError(() => readDigitPng(path), `${path} is not a readable PNG image (it does not start with the PNG signature).`);
  });

  it('refuses a truncated PNG', () => {
    const whole = PNG.sync.write(rgbaPng(drawOne(WHITE, BLACK), 200, 300));
    const path = join(dir, 'truncated.png');
    writeFileSync(path, whole.subarray(0, Math.floor(whole.length / 2)));
    expectUserError(() => readDigitPng(path), `${path} is not a readable PNG image (the file ends too early).`);
  });

  it('refuses an empty file and a folder', () => {
    const path = join(dir, 'empty.png');
    writeFileSync(path, '');
    expectUserError(() => readDigitPng(path), `${path} is not a readable PNG image (the file is empty).`);
    expectUserError(() => readDigitPng(dir), `${dir} is not a readable PNG image (it is a folder).`);
  });

  it('names what is wrong with a malformed header or chunk list, and reads past junk after IEND', () => {
    const good = PNG.sync.write(rgbaPng(drawOne(WHITE, BLACK), 200, 300));
    const chunk = (type: string, data = Buffer.alloc(0)) => {
      const head = Buffer.alloc(8);
      head.writeUInt32BE(data.length, 0);
      head.write(type, 4, 'latin1');
      return Buffer.concat([head, data, Buffer.alloc(4)]); // a CRC of 0: refused before it is checked
    };
    const iend = good.length - 12; // IEND is the last chunk, 12 bytes
    const patched = (offset: number, value: number) => {
      const copy = Buffer.from(good);
      copy[offset] = value;
      return copy;
    };
    const cases: [string, Buffer, string][] = [
      ['colour type', patched(25, 5), 'its header names colour type 5, which PNG does not have'],
      ['bit depth', patched(24, 7), 'its header names bit depth 7 for colour type 6, where PNG allows 8, 16'],
      ['compression', patched(26, 1), 'its header names compression method 1; PNG has only 0'],
      ['interlace', patched(28, 2), 'its header names interlace method 2; PNG has 0 and 1'],
      ['first chunk', Buffer.concat([good.subarray(0, 8), chunk('tEXt'), good.subarray(8)]), 'its first chunk is not the IHDR header'],
      ['unknown chunk', Buffer.concat([good.subarray(0, iend), chunk('ABCD'), good.subarray(iend)]), 'it holds a chunk ("ABCD") that a reader may not skip and this one does not know'],
      ['no image data', Buffer.concat([good.subarray(0, 33), good.subarray(iend)]), 'it holds no image data'],
    ];
    for (const [name, bytes, reason] of cases) {
      const path = join(dir, `bad-${name.replaceAll(' ', '-')}.png`);
      writeFileSync(path, bytes);
      expectUserError(() => readDigitPng(path), `${path} is not a readable PNG image (${reason}).`);
    }
    const trailing = writePng('trailing.png', rgbaPng(drawOne(WHITE, BLACK), 200, 300), {});
    writeFileSync(trailing, Buffer.concat([readFileSync(trailing), Buffer.from('junk after the end')]));
    expect([...readDigitPng(trailing)]).toEqual([...oneInput]);
  });

  /**
   * An 8-bit grey PNG written by hand: Adam7-interlaced or not, its image data cut to `keep`
   * of its inflated bytes or `extra` zero bytes longer, and `stray` bytes after the stream.
   */
  function grayPng(gray: Uint8Array, width: number, height: number, interlaced: boolean, { keep = 1, extra = 0, stray = 0 } = {}): Buffer {
    const passes = interlaced ? [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] : [[0, 0, 1, 1]];
    const raw: number[] = [];
    for (const [x0, y0, dx, dy] of passes) {
      if (x0 >= width) continue; // an empty pass has no rows at all, not even filter bytes
      for (let y = y0; y < height; y += dy) {
        raw.push(0); // filter type None
        for (let x = x0; x < width; x += dx) raw.push(gray[y * width + x]);
      }
    }
    const chunk = (type: string, data: Buffer) => {
      const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
      const framed = Buffer.alloc(12 + data.length);
      framed.writeUInt32BE(data.length, 0);
      body.copy(framed, 4);
      framed.writeUInt32BE(crc32(body), 8 + data.length);
      return framed;
    };
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(width, 0);
    ihdr.writeUInt32BE(height, 4);
    ihdr.set([8, 0, 0, 0, interlaced ? 1 : 0], 8);
    const inflated = Buffer.concat([Buffer.from(raw.slice(0, Math.floor(raw.length * keep))), Buffer.alloc(extra)]);
    const data = Buffer.concat([deflateSync(inflated), Buffer.alloc(stray, 7)]);
    return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', data), chunk('IEND', Buffer.alloc(0))]);
  }

  it('reads an interlaced PNG as the same image written plainly, whatever its size', () => {
    for (const [width, height] of [[200, 300], [13, 9], [5, 7], [3, 2], [9, 1]]) {
      const gray = new Uint8Array(width * height).fill(255);
      for (let p = 0; p < gray.length; p += 3) gray[p] = 0; // ink on every third pixel: every pass has some
      const plain = join(dir, `plain-${width}x${height}.png`);
      const interlaced = join(dir, `interlaced-${width}x${height}.png`);
      writeFileSync(plain, grayPng(gray, width, height, false));
      writeFileSync(interlaced, grayPng(gray, width, height, true));
      expect(readFileSync(interlaced)[28]).toBe(1); // the header's interlace method: Adam7
      expect([...readDigitPng(interlaced)]).toEqual([...readDigitPng(plain)]);
    }
  });

  it('refuses a PNG whose image data stops short, rather than decode whatever memory follows', () => {
    const gray = new Uint8Array(30 * 40).fill(255);
    // 40 rows of a filter byte and 30 pixels; interlaced, the seven passes' rows (25 + 25 + 45 + 80 + 160 + 320 + 620 bytes).
    for (const [interlaced, needed] of [[false, 1240], [true, 1275]] as const) {
      const path = join(dir, `short-${interlaced}.png`);
      writeFileSync(path, grayPng(gray, 30, 40, interlaced, { keep: 0.5 }));
      expectUserError(() => readDigitPng(path), `${path} is not a readable PNG image (its image data is cut short: ${Math.floor(needed / 2)} of the ${needed} bytes the image needs).`);
    }
  });

  it('refuses image data longer than the header says, or bytes after its stream, for what they are', () => {
    // pngjs said "the file ends too early" for these, or, for 3 MB too many, "have should not go down".
    const gray = new Uint8Array(30 * 40).fill(255);
    for (const extra of [1, 31, 3_000_000]) {
      const path = join(dir, `long-${extra}.png`);
      writeFileSync(path, grayPng(gray, 30, 40, false, { extra }));
      expectUserError(() => readDigitPng(path), `${path} is not a readable PNG image (its image data is longer than the 1240 bytes its 30x40 header needs).`);
    }
    const stray = join(dir, 'stray.png');
    writeFileSync(stray, grayPng(gray, 30, 40, false, { stray: 5 }));
    expectUserError(() => readDigitPng(stray), `${stray} is not a readable PNG image (its image data has 5 stray bytes after its compressed stream ends).`);
  });

  it('treats a 0x0 PNG and an all-white PNG as empty images', () => {
    const zero = writePng('zero.png', new PNG({ width: 0, height: 0 }), {});
    expectUserError(() => readDigitPng(zero), `${zero}: ${EMPTY}`);
    const blank = writePng('blank.png', rgbaPng(canvas(30, 30, WHITE), 30, 30), {});
    expectUserError(() => readDigitPng(blank), `${blank}: ${EMPTY}`);
  });
});

describe('digits on grey paper', () => {
  const { test } = realMnist();
  const testPixels = pixelsOf(test);
  const model = loadCheckpoint(pretrainedCheckpoint());

  interface Drawing {
    paper: number;
    ink: number;
    /** Up to ± this much grain (a fixed pseudo-random pattern). */
    grain?: number;
    /** Cropped to the pixels above 100, so the digit touches every edge. */
    tight?: boolean;
  }

  /** Test image k drawn 4x4 pixels to each of MNIST's. */
  function draw(k: number, { paper, ink, grain = 0, tight = false }: Drawing): { rgba: Uint8Array; width: number; height: number } {
    const at = (x: number, y: number) => testPixels[k * 784 + y * 28 + x];
    let x0 = 0, y0 = 0, x1 = 27, y1 = 27;
    if (tight) {
      [x0, y0, x1, y1] = [28, 28, -1, -1];
      for (let y = 0; y < 28; y++) {
        for (let x = 0; x < 28; x++) {
          if (at(x, y) > 100) [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
        }
      }
    }
    const width = 4 * (x1 - x0 + 1);
    const height = 4 * (y1 - y0 + 1);
    const rgba = new Uint8Array(width * height * 4);
    let seed = k + 1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        const noise = Math.round(((seed / 2 ** 32) * 2 - 1) * grain);
        const share = at(x0 + (x >> 2), y0 + (y >> 2)) / 255;
        const v = Math.max(0, Math.min(255, Math.round(paper - (paper - ink) * share + noise)));
        rgba.set([v, v, v, 255], (y * width + x) * 4);
      }
    }
    return { rgba, width, height };
  }

  /** How many of the first 50 test digits, so drawn, the shipped model gets right. */
  async function correct(drawing: Drawing): Promise<number> {
    const { sizes, params } = await model;
    const spec = modelSpec(sizes);
    const probs = new Float32Array(10);
    let right = 0;
    for (let k = 0; k < 50; k++) {
      const { rgba, width, height } = draw(k, drawing);
      forward(spec, params, toMnistInput(grayFromRgba(rgba, width, height), width, height), probs);
      if (argmax(probs) === test.labels[k]) right++;
    }
    return right;
  }

  it('reads test digits drawn on grey, grainy paper as well as on white (the paper is not ink)', async () => {
    const white = await correct({ paper: 255, ink: 30 });
    expect(white).toBeGreaterThanOrEqual(48);
    // Before the background's level was taken off: 15 and 2 of 50.
    expect(await correct({ paper: 215, ink: 30, grain: 3 })).toBeGreaterThanOrEqual(white - 1);
    expect(await correct({ paper: 180, ink: 30, grain: 5 })).toBeGreaterThanOrEqual(white - 1);
  });

  it('keeps digits that cover most of the border (cropped tight, in grey ink) and faint pencil', async () => {
    const white = await correct({ paper: 255, ink: 30 });
    // Taking the whole border's median as the paper's level erased 11 of 300 of the first kind, all of the second.
    expect(await correct({ paper: 255, ink: 120, tight: true })).toBeGreaterThanOrEqual(white - 1);
    expect(await correct({ paper: 230, ink: 80, tight: true })).toBeGreaterThanOrEqual(white - 1);
    expect(await correct({ paper: 255, ink: 235 })).toBeGreaterThanOrEqual(white - 1);
  });

  it('finds no digit on a blank grey page, grain and all', () => {
    const page = canvas(100, 100, [200, 200, 200, 255]);
    for (let i = 0; i < page.length; i += 4) page.fill(200 + ((i * 7919) % 7) - 3, i, i + 3);
    expectUserError(() => toMnistInput(grayFromRgba(page, 100, 100), 100, 100), EMPTY);
  });
});

// `nnfs serve` in a real browser: Debian's headless Chromium, driven by playwright-core
// (never a browser download), draws MNIST test digits onto the pad with real pointer
// events and checks the model's answer, the bars, the test digits and the curves.
// Skipped, with the reason, where /usr/bin/chromium (or NNFS_CHROMIUM) is missing (apt-get install -y chromium).
// Set NNFS_SCREENSHOT=/path/page.png to keep a screenshot of the page with the shipped model
// (how docs/screenshot.png, in the README, was made).

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readDatWeights } from '../src/checkpoint/dat-import.js';
import { pretrainedCheckpoint } from '../src/package-paths.js';
import { loadCheckpoint, saveCheckpoint } from '../src/checkpoint/store.js';
import { DEFAULTS, ORIGINAL_RECIPE } from '../src/config.js';
import { imagePixels, type Dataset } from '../src/data/dataset.js';
import { toMnistInput } from '../src/data/preprocess.js';
import { argmax, forward } from '../src/model/forward.js';
import { modelSpec } from '../src/model/spec.js';
import { PEN_FRACTION } from '../src/web/page/pad-geometry.js';
import { loadTestSplit } from '../src/web/samples.js';
import { CLI, ORIGINAL_WEIGHTS, ROOT } from './helpers.js';

const CHROMIUM = process.env.NNFS_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) console.warn(`skipping the browser tests: no ${CHROMIUM} (install it with apt-get install -y chromium).`);

/** Ink pixels at or above this value are traced with the pen. */
const INK = 128;
/** Side of the simulated pad; only proportions matter, since the pen scales with the pad. */
const SIM = 280;

/** The test digit's ink as horizontal runs, one stroke each, in 0..1 pad coordinates. */
function strokesOf(pixels: Uint8Array): { from: [number, number]; to: [number, number] }[] {
  const strokes: { from: [number, number]; to: [number, number] }[] = [];
  for (let y = 0; y < 28; y++) {
    let x = 0;
    while (x < 28) {
      if (pixels[y * 28 + x] < INK) {
        x++;
        continue;
      }
      const start = x;
      while (x < 28 && pixels[y * 28 + x] >= INK) x++;
      strokes.push({ from: [(start + 0.5) / 28, (y + 0.5) / 28], to: [(x - 0.5) / 28, (y + 0.5) / 28] });
    }
  }
  return strokes;
}

/** What the pad will hold after those strokes: round-capped lines of the page's pen width (anti-aliasing aside). */
function simulateDrawing(strokes: ReturnType<typeof strokesOf>): Float32Array {
  const gray = new Float32Array(SIM * SIM);
  const r = (PEN_FRACTION * SIM) / 2;
  for (const { from, to } of strokes) {
    const [ax, ay, bx] = [from[0] * SIM, from[1] * SIM, to[0] * SIM]; // horizontal: to[1] is from[1]
    for (let py = Math.floor(ay - r); py <= Math.ceil(ay + r); py++) {
      for (let px = Math.floor(Math.min(ax, bx) - r); px <= Math.ceil(Math.max(ax, bx) + r); px++) {
        if (px < 0 || py < 0 || px >= SIM || py >= SIM) continue;
        // Distance from the pixel centre to the (horizontal) segment.
        const cx = px + 0.5;
        const cy = py + 0.5;
        const nx = Math.min(Math.max(cx, Math.min(ax, bx)), Math.max(ax, bx));
        if ((cx - nx) ** 2 + (cy - ay) ** 2 <= r * r) gray[py * SIM + px] = 1;
      }
    }
  }
  return gray;
}

/**
 * The first test digit with `label` that the model, fed a simulated drawing of it, gets
 * right with confidence: so a wrong answer in the browser points at the page, not at
 * a digit the model cannot read.
 */
function pickDigit(test: Dataset, label: number, sizes: number[], params: Float32Array): { index: number; strokes: ReturnType<typeof strokesOf> } {
  const spec = modelSpec(sizes);
  const probs = new Float32Array(10);
  for (let index = 0; index < test.count; index++) {
    if (test.labels[index] !== label) continue;
    const strokes = strokesOf(imagePixels(test, index));
    forward(spec, params, toMnistInput(simulateDrawing(strokes), SIM, SIM), probs);
    if (argmax(probs) === label && probs[label] > 0.95) return { index, strokes };
  }
  throw new Error(`no test digit ${label} that the model reads confidently when drawn`);
}

/** The original project's weights if this machine has them, else one quick epoch of training. */
async function makeRun(dir: string): Promise<string> {
  if (existsSync(ORIGINAL_WEIGHTS)) {
    const { sizes, params } = readDatWeights(ORIGINAL_WEIGHTS);
    return saveCheckpoint(dir, 'original.safetensors', {
      config: { ...DEFAULTS, ...ORIGINAL_RECIPE, hidden: [16], epochs: 200 },
      sizes,
      position: { epoch: 200, step: 0, globalStep: 0, partialLossSum: 0, partialSamples: 0 },
      dataFingerprint: 'original-weights',
      params,
      optimizerState: {},
    });
  }
  execFileSync(process.execPath, [CLI, 'train', '--epochs', '1', '--out', dir], { cwd: ROOT, stdio: 'ignore' });
  return join(dir, 'last.safetensors');
}

interface Served {
  url: string;
  stop: () => Promise<void>;
}

/** Starts `nnfs serve` on a free port and waits for the URL it prints. */
function serve(checkpoint: string): Promise<Served> {
  const proc: ChildProcess = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--checkpoint', checkpoint], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((done) => proc.once('exit', () => done()));
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`serve did not start; stderr: ${err}`)), 30_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /^serving .+ at (http:\/\/\S+)$/m.exec(out)?.[1];
      if (!url) return;
      clearTimeout(timer);
      done({ url, stop: () => (proc.kill('SIGINT'), exited) });
    });
    void exited.then(() => fail(new Error(`serve exited early; stderr: ${err}`)));
  });
}

/** Traces the strokes on the pad with the mouse: real pointerdown/move/up events, scaled to the pad's size on screen. */
async function draw(page: Page, strokes: ReturnType<typeof strokesOf>): Promise<void> {
  const box = (await page.locator('#pad').boundingBox())!;
  const at = ([x, y]: [number, number]) => [box.x + x * box.width, box.y + y * box.height] as const;
  for (const { from, to } of strokes) {
    await page.mouse.move(...at(from));
    await page.mouse.down();
    await page.mouse.move(...at(to), { steps: Math.max(1, Math.round((to[0] - from[0]) * 28)) });
    await page.mouse.up();
  }
}

/** The answer once the page has classified the latest drawing. */
async function answer(page: Page): Promise<{ digit: string; probs: number[] }> {
  await page.waitForSelector('#prediction[data-pending="false"]');
  const digit = (await page.getAttribute('#prediction', 'data-digit')) ?? '';
  const probs = await page.$$eval('.bar', (bars) => bars.map((b) => Number((b as HTMLElement).dataset.p)));
  return { digit, probs };
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

describe.skipIf(!HAVE_CHROMIUM)(`nnfs serve in headless Chromium (${CHROMIUM})`, { timeout: 60_000 }, () => {
  let dir: string;
  let checkpoint: string;
  let served: Served;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist', 'web', 'index.html'))) throw new Error('the page is not built; run `npm run build` (npm test does it) first.');
    dir = mkdtempSync(join(tmpdir(), 'nnfs-browser-'));
    checkpoint = await makeRun(join(dir, 'run'));
    // A real run writes metrics.jsonl; the imported weights get a small one in the same format.
    if (!existsSync(join(dir, 'run', 'metrics.jsonl'))) {
      const lines = [0.52, 0.31, 0.27].map((testLoss, i) =>
        JSON.stringify({ epoch: i + 1, trainLoss: testLoss + 0.05, testLoss, testAccuracy: 0.86 + 0.03 * i, seconds: 1, samplesPerSecond: 60000 }),
      );
      writeFileSync(join(dir, 'run', 'metrics.jsonl'), lines.join('\n') + '\n');
    }
    served = await serve(checkpoint);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1180, height: 1000 } });
    page.on('console', (m) => void (m.type() === 'error' && consoleErrors.push(m.text())));
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    await page.goto(served.url);
    await page.waitForSelector('body[data-model="ready"]', { timeout: 15_000 });
  }, 120_000);

  /** The fixture's model as last.safetensors in `folder`, saying it has trained `epoch` epochs: the page draws curves up to there. */
  async function modelAtEpoch(folder: string, epoch: number): Promise<void> {
    const c = await loadCheckpoint(checkpoint);
    await saveCheckpoint(folder, 'last.safetensors', { ...c, position: { ...c.position, epoch } });
  }

  /** Serves `file` (a checkpoint or run folder) on a server of its own, opens it in a fresh page for `check`, then closes both. */
  async function onOwnServer(file: string, check: (page: Page, server: Served) => Promise<void>): Promise<void> {
    const server = await serve(file);
    const own = await browser.newPage();
    try {
      await own.goto(server.url);
      await check(own, server);
    } finally {
      await own.close();
      await server.stop();
    }
  }

  // Whatever a test did on the shared page, it logged no error in the browser's console.
  afterEach(() => {
    expect(consoleErrors.splice(0)).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await served?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reads a drawn 3 and a drawn 7 as 3 and 7, bars summing to 1, and clears', async () => {
    const { sizes, params } = await loadCheckpoint(checkpoint);
    const test = loadTestSplit();
    for (const label of [3, 7]) {
      const { strokes } = pickDigit(test, label, sizes, params);
      await page.click('#clear');
      await draw(page, strokes);
      const { digit, probs } = await answer(page);
      expect(digit).toBe(String(label));
      expect(probs).toHaveLength(10);
      expect(Math.abs(sum(probs) - 1)).toBeLessThan(1e-3);
      expect(probs.indexOf(Math.max(...probs))).toBe(label);
      // The preview shows what the model saw: some ink on the 28x28 canvas.
      const inked = await page.$eval('#preview', (c) => {
        const data = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 28, 28).data;
        let n = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i] > 0) n++;
        return n;
      });
      expect(inked).toBeGreaterThan(30);
    }
    await page.click('#clear');
    const cleared = await answer(page);
    expect(cleared.digit).toBe('');
    expect(sum(cleared.probs)).toBe(0);
  });

  it('shows test digits with the model’s answers, mistakes marked', async () => {
    await page.waitForSelector('#samples .sample');
    const samples = await page.$$eval('#samples .sample', (figures) =>
      figures.map((f) => ({ label: (f as HTMLElement).dataset.label, predicted: (f as HTMLElement).dataset.predicted, mistake: f.classList.contains('mistake') })),
    );
    expect(samples).toHaveLength(24);
    for (const s of samples) expect(s.mistake).toBe(s.label !== s.predicted);
    // A 92%-accurate model gets most of 24 digits right.
    expect(samples.filter((s) => !s.mistake).length).toBeGreaterThanOrEqual(16);
  });

  it('names its pictures for screen readers: the pad, the preview and each test digit', async () => {
    await page.waitForSelector('#samples .sample');
    // A canvas has no implicit role: without role="img" its aria-label names nothing.
    expect(await page.getByRole('img', { name: 'Drawing pad: draw one digit from 0 to 9' }).count()).toBe(1);
    expect(await page.getByRole('img', { name: 'The 28 by 28 image the model sees' }).count()).toBe(1);
    expect(await page.getByRole('img', { name: /^test image #\d+, labelled \d; the model reads \d, \d+\.\d% sure$/ }).count()).toBe(24);
  });

  it('draws the training curves from metrics.jsonl', async () => {
    const lines = (await (await fetch(new URL('metrics.jsonl', served.url))).text()).trim().split('\n').length;
    await page.waitForSelector('#charts svg');
    expect(await page.getAttribute('#curves', 'data-points')).toBe(String(lines));
    expect(await page.$$eval('#charts svg', (svgs) => svgs.map((s) => s.getAttribute('data-points')))).toEqual([String(lines), String(lines)]);
    expect(await page.locator('#charts polyline').count()).toBe(3);
    expect(await page.locator('#charts').isVisible()).toBe(true);
  });

  it.skipIf(!process.env.NNFS_SCREENSHOT)('keeps a screenshot of the shipped model when NNFS_SCREENSHOT names a file', async () => {
    const target = process.env.NNFS_SCREENSHOT!;
    const { sizes, params } = await loadCheckpoint(pretrainedCheckpoint());
    await onOwnServer(pretrainedCheckpoint(), async (own) => {
      await own.setViewportSize({ width: 1180, height: 1000 });
      await own.waitForSelector('body[data-model="ready"]', { timeout: 15_000 });
      await own.waitForSelector('#charts svg');
      await draw(own, pickDigit(loadTestSplit(), 3, sizes, params).strokes);
      await answer(own);
      mkdirSync(dirname(resolve(target)), { recursive: true });
      await own.screenshot({ path: target, fullPage: true });
    });
  });

  it('the same server refuses traversal and writes', async () => {
    // fetch() would fold the `..` before sending, so send the raw path with node:http.
    const { request } = await import('node:http');
    const { hostname, port } = new URL(served.url);
    const status = (method: string, path: string) =>
      new Promise<number>((done, fail) => request({ host: hostname, port, method, path }, (res) => (res.resume(), done(res.statusCode ?? 0))).on('error', fail).end());
    expect(await status('GET', '/../package.json')).toBe(404);
    expect(await status('POST', '/')).toBe(405);
  });

  it('without metrics.jsonl the curves panel hides behind a note', async () => {
    const bare = join(dir, 'bare');
    mkdirSync(bare);
    copyFileSync(checkpoint, join(bare, 'model.safetensors'));
    await onOwnServer(join(bare, 'model.safetensors'), async (second) => {
      await second.waitForSelector('#curves-note:has-text("No training curves")');
      expect(await second.getAttribute('#curves', 'data-points')).toBe('0');
      expect(await second.locator('#charts').isHidden()).toBe(true);
    });
  });

  it('draws the curves up to the epoch of the model it was given, when a training run has logged more', async () => {
    const ahead = join(dir, 'ahead');
    mkdirSync(ahead);
    // The shipped model holds epoch 8; a run training into the folder may have logged a 9th and 10th since.
    copyFileSync(pretrainedCheckpoint(), join(ahead, 'last.safetensors'));
    const line = (epoch: number) => JSON.stringify({ epoch, trainLoss: 0.3 / epoch, testLoss: 0.3 / epoch, testAccuracy: 0.9, seconds: 1, samplesPerSecond: 6e5 });
    writeFileSync(join(ahead, 'metrics.jsonl'), Array.from({ length: 10 }, (_, i) => line(i + 1)).join('\n') + '\n');
    await onOwnServer(join(ahead, 'last.safetensors'), async (second) => {
      await second.waitForSelector('#charts svg');
      expect(await second.textContent('#model-info')).toContain('8 epochs');
      expect(await second.getAttribute('#curves', 'data-points')).toBe('8');
      expect(await second.textContent('#curves-note')).toMatch(/^8 epochs; /);
    });
    // Saved in the middle of the first epoch (epoch 0, but trained: not imported weights), it has no curve yet.
    const early = join(dir, 'early');
    const shipped = await loadCheckpoint(pretrainedCheckpoint());
    await saveCheckpoint(early, 'last.safetensors', { ...shipped, position: { ...shipped.position, epoch: 0, step: 500, globalStep: 500 } });
    writeFileSync(join(early, 'metrics.jsonl'), line(1) + '\n');
    await onOwnServer(join(early, 'last.safetensors'), async (second) => {
      await second.waitForSelector('body[data-model="ready"]');
      await second.waitForFunction(() => !document.querySelector('#curves-note')!.textContent!.startsWith('loading'));
      expect(await second.getAttribute('#curves', 'data-points')).toBe('0');
      expect(await second.textContent('#curves-note')).toBe('The run’s metrics.jsonl holds no finished epoch yet.');
    });
  });

  it('labels a flat line once, and a huge loss so it fits the axis', async () => {
    const flat = join(dir, 'flat');
    mkdirSync(flat);
    await modelAtEpoch(flat, 2);
    const line = (epoch: number, testLoss: number) => JSON.stringify({ epoch, trainLoss: 0.3, testLoss, testAccuracy: 0.93, seconds: 1, samplesPerSecond: 6e5 });
    writeFileSync(join(flat, 'metrics.jsonl'), [line(1, 0.25), line(2, 2e7)].join('\n') + '\n');
    await onOwnServer(flat, async (second) => {
      await second.waitForSelector('#charts svg');
      const [loss, accuracy] = await second.locator('#charts svg').all();
      expect(await accuracy.locator('text.tick').allTextContents()).toEqual(['93.0%', '1', '2']);
      for (const label of await loss.locator('text.tick').allTextContents()) expect(label.length).toBeLessThanOrEqual(8);
    });
  });

  it('a tap leaves a dot, too small to be read as a digit', async () => {
    await page.click('#clear');
    const box = (await page.locator('#pad').boundingBox())!;
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await answer(page);
    // The dot is drawn (a line of no length draws nothing in Chromium)...
    const ink = await page.$eval('#pad', (c) => {
      const canvas = c as HTMLCanvasElement;
      return canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data.filter((v, i) => i % 4 === 0 && v < 128).length;
    });
    expect(ink).toBeGreaterThan(0);
    // ...but not read: blown up to fill MNIST's box, it was an 8 at 98%.
    expect(await page.getAttribute('#prediction', 'data-digit')).toBe('');
    expect(await page.textContent('#confidence')).toBe('too small to read: draw the digit larger');
    await page.click('#clear');
  });

  it('tells screen readers the answer once a stroke ends, not at every move', async () => {
    const { sizes, params } = await loadCheckpoint(checkpoint);
    const { strokes } = pickDigit(loadTestSplit(), 3, sizes, params);
    const spoken = () => page.textContent('#spoken');
    await page.click('#clear');
    await expect.poll(spoken).toBe('Draw a digit.');
    await page.evaluate(() => {
      const counted = window as unknown as { spokenChanges: number };
      counted.spokenChanges = 0;
      new MutationObserver((records) => (counted.spokenChanges += records.length)).observe(document.querySelector('#spoken')!, { childList: true, characterData: true, subtree: true });
    });
    await draw(page, strokes);
    await answer(page);
    await expect.poll(spoken).toMatch(/^The model says 3, \d+\.\d% sure\.$/);
    const changes = await page.evaluate(() => (window as unknown as { spokenChanges: number }).spokenChanges);
    expect(changes).toBeGreaterThan(0);
    expect(changes).toBeLessThanOrEqual(strokes.length);
    // The big digit itself is no longer a live region, rewritten with every answer.
    expect(await page.getAttribute('#prediction', 'aria-live')).toBeNull();
    await page.click('#clear');
    await expect.poll(spoken).toBe('Draw a digit.');
  });

  it('text has 4.5:1 contrast and the pad\'s edge and the train curve 3:1 (WCAG AA)', async () => {
    await page.waitForSelector('#charts svg');
    const colours = await page.evaluate(() => {
      const style = (selector: string) => getComputedStyle(document.querySelector(selector)!);
      return {
        caption: [style('#model-info').color, style(':root').backgroundColor],
        hint: [style('.hint').color, style('#draw-card').backgroundColor],
        padEdge: [style('#pad').borderTopColor, style('#draw-card').backgroundColor],
        trainCurve: [style('#charts polyline.s-train').stroke, style('#curves').backgroundColor],
      };
    });
    const luminance = (css: string) => {
      const [r, g, b] = css.match(/\d+/g)!.slice(0, 3).map((v) => Number(v) / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const contrast = ([fg, bg]: string[]) => (Math.max(luminance(fg), luminance(bg)) + 0.05) / (Math.min(luminance(fg), luminance(bg)) + 0.05);
    expect(contrast(colours.caption)).toBeGreaterThanOrEqual(4.5);
    expect(contrast(colours.hint)).toBeGreaterThanOrEqual(4.5);
    expect(contrast(colours.padEdge)).toBeGreaterThanOrEqual(3);
    expect(contrast(colours.trainCurve)).toBeGreaterThanOrEqual(3);
  });

  it('reads a frame drawn along the pad\'s edges as a frame, not as its negative', async () => {
    await page.click('#clear');
    const [a, b] = [0.03, 0.97];
    const corners: [number, number][] = [[a, a], [b, a], [b, b], [a, b], [a, a]];
    await draw(page, corners.slice(1).map((to, i) => ({ from: corners[i], to })));
    await answer(page);
    // Guessing the polarity from the border (most of it ink) turned the white middle into the digit.
    const preview = await page.$eval('#preview', (c) => Array.from((c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 28, 28).data.filter((_, i) => i % 4 === 0)));
    expect(preview[14 * 28 + 14]).toBe(0);
    expect(preview.filter((v) => v > 0).length).toBeLessThan(200);
    await page.click('#clear');
  });

  it('draws a run of 70,000 epochs, skipping a line with an infinite loss', async () => {
    const long = join(dir, 'long');
    mkdirSync(long);
    await modelAtEpoch(long, 70_000);
    const lines = Array.from({ length: 70_000 }, (_, i) => JSON.stringify({ epoch: i + 1, trainLoss: 1 / (i + 2), testLoss: 1 / (i + 1.5), testAccuracy: 0.9 + i * 1e-6, seconds: 0.1, samplesPerSecond: 6e5 }));
    lines[5] = lines[5].replace(/"testLoss":[^,]+/, '"testLoss":1e999');
    writeFileSync(join(long, 'metrics.jsonl'), lines.join('\n') + '\n');
    await onOwnServer(long, async (second) => {
      await second.waitForSelector('#charts svg');
      expect(await second.getAttribute('#curves', 'data-points')).toBe('69999');
      expect(await second.textContent('#curves-note')).toMatch(/^69999 epochs; last: test accuracy/);
    });
  });

  it('a missing checkpoint gets a clear message on the page', async () => {
    const missing = join(dir, 'missing.safetensors');
    await onOwnServer(missing, async (second) => {
      await second.waitForSelector('body[data-model="error"]');
      // The terminal's backticks around a command are left out on the page.
      expect(await second.textContent('#model-error')).toBe(`The model could not be loaded: no checkpoint at ${missing}; train one with npx nnfs train.`);
      expect(await second.locator('#pad').getAttribute('class')).toContain('disabled');
      // No control that would do nothing, and no invitation to draw.
      expect(await second.locator('#clear').isDisabled()).toBe(true);
      expect(await second.locator('#more').isDisabled()).toBe(true);
      expect(await second.textContent('#confidence')).toBe('no model to ask');
    });
  });

  it('in a short window (a laptop at 200% zoom) the whole pad is in view', async () => {
    const short = await browser.newPage({ viewport: { width: 683, height: 330 } });
    try {
      await short.goto(served.url);
      await short.waitForSelector('body[data-model="ready"]');
      const box = (await short.locator('#pad').boundingBox())!;
      expect(box.y + box.height).toBeLessThanOrEqual(330);
      expect(box.width).toBe(box.height);
    } finally {
      await short.close();
    }
  });

  it('on a 320 px phone the charts\' axis labels are still 10 px or more', async () => {
    const phone = await browser.newPage({ viewport: { width: 320, height: 640 } });
    try {
      await phone.goto(served.url);
      await phone.waitForSelector('#charts svg');
      // SVG text is sized in the viewBox's units, so its size on screen shrinks with the chart.
      const pixels = await phone.$$eval('#charts svg', (svgs) =>
        svgs.map((svg) => {
          const scale = svg.getBoundingClientRect().width / (svg as SVGSVGElement).viewBox.baseVal.width;
          return parseFloat(getComputedStyle(svg.querySelector('text.tick')!).fontSize) * scale;
        }),
      );
      for (const size of pixels) expect(size).toBeGreaterThanOrEqual(10);
    } finally {
      await phone.close();
    }
  });

  it('New digits after the server has stopped says so, and keeps the digits it had', async () => {
    await onOwnServer(checkpoint, async (second, other) => {
      await second.waitForSelector('#samples .sample');
      await other.stop();
      await second.click('#more');
      await second.waitForFunction(() => document.querySelector('#samples-summary')!.textContent!.startsWith('No new'));
      expect(await second.textContent('#samples-summary')).toBe('No new test digits: the server did not answer (was nnfs serve stopped?). The digits below are the earlier ones.');
      expect(await second.locator('#samples .sample').count()).toBe(24);
    });
  });

  it('New digits is off, and the digits marked busy, while its request is under way', async () => {
    await onOwnServer(checkpoint, async (second) => {
      await second.waitForSelector('#samples .sample');
      let release!: () => void;
      const held = new Promise<void>((done) => (release = done));
      await second.route('**/test-samples.json', async (route) => {
        await held;
        await route.continue();
      });
      await second.click('#more');
      expect(await second.locator('#more').isDisabled()).toBe(true);
      expect(await second.getAttribute('#samples', 'aria-busy')).toBe('true');
      release();
      await second.waitForFunction(() => !document.querySelector<HTMLButtonElement>('#more')!.disabled);
      expect(await second.getAttribute('#samples', 'aria-busy')).toBeNull();
      // Read out when it changes: how many are right, or why there are no new digits.
      expect(await second.getAttribute('#samples-summary', 'role')).toBe('status');
    });
  });

});

// `nnfs predict` through the real CLI: the ASCII art and probabilities, --json, a PNG of a
// real test digit, the shipped default checkpoint, and one clear sentence for bad input.

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeCheckpointFile } from '../src/checkpoint/store.js';
import { DEFAULTS } from '../src/config.js';
import { imagePixels } from '../src/data/dataset.js';
import { loadSplit, defaultMnistDir } from '../src/data/mnist.js';
import { modelSpec } from '../src/model/spec.js';
import { ORIGINAL_WEIGHTS, ROOT, hasStackTrace, runCli, tempDir } from './helpers.js';

const ORIGINAL = ORIGINAL_WEIGHTS;
const PRETRAINED = join(ROOT, 'checkpoints', 'pretrained.safetensors');
const dir = tempDir('nnfs-predict-');
let checkpoint = '';

/** The original's trained weights when present (92.44%), otherwise a one-epoch nnfs model (~93%). */
beforeAll(() => {
  if (existsSync(ORIGINAL)) {
    checkpoint = join(dir, 'original.safetensors');
    const r = runCli(['import', '--from-dat', ORIGINAL, '--out', checkpoint]);
    expect(r.status, r.stderr).toBe(0);
  } else {
    const r = runCli(['train', '--epochs', '1', '--threads', '2', '--out', join(dir, 'run')]);
    expect(r.status, r.stderr).toBe(0);
    checkpoint = join(dir, 'run', 'last.safetensors');
  }
}, 120_000);

interface Prediction {
  predicted: number;
  probabilities: number[];
  label?: number;
  index?: number;
}

function predictJson(args: string[], cwd?: string): Prediction {
  const r = runCli(['predict', '--json', ...args], { cwd });
  expect(r.status, r.stderr).toBe(0);
  const lines = r.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]) as Prediction;
}

/** Runs predict expecting a refusal: one line on stderr, no stack trace, non-zero exit. */
function refusal(args: string[]): string {
  const r = runCli(['predict', ...args]);
  expect(r.status).not.toBe(0);
  expect(r.stdout).toBe('');
  expect(hasStackTrace(r.stderr)).toBe(false);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  return r.stderr.trim();
}

/** Test image `index` scaled up to `side` x `side` (nearest pixel), drawn dark on a white page. */
function testDigitPng(index: number, side: number): Buffer {
  const digit = imagePixels(loadSplit(defaultMnistDir(), 't10k'), index);
  const png = new PNG({ width: side, height: side });
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const v = digit[Math.floor((y * 28) / side) * 28 + Math.floor((x * 28) / side)];
      png.data.set([255 - v, 255 - v, 255 - v, 255], (y * side + x) * 4);
    }
  }
  return PNG.sync.write(png);
}

describe('nnfs predict', () => {
  it('prints the digit as 28 lines of 28 ramp characters, the ten probabilities, the prediction and the label', () => {
    const r = runCli(['predict', '--checkpoint', checkpoint, '--index', '0']);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.replace(/\n$/, '').split('\n');
    expect(lines).toHaveLength(28 + 1 + 10 + 2);
    for (const line of lines.slice(0, 28)) expect(line).toMatch(/^[ .:\-=+*#%@]{28}$/);
    expect(lines[28]).toBe('');
    lines.slice(29, 39).forEach((line, k) => expect(line).toMatch(new RegExp(`^${k}: [01]\\.\\d{5}$`)));
    expect(lines[39]).toBe('predicted: 7');
    expect(lines[40]).toBe('label: 7 (test image 0)');
  });

  it('--json gives one object whose probabilities sum to 1 and whose prediction is their argmax', () => {
    const p = predictJson(['--checkpoint', checkpoint, '--index', '0']);
    expect(p).toMatchObject({ predicted: 7, label: 7, index: 0 });
    expect(p.probabilities).toHaveLength(10);
    expect(p.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(p.probabilities.indexOf(Math.max(...p.probabilities))).toBe(p.predicted);
  });

  it('picks a random test image without --index', () => {
    const p = predictJson(['--checkpoint', checkpoint]);
    expect(p.index).toBeGreaterThanOrEqual(0);
    expect(p.index).toBeLessThan(10000);
    expect(p.label).toBeGreaterThanOrEqual(0);
  });

  it('--image reads a PNG of a real test digit, upscaled and dark on light, as that digit', () => {
    const file = join(dir, 'seven.png');
    writeFileSync(file, testDigitPng(0, 100));
    const p = predictJson(['--checkpoint', checkpoint, '--image', file]);
    expect(p.predicted).toBe(7);
    expect(p.label).toBeUndefined();
    const text = runCli(['predict', '--checkpoint', checkpoint, '--image', file]);
    expect(text.stdout).toMatch(/\npredicted: 7\n$/);
  });

  it('uses the shipped checkpoint when none is given, from any folder', () => {
    const byDefault = predictJson(['--index', '3'], tempDir());
    expect(byDefault).toEqual(predictJson(['--index', '3', '--checkpoint', PRETRAINED]));
  });

  describe('refuses bad input in one sentence', () => {
    it('an --index outside 0-9999', () => {
      expect(refusal(['--checkpoint', checkpoint, '--index', '10000'])).toBe('nnfs: --index must be a whole number from 0 to 9999, got 10000.');
      expect(refusal(['--checkpoint', checkpoint, '--index', '-1'])).toBe('nnfs: --index must be a whole number from 0 to 9999, got -1.');
      expect(refusal(['--checkpoint', checkpoint, '--index', 'seven'])).toBe('nnfs: --index must be a whole number from 0 to 9999, got seven.');
      expect(refusal(['--checkpoint', checkpoint, '--index', '1e3'])).toBe('nnfs: --index must be a whole number from 0 to 9999, got 1e3.');
    });

    it('a file that is not a PNG, and an image with no digit', () => {
      const text = join(dir, 'notes.png');
      writeFileSync(text, 'not an image\n');
      expect(refusal(['--checkpoint', checkpoint, '--image', text])).toMatch(/notes\.png is not a readable PNG image/);
      const blank = new PNG({ width: 40, height: 40 });
      blank.data.fill(255);
      const white = join(dir, 'white.png');
      writeFileSync(white, PNG.sync.write(blank));
      expect(refusal(['--checkpoint', checkpoint, '--image', white])).toMatch(/empty: no digit found/);
    });

    it('a missing checkpoint', () => {
      const missing = join(dir, 'nothing-here.safetensors');
      expect(refusal(['--checkpoint', missing, '--index', '0'])).toBe(`nnfs: no checkpoint at ${missing}; train one with \`npx nnfs train\`.`);
    });

    it('a checkpoint whose sizes do not fit MNIST, such as a lines model', async () => {
      const spec = modelSpec([256, 16, 2]);
      const lines = join(dir, 'lines.safetensors');
      await writeCheckpointFile(lines, {
        config: { ...DEFAULTS, hidden: [16] },
        sizes: spec.sizes,
        position: { epoch: 0, step: 0, globalStep: 0, partialLossSum: 0, partialSamples: 0 },
        dataFingerprint: 'lines',
        params: new Float32Array(spec.paramCount),
        optimizerState: {},
      });
      expect(refusal(['--checkpoint', lines, '--index', '0'])).toBe(`nnfs: ${lines} is a 256-16-2 model, but this test set needs 784 inputs and 10 classes.`);
    });

    it('--index or --data with --image', () => {
      expect(refusal(['--checkpoint', checkpoint, '--index', '1', '--image', 'x.png'])).toBe('nnfs: give --index or --image, not both.');
      expect(refusal(['--checkpoint', checkpoint, '--image', 'x.png', '--data', 'some/folder'])).toBe('nnfs: --data names test images for --index; an --image needs none.');
    });
  });
});

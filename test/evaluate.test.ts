// Confusion-matrix maths on a hand-worked example, and `nnfs evaluate` on the original
// project's own trained weights, which score 92.44% on the MNIST test set.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { accuracyOf, classMetrics, confusionMatrix, formatClassMetrics, formatConfusion } from '../src/report/confusion.js';
import { ORIGINAL_WEIGHTS, hasStackTrace, runCli, tempDir } from './helpers.js';

const ORIGINAL = ORIGINAL_WEIGHTS;

describe('confusion matrix maths', () => {
  // Three classes, eight samples. Class 2 is never predicted; worked by hand:
  //   true 0: predicted 0, 0, 1        -> row [2, 1, 0]
  //   true 1: predicted 1, 1, 0, 1     -> row [1, 3, 0]
  //   true 2: predicted 1              -> row [0, 1, 0]
  const labels = [0, 0, 0, 1, 1, 1, 1, 2];
  const predictions = [0, 0, 1, 1, 1, 0, 1, 1];
  const confusion = confusionMatrix(labels, predictions, 3);

  it('counts (true, predicted) pairs with rows true and columns predicted', () => {
    expect(confusion).toEqual([
      [2, 1, 0],
      [1, 3, 0],
      [0, 1, 0],
    ]);
  });

  it('reads precision down the columns and recall along the rows', () => {
    expect(classMetrics(confusion)).toEqual([
      { class: 0, precision: 2 / 3, recall: 2 / 3, count: 3 },
      { class: 1, precision: 3 / 5, recall: 3 / 4, count: 4 },
      // Never predicted: precision 0 rather than 0/0.
      { class: 2, precision: 0, recall: 0, count: 1 },
    ]);
    expect(accuracyOf(confusion)).toBe(5 / 8);
    expect(accuracyOf([[0]])).toBe(0);
  });

  it('prints aligned tables', () => {
    expect(formatConfusion([[1000, 2], [3, 4]])).toBe(['true\\pred     0  1', '        0  1000  2', '        1     3  4'].join('\n'));
    expect(formatClassMetrics(classMetrics(confusion)).split('\n')).toEqual([
      'class  precision  recall  count',
      '    0     66.67%  66.67%      3',
      '    1     60.00%  75.00%      4',
      '    2      0.00%   0.00%      1',
    ]);
  });

  it('refuses labels and predictions of different lengths', () => {
    expect(() => confusionMatrix([0, 1], [0], 2)).toThrow(/2 labels but 1 predictions/);
  });
});

describe.skipIf(!existsSync(ORIGINAL))('nnfs evaluate on the original weights (skipped without ../shared/original-weights)', () => {
  const checkpoint = join(tempDir('nnfs-evaluate-'), 'original.safetensors');

  it('scores 92.44% with --json, as the original project did', () => {
    expect(runCli(['import', '--from-dat', ORIGINAL, '--out', checkpoint]).status).toBe(0);
    const r = runCli(['evaluate', '--checkpoint', checkpoint, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { accuracy: number; loss: number; perClass: { class: number; count: number; recall: number }[]; confusion: number[][] };
    expect(result.accuracy).toBe(0.9244);
    expect(result.loss).toBeGreaterThan(0);
    expect(result.perClass.map((c) => c.class)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(result.perClass.reduce((n, c) => n + c.count, 0)).toBe(10000);
    expect(result.confusion).toHaveLength(10);
    expect(result.confusion.flat().reduce((a, b) => a + b, 0)).toBe(10000);
    expect(result.confusion.reduce((hits, row, k) => hits + row[k], 0)).toBe(9244);
  });

  it('prints accuracy, loss, the per-class table and the 10x10 matrix as text', () => {
    const r = runCli(['evaluate', '--checkpoint', checkpoint]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^accuracy 92\.44% \(9244 correct\), mean loss \d+\.\d{4}$/m);
    const lines = r.stdout.trimEnd().split('\n');
    const matrix = lines.slice(-11);
    expect(matrix[0]).toMatch(/^true\\pred +0 +1 +2 +3 +4 +5 +6 +7 +8 +9$/);
    // Aligned: every row of the table has the header's width.
    for (const row of matrix) expect(row.length).toBe(matrix[0].length);
  });
});

describe('the shipped pretrained model', () => {
  it('scores at least 95% on the MNIST test set (evaluate with no --checkpoint)', () => {
    const result = runCli(['evaluate', '--json']);
    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.accuracy).toBeGreaterThanOrEqual(0.95);
    expect(report.confusion).toHaveLength(10);
  });
});

describe('nnfs evaluate refuses bad input in one sentence', () => {
  it('a data folder without test images', () => {
    const empty = tempDir();
    const r = runCli(['evaluate', '--checkpoint', join(empty, 'x.safetensors'), '--data', empty]);
    expect(r.status).not.toBe(0);
    expect(hasStackTrace(r.stderr)).toBe(false);
    expect(r.stderr.trim()).toMatch(/^nnfs: no test images in .*\.$/);
  });
});

// A classifier's confusion matrix (rows: true class, columns: predicted class), the
// per-class precision and recall read off it, and both as aligned text tables. Pure.

export interface ClassMetrics {
  class: number;
  /** Of the samples predicted as this class, the share that were it (0 when none were predicted). */
  precision: number;
  /** Of the samples of this class, the share predicted as it (0 when there were none). */
  recall: number;
  /** Samples whose true class this is. */
  count: number;
}

/** A classes x classes matrix of zeros. */
function emptyConfusion(classes: number): number[][] {
  return Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
}

/** Counts each (true, predicted) pair. */
export function confusionMatrix(labels: ArrayLike<number>, predictions: ArrayLike<number>, classes: number): number[][] {
  if (labels.length !== predictions.length) throw new Error(`${labels.length} labels but ${predictions.length} predictions`);
  const matrix = emptyConfusion(classes);
  for (let i = 0; i < labels.length; i++) matrix[labels[i]][predictions[i]]++;
  return matrix;
}

/** Precision (column-wise) and recall (row-wise) of every class. */
export function classMetrics(confusion: number[][]): ClassMetrics[] {
  return confusion.map((row, k) => {
    const count = row.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((sum, r) => sum + r[k], 0);
    const hits = row[k];
    // 0 rather than NaN for an empty row or column, as scikit-learn's zero_division
    // default: JSON has no NaN, and such a class has earned no credit.
    return { class: k, precision: predicted ? hits / predicted : 0, recall: count ? hits / count : 0, count };
  });
}

/** Share of samples on the diagonal. */
export function accuracyOf(confusion: number[][]): number {
  let total = 0;
  let hits = 0;
  confusion.forEach((row, k) => row.forEach((n, j) => {
    total += n;
    if (j === k) hits += n;
  }));
  return total ? hits / total : 0;
}

/** Right-aligns every cell to its column's widest entry; the first row is the header. */
function alignTable(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padStart(widths[c])).join('  ')).join('\n');
}

/** The matrix with class numbers along both edges: rows true, columns predicted. */
export function formatConfusion(confusion: number[][]): string {
  const header = ['true\\pred', ...confusion.map((_, k) => String(k))];
  return alignTable([header, ...confusion.map((row, k) => [String(k), ...row.map(String)])]);
}

const percent = (x: number): string => `${(x * 100).toFixed(2)}%`;

/** One line per class: precision, recall and its sample count. */
export function formatClassMetrics(metrics: ClassMetrics[]): string {
  return alignTable([
    ['class', 'precision', 'recall', 'count'],
    ...metrics.map((m) => [String(m.class), percent(m.precision), percent(m.recall), String(m.count)]),
  ]);
}

// One epoch's figures: a line of a run's metrics.jsonl and of `--json` output. Types only, so
// the page (src/web/page/curves.ts) reads the same record as the engine writes.

/** One line of metrics.jsonl and of `--json` output. */
export interface EpochMetrics {
  epoch: number;
  trainLoss: number;
  testLoss: number;
  /** Fraction of the test set classified correctly, 0-1. */
  testAccuracy: number;
  /** Seconds of training in this epoch (evaluation and saving excluded). */
  seconds: number;
  samplesPerSecond: number;
}

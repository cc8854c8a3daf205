// How a training session shows itself: a progress bar on a terminal, one plain line per
// epoch elsewhere, or one JSON object per epoch with --json.

import cliProgress from 'cli-progress';
import type { EpochMetrics } from '../train/epoch-metrics.js';
import type { Reporter } from '../train/session.js';

/**
 * 1234567.8 -> "1,234,568", as toLocaleString('en-US') writes it, but without loading ICU's
 * locale data: that added 7 MB to the peak memory of every `nnfs train` that printed a line.
 */
export function groupDigits(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function formatRate(samplesPerSecond: number): string {
  return `${groupDigits(samplesPerSecond)} samples/s`;
}

export function formatEpochLine(m: EpochMetrics, epochs: number): string {
  const width = String(epochs).length;
  return [
    `epoch ${String(m.epoch).padStart(width)}/${epochs}`,
    `train loss ${m.trainLoss.toFixed(4)}`,
    `test loss ${m.testLoss.toFixed(4)}`,
    `test accuracy ${(m.testAccuracy * 100).toFixed(2)}%`,
    `${m.seconds.toFixed(2)} s`,
    formatRate(m.samplesPerSecond),
  ].join('  ');
}

/** One JSON object per epoch on stdout. */
export class JsonReporter implements Reporter {
  epochStart(): void {}
  progress(): void {}
  epochEnd(m: EpochMetrics): void {
    process.stdout.write(JSON.stringify(m) + '\n');
  }
}

/** One line per epoch, for logs and pipes. */
export class LineReporter implements Reporter {
  private epochs = 0;
  epochStart(_epoch: number, epochs: number): void {
    this.epochs = epochs;
  }
  progress(): void {}
  epochEnd(m: EpochMetrics): void {
    process.stdout.write(formatEpochLine(m, this.epochs) + '\n');
  }
}

/** A live bar with throughput and ETA while an epoch runs, then the epoch's line. */
export class BarReporter implements Reporter {
  private bar?: cliProgress.SingleBar;
  private epochs = 0;
  /** When the epoch (or the resumed part of it) started, and at which step. */
  private started = 0;
  private fromStep = 0;

  constructor(private readonly batch: number, private readonly samples: number) {}

  epochStart(epoch: number, epochs: number, steps: number, fromStep: number): void {
    this.epochs = epochs;
    this.bar = new cliProgress.SingleBar(
      {
        // {total} would be the bar's, which counts steps.
        format: `epoch ${epoch}/${epochs} {bar} {percentage}% | {samples}/${this.samples} samples | {rate} | ETA {eta_formatted}`,
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 20,
        stream: process.stdout,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(steps, fromStep, { samples: Math.min(this.samples, fromStep * this.batch), rate: '…' });
    this.started = performance.now();
    this.fromStep = fromStep;
  }

  progress(step: number): void {
    if (!this.bar) return;
    const seconds = (performance.now() - this.started) / 1000;
    const done = (step - this.fromStep) * this.batch;
    this.bar.update(step, {
      samples: Math.min(this.samples, step * this.batch),
      rate: seconds > 0 ? formatRate(done / seconds) : '…',
    });
  }

  epochEnd(m: EpochMetrics): void {
    this.end();
    process.stdout.write(formatEpochLine(m, this.epochs) + '\n');
  }

  /** Stopping the bar shows the cursor and turns line wrap back on. */
  end(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

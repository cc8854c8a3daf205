// `nnfs evaluate`: a checkpoint's test-set accuracy, mean loss, per-class precision and
// recall, and its confusion matrix. Single-threaded: 10,000 forward passes take ~0.1 s.

import type { Argv } from 'yargs';
import { defaultMnistDir, loadSplit } from '../data/mnist.js';
import { meanLoss } from '../model/mean-loss.js';
import { accuracyOf, classMetrics, confusionMatrix, formatClassMetrics, formatConfusion } from '../report/confusion.js';
import { shownPath } from '../report/shown-path.js';
import { dataOption, jsonOption } from './flags.js';
import { checkpointOption, loadModel } from './model-option.js';

export const command = 'evaluate';
export const describe = "a checkpoint's test-set accuracy, loss, per-class precision and recall, and confusion matrix";

export function builder(yargs: Argv) {
  return yargs
    .option('checkpoint', checkpointOption)
    .option('data', dataOption)
    .option('json', jsonOption)
    .example('$0 evaluate --checkpoint checkpoints/run1/last.safetensors', 'how good is this run?');
}

interface EvaluateArgs {
  checkpoint?: string;
  data?: string;
  json: boolean;
}

export async function handler(args: EvaluateArgs): Promise<void> {
  const test = loadSplit(args.data ?? defaultMnistDir(), 't10k');
  const model = await loadModel(args.checkpoint, test.inputSize, test.classes, 'this test set');
  const classes = model.spec.sizes[model.spec.sizes.length - 1];
  const predictions = new Uint8Array(test.count);
  const loss = meanLoss(model.spec, model.params, test, test.count, predictions);
  const confusion = confusionMatrix(test.labels, predictions, classes);
  const accuracy = accuracyOf(confusion);
  const perClass = classMetrics(confusion);

  if (args.json) {
    process.stdout.write(JSON.stringify({ checkpoint: model.file, count: test.count, accuracy, loss, perClass, confusion }) + '\n');
    return;
  }
  const correct = Math.round(accuracy * test.count);
  process.stdout.write(
    [
      `${shownPath(model.file)}: ${model.spec.sizes.join('-')} model on ${test.count} test image${test.count === 1 ? '' : 's'}`,
      `accuracy ${(accuracy * 100).toFixed(2)}% (${correct} correct), mean loss ${loss.toFixed(4)}`,
      '',
      formatClassMetrics(perClass),
      '',
      'confusion matrix (rows: true class, columns: predicted class)',
      formatConfusion(confusion),
    ].join('\n') + '\n',
  );
}

/**
 * The smoke demo (`bigbigan demo`): trains the small convnet of
 * eval/classifier.ts on the embedded MNIST on the selected backend, with a
 * progress line, then writes a grid of test digits, their predictions and
 * the per-step losses to the output folder. It checks that an install can
 * train at all; the BigBiGAN trainer is `bigbigan train`.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../backend/select';
import { classifierTrainStep, createClassifier, disposeClassifier, predict } from '../eval/classifier';
import { BatchIterator, loadMnist, splitToTensor } from '../data';
import { writeImageGrid } from '../util/png';
import { Progress } from '../util/progress';
import { BACKEND_OPTION, Command, intOption, stringOption } from './command';

export interface DemoOptions {
  steps: number;
  batchSize: number;
  out: string;
  seed: number;
}

export interface DemoResult {
  testAccuracy: number;
  firstLoss: number;
  lastLoss: number;
  files: string[];
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const backend = await selectBackend();
  const mnist = loadMnist();
  fs.mkdirSync(opts.out, { recursive: true });
  const metricsFile = path.join(opts.out, 'metrics.jsonl');
  fs.writeFileSync(metricsFile, '');

  const net = createClassifier(1, mnist.numClasses, opts.seed);
  const optimizer = tf.train.adam(3e-3);
  const batches = new BatchIterator(mnist.train, { batchSize: opts.batchSize, seed: opts.seed, resolution: 32 });
  const progress = new Progress(opts.steps, 'demo');
  const losses: number[] = [];
  const start = Date.now();
  for (let step = 1; step <= opts.steps; step++) {
    const { x, y } = batches.next();
    const loss = await classifierTrainStep(net, optimizer, x, y);
    x.dispose();
    losses.push(loss);
    const imgPerSec = (step * opts.batchSize) / ((Date.now() - start) / 1000);
    fs.appendFileSync(metricsFile, JSON.stringify({ step, loss, img_per_s: imgPerSec, backend: backend.tfBackend }) + '\n');
    progress.update(step, { loss, 'img/s': imgPerSec });
  }
  progress.finish();

  const n = 2000;
  const x = splitToTensor(mnist.test, { n, resolution: 32 });
  const predicted = await predict(net, x);
  const correct = predicted.filter((p, i) => p === mnist.test.labels[i]).length;
  const gridFile = path.join(opts.out, 'test-digits.png');
  const first = tf.slice(x, [0, 0, 0, 0], [64, -1, -1, -1]);
  await writeImageGrid(gridFile, first, 8);
  tf.dispose([x, first]);
  const predictionsFile = path.join(opts.out, 'predictions.txt');
  const rows = Array.from({ length: 8 }, (_, r) => Array.from(predicted.slice(r * 8, r * 8 + 8)).join(' '));
  fs.writeFileSync(predictionsFile, rows.join('\n') + '\n');
  disposeClassifier(net);
  optimizer.dispose();

  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  const k = Math.max(1, Math.min(20, Math.floor(losses.length / 5)));
  return { testAccuracy: correct / n, firstLoss: mean(losses.slice(0, k)), lastLoss: mean(losses.slice(-k)),
           files: [gridFile, predictionsFile, metricsFile] };
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'train the small convnet on the embedded MNIST (smoke test of an install)',
  about: 'Train a small convnet on the embedded MNIST, write a picture and metrics.',
  options: {
    steps: { value: 'N', help: 'training steps (default 300)' },
    batch: { value: 'N', help: 'batch size (default 64)' },
    out: { value: 'DIR', help: 'where the picture and metrics go (default runs/demo)' },
    seed: { value: 'N', help: 'the seed (default 0)' },
    ...BACKEND_OPTION,
  },
  async run({ values }) {
    const steps = intOption(values, 'steps', 300), batchSize = intOption(values, 'batch', 64);
    const seed = intOption(values, 'seed', 0, 0);
    const out = stringOption(values, 'out') ?? 'runs/demo';
    const force = stringOption(values, 'backend');
    if (force) await selectBackend({ force });
    const r = await runDemo({ steps, batchSize, out, seed });
    console.log(`loss ${r.firstLoss.toFixed(3)} -> ${r.lastLoss.toFixed(3)}; ` +
                `test accuracy ${(100 * r.testAccuracy).toFixed(1)}% on 2000 MNIST test digits`);
    console.log(`wrote ${r.files.join(', ')}`);
  },
};

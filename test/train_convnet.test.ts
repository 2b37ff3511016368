/**
 * Training works on the wasm backend: the small convnet of src/eval/classifier.ts
 * learns MNIST (its loss falls and it beats chance on held-out digits) and
 * 100 training steps leave the tensor count and wasm buffers unchanged.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/select';
import { classifierTrainStep, createClassifier, disposeClassifier, predict } from '../src/eval/classifier';
import { BatchIterator, loadMnist, splitToTensor } from '../src/data';

describe('a small convnet trains on wasm', () => {
  before(async () => { await selectBackend({ force: 'wasm', quiet: true }); });

  test('creating and disposing a classifier leaves no tensor behind', () => {
    const before = tf.memory().numTensors;
    disposeClassifier(createClassifier(3, 7, 2));
    assert.equal(tf.memory().numTensors, before);
  });

  test('its MNIST loss goes down, it beats chance on test digits, and memory stays flat over 100 steps', async (t) => {
    const mnist = loadMnist(undefined, { limit: 4000 });
    const net = createClassifier(1, 10, 1);
    const optimizer = tf.train.adam(3e-3);
    const batches = new BatchIterator(mnist.train, { batchSize: 32, seed: 1, resolution: 32 });
    const step = async () => {
      const { x, y } = batches.next();
      const loss = await classifierTrainStep(net, optimizer, x, y);
      x.dispose();
      return loss;
    };
    const losses = [await step()];  // the first step creates Adam's slots
    const before = tf.memory();
    for (let i = 0; i < 100; i++) losses.push(await step());
    const after = tf.memory();
    assert.equal(after.numTensors, before.numTensors, 'tensor count after 100 steps');
    assert.equal(after.numDataBuffers, before.numDataBuffers, 'wasm buffers after 100 steps');

    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    const first = mean(losses.slice(0, 10)), last = mean(losses.slice(-10));
    assert.ok(last < 0.6 * first, `mean loss of the last 10 steps ${last.toFixed(3)} vs the first 10 ${first.toFixed(3)}`);

    const x = splitToTensor(mnist.test, { n: 500, resolution: 32 });
    const predicted = await predict(net, x);
    x.dispose();
    const correct = predicted.filter((p, i) => p === mnist.test.labels[i]).length;
    assert.ok(correct / 500 > 0.5, `test accuracy ${(correct / 500).toFixed(3)} after 101 steps (chance: 0.1)`);
    t.diagnostic(`loss ${first.toFixed(3)} -> ${last.toFixed(3)}, test accuracy ${(correct / 500).toFixed(3)}`);
    disposeClassifier(net);
    optimizer.dispose();
  });
});

/** Our Adam (src/train/optim.ts) against tfjs's own tf.train.adam, and the EMA against its closed form. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Adam, updateEma } from '../src/train/optim';
import { useBackend } from './use_backend';

test('Adam matches tf.train.adam over 20 steps (betas 0 and 0.999, as BigGAN)', () => {
  useBackend('cpu');
  const init = tf.tensor2d([[0.5, -1.5, 2], [0.1, 0, -0.3]]);
  const target = tf.tensor2d([[1, 2, 3], [-1, -2, -3]]);
  const a = tf.variable(init.clone()), b = tf.variable(init.clone());
  const ours = new Adam(0.05, 0, 0.999, 1e-7);
  const theirs = tf.train.adam(0.05, 0, 0.999, 1e-7);
  const loss = (v: tf.Variable) => () => tf.sum(tf.square(tf.sub(tf.mul(v, v), target))) as tf.Scalar;
  for (let i = 0; i < 20; i++) {
    const { grads } = tf.variableGrads(loss(a), [a]);
    ours.step(new Map([['a', a]]), grads);
    tf.dispose(Object.values(grads));
    theirs.minimize(loss(b), false, [b]);
  }
  const diff = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
  assert.ok(diff < 1e-5, `max difference ${diff}`);
  assert.ok(tf.max(tf.abs(tf.sub(a, init))).dataSync()[0] > 0.1, 'the variable moved');
  assert.equal(ours.t, 20);
});

test('EMA: copy before the start, then ema = decay·ema + (1-decay)·x', () => {
  const x = tf.variable(tf.tensor1d([1, 2])), ema = tf.variable(tf.tensor1d([0, 0]));
  updateEma([[ema, x]], 0.9, true);
  assert.deepEqual(Array.from(ema.dataSync()), [1, 2]);
  x.assign(tf.tensor1d([11, 12]));
  updateEma([[ema, x]], 0.9, false);
  const got = Array.from(ema.dataSync());
  [0.9 * 1 + 0.1 * 11, 0.9 * 2 + 0.1 * 12].forEach((e, i) => assert.ok(Math.abs(got[i] - e) < 1e-6));
});

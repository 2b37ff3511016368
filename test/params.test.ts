/** Weight initialisation (src/model/params.ts): orthogonality against its closed form QᵀQ = I. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { orthogonal } from '../src/model/params';
import { Rng } from '../src/util/rng';
import { useBackend } from './use_backend';

test('orthogonal() has orthonormal columns when tall and orthonormal rows when wide', () => {
  useBackend('cpu');
  for (const [rows, cols] of [[576, 64], [64, 64], [16, 1024], [1, 7], [300, 299]]) {
    const q = orthogonal(new Rng(rows + cols), rows, cols);
    const gram = rows >= cols ? tf.matMul(q, q, true, false) : tf.matMul(q, q, false, true);
    const err = tf.max(tf.abs(tf.sub(gram, tf.eye(Math.min(rows, cols))))).dataSync()[0];
    assert.ok(err < 1e-5, `[${rows}, ${cols}]: max |QᵀQ - I| = ${err}`);
    tf.dispose([q, gram]);
  }
  const a = orthogonal(new Rng(1), 8, 4).dataSync(), b = orthogonal(new Rng(1), 8, 4).dataSync();
  const c = orthogonal(new Rng(2), 8, 4).dataSync();
  assert.deepEqual(a, b, 'the same seed gives the same matrix');
  assert.notDeepEqual(a, c);
});

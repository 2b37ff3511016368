/**
 * The wasm conv2d gradient kernels (src/kernels/wasm_conv2d_grads.ts) against
 * tfjs's pure-JS `cpu` backend, over strides, paddings, odd sizes, channel
 * counts and batch sizes; then a check that they free every buffer.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend';
import { Rng } from '../src/rng';
import { relativeError } from './kernel_compare';

type Pad = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];
interface Case { batch: number; h: number; w: number; ci: number; co: number; kh: number; kw: number; stride: number; pad: Pad }

const CASES: Case[] = [];
for (const stride of [1, 2]) {
  for (const pad of ['same', 'valid'] as const) {
    CASES.push({ batch: 1, h: 7, w: 5, ci: 1, co: 1, kh: 3, kw: 3, stride, pad });      // odd sizes, 1 channel, batch 1
    CASES.push({ batch: 3, h: 9, w: 11, ci: 5, co: 7, kh: 3, kw: 3, stride, pad });     // odd sizes, odd channels
    CASES.push({ batch: 2, h: 8, w: 8, ci: 16, co: 24, kh: 1, kw: 1, stride, pad });    // 1x1 shortcut conv
    CASES.push({ batch: 64, h: 6, w: 6, ci: 3, co: 8, kh: 3, kw: 3, stride, pad });     // batch 64
    CASES.push({ batch: 2, h: 10, w: 9, ci: 32, co: 3, kh: 5, kw: 3, stride, pad });    // many channels, non-square kernel
  }
}
CASES.push({ batch: 2, h: 6, w: 7, ci: 2, co: 3, kh: 3, kw: 3, stride: 1, pad: [[0, 0], [2, 0], [1, 2], [0, 0]] });
CASES.push({ batch: 2, h: 10, w: 9, ci: 3, co: 2, kh: 4, kw: 4, stride: 3, pad: 'same' });
CASES.push({ batch: 3, h: 4, w: 3, ci: 2, co: 2, kh: 5, kw: 5, stride: 1, pad: 'same' });  // kernel wider than the image
CASES.push({ batch: 2, h: 1, w: 6, ci: 3, co: 4, kh: 3, kw: 3, stride: 1, pad: 'same' });  // a single row
CASES.push({ batch: 64, h: 10, w: 10, ci: 16, co: 16, kh: 3, kw: 3, stride: 1, pad: 'same' });

/** dx and dW of 0.5·Σ conv2d(x, W)² · r (r fixed random weights) on `backend`. */
function convGrads(backend: string, c: Case, xv: Float32Array, wv: Float32Array, rv: (n: number) => Float32Array) {
  tf.setBackend(backend);
  const [dx, dw] = tf.tidy(() => {
    const x = tf.tensor4d(xv, [c.batch, c.h, c.w, c.ci]);
    const w = tf.tensor4d(wv, [c.kh, c.kw, c.ci, c.co]);
    const f = (x: tf.Tensor, w: tf.Tensor) => {
      const y = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, c.pad);
      return tf.sum(tf.mul(y, tf.tensor(rv(y.size), y.shape)));
    };
    return tf.grads(f)([x, w]);
  });
  const out = [dx.dataSync() as Float32Array, dw.dataSync() as Float32Array];
  tf.dispose([dx, dw]);
  return out;
}

describe('wasm conv2d gradients match the cpu backend', () => {
  before(async () => { await selectBackend({ force: 'wasm', quiet: true }); });

  for (const c of CASES) {
    const name = `x ${c.batch}x${c.h}x${c.w}x${c.ci}, W ${c.kh}x${c.kw}x${c.ci}x${c.co}, stride ${c.stride}, pad ${JSON.stringify(c.pad)}`;
    test(name, () => {
      const rng = new Rng(c.batch * 1000 + c.ci * 10 + c.stride);
      const rand = (n: number) => Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
      const xv = rand(c.batch * c.h * c.w * c.ci), wv = rand(c.kh * c.kw * c.ci * c.co);
      const rSeed = rng.getState();
      const fixed = (n: number) => { const r = new Rng(rSeed); return Float32Array.from({ length: n }, () => r.next() * 2 - 1); };
      const [dxRef, dwRef] = convGrads('cpu', c, xv, wv, fixed);
      const [dx, dw] = convGrads('wasm', c, xv, wv, fixed);
      assert.ok(relativeError(dxRef, dx) <= 1e-4, `dx relative error ${relativeError(dxRef, dx)}`);
      assert.ok(relativeError(dwRef, dw) <= 1e-4, `dW relative error ${relativeError(dwRef, dw)}`);
    });
  }

  test('they leave no tensor and no wasm buffer behind', () => {
    tf.setBackend('wasm');
    const x = tf.randomNormal([4, 9, 9, 3]) as tf.Tensor4D;
    const w = tf.variable(tf.randomNormal([3, 3, 3, 5]));
    const step = () => tf.tidy(() => {
      const { grads } = tf.variableGrads(() => tf.sum(tf.square(tf.conv2d(x, w as tf.Tensor4D, 2, 'same'))));
      const g = grads[w.name];
      return g.clone();
    });
    step().dispose();
    const before = tf.memory();
    for (let i = 0; i < 20; i++) step().dispose();
    const after = tf.memory();
    assert.equal(after.numTensors, before.numTensors);
    assert.equal(after.numDataBuffers, before.numDataBuffers);
    tf.dispose([x, w]);
  });
});

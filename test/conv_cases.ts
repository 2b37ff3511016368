/**
 * The conv2d cases both sets of wasm conv kernels are checked on (the kit's JS
 * gradients in kernels.test.ts, the oneDNN ones in kernels_native.test.ts):
 * strides, paddings, odd sizes, channel counts and batch sizes, against tfjs's
 * pure-JS `cpu` backend.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../src/util/rng';
import { relativeError } from './kernel_compare';
import { useBackend } from './use_backend';

type Pad = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];
export interface ConvCase { batch: number; h: number; w: number; ci: number; co: number; kh: number; kw: number; stride: number; pad: Pad }

export const CONV_CASES: ConvCase[] = [];
for (const stride of [1, 2]) {
  for (const pad of ['same', 'valid'] as const) {
    CONV_CASES.push({ batch: 1, h: 7, w: 5, ci: 1, co: 1, kh: 3, kw: 3, stride, pad });      // odd sizes, 1 channel, batch 1
    CONV_CASES.push({ batch: 3, h: 9, w: 11, ci: 5, co: 7, kh: 3, kw: 3, stride, pad });     // odd sizes, odd channels
    CONV_CASES.push({ batch: 2, h: 8, w: 8, ci: 16, co: 24, kh: 1, kw: 1, stride, pad });    // 1x1 shortcut conv
    CONV_CASES.push({ batch: 8, h: 16, w: 16, ci: 4, co: 8, kh: 1, kw: 1, stride, pad });    // 1x1 shortcut, 4 channels (small-e)
    CONV_CASES.push({ batch: 64, h: 6, w: 6, ci: 3, co: 8, kh: 3, kw: 3, stride, pad });     // batch 64
    CONV_CASES.push({ batch: 2, h: 10, w: 9, ci: 32, co: 3, kh: 5, kw: 3, stride, pad });    // many channels, non-square kernel
  }
}
CONV_CASES.push({ batch: 2, h: 6, w: 7, ci: 2, co: 3, kh: 3, kw: 3, stride: 1, pad: [[0, 0], [2, 0], [1, 2], [0, 0]] });
CONV_CASES.push({ batch: 2, h: 10, w: 9, ci: 3, co: 2, kh: 4, kw: 4, stride: 3, pad: 'same' });
CONV_CASES.push({ batch: 3, h: 4, w: 3, ci: 2, co: 2, kh: 5, kw: 5, stride: 1, pad: 'same' });  // kernel wider than the image
CONV_CASES.push({ batch: 2, h: 1, w: 6, ci: 3, co: 4, kh: 3, kw: 3, stride: 1, pad: 'same' });  // a single row
CONV_CASES.push({ batch: 64, h: 10, w: 10, ci: 16, co: 16, kh: 3, kw: 3, stride: 1, pad: 'same' });

export function convCaseName(c: ConvCase): string {
  return `x ${c.batch}x${c.h}x${c.w}x${c.ci}, W ${c.kh}x${c.kw}x${c.ci}x${c.co}, stride ${c.stride}, pad ${JSON.stringify(c.pad)}`;
}

/** y = conv2d(x, W), and dx, dW of Σ y · r (r fixed random weights), on `backend`. */
function convOutputs(backend: string, c: ConvCase, xv: Float32Array, wv: Float32Array, rv: (n: number) => Float32Array) {
  useBackend(backend);
  const outs = tf.tidy(() => {
    const x = tf.tensor4d(xv, [c.batch, c.h, c.w, c.ci]);
    const w = tf.tensor4d(wv, [c.kh, c.kw, c.ci, c.co]);
    const conv = (x: tf.Tensor, w: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, c.pad);
    const y = conv(x, w);
    return [y, ...tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(conv(x, w), tf.tensor(rv(y.size), y.shape))))([x, w])];
  });
  const values = outs.map((t) => t.dataSync() as Float32Array);
  tf.dispose(outs);
  return values;
}

/** The forward conv and both gradients of case `c` on wasm are within `tolerance` of the cpu backend. */
export function assertConvMatchesCpu(c: ConvCase, tolerance = 1e-4): void {
  const rng = new Rng(c.batch * 1000 + c.ci * 10 + c.stride);
  const rand = (n: number) => Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
  const xv = rand(c.batch * c.h * c.w * c.ci), wv = rand(c.kh * c.kw * c.ci * c.co);
  const rSeed = rng.getState();
  const fixed = (n: number) => { const r = new Rng(rSeed); return Float32Array.from({ length: n }, () => r.next() * 2 - 1); };
  const ref = convOutputs('cpu', c, xv, wv, fixed), got = convOutputs('wasm', c, xv, wv, fixed);
  ['y', 'dx', 'dW'].forEach((name, i) => {
    const e = relativeError(ref[i], got[i]);
    assert.ok(e <= tolerance, `Expected ${name} within ${tolerance} of the cpu backend, but got a relative error of ${e}`);
  });
}

/** Twenty training steps of a conv layer on wasm leave no tensor and no wasm buffer behind. */
export function assertConvLeavesNothing(): void {
  useBackend('wasm');
  const x = tf.randomNormal([4, 9, 9, 3]) as tf.Tensor4D;
  const w = tf.variable(tf.randomNormal([3, 3, 3, 5]));
  const step = () => tf.tidy(() => {
    const { grads } = tf.variableGrads(() => tf.sum(tf.square(tf.conv2d(x, w as tf.Tensor4D, 2, 'same'))));
    return grads[w.name].clone();
  });
  step().dispose();
  const before = tf.memory();
  for (let i = 0; i < 20; i++) step().dispose();
  const after = tf.memory();
  assert.equal(after.numTensors, before.numTensors);
  assert.equal(after.numDataBuffers, before.numDataBuffers);
  assert.equal(after.numBytes, before.numBytes);
  tf.dispose([x, w]);
}

/**
 * The kit's ResizeNearestNeighborGrad on tfjs's cpu backend
 * (src/backend/kernels/cpu_resize_grad.ts) against a plain-JS gradient: each dy
 * element added to the input pixel the forward resize copied it from (found
 * by resizing an image of the input's own indices). tfjs-cpu 4.22's kernel
 * fails the same check at batch > 1.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/select';
import { registerCpuResizeGrad, upstreamCpuResizeGrad } from '../src/backend/kernels/cpu_resize_grad';
import { Rng } from '../src/util/rng';

type Case = { shape: [number, number, number, number]; size: [number, number]; alignCorners?: boolean; halfPixelCenters?: boolean };

/** Seeded whole numbers in [-10, 10]: every sum is exact in float32, and (no period) a misplaced read shows. */
function dyValues(n: number): Float32Array {
  const rng = new Rng(3);
  return Float32Array.from({ length: n }, () => Math.floor(rng.next() * 21) - 10);
}

/** The gradient in plain JS: dx[src(k)] += dy[k], src(k) the input element output element k copies. */
function referenceGrad({ shape, size, alignCorners = false, halfPixelCenters = false }: Case): Float64Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const src = tf.tidy(() => tf.image.resizeNearestNeighbor(tf.tensor4d(Float32Array.from({ length: n }, (_, i) => i), shape),
                                                           size, alignCorners, halfPixelCenters).dataSync());
  const dy = dyValues(src.length), dx = new Float64Array(n);
  src.forEach((s, k) => { dx[s] += dy[k]; });
  return dx;
}

/** The gradient tfjs computes on the current cpu kernel, through tf.grad of Σ resize(x)·dy. */
function tfjsGrad({ shape, size, alignCorners = false, halfPixelCenters = false }: Case): Float32Array {
  return tf.tidy(() => {
    const x = tf.randomNormal(shape, 0, 1, 'float32', 1) as tf.Tensor4D;
    const dy = tf.tensor4d(dyValues(shape[0] * size[0] * size[1] * shape[3]), [shape[0], ...size, shape[3]]);
    const resized = (p: tf.Tensor) => tf.image.resizeNearestNeighbor(p as tf.Tensor4D, size, alignCorners, halfPixelCenters);
    return tf.grad((p: tf.Tensor) => tf.sum(tf.mul(resized(p), dy)))(x).dataSync() as Float32Array;
  });
}

const maxError = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

const CASES: Case[] = [
  { shape: [2, 4, 4, 8], size: [8, 8] },                            // G's 2x upsampling, batch 2
  { shape: [3, 3, 5, 2], size: [6, 10] },                           // batch 3, non-square
  { shape: [1, 4, 4, 3], size: [8, 8] },                            // batch 1
  { shape: [2, 4, 5, 3], size: [6, 7] },                            // not a whole factor
  { shape: [2, 6, 6, 2], size: [4, 3] },                            // downsampling (dy pixels skip inputs)
  { shape: [2, 4, 5, 3], size: [8, 10], alignCorners: true },
  { shape: [2, 4, 5, 3], size: [7, 9], alignCorners: true },
  { shape: [2, 4, 5, 3], size: [7, 9], halfPixelCenters: true },
  { shape: [1, 4, 5, 3], size: [7, 9], halfPixelCenters: true },   // tfjs-cpu's kernel ignores halfPixelCenters
  { shape: [2, 1, 1, 1], size: [2, 2] },
];
const name = (c: Case) =>
  `[${c.shape}] -> ${c.size}${c.alignCorners ? ' alignCorners' : ''}${c.halfPixelCenters ? ' halfPixelCenters' : ''}`;

describe('ResizeNearestNeighborGrad on the cpu backend', () => {
  before(async () => { await selectBackend({ force: 'cpu', quiet: true }); });

  test('the kit replaced tfjs-cpu\'s kernel (so these tests test ours)', () => {
    assert.ok(upstreamCpuResizeGrad != null, 'Expected tfjs-cpu\'s kernel to have been kept aside, but it was not');
    assert.notEqual(tf.getKernel('ResizeNearestNeighborGrad', 'cpu')?.kernelFunc, upstreamCpuResizeGrad.kernelFunc);
  });

  for (const c of CASES) {
    test(`${name(c)}: the gradient is dy summed onto each pixel's copies`, () => {
      const got = tfjsGrad(c), ref = referenceGrad(c);
      assert.equal(got.length, ref.length);
      assert.equal(maxError(got, ref), 0, `Expected the gradient to match the plain-JS one exactly, but got [${got}] vs [${ref}]`);
    });
  }

  test('by hand: two 1x1 images upsampled to 2x2 get the sums of their own dy', () => {
    const dx = tf.tidy(() => {
      const dy = tf.tensor4d([1, 2, 3, 4, 10, 20, 30, 40], [2, 2, 2, 1]);
      const resized = (p: tf.Tensor) => tf.image.resizeNearestNeighbor(p as tf.Tensor4D, [2, 2]);
      return tf.grad((p: tf.Tensor) => tf.sum(tf.mul(resized(p), dy)))(tf.zeros([2, 1, 1, 1])).dataSync();
    });
    assert.deepEqual(Array.from(dx), [10, 100]);
  });

  test('tfjs-cpu 4.22\'s own kernel fails the same check at batch > 1 (and passes at batch 1)', () => {
    const ours = tf.getKernel('ResizeNearestNeighborGrad', 'cpu')!;
    tf.unregisterKernel('ResizeNearestNeighborGrad', 'cpu');
    tf.registerKernel(upstreamCpuResizeGrad!);
    let batch2: number, batch1: number;
    try {
      batch2 = maxError(tfjsGrad(CASES[0]), referenceGrad(CASES[0]));
      batch1 = maxError(tfjsGrad(CASES[2]), referenceGrad(CASES[2]));
    } finally {
      tf.unregisterKernel('ResizeNearestNeighborGrad', 'cpu');
      tf.registerKernel(ours);
    }
    assert.ok(batch2 >= 1, `Expected tfjs-cpu's kernel to be wrong at batch 2, but its error was ${batch2}`);
    assert.equal(batch1, 0);
  });

  test('registering again keeps the kit\'s kernel and the upstream one aside; no tensor is left behind', () => {
    const ours = tf.getKernel('ResizeNearestNeighborGrad', 'cpu')!.kernelFunc, upstream = upstreamCpuResizeGrad;
    registerCpuResizeGrad();
    assert.equal(tf.getKernel('ResizeNearestNeighborGrad', 'cpu')!.kernelFunc, ours);
    assert.equal(upstreamCpuResizeGrad, upstream);
    tfjsGrad(CASES[0]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tfjsGrad(CASES[0]);
    assert.equal(tf.memory().numTensors, before);
  });
});

/**
 * The faster wasm kernels (src/backend/kernels/wasm_fast_kernels.ts) against tfjs's
 * pure-JS `cpu` backend: values and gradients over the shapes and attributes
 * each kernel speeds up and the ones it hands back to tfjs-wasm; then the
 * reference-counted Identity: a clone outlives its source, and no buffer leaks.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/select';
import { replacedWasmKernels } from '../src/backend/kernels/wasm_util';
import { assertMatchesCpu, randomValues } from './kernel_compare';
import { useBackend } from './use_backend';

/** An input of `shape` with seeded values. */
const input = (seed: number, shape: number[]): [Float32Array, number[]] => [randomValues(seed, shape.reduce((a, b) => a * b, 1)), shape];

/** Σ f(x)·r for fixed random r: a scalar whose gradient sends r back through f. */
function weighted(y: tf.Tensor, seed = 99): tf.Scalar {
  return tf.sum(tf.mul(y, tf.tensor(randomValues(seed, y.size), y.shape)));
}

describe('faster wasm kernels match the cpu backend', () => {
  before(async () => { await selectBackend({ force: 'wasm', quiet: true }); });

  test('the kit replaced tfjs-wasm\'s kernels (so these tests test ours)', () => {
    for (const k of ['Identity', 'Cast', 'BatchMatMul', 'Sum', 'Mean', 'ResizeNearestNeighbor', 'ResizeNearestNeighborGrad',
                     'AvgPoolGrad']) {
      assert.ok(replacedWasmKernels.has(k), `Expected tfjs-wasm's ${k} to have been replaced, but it was not`);
      assert.notEqual(tf.getKernel(k, 'wasm')?.kernelFunc, replacedWasmKernels.get(k)?.kernelFunc);
    }
  });

  // tfjs's matMul gradient does not reduce broadcast batch axes (on any backend): values only there.
  const matMuls: Array<[number[], number[], boolean, boolean]> = [
    [[5, 3], [3, 4], false, false], [[3, 5], [3, 4], true, false], [[5, 3], [4, 3], false, true], [[3, 5], [4, 3], true, true],
    [[6, 5, 3], [3, 4], false, false],        // batched A, shared B: one unbatched product
    [[2, 3, 5, 3], [1, 3, 4], false, false],  // two batch axes, B batch 1
    [[6, 3, 5], [4, 3], true, true],          // batched, both transposed
    [[6, 5, 3], [6, 3, 4], false, false],     // batched both, few rows (tfjs-wasm's kernel)
    [[6, 9, 3], [6, 3, 4], false, false],     // batched both: one product per batch
    [[3, 16, 5], [3, 16, 4], true, false],    // batched, A transposed: one product per batch
    [[1, 9, 3], [6, 4, 3], false, true],      // A batch 1, B batched
    [[2, 3, 9, 3], [2, 3, 3, 4], false, false],  // two batch axes, one product per batch
    [[64, 256], [64, 32], true, false],       // a linear layer's weight gradient
  ];
  for (const [sa, sb, ta, tb] of matMuls) {
    test(`BatchMatMul [${sa}]${ta ? 'ᵀ' : ''} · [${sb}]${tb ? 'ᵀ' : ''}, value and gradients`, () => {
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.matMul(a, b, ta, tb);
      assertMatchesCpu([input(1, sa), input(2, sb)], f);
      if (sa.length !== sb.length || sa.slice(0, -2).some((n, i) => n !== sb[i])) return;
      assertMatchesCpu([input(1, sa), input(2, sb)], (a, b) => tf.grads((p: tf.Tensor, q: tf.Tensor) => weighted(f(p, q)))([a, b]));
    });
  }

  const reductions: Array<[number[], number | number[], boolean]> = [
    [[4, 5, 6, 3], [0, 1, 2], false], [[4, 5, 6, 3], [0, 1, 2], true], [[4, 5, 6, 3], [1, 2], false], [[4, 5, 6, 3], [1, 2], true],
    [[7, 3], 0, false], [[4, 5, 6, 3], [0], false], [[4, 5, 6, 3], [-3, -2], false],
    [[4, 5, 6, 3], [3], false], [[4, 5, 6, 3], [2, 3], true],  // innermost: tfjs-wasm's kernel
    [[4, 5, 6, 3], [0, 2], false],                             // not contiguous: tfjs-wasm's kernel
    [[64, 32, 32, 16], [0, 1, 2], false],                      // a batch-norm statistic at bench32's size
    [[9], 0, false],
  ];
  for (const [shape, axis, keepDims] of reductions) {
    test(`Sum and Mean of [${shape}] over ${JSON.stringify(axis)}${keepDims ? ', keepDims' : ''}, value and gradient`, () => {
      for (const op of [tf.sum, tf.mean]) {
        assertMatchesCpu([input(3, shape)], (x) => op(x, axis, keepDims));
        assertMatchesCpu([input(3, shape)], (x) => tf.grad((p: tf.Tensor) => weighted(op(p, axis, keepDims)))(x));
      }
    });
  }

  test('Sum of int32 and of bool (tfjs-wasm\'s kernel) is exact', () => {
    assertMatchesCpu([], () => tf.sum(tf.tensor2d([[1, 2], [3, 4], [5, 6]], undefined, 'int32'), 0).toFloat(), 0);
    assertMatchesCpu([], () => tf.sum(tf.tensor1d([1, 0, 1], 'bool')).toFloat(), 0);
  });

  const resizes: Array<[number[], [number, number], boolean]> = [
    [[2, 4, 5, 3], [8, 10], false], [[2, 4, 5, 3], [12, 5], false], [[1, 3, 3, 2], [9, 6], false],
    [[2, 4, 5, 3], [6, 7], false],  // not a whole factor: tfjs-wasm's kernel
    [[2, 4, 5, 3], [8, 10], true],  // alignCorners: tfjs-wasm's kernel
    [[64, 8, 8, 64], [16, 16], false],
  ];
  for (const [shape, size, alignCorners] of resizes) {
    test(`ResizeNearestNeighbor [${shape}] -> ${size}${alignCorners ? ' alignCorners' : ''}, value and gradient`, () => {
      const f = (x: tf.Tensor) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, size, alignCorners);
      assertMatchesCpu([input(4, shape)], f);
      // The cpu reference is the kit's ResizeNearestNeighborGrad (tfjs-cpu's is wrong for batch > 1), itself checked
      // against plain JS in test/kernels_cpu.test.ts.
      assertMatchesCpu([input(4, shape)], (x) => tf.grad((p: tf.Tensor) => weighted(f(p)))(x));
    });
  }

  const pools: Array<[number[], number | [number, number], number | [number, number], 'valid' | 'same']> = [
    [[2, 8, 6, 3], 2, 2, 'valid'], [[2, 8, 6, 3], 2, 2, 'same'], [[2, 9, 6, 3], 3, [3, 2], 'valid'],
    [[2, 9, 9, 3], 3, 3, 'valid'], [[64, 32, 32, 16], 2, 2, 'valid'],
    [[2, 7, 6, 3], 2, 2, 'valid'],  // odd side: the window does not tile it (tfjs-wasm's kernel)
    [[2, 8, 8, 3], 3, 2, 'same'],   // overlapping windows (tfjs-wasm's kernel)
  ];
  for (const [shape, filter, stride, pad] of pools) {
    test(`AvgPool [${shape}] window ${filter} stride ${stride} ${pad}, value and gradient`, () => {
      const f = (x: tf.Tensor) => tf.avgPool(x as tf.Tensor4D, filter, stride, pad);
      assertMatchesCpu([input(5, shape)], f);
      assertMatchesCpu([input(5, shape)], (x) => tf.grad((p: tf.Tensor) => weighted(f(p)))(x));
    });
  }

  test('Cast to the same dtype keeps the values; to another dtype converts them', () => {
    assertMatchesCpu([input(6, [3, 4])], (x) => tf.cast(x, 'float32'), 0);
    assertMatchesCpu([], () => tf.cast(tf.tensor1d([1.7, -2.2, 0.4]), 'int32').toFloat(), 0);
  });

  test('a clone shares its source\'s buffer, outlives it, and every buffer is freed', () => {
    useBackend('wasm');
    const before = tf.memory();
    const x = tf.tensor1d([1, 2, NaN, -4]);
    const y = tf.clone(x), z = tf.cast(y, 'float32');
    assert.equal(tf.memory().numDataBuffers, before.numDataBuffers + 1, 'Expected the clones to share one buffer');
    x.dispose();
    y.dispose();
    assert.deepEqual(Array.from(z.dataSync()), [1, 2, NaN, -4]);
    z.dispose();
    const after = tf.memory();
    assert.equal(after.numTensors, before.numTensors);
    assert.equal(after.numDataBuffers, before.numDataBuffers);
  });

  test('gradients through the kit\'s kernels leave no tensor and no wasm buffer behind', () => {
    useBackend('wasm');
    const x = tf.randomNormal([4, 8, 8, 6]) as tf.Tensor4D;
    const w = tf.variable(tf.randomNormal([6, 5]));
    const step = () => tf.tidy(() => {
      const { grads } = tf.variableGrads(() => {
        const h = tf.avgPool(tf.image.resizeNearestNeighbor(x, [16, 16]), 2, 2, 'valid');
        const m = tf.matMul(tf.reshape(h, [-1, 6]), w as tf.Tensor2D);
        return tf.add(tf.sum(tf.mean(tf.square(m), [0])), tf.sum(tf.matMul(w, w, true, false)));
      });
      return grads[w.name].clone();
    });
    step().dispose();
    const before = tf.memory();
    for (let i = 0; i < 10; i++) step().dispose();
    const after = tf.memory();
    assert.equal(after.numTensors, before.numTensors);
    assert.equal(after.numDataBuffers, before.numDataBuffers);
    tf.dispose([x, w]);
  });
});

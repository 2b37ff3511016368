/**
 * The fused Adam and EMA kernels (src/backend/kernels/wasm_optim.ts) against train/optim.ts's
 * elementwise formulas on tfjs's cpu backend, bit for bit: Adam over shapes
 * and step counts (20 updates of a small fit), EMA steps; bad inputs, and no
 * leaked buffers.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/select';
import { FUSED_ADAM, FUSED_EMA } from '../src/backend/kernels/wasm_optim';
import { Adam, updateEma } from '../src/train/optim';
import { randomValues, relativeError } from './kernel_compare';
import { useBackend } from './use_backend';

/** Runs `steps` Adam updates of x toward a fixed target on `backend`; returns x and the moments. */
function fit(backend: string, fused: boolean, shape: number[], steps: number, seed: number) {
  useBackend(backend);
  const n = shape.reduce((a, b) => a * b, 1);
  const x = tf.tidy(() => tf.variable(tf.tensor(randomValues(seed, n), shape)));
  const target = tf.tensor(randomValues(seed + 1, n), shape);
  const opt = new Adam(0.05, 0, 0.999);
  opt.fused = fused;
  const vars = new Map([['x', x]]);
  for (let i = 0; i < steps; i++) {
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(tf.square(tf.sub(tf.mul(x, x), target)), 1 + i)) as tf.Scalar, [x]);
    value.dispose();
    opt.step(vars, grads);
    tf.dispose(Object.values(grads));
  }
  const out = {
    x: Float32Array.from(x.dataSync()), m: Float32Array.from(opt.m.get('x')!.dataSync()), v: Float32Array.from(opt.v.get('x')!.dataSync()),
  };
  tf.dispose([x, target]);
  opt.dispose();
  return out;
}

/** `steps` EMA updates of a random ema toward a moving x on `backend`; returns the ema. */
function average(backend: string, fused: boolean, n: number, steps: number): Float32Array {
  useBackend(backend);
  const ema = tf.tidy(() => tf.variable(tf.tensor(randomValues(7, n))));
  const x = tf.tidy(() => tf.variable(tf.tensor(randomValues(8, n))));
  for (let i = 0; i < steps; i++) {
    updateEma([[ema, x]], 0.999 - i * 0.01, false, { fused });
    tf.tidy(() => x.assign(tf.add(x, tf.tensor(randomValues(9 + i, n)))));
  }
  const out = Float32Array.from(ema.dataSync());
  tf.dispose([ema, x]);
  return out;
}

describe('fused Adam and EMA on wasm', () => {
  before(async () => { await selectBackend({ force: 'wasm', quiet: true }); });

  test('the wasm backend has the kernels and the cpu backend does not (so the cpu runs the formulas)', () => {
    for (const k of [FUSED_ADAM, FUSED_EMA]) {
      assert.ok(tf.getKernel(k, 'wasm') != null);
      assert.equal(tf.getKernel(k, 'cpu'), undefined);
    }
  });

  test('EMA steps equal the elementwise formula on cpu, bit for bit, and move the average', () => {
    const ref = average('cpu', true, 1000, 12), got = average('wasm', true, 1000, 12), ops = average('wasm', false, 1000, 12);
    assert.equal(relativeError(ref, got), 0, `Expected the fused EMA equal to the cpu formula's, but got ${relativeError(ref, got)}`);
    assert.equal(relativeError(ref, ops), 0);
    assert.ok(relativeError(randomValues(7, 1000), got) > 1e-3, 'Expected the average to move');
  });

  for (const [shape, steps] of [[[7], 1], [[3, 3, 5, 4], 2], [[256, 128], 20], [[1], 20]] as Array<[number[], number]>) {
    test(`${steps} updates of [${shape}] equal the elementwise formula on cpu, bit for bit`, () => {
      const ref = fit('cpu', true, shape, steps, shape.length * 10 + steps);
      const got = fit('wasm', true, shape, steps, shape.length * 10 + steps);
      for (const k of ['x', 'm', 'v'] as const) {
        const e = relativeError(ref[k], got[k]);
        assert.equal(e, 0, `Expected ${k} equal to the cpu formula's, but got a relative error of ${e}`);
      }
      const moved = relativeError(randomValues(shape.length * 10 + steps, got.x.length), got.x);
      assert.ok(moved > 1e-3, 'Expected the variable to move');
    });
  }

  test('fused = false runs the formula on wasm too, with the same result', () => {
    const a = fit('wasm', false, [5, 6], 5, 3), b = fit('wasm', true, [5, 6], 5, 3);
    assert.equal(relativeError(a.x, b.x), 0);
  });

  test('a gradient or average of another shape is an error that says so', () => {
    useBackend('wasm');
    const x = tf.zeros([2, 3]), g = tf.zeros([3, 2]);
    const attrs = { lr: 1, beta1: 0, beta2: 0.9, epsilon: 1e-8, c1: 1, c2: 1 };
    assert.throws(() => tf.engine().runKernel(FUSED_ADAM, { x, m: x, v: x, g }, attrs),
                  /Expected g of FusedAdam to be float32 of shape \[2,3\], but got float32 \[3,2\]/);
    assert.throws(() => tf.engine().runKernel(FUSED_EMA, { ema: x, x: g }, { decay: 0.9 }),
                  /Expected x of FusedEma to be float32 of shape \[2,3\], but got float32 \[3,2\]/);
    tf.dispose([x, g]);
  });

  test('updates leave no tensor and no wasm buffer behind', () => {
    fit('wasm', true, [4, 4], 2, 1);
    const before = tf.memory();
    fit('wasm', true, [4, 4], 5, 1);
    const after = tf.memory();
    assert.equal(after.numTensors, before.numTensors);
    assert.equal(after.numDataBuffers, before.numDataBuffers);
  });
});

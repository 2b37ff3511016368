/**
 * Helpers for the kernel tests (test/kernels*.test.ts): run the same function
 * of fixed inputs on two backends and compare the results on the scale of the
 * reference.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../src/util/rng';
import { useBackend } from './use_backend';

/** n uniform values in [-1, 1) from a seeded Rng. */
export function randomValues(seed: number, n: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
}

/** max |a - b| / max |a|: the error relative to the reference's scale (0 when both are all zero). */
export function relativeError(ref: ArrayLike<number>, got: ArrayLike<number>): number {
  assert.equal(got.length, ref.length, `Expected ${ref.length} values, but got ${got.length}`);
  let err = 0, scale = 0;
  for (let i = 0; i < ref.length; i++) {
    if (Number.isNaN(ref[i]) !== Number.isNaN(got[i])) return Infinity;
    if (Number.isNaN(ref[i])) continue;
    err = Math.max(err, Math.abs(ref[i] - got[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return scale === 0 ? err : err / scale;
}

/**
 * Runs `f` on `backend` over tensors made from `inputs` (values and shapes) and
 * returns the values and shapes of its outputs; frees everything it made.
 */
export function runOn(backend: string, inputs: Array<[Float32Array, number[]]>,
                      f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[]): Array<{ values: Float32Array; shape: number[] }> {
  useBackend(backend);
  const outs = tf.tidy(() => {
    const r = f(...inputs.map(([v, s]) => tf.tensor(v, s)));
    return Array.isArray(r) ? r : [r];
  });
  const read = outs.map((t) => ({ values: Float32Array.from(t.dataSync()), shape: t.shape.slice() }));
  tf.dispose(outs);
  return read;
}

/** `f` on wasm (the kit's kernels) matches `f` on cpu in shape and within `tolerance` of the cpu values' scale. */
export function assertMatchesCpu(inputs: Array<[Float32Array, number[]]>, f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[],
                                 tolerance = 1e-5): void {
  const ref = runOn('cpu', inputs, f), got = runOn('wasm', inputs, f);
  assert.equal(got.length, ref.length);
  ref.forEach((r, i) => {
    assert.deepEqual(got[i].shape, r.shape, `Expected output ${i} of shape [${r.shape}], but got [${got[i].shape}]`);
    const e = relativeError(r.values, got[i].values);
    assert.ok(e <= tolerance, `Expected output ${i} within ${tolerance} of the cpu backend, but got a relative error of ${e}`);
  });
}

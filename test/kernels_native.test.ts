/**
 * The optional oneDNN conv2d kernels (native/dnnl_kernels.cc through
 * src/kernels/native_dnnl.ts) against tfjs's pure-JS `cpu` backend: the forward
 * conv and both gradients over the cases of conv_cases.ts, the fallback for
 * what they do not take (dilation), memory, threads and the reasons given when
 * they are not used.
 *
 * They run where `npm run build` could compile the addon (g++ and libdnnl-dev).
 * Elsewhere the numerics are skipped with the reason, unless
 * BIGBIGAN_REQUIRE_NATIVE=1 (set by .ci/run, which installs both), which
 * turns a missing addon into a failure.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'child_process';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend';
import { registerNativeKernels } from '../src/kernels/native_dnnl';
import { assertConvLeavesNothing, assertConvMatchesCpu, convCaseName, CONV_CASES } from './conv_cases';
import { relativeError } from './kernel_compare';

const CLI = path.join(__dirname, '..', 'src', 'cli.js');

function backendLine(env: Record<string, string>): string {
  return execFileSync(process.execPath, [CLI, 'backend', '--backend', 'wasm'], { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('native oneDNN conv2d kernels', () => {
  let reason: string | null = null;
  before(async () => {
    await selectBackend({ force: 'wasm', quiet: true });
    const r = registerNativeKernels();
    if (!r.used) reason = r.reason;
  });
  const skipWhyNot = (t: { skip(msg: string): void }): boolean => {
    if (reason == null) return false;
    assert.notEqual(process.env.BIGBIGAN_REQUIRE_NATIVE, '1', `Expected the native kernels (BIGBIGAN_REQUIRE_NATIVE=1), but ${reason}`);
    t.skip(reason);
    return true;
  };

  for (const c of CONV_CASES) {
    test(`${convCaseName(c)}: y, dx and dW match the cpu backend`, (t) => {
      if (!skipWhyNot(t)) assertConvMatchesCpu(c);
    });
  }

  test('a dilated conv, which oneDNN is not given, falls back and still matches the cpu backend', (t) => {
    if (skipWhyNot(t)) return;
    const x = tf.randomNormal([2, 9, 9, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 3, 4], 0, 1, 'float32', 2) as tf.Tensor4D;
    const conv = () => tf.tidy(() => tf.conv2d(x, w, 1, 'same', 'NHWC', 2).dataSync() as Float32Array);
    const got = conv();
    tf.setBackend('cpu');
    const xc = tf.tensor(x.dataSync(), x.shape) as tf.Tensor4D, wc = tf.tensor(w.dataSync(), w.shape) as tf.Tensor4D;
    const ref = tf.conv2d(xc, wc, 1, 'same', 'NHWC', 2).dataSync();
    tf.dispose([xc, wc]);
    tf.setBackend('wasm');
    tf.dispose([x, w]);
    assert.ok(relativeError(ref, got) <= 1e-5, `relative error ${relativeError(ref, got)}`);
  });

  test('they leave no tensor and no wasm buffer behind', (t) => {
    if (!skipWhyNot(t)) assertConvLeavesNothing();
  });

  test('the backend line names oneDNN and its threads; BIGBIGAN_NATIVE_THREADS sets them; BIGBIGAN_NATIVE=0 switches them off', (t) => {
    if (skipWhyNot(t)) return;
    assert.match(backendLine({ BIGBIGAN_NATIVE_THREADS: '1' }), /wasm \(SIMD, 1 thread; conv2d on oneDNN [\d.]+, [^,]+, 1 thread\)/);
    assert.match(backendLine({ BIGBIGAN_NATIVE_THREADS: '2' }), /conv2d on oneDNN [\d.]+, [^,]+, 2 threads\)/);
    assert.match(backendLine({ BIGBIGAN_NATIVE: '0' }), /wasm \(SIMD, 1 thread; native kernels off \(BIGBIGAN_NATIVE=0\)\)/);
  });

  test('a bad BIGBIGAN_NATIVE_THREADS is one clear error', (t) => {
    if (skipWhyNot(t)) return;
    assert.throws(() => backendLine({ BIGBIGAN_NATIVE_THREADS: 'two' }),
                  (e: { stderr: string }) => /Expected BIGBIGAN_NATIVE_THREADS to be a whole number ≥ 1, but got 'two'/.test(e.stderr));
  });

  test('where the addon is not built, the reason says what to install', () => {
    const r = registerNativeKernels({ addonPath: path.join(__dirname, 'no-such-dir', 'dnnl_kernels.node') });
    assert.equal(r.used, false);
    assert.match((r as { reason: string }).reason, /not built: install g\+\+ and libdnnl-dev, then npm run build/);
  });
});

/**
 * The optional oneDNN conv2d kernels (native/dnnl_kernels.cc through
 * src/backend/kernels/native_dnnl.ts) against tfjs's pure-JS `cpu` backend: the forward
 * conv and both gradients over the cases of conv_cases.ts, element-wise ops
 * with a per-channel operand, leading-axis sums and means, batched products,
 * the fallback for what they do not take, memory, threads and the reasons
 * given when they are not used.
 *
 * They run where `npm run build` could compile the addon (g++ and libdnnl-dev).
 * Elsewhere the suite is skipped with one line saying what to install, unless
 * BIGBIGAN_REQUIRE_OPTIONAL=1 (set by .ci/run, which installs both; test/optional.ts), which
 * turns a missing addon into a failure.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'child_process';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/select';
import { registerNativeKernels } from '../src/backend/kernels/native_dnnl';
import { assertConvLeavesNothing, assertConvMatchesCpu, convCaseName, CONV_CASES } from './conv_cases';
import { assertMatchesCpu, randomValues, relativeError } from './kernel_compare';
import { requireOptional, skipUnless } from './optional';
import { useBackend } from './use_backend';

const CLI = path.join(__dirname, '..', 'src', 'cli.js');

function backendLine(env: Record<string, string>): string {
  return execFileSync(process.execPath, [CLI, 'backend', '--backend', 'wasm'],
                      { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const notBuilt = skipUnless('onednn');

describe('native oneDNN conv2d kernels', { skip: notBuilt }, () => {
  if (notBuilt) return;
  let reason: string | null = null;
  before(async () => {
    await selectBackend({ force: 'wasm', quiet: true });
    const r = registerNativeKernels();
    if (!r.used) reason = r.reason;
  });
  const skipWhyNot = (t: { skip(msg: string): void }): boolean => {
    if (reason == null) return false;
    assert.ok(!requireOptional(), `Expected the native kernels (BIGBIGAN_REQUIRE_OPTIONAL=1), but ${reason}`);
    t.skip(reason);
    return true;
  };

  for (const c of CONV_CASES) {
    test(`${convCaseName(c)}: y, dx and dW match the cpu backend`, (t) => {
      if (!skipWhyNot(t)) assertConvMatchesCpu(c);
    });
  }

  // Element-wise ops with a per-channel operand, on either side (Sub and RealDiv are not symmetric).
  const map: [number[], number[]] = [[8, 16, 16, 24], [24]];
  for (const [name, op] of [['Add', tf.add], ['Sub', tf.sub], ['Multiply', tf.mul], ['RealDiv', tf.div]] as const) {
    test(`${name} of a [8,16,16,24] map and a per-channel [24] or [1,1,1,24] operand, either side, matches the cpu backend`, (t) => {
      if (skipWhyNot(t)) return;
      const x = randomValues(1, 8 * 16 * 16 * 24), c = randomValues(2, 24).map((v) => v + 2);  // away from 0 for RealDiv
      assertMatchesCpu([[x, map[0]], [c, map[1]]], (a, b) => op(a, b));
      assertMatchesCpu([[c, [1, 1, 1, 24]], [x, map[0]]], (b, a) => op(b, a));
      assertMatchesCpu([[x, [8, 16 * 16 * 24]], [randomValues(3, 16 * 16 * 24), [16 * 16 * 24]]], (a, b) => op(a, b));
    });
  }

  test('Sum and Mean over leading axes (keepDims or not) match the cpu backend; other axes fall back and match too', (t) => {
    if (skipWhyNot(t)) return;
    const x = randomValues(4, 16 * 16 * 16 * 32);
    for (const axes of [[0, 1, 2], [0], [0, 1], [1, 2], [3], [1, 2, 3]]) {
      for (const keep of [false, true]) {
        assertMatchesCpu([[x, [16, 16, 16, 32]]], (a) => [tf.sum(a, axes, keep), tf.mean(a, axes, keep)]);
      }
    }
  });

  test('BatchMatMul with transposes, shared and broadcast batches, ranks 2 to 4, matches the cpu backend', (t) => {
    if (skipWhyNot(t)) return;
    const cases: Array<[number[], number[], boolean, boolean]> = [
      [[64, 256], [256, 96], false, false], [[256, 64], [256, 96], true, false], [[64, 256], [96, 256], false, true],
      [[256, 64], [96, 256], true, true], [[8, 64, 32], [8, 32, 48], false, false], [[8, 32, 64], [8, 48, 32], true, true],
      [[8, 64, 32], [1, 32, 48], false, false], [[1, 64, 32], [8, 32, 48], false, false], [[2, 4, 64, 32], [2, 4, 32, 48], false, true].map(
        (v, i) => (i === 1 ? [2, 4, 48, 32] : v)) as [number[], number[], boolean, boolean],
    ];
    cases.forEach(([sa, sb, ta, tb], i) => {
      const n = (s: number[]) => s.reduce((p, q) => p * q, 1);
      assertMatchesCpu([[randomValues(10 + i, n(sa)), sa], [randomValues(20 + i, n(sb)), sb]], (a, b) => tf.matMul(a, b, ta, tb));
    });
  });

  test('a dilated conv, which oneDNN is not given, falls back and still matches the cpu backend', (t) => {
    if (skipWhyNot(t)) return;
    const x = tf.randomNormal([2, 9, 9, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 3, 4], 0, 1, 'float32', 2) as tf.Tensor4D;
    const conv = () => tf.tidy(() => tf.conv2d(x, w, 1, 'same', 'NHWC', 2).dataSync() as Float32Array);
    const got = conv();
    useBackend('cpu');
    const xc = tf.tensor(x.dataSync(), x.shape) as tf.Tensor4D, wc = tf.tensor(w.dataSync(), w.shape) as tf.Tensor4D;
    const ref = tf.conv2d(xc, wc, 1, 'same', 'NHWC', 2).dataSync();
    tf.dispose([xc, wc]);
    useBackend('wasm');
    tf.dispose([x, w]);
    assert.ok(relativeError(ref, got) <= 1e-5, `relative error ${relativeError(ref, got)}`);
  });

  test('strided 1x1 convs with few input channels (oneDNN corrupts the heap in their dW on AVX2, AVX-512) pass glibc heap checks', (t) => {
    if (skipWhyNot(t)) return;
    // In a child process with MALLOC_CHECK_=3, where a write outside a buffer aborts within a few calls.
    const script = `
      const tf = require('@tensorflow/tfjs');
      const select = require(${JSON.stringify(path.join(__dirname, '..', 'src', 'backend', 'select'))});
      select.selectBackend({ force: 'wasm', quiet: true }).then(() => {
        // [x, filter]: partial blocks of 8 (AVX2), then 8 channels at 64x64 (AVX-512's blocks of 16)
        const shapes = [1, 4, 5, 12].map((ci) => [[8, 16, 16, ci], [1, 1, ci, 8]]).concat([[[8, 64, 64, 8], [1, 1, 8, 16]]]);
        for (const [xShape, wShape] of shapes) {
          for (let i = 0; i < 3; i++) {
            tf.tidy(() => { tf.grads((x, w) => tf.sum(tf.conv2d(x, w, 2, 'valid')))([tf.ones(xShape), tf.ones(wShape)]); });
          }
        }
        console.log('ok ' + tf.memory().numTensors);
      });`;
    const r = spawnSync(process.execPath, ['-e', script], { cwd: path.join(__dirname, '..', '..'), encoding: 'utf8',
                                                          env: { ...process.env, MALLOC_CHECK_: '3', BIGBIGAN_NATIVE_THREADS: '2' } });
    assert.equal(r.signal, null, `the child was killed by ${r.signal}: ${r.stderr.trim().split('\n').slice(-2).join(' ')}`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'ok 0');
  });

  test('they leave no tensor and no wasm buffer behind', (t) => {
    if (!skipWhyNot(t)) assertConvLeavesNothing();
  });

  test('the backend line names oneDNN and its threads; BIGBIGAN_NATIVE_THREADS sets them; BIGBIGAN_NATIVE=0 switches them off', (t) => {
    if (skipWhyNot(t)) return;
    assert.match(backendLine({ BIGBIGAN_NATIVE_THREADS: '1' }),
                 /wasm \(SIMD, 1 thread; native kernels on oneDNN [\d.]+, [^,]+, 1 thread\)/);
    assert.match(backendLine({ BIGBIGAN_NATIVE_THREADS: '2' }), /native kernels on oneDNN [\d.]+, [^,]+, 2 threads\)/);
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

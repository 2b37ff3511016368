/**
 * The webgpu backend against tfjs's cpu backend on small shapes: the kernels
 * of the training path (convolutions and their gradients, matMul, pooling,
 * resizing, activations, reductions), the k-NN top-k, and the kit's Adam
 * step. Runs where Dawn finds a GPU adapter; skipped, with the reason, where
 * none exists (as on the project's CPU machines). Values are read back with
 * `await tensor.data()`: webgpu in Node cannot read synchronously.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/select';
import { Config } from '../src/config';
import { Adam } from '../src/train/optim';
import { resolveConfig } from '../src/presets';
import { createTrainState, disposeTrainState, dStep, egStep } from '../src/train/steps';

/** Why webgpu cannot run here, or null when it can. */
let noGpu: string | null = null;

/** Seeded values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** `f`'s outputs computed on `backend`, read back asynchronously. */
async function on(backend: string, f: () => tf.Tensor[]): Promise<Float32Array[]> {
  assert.ok(await tf.setBackend(backend), `Expected backend ${backend} to start, but it did not`);
  const outs = tf.tidy(f);
  const data = await Promise.all(outs.map((t) => t.data()));
  tf.dispose(outs);
  return data.map((d) => Float32Array.from(d as ArrayLike<number>));
}

/** Asserts |a - b| ≤ atol + rtol·|b| elementwise. */
function assertClose(a: Float32Array, b: Float32Array, what: string, rtol = 2e-3, atol = 2e-4): void {
  assert.equal(a.length, b.length, `Expected ${what} to have ${b.length} values, but got ${a.length}`);
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i] - b[i]) <= atol + rtol * Math.abs(b[i]))) {
      assert.fail(`Expected ${what}[${i}] on webgpu to be ${b[i]} (cpu), but got ${a[i]}`);
    }
  }
}

describe('webgpu numerics against the cpu backend', () => {
  before(async () => {
    try {
      await selectBackend({ force: 'webgpu', quiet: true });
    } catch (e) {
      // "Backend 'webgpu' was requested, but the webgpu backend cannot run: no GPU adapter (WHY). See ..." -> WHY
      noGpu = (e as Error).message.replace(/^.*cannot run: /, '').replace(/\. See the README.*$/, '')
        .replace(/^no GPU adapter \((.*)\)$/, '$1');
    }
  });
  const skipped = (t: { skip(msg: string): void }) => {
    if (noGpu == null) return false;
    t.skip(`no WebGPU adapter: ${noGpu}`);
    return true;
  };

  test('a small conv net: forward values and the gradients of x, the filters and the dense weights', async (t) => {
    if (skipped(t)) return;
    const xs = values(2 * 8 * 8 * 3, 1), w1s = values(3 * 3 * 3 * 4, 2), w2s = values(3 * 3 * 4 * 6, 3), ms = values(6 * 2 * 2 * 5, 4);
    const f = () => {
      const x = tf.tensor4d(xs, [2, 8, 8, 3]), w1 = tf.tensor4d(w1s, [3, 3, 3, 4]), w2 = tf.tensor4d(w2s, [3, 3, 4, 6]);
      const m = tf.tensor2d(ms, [24, 5]);
      const loss = (...args: tf.Tensor[]) => {
        const [x, w1, w2, m] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor2D];
        let h = tf.relu(tf.conv2d(x, w1, 1, 'same'));                                  // Conv2D, Relu
        h = tf.avgPool(h, 2, 2, 'valid') as tf.Tensor4D;                               // AvgPool
        h = tf.conv2d(h, w2, 1, 'same');                                               // Conv2D
        h = tf.maxPool(h, 2, 2, 'valid') as tf.Tensor4D;                               // MaxPool, windows of negative values too
        const [a, b] = tf.split(h, [3, 3], 3);                                         // SplitV
        h = tf.concat([tf.sigmoid(a), tf.softplus(tf.tanh(b))], 3) as tf.Tensor4D;     // Concat, Sigmoid, Softplus, Tanh
        const logits = tf.matMul(tf.reshape(h, [2, 24]), m);                           // BatchMatMul
        const p = tf.softmax(logits);                                                  // Softmax
        const norm = tf.rsqrt(tf.add(tf.mean(tf.square(logits), 1, true), 1e-5));     // Mean, Square, Rsqrt
        return tf.sum(tf.mul(tf.mul(logits, norm), p)) as tf.Scalar;                   // Sum
      };
      const { value, grads } = tf.valueAndGrads(loss)([x, w1, w2, m]);
      return [value, ...grads];
    };
    const gpu = await on('webgpu', f), cpu = await on('cpu', f);
    ['loss', 'dL/dx', 'dL/dw1', 'dL/dw2', 'dL/dm'].forEach((name, i) => assertClose(gpu[i], cpu[i], name));
  });

  test('stride-2 convolution and nearest-neighbour 2x upsampling (G) with their gradients, batch 2', async (t) => {
    if (skipped(t)) return;
    const xs = values(2 * 6 * 6 * 4, 8), ws = values(3 * 3 * 4 * 5, 9), dys = values(2 * 6 * 6 * 5, 10);
    const f = () => {
      const x = tf.tensor4d(xs, [2, 6, 6, 4]), w = tf.tensor4d(ws, [3, 3, 4, 5]), dy = tf.tensor4d(dys, [2, 6, 6, 5]);
      const { value, grads } = tf.valueAndGrads((...a: tf.Tensor[]) =>
        tf.sum(tf.mul(tf.image.resizeNearestNeighbor(tf.conv2d(a[0] as tf.Tensor4D, a[1] as tf.Tensor4D, 2, 'same'), [6, 6]), dy)) as
          tf.Scalar)([x, w]);
      return [value, ...grads];
    };
    // The reference upsamples by concatenation (so sums dy over 2x2 blocks), the same function
    // computed without any resize kernel: independent of the cpu ResizeNearestNeighborGrad that
    // the kit replaces (tfjs-cpu 4.22's is wrong for batch > 1, src/backend/kernels/cpu_resize_grad.ts).
    const reference = () => {
      const x = tf.tensor4d(xs, [2, 6, 6, 4]), w = tf.tensor4d(ws, [3, 3, 4, 5]), dy = tf.tensor4d(dys, [2, 6, 6, 5]);
      const up = (y: tf.Tensor4D) => {
        const a = tf.reshape(y, [2, 3, 1, 3, 1, 5]), b = tf.concat([a, a], 4);
        return tf.reshape(tf.concat([b, b], 2), [2, 6, 6, 5]);
      };
      const { value, grads } = tf.valueAndGrads((...a: tf.Tensor[]) =>
        tf.sum(tf.mul(up(tf.conv2d(a[0] as tf.Tensor4D, a[1] as tf.Tensor4D, 2, 'same')), dy)) as tf.Scalar)([x, w]);
      return [value, ...grads];
    };
    const gpu = await on('webgpu', f), cpu = await on('cpu', reference);
    ['value', 'dL/dx', 'dL/dw'].forEach((name, i) => assertClose(gpu[i], cpu[i], name));
  });

  test('k-NN top-k: the same neighbours and similarities', async (t) => {
    if (skipped(t)) return;
    const q = values(6 * 16, 5), r = values(40 * 16, 6);
    const f = () => {
      const sim = tf.matMul(tf.tensor2d(q, [6, 16]), tf.tensor2d(r, [40, 16]), false, true);
      const { values: v, indices } = tf.topk(sim, 5);
      return [v, tf.cast(indices, 'float32'), tf.image.resizeBilinear(tf.reshape(sim, [1, 6, 40, 1]) as tf.Tensor4D, [12, 80])];
    };
    const gpu = await on('webgpu', f), cpu = await on('cpu', f);
    assertClose(gpu[0], cpu[0], 'top-k similarities');
    assert.deepEqual([...gpu[1]], [...cpu[1]], `Expected the same top-k indices on webgpu as on cpu, but got ${gpu[1]} vs ${cpu[1]}`);
    assertClose(gpu[2], cpu[2], 'resizeBilinear');
  });

  test("the kit's Adam step (elementwise path) gives the same variables", async (t) => {
    if (skipped(t)) return;
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const v = tf.variable(tf.tensor2d(values(64, 7), [8, 8]), true, `adam-${backend}`);
      const opt = new Adam(1e-2, 0.5, 0.999);
      for (let i = 0; i < 3; i++) {
        const g = tf.tidy(() => tf.mul(tf.sin(v), 0.3));
        opt.step(new Map([['v', v]]), { [v.name]: g });
        g.dispose();
      }
      const out = Float32Array.from(await v.data() as Float32Array);
      v.dispose();
      opt.dispose();
      return out;
    };
    assertClose(await run('webgpu'), await run('cpu'), 'Adam-updated variable', 1e-4, 1e-6);
  });

  // dStep/egStep read their losses with `await tensor.data()`: the only read webgpu can do in Node.
  test('a D step and an E/G step of a tiny config run on webgpu with finite losses', async (t) => {
    if (skipped(t)) return;
    await tf.setBackend('webgpu');
    const cfg: Config = { ...resolveConfig('mnist'), zDim: 6, gCh: 4, gMults: [2, 2, 1], gAttention: 8, resolution: 16, eResolution: 16,
                          eCh: 4, eMlp: 16, dCh: 8, dMults: [1, 2], dAttention: 8, dMlp: 16, batchSize: 4 };
    const state = createTrainState(cfg);
    const x = tf.randomUniform([4, 16, 16, 1], -1, 1, 'float32', 1) as tf.Tensor4D;
    try {
      const d = await dStep(state, x), eg = await egStep(state, x);
      for (const [k, v] of Object.entries({ ...d, ...eg })) assert.ok(Number.isFinite(v), `Expected ${k} to be finite, but got ${v}`);
    } finally {
      x.dispose();
      disposeTrainState(state);
    }
  });
});

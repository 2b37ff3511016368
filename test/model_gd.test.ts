/**
 * G and D (src/model/generator.ts, src/model/discriminator.ts): the bench32
 * networks have exactly the PyTorch reference's parameter counts
 * (shared/bench/torch_reference.py), shapes and ranges are right, config
 * mistakes give clear errors, spectral norm estimates σ(W), gradients reach
 * F, H and J, inference changes no state, and training passes leak no tensors.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Config, DEFAULT_CONFIG } from '../src/config';
import { PRESETS } from '../src/presets';
import { Rng } from '../src/util/rng';
import { selectBackend } from '../src/backend/select';
import { Ctx, Init, Params } from '../src/model/params';
import { G, latentChunks } from '../src/model/generator';
import { D, fBlockResolutions } from '../src/model/discriminator';

const BENCH32: Config = { ...DEFAULT_CONFIG, ...PRESETS.bench32.delta };
const B = 2;

/** Most tests use the cheap 'normal' init; the count test builds with the default 'ortho'. */
function ctxFor(name: string, seed: number, init: Init = 'normal', training = true): Ctx {
  return { params: new Params(name, new Rng(seed), init), path: '', training };
}

function latent(cfg: Config, seed = 1): tf.Tensor2D {
  return tf.randomNormal([B, cfg.zDim], 0, 1, 'float32', seed);
}

function images(cfg: Config, seed = 2): tf.Tensor4D {
  return tf.randomUniform([B, cfg.resolution, cfg.resolution, cfg.channels], -1, 1, 'float32', seed);
}

/** Builds G and D of `cfg` with one training-mode pass (no tensors kept but the variables). */
function build(cfg: Config, init: Init = 'normal'): { g: Ctx; d: Ctx } {
  const g = ctxFor('G', 1, init), d = ctxFor('D', 2, init);
  tf.tidy(() => {
    const z = latent(cfg);
    D(d, cfg, G(g, cfg, z), cfg.noEncoder ? null : z);
  });
  return { g, d };
}

function snapshot(params: Params): Map<string, Float32Array> {
  return new Map([...params.state].map(([k, v]) => [k, v.dataSync().slice() as Float32Array]));
}

function changed(a: Float32Array, b: Float32Array): boolean {
  return a.some((x, i) => x !== b[i]);
}

/**
 * The largest singular value of the row-major [rows, cols] matrix w, in Float64 and
 * without tf: the Gram matrix A (the smaller of WᵀW, WWᵀ) raised to the power 2^14 by
 * repeated normalised squaring, whose largest column is the top eigenvector; σ² is its
 * Rayleigh quotient.
 */
function largestSingularValue(w: ArrayLike<number>, rows: number, cols: number): number {
  const n = Math.min(rows, cols), m = Math.max(rows, cols);
  const at = (i: number, k: number) => (cols <= rows ? w[k * cols + i] : w[i * cols + k]);  // i < n, k < m
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let k = 0; k < m; k++) s += at(i, k) * at(j, k);
    a[i * n + j] = s;
  }
  let p = a.slice();
  for (let it = 0; it < 14; it++) {
    const q = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) {
      const pik = p[i * n + k];
      for (let j = 0; j < n; j++) q[i * n + j] += pik * p[k * n + j];
    }
    let trace = 0;
    for (let i = 0; i < n; i++) trace += q[i * n + i];
    p = q.map((x) => x / trace);
  }
  let best = 0, bestNorm = -1;
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += p[i * n + j] ** 2;
    if (s > bestNorm) { bestNorm = s; best = j; }
  }
  const x = Array.from({ length: n }, (_, i) => p[i * n + best]);
  let num = 0, den = 0;
  for (let i = 0; i < n; i++) {
    let ax = 0;
    for (let j = 0; j < n; j++) ax += a[i * n + j] * x[j];
    num += x[i] * ax;
    den += x[i] * x[i];
  }
  return Math.sqrt(num / den);
}

describe('G and D (bench32 and generalisations)', () => {
  // wasm, not cpu: the cpu backend's tf.linalg.qr takes 15-25 s per bench32 weight (orthogonal init),
  // and its forward passes are ~10x slower than wasm's here.
  before(async () => { await selectBackend({ force: 'wasm', quiet: true }); });

  test('bench32 parameter counts equal the PyTorch reference: G 143,394 and D 371,572', () => {
    const { g, d } = build(BENCH32, 'ortho');
    assert.equal(g.params.countWeights(), 143_394);
    assert.equal(d.params.countWeights(), 371_572);
    for (const path of ['linear/w', 'block0/cbn1/gain/w', 'block1/conv2/b', 'block2/shortcut/w', 'attention/gamma', 'bn/gamma', 'out/w']) {
      assert.ok(g.params.weights.has(path), `G has ${path}`);
    }
    for (const path of ['F/block0/conv1/w', 'F/attention/q/w', 'H/linear2/w', 'J/linear1/w', 'theta_x/w', 'theta_z/w', 'theta_xz/w']) {
      assert.ok(d.params.weights.has(path), `D has ${path}`);
    }
    assert.ok(g.params.state.has('block0/cbn1/bn/running_mean') && g.params.state.has('out/sn_u'), 'G keeps BN and SN state');
    g.params.dispose();
    d.params.dispose();
  });

  test('shapes and ranges: G(z) in [-1, 1] of [B, 32, 32, 1]; D scores [B]; noEncoder D has no H or J', () => {
    const { g, d } = build(BENCH32);
    tf.tidy(() => {
      const z = latent(BENCH32, 5);
      const x = G(g, BENCH32, z);
      assert.deepEqual(x.shape, [B, 32, 32, 1]);
      const values = x.dataSync();
      assert.ok(values.every((v) => v >= -1 && v <= 1) && values.some((v) => v !== values[0]), 'tanh range, not constant');
      const s = D(d, BENCH32, x, z);
      for (const score of [s.s_x, s.s_z, s.s_xz]) assert.deepEqual(score?.shape, [B]);
      assert.throws(() => D(d, BENCH32, x, null), /Expected a latent z \[B, 64\].*but got null/);
    });
    const plain = { ...BENCH32, noEncoder: true };
    const dPlain = ctxFor('D', 2);
    tf.tidy(() => {
      const s = D(dPlain, plain, images(plain), null);
      assert.deepEqual(s.s_x.shape, [B]);
      assert.equal(s.s_z, null);
      assert.equal(s.s_xz, null);
      assert.throws(() => D(dPlain, plain, images(plain), latent(plain)), /Expected z = null with noEncoder/);
    });
    const paths = [...dPlain.params.weights.keys()];
    assert.ok(!paths.some((p) => p.startsWith('H/') || p.startsWith('J/') || p.startsWith('theta_z') || p.startsWith('theta_xz')),
              'no H, J, θ_z, θ_xz');
    assert.equal(dPlain.params.countWeights(), 371_572 - 148_224 - 147_968 - 257 - 257);  // less H, J and two heads
    for (const p of [g.params, d.params, dPlain.params]) p.dispose();
  });

  test('a 64x64 RGB G (5 gMults) and D work; F stops pooling at 4x4, with an identity shortcut there', () => {
    const cfg: Config = {
      ...BENCH32, resolution: 64, channels: 3, gMults: [4, 4, 2, 1, 1], zDim: 80, gAttention: 32, dMults: [1, 2, 4, 4], dAttention: 32,
    };
    const { g, d } = build(cfg);
    tf.tidy(() => {
      const z = latent(cfg);
      const x = G(g, cfg, z);
      assert.deepEqual(x.shape, [B, 64, 64, 3]);
      assert.deepEqual(D(d, cfg, x, z).s_xz?.shape, [B]);
    });
    assert.ok(g.params.weights.has('block3/conv2/w') && g.params.weights.has('attention/gamma'));
    assert.deepEqual(fBlockResolutions(128, 6), [64, 32, 16, 8, 4, 4]);
    assert.deepEqual(fBlockResolutions(32, 3), [16, 8, 4]);
    // A block that keeps width and size (as the 128x128 D's last) has an identity shortcut, as in BigGAN.
    const deep: Config = { ...BENCH32, dMults: [1, 2, 4, 4], noEncoder: true };
    const dDeep = ctxFor('D', 3);
    tf.tidy(() => assert.deepEqual(D(dDeep, deep, images(deep), null).s_x.shape, [B]));
    assert.ok(dDeep.params.weights.has('F/block3/conv2/w') && !dDeep.params.weights.has('F/block3/shortcut/w'));
    for (const p of [g.params, d.params, dDeep.params]) p.dispose();
  });

  test('z splits into chunks as even as possible when zDim is not a multiple of the blocks', () => {
    for (const [zDim, n] of [[32, 5], [32, 3], [64, 4], [120, 6], [7, 7]]) {
      const sizes = latentChunks({ ...BENCH32, zDim, gMults: new Array(n).fill(1) });
      assert.equal(sizes.length, n);
      assert.equal(sizes.reduce((a, b) => a + b, 0), zDim);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= (zDim % n === 0 ? 0 : 1), `${zDim}/${n}: ${sizes}`);
      assert.deepEqual([...sizes].sort((a, b) => b - a), sizes);  // larger chunks first
    }
    const cfg: Config = { ...BENCH32, zDim: 30 };  // 4 blocks: 8, 8, 7, 7
    const g = ctxFor('G', 4);
    tf.tidy(() => assert.deepEqual(G(g, cfg, latent(cfg)).shape, [B, 32, 32, 1]));
    assert.deepEqual(g.params.weights.get('linear/w')!.shape[0], 8);
    g.params.dispose();
  });

  test('config mistakes give clear errors', () => {
    const g = ctxFor('G', 1), d = ctxFor('D', 2);
    const cases: Array<[Partial<Config>, RegExp]> = [
      [{ zDim: 3 }, /Expected zDim ≥ gMults.length .*zDim=3 and 4 entries/],
      [{ resolution: 64 }, /Expected resolution = 4 \* 2\^\(gMults.length - 1\) = 32 .*but got resolution=64/],
      [{ gAttention: 64 }, /Expected gAttention to be 0 or a block resolution \(8, 16, 32\), but got 64/],
    ];
    tf.tidy(() => {
      for (const [delta, message] of cases) {
        const cfg = { ...BENCH32, ...delta };
        assert.throws(() => G(g, cfg, latent(cfg)), message);
      }
      assert.throws(() => G(g, BENCH32, tf.zeros([B, 32]) as tf.Tensor2D), /Expected z of shape \[B, 64\], but got \[2,32\]/);
      assert.throws(() => D(d, { ...BENCH32, dAttention: 32 }, images(BENCH32), latent(BENCH32)),
                    /Expected dAttention to be 0 or a block resolution of F \(16, 8, 4\), but got 32/);
      assert.throws(() => D(d, BENCH32, tf.zeros([B, 28, 28, 1]) as tf.Tensor4D, latent(BENCH32)),
                    /Expected x of shape \[B, 32, 32, 1\], but got \[2,28,28,1\]/);
    });
    g.params.dispose();
    d.params.dispose();
  });

  test('spectral norm: after 30 training passes vᵀ W u is within 1% of the largest singular value', (t) => {
    const { g, d } = build(BENCH32);  // 'normal', not 'ortho': all singular values of an orthogonal W are 1
    const checks: Array<[Params, string]> = [[g.params, 'linear'], [g.params, 'block0/conv1'], [g.params, 'block1/cbn2/gain'],
                                             [d.params, 'F/block2/conv2'], [d.params, 'H/linear1'], [d.params, 'J/linear0']];
    // An iid N(0, 0.02²) weight has a flat spectrum at the top, where one power iteration per pass
    // needs ~100 passes for 1% (G/linear: 1.1% low after 30, 0.1% after 120); trained weights have
    // a gap. Give each checked weight one: a rank-1 spike of twice the bulk's largest σ, 0.02(√m + √n).
    checks.forEach(([params, path], i) => {
      const w = params.weights.get(`${path}/w`)!;
      const cols = w.shape[w.shape.length - 1], rows = w.size / cols;
      w.assign(tf.tidy(() => {
        const [a, b] = [rows, cols].map((n, k) => tf.randomNormal([n, 1], 0, 1, 'float32', 100 + 2 * i + k));
        const spike = tf.matMul(tf.div(a, tf.norm(a)), tf.div(b, tf.norm(b)), false, true);  // [rows, cols], σ = 1
        return tf.add(w, tf.reshape(tf.mul(spike, 0.04 * (Math.sqrt(rows) + Math.sqrt(cols))), w.shape));
      }));
    });
    for (let i = 0; i < 30; i++) {
      tf.tidy(() => { const z = latent(BENCH32, 10 + i); D(d, BENCH32, G(g, BENCH32, z), z); });
    }
    for (const [params, path] of checks) {
      const w = params.weights.get(`${path}/w`)!;
      const cols = w.shape[w.shape.length - 1], rows = w.size / cols;
      const wm = w.dataSync(), u = params.state.get(`${path}/sn_u`)!.dataSync(), v = params.state.get(`${path}/sn_v`)!.dataSync();
      let estimate = 0;
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) estimate += v[i] * wm[i * cols + j] * u[j];
      const sigma = largestSingularValue(wm, rows, cols);
      t.diagnostic(`${params.name}/${path} [${rows}, ${cols}]: σ estimate ${estimate.toFixed(5)}, true ${sigma.toFixed(5)}`);
      assert.ok(Math.abs(estimate - sigma) < 0.01 * sigma, `${path}: ${estimate} vs ${sigma}`);
    }
    g.params.dispose();
    d.params.dispose();
  });

  test('gradients of s_xz reach F, H and J; G trains its state in training mode only', () => {
    const { g, d } = build(BENCH32);
    const weights = [...d.params.weights];
    const { value, grads } = tf.variableGrads(() => tf.sum(D(d, BENCH32, images(BENCH32), latent(BENCH32)).s_xz!),
                                              weights.map(([, v]) => v));
    for (const [path, v] of weights) {
      const grad = grads[v.name];
      if (path.startsWith('theta_x/') || path.startsWith('theta_z/')) continue;  // not on s_xz's path
      assert.ok(grad !== undefined, `a gradient for ${path}`);
      const values = grad.dataSync();
      assert.ok(values.every(Number.isFinite), `finite gradient for ${path}`);
      // Attention's q, k, v, o are multiplied by γ = 0 at init: their gradient is 0 until γ moves.
      if (!/^F\/attention\/[qkvo]\//.test(path)) assert.ok(values.some((x) => x !== 0), `nonzero gradient for ${path}`);
    }
    tf.dispose([value, ...Object.values(grads)]);

    // (With an orthogonal W the power-iteration vectors would already be a fixed point; this W is 'normal'.)
    for (const training of [true, false]) {
      const before = snapshot(g.params);
      tf.tidy(() => G({ ...g, training }, BENCH32, latent(BENCH32, 7)));
      const after = snapshot(g.params);
      for (const [path, values] of before) {
        // A weight with one output (G's out) has a fixed point at once: u = [±1], v = W / |W|.
        if (/sn_[uv]$/.test(path) && before.get(path.replace(/sn_[uv]$/, 'sn_u'))!.length === 1) continue;
        assert.equal(changed(values, after.get(path)!), training, `${path} ${training ? 'updated in training' : 'unchanged in inference'}`);
      }
    }
    g.params.dispose();
    d.params.dispose();
  });

  test('no tensor leaks over 5 forward+backward passes through G and D', () => {
    const { g, d } = build(BENCH32);
    const vars = [...g.params.weights.values(), ...d.params.weights.values()];
    const pass = (seed: number) => tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => {
        const z = latent(BENCH32, seed);
        const s = D(d, BENCH32, G(g, BENCH32, z), z);
        return tf.addN([s.s_x, s.s_z!, s.s_xz!].map((score) => tf.mean(score))) as tf.Scalar;
      }, vars);
      tf.dispose([value, ...Object.values(grads)]);
    });
    pass(0);
    const before = tf.memory().numTensors;
    for (let i = 1; i <= 5; i++) pass(i);
    assert.equal(tf.memory().numTensors, before);
    g.params.dispose();
    d.params.dispose();
  });
});

/**
 * The encoder E (src/model/encoder.ts): bench32's exact parameter count, the
 * TF-Hub-named outputs and the reparameterisation z = mu + eps·sigma, the
 * deterministic ablation, width multipliers of the resnet/revnet trunks,
 * reversibility of RevNet's blocks, gradients, flat memory, and input checks.
 * Runs on the wasm backend (the cpu backend's conv gradients are ~100x slower).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/select';
import { Config, DEFAULT_CONFIG } from '../src/config';
import { PRESETS } from '../src/presets';
import { Rng } from '../src/util/rng';
import { Ctx, Params } from '../src/model/params';
import {
  countEncoderWeights, E, eFeatureDim, EncoderOutput, revCoupling, revCouplingInverse, revResidual,
} from '../src/model/encoder';

const BENCH32: Config = { ...DEFAULT_CONFIG, ...PRESETS.bench32.delta };

function newCtx(seed = 0, training = true): Ctx {
  return { params: new Params('E', new Rng(seed), 'he'), path: 'E', training };
}

function image(cfg: Config, b: number, seed = 7): tf.Tensor4D {
  return tf.randomUniform([b, cfg.eResolution, cfg.eResolution, cfg.channels], -1, 1, 'float32', seed);
}

/** Builds E for cfg with one forward pass at batch b; returns the ctx and the outputs' values. */
function build(cfg: Config, b = 2, seed = 0) {
  const ctx = newCtx(seed);
  const shapes = tf.tidy(() => {
    const out = E(ctx, cfg, image(cfg, b));
    return { z: out.z_sample.shape, avepool: out.avepool.shape, bn_crelu: out.bn_crelu.shape };
  });
  return { ctx, shapes, counts: countEncoderWeights(ctx) };
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

describe('E', () => {
  before(async () => { await selectBackend({ force: 'wasm', quiet: true }); });

  test('bench32 E has exactly the PyTorch reference\'s 423,296 trainable parameters', () => {
    const { ctx, counts } = build(BENCH32);
    assert.equal(ctx.params.countWeights(), 423_296);
    // trunk: convs with biases + BN gains/biases; head 128 -> 256 -> 256 -> 128
    assert.deepEqual(counts, { trunk: 291_584, head: 128 * 256 + 256 + 256 * 256 + 256 + 256 * 128 + 128 });
    ctx.params.dispose();
  });

  test('outputs have the TF-Hub shapes, bn_crelu is a CReLU pair, and z_sample = z_mean + eps·sigma', () => {
    const ctx = newCtx();
    const b = 4, { zDim } = BENCH32;
    tf.tidy(() => {
      const x = image(BENCH32, b);
      const eps = tf.randomNormal([b, zDim], 0, 1, 'float32', 3) as tf.Tensor2D;
      const out: EncoderOutput = E(ctx, BENCH32, x, eps);
      assert.deepEqual(out.z_sample.shape, [b, zDim]);
      assert.deepEqual(out.z_mean.shape, [b, zDim]);
      assert.deepEqual(out.sigma!.shape, [b, zDim]);
      assert.deepEqual(out.avepool.shape, [b, 8 * 16]);
      assert.deepEqual(out.bn_crelu.shape, [b, 2 * 8 * 16]);
      assert.equal(eFeatureDim(BENCH32), 128);

      const d = out.avepool.shape[1];
      const crelu = out.bn_crelu.arraySync();
      for (const row of crelu) {
        for (let i = 0; i < d; i++) {
          assert.ok(row[i] >= 0 && row[d + i] >= 0, `bn_crelu is non-negative, got ${row[i]}, ${row[d + i]}`);
          assert.equal(row[i] * row[d + i], 0, 'at most one of each CReLU pair is nonzero');
        }
      }
      assert.ok(crelu.flat().some((v) => v > 0.1), 'bn_crelu is not all zeros');
      assert.ok(tf.min(out.sigma!).dataSync()[0] > 0, 'sigma > 0');

      // Independent computation of the head from avepool and the stored weights.
      const w = (p: string) => ctx.params.weights.get(`E/head/${p}`)!;
      const dense = (h: tf.Tensor, layer: string) => tf.add(tf.matMul(h as tf.Tensor2D, w(`${layer}/w`) as tf.Tensor2D), w(`${layer}/b`));
      const hidden = tf.relu(dense(tf.relu(dense(out.avepool, 'fc1')), 'fc2'));
      const head = dense(hidden, 'out');
      const mu = tf.slice(head, [0, 0], [b, zDim]);
      const sigma = tf.log(tf.add(1, tf.exp(tf.slice(head, [0, zDim], [b, zDim]))));  // softplus
      assert.ok(maxAbsDiff(out.z_mean, mu) < 1e-5, 'z_mean = mu');
      assert.ok(maxAbsDiff(out.sigma!, sigma) < 1e-5, 'sigma = softplus(sigma_hat)');
      assert.ok(maxAbsDiff(out.z_sample, tf.add(mu, tf.mul(eps, sigma))) < 1e-5, 'z_sample = mu + eps·sigma');
      assert.ok(maxAbsDiff(out.z_sample, out.z_mean) > 1e-3, 'the noise does something');
    });
    ctx.params.dispose();
  });

  test('without eps, E draws its noise from ctx.params.rng: the same seed gives the same z_sample', () => {
    const z = [0, 0].map(() => {
      const ctx = newCtx(5);
      const values = tf.tidy(() => E(ctx, BENCH32, image(BENCH32, 2)).z_sample.arraySync());
      ctx.params.dispose();
      return values;
    });
    assert.deepEqual(z[0], z[1]);
  });

  test('the deterministic E outputs mu only: z_sample = z_mean, sigma null, eMlp·zDim + zDim fewer weights', () => {
    const cfg: Config = { ...BENCH32, eStochastic: false };
    const ctx = newCtx();
    tf.tidy(() => {
      const out = E(ctx, cfg, image(cfg, 3));
      assert.equal(out.sigma, null);
      assert.deepEqual(out.z_mean.shape, [3, cfg.zDim]);
      assert.deepEqual(out.z_sample.arraySync(), out.z_mean.arraySync());
    });
    assert.deepEqual(ctx.params.weights.get('E/head/out/w')!.shape, [cfg.eMlp, cfg.zDim]);
    assert.equal(423_296 - ctx.params.countWeights(), cfg.eMlp * cfg.zDim + cfg.zDim);
    ctx.params.dispose();
  });

  for (const eArch of ['resnet', 'revnet'] as const) {
    test(`${eArch} x1, x2, x4 build and the trunk grows about 4x per doubling of width`, (t) => {
      const trunks: number[] = [];
      for (const eWidth of [1, 2, 4]) {
        const cfg: Config = { ...DEFAULT_CONFIG, eCh: 16, eArch, eWidth };  // the counts below are for eCh 16
        const { ctx, shapes, counts } = build(cfg);
        assert.deepEqual(shapes.avepool, [2, 64 * eWidth]);
        assert.deepEqual(shapes.bn_crelu, [2, 128 * eWidth]);
        assert.deepEqual(shapes.z, [2, cfg.zDim]);
        trunks.push(counts.trunk);
        ctx.params.dispose();
      }
      // x1 pinned: resnet = stem 144 + 4,672 + 14,432 (projection) + 57,536 (projection) + BN 128;
      // revnet = stem 144 + F on halves 8, 16, 32 (18h² + 4h each) + BN 128.
      assert.equal(trunks[0], eArch === 'resnet' ? 76_912 : 24_688);
      for (let i = 1; i < 3; i++) {
        const ratio = trunks[i] / trunks[i - 1];
        assert.ok(ratio > 3.5 && ratio < 4.1, `trunk ratio x${2 ** i}/x${2 ** (i - 1)} = ${ratio.toFixed(3)}`);
      }
      t.diagnostic(`${eArch} trunks x1/x2/x4: ${trunks.join(' / ')}`);
    });
  }

  test('bottleneck trunks and the ResNet-50 stem (conv7x7/2 + maxpool/2 at ≥ 128 pixels) build', () => {
    for (const eArch of ['resnet', 'revnet'] as const) {
      const cfg: Config = { ...DEFAULT_CONFIG, eArch, eBottleneck: true, eCh: 4, eBlocks: [2, 1, 1, 1], eResolution: 128, channels: 3 };
      const { ctx, shapes } = build(cfg);
      assert.deepEqual(shapes.avepool, [2, 4 * 4 * 8], `${eArch} avepool: 4·eCh·2^3`);
      const stem = ctx.params.weights.get('E/stem/w')!;
      assert.deepEqual(stem.shape, [7, 7, 3, eArch === 'resnet' ? 4 : 16]);
      ctx.params.dispose();
    }
  });

  for (const bottleneck of [false, true]) {
    test(`RevNet blocks are reversible (${bottleneck ? 'bottleneck' : 'basic'}): x is recovered from y to 1e-4`, () => {
      const ctx = newCtx(1);
      const c = 16;
      tf.tidy(() => {
        const x = tf.randomNormal([2, 8, 8, c], 0, 1, 'float32', 11) as tf.Tensor4D;
        const unit0 = { ...ctx, path: 'unit0' }, unit1 = { ...ctx, path: 'unit1' };
        // Two couplings = Gomez et al.'s block: y1 = x1 + F(x2), y2 = x2 + G(y1).
        const y = revCoupling(unit1, revCoupling(unit0, x, bottleneck), bottleneck);
        assert.ok(maxAbsDiff(x, y) > 0.1, 'the block is not the identity');
        const [y1, y2] = tf.split(y, 2, 3) as [tf.Tensor4D, tf.Tensor4D];
        const F = (h: tf.Tensor4D) => revResidual({ ...unit0, path: 'unit0/F' }, h, bottleneck);
        const G = (h: tf.Tensor4D) => revResidual({ ...unit1, path: 'unit1/F' }, h, bottleneck);
        const x2 = tf.sub(y2, G(y1));
        const x1 = tf.sub(y1, F(x2 as tf.Tensor4D));
        assert.ok(maxAbsDiff(tf.concat([x1, x2], 3), x) < 1e-4, 'Gomez inverse: x2 = y2 - G(y1), x1 = y1 - F(x2)');
        const back = revCouplingInverse(unit0, revCouplingInverse(unit1, y, bottleneck), bottleneck);
        assert.ok(maxAbsDiff(back, x) < 1e-4, 'revCouplingInverse twice');
      });
      ctx.params.dispose();
    });
  }

  for (const eArch of ['convnet', 'resnet', 'revnet'] as const) {
    test(`${eArch}: gradients of sum(z_sample) are finite, nonzero at the first and last layers, and memory is flat`, () => {
      const cfg: Config = eArch === 'convnet' ? BENCH32 : { ...DEFAULT_CONFIG, eArch };
      const ctx = newCtx();
      const x = image(cfg, 2);
      const step = () => tf.tidy(() => {
        const eps = tf.randomNormal([2, cfg.zDim], 0, 1, 'float32', 1) as tf.Tensor2D;
        const { grads } = tf.variableGrads(() => tf.sum(E(ctx, cfg, x, eps).z_sample) as tf.Scalar,
                                           [...ctx.params.weights.values()]);
        const norms: Record<string, number> = {};
        for (const [path, v] of ctx.params.weights) {
          const g = grads[v.name].dataSync();
          assert.ok(g.every(Number.isFinite), `finite gradient for ${path}`);
          norms[path] = Array.from(g).reduce((s, a) => s + Math.abs(a), 0);
        }
        return norms;
      });
      tf.tidy(() => { E(ctx, cfg, x); });  // creates the variables
      step();  // and the gradient machinery's one-off tensors, if any
      const before = tf.memory().numTensors;
      let norms: Record<string, number> = {};
      for (let i = 0; i < 5; i++) norms = step();
      assert.equal(tf.memory().numTensors, before, 'tensor count after 5 forward+backward passes');
      assert.ok(norms['E/stem/w'] > 0, 'first layer gets a gradient');
      assert.ok(norms['E/head/out/w'] > 0, 'last layer gets a gradient');
      const zero = Object.keys(norms).filter((p) => !(norms[p] > 0));
      assert.deepEqual(zero, [], 'every weight gets a gradient');
      x.dispose();
      ctx.params.dispose();
    });
  }

  test('a higher eResolution works (global pooling); a wrong input shape is a clear error', () => {
    for (const eArch of ['convnet', 'revnet'] as const) {
      const cfg: Config = eArch === 'convnet' ? { ...BENCH32, eResolution: 64 } : { ...DEFAULT_CONFIG, eArch, eResolution: 64 };
      const { ctx, shapes } = build(cfg);
      assert.deepEqual(shapes.avepool, [2, eFeatureDim(cfg)]);
      assert.throws(() => tf.tidy(() => { E(ctx, cfg, tf.zeros([2, 32, 32, 1])); }),
                    /Expected E's input of shape \[B, 64, 64, 1\], but got \[2, 32, 32, 1\]/);
      ctx.params.dispose();
    }
    const ctx = newCtx();
    assert.throws(() => tf.tidy(() => { E(ctx, BENCH32, tf.zeros([2, 32, 32, 3])); }), /but got \[2, 32, 32, 3\]/);
    assert.throws(() => tf.tidy(() => { E(ctx, BENCH32, tf.zeros([2, 32, 32, 1]), tf.zeros([2, 8])); }),
                  /Expected eps of shape \[2, 64\], but got \[2, 8\]/);
    assert.throws(() => tf.tidy(() => { E(ctx, { ...BENCH32, eArch: 'vgg' as never }, tf.zeros([2, 32, 32, 1])); }),
                  /Expected eArch 'convnet', 'resnet' or 'revnet', but got 'vgg'/);
    assert.throws(() => tf.tidy(() => { E(ctx, { ...DEFAULT_CONFIG, eArch: 'revnet', eCh: 3 }, tf.zeros([2, 32, 32, 1])); }),
                  /Expected an even eCh·eWidth/);
    ctx.params.dispose();
  });
});

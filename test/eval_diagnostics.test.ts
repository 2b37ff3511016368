/**
 * The encoder diagnostics (src/eval/diagnostics.ts): the statistics against
 * closed forms, each figure of a diagnosis against an independent computation
 * with plain tf ops on a small model, nothing updated, memory flat, and the
 * trainer's `kind: "diag"` lines in metrics.jsonl.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/select';
import { Config } from '../src/config';
import { Dataset, loadMnist } from '../src/data';
import { encoderDiagnostics, meanColumnCorrelation, shareOfSign, signalToNoise, standardizedGap } from '../src/eval/diagnostics';
import { createModels, disposeModels, Models, sampleLatent } from '../src/model/bigbigan';
import { D } from '../src/model/discriminator';
import { E } from '../src/model/encoder';
import { G } from '../src/model/generator';
import { resolveConfig } from '../src/presets';
import { Rng } from '../src/util/rng';
import { trainRun } from '../src/run/train_run';
import { batchesFor } from '../src/train/run_data';

const TINY: Partial<Config> = {
  zDim: 6, gCh: 4, gMults: [2, 2, 1], gAttention: 8, resolution: 16, eResolution: 16,
  eCh: 4, eMlp: 16, dCh: 8, dMults: [1, 2], dAttention: 8, dMlp: 16, batchSize: 16,
  steps: 4, sampleEvery: 4, checkpointEvery: 4, evalEvery: 0, diagEvery: 2,
};
const tiny = (over: Partial<Config> = {}): Config => ({ ...resolveConfig('mnist'), ...TINY, ...over });

/** Values of a tensor computed in a tidy, read back and freed. */
async function read(fn: () => tf.Tensor): Promise<Float32Array> {
  const t = tf.tidy(fn);
  try { return await t.data() as Float32Array; } finally { t.dispose(); }
}

describe('encoder diagnostics: statistics', () => {
  test('signal-to-noise: mean column variance over mean σ², closed form', () => {
    // columns [1, 3] (variance 1) and [0, 4] (variance 4): mean 2.5; σ = 0.5 everywhere: σ² 0.25
    const mu = new Float32Array([1, 0, 3, 4]);
    const r = signalToNoise(mu, new Float32Array([0.5, 0.5, 0.5, 0.5]), 2, 2);
    assert.ok(Math.abs(r.meanVar - 2.5) < 1e-9 && Math.abs(r.sigmaSq! - 0.25) < 1e-9 && Math.abs(r.snr! - 10) < 1e-9, JSON.stringify(r));
    assert.deepEqual(signalToNoise(mu, null, 2, 2), { snr: null, meanVar: 2.5, sigmaSq: null });
  });

  test('column correlation: +1 for an affine copy, −1 for a negated one, 0 for orthogonal columns', () => {
    const a = new Float32Array([1, -1, 1, -1, 2, 5, 3, 0]);  // [4, 2]
    const affine = a.map((v) => 2 * v + 3);
    assert.ok(Math.abs(meanColumnCorrelation(a, affine, 4, 2) - 1) < 1e-6);
    assert.ok(Math.abs(meanColumnCorrelation(a, a.map((v) => -v), 4, 2) + 1) < 1e-6);
    const x = new Float32Array([1, -1, 1, -1]), y = new Float32Array([1, 1, -1, -1]);
    assert.ok(Math.abs(meanColumnCorrelation(x, y, 4, 1)) < 1e-9);
    assert.equal(meanColumnCorrelation(x, new Float32Array(4).fill(2), 4, 1), 0, 'a constant column has no correlation');
  });

  test('standardized gap and share of sign', () => {
    // scale [0, 2]: std 1; means 3 and 1: gap 2
    assert.ok(Math.abs(standardizedGap(new Float32Array([2, 4]), new Float32Array([1, 1]), new Float32Array([0, 2])) - 2) < 1e-9);
    assert.equal(standardizedGap(new Float32Array([2]), new Float32Array([1]), new Float32Array([3, 3])), 0);
    assert.equal(shareOfSign(new Float32Array([1, -2, 0, 3]), 1), 0.5);
    assert.equal(shareOfSign(new Float32Array([1, -2, 0, 3]), -1), 0.25);
  });
});

describe('encoder diagnostics of a model', () => {
  let mnist: Dataset;
  before(async () => {
    await selectBackend({ force: 'wasm', quiet: true });
    mnist = loadMnist(undefined, { limit: 300 });
  });

  /** n held-out images at E's resolution and n prior latents. */
  function inputs(cfg: Config, n: number): { x: tf.Tensor4D; z: tf.Tensor2D } {
    const x = batchesFor({ ...cfg, batchSize: n }, mnist.trainVal).next().x;
    return { x, z: sampleLatent(cfg, new Rng(5), n) };
  }

  test('every figure equals an independent computation with plain tf ops (deterministic E, one chunk)', async () => {
    const cfg = tiny({ eStochastic: false });
    const models = createModels(cfg);
    const { x, z } = inputs(cfg, cfg.batchSize);
    try {
      const got = await encoderDiagnostics(models, x, z);
      const noUpdate = (params: Models['G']) => ({ params, path: '', training: false, batchStats: true });
      const dCtx = { params: models.D, path: '', training: false };
      const roll = (t: tf.Tensor2D) => tf.concat([tf.slice(t, 1), tf.slice(t, 0, 1)]) as tf.Tensor2D;
      const mu = () => E(noUpdate(models.E!), cfg, x).z_mean;
      const xG = () => G(noUpdate(models.G), cfg, z);
      const sxz = (xs: tf.Tensor4D, zs: tf.Tensor2D) => D(dCtx, cfg, xs, zs).s_xz!;
      // e_mean_var: tf.moments over images, averaged over dimensions
      const meanVar = (await read(() => tf.mean(tf.moments(mu(), 0).variance)))[0];
      assert.ok(Math.abs(got.e_mean_var - meanVar) < 1e-5 * Math.max(1, meanVar), `${got.e_mean_var} vs ${meanVar}`);
      assert.equal(got.e_snr, null);
      // pairing gaps in units of the std of s_xz over real and generated matched pairs
      const [gapReal, gapFake] = await read(() => {
        const real = sxz(x, mu()), realRolled = sxz(x, roll(mu()));
        const fake = sxz(xG(), z), fakeRolled = sxz(xG(), roll(z));
        const std = tf.sqrt(tf.moments(tf.concat([real, fake])).variance);
        return tf.stack([tf.div(tf.sub(tf.mean(real), tf.mean(realRolled)), std), tf.div(tf.sub(tf.mean(fakeRolled), tf.mean(fake)), std)]);
      });
      assert.ok(Math.abs(got.pair_gap_real - gapReal) < 1e-4 && Math.abs(got.pair_gap_fake - gapFake) < 1e-4,
                `${got.pair_gap_real}, ${got.pair_gap_fake} vs ${gapReal}, ${gapFake}`);
      // latent recovery: Pearson correlation per dimension of E(G(z)) with z, by standardised products
      const corr = (await read(() => {
        const a = E(noUpdate(models.E!), cfg, xG()).z_mean;
        const std = (t: tf.Tensor) => { const m = tf.moments(t, 0); return tf.div(tf.sub(t, m.mean), tf.sqrt(m.variance)); };
        return tf.mean(tf.mean(tf.mul(std(a), std(z)), 0));
      }))[0];
      assert.ok(Math.abs(got.latent_recovery - corr) < 1e-4, `${got.latent_recovery} vs ${corr}`);
      // D's accuracy per head: real pairs > 0, generated pairs < 0
      const acc = await read(() => {
        const r = D(dCtx, cfg, x, mu()), f = D(dCtx, cfg, xG(), z);
        const pos = (s: tf.Tensor) => tf.mean(tf.cast(tf.greater(s, 0), 'float32'));
        const neg = (s: tf.Tensor) => tf.mean(tf.cast(tf.less(s, 0), 'float32'));
        return tf.stack([pos(r.s_x), pos(r.s_z!), pos(r.s_xz!), neg(f.s_x), neg(f.s_z!), neg(f.s_xz!)]);
      });
      const mine = [got.d_acc_real_x, got.d_acc_real_z, got.d_acc_real_xz, got.d_acc_fake_x, got.d_acc_fake_z, got.d_acc_fake_xz];
      mine.forEach((v, i) => assert.ok(Math.abs(v - acc[i]) < 1e-6, `head ${i}: ${v} vs ${acc[i]}`));
    } finally {
      tf.dispose([x, z]);
      disposeModels(models);
    }
  });

  test('stochastic E: signal-to-noise from E\'s mean and σ; nothing updated; memory flat; chunks of the batch size', async () => {
    const cfg = tiny({ batchSize: 8 });
    const models = createModels(cfg);
    const { x, z } = inputs(cfg, 24);
    try {
      const snapshot = async () => Promise.all([models.E!, models.G, models.D].flatMap((p) => p.all().map(([, v]) => v.data())));
      const before = await snapshot();
      const first = await encoderDiagnostics(models, x, z);  // builds nothing new: variables exist
      const tensors = tf.memory().numTensors;
      const again = await encoderDiagnostics(models, x, z);
      assert.equal(tf.memory().numTensors, tensors, 'tensors left behind');
      assert.deepEqual(again, first, 'the same inputs and seed give the same figures');
      const after = await snapshot();
      before.forEach((v, i) => assert.deepEqual(after[i], v, 'a variable changed'));
      // E's mean and σ with batch statistics per chunk of 8, as training computes them
      const [meanVar, sigmaSq] = await read(() => {
        const outs = [0, 8, 16].map((s) => E({ params: models.E!, path: '', training: false, batchStats: true }, cfg, tf.slice(x, s, 8)));
        const mu = tf.concat(outs.map((o) => o.z_mean)), sigma = tf.concat(outs.map((o) => o.sigma!));
        return tf.stack([tf.mean(tf.moments(mu, 0).variance), tf.mean(tf.square(sigma))]);
      });
      assert.ok(Math.abs(first.e_mean_var - meanVar) < 1e-5 * Math.max(1, meanVar));
      assert.ok(Math.abs(first.e_sigma_sq! - sigmaSq) < 1e-5);
      assert.ok(Math.abs(first.e_snr! - meanVar / sigmaSq) < 1e-4 * Math.max(1, first.e_snr!));
      await assert.rejects(encoderDiagnostics(models, tf.slice(x, 0, 1), tf.slice(z, 0, 1)), /Expected n ≥ 2/);
    } finally {
      tf.dispose([x, z]);
      disposeModels(models);
    }
  });

  test('peak memory is one chunk\'s work, not all the images\' at once (a 64x64 G overflowed the wasm heap)', async () => {
    const cfg = tiny({ batchSize: 4 });
    const models = createModels(cfg);
    const peak = async (n: number) => {
      const { x, z } = inputs(cfg, n);
      try {
        return (await tf.profile(async () => { await encoderDiagnostics(models, x, z); })).peakBytes - tf.memory().numBytes;
      } finally {
        tf.dispose([x, z]);
      }
    };
    try {
      await peak(4);  // variables built
      const two = await peak(8), seven = await peak(28);
      // Kept across chunks: only each chunk's outputs (latents, scores, G's images), a fraction of a chunk's activations.
      assert.ok(seven < 1.5 * two, `peak over the inputs: ${two} bytes for 2 chunks, ${seven} for 7`);
    } finally {
      disposeModels(models);
    }
  });

  test('training appends a diagnosis every diagEvery steps (and at step 0) to metrics.jsonl', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'diag-run-'));
    await trainRun({ cfg: tiny(), out, quiet: true, dataset: mnist });
    const lines = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const diag = lines.filter((l) => l.kind === 'diag');
    assert.deepEqual(diag.map((l) => l.step), [0, 2, 4]);
    for (const l of diag) {
      for (const k of ['e_snr', 'pair_gap_real', 'pair_gap_fake', 'latent_recovery', 'd_acc_real_xz', 'd_acc_fake_xz']) {
        assert.ok(Number.isFinite(l[k]), `${k} at step ${l.step}: ${l[k]}`);
      }
    }
    const none = fs.mkdtempSync(path.join(os.tmpdir(), 'diag-off-'));
    await trainRun({ cfg: tiny({ diagEvery: 0, steps: 2 }), out: none, quiet: true, dataset: mnist });
    assert.ok(!fs.readFileSync(path.join(none, 'metrics.jsonl'), 'utf8').includes('"diag"'));
  });
});

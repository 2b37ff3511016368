/**
 * The config switches that depart from the paper (src/config.ts; each off by
 * default): E's σ at init (eSigmaInit), E's batch-normalised mean
 * (eNormalizeMean), D's joint score variants (dJoint) and G's weight of the
 * joint term (gJointWeight), each checked against an independent computation
 * or a closed form, and each equal to the paper's model when set to its value;
 * and the latent regression (eLatentRegression), which trains E alone.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/select';
import { Config, DEFAULT_CONFIG, PAPER_OBJECTIVE } from '../src/config';
import { lossEG, lossTerms, Scores } from '../src/model/losses';
import { D, F, H } from '../src/model/discriminator';
import { E } from '../src/model/encoder';
import { Ctx, Params } from '../src/model/params';
import { Rng } from '../src/util/rng';
import { sampleLatent } from '../src/model/bigbigan';
import { G } from '../src/model/generator';
import { createTrainState, disposeTrainState, egStep } from '../src/train/steps';

const SMALL: Config = {
  ...DEFAULT_CONFIG, ...PAPER_OBJECTIVE, zDim: 6, eCh: 4, eMlp: 16, dCh: 8, dMults: [1, 2], dAttention: 0, dMlp: 16,
  resolution: 16, eResolution: 16,
};
const B = 6;

function ctx(name: string, seed: number, training: boolean, init: 'he' | 'normal' = 'normal'): Ctx {
  return { params: new Params(name, new Rng(seed), init), path: '', training };
}

/** D's context after a few training-mode passes (spectral norm's power iteration settles), then in inference mode. */
function settledD(cfg: Config, seed: number, x: tf.Tensor4D, z: tf.Tensor2D): Ctx {
  const d = ctx('D', seed, true);
  for (let k = 0; k < 20; k++) tf.tidy(() => { D(d, cfg, x, z); });
  return { ...d, training: false };
}
const images = (cfg: Config, seed = 2) => tf.randomUniform([B, cfg.eResolution, cfg.eResolution, 1], -1, 1, 'float32', seed) as tf.Tensor4D;
const latents = (cfg: Config, seed = 3) => tf.randomNormal([B, cfg.zDim], 0, 1, 'float32', seed) as tf.Tensor2D;
const softplus = (v: number) => Math.log1p(Math.exp(v));
const softplusInv = (v: number) => Math.log(Math.expm1(v));

/** W / σ(W) as the kit's spectral norm computes it outside training: σ = vᵀ W u with the stored vectors, in plain JS. */
function spectrallyNormalised(params: Params, path: string): { w: Float32Array; rows: number; cols: number } {
  const w = params.weights.get(`${path}/w`)!;
  const u = params.state.get(`${path}/sn_u`)!.dataSync(), v = params.state.get(`${path}/sn_v`)!.dataSync();
  const [rows, cols] = w.shape, data = w.dataSync();
  let sigma = 0;
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) sigma += v[i] * data[i * cols + j] * u[j];
  return { w: Float32Array.from(data, (x) => x / sigma), rows, cols };
}

describe('switches that depart from the paper', () => {
  before(async () => { await selectBackend({ force: 'wasm', quiet: true }); });

  test('eSigmaInit: σ = softplus(softplus⁻¹(σ_paper) + softplus⁻¹(s)); ln 2 is the paper; ≤ 0 is an error', () => {
    const x = images(SMALL);
    const eps = latents(SMALL, 9);
    const sigmaOf = (cfg: Config) => tf.tidy(() => E(ctx('E', 1, true, 'he'), cfg, x, eps).sigma!.dataSync());
    const paper = sigmaOf(SMALL);
    assert.deepEqual(sigmaOf({ ...SMALL, eSigmaInit: Math.LN2 }), paper);
    const small = sigmaOf({ ...SMALL, eSigmaInit: 0.05 });
    paper.forEach((p, i) => {
      const want = softplus(softplusInv(p) + softplusInv(0.05));
      assert.ok(Math.abs(small[i] - want) < 1e-4 * Math.max(1, want), `σ[${i}] ${small[i]} vs ${want}`);
    });
    assert.throws(() => tf.tidy(() => { E(ctx('E', 1, true, 'he'), { ...SMALL, eSigmaInit: 0 }, x); }), /Expected eSigmaInit > 0/);
    tf.dispose([x, eps]);
  });

  test('eNormalizeMean: z_mean is the plain mean standardised per dimension over the batch (training mode)', () => {
    const x = images(SMALL);
    for (const stochastic of [true, false]) {
      const cfg = { ...SMALL, eStochastic: stochastic };
      const plain = tf.tidy(() => E(ctx('E', 4, true, 'he'), cfg, x).z_mean.arraySync());
      const normed = tf.tidy(() => E(ctx('E', 4, true, 'he'), { ...cfg, eNormalizeMean: true }, x).z_mean.arraySync());
      for (let j = 0; j < cfg.zDim; j++) {
        const col = plain.map((r) => r[j]);
        const m = col.reduce((a, b) => a + b, 0) / B;
        const sd = Math.sqrt(col.reduce((a, b) => a + (b - m) ** 2, 0) / B + 1e-5);
        for (let i = 0; i < B; i++) assert.ok(Math.abs(normed[i][j] - (col[i] - m) / sd) < 1e-3, `row ${i} dim ${j}`);
      }
    }
    x.dispose();
  });

  test("dJoint 'pairing': s_xz = ⟨V(F(x) − F̄), H(z) − H̄⟩ in plain JS; 0 for every pair when all z (or all x) are equal", () => {
    const cfg: Config = { ...SMALL, dJoint: 'pairing' };
    const x = images(cfg), z = latents(cfg);
    const d = settledD(cfg, 5, x, z);
    const s = tf.tidy(() => D(d, cfg, x, z).s_xz!.dataSync());
    const f = tf.tidy(() => F(d, cfg, x).arraySync()), h = tf.tidy(() => H(d, cfg, z).arraySync());
    const center = (rows: number[][]) => rows.map((r) => r.map((v, j) => v - rows.reduce((a, q) => a + q[j], 0) / rows.length));
    const fc = center(f), hc = center(h);
    const V = spectrallyNormalised(d.params, 'projection');
    for (let i = 0; i < B; i++) {
      let want = 0;
      for (let a = 0; a < V.rows; a++) for (let b = 0; b < V.cols; b++) want += fc[i][a] * V.w[a * V.cols + b] * hc[i][b];
      assert.ok(Math.abs(s[i] - want) < 1e-3 * Math.max(1, Math.abs(want)), `pair ${i}: ${s[i]} vs ${want}`);
    }
    assert.ok(!d.params.weights.has('theta_xz/w') && !d.params.weights.has('J/linear0/w'), "'pairing' has no J");
    const sameZ = tf.tidy(() => D(d, cfg, x, tf.tile(tf.slice(z, 0, 1), [B, 1])).s_xz!.dataSync());
    const sameX = tf.tidy(() => D(d, cfg, tf.tile(tf.slice(x, 0, 1), [B, 1, 1, 1]), z).s_xz!.dataSync());
    const scale = Math.max(...Array.from(s, Math.abs));
    for (const v of [...sameZ, ...sameX]) {
      assert.ok(Math.abs(v) < 1e-5 * scale, `a pair without pairing information scored ${v} (scores ~${scale})`);
    }
    d.params.dispose();
    tf.dispose([x, z]);
  });

  test("dJoint 'projection': the paper's s_xz plus ⟨V F(x), H(z)⟩ (same weights otherwise)", () => {
    const x = images(SMALL), z = latents(SMALL);
    const paper = settledD(SMALL, 6, x, z), projected = settledD({ ...SMALL, dJoint: 'projection' }, 6, x, z);
    const sPaper = tf.tidy(() => D(paper, SMALL, x, z).s_xz!.dataSync());
    const sProj = tf.tidy(() => D(projected, { ...SMALL, dJoint: 'projection' }, x, z).s_xz!.dataSync());
    const f = tf.tidy(() => F(projected, SMALL, x).arraySync()), h = tf.tidy(() => H(projected, SMALL, z).arraySync());
    const V = spectrallyNormalised(projected.params, 'projection');
    for (let i = 0; i < B; i++) {
      let extra = 0;
      for (let a = 0; a < V.rows; a++) for (let b = 0; b < V.cols; b++) extra += f[i][a] * V.w[a * V.cols + b] * h[i][b];
      assert.ok(Math.abs(sProj[i] - sPaper[i] - extra) < 1e-3 * Math.max(1, Math.abs(extra)), `pair ${i}`);
    }
    paper.params.dispose(); projected.params.dispose();
    tf.dispose([x, z]);
  });

  test('gJointWeight λ: generated pairs give -(s_x + s_z + λ s_xz); λ = 1 is the paper; λ = 0 without an x term is refused', () => {
    const raw = { real: [[0.5, -1], [2, 0.25], [-0.75, 1.5]], fake: [[1, 3], [-2, 0.5], [4, -1]] };  // [s_x, s_z, s_xz] × 2 pairs
    const scores = (r: number[][]): Scores => ({ s_x: tf.tensor1d(r[0]), s_z: tf.tensor1d(r[1]), s_xz: tf.tensor1d(r[2]) });
    const mean = (a: number[]) => (a[0] + a[1]) / 2;
    const terms = lossTerms({ unary: 'both', noEncoder: false });
    for (const lambda of [1, 0.5, 0]) {
      const want = mean(raw.real[0]) + mean(raw.real[1]) + mean(raw.real[2])
        - mean(raw.fake[0]) - mean(raw.fake[1]) - lambda * mean(raw.fake[2]);
      const got = tf.tidy(() => lossEG(scores(raw.real), scores(raw.fake), terms, lambda).dataSync()[0]);
      assert.ok(Math.abs(got - want) < 1e-6, `λ ${lambda}: ${got} vs ${want}`);
    }
    assert.throws(() => createTrainState({ ...SMALL, gJointWeight: 0, unary: 'none' }), /no loss term reaches G/);
  });

  test('eLatentRegression: L_latent = mean (E(G(z)) − z)² in plain JS; only E learns from it (G\'s step unchanged) ' +
       'unless latentRegressionG', async () => {
    const cfg: Config = { ...SMALL, gCh: 4, gMults: [2, 2, 1], gAttention: 0, batchSize: B, eStochastic: false };
    const x = images(cfg, 8);
    const after = async (weight: number, throughG = false) => {
      const state = createTrainState({ ...cfg, eLatentRegression: weight, latentRegressionG: throughG });
      // z of this step and E's mean on G(z), on an identical twin of the state (G in training mode, as the step runs
      // it: its spectral norms iterate; E with the batch's statistics)
      const twin = createTrainState(cfg);
      const z = sampleLatent(cfg, twin.rng, B);
      const zRec = tf.tidy(() => E({ params: twin.models.E!, path: '', training: false, batchStats: true }, cfg,
                                   G({ params: twin.models.G, path: '', training: true }, cfg, z)).z_mean.arraySync());
      const zs = z.arraySync();
      z.dispose();
      disposeTrainState(twin);
      let want = 0;
      zs.forEach((row, i) => row.forEach((v, j) => { want += (zRec[i][j] - v) ** 2; }));
      want /= B * cfg.zDim;
      const logged = await egStep(state, x);
      const weights = (p: Params) => [...p.weights.values()].map((v) => v.dataSync().slice());
      const out = { logged, want, G: weights(state.models.G), E: weights(state.models.E!) };
      disposeTrainState(state);
      return out;
    };
    const plain = await after(0), regressed = await after(2);
    assert.equal(plain.logged.L_latent, undefined);
    assert.ok(Math.abs(regressed.logged.L_latent - regressed.want) < 1e-4 * Math.max(1, regressed.want),
              `${regressed.logged.L_latent} vs ${regressed.want}`);
    assert.ok(Math.abs(regressed.logged.L_EG - plain.logged.L_EG) < 1e-4, 'L_EG is logged without the regression term');
    regressed.G.forEach((w, i) => assert.deepEqual(w, plain.G[i], `G weight ${i} moved differently`));
    assert.ok(regressed.E.some((w, i) => w.some((v, k) => v !== plain.E[i][k])), "E's step did not change");
    const cycle = await after(2, true);  // latentRegressionG: G learns from it too
    assert.ok(Math.abs(cycle.logged.L_latent - regressed.logged.L_latent) < 1e-6, 'the same regression value');
    assert.ok(cycle.G.some((w, i) => w.some((v, k) => v !== plain.G[i][k])), "with latentRegressionG, G's step changed");
    x.dispose();
  });
});

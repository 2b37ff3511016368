/**
 * Encoder diagnostics: cheap figures that show whether BiGAN training works
 * long before a linear probe moves. BiGAN's optimum is E = G⁻¹ (Donahue et
 * al. 2017, arXiv:1605.09782, Theorem 2), reached only if D learns to tell a
 * pair (x, z) that belongs together from one that does not; these figures
 * follow that, on a fixed batch of held-out real images and fixed prior z:
 *
 *  - e_snr: Var over images of E's mean, averaged over z's dimensions,
 *    divided by the mean of σ²: how much of E's z_sample depends on x. Near
 *    0, E's output is noise (it matches P_z through σ alone). null for a
 *    deterministic E (σ = 0).
 *  - pair_gap_real: s_xz(x, E(x)) − s_xz(x, E(x')) on the same x with another
 *    image's z, in units of s_xz's std; pair_gap_fake: s_xz(G(z), z') −
 *    s_xz(G(z), z). Both are > 0 when D uses the pairing of x and z the right
 *    way (matched real pairs look more real, matched generated pairs more
 *    generated); ~0 when J ignores it.
 *  - latent_recovery: corr(E(G(z)), z), the Pearson correlation of each of
 *    z's dimensions with E's mean on G's image of it, averaged: 0 when E does
 *    not invert G, 1 when it does exactly.
 *  - d_acc_{real,fake}_{x,z,xz}: D's accuracy per head, the share of real
 *    pairs scored > 0 and of generated pairs scored < 0.
 *
 * Nothing is updated: E and the raw G use the batch's own statistics (the
 * function they compute in training), D's spectral norms use their stored
 * vectors. Computed in chunks of the training batch size, as training does.
 */
import * as tf from '@tensorflow/tfjs';
import { realForD } from '../model/bigbigan';
import type { Models } from '../model/bigbigan';
import { D, Scores } from '../model/discriminator';
import { E, EncoderOutput } from '../model/encoder';
import { G } from '../model/generator';
import { Rng } from '../util/rng';

/** The figures of one diagnosis (see the file comment); null where the model lacks the part. */
export interface Diagnostics {
  e_snr: number | null;
  e_mean_var: number;
  e_sigma_sq: number | null;
  pair_gap_real: number;
  pair_gap_fake: number;
  latent_recovery: number;
  d_acc_real_x: number;
  d_acc_real_z: number;
  d_acc_real_xz: number;
  d_acc_fake_x: number;
  d_acc_fake_z: number;
  d_acc_fake_xz: number;
}

/** Var over rows of each column of mu [n, d], averaged over columns, over the mean of σ² (null without σ). */
export function signalToNoise(mu: Float32Array, sigma: Float32Array | null, n: number,
                              d: number): { snr: number | null; meanVar: number; sigmaSq: number | null } {
  let meanVar = 0;
  for (let j = 0; j < d; j++) {
    let m = 0, s = 0;
    for (let i = 0; i < n; i++) m += mu[i * d + j];
    m /= n;
    for (let i = 0; i < n; i++) s += (mu[i * d + j] - m) ** 2;
    meanVar += s / n;
  }
  meanVar /= d;
  if (sigma === null) return { snr: null, meanVar, sigmaSq: null };
  let sigmaSq = 0;
  for (let k = 0; k < n * d; k++) sigmaSq += sigma[k] ** 2;
  sigmaSq /= n * d;
  return { snr: meanVar / sigmaSq, meanVar, sigmaSq };
}

/** Pearson correlation of each column of a with the same column of b ([n, d] each), averaged over columns. */
export function meanColumnCorrelation(a: Float32Array, b: Float32Array, n: number, d: number): number {
  let total = 0;
  for (let j = 0; j < d; j++) {
    let ma = 0, mb = 0;
    for (let i = 0; i < n; i++) { ma += a[i * d + j]; mb += b[i * d + j]; }
    ma /= n; mb /= n;
    let sab = 0, saa = 0, sbb = 0;
    for (let i = 0; i < n; i++) {
      const da = a[i * d + j] - ma, db = b[i * d + j] - mb;
      sab += da * db; saa += da * da; sbb += db * db;
    }
    total += saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
  }
  return total / d;
}

/** (mean of `higher` − mean of `lower`) / std of `scale` (population std; 0 when it is constant). */
export function standardizedGap(higher: Float32Array, lower: Float32Array, scale: Float32Array): number {
  const mean = (v: Float32Array) => v.reduce((s, x) => s + x, 0) / v.length;
  const m = mean(scale);
  const std = Math.sqrt(scale.reduce((s, x) => s + (x - m) ** 2, 0) / scale.length);
  return std > 0 ? (mean(higher) - mean(lower)) / std : 0;
}

/** Share of entries > 0 (sign +1) or < 0 (sign −1). */
export function shareOfSign(v: Float32Array, sign: 1 | -1): number {
  let k = 0;
  for (const s of v) if (sign * s > 0) k++;
  return k / v.length;
}

/** Rows of z moved by one (row i gets row i + 1): every row paired with another row's latent. */
function rolled(z: tf.Tensor2D): tf.Tensor2D {
  const n = z.shape[0];
  return tf.concat([tf.slice(z, 1, n - 1), tf.slice(z, 0, 1)]) as tf.Tensor2D;
}

/**
 * fn over chunks of `chunk` rows of the inputs, outputs concatenated on the first axis. Each chunk
 * is its own tidy: only its outputs outlive it (a 64x64 G's activations for all 256 images at once
 * overflowed the wasm heap).
 */
function inChunks<T extends Record<string, tf.Tensor | null>>(n: number, chunk: number, fn: (start: number, size: number) => T): T {
  const parts: T[] = [];
  for (let s = 0; s < n; s += chunk) parts.push(tf.tidy(() => fn(s, Math.min(chunk, n - s)) as tf.TensorContainer) as T);
  const out: Record<string, tf.Tensor | null> = {};
  for (const key of Object.keys(parts[0])) {
    out[key] = parts[0][key] === null ? null : tf.concat(parts.map((p) => p[key] as tf.Tensor));
  }
  return out as T;
}

/**
 * The diagnostics of `models` on real images x [n, R_E, R_E, C] (held-out,
 * fixed across calls) and prior latents z [n, zDim], n ≥ 2. `seed` fixes
 * E's noise. Requires an encoder. Reads back once, asynchronously.
 */
export async function encoderDiagnostics(models: Models, x: tf.Tensor4D, z: tf.Tensor2D, seed = 0): Promise<Diagnostics> {
  const { cfg } = models;
  if (models.E === null) throw new Error('Expected a model with an encoder for the encoder diagnostics, but this one has none (noEncoder)');
  const n = x.shape[0];
  if (n < 2 || z.shape[0] !== n) throw new Error(`Expected n ≥ 2 images and as many latents, but got ${n} and ${z.shape[0]}`);
  const noUpdate = (params: typeof models.G) => ({ params, path: '', training: false, batchStats: true });
  const dCtx = { params: models.D, path: '', training: false };
  const rng = new Rng(seed);
  const chunk = Math.max(2, Math.min(cfg.batchSize, n));
  const named: Record<string, tf.Tensor> = tf.tidy(() => {
    const e = inChunks(n, chunk, (s, m) => {
      const eps = tf.randomNormal([m, cfg.zDim], 0, 1, 'float32', rng.seed()) as tf.Tensor2D;
      const out: EncoderOutput = E(noUpdate(models.E!), cfg, tf.slice(x, s, m), eps);
      return { mu: out.z_mean, sigma: out.sigma, zE: out.z_sample };
    });
    const g = inChunks(n, chunk, (s, m) => {
      const xG = G(noUpdate(models.G), cfg, tf.slice(z, s, m));
      const xE = xG.shape[1] === cfg.eResolution ? xG : tf.image.resizeBilinear(xG, [cfg.eResolution, cfg.eResolution]);
      return { xG, zRec: E(noUpdate(models.E!), cfg, xE).z_mean };
    });
    const score = (xs: tf.Tensor4D, zs: tf.Tensor2D): Scores => inChunks(n, chunk, (s, m) => {
      const r = D(dCtx, cfg, tf.slice(xs, s, m), tf.slice(zs, s, m));
      return { s_x: r.s_x, s_z: r.s_z, s_xz: r.s_xz } as Record<string, tf.Tensor | null>;
    }) as unknown as Scores;
    const xD = realForD(cfg, x);
    const real = score(xD, e.zE), realSwapped = score(xD, rolled(e.zE));
    const fake = score(g.xG as tf.Tensor4D, z), fakeSwapped = score(g.xG as tf.Tensor4D, rolled(z));
    return {
      mu: e.mu!, ...(e.sigma ? { sigma: e.sigma } : {}), zRec: g.zRec!,
      real_x: real.s_x, real_z: real.s_z!, real_xz: real.s_xz!, real_xz_swapped: realSwapped.s_xz!,
      fake_x: fake.s_x, fake_z: fake.s_z!, fake_xz: fake.s_xz!, fake_xz_swapped: fakeSwapped.s_xz!,
    };
  });
  const keys = Object.keys(named);
  let v: Record<string, Float32Array>;
  try {
    const values = await Promise.all(keys.map((k) => named[k].data() as Promise<Float32Array>));
    v = Object.fromEntries(keys.map((k, i) => [k, values[i]]));
  } finally {
    tf.dispose(Object.values(named));
  }
  const zValues = await z.data() as Float32Array;
  const { snr, meanVar, sigmaSq } = signalToNoise(v.mu, v.sigma ?? null, n, cfg.zDim);
  const bothXz = new Float32Array([...v.real_xz, ...v.fake_xz]);
  return {
    e_snr: snr, e_mean_var: meanVar, e_sigma_sq: sigmaSq,
    pair_gap_real: standardizedGap(v.real_xz, v.real_xz_swapped, bothXz),
    pair_gap_fake: standardizedGap(v.fake_xz_swapped, v.fake_xz, bothXz),
    latent_recovery: meanColumnCorrelation(v.zRec, zValues, n, cfg.zDim),
    d_acc_real_x: shareOfSign(v.real_x, 1), d_acc_real_z: shareOfSign(v.real_z, 1), d_acc_real_xz: shareOfSign(v.real_xz, 1),
    d_acc_fake_x: shareOfSign(v.fake_x, -1), d_acc_fake_z: shareOfSign(v.fake_z, -1), d_acc_fake_xz: shareOfSign(v.fake_xz, -1),
  };
}

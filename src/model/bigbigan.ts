/**
 * BigBiGAN = G + E + D (Donahue & Simonyan 2019, arXiv:1907.02544): the three
 * networks' parameter stores, the latent prior, and the two ways D sees a
 * pair — real (x, E(x)) and generated (G(z), z).
 */
import * as tf from '@tensorflow/tfjs';
import { Config } from '../config';
import { Rng } from '../util/rng';
import { D, Scores } from './discriminator';
import { countEncoderWeights, E, EncoderOutput } from './encoder';
import { G } from './generator';
import { Ctx, Params } from './params';

export interface Models {
  cfg: Config;
  G: Params;
  /** null for the plain-GAN ablation (cfg.noEncoder). */
  E: Params | null;
  D: Params;
  /** Exponential moving average of G's variables (same paths), for sampling and evaluation. */
  gEma: Params;
}

export function ctxOf(params: Params, training: boolean): Ctx {
  return { params, path: '', training };
}

/** z ~ P_z: N(0, I) or U(-1, 1) per cfg.latent, drawn with a seed from rng. [n, zDim] */
export function sampleLatent(cfg: Config, rng: Rng, n: number): tf.Tensor2D {
  return cfg.latent === 'uniform'
    ? tf.randomUniform([n, cfg.zDim], -1, 1, 'float32', rng.seed())
    : tf.randomNormal([n, cfg.zDim], 0, 1, 'float32', rng.seed());
}

/** What D's F sees of a real image at E's resolution: itself, or average-pooled to G's resolution (high-res E). */
export function realForD(cfg: Config, xE: tf.Tensor4D): tf.Tensor4D {
  const factor = cfg.eResolution / cfg.resolution;
  if (factor === 1) return xE;
  if (!Number.isInteger(factor)) {
    throw new Error(`Expected eResolution to be a whole multiple of resolution, but got ${cfg.eResolution} and ${cfg.resolution}`);
  }
  return tf.avgPool(xE, factor, factor, 'valid');
}

/** E's output for x with noise eps drawn from rng (reproducible). */
export function encode(models: Models, x: tf.Tensor4D, rng: Rng, training: boolean): EncoderOutput {
  if (models.E === null) throw new Error('Expected an encoder, but this run has none (noEncoder)');
  const eps = tf.randomNormal([x.shape[0], models.cfg.zDim], 0, 1, 'float32', rng.seed()) as tf.Tensor2D;
  return E(ctxOf(models.E, training), models.cfg, x, eps);
}

/**
 * E's mean on generated images x̂ = G(z) (bilinearly resized to E's resolution
 * when G's differs: the high-res E rows), with the batch's own statistics and
 * no running average updated (generated images must not shift the statistics
 * E uses on real ones). [B, zDim]
 */
export function encodeGenerated(models: Models, xG: tf.Tensor4D): tf.Tensor2D {
  if (models.E === null) throw new Error('Expected an encoder, but this run has none (noEncoder)');
  const { cfg } = models;
  const x = xG.shape[1] === cfg.eResolution ? xG : tf.image.resizeBilinear(xG, [cfg.eResolution, cfg.eResolution]);
  const eps = tf.zeros([xG.shape[0], cfg.zDim]) as tf.Tensor2D;  // only the mean is used; no noise drawn
  return E({ params: models.E, path: '', training: false, batchStats: true }, cfg, x, eps).z_mean;
}

/** D's scores of real pairs (x, E(x)) given E's z, or of x alone without E. */
export function scoreReal(models: Models, xE: tf.Tensor4D, zE: tf.Tensor2D | null): Scores {
  return D(ctxOf(models.D, true), models.cfg, realForD(models.cfg, xE), zE);
}

/** D's scores of generated pairs (G(z), z). */
export function scoreFake(models: Models, xG: tf.Tensor4D, z: tf.Tensor2D): Scores {
  return D(ctxOf(models.D, true), models.cfg, xG, models.E === null ? null : z);
}

/**
 * Creates G, E, D and G_ema and builds their variables with one forward pass
 * on a batch of `batch` (inference mode, so no statistics move). Each network's
 * initial weights come from its own seed, derived from cfg.seed.
 */
export function createModels(cfg: Config, opts: { batch?: number; ema?: boolean } = {}): Models {
  const init = cfg.init, n = opts.batch ?? 2;
  const models: Models = {
    cfg,
    G: new Params('G', new Rng(cfg.seed * 4 + 1), init),
    E: cfg.noEncoder ? null : new Params('E', new Rng(cfg.seed * 4 + 2), 'he'),
    D: new Params('D', new Rng(cfg.seed * 4 + 3), init),
    gEma: new Params('G_ema', new Rng(0), init),
  };
  // One network per tidy: the paper-scale preset's activations would not fit the wasm heap together.
  const rng = new Rng(cfg.seed * 4 + 4);
  const z = sampleLatent(cfg, rng, n);
  const x = tf.tidy(() => G(ctxOf(models.G, false), cfg, z));
  tf.tidy(() => { D(ctxOf(models.D, false), cfg, x, models.E === null ? null : z); });
  if (models.E !== null) {
    const xE = tf.zeros([n, cfg.eResolution, cfg.eResolution, cfg.channels]) as tf.Tensor4D;
    const zE = tf.tidy(() => encode(models, xE, rng, false).z_mean);
    tf.tidy(() => { D(ctxOf(models.D, false), cfg, realForD(cfg, xE), zE); });
    tf.dispose([xE, zE]);
  }
  tf.dispose([z, x]);
  if (opts.ema ?? true) {
    for (const [path, v] of models.G.weights) models.gEma.weight(path, () => v.clone());
    for (const [path, v] of models.G.state) models.gEma.stateVar(path, () => v.clone());
  }
  return models;
}

/** Trainable parameter counts of a config's networks (built at batch 1, without the EMA copy). */
export function countParameters(cfg: Config): { G: number; E: { trunk: number; head: number } | null; D: number } {
  const models = createModels(cfg, { batch: 1, ema: false });
  const counts = {
    G: models.G.countWeights(),
    E: models.E === null ? null : countEncoderWeights(ctxOf(models.E, false)),
    D: models.D.countWeights(),
  };
  disposeModels(models);
  return counts;
}

type Pair = [tf.Variable, tf.Variable];

/**
 * Pairs (ema, G) of G's variables for updateEma: `averaged` (weights and BN
 * statistics) and `copied` (spectral norm's power-iteration vectors u, v,
 * which track the nearby raw weights: an average of unit vectors is shorter
 * than 1, which would underestimate σ and blow up W/σ in G_ema).
 */
export function emaPairs(models: Models): { averaged: Pair[]; copied: Pair[] } {
  const averaged: Pair[] = [], copied: Pair[] = [];
  for (const [path, v] of models.G.all()) {
    const ema = models.gEma.weights.get(path) ?? models.gEma.state.get(path);
    if (ema === undefined) throw new Error(`Expected G_ema to have ${path}, but it does not`);
    (/\/sn_[uv]$/.test(path) ? copied : averaged).push([ema, v]);
  }
  return { averaged, copied };
}

/**
 * G(z) for pictures and evaluation: G_ema (default) or the raw G, with batch
 * norms on the batch's own statistics (BigGAN samples G_ema in training mode
 * for the same reason) and nothing updated. Use batches of 16 or more.
 */
export function generate(models: Models, z: tf.Tensor2D, opts: { ema?: boolean } = {}): tf.Tensor4D {
  const params = opts.ema ?? true ? models.gEma : models.G;
  return tf.tidy(() => G({ params, path: '', training: false, batchStats: true }, models.cfg, z));
}

export function disposeModels(models: Models): void {
  for (const p of [models.G, models.E, models.D, models.gEma]) p?.dispose();
}

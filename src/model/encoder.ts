/**
 * BigBiGAN's encoder E (Donahue & Simonyan 2019, arXiv:1907.02544, Sec. 3 and the
 * official TF-Hub modules deepmind/bigbigan-resnet50 and bigbigan-revnet50x4):
 * a trunk (encoder_blocks.ts) pooled to a feature h, then an MLP head giving
 * mu and sigma_hat; the "Base" E is stochastic: sigma = softplus(sigma_hat),
 * z = mu + eps·sigma, eps ~ N(0, I), with no KL term. The "Deterministic E"
 * ablation outputs mu only. E is not spectrally normalised; its Params are
 * created with init 'he' by the caller.
 */
import * as tf from '@tensorflow/tfjs';
import { Config } from '../config';
import { eFeatureDim, trunk, trunkWidths } from './encoder_blocks';
import { linear, normalize } from './layers';
import { Ctx, sub } from './params';

export {
  convnetTrunk, eFeatureDim, poolAndDoubleChannels, preactBlock, resnetTrunk, revCoupling,
  revCouplingInverse, revnetTrunk, revResidual, trunk, trunkWidths,
} from './encoder_blocks';
export type { TrunkWidths } from './encoder_blocks';

/** E's outputs, named as the official TF-Hub module's. */
export interface EncoderOutput {
  /** z = mu + eps·sigma (stochastic E) or a copy of z_mean (deterministic E). [B, zDim] */
  z_sample: tf.Tensor2D;
  /** mu. [B, zDim] */
  z_mean: tf.Tensor2D;
  /** softplus(sigma_hat) > 0; null for a deterministic E. [B, zDim] */
  sigma: tf.Tensor2D | null;
  /** The trunk's globally average-pooled feature h. [B, D] */
  avepool: tf.Tensor2D;
  /** [ReLU(BN(h)), ReLU(-BN(h))] with a batch norm without learned parameters. [B, 2D] */
  bn_crelu: tf.Tensor2D;
}

/** Path under E's ctx of the MLP head (the rest of E's weights are the trunk's). */
export const E_HEAD = 'head';

/** Throws "Expected …, but got …" when cfg's E fields cannot build an encoder. */
export function checkEncoderConfig(cfg: Config): void {
  const c = cfg.eCh * cfg.eWidth;
  if (!Number.isInteger(c) || c < 1) {
    throw new Error(`Expected eCh·eWidth to be a positive integer, but got ${cfg.eCh}·${cfg.eWidth} = ${c}`);
  }
  if (cfg.eBlocks.length < 1 || cfg.eBlocks.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`Expected eBlocks to be a non-empty list of positive integers, but got [${cfg.eBlocks}]`);
  }
  if (cfg.eArch === 'revnet' && c % 2 !== 0) {
    throw new Error(`Expected an even eCh·eWidth for a revnet (it splits channels in halves), but got ${c}`);
  }
  if (cfg.eArch === 'convnet' && cfg.eResolution < 2 ** cfg.eBlocks.length) {
    throw new Error(`Expected eResolution ≥ ${2 ** cfg.eBlocks.length} for a convnet of ${cfg.eBlocks.length} stages, ` +
                    `but got ${cfg.eResolution}`);
  }
  for (const [name, v] of [['eMlp', cfg.eMlp], ['zDim', cfg.zDim], ['channels', cfg.channels]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`Expected ${name} to be a positive integer, but got ${v}`);
  }
  const sigma0 = cfg.eSigmaInit ?? Math.LN2;
  if (!(sigma0 > 0 && Number.isFinite(sigma0))) throw new Error(`Expected eSigmaInit > 0 (σ where sigma_hat = 0), but got ${sigma0}`);
  trunkWidths(cfg);  // rejects an unknown eArch
}

/** The head: h [B, D] -> eMlp -> eMlp -> out, ReLUs between, no SN. */
function head(ctx: Ctx, cfg: Config, h: tf.Tensor2D, out: number): tf.Tensor2D {
  const opts = { sn: false };
  let a = tf.relu(linear(sub(ctx, 'fc1'), h, cfg.eMlp, opts)) as tf.Tensor2D;  // [B, eMlp]
  a = tf.relu(linear(sub(ctx, 'fc2'), a, cfg.eMlp, opts)) as tf.Tensor2D;      // [B, eMlp]
  return linear(sub(ctx, 'out'), a, out, opts);                               // [B, out]
}

/**
 * E(x): x [B, eResolution, eResolution, channels] in [-1, 1] -> EncoderOutput.
 * eps [B, zDim] is the N(0, I) noise of the stochastic E (pass it for a
 * reproducible run); when omitted it is drawn with a seed from ctx.params.rng.
 * Any input side other than cfg.eResolution is an error (the trunk pools
 * globally, so a model may be built at any eResolution). Variables are created
 * on the first call; intermediate tensors are left to the caller's tf.tidy.
 */
export function E(ctx: Ctx, cfg: Config, x: tf.Tensor4D, eps?: tf.Tensor2D): EncoderOutput {
  checkEncoderConfig(cfg);
  const want = [cfg.eResolution, cfg.eResolution, cfg.channels];
  if (x.rank !== 4 || x.shape.slice(1).some((s, i) => s !== want[i])) {
    throw new Error(`Expected E's input of shape [B, ${want.join(', ')}], but got [${x.shape.join(', ')}]`);
  }
  const b = x.shape[0];
  if (eps !== undefined && (eps.rank !== 2 || eps.shape[0] !== b || eps.shape[1] !== cfg.zDim)) {
    throw new Error(`Expected eps of shape [${b}, ${cfg.zDim}], but got [${eps.shape.join(', ')}]`);
  }

  const features = trunk(ctx, cfg, x);                                   // [B, h, w, D]
  const avepool = tf.mean(features, [1, 2]) as tf.Tensor2D;              // [B, D]
  const n = normalize(sub(ctx, 'bn_crelu'), avepool);                    // BN without gain/bias (state only)
  const bn_crelu = tf.concat([tf.relu(n), tf.relu(tf.neg(n))], 1) as tf.Tensor2D;  // [B, 2D]

  // cfg.eNormalizeMean (not the paper's): mu standardised per dimension over the batch, as P_z's marginal.
  const meanOf = (m: tf.Tensor2D) => (cfg.eNormalizeMean ? normalize(sub(ctx, 'z_mean_bn'), m) as tf.Tensor2D : m);
  if (!cfg.eStochastic) {
    const mu = meanOf(head(sub(ctx, E_HEAD), cfg, avepool, cfg.zDim));   // [B, zDim]
    return { z_sample: tf.clone(mu), z_mean: mu, sigma: null, avepool, bn_crelu };
  }
  const out = head(sub(ctx, E_HEAD), cfg, avepool, 2 * cfg.zDim);        // [B, 2 zDim]
  const [rawMu, sigmaHat] = tf.split(out, 2, 1) as [tf.Tensor2D, tf.Tensor2D];
  const mu = meanOf(rawMu);
  const init = cfg.eSigmaInit ?? Math.LN2;
  const shift = init === Math.LN2 ? 0 : Math.log(Math.expm1(init));      // softplus⁻¹; 0 for the paper's ln 2
  const sigma = tf.softplus(shift === 0 ? sigmaHat : tf.add(sigmaHat, shift)) as tf.Tensor2D;  // [B, zDim], > 0
  const noise = eps ?? tf.randomNormal([b, cfg.zDim], 0, 1, 'float32', ctx.params.rng.seed()) as tf.Tensor2D;
  const z_sample = tf.add(mu, tf.mul(noise, sigma)) as tf.Tensor2D;      // reparameterisation
  return { z_sample, z_mean: mu, sigma, avepool, bn_crelu };
}

/** Number of trainable scalars of E's trunk and head in a built store (paths under E's ctx.path). */
export function countEncoderWeights(ctx: Ctx): { trunk: number; head: number } {
  const prefix = ctx.path ? `${ctx.path}/` : '';
  const headPrefix = `${prefix}${E_HEAD}/`;
  let trunkN = 0, headN = 0;
  for (const [path, v] of ctx.params.weights) {
    if (!path.startsWith(prefix)) continue;
    if (path.startsWith(headPrefix)) headN += v.size; else trunkN += v.size;
  }
  return { trunk: trunkN, head: headN };
}

/** E's feature sizes for cfg: avepool D and bn_crelu 2D. */
export function encoderFeatureDims(cfg: Config): { avepool: number; bn_crelu: number } {
  const d = eFeatureDim(cfg);
  return { avepool: d, bn_crelu: 2 * d };
}

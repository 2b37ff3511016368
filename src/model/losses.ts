/**
 * BigBiGAN's losses, as written in the paper (Donahue & Simonyan 2019,
 * arXiv:1907.02544, section 2, "BigBiGAN"):
 *
 *   s_x, s_z, s_xz                        D's unary and joint scores of a pair (x, z)
 *   h(t) = max(0, 1 - t)                  the hinge
 *   l_D(x, z, y)  = h(y s_x) + h(y s_z) + h(y s_xz)        each term hinged separately
 *   l_EG(x, z, y) = y (s_x + s_z + s_xz)
 *   L_D  = E_{x~P_x, ẑ~E(x)} l_D(x, ẑ, +1) + E_{z~P_z, x̂~G(z)} l_D(x̂, z, -1)
 *   L_EG = E_{x~P_x, ẑ~E(x)} l_EG(x, ẑ, +1) + E_{z~P_z, x̂~G(z)} l_EG(x̂, z, -1)
 *
 * D minimises L_D, E and G minimise L_EG. Real pairs (x, E(x)) have y = +1,
 * generated pairs (G(z), z) have y = -1. The ablations drop unary terms:
 * 'x' keeps s_x and s_xz, 'z' keeps s_z and s_xz, 'none' keeps s_xz alone (BiGAN).
 * Without an encoder (a plain GAN) only s_x exists.
 */
import * as tf from '@tensorflow/tfjs';
import { Config } from '../config';
import { Scores } from './discriminator';

export { Scores };

/** Which score terms enter the losses. */
export interface Terms {
  x: boolean;
  z: boolean;
  xz: boolean;
}

/** The terms kept by an ablation (cfg.unary, cfg.noEncoder). */
export function lossTerms(cfg: Pick<Config, 'unary' | 'noEncoder'>): Terms {
  if (cfg.noEncoder) return { x: true, z: false, xz: false };
  return { x: cfg.unary === 'both' || cfg.unary === 'x', z: cfg.unary === 'both' || cfg.unary === 'z', xz: true };
}

/** Throws unless some loss term reaches G: with gJointWeight 0, G learns from s_x alone. */
export function checkLossConfig(cfg: Pick<Config, 'unary' | 'noEncoder' | 'gJointWeight'>): void {
  if (cfg.gJointWeight === 0 && !cfg.noEncoder && !lossTerms(cfg).x) {
    throw new Error(`Expected gJointWeight > 0 or a unary term on x: with gJointWeight 0 and unary '${cfg.unary}' no loss term reaches G`);
  }
}

/** h(t) = max(0, 1 - t). */
export function hinge(t: tf.Tensor): tf.Tensor {
  return tf.relu(tf.sub(1, t));
}

/** The kept scores of a batch, by name. */
function keptScores(s: Scores, terms: Terms): Record<'s_x' | 's_z' | 's_xz', tf.Tensor1D> {
  const kept: Partial<Record<'s_x' | 's_z' | 's_xz', tf.Tensor1D>> = {};
  for (const [name, on] of [['s_x', terms.x], ['s_z', terms.z], ['s_xz', terms.xz]] as const) {
    if (!on) continue;
    const score = s[name];
    if (score == null) throw new Error(`Expected score ${name} for the losses, but D did not compute it`);
    kept[name] = score;
  }
  return kept as Record<'s_x' | 's_z' | 's_xz', tf.Tensor1D>;
}

/** Batch means of l_D(x, z, y) per term, and their sum: y = +1 for real pairs, -1 for generated ones. */
export function lD(s: Scores, y: 1 | -1, terms: Terms): { total: tf.Scalar; parts: Record<string, tf.Scalar> } {
  const parts: Record<string, tf.Scalar> = {};
  for (const [name, score] of Object.entries(keptScores(s, terms))) parts[name] = tf.mean(hinge(tf.mul(y, score)));
  return { total: tf.addN(Object.values(parts)) as tf.Scalar, parts };
}

/** Batch mean of l_EG(x, z, y) = y (s_x + s_z + s_xz) over the kept terms (0 when none is kept and `allowNone`). */
export function lEG(s: Scores, y: 1 | -1, terms: Terms, allowNone = false): tf.Scalar {
  const kept = Object.values(keptScores(s, terms));
  if (kept.length === 0 && allowNone) return tf.scalar(0);
  return tf.mul(y, tf.addN(kept.map((score) => tf.mean(score)))) as tf.Scalar;
}

/** L_D = l_D over real pairs (y = +1) + l_D over generated pairs (y = -1). */
export function lossD(real: Scores, fake: Scores, terms: Terms): { loss: tf.Scalar; parts: Record<string, tf.Scalar> } {
  const r = lD(real, 1, terms), f = lD(fake, -1, terms);
  const parts: Record<string, tf.Scalar> = {};
  for (const [k, v] of Object.entries(r.parts)) parts[`D_real_${k}`] = v;
  for (const [k, v] of Object.entries(f.parts)) parts[`D_fake_${k}`] = v;
  return { loss: tf.add(r.total, f.total) as tf.Scalar, parts };
}

/**
 * L_EG = l_EG over real pairs (y = +1) + l_EG over generated pairs (y = -1).
 * E reaches only the real pairs' scores and G only the generated ones', so
 * `gJointWeight` λ (cfg.gJointWeight; 1 is the paper) scales what G alone
 * gets of the joint term: the generated pairs' part is -(s_x + s_z + λ s_xz).
 * With λ = 0, G is trained as a plain GAN on s_x and only E follows D's
 * pairing (G cannot undo, by moving its images, what D learnt of it).
 */
export function lossEG(real: Scores, fake: Scores, terms: Terms, gJointWeight = 1): tf.Scalar {
  if (gJointWeight === 1 || !terms.xz) return tf.add(lEG(real, 1, terms), lEG(fake, -1, terms)) as tf.Scalar;
  const unary = lEG(fake, -1, { ...terms, xz: false }, true);
  const joint = tf.mul(-gJointWeight, tf.mean(keptScores(fake, { x: false, z: false, xz: true }).s_xz));
  return tf.addN([lEG(real, 1, terms), unary, joint]) as tf.Scalar;
}

/**
 * Not in the paper: the latent regression of BiGAN's baseline (Donahue et al.
 * 2017, arXiv:1605.09782, Sec. 4: E trained to recover z from G(z)), the
 * z-side cycle consistency of ALICE (Li et al. 2017, arXiv:1709.01215):
 * mean over the batch and z's dimensions of (E(G(z)) − z)². cfg.eLatentRegression
 * weighs it; G's images are held fixed (only E learns from it) unless
 * cfg.latentRegressionG (then G also learns to make z recoverable, as InfoGAN).
 */
export function latentRegression(zRecovered: tf.Tensor2D, z: tf.Tensor2D): tf.Scalar {
  return tf.mean(tf.squaredDifference(zRecovered, z)) as tf.Scalar;
}

/** x with a zero gradient: what is computed from it does not train what made it. */
export const stopGradient = tf.customGrad(
  ((x: tf.Tensor) => ({ value: tf.clone(x), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) })) as unknown as
    Parameters<typeof tf.customGrad>[0],
) as (x: tf.Tensor) => tf.Tensor;

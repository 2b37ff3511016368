/**
 * One training step per update, as in the paper's Algorithm (BigGAN
 * conventions): a D step minimises L_D with G and E fixed; an E/G step
 * minimises L_EG with D fixed. Separate Adam optimisers for D, G and E, E's
 * learning rate = G's x eLrMult (the paper's "decoupled E optimisation").
 * Every tensor a step makes is freed before it returns. A step reads its
 * logged values back once, asynchronously (webgpu in Node cannot read
 * synchronously), so the caller awaits it.
 */
import * as tf from '@tensorflow/tfjs';
import { Config } from '../config';
import { checkLossConfig, latentRegression, lossD, lossEG, lossTerms, Scores, stopGradient } from '../model/losses';
import { createModels, ctxOf, emaPairs, encode, encodeGenerated, Models, sampleLatent, scoreFake, scoreReal } from '../model/bigbigan';
import { G } from '../model/generator';
import { Adam, updateEma } from './optim';
import { Rng } from '../util/rng';

/** Everything a run updates: networks, optimisers, the noise RNG and the step count. */
export interface TrainState {
  models: Models;
  optD: Adam;
  optG: Adam;
  optE: Adam | null;
  /** Draws z and E's noise; its state is checkpointed. */
  rng: Rng;
  /** E/G steps done. */
  step: number;
}

export function createTrainState(cfg: Config): TrainState {
  checkLossConfig(cfg);
  const models = createModels(cfg);
  const state: TrainState = {
    models,
    optD: new Adam(0, cfg.beta1, cfg.beta2),
    optG: new Adam(0, cfg.beta1, cfg.beta2),
    optE: models.E === null ? null : new Adam(0, cfg.beta1, cfg.beta2),
    rng: new Rng(cfg.seed),
    step: 0,
  };
  scheduleLearningRates(state);  // the rates in one place: cfg's, times the schedule's factor (1 at step 0)
  return state;
}

/**
 * The learning rates' factor before E/G step `step` + 1 (and its D steps): 1, then, over the last `lrDecay` of
 * `steps`, linearly down to 1/(decay steps) at the last step, so that every step still moves.
 */
export function lrFactor(cfg: Pick<Config, 'steps' | 'lrDecay'>, step: number): number {
  const decaySteps = Math.round(cfg.lrDecay * cfg.steps);
  const left = cfg.steps - step;  // steps still to run, this one included
  return decaySteps > 0 && left < decaySteps ? Math.max(left, 1) / decaySteps : 1;
}

/** Sets the three optimisers' learning rates for the coming step (cfg's rates times lrFactor). */
export function scheduleLearningRates(state: TrainState): void {
  const { cfg } = state.models;
  const f = lrFactor(cfg, state.step);
  state.optD.lr = cfg.lrD * f;
  state.optG.lr = cfg.lrG * f;
  if (state.optE) state.optE.lr = cfg.lrG * cfg.eLrMult * f;
}

/** Scalars to log: their values, read in one asynchronous read (one GPU round trip, not one per scalar). */
async function readScalars(named: Record<string, tf.Scalar>): Promise<Record<string, number>> {
  const names = Object.keys(named);
  const all = tf.tidy(() => tf.stack(names.map((k) => named[k])));
  try {
    const values = await all.data();
    return Object.fromEntries(names.map((k, i) => [k, values[i]]));
  } finally {
    all.dispose();
  }
}

/** Means of the scores, named e.g. real_s_x, for the log. */
function scoreMeans(prefix: string, s: Scores): Record<string, tf.Scalar> {
  const out: Record<string, tf.Scalar> = {};
  for (const [k, v] of Object.entries(s)) if (v) out[`${prefix}_${k}`] = tf.keep(tf.mean(v));
  return out;
}

/**
 * D step: ẑ = E(x) and x̂ = G(z) without gradients (E and G in training mode,
 * as the reference), then one Adam update of D on L_D.
 * @param x real images at E's resolution, [B, R_E, R_E, C]
 */
export async function dStep(state: TrainState, x: tf.Tensor4D): Promise<Record<string, number>> {
  const { models } = state;
  const { cfg } = models;
  const terms = lossTerms(cfg);
  const logged: Record<string, tf.Scalar> = {};
  tf.tidy(() => {
    const z = sampleLatent(cfg, state.rng, x.shape[0]);
    const xG = G(ctxOf(models.G, true), cfg, z);
    const zE = models.E === null ? null : encode(models, x, state.rng, true).z_sample;
    const { value, grads } = tf.variableGrads(() => {
      const real = scoreReal(models, x, zE), fake = scoreFake(models, xG, z);
      const { loss, parts } = lossD(real, fake, terms);
      for (const [k, v] of Object.entries(parts)) logged[k] = tf.keep(v);
      Object.assign(logged, scoreMeans('real', real), scoreMeans('fake', fake));
      return loss;
    }, [...models.D.weights.values()]);
    logged.L_D = tf.keep(value);
    state.optD.step(models.D.weights, grads);
  });
  try {
    return await readScalars(logged);
  } finally {
    tf.dispose(Object.values(logged));
  }
}

/** E/G step: one Adam update of G and of E on L_EG (D fixed), then the EMA of G. */
export async function egStep(state: TrainState, x: tf.Tensor4D): Promise<Record<string, number>> {
  const { models } = state;
  const { cfg } = models;
  const terms = lossTerms(cfg);
  const trainable = [...models.G.weights.values(), ...(models.E?.weights.values() ?? [])];
  let loss!: tf.Scalar;
  let regression: tf.Scalar | null = null;
  tf.tidy(() => {
    const z = sampleLatent(cfg, state.rng, x.shape[0]);
    const { value, grads } = tf.variableGrads(() => {
      const zE = models.E === null ? null : encode(models, x, state.rng, true).z_sample;
      const real = scoreReal(models, x, zE);
      const xG = G(ctxOf(models.G, true), cfg, z);
      const fake = scoreFake(models, xG, z);
      const adversarial = lossEG(real, fake, terms, cfg.gJointWeight ?? 1);
      if (!(cfg.eLatentRegression > 0) || models.E === null) return adversarial;
      const recovered = encodeGenerated(models, cfg.latentRegressionG ? xG : stopGradient(xG) as tf.Tensor4D);
      regression = tf.keep(latentRegression(recovered, z));
      return tf.add(adversarial, tf.mul(cfg.eLatentRegression, regression)) as tf.Scalar;
    }, trainable);
    loss = tf.keep(value);
    state.optG.step(models.G.weights, grads);
    if (state.optE && models.E) state.optE.step(models.E.weights, grads);
  });
  state.step++;
  const ema = emaPairs(models);
  updateEma(ema.averaged, cfg.emaDecay, state.step <= cfg.emaStart);
  updateEma(ema.copied, cfg.emaDecay, true);
  try {
    const values = await readScalars(regression ? { L_EG: loss, L_latent: regression } : { L_EG: loss });
    if (regression) values.L_EG -= cfg.eLatentRegression * values.L_latent;  // L_EG: the paper's loss alone
    return values;
  } finally {
    tf.dispose([loss, ...(regression ? [regression] : [])]);
  }
}

/** Releases every variable of the state. */
export function disposeTrainState(state: TrainState): void {
  for (const p of [state.models.G, state.models.E, state.models.D, state.models.gEma]) p?.dispose();
  for (const o of [state.optD, state.optG, state.optE]) o?.dispose();
}

/**
 * D: BigBiGAN's joint discriminator (Donahue & Simonyan 2019, arXiv:1907.02544,
 * Sec. 2 and Fig. 1). It scores pairs (x, z) with three parts named as in the
 * paper: F (a ConvNet on x, the BigGAN discriminator trunk, Brock et al. 2019,
 * arXiv:1809.11096), H (an MLP on z with skip connections) and J (an MLP on
 * [F(x), H(z)]), and three linear heads:
 *
 *   s_x = θ_x·F(x),   s_z = θ_z·H(z),   s_xz = θ_xz·J(F(x), H(z)).
 *
 * cfg.dJoint (not the paper's unless 'mlp') adds a projection term ⟨V F(x), H(z)⟩ to s_xz, or replaces
 * J by its batch-centred form ('pairing').
 *
 * All layers are spectrally normalised. For `bench32` this is exactly the
 * Discriminator of shared/bench/torch_reference.py (371,572 weights).
 * F, H and J take D's context and keep their variables under `F/`, `H/`, `J/`;
 * the heads are `theta_x`, `theta_z`, `theta_xz`. Shapes are NHWC.
 */
import * as tf from '@tensorflow/tfjs';
import { Config } from '../config';
import { Ctx, sub } from './params';
import { avgPool2x, conv2d, linear, selfAttention } from './layers';

/** F stops downsampling at this side (BigGAN's 128x128 D ends with a block at 4x4). */
export const F_MIN_SIDE = 4;

/** D's three scores, each [B]; s_z and s_xz are null for a plain GAN (cfg.noEncoder). */
export interface Scores {
  s_x: tf.Tensor1D;
  s_z: tf.Tensor1D | null;
  s_xz: tf.Tensor1D | null;
}

/**
 * One residual down-block (BigGAN Fig. 15c): [ReLU] -> conv3x3 -> ReLU -> conv3x3,
 * plus a conv1x1 shortcut, both 2x2 average-pooled when `down`. As in BigGAN's code,
 * the shortcut is the identity when the block keeps both width and size (the last block
 * of the 128x128 D; no bench32 block). [B, H, W, Cin] -> [B, H/2, W/2, Cout] (or [B, H, W, Cout]).
 */
function downBlock(ctx: Ctx, x: tf.Tensor4D, outChannels: number, preact: boolean, down: boolean): tf.Tensor4D {
  let h = conv2d(sub(ctx, 'conv1'), preact ? tf.relu(x) : x, outChannels);    // [B, H, W, Cout]
  h = conv2d(sub(ctx, 'conv2'), tf.relu(h), outChannels);
  if (!down && x.shape[3] === outChannels) return tf.add(h, x);
  // A 1x1 conv commutes with average pooling; pooling first is 4x cheaper.
  const shortcut = conv2d(sub(ctx, 'shortcut'), down ? avgPool2x(x) : x, outChannels, { kernel: 1 });
  return tf.add(down ? avgPool2x(h) : h, shortcut);                          // [B, H/2, W/2, Cout]
}

/** Output side of each of F's blocks for an input of side `side`: halves down to F_MIN_SIDE. */
export function fBlockResolutions(side: number, blocks: number): number[] {
  const sides: number[] = [];
  for (let i = 0; i < blocks; i++) sides.push(side = side > F_MIN_SIDE ? side / 2 : side);
  return sides;
}

/**
 * F(x): x [B, resolution, resolution, channels] -> features [B, dCh·dMults.last].
 * Block i has dCh·dMults[i] channels (block 0 without pre-activation); self-attention
 * follows the first block whose output side is dAttention; then ReLU and a global sum pool.
 */
export function F(ctx: Ctx, cfg: Config, x: tf.Tensor4D): tf.Tensor2D {
  if (x.rank !== 4 || x.shape[1] !== cfg.resolution || x.shape[2] !== cfg.resolution || x.shape[3] !== cfg.channels) {
    throw new Error(`Expected x of shape [B, ${cfg.resolution}, ${cfg.resolution}, ${cfg.channels}], but got [${x.shape}]`);
  }
  const sides = fBlockResolutions(cfg.resolution, cfg.dMults.length);
  if (cfg.dAttention !== 0 && !sides.includes(cfg.dAttention)) {
    throw new Error(`Expected dAttention to be 0 or a block resolution of F (${sides.join(', ')}), but got ${cfg.dAttention}`);
  }
  const attentionBlock = sides.indexOf(cfg.dAttention);
  const f = sub(ctx, 'F');
  let h = x;
  cfg.dMults.forEach((mult, i) => {
    h = downBlock(sub(f, `block${i}`), h, cfg.dCh * mult, i > 0, h.shape[1] > F_MIN_SIDE);  // [B, side_i, side_i, C_i]
    if (i === attentionBlock) h = selfAttention(sub(f, 'attention'), h);
  });
  return tf.sum(tf.relu(h), [1, 2]);                                           // [B, C_last]
}

/** H(z): z [B, zDim] -> [B, dMlp]: SN linear + ReLU, then two residual layers h + ReLU(linear(h)). */
export function H(ctx: Ctx, cfg: Config, z: tf.Tensor2D): tf.Tensor2D {
  if (z.rank !== 2 || z.shape[1] !== cfg.zDim) throw new Error(`Expected z of shape [B, ${cfg.zDim}], but got [${z.shape}]`);
  const hCtx = sub(ctx, 'H');
  let h = tf.relu(linear(sub(hCtx, 'linear0'), z, cfg.dMlp));                  // [B, dMlp]
  for (const i of [1, 2]) h = tf.add(h, tf.relu(linear(sub(hCtx, `linear${i}`), h, cfg.dMlp)));  // skip connection
  return h;
}

/** J(F(x), H(z)): concat [B, dF + dMlp] -> dMlp -> dMlp, each followed by ReLU. */
export function J(ctx: Ctx, cfg: Config, fx: tf.Tensor2D, hz: tf.Tensor2D): tf.Tensor2D {
  const jCtx = sub(ctx, 'J');
  let h = tf.concat([fx, hz], 1);                                              // [B, dF + dMlp]
  for (const i of [0, 1]) h = tf.relu(linear(sub(jCtx, `linear${i}`), h, cfg.dMlp));  // [B, dMlp]
  return h;
}

/** A linear score head: [B, D] -> [B]. */
function head(ctx: Ctx, name: string, h: tf.Tensor2D): tf.Tensor1D {
  return tf.reshape(linear(sub(ctx, name), h, 1), [-1]);
}

/**
 * D(x, z) -> {s_x, s_z, s_xz}, each [B]. All three heads are always computed
 * (the losses pick the terms cfg.unary keeps), so D's size does not depend on
 * `unary`. With cfg.noEncoder (a plain GAN) z must be null: only F and s_x
 * are built and run, and s_z = s_xz = null.
 */
export function D(ctx: Ctx, cfg: Config, x: tf.Tensor4D, z: tf.Tensor2D | null): Scores {
  if ((z === null) !== cfg.noEncoder) {
    throw new Error(cfg.noEncoder ? `Expected z = null with noEncoder (a plain GAN), but got z of shape [${z?.shape}]`
                                  : `Expected a latent z [B, ${cfg.zDim}] (noEncoder is false), but got null`);
  }
  const fx = F(ctx, cfg, x);                                                   // [B, dF]
  const s_x = head(ctx, 'theta_x', fx);
  if (z === null) return { s_x, s_z: null, s_xz: null };
  if (z.shape[0] !== x.shape[0]) throw new Error(`Expected x and z with the same batch, but got ${x.shape[0]} and ${z.shape[0]}`);
  const hz = H(ctx, cfg, z);                                                   // [B, dMlp]
  return { s_x, s_z: head(ctx, 'theta_z', hz), s_xz: joint(ctx, cfg, fx, hz) };
}

/** s_xz by cfg.dJoint (see Config): J's MLP (the paper), plus a projection term, or the centred projection alone. */
function joint(ctx: Ctx, cfg: Config, fx: tf.Tensor2D, hz: tf.Tensor2D): tf.Tensor1D {
  const project = (f: tf.Tensor2D, h: tf.Tensor2D) =>
    tf.sum(tf.mul(linear(sub(ctx, 'projection'), f, cfg.dMlp, { bias: false }), h), 1) as tf.Tensor1D;  // ⟨V f, h⟩
  switch (cfg.dJoint ?? 'mlp') {
    case 'mlp': return head(ctx, 'theta_xz', J(ctx, cfg, fx, hz));
    case 'projection': {
      const paper = head(ctx, 'theta_xz', J(ctx, cfg, fx, hz));  // first: the paper's weights are drawn as without the term
      return tf.add(paper, project(fx, hz));
    }
    case 'pairing': return project(tf.sub(fx, tf.mean(fx, 0, true)), tf.sub(hz, tf.mean(hz, 0, true)));
    default: throw new Error(`Expected dJoint 'mlp', 'projection' or 'pairing', but got '${cfg.dJoint}'`);
  }
}

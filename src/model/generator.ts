/**
 * G: the unconditional BigGAN generator (Brock et al. 2019, arXiv:1809.11096)
 * with a hierarchical latent, as BigBiGAN uses it (Donahue & Simonyan 2019,
 * arXiv:1907.02544, Sec. 2): z is split into chunks; the first feeds the
 * initial linear layer, each other chunk conditions one residual up-block's
 * batch norms. For the `bench32` preset this is exactly the Generator of
 * shared/bench/torch_reference.py (143,394 weights). Shapes are NHWC.
 *
 * Reads bottom-up: the block first, the whole network last.
 */
import * as tf from '@tensorflow/tfjs';
import { Config } from '../config';
import { Ctx, sub } from './params';
import { conditionalBatchNorm, batchNorm, conv2d, linear, selfAttention, upsample2x } from './layers';

/** Side of the seed feature map that the first linear layer makes. */
export const G_SEED_SIZE = 4;

/**
 * One residual up-block (BigGAN Fig. 15b, without the class embedding):
 * CBN(zc) -> ReLU -> 2x upsample -> conv3x3 -> CBN(zc) -> ReLU -> conv3x3,
 * plus the shortcut upsample -> conv1x1. [B, H, W, Cin] -> [B, 2H, 2W, Cout].
 */
function upBlock(ctx: Ctx, x: tf.Tensor4D, zc: tf.Tensor2D, outChannels: number): tf.Tensor4D {
  let h = tf.relu(conditionalBatchNorm(sub(ctx, 'cbn1'), x, zc));             // [B, H, W, Cin]
  h = conv2d(sub(ctx, 'conv1'), upsample2x(h), outChannels);                 // [B, 2H, 2W, Cout]
  h = tf.relu(conditionalBatchNorm(sub(ctx, 'cbn2'), h, zc));
  h = conv2d(sub(ctx, 'conv2'), h, outChannels);                             // [B, 2H, 2W, Cout]
  // A 1x1 conv commutes with nearest upsampling; convolving first is 4x cheaper.
  const shortcut = upsample2x(conv2d(sub(ctx, 'shortcut'), x, outChannels, { kernel: 1 }));
  return tf.add(h, shortcut);
}

/** Output side of each up-block: 8, 16, ... for a 4x4 seed. */
export function blockResolutions(blocks: number): number[] {
  return Array.from({ length: blocks }, (_, i) => G_SEED_SIZE * 2 ** (i + 1));
}

/**
 * The sizes of z's chunks, one per gMults entry, as even as possible (the
 * first zDim mod n chunks one larger), so that a row changing G's depth keeps
 * the same z (e.g. zDim 32 over 5 blocks: 7, 7, 6, 6, 6).
 */
export function latentChunks(cfg: Config): number[] {
  const n = cfg.gMults.length;
  return Array.from({ length: n }, (_, i) => Math.floor(cfg.zDim / n) + (i < cfg.zDim % n ? 1 : 0));
}

/** Throws unless the config describes a consistent generator; returns the latent chunk sizes. */
export function checkGeneratorConfig(cfg: Config): number[] {
  const chunks = cfg.gMults.length;
  if (chunks < 1) throw new Error(`Expected gMults to have at least one entry, but got []`);
  if (cfg.zDim < chunks) {
    throw new Error(`Expected zDim ≥ gMults.length (one latent chunk per entry), but got zDim=${cfg.zDim} and ` +
                    `${chunks} entries [${cfg.gMults}]`);
  }
  const outSide = G_SEED_SIZE * 2 ** (chunks - 1);
  if (outSide !== cfg.resolution) {
    throw new Error(`Expected resolution = 4 * 2^(gMults.length - 1) = ${outSide} for gMults [${cfg.gMults}], ` +
                    `but got resolution=${cfg.resolution}`);
  }
  const sides = blockResolutions(chunks - 1);
  if (cfg.gAttention !== 0 && !sides.includes(cfg.gAttention)) {
    throw new Error(`Expected gAttention to be 0 or a block resolution (${sides.join(', ')}), but got ${cfg.gAttention}`);
  }
  return latentChunks(cfg);
}

/**
 * G(z): z [B, zDim] -> images [B, resolution, resolution, channels] in [-1, 1].
 *
 * z is split into gMults.length chunks (latentChunks): chunk 0 -> SN linear -> 4x4 x gCh·gMults[0];
 * block i (gCh·gMults[i] -> gCh·gMults[i+1], side doubles) is conditioned on chunk i+1;
 * self-attention follows the block whose output side is gAttention; then BN (affine)
 * -> ReLU -> SN conv3x3 -> channels -> tanh. Variables: `linear`, `block{i}/{cbn1,conv1,cbn2,conv2,shortcut}`,
 * `attention`, `bn`, `out` under ctx.path.
 */
export function G(ctx: Ctx, cfg: Config, z: tf.Tensor2D): tf.Tensor4D {
  const chunks = checkGeneratorConfig(cfg);
  if (z.rank !== 2 || z.shape[1] !== cfg.zDim) {
    throw new Error(`Expected z of shape [B, ${cfg.zDim}], but got [${z.shape}]`);
  }
  const widths = cfg.gMults.map((m) => cfg.gCh * m);
  const zs = tf.split(z, chunks, 1) as tf.Tensor2D[];                                   // each [B, chunk]
  const seed = linear(sub(ctx, 'linear'), zs[0], G_SEED_SIZE * G_SEED_SIZE * widths[0]);
  let h = tf.reshape(seed, [-1, G_SEED_SIZE, G_SEED_SIZE, widths[0]]) as tf.Tensor4D;  // [B, 4, 4, C0]
  for (let i = 0; i + 1 < widths.length; i++) {
    h = upBlock(sub(ctx, `block${i}`), h, zs[i + 1], widths[i + 1]);        // [B, 2H, 2W, C_{i+1}]
    if (h.shape[1] === cfg.gAttention) h = selfAttention(sub(ctx, 'attention'), h);
  }
  h = tf.relu(batchNorm(sub(ctx, 'bn'), h)) as tf.Tensor4D;
  return tf.tanh(conv2d(sub(ctx, 'out'), h, cfg.channels));                  // [B, R, R, channels]
}

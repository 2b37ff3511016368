/**
 * The trunks of BigBiGAN's encoder E (Donahue & Simonyan 2019, arXiv:1907.02544),
 * read bottom-up: widths, blocks, then the three trunks. A trunk maps an image
 * x [B, R, R, channels] to a feature map [B, h, w, D]; E (encoder.ts) pools it.
 * None of E's layers is spectrally normalised.
 *
 * - 'convnet': bench32's plain stack (shared/bench/torch_reference.py, class Encoder).
 * - 'resnet': pre-activation ResNet, "v2" (He et al. 2016, arXiv:1603.05027), laid out
 *   as the ResNet-50 v2 of Kolesnikov et al. 2019 (arXiv:1901.09005, google/revisiting-
 *   self-supervised models/resnet.py): stride in the 3x3 conv, projection shortcut taken
 *   from the pre-activated input, no BN after the stem, final BN-ReLU.
 * - 'revnet': reversible residual network (Gomez et al. 2017, arXiv:1707.04585) as the
 *   RevNet-50 of Kolesnikov et al. 2019 that BigBiGAN uses: every block is reversible,
 *   and stages are joined by a parameter-free 2x2 average pool + zero-padding that
 *   doubles the channels. With eCh 64, eWidth 4, eBlocks [3, 4, 6, 3] and bottlenecks
 *   this is RevNet-50 x4 (about 86M trunk parameters, as the paper reports).
 *
 * Reversible blocks are computed with ordinary autodiff: activations are stored as in
 * any network; the memory-saving reversible backward pass is not implemented.
 */
import * as tf from '@tensorflow/tfjs';
import { Config } from '../config';
import { avgPool2x, batchNorm, conv2d } from './layers';
import { Ctx, sub } from './params';

/** E is not spectrally normalised. */
const NO_SN = { sn: false };
/** Convolutions that feed a batch norm carry no bias (as in ResNet). */
const PLAIN = { sn: false, bias: false };

/** Channel widths of a trunk. */
export interface TrunkWidths {
  /** Channels after the stem. */
  stem: number;
  /** Output channels of each stage. */
  stages: number[];
  /** Bottleneck width of each stage (resnet: the 3x3 width; revnet: that of F on half the channels). */
  inner: number[];
}

/**
 * The widths of cfg's trunk, with C = eCh·eWidth (the paper's x1/x2/x4 multiply every width):
 * convnet: stem C, stages 2C, 4C, 8C, …; resnet/revnet basic: stages C·2^i;
 * bottleneck: stages 4C·2^i (ResNet-50 at C = 64: 256 … 2048), resnet 3x3 width C·2^i,
 * revnet F on half the channels (2C·2^i) with 3x3 width C·2^(i-1) (Kolesnikov et al.'s RevNet-50).
 */
export function trunkWidths(cfg: Config): TrunkWidths {
  const c = cfg.eCh * cfg.eWidth;
  const n = cfg.eBlocks.length;
  const pow = (i: number) => c * 2 ** i;
  switch (cfg.eArch) {
    case 'convnet':
      return { stem: c, stages: range(n).map((i) => pow(i + 1)), inner: range(n).map((i) => pow(i + 1)) };
    case 'resnet': {
      const stages = range(n).map((i) => (cfg.eBottleneck ? 4 : 1) * pow(i));
      return { stem: c, stages, inner: cfg.eBottleneck ? range(n).map(pow) : stages };
    }
    case 'revnet': {
      const stages = range(n).map((i) => (cfg.eBottleneck ? 4 : 1) * pow(i));
      return { stem: stages[0], stages, inner: stages.map((s) => (cfg.eBottleneck ? s / 8 : s / 2)) };
    }
    default:
      throw new Error(`Expected eArch 'convnet', 'resnet' or 'revnet', but got '${cfg.eArch}'`);
  }
}

/** Dimension of E's pooled feature (avepool): the last stage's width. */
export function eFeatureDim(cfg: Config): number {
  const { stages } = trunkWidths(cfg);
  return stages[stages.length - 1];
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function bnRelu(ctx: Ctx, x: tf.Tensor4D): tf.Tensor4D {
  return tf.relu(batchNorm(ctx, x)) as tf.Tensor4D;
}

/**
 * The stem: conv3x3 stride 1 below 128 pixels; at ≥ 128, ResNet-50's conv7x7 stride 2
 * followed by a 3x3 max pool stride 2 ([B, R, R, c] -> [B, R/4, R/4, out]).
 */
function stem(ctx: Ctx, x: tf.Tensor4D, out: number, large: boolean): tf.Tensor4D {
  if (!large) return conv2d(sub(ctx, 'stem'), x, out, PLAIN);                     // [B, R, R, out]
  const h = conv2d(sub(ctx, 'stem'), x, out, { ...PLAIN, kernel: 7, stride: 2 });  // [B, R/2, R/2, out]
  return tf.maxPool(h, 3, 2, 'same');                                               // [B, R/4, R/4, out]
}

/**
 * One pre-activation residual block (He et al. 2016, arXiv:1603.05027), [B, H, W, Cin] ->
 * [B, H/stride, W/stride, out]. a = ReLU(BN(x)); basic: conv3x3(stride) -> BN-ReLU -> conv3x3;
 * bottleneck: conv1x1 (inner) -> BN-ReLU -> conv3x3 (inner, stride) -> BN-ReLU -> conv1x1 (out).
 * The shortcut is x, or a 1x1 projection (with the stride) of a when the shape changes.
 */
export function preactBlock(ctx: Ctx, x: tf.Tensor4D,
                            opts: { out: number; inner: number; stride: number; bottleneck: boolean }): tf.Tensor4D {
  const { out, inner, stride } = opts;
  const a = bnRelu(sub(ctx, 'bn1'), x);
  const shortcut = stride > 1 || x.shape[3] !== out
    ? conv2d(sub(ctx, 'shortcut'), a, out, { ...PLAIN, kernel: 1, stride })
    : x;
  let h: tf.Tensor4D;
  if (opts.bottleneck) {
    h = conv2d(sub(ctx, 'conv1'), a, inner, { ...PLAIN, kernel: 1 });                          // [B, H, W, inner]
    h = conv2d(sub(ctx, 'conv2'), bnRelu(sub(ctx, 'bn2'), h), inner, { ...PLAIN, stride });    // [B, H/s, W/s, inner]
    h = conv2d(sub(ctx, 'conv3'), bnRelu(sub(ctx, 'bn3'), h), out, { ...PLAIN, kernel: 1 });   // [B, H/s, W/s, out]
  } else {
    h = conv2d(sub(ctx, 'conv1'), a, out, { ...PLAIN, stride });                               // [B, H/s, W/s, out]
    h = conv2d(sub(ctx, 'conv2'), bnRelu(sub(ctx, 'bn2'), h), out, PLAIN);
  }
  return tf.add(h, shortcut) as tf.Tensor4D;
}

/**
 * The residual function of a reversible coupling, on half the channels, shape-preserving
 * [B, H, W, c] -> [B, H, W, c] (no shortcut): pre-activation basic (two conv3x3 at width c)
 * or bottleneck (conv1x1 to c/4, conv3x3, conv1x1 back to c), as Kolesnikov et al.'s RevNet.
 */
export function revResidual(ctx: Ctx, x: tf.Tensor4D, bottleneck: boolean): tf.Tensor4D {
  const c = x.shape[3];
  if (bottleneck) {
    let h = conv2d(sub(ctx, 'conv1'), bnRelu(sub(ctx, 'bn1'), x), c / 4, { ...PLAIN, kernel: 1 });
    h = conv2d(sub(ctx, 'conv2'), bnRelu(sub(ctx, 'bn2'), h), c / 4, PLAIN);
    return conv2d(sub(ctx, 'conv3'), bnRelu(sub(ctx, 'bn3'), h), c, { ...PLAIN, kernel: 1 });
  }
  const h = conv2d(sub(ctx, 'conv1'), bnRelu(sub(ctx, 'bn1'), x), c, PLAIN);
  return conv2d(sub(ctx, 'conv2'), bnRelu(sub(ctx, 'bn2'), h), c, PLAIN);
}

/**
 * One additive coupling (Gomez et al. 2017, eq. 1 half-step): x = [x1, x2] (channel halves),
 * y1 = x1 + F(x2), output [x2, y1] (halves swapped). Two consecutive couplings with residual
 * functions F then G are exactly Gomez et al.'s reversible block: [x1, x2] -> [y1, y2] with
 * y1 = x1 + F(x2), y2 = x2 + G(y1). A stage of eBlocks[i] units applies eBlocks[i] couplings,
 * as Kolesnikov et al.'s RevNet-50 (whose 86M parameters at x4 this reproduces).
 */
export function revCoupling(ctx: Ctx, x: tf.Tensor4D, bottleneck: boolean): tf.Tensor4D {
  const [x1, x2] = tf.split(x, 2, 3) as [tf.Tensor4D, tf.Tensor4D];    // [B, H, W, C/2] each
  const y1 = tf.add(x1, revResidual(sub(ctx, 'F'), x2, bottleneck));
  return tf.concat([x2, y1], 3) as tf.Tensor4D;                        // [B, H, W, C]
}

/** The inverse of revCoupling with the same ctx: [x2, y1] -> [y1 - F(x2), x2]. */
export function revCouplingInverse(ctx: Ctx, y: tf.Tensor4D, bottleneck: boolean): tf.Tensor4D {
  const [x2, y1] = tf.split(y, 2, 3) as [tf.Tensor4D, tf.Tensor4D];
  const x1 = tf.sub(y1, revResidual(sub(ctx, 'F'), x2, bottleneck));
  return tf.concat([x1, x2], 3) as tf.Tensor4D;
}

/**
 * RevNet's parameter-free downsampling between stages (Kolesnikov et al.'s
 * pool_and_double_channels): 2x2 average pool ('same') and C/2 zero channels on either
 * side, [B, H, W, C] -> [B, H/2, W/2, 2C].
 */
export function poolAndDoubleChannels(x: tf.Tensor4D): tf.Tensor4D {
  const c = x.shape[3];
  return tf.pad(tf.avgPool(x, 2, 2, 'same'), [[0, 0], [0, 0], [0, 0], [c / 2, c / 2]]);
}

/**
 * bench32's encoder trunk: conv3x3 -> C, then per stage i (C·2^i -> C·2^(i+1)) eBlocks[i] units
 * of BN -> ReLU -> conv3x3 -> BN -> ReLU -> conv3x3 (the first changes the width), a 2x2
 * average pool; then ReLU. Convolutions have biases, as PyTorch's default in the reference.
 */
export function convnetTrunk(ctx: Ctx, cfg: Config, x: tf.Tensor4D): tf.Tensor4D {
  const { stem: c, stages } = trunkWidths(cfg);
  let h = conv2d(sub(ctx, 'stem'), x, c, NO_SN);                            // [B, R, R, C]
  stages.forEach((out, i) => {
    const stage = sub(ctx, `stage${i}`);
    for (let k = 0; k < cfg.eBlocks[i]; k++) {
      const unit = sub(stage, `unit${k}`);
      h = conv2d(sub(unit, 'conv1'), bnRelu(sub(unit, 'bn1'), h), out, NO_SN);
      h = conv2d(sub(unit, 'conv2'), bnRelu(sub(unit, 'bn2'), h), out, NO_SN);
    }
    h = avgPool2x(h);                                                       // [B, R/2^(i+1), ·, out]
  });
  return tf.relu(h) as tf.Tensor4D;
}

/** Pre-activation ResNet trunk: stem, stages of preactBlocks (the first of each stage after the first has stride 2), BN-ReLU. */
export function resnetTrunk(ctx: Ctx, cfg: Config, x: tf.Tensor4D): tf.Tensor4D {
  const { stem: c, stages, inner } = trunkWidths(cfg);
  let h = stem(ctx, x, c, cfg.eResolution >= 128);
  stages.forEach((out, i) => {
    for (let k = 0; k < cfg.eBlocks[i]; k++) {
      const stride = i > 0 && k === 0 ? 2 : 1;
      h = preactBlock(sub(ctx, `stage${i}/block${k}`), h, { out, inner: inner[i], stride, bottleneck: cfg.eBottleneck });
    }
  });
  return bnRelu(sub(ctx, 'bn_out'), h);                                     // [B, h, w, stages[-1]]
}

/**
 * RevNet trunk: stem straight to the first stage's width (a random projection, no BN, as
 * Kolesnikov et al.), stages of eBlocks[i] reversible couplings joined by
 * poolAndDoubleChannels, final BN-ReLU.
 */
export function revnetTrunk(ctx: Ctx, cfg: Config, x: tf.Tensor4D): tf.Tensor4D {
  const { stages } = trunkWidths(cfg);
  let h = stem(ctx, x, stages[0], cfg.eResolution >= 128);
  stages.forEach((_, i) => {
    if (i > 0) h = poolAndDoubleChannels(h);                                // [B, H/2, W/2, 2C]
    for (let k = 0; k < cfg.eBlocks[i]; k++) h = revCoupling(sub(ctx, `stage${i}/unit${k}`), h, cfg.eBottleneck);
  });
  return bnRelu(sub(ctx, 'bn_out'), h);                                     // [B, h, w, stages[-1]]
}

/** cfg.eArch's trunk, x [B, R, R, channels] -> [B, h, w, eFeatureDim(cfg)]. */
export function trunk(ctx: Ctx, cfg: Config, x: tf.Tensor4D): tf.Tensor4D {
  switch (cfg.eArch) {
    case 'convnet': return convnetTrunk(ctx, cfg, x);
    case 'resnet': return resnetTrunk(ctx, cfg, x);
    case 'revnet': return revnetTrunk(ctx, cfg, x);
    default: throw new Error(`Expected eArch 'convnet', 'resnet' or 'revnet', but got '${cfg.eArch}'`);
  }
}

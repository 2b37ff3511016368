/**
 * The layers BigBiGAN's networks are made of, as plain functions of a Ctx
 * (params + path + training flag) and a tensor. Shapes are NHWC: x [B, H, W, C].
 *
 * Spectral normalisation (Miyato et al. 2018, arXiv:1802.05957) divides a
 * weight by an estimate of its largest singular value, refined by one power
 * iteration per training forward pass with persistent vectors u, v (as
 * PyTorch's torch.nn.utils.spectral_norm, which the bench32 reference uses).
 */
import * as tf from '@tensorflow/tfjs';
import { Ctx, initWeight, seededNormal, sub } from './params';

export interface LayerOptions {
  /** Spectrally normalise the weight (default true). */
  sn?: boolean;
  /** Add a bias (default true). */
  bias?: boolean;
}

const SN_EPS = 1e-12;

/** x / (|x|₂ + ε), with |x|₂ = √Σx² (tf.norm takes |x| first: one more op, the same value). */
function l2normalize(x: tf.Tensor): tf.Tensor {
  return tf.div(x, tf.add(tf.sqrt(tf.sum(tf.square(x))), SN_EPS));
}

/**
 * W / σ(W) for a weight whose last axis is fan-out, seen as Wm [fanIn, fanOut].
 * Training: v = Wm u / |·|, u = Wmᵀ v / |·| (stored, no gradient), then σ = vᵀ Wm u.
 */
export function spectralNorm(ctx: Ctx, w: tf.Variable): tf.Tensor {
  const fanOut = w.shape[w.shape.length - 1];
  const fanIn = w.size / fanOut;
  const { params } = ctx;
  const u = params.stateVar(`${ctx.path}/sn_u`, () => l2normalize(seededNormal(params.rng, [fanOut, 1])));
  const v = params.stateVar(`${ctx.path}/sn_v`, () => l2normalize(seededNormal(params.rng, [fanIn, 1])));
  const wm = tf.reshape(w, [fanIn, fanOut]);
  if (ctx.training) {
    // The power iteration is not differentiated: its results reach σ only through the
    // variables u and v, which the tape does not link to what was assigned to them.
    tf.tidy(() => {
      const vNew = l2normalize(tf.matMul(wm, u));
      v.assign(vNew);
      // Wmᵀ v as (vᵀ Wm)ᵀ: wasm's matMul with transposeA is several times slower.
      u.assign(l2normalize(tf.reshape(tf.matMul(tf.reshape(vNew, [1, fanIn]), wm), [fanOut, 1])));
    });
  }
  // Snapshots: a later forward pass re-assigns u and v before this one's backward pass.
  const sigma = tf.sum(tf.mul(tf.clone(v), tf.matMul(wm, tf.clone(u))));  // vᵀ Wm u
  return tf.div(w, sigma);
}

/** The weight at ctx.path + '/w' (created with shape), spectrally normalised when sn. */
function weight(ctx: Ctx, shape: number[], sn: boolean): tf.Tensor {
  const w = ctx.params.weight(`${ctx.path}/w`, () => initWeight(ctx.params, shape));
  return sn ? spectralNorm(ctx, w) : w;
}

function addBias(ctx: Ctx, y: tf.Tensor, channels: number, bias: boolean): tf.Tensor {
  if (!bias) return y;
  return tf.add(y, ctx.params.weight(`${ctx.path}/b`, () => tf.zeros([channels])));
}

/** x [B, Din] -> [B, Dout]. */
export function linear(ctx: Ctx, x: tf.Tensor2D, outDim: number, opts: LayerOptions = {}): tf.Tensor2D {
  const w = weight(ctx, [x.shape[1], outDim], opts.sn ?? true);
  return addBias(ctx, tf.matMul(x, w as tf.Tensor2D), outDim, opts.bias ?? true) as tf.Tensor2D;
}

/** x [B, H, W, Cin] -> [B, H/stride, W/stride, Cout], 'same' padding. */
export function conv2d(ctx: Ctx, x: tf.Tensor4D, outChannels: number,
                       opts: LayerOptions & { kernel?: number; stride?: number } = {}): tf.Tensor4D {
  const k = opts.kernel ?? 3;
  const w = weight(ctx, [k, k, x.shape[3], outChannels], opts.sn ?? true) as tf.Tensor4D;
  return addBias(ctx, tf.conv2d(x, w, opts.stride ?? 1, 'same'), outChannels, opts.bias ?? true) as tf.Tensor4D;
}

const BN_EPS = 1e-5;
const BN_MOMENTUM = 0.1;

/**
 * Batch norm without affine parameters (Ioffe & Szegedy 2015): batch
 * statistics while training (running averages updated, PyTorch's momentum 0.1
 * and unbiased running variance), running averages otherwise.
 * Works on [B, C] and [B, H, W, C].
 */
export function normalize(ctx: Ctx, x: tf.Tensor): tf.Tensor {
  const c = x.shape[x.shape.length - 1];
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const mean = ctx.params.stateVar(`${ctx.path}/running_mean`, () => tf.zeros([c]));
  const variance = ctx.params.stateVar(`${ctx.path}/running_var`, () => tf.ones([c]));
  // (x - μ) / √(σ² + ε) written out: tfjs 4.22's batchNorm gradient tiles its
  // statistics to x's shape (slow on wasm) and fails without offset and scale.
  const standardize = (mu: tf.Tensor, var_: tf.Tensor) => tf.mul(tf.sub(x, mu), tf.rsqrt(tf.add(var_, BN_EPS)));
  if (!ctx.training && !ctx.batchStats) return standardize(mean, variance);
  const m = tf.moments(x, axes);
  if (!ctx.training) return standardize(m.mean, m.variance);
  tf.tidy(() => {
    const n = x.size / c;
    const unbiased = tf.mul(m.variance, n / Math.max(1, n - 1));
    mean.assign(tf.add(tf.mul(mean, 1 - BN_MOMENTUM), tf.mul(m.mean, BN_MOMENTUM)));
    variance.assign(tf.add(tf.mul(variance, 1 - BN_MOMENTUM), tf.mul(unbiased, BN_MOMENTUM)));
  });
  return standardize(m.mean, m.variance);
}

/** Batch norm with a learned per-channel gain (init 1) and bias (init 0). */
export function batchNorm(ctx: Ctx, x: tf.Tensor): tf.Tensor {
  const c = x.shape[x.shape.length - 1];
  const gamma = ctx.params.weight(`${ctx.path}/gamma`, () => tf.ones([c]));
  const beta = ctx.params.weight(`${ctx.path}/beta`, () => tf.zeros([c]));
  return tf.add(tf.mul(normalize(ctx, x), gamma), beta);
}

/**
 * BigGAN's conditional batch norm (Brock et al. 2019, arXiv:1809.11096): batch
 * norm without affine parameters whose gain 1 + linear(z) and bias linear(z)
 * come from a latent chunk z [B, Dz]; the linears are spectrally normalised.
 */
export function conditionalBatchNorm(ctx: Ctx, x: tf.Tensor4D, z: tf.Tensor2D): tf.Tensor4D {
  const c = x.shape[3];
  const gain = tf.reshape(linear(sub(ctx, 'gain'), z, c), [-1, 1, 1, c]);
  const bias = tf.reshape(linear(sub(ctx, 'bias'), z, c), [-1, 1, 1, c]);
  return tf.add(tf.mul(normalize(sub(ctx, 'bn'), x), tf.add(gain, 1)), bias) as tf.Tensor4D;
}

/**
 * SAGAN's non-local self-attention (Zhang et al. 2019, arXiv:1805.08318) as in
 * BigGAN: queries and keys of C/8 channels, values of C/2, keys and values
 * max-pooled 2x2; the output is added back scaled by a learned γ that starts at 0.
 */
export function selfAttention(ctx: Ctx, x: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  if (c % 8 !== 0 || h % 2 !== 0 || w % 2 !== 0) {
    throw new Error(`Expected self-attention (${ctx.path}) on a multiple of 8 channels and an even size, but got ${h}x${w}x${c}`);
  }
  const noBias = { bias: false };
  const q = tf.reshape(conv2d(sub(ctx, 'q'), x, c / 8, { ...noBias, kernel: 1 }), [b, h * w, c / 8]);
  const k = tf.reshape(tf.maxPool(conv2d(sub(ctx, 'k'), x, c / 8, { ...noBias, kernel: 1 }), 2, 2, 'valid'), [b, (h * w) / 4, c / 8]);
  const v = tf.reshape(tf.maxPool(conv2d(sub(ctx, 'v'), x, c / 2, { ...noBias, kernel: 1 }), 2, 2, 'valid'), [b, (h * w) / 4, c / 2]);
  const attention = tf.softmax(tf.matMul(q, k, false, true));  // [B, HW, HW/4]
  const y = tf.reshape(tf.matMul(attention, v), [b, h, w, c / 2]) as tf.Tensor4D;  // [B, H, W, C/2]
  const gamma = ctx.params.weight(`${ctx.path}/gamma`, () => tf.zeros([]));
  return tf.add(x, tf.mul(gamma, conv2d(sub(ctx, 'o'), y, c, { ...noBias, kernel: 1 }))) as tf.Tensor4D;
}

/** Nearest-neighbour 2x upsampling. */
export function upsample2x(x: tf.Tensor4D): tf.Tensor4D {
  return tf.image.resizeNearestNeighbor(x, [x.shape[1] * 2, x.shape[2] * 2]);
}

/** 2x2 average pooling. */
export function avgPool2x(x: tf.Tensor4D): tf.Tensor4D {
  return tf.avgPool(x, 2, 2, 'valid');
}

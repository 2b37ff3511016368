/**
 * The optimiser's elementwise updates as single wasm kernels.
 *
 * `FusedAdam`, one Adam update of one variable: a
 * JS loop over the wasm heap that reads θ, m, v and g once and writes θ', m',
 * v', instead of the 14 elementwise ops (and as many buffers) of train/optim.ts's
 * formula. A BigBiGAN step updates ~100 variables, so this removes ~1400
 * kernel calls per step. The arithmetic is the formula's, op by op in float32
 * (each result rounded with Math.fround, each constant a float32 as tfjs makes
 * it), so the result is bit for bit that of the ops:
 *
 *   m' = β1 m + (1-β1) g,  v' = β2 v + (1-β2) g²,  θ' = θ - ((m'/c1) / (√(v'/c2) + ε)) · lr
 *
 * with the bias corrections c1 = 1-β1^t, c2 = 1-β2^t given as attributes.
 *
 * `FusedEma`, one step of an exponential moving average, ema' = ema·d + x·(1-d)
 * (three ops in train/optim.ts's updateEma), bit for bit the same way.
 *
 * train/optim.ts uses a kernel when the current backend has it.
 */
import * as tf from '@tensorflow/tfjs';
import { KernelArgs, TensorInfo, WasmBackend } from './wasm_util';

export const FUSED_ADAM = 'FusedAdam';
export const FUSED_EMA = 'FusedEma';

/** The attributes of FusedAdam. */
export interface FusedAdamAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** 1 - β1^t */
  c1: number;
  /** 1 - β2^t */
  c2: number;
}

/**
 * Writes θ', m', v' from θ, m, v, g (all of one length) with the update of the
 * file's comment, rounding as train/optim.ts's ops do (float32 after every op).
 */
export function adamLoop(x: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array,
                         xOut: Float32Array, mOut: Float32Array, vOut: Float32Array, a: FusedAdamAttrs): void {
  const f = Math.fround;
  const beta1 = f(a.beta1), beta2 = f(a.beta2), b1 = f(1 - a.beta1), b2 = f(1 - a.beta2);
  const c1 = f(a.c1), c2 = f(a.c2), eps = f(a.epsilon), lr = f(a.lr);
  for (let i = 0; i < x.length; i++) {
    const gi = g[i];
    const mi = f(f(m[i] * beta1) + f(gi * b1));                 // add(mul(m, β1), mul(g, 1-β1))
    const vi = f(f(v[i] * beta2) + f(f(gi * gi) * b2));         // add(mul(v, β2), mul(square(g), 1-β2))
    const update = f(f(mi / c1) / f(f(Math.sqrt(f(vi / c2))) + eps));  // div(div(m, c1), add(sqrt(div(v, c2)), ε))
    mOut[i] = mi;
    vOut[i] = vi;
    xOut[i] = x[i] - f(update * lr);                             // sub(θ, mul(update, lr)), rounded on store
  }
}

function fusedAdam(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as WasmBackend;
  const { x, m, v, g } = args.inputs as Record<'x' | 'm' | 'v' | 'g', TensorInfo>;
  checkShapes(FUSED_ADAM, x.shape, [['x', x], ['m', m], ['v', v], ['g', g]]);
  const outs = [x, m, v].map((t) => backend.makeOutput(t.shape, 'float32'));
  // Views are taken after the last allocation: a heap growth would detach them.
  const [xv, mv, vv, gv, xo, mo, vo] = [x, m, v, g, ...outs].map((t) => backend.typedArrayFromHeap(t));
  adamLoop(xv, mv, vv, gv, xo, mo, vo, args.attrs as unknown as FusedAdamAttrs);
  return outs;
}

/** Throws unless every tensor is float32 of `shape`. */
function checkShapes(kernel: string, shape: number[], named: Array<[string, TensorInfo]>): void {
  for (const [name, t] of named) {
    if (t.dtype !== 'float32' || !tf.util.arraysEqual(t.shape, shape)) {
      throw new Error(`Expected ${name} of ${kernel} to be float32 of shape [${shape}], but got ${t.dtype} [${t.shape}]`);
    }
  }
}

/** ema' = ema·d + x·(1-d), rounded as add(mul(ema, d), mul(x, 1-d)). */
function fusedEma(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { ema, x } = args.inputs as Record<'ema' | 'x', TensorInfo>;
  checkShapes(FUSED_EMA, ema.shape, [['ema', ema], ['x', x]]);
  const { decay } = args.attrs as unknown as { decay: number };
  const out = backend.makeOutput(ema.shape, 'float32');
  const [e, xv, o] = [ema, x, out].map((t) => backend.typedArrayFromHeap(t));
  const f = Math.fround, d = f(decay), d1 = f(1 - decay);
  for (let i = 0; i < o.length; i++) o[i] = f(e[i] * d) + f(xv[i] * d1);
  return out;
}

/** Registers FusedAdam and FusedEma on the wasm backend (idempotent). */
export function registerWasmOptimKernels(): void {
  for (const [kernelName, kernelFunc] of [[FUSED_ADAM, fusedAdam], [FUSED_EMA, fusedEma]] as const) {
    if (tf.getKernel(kernelName, 'wasm') == null) {
      tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
    }
  }
}

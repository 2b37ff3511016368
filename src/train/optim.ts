/**
 * Adam (Kingma & Ba 2015, arXiv:1412.6980) over named variables, with its
 * state (step count, first and second moments) kept under the same names so
 * that a checkpoint restores it exactly; and the exponential moving average
 * of G's variables used for sampling and evaluation (BigGAN's G_ema).
 */
import * as tf from '@tensorflow/tfjs';
import { FUSED_ADAM, FUSED_EMA, FusedAdamAttrs } from '../backend/kernels/wasm_optim';

export class Adam {
  /** Updates done so far (t in the paper). */
  t = 0;
  readonly m = new Map<string, tf.Variable>();
  readonly v = new Map<string, tf.Variable>();

  constructor(public lr: number, readonly beta1: number, readonly beta2: number, readonly epsilon = 1e-8) {}

  /**
   * Use the backend's one-kernel update (kernels/wasm_optim.ts) where it has one;
   * false forces the elementwise ops (for comparisons).
   */
  fused = true;

  /**
   * One update of every variable that has a gradient:
   * m ← β1 m + (1-β1) g,  v ← β2 v + (1-β2) g²,  θ ← θ - lr · m̂ / (√v̂ + ε)
   * with m̂ = m / (1-β1^t), v̂ = v / (1-β2^t).
   */
  step(variables: Map<string, tf.Variable>, grads: tf.NamedTensorMap): void {
    this.t++;
    const c1 = 1 - this.beta1 ** this.t, c2 = 1 - this.beta2 ** this.t;
    const fused = this.fused && tf.getKernel(FUSED_ADAM, tf.getBackend()) != null;
    const attrs: FusedAdamAttrs = { lr: this.lr, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, c1, c2 };
    tf.tidy(() => {
      for (const [name, variable] of variables) {
        const g = grads[variable.name];
        if (g === undefined) continue;
        const m = this.slot(this.m, name, variable), v = this.slot(this.v, name, variable);
        if (fused) {
          const [x2, m2, v2] = tf.engine().runKernel(FUSED_ADAM, { x: variable, m, v, g },
                                                     attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
          m.assign(m2);
          v.assign(v2);
          variable.assign(x2);
          continue;
        }
        m.assign(tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1)));
        v.assign(tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2)));
        const update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), this.epsilon));
        variable.assign(tf.sub(variable, tf.mul(update, this.lr)));
      }
    });
  }

  /** The moments by '<name>/m' and '<name>/v', for checkpoints. */
  slots(): Array<[string, tf.Variable]> {
    return [...[...this.m].map(([k, x]) => [`${k}/m`, x] as [string, tf.Variable]),
            ...[...this.v].map(([k, x]) => [`${k}/v`, x] as [string, tf.Variable])];
  }

  /** Restores moments saved by slots() (values by the same keys) and the step count. */
  restore(t: number, values: Map<string, tf.Tensor>, variables: Map<string, tf.Variable>): void {
    this.t = t;
    for (const [name, variable] of variables) {
      for (const [key, map] of [[`${name}/m`, this.m], [`${name}/v`, this.v]] as const) {
        const value = values.get(key);
        if (value !== undefined) this.slot(map, name, variable).assign(value);
      }
    }
  }

  dispose(): void {
    for (const [, x] of this.slots()) x.dispose();
    this.m.clear();
    this.v.clear();
  }

  private slot(map: Map<string, tf.Variable>, name: string, like: tf.Variable): tf.Variable {
    let s = map.get(name);
    if (s === undefined) {
      s = tf.variable(tf.zerosLike(like), false);
      map.set(name, s);
    }
    return s;
  }
}

/**
 * ema ← decay · ema + (1 - decay) · x for every pair, or ema ← x when copy
 * (before the EMA starts). BigGAN averages buffers (BN statistics, SN vectors) too.
 * `fused: false` forces the elementwise ops where the backend has a one-kernel update.
 */
export function updateEma(pairs: Array<[tf.Variable, tf.Variable]>, decay: number, copy: boolean,
                          opts: { fused?: boolean } = {}): void {
  const fused = (opts.fused ?? true) && tf.getKernel(FUSED_EMA, tf.getBackend()) != null;
  tf.tidy(() => {
    for (const [ema, x] of pairs) {
      if (copy) ema.assign(x);
      else if (fused) ema.assign(tf.engine().runKernel(FUSED_EMA, { ema, x }, { decay }) as tf.Tensor);
      else ema.assign(tf.add(tf.mul(ema, decay), tf.mul(x, 1 - decay)));
    }
  });
}

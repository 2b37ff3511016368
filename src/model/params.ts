/**
 * Where a network keeps its variables: trainable weights and non-trainable
 * state (batch-norm running statistics, spectral-norm power-iteration
 * vectors), each under a stable path name such as `G/block1/conv1/w`.
 *
 * Layers create their variables on first use (the forward function is the
 * single description of the architecture, as in Sonnet/Haiku), so a network
 * is built by calling it once on a batch. Initial values are drawn from a
 * seeded Rng, so the same seed builds the same network.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng';

/** How fresh weights are drawn. */
export type Init = 'ortho' | 'he' | 'normal';

/** Weight initialisation per network; 'normal' (N(0, 0.02)) is cheap, for building huge presets just to count them. */
export interface InitOptions {
  init: Init;
}

let nextStoreId = 0;

export class Params {
  /** Trainable variables by path. */
  readonly weights = new Map<string, tf.Variable>();
  /** Non-trainable variables by path (running statistics, power-iteration vectors). */
  readonly state = new Map<string, tf.Variable>();
  /** Prefix that keeps tf's global variable names unique when several stores coexist. */
  private readonly uid = `p${nextStoreId++}`;

  constructor(readonly name: string, readonly rng: Rng, readonly init: Init = 'ortho') {}

  /** The trainable variable at `path`, created by `make()` on first use. */
  weight(path: string, make: () => tf.Tensor): tf.Variable {
    return this.getOrCreate(this.weights, path, make, true);
  }

  /** The non-trainable variable at `path`, created by `make()` on first use. */
  stateVar(path: string, make: () => tf.Tensor): tf.Variable {
    return this.getOrCreate(this.state, path, make, false);
  }

  /** Number of trainable scalars. */
  countWeights(): number {
    let n = 0;
    for (const v of this.weights.values()) n += v.size;
    return n;
  }

  /** All variables, trainable first, by path (for checkpoints and EMA). */
  all(): Array<[string, tf.Variable]> {
    return [...this.weights.entries(), ...this.state.entries()];
  }

  dispose(): void {
    for (const [, v] of this.all()) v.dispose();
    this.weights.clear();
    this.state.clear();
  }

  private getOrCreate(map: Map<string, tf.Variable>, path: string, make: () => tf.Tensor, trainable: boolean): tf.Variable {
    let v = map.get(path);
    if (v === undefined) {
      const initial = tf.tidy(make);
      v = tf.variable(initial, trainable, `${this.uid}/${this.name}/${path}`);
      initial.dispose();
      map.set(path, v);
    }
    return v;
  }
}

/** Where a layer is: its store, its path, and whether the network trains (batch statistics, power iteration). */
export interface Ctx {
  params: Params;
  path: string;
  training: boolean;
  /**
   * Outside training, batch norms use the batch's own statistics (and update
   * nothing) instead of their running averages. Sampling G_ema needs it: its
   * weights are an average whose activation statistics no running average tracks.
   */
  batchStats?: boolean;
}

/** The context of a sub-layer. */
export function sub(ctx: Ctx, name: string): Ctx {
  return { ...ctx, path: ctx.path ? `${ctx.path}/${name}` : name };
}

/** A standard normal tensor drawn with a seed from `rng`. */
export function seededNormal(rng: Rng, shape: number[], std = 1): tf.Tensor {
  return tf.randomNormal(shape, 0, std, 'float32', rng.seed());
}

/**
 * A fresh weight of `shape` whose last axis is fan-out and the rest fan-in.
 * 'ortho': orthogonal (Saxe et al. 2014, arXiv:1312.6120; BigGAN's G and D),
 * 'he': N(0, 2/fan_in) (He et al. 2015), 'normal': N(0, 0.02).
 */
export function initWeight(params: Params, shape: number[]): tf.Tensor {
  const fanOut = shape[shape.length - 1];
  const fanIn = shape.reduce((a, b) => a * b, 1) / fanOut;
  switch (params.init) {
    case 'he': return seededNormal(params.rng, shape, Math.sqrt(2 / fanIn));
    case 'normal': return seededNormal(params.rng, shape, 0.02);
    case 'ortho': return tf.reshape(orthogonal(params.rng, fanIn, fanOut), shape);
  }
}

/**
 * A [rows, cols] matrix with orthonormal columns (rows ≥ cols) or rows (rows < cols):
 * a Gaussian matrix orthonormalised by modified Gram-Schmidt (twice, for float
 * accuracy), which gives the same uniform (Haar) distribution as the sign-fixed
 * QR of Mezzadri 2007 (arXiv:math-ph/0609050). Plain Float64 JS: milliseconds for
 * our layer sizes on any backend, where tf.linalg.qr takes seconds per weight.
 */
export function orthogonal(rng: Rng, rows: number, cols: number): tf.Tensor2D {
  const n = Math.max(rows, cols), k = Math.min(rows, cols);
  const vectors = Array.from({ length: k }, () => gaussianVector(rng, n));  // k vectors of length n
  for (let i = 0; i < k; i++) {
    const v = vectors[i];
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j < i; j++) {
        const u = vectors[j];
        let dot = 0;
        for (let t = 0; t < n; t++) dot += u[t] * v[t];
        for (let t = 0; t < n; t++) v[t] -= dot * u[t];
      }
    }
    let norm = 0;
    for (let t = 0; t < n; t++) norm += v[t] * v[t];
    norm = Math.sqrt(norm);
    for (let t = 0; t < n; t++) v[t] /= norm;
  }
  const out = new Float32Array(rows * cols);  // vectors are columns when tall, rows when wide
  for (let i = 0; i < k; i++) {
    for (let t = 0; t < n; t++) out[rows >= cols ? t * cols + i : i * cols + t] = vectors[i][t];
  }
  return tf.tensor2d(out, [rows, cols]);
}

/** n standard normal draws (Box-Muller) from rng. */
function gaussianVector(rng: Rng, n: number): Float64Array {
  const v = new Float64Array(n);
  for (let t = 0; t < n; t += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rng.next())), theta = 2 * Math.PI * rng.next();
    v[t] = r * Math.cos(theta);
    if (t + 1 < n) v[t + 1] = r * Math.sin(theta);
  }
  return v;
}

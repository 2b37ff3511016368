/**
 * Walks in latent space and look-ups in feature space for notebooks:
 * interpolations between pairs of z (linear, or spherical as in White 2016,
 * "Sampling Generative Networks", arXiv:1609.04468, which keeps Gaussian
 * samples at a typical norm), and cosine nearest neighbours of feature
 * vectors (e.g. E's z_mean or avepool of queries against a training set).
 */
import * as tf from '@tensorflow/tfjs';
import type { Features } from '../eval/features';

/** Points between rows of zA and zB, each row walked in `steps` points (ends included): [n·steps, d], row by row. */
export function interpolateLatents(zA: tf.Tensor2D, zB: tf.Tensor2D, steps: number, mode: 'lerp' | 'slerp' = 'slerp'): tf.Tensor2D {
  if (zA.shape.join() !== zB.shape.join()) {
    throw new Error(`Expected two latent batches of one shape, but got [${zA.shape}] and [${zB.shape}]`);
  }
  if (!Number.isInteger(steps) || steps < 2) throw new Error(`Expected at least 2 interpolation steps, but got ${steps}`);
  return tf.tidy(() => {
    const [n, d] = zA.shape;
    const t = tf.reshape(tf.linspace(0, 1, steps), [1, steps, 1]);               // [1, S, 1]
    const a = tf.reshape(zA, [n, 1, d]), b = tf.reshape(zB, [n, 1, d]);          // [n, 1, d]
    if (mode === 'lerp') return tf.reshape(tf.add(a, tf.mul(t, tf.sub(b, a))), [n * steps, d]);
    const unit = (x: tf.Tensor) => tf.div(x, tf.maximum(tf.norm(x, 'euclidean', -1, true), 1e-12));
    const cos = tf.clipByValue(tf.sum(tf.mul(unit(a), unit(b)), -1, true), -1, 1);  // [n, 1, 1]
    const omega = tf.acos(cos);
    const sinO = tf.sin(omega);
    const small = tf.less(sinO, 1e-6);                                           // (anti)parallel: fall back to lerp
    const safe = tf.where(small, tf.onesLike(sinO), sinO);
    const wa = tf.where(small, tf.sub(1, t), tf.div(tf.sin(tf.mul(tf.sub(1, t), omega)), safe));
    const wb = tf.where(small, t, tf.div(tf.sin(tf.mul(t, omega)), safe));
    return tf.reshape(tf.add(tf.mul(wa, a), tf.mul(wb, b)), [n * steps, d]);
  });
}

/** The k training rows most cosine-similar to each query row, most similar first (read asynchronously). */
export async function cosineNeighbours(train: Features, query: Features,
                                       k: number): Promise<{ indices: Int32Array[]; similarities: Float32Array[] }> {
  if (train.d !== query.d) throw new Error(`Expected ${train.d}-dimensional queries, but got ${query.d}`);
  if (!Number.isInteger(k) || k < 1 || k > train.n) throw new Error(`Expected k in [1, ${train.n}], but got ${k}`);
  const { values, indices } = tf.tidy(() => {
    const norm = (x: tf.Tensor2D) => tf.div(x, tf.maximum(tf.norm(x, 'euclidean', 1, true), 1e-12));
    const sim = tf.matMul(norm(tf.tensor2d(query.data, [query.n, query.d])),
                          tf.transpose(norm(tf.tensor2d(train.data, [train.n, train.d]))));
    return tf.topk(sim, k);
  });
  let v: Float32Array, ix: Int32Array;
  try {
    [v, ix] = await Promise.all([values.data() as Promise<Float32Array>, indices.data() as Promise<Int32Array>]);
  } finally {
    tf.dispose([values, indices]);
  }
  return {
    indices: Array.from({ length: query.n }, (_, i) => ix.slice(i * k, (i + 1) * k)),
    similarities: Array.from({ length: query.n }, (_, i) => v.slice(i * k, (i + 1) * k)),
  };
}

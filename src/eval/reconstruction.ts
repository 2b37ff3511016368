/**
 * Reconstructions x → G(E(x)) (Donahue & Simonyan 2019, arXiv:1907.02544,
 * Sec. 4 and Fig. 2): BigBiGAN's reconstructions keep high-level semantics
 * (the category), not pixels. Measured here as pixel MSE and as class
 * consistency: the share of inputs whose reconstruction the feature network
 * puts in the class it puts the input in (and, beside it, the share put in
 * the input's true class, with the network's own accuracy on the inputs as
 * the ceiling). Both z_mean and z_sample are decoded.
 */
import * as tf from '@tensorflow/tfjs';
import { batches, Split, takeFirst } from '../data';
import { encode, generate, Models, realForD } from '../model/bigbigan';
import { writeImageGrid } from '../util/png';
import { Progress } from '../util/progress';
import { Rng } from '../util/rng';
import { renderOptionsFor } from './features';
import { FeatureNet } from './feature_net';

/** G(E(x)) from z_mean and from z_sample, at G's resolution, and x as D sees it. */
export function reconstruct(models: Models, x: tf.Tensor4D, opts: { ema?: boolean; rng?: Rng } = {}):
    { x: tf.Tensor4D; fromMean: tf.Tensor4D; fromSample: tf.Tensor4D } {
  return tf.tidy(() => {
    const e = encode(models, x, opts.rng ?? new Rng(0), false);
    return {
      x: realForD(models.cfg, x),
      fromMean: generate(models, e.z_mean, { ema: opts.ema }),
      fromSample: generate(models, e.z_sample, { ema: opts.ema }),
    };
  });
}

/** Writes rows of 8: x, then G(E(x)) from z_mean, then from z_sample, repeated for each 8 inputs. */
export async function writeReconstructionGrid(file: string, models: Models, x: tf.Tensor4D, opts: { ema?: boolean } = {}): Promise<void> {
  const r = reconstruct(models, x, opts);
  try {
    await writeReconstructionRows(file, r);
  } finally {
    tf.dispose([r.x, r.fromMean, r.fromSample]);
  }
}

/**
 * Writes rows of 8: x, then fromMean, then fromSample (all [N, R, R, C] in
 * [-1, 1]), repeated for each 8 inputs; the caller keeps and frees its tensors.
 * Also the grid of the pretrained BigBiGAN (src/pretrained/).
 */
export async function writeReconstructionRows(file: string,
                                              r: { x: tf.Tensor4D; fromMean: tf.Tensor4D; fromSample: tf.Tensor4D }): Promise<void> {
  const x = r.x;
  const grid = tf.tidy(() => {
    const rows: tf.Tensor4D[] = [];
    for (let i = 0; i < x.shape[0]; i += 8) {
      const n = Math.min(8, x.shape[0] - i);
      rows.push(...[r.x, r.fromMean, r.fromSample].map((t) => tf.slice(t, i, n)));
    }
    return tf.concat(rows);
  });
  try {
    await writeImageGrid(file, grid, 8);  // outside the tidy: it reads asynchronously
  } finally {
    grid.dispose();
  }
}

export interface ReconstructionReport {
  n: number;
  ema: boolean;
  /** Mean squared pixel error in [-1, 1] units. */
  mse_mean: number;
  mse_sample: number;
  /** Share of inputs whose reconstruction gets the class the network gives the input. */
  class_consistency_mean: number;
  class_consistency_sample: number;
  /** Share of reconstructions put in the input's true class. */
  label_accuracy_mean: number;
  label_accuracy_sample: number;
  /** The network's accuracy on the inputs themselves (the ceiling of label_accuracy). */
  input_accuracy: number;
}

/** Reconstruction figures on the first `limit` images of `split` (default 1000). */
export async function evaluateReconstruction(
  models: Models, net: FeatureNet, split: Split,
  opts: { limit?: number; batchSize?: number; ema?: boolean; progress?: boolean;
          /** Replaces x → G(E(x)) (tests: the identity must score 100 %). */
          reconstruct?: (x: tf.Tensor4D) => ReturnType<typeof reconstruct> } = {},
): Promise<ReconstructionReport> {
  if (models.E === null) throw new Error('Expected a model with an encoder for reconstructions, but this one has none (noEncoder)');
  const part = takeFirst(split, Math.min(opts.limit ?? 1000, split.count));
  const batchSize = opts.batchSize ?? 100;
  const ema = opts.ema ?? true;
  const rng = new Rng(0);
  const sums = { mseMean: 0, mseSample: 0, agreeMean: 0, agreeSample: 0, labelMean: 0, labelSample: 0, input: 0 };
  const bar = opts.progress ? new Progress(Math.ceil(part.count / batchSize), 'reconstructions') : null;
  let done = 0;
  for (const { x, y } of batches(part, { ...renderOptionsFor(models.cfg, part), batchSize, shuffle: false, dropLast: false })) {
    const figures = tf.tidy(() => {
      const r = opts.reconstruct ? opts.reconstruct(x) : reconstruct(models, x, { ema, rng });
      const cls = (t: tf.Tensor4D) => { const o = net.apply(t); tf.dispose(o.features); return tf.argMax(o.probs, 1); };
      const sse = (t: tf.Tensor4D) => tf.sum(tf.mean(tf.squaredDifference(t, r.x), [1, 2, 3]));
      const labels = tf.tensor1d(y, 'int32');
      const [cx, cm, cs] = [r.x, r.fromMean, r.fromSample].map(cls);
      const hits = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.cast(tf.equal(a, b), 'float32'));
      return tf.stack([sse(r.fromMean), sse(r.fromSample), hits(cm, cx), hits(cs, cx),
                       hits(cm, labels), hits(cs, labels), hits(cx, labels)]);
    });
    let values: Float32Array;
    try {
      values = await figures.data() as Float32Array;
    } finally {
      tf.dispose([figures, x]);
    }
    const [a, b, c, d, e, f, g] = values;
    sums.mseMean += a; sums.mseSample += b; sums.agreeMean += c; sums.agreeSample += d;
    sums.labelMean += e; sums.labelSample += f; sums.input += g;
    bar?.update(++done);
  }
  bar?.finish();
  const n = part.count;
  return {
    n, ema,
    mse_mean: sums.mseMean / n, mse_sample: sums.mseSample / n,
    class_consistency_mean: sums.agreeMean / n, class_consistency_sample: sums.agreeSample / n,
    label_accuracy_mean: sums.labelMean / n, label_accuracy_sample: sums.labelSample / n,
    input_accuracy: sums.input / n,
  };
}

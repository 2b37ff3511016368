/**
 * Generation quality of a BigBiGAN's G: FID (Heusel et al. 2017,
 * arXiv:1706.08500) and IS (Salimans et al. 2016, arXiv:1606.03498) from a
 * feature network (feature_net.ts) — the dataset's own classifier at small
 * scale, Inception-v3 where the user has it — for G_ema or the raw G.
 *
 * The real side of FID is the test split's features, computed once per
 * (feature net, split, count) and kept in memory by the caller (`realStats`).
 * Samples come from `generate` (batch statistics, see model/bigbigan.ts) with
 * a seeded z, so the same checkpoint gives the same figures.
 */
import * as tf from '@tensorflow/tfjs';
import { batches, Split, takeFirst } from '../data';
import { generate, Models, sampleLatent } from '../model/bigbigan';
import { Progress } from '../util/progress';
import { Rng } from '../util/rng';
import { FeatureNet, resizeModeFor } from './feature_net';
import { featureStats, frechetDistance, GaussianStats, inceptionScore } from './fid';

/** Features [n, d] and class probabilities [n, k] of a set of images, in plain memory. */
export interface NetOutputs {
  n: number;
  features: Float32Array;
  d: number;
  probs: Float32Array;
  k: number;
}

/** Runs `net` over the batches `next(i)` yields (each disposed here) and gathers its outputs (read asynchronously). */
async function collect(net: FeatureNet, count: number, batchSize: number, next: (start: number, size: number) => tf.Tensor4D,
                       label: string, progress: boolean): Promise<NetOutputs> {
  const feats: Float32Array[] = [], probs: Float32Array[] = [];
  const bar = progress ? new Progress(Math.ceil(count / batchSize), label) : null;
  for (let start = 0, b = 1; start < count; start += batchSize, b++) {
    const x = next(start, Math.min(batchSize, count - start));
    const out = net.apply(x);
    try {
      const [f, p] = await Promise.all([out.features.data(), out.probs.data()]);
      feats.push(f as Float32Array);
      probs.push(p as Float32Array);
    } finally {
      tf.dispose([x, out.features, out.probs]);
    }
    bar?.update(b);
  }
  bar?.finish();
  const join = (parts: Float32Array[]) => {
    const all = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of parts) { all.set(p, o); o += p.length; }
    return all;
  };
  const f = join(feats), p = join(probs);
  return { n: count, features: f, d: count ? f.length / count : 0, probs: p, k: count ? p.length / count : 0 };
}

/** The feature net's outputs on the first `limit` real images of `split`, rendered at `resolution` as training renders them. */
export async function realOutputs(net: FeatureNet, split: Split, resolution: number,
                                  opts: { limit?: number; batchSize?: number; progress?: boolean } = {}): Promise<NetOutputs> {
  const part = takeFirst(split, Math.min(opts.limit ?? split.count, split.count));
  const batchSize = opts.batchSize ?? 100;
  const it = batches(part, { resolution, resize: resizeModeFor(part.height, resolution), batchSize, shuffle: false, dropLast: false });
  return collect(net, part.count, batchSize, () => it.next().value!.x, `features ${split.name}`, opts.progress ?? false);
}

/** FID's real side: Gaussian statistics of the real images' features. */
export async function realStats(net: FeatureNet, split: Split, resolution: number,
                                opts: { limit?: number; batchSize?: number; progress?: boolean } = {}): Promise<GaussianStats> {
  const out = await realOutputs(net, split, resolution, opts);
  return featureStats(out.features, out.n, out.d);
}

/** Options of evaluateGeneration. */
export interface GenerationOptions {
  /** Generated images; default 2000 (cheap; the paper's 50k is `samples: 50000`). */
  samples?: number;
  /** Default 100 (≥ 16: G samples with batch statistics). */
  batchSize?: number;
  /** G_ema (default) or the raw G. */
  ema?: boolean;
  /** Seed of the sampled z; default 0. */
  seed?: number;
  /** IS splits; default 10. */
  splits?: number;
  progress?: boolean;
}

/** FID and IS of one G; `ema` says which G. */
export interface GenerationReport {
  fid: number;
  is_mean: number;
  is_std: number;
  samples: number;
  ema: boolean;
  feature_net: string;
}

/** The feature net's outputs on `samples` images of G_ema (or raw G) for seeded z. */
export async function generatedOutputs(models: Models, net: FeatureNet, opts: GenerationOptions = {}): Promise<NetOutputs> {
  const samples = opts.samples ?? 2000, batchSize = opts.batchSize ?? 100, ema = opts.ema ?? true;
  if (!Number.isInteger(samples) || samples < 2) throw new Error(`Expected samples to be a whole number ≥ 2, but got ${samples}`);
  if (!Number.isInteger(batchSize) || batchSize < 2) throw new Error(`Expected batchSize to be a whole number ≥ 2, but got ${batchSize}`);
  const rng = new Rng(opts.seed ?? 0);
  const next = (_start: number, size: number) => tf.tidy(() => {
    // A last batch smaller than 2 would normalise with one example: draw a full batch and keep `size`.
    const z = sampleLatent(models.cfg, rng, Math.max(size, Math.min(batchSize, 16)));
    return tf.slice(generate(models, z, { ema }), 0, size);
  });
  return collect(net, samples, batchSize, next, ema ? 'samples G_ema' : 'samples G', opts.progress ?? false);
}

/** FID against `real` and IS of `samples` generated images. */
export async function evaluateGeneration(models: Models, net: FeatureNet, real: GaussianStats,
                                         opts: GenerationOptions = {}): Promise<GenerationReport> {
  const out = await generatedOutputs(models, net, opts);
  const fid = frechetDistance(featureStats(out.features, out.n, out.d), real);
  const is = inceptionScore(out.probs, out.n, out.k, opts.splits ?? 10);
  return { fid, is_mean: is.mean, is_std: is.std, samples: out.n, ema: opts.ema ?? true, feature_net: net.name };
}

/**
 * Representation evaluation on frozen features (BigBiGAN, Donahue & Simonyan
 * 2019, arXiv:1907.02544, Sec. 4 and Table 2: a linear classifier on E's
 * frozen features, top-1 / top-5 on a held-out part of the training set and
 * on the test set), plus k-nearest-neighbour accuracy (BiGAN, Donahue et al.
 * 2017, reports 1-NN on MNIST; ../shared/reference/BIGBIGAN.md), each next to
 * the baselines it is only meaningful beside: the same features of an
 * untrained E of the same architecture, and the raw pixels.
 *
 * Features come from E in inference mode (running batch-norm statistics). The
 * untrained E's statistics were never trained, so they are first estimated
 * on BN_ESTIMATE_BATCHES training batches (features.ts randomInitModels):
 * otherwise the baseline would be another function than the E that training
 * starts from (on the MNIST sweep's Base that moved the random-init probe
 * top-1 by 5 points, 47.9 % -> 43.0 %).
 */
import * as tf from '@tensorflow/tfjs';
import { Dataset, Split, takeFirst } from '../data';
import { disposeModels, Models } from '../model/bigbigan';
import { Adam } from '../train/optim';
import { Progress } from '../util/progress';
import { Rng } from '../util/rng';
import {
  BN_ESTIMATE_BATCHES, checkpointKey, encoderFeatures, FeatureKind, Features, ModelKey, randomInitKey, randomInitModels,
} from './features';

export interface ProbeOptions {
  numClasses: number;
  /** Passes over the training features; default max(10, enough for 1000 Adam steps). */
  epochs?: number;
  /** Default 256. */
  batchSize?: number;
  /** Adam's learning rate (β1 0.9, β2 0.999); default 1e-3. */
  lr?: number;
  /** L2 penalty (weightDecay / 2)·‖W‖² added to the mean cross-entropy (bias not decayed); default 1e-4. */
  weightDecay?: number;
  /** Seeds the mini-batch order (weights start at zero); default 0. */
  seed?: number;
}

export interface LabelledFeatures {
  features: Features;
  labels: Int32Array;
}

export interface ProbeResult {
  /** Top-1 / top-5 accuracy in [0, 1] per evaluation set (NaN for an empty set). */
  top1: Record<string, number>;
  /** Top-5 (top-min(5, numClasses): 1 when there are ≤ 5 classes). */
  top5: Record<string, number>;
  /** Top-1 on the training features themselves. */
  trainTop1: number;
  /** The predicted class of every example per evaluation set (a confusion matrix's input). */
  predictions: Record<string, Int32Array>;
  epochs: number;
}

function checkLabels(labels: Int32Array, f: Features, numClasses: number, what: string): void {
  if (labels.length !== f.n) throw new Error(`Expected ${f.n} labels for the ${what} features, but got ${labels.length}`);
  const i = labels.findIndex((l) => !(l >= 0 && l < numClasses));
  if (i >= 0) throw new Error(`Expected ${what} labels in [0, ${numClasses}), but got ${labels[i]} at index ${i}`);
}

/** Per-dimension mean and 1/std of the training features (std 0 -> scale 1). */
function standardizer(f: Features): { mean: Float64Array; scale: Float64Array } {
  const mean = new Float64Array(f.d), sq = new Float64Array(f.d);
  for (let i = 0; i < f.n; i++) for (let j = 0; j < f.d; j++) mean[j] += f.data[i * f.d + j];
  for (let j = 0; j < f.d; j++) mean[j] /= Math.max(1, f.n);
  for (let i = 0; i < f.n; i++) for (let j = 0; j < f.d; j++) sq[j] += (f.data[i * f.d + j] - mean[j]) ** 2;
  const scale = sq.map((s) => { const std = Math.sqrt(s / Math.max(1, f.n)); return std > 1e-6 ? 1 / std : 1; });
  return { mean, scale };
}

function standardize(f: Features, s: { mean: Float64Array; scale: Float64Array }): Features {
  const out = new Float32Array(f.n * f.d);
  for (let i = 0; i < f.n; i++) for (let j = 0; j < f.d; j++) out[i * f.d + j] = (f.data[i * f.d + j] - s.mean[j]) * s.scale[j];
  return { data: out, n: f.n, d: f.d };
}

/**
 * The gradients of the probe's loss, mean softmax cross-entropy of x·w + b
 * against one-hot y plus (wd / 2)·‖w‖², in closed form: with g = (softmax(x·w + b) - y) / B,
 * dw = xᵀ·g + wd·w and db = Σ_rows g (cheaper on wasm than tf.variableGrads: no tape;
 * xᵀ is an explicit transpose, as wasm's transposed matMul is slow). Exported for its test.
 */
export function probeGradients(x: tf.Tensor2D, y: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D,
                               wd: number): { dw: tf.Tensor2D; db: tf.Tensor1D } {
  return tf.tidy(() => {
    const g = tf.div(tf.sub(tf.softmax(tf.add(tf.matMul(x, w), b)), y), x.shape[0]);   // [B, C]
    return { dw: tf.add(tf.matMul(tf.transpose(x), g), tf.mul(w, wd)), db: tf.sum(g, 0) };
  });
}

/** Rows `rows` of f (host copy; tf.gather on wasm is far slower) and their one-hot labels, as tensors. */
function hostBatch(f: Features, labels: Int32Array, rows: Int32Array, C: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const x = new Float32Array(rows.length * f.d), y = new Float32Array(rows.length * C);
  rows.forEach((i, r) => { x.set(f.data.subarray(i * f.d, (i + 1) * f.d), r * f.d); y[r * C + labels[i]] = 1; });
  return { x: tf.tensor2d(x, [rows.length, f.d]), y: tf.tensor2d(y, [rows.length, C]) };
}

/** Fraction of rows whose label is among the first k of `ranked` (row-major [n, width]). */
function topKHits(ranked: Int32Array, width: number, labels: Int32Array, k: number): number {
  if (labels.length === 0) return NaN;
  let hits = 0;
  for (let i = 0; i < labels.length; i++) {
    for (let r = 0; r < Math.min(k, width); r++) if (ranked[i * width + r] === labels[i]) { hits++; break; }
  }
  return hits / labels.length;
}

/** The top-`k` classes of x·W + b, best first, computed in chunks of rows (read asynchronously). [n·k] */
async function rankClasses(x: Features, w: tf.Variable, b: tf.Variable, k: number): Promise<Int32Array> {
  const { n, d } = x, chunk = 4096;
  const out = new Int32Array(n * k);
  for (let s = 0; s < n; s += chunk) {
    const m = Math.min(chunk, n - s);
    const idx = tf.tidy(() => tf.topk(tf.add(tf.matMul(tf.tensor2d(x.data.subarray(s * d, (s + m) * d), [m, d]), w), b), k).indices);
    try {
      out.set(await idx.data() as Int32Array, s * k);
    } finally {
      idx.dispose();
    }
  }
  return out;
}

/**
 * A multinomial logistic regression (softmax, weights and bias from zero) on
 * frozen features, trained with Adam on the mean cross-entropy plus an L2
 * penalty; every feature is standardised with the training features' mean
 * and std (population), and the same transform is applied to the evaluation
 * sets. Deterministic: the same inputs and seed give the same numbers.
 */
export async function linearProbe(train: Features, trainLabels: Int32Array, evalSets: Record<string, LabelledFeatures>,
                                  opts: ProbeOptions): Promise<ProbeResult> {
  const C = opts.numClasses;
  if (!Number.isInteger(C) || C < 2) throw new Error(`Expected numClasses to be a whole number ≥ 2, but got ${C}`);
  if (train.n === 0) throw new Error('Expected training features for the linear probe, but got 0 examples');
  checkLabels(trainLabels, train, C, 'training');
  for (const [name, set] of Object.entries(evalSets)) {
    if (set.features.d !== train.d) {
      throw new Error(`Expected ${train.d}-dimensional features in evaluation set '${name}', but got ${set.features.d}`);
    }
    checkLabels(set.labels, set.features, C, `'${name}'`);
  }
  const batchSize = Math.min(opts.batchSize ?? 256, train.n);
  const stepsPerEpoch = Math.ceil(train.n / batchSize);
  const epochs = opts.epochs ?? Math.max(10, Math.ceil(1000 / stepsPerEpoch));
  const wd = opts.weightDecay ?? 1e-4;
  const s = standardizer(train);
  const x = standardize(train, s);
  const w = tf.tidy(() => tf.variable(tf.zeros([train.d, C]) as tf.Tensor2D, true));  // tidy frees the zeros; variables survive it
  const b = tf.tidy(() => tf.variable(tf.zeros([C]) as tf.Tensor1D, true));
  const vars = new Map<string, tf.Variable>([['w', w], ['b', b]]);
  const adam = new Adam(opts.lr ?? 1e-3, 0.9, 0.999);
  const rng = new Rng(opts.seed ?? 0);
  try {
    for (let e = 0; e < epochs; e++) {
      const order = rng.permutation(train.n);
      for (let start = 0; start < train.n; start += batchSize) {
        const batch = hostBatch(x, trainLabels, order.subarray(start, Math.min(train.n, start + batchSize)), C);
        const { dw, db } = probeGradients(batch.x, batch.y, w, b, wd);
        adam.step(vars, { [w.name]: dw, [b.name]: db });
        tf.dispose([batch.x, batch.y, dw, db]);
      }
    }
    const k = Math.min(5, C);
    const result: ProbeResult = { top1: {}, top5: {}, trainTop1: topKHits(await rankClasses(x, w, b, 1), 1, trainLabels, 1), epochs,
                                  predictions: {} };
    for (const [name, set] of Object.entries(evalSets)) {
      const ranked = await rankClasses(standardize(set.features, s), w, b, k);
      result.top1[name] = topKHits(ranked, k, set.labels, 1);
      result.top5[name] = topKHits(ranked, k, set.labels, 5);
      result.predictions[name] = Int32Array.from({ length: set.labels.length }, (_, i) => ranked[i * k]);
    }
    return result;
  } finally {
    tf.dispose([w, b]);
    adam.dispose();
  }
}

/** Rows scaled to unit L2 norm (zero rows stay zero). */
function l2Normalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.div(x, tf.maximum(tf.norm(x, 'euclidean', 1, true), 1e-12));
}

/**
 * k-NN classification accuracy for each k in ks: similarity is the cosine,
 * i.e. the dot product of L2-normalised features (the metric of the k-NN
 * protocol of Wu et al. 2018, arXiv:1805.01978; BiGAN's 97.4% MNIST 1-NN
 * figure is quoted without its metric in BIGBIGAN.md). The label is the
 * majority vote of the k most similar training examples; a tie goes to the
 * tied class whose member ranks nearest. Similarities are computed in chunks
 * of query rows (about 4M at a time, so 54k x 10k stays small) with
 * tf.matMul and tf.topk (opts.chunk sets the rows per chunk). Returns
 * accuracy in [0, 1] by k (NaN without queries).
 */
export async function knnAccuracy(train: Features, trainLabels: Int32Array, query: Features, queryLabels: Int32Array,
                                  ks: number[] = [1, 10], opts: { chunk?: number } = {}): Promise<Record<number, number>> {
  if (trainLabels.length !== train.n || queryLabels.length !== query.n) {
    throw new Error(`Expected ${train.n} training and ${query.n} query labels for k-NN, ` +
                    `but got ${trainLabels.length} and ${queryLabels.length}`);
  }
  if (query.d !== train.d) throw new Error(`Expected ${train.d}-dimensional query features for k-NN, but got ${query.d}`);
  const bad = ks.find((k) => !Number.isInteger(k) || k < 1 || k > train.n);
  if (bad !== undefined) throw new Error(`Expected each k of k-NN to be a whole number in [1, ${train.n}], but got ${bad}`);
  const kMax = Math.max(...ks);
  const correct = new Map(ks.map((k) => [k, 0]));
  // [d, n], transposed once here: wasm's transposed matMul is slow
  const trainT = tf.tidy(() => tf.transpose(l2Normalize(tf.tensor2d(train.data, [train.n, train.d]))));
  const chunk = opts.chunk ?? Math.max(1, Math.floor(4_000_000 / Math.max(1, train.n)));
  const count = new Int32Array(trainLabels.reduce((a, l) => Math.max(a, l), 0) + 1);
  try {
    for (let s = 0; s < query.n; s += chunk) {
      const m = Math.min(chunk, query.n - s);
      const idx = tf.tidy(() => {
        const q = l2Normalize(tf.tensor2d(query.data.subarray(s * query.d, (s + m) * query.d), [m, query.d]));
        return tf.topk(tf.matMul(q, trainT), kMax).indices;                                    // [m, kMax], most similar first
      });
      let nn: Int32Array;
      try {
        nn = await idx.data() as Int32Array;
      } finally {
        idx.dispose();
      }
      for (let i = 0; i < m; i++) {
        for (const k of ks) {
          count.fill(0);
          for (let r = 0; r < k; r++) count[trainLabels[nn[i * kMax + r]]]++;
          let best = -1;
          for (let r = 0; r < k; r++) {  // by rank: only a strictly larger count replaces, so ties go to the nearest
            const c = trainLabels[nn[i * kMax + r]];
            if (best < 0 || count[c] > count[best]) best = c;
          }
          if (best === queryLabels[s + i]) correct.set(k, correct.get(k)! + 1);
        }
      }
    }
  } finally {
    trainT.dispose();
  }
  return Object.fromEntries(ks.map((k) => [k, query.n === 0 ? NaN : correct.get(k)! / query.n]));
}

export type FeatureSource = 'trained' | 'random-init' | 'pixels';

/** One row of a report: accuracies in [0, 1] (null where undefined, e.g. an empty split). */
export interface RepresentationRow {
  source: FeatureSource;
  feature: FeatureKind;
  probe_top1_trainval: number | null;
  probe_top5_trainval: number | null;
  probe_top1_test: number | null;
  probe_top5_test: number | null;
  knn1_test: number | null;
  knn10_test: number | null;
  /** k-NN accuracy on test for every k asked for. */
  knn_test: Record<string, number | null>;
  /** The probe's accuracy on its own training features. */
  probe_top1_train: number;
  n_train: number;
}

/** A plain JSON-able report. */
export interface RepresentationReport {
  dataset: string;
  numClasses: number;
  chance: number;
  n_train: number;
  n_trainval: number;
  n_test: number;
  ks: number[];
  seed: number;
  random_init_seed: number;
  /** Training batches the random-init E's batch-norm statistics were estimated on (features.ts estimateBatchNormStatistics). */
  random_init_bn_batches: number;
  rows: RepresentationRow[];
}

export interface RepresentationOptions {
  /** E's features to evaluate; default ['z_mean', 'avepool', 'bn_crelu'] ('pixels' here adds the pixels row). */
  kinds?: FeatureKind[];
  /** Training examples for the probe and k-NN; default 10000 (Infinity: the whole train split). */
  limitTrain?: number;
  /** Examples of trainVal and of test evaluated; default 2000 each (Infinity: all). */
  limitEval?: number;
  /** Add the random-init E rows (same kinds) and the pixels row; default true. */
  baselines?: boolean;
  /** Cache E's features here (e.g. `<run>/eval`); needs `checkpoint`. */
  cacheDir?: string;
  /** The checkpoint file `models` were loaded from: the cache key of the trained features. */
  checkpoint?: string;
  /** The probe's seed; default 0. */
  seed?: number;
  /**
   * Seed of the random-init E; default cfg.seed, i.e. this run's own E at step 0 (its batch-norm statistics estimated on
   * dataset.train).
   */
  randomInitSeed?: number;
  /** k of the k-NN columns; default [1, 10]. */
  ks?: number[];
  progress?: boolean;
  /** Probe settings other than numClasses and seed. */
  probe?: Omit<ProbeOptions, 'numClasses' | 'seed'>;
  /** Images per E forward pass. */
  batchSize?: number;
}

const nullable = (v: number | undefined): number | null => (v === undefined || Number.isNaN(v) ? null : v);

/**
 * Linear-probe and k-NN figures for each feature kind of the trained E and of
 * its baselines, all through the same code: the probe is trained on the first
 * limitTrain examples of dataset.train and evaluated on the first limitEval of
 * trainVal and of test; k-NN classifies those test examples against the same
 * training features. The defaults (10000 / 2000) cost about 2 minutes for the
 * mnist preset with the wasm backend on 2 CPU cores (measured: E's features
 * ~2.5 s per 1000 images and model, the 1024-d pixel probe 11 s, its k-NN
 * 8 s); pass Infinity for the full splits.
 */
export async function evaluateRepresentation(models: Models, dataset: Dataset,
                                             opts: RepresentationOptions = {}): Promise<RepresentationReport> {
  const cfg = models.cfg;
  const kinds = opts.kinds ?? ['z_mean', 'avepool', 'bn_crelu'];
  const eKinds = kinds.filter((k) => k !== 'pixels');
  const baselines = opts.baselines ?? true;
  const ks = opts.ks ?? [1, 10];
  const seed = opts.seed ?? 0, randomInitSeed = opts.randomInitSeed ?? cfg.seed;
  if (opts.cacheDir !== undefined && opts.checkpoint === undefined) {
    throw new Error('Expected opts.checkpoint (the file the models were loaded from) with opts.cacheDir, but got none');
  }
  const splits: Record<'train' | 'trainval' | 'test', Split> = {
    train: takeFirst(dataset.train, opts.limitTrain ?? 10000),
    trainval: takeFirst(dataset.trainVal, opts.limitEval ?? 2000),
    test: takeFirst(dataset.test, opts.limitEval ?? 2000),
  };
  const rows: RepresentationRow[] = [];
  const withPixels = baselines || kinds.includes('pixels');
  const progress = opts.progress ? new Progress(eKinds.length * (baselines ? 2 : 1) + (withPixels ? 1 : 0), 'probe + k-NN') : null;
  const evaluate = async (source: FeatureSource, m: Models, ofKinds: FeatureKind[], key: ModelKey | null) => {
    const cache = opts.cacheDir !== undefined && key !== null ? { dir: opts.cacheDir, key } : undefined;
    const feats = (split: Split) => encoderFeatures(m, split, ofKinds, { cache, progress: opts.progress, batchSize: opts.batchSize });
    const f = { train: await feats(splits.train), trainval: await feats(splits.trainval), test: await feats(splits.test) };
    for (const kind of ofKinds) {
      const probe = await linearProbe(f.train[kind], splits.train.labels, {
        trainval: { features: f.trainval[kind], labels: splits.trainval.labels },
        test: { features: f.test[kind], labels: splits.test.labels },
      }, { ...opts.probe, numClasses: dataset.numClasses, seed });
      const knn = await knnAccuracy(f.train[kind], splits.train.labels, f.test[kind], splits.test.labels, ks);
      rows.push({
        source, feature: kind,
        probe_top1_trainval: nullable(probe.top1.trainval), probe_top5_trainval: nullable(probe.top5.trainval),
        probe_top1_test: nullable(probe.top1.test), probe_top5_test: nullable(probe.top5.test),
        knn1_test: nullable(knn[1]), knn10_test: nullable(knn[10]),
        knn_test: Object.fromEntries(ks.map((k) => [String(k), nullable(knn[k])])),
        probe_top1_train: probe.trainTop1, n_train: splits.train.count,
      });
      progress?.update(rows.length, { last: `${source} ${kind}` });
    }
  };
  if (eKinds.length > 0) await evaluate('trained', models, eKinds, opts.checkpoint === undefined ? null : checkpointKey(opts.checkpoint));
  if (baselines && eKinds.length > 0) {
    const random = randomInitModels(cfg, randomInitSeed, dataset.train);
    try {
      await evaluate('random-init', random, eKinds, randomInitKey(cfg, randomInitSeed));
    } finally {
      disposeModels(random);
    }
  }
  if (withPixels) await evaluate('pixels', models, ['pixels'], null);
  progress?.finish();
  return {
    dataset: dataset.name, numClasses: dataset.numClasses, chance: 1 / dataset.numClasses,
    n_train: splits.train.count, n_trainval: splits.trainval.count, n_test: splits.test.count,
    ks, seed, random_init_seed: randomInitSeed, random_init_bn_batches: BN_ESTIMATE_BATCHES, rows,
  };
}

/** The report as a plain-text table, each feature's baselines right below its trained row, pixels last. */
export function formatRepresentationReport(report: RepresentationReport): string {
  const pct = (v: number | null) => (v === null ? '-' : (100 * v).toFixed(1));
  const head = ['source', 'feature', 'top-1 val', 'top-5 val', 'top-1 test', 'top-5 test', ...report.ks.map((k) => `${k}-NN test`)];
  const order = (r: RepresentationRow) => (r.source === 'pixels'
    ? 1e9
    : report.rows.findIndex((q) => q.feature === r.feature) * 2 + (r.source === 'trained' ? 0 : 1));
  const body = [...report.rows].sort((a, b) => order(a) - order(b)).map((r) => [
    r.source, r.feature, pct(r.probe_top1_trainval), pct(r.probe_top5_trainval), pct(r.probe_top1_test), pct(r.probe_top5_test),
    ...report.ks.map((k) => pct(r.knn_test[String(k)] ?? null)),
  ]);
  const widths = head.map((h, j) => Math.max(h.length, ...body.map((row) => row[j].length)));
  const line = (row: string[]) => row.map((c, j) => (j < 2 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ').trimEnd();
  return [
    `Representation of ${report.dataset}: linear probe (top-1/top-5 %, trained on ${report.n_train} train examples) ` +
    `on ${report.n_trainval} train_val and ${report.n_test} test examples, k-NN (cosine) on test; chance ${pct(report.chance)}%`,
    line(head), ...body.map(line),
  ].join('\n');
}

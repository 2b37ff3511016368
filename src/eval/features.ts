/**
 * Frozen-encoder features for representation evaluation (BigBiGAN, Donahue &
 * Simonyan 2019, arXiv:1907.02544, Sec. 4: linear classifiers on E's frozen
 * `avepool` and `bn_crelu` features; the official TF-Hub module also exposes
 * `z_mean`), and the two baselines every figure is shown beside: an untrained
 * encoder of the same architecture and the raw pixels.
 *
 * E runs in inference mode (batch norms use their running statistics), so a
 * feature depends on its image alone, not on the batch it came in. Images are
 * prepared exactly as training prepares them (src/run/train_run.ts batchesFor: E's
 * resolution, padded 28 -> 32 where that suffices, else resized), without
 * shuffling or augmentation, every example in split order.
 *
 * The random-init E's running statistics were never trained (still mean 0,
 * variance 1), so in inference mode it would compute another function than
 * the one training starts from (the MNIST sweep's Base E: avepool features
 * correlated 0.19 with its batch-statistics ones). randomInitModels therefore estimates them first
 * (estimateBatchNormStatistics): forward passes of E in training mode, no
 * weight update, on training batches rendered as training renders them.
 *
 * Cache: with `cache` set, each (model, split, kind, limit) is written once to
 * `<dir>/features-<tag>-<split>-<kind>-n<N>-<hash>.bin` (tmp + rename) and read
 * back afterwards. For a run, the CLI's convention is `<run>/eval/`, with tag
 * `step<step>` (checkpointKey) or `random-init-s<seed>` (randomInitKey). The
 * hash covers the checkpoint's path, size and mtime (or the config, the seed
 * and how the batch-norm statistics were estimated),
 * the split's name, size and pixel bytes, so a newer checkpoint or other data
 * never gets stale features. Pixels are never cached (rendering them is
 * cheaper than reading them back).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { Config } from '../config';
import { batches, exampleSize, RenderOptions, Split, takeFirst } from '../data';
import { createModels, disposeModels, encode, Models } from '../model/bigbigan';
import { Params } from '../model/params';
import { Progress } from '../util/progress';
import { Rng } from '../util/rng';
import { batchesFor } from '../train/run_data';

/** Features of E ('z_mean', 'avepool', 'bn_crelu', see EncoderOutput) or the raw [-1, 1] pixels E sees, flattened. */
export type FeatureKind = 'z_mean' | 'avepool' | 'bn_crelu' | 'pixels';
export const FEATURE_KINDS: readonly FeatureKind[] = ['z_mean', 'avepool', 'bn_crelu', 'pixels'];

/** n feature vectors of size d, row-major. */
export interface Features {
  data: Float32Array;
  n: number;
  d: number;
}

/** Which model a cache file belongs to: a readable tag for the file name and a fingerprint hashed into it. */
export interface ModelKey {
  tag: string;
  fingerprint: string;
}

export interface FeatureOptions {
  /** Images per forward pass (default 128; inference mode makes features independent of it). */
  batchSize?: number;
  /** Only the first `limit` examples of the split (default all). */
  limit?: number;
  /** A progress line on stderr. */
  progress?: boolean;
  /** Store / reuse E's features in `dir` under the model's key (see the file comment). */
  cache?: { dir: string; key: ModelKey };
}

/** The render options of training (batchesFor's pad-or-resize rule at cfg.eResolution), without augmentation. */
export function renderOptionsFor(cfg: Config, split: Split): RenderOptions {
  const { resolution, resize } = batchesFor({ ...cfg, batchSize: 1, augmentCrop: 0, augmentFlip: false }, split).opts;
  return { resolution, resize };
}

/**
 * Features of the first `limit` examples of `split`, in order, for each of
 * `kinds`; E runs once per batch for all of E's kinds (not at all for
 * 'pixels' alone). The returned arrays are plain JS memory (no tensors),
 * read asynchronously (webgpu in Node cannot read synchronously).
 */
export async function encoderFeatures<K extends FeatureKind>(models: Models, split: Split, kinds: K[],
                                                             opts: FeatureOptions = {}): Promise<Record<K, Features>> {
  const part = takeFirst(split, opts.limit ?? split.count);
  const n = part.count;
  const out = {} as Record<K, Features>;
  const files = new Map<K, string>();
  for (const kind of kinds) {
    if (!FEATURE_KINDS.includes(kind)) throw new Error(`Expected a feature kind among ${FEATURE_KINDS.join(', ')}, but got '${kind}'`);
    if (kind === 'pixels' || opts.cache === undefined) continue;
    const file = featureCacheFile(opts.cache.dir, opts.cache.key, part, kind);
    const hit = readFeatures(file);
    if (hit !== null) out[kind] = hit; else files.set(kind, file);
  }
  const todo = kinds.filter((k) => out[k] === undefined);
  if (todo.length === 0) return out;
  if (todo.some((k) => k !== 'pixels') && models.E === null) {
    throw new Error(`Expected a model with an encoder for features ${todo.join(', ')}, but this one has none (noEncoder)`);
  }
  const batchSize = opts.batchSize ?? 128;
  const chunks = new Map<K, Float32Array[]>(todo.map((k) => [k, []]));
  const label = ['features', opts.cache?.key.tag, split.name].filter(Boolean).join(' ');
  const progress = opts.progress && n > 0 ? new Progress(Math.ceil(n / batchSize), label) : null;
  const rng = new Rng(0);  // eps of the stochastic E; z_sample is not a feature, so its value does not matter
  let done = 0;
  if (n > 0) {
    const render = renderOptionsFor(models.cfg, part);
    for (const { x } of batches(part, { ...render, batchSize, shuffle: false, dropLast: false })) {
      const ts = tf.tidy(() => {
        const e = todo.some((k) => k !== 'pixels') ? encode(models, x, rng, false) : null;
        return todo.map((k) => (k === 'pixels' ? tf.reshape(x, [x.shape[0], -1]) : e![k as Exclude<FeatureKind, 'pixels'>]) as tf.Tensor2D);
      });
      try {
        const values = await Promise.all(ts.map((t) => t.data() as Promise<Float32Array>));
        todo.forEach((k, i) => chunks.get(k)!.push(values[i]));
      } finally {
        tf.dispose([x, ...ts]);
      }
      progress?.update(++done);
    }
    progress?.finish();
  }
  for (const kind of todo) {
    const parts = chunks.get(kind)!;
    const d = n > 0 ? parts[0].length / Math.min(n, batchSize) : 0;
    const data = new Float32Array(n * d);
    let offset = 0;
    for (const p of parts) { data.set(p, offset); offset += p.length; }
    out[kind] = { data, n, d };
    const file = files.get(kind);
    if (file !== undefined) writeFeatures(file, out[kind]);
  }
  return out;
}

/**
 * Training batches a batch-norm estimate runs by default. Each batch moves a
 * running average by momentum 0.1 (model/layers.ts normalize), so after k
 * batches the reset values keep weight 0.9^k: 0.9^100 ≈ 3e-5, negligible; the
 * estimate itself weighs the last batches 0.1·0.9^j, as a training run's own
 * running statistics do.
 */
export const BN_ESTIMATE_BATCHES = 100;

/** Options of estimateBatchNormStatistics (and of the random-init baseline). */
export interface BatchNormEstimateOptions {
  /** Training batches of cfg.batchSize (default BN_ESTIMATE_BATCHES; 0 only resets the statistics). */
  batches?: number;
  /**
   * Seeds the batch order, the augmentation and the stochastic E's noise; default cfg.seed (the batches a run with this config
   * starts on).
   */
  seed?: number;
}

/**
 * Estimates E's batch-norm running statistics for inference mode, as SWA
 * does for weights whose statistics no training run tracked (Izmailov et al.
 * 2018, arXiv:1803.05407: one more pass over the training data; PyTorch's
 * `torch.optim.swa_utils.update_bn`): every running_mean is reset to 0 and
 * running_var to 1, then E runs in training mode (batch statistics; each
 * batch norm updates its running averages, momentum 0.1) on `batches`
 * batches of `split` rendered exactly as training renders them (src/run/train_run.ts
 * batchesFor: cfg.batchSize, E's resolution, cfg's augmentation, shuffled
 * with `seed`). No gradient is taken and E's weights do not change; nothing
 * but E's running statistics does. Deterministic for a given seed.
 */
export function estimateBatchNormStatistics(models: Models, split: Split, opts: BatchNormEstimateOptions = {}): void {
  const E = models.E;
  if (E === null) {
    throw new Error('Expected a model with an encoder to estimate its batch-norm statistics, but this one has none (noEncoder)');
  }
  const batchCount = opts.batches ?? BN_ESTIMATE_BATCHES;
  if (!Number.isInteger(batchCount) || batchCount < 0) throw new Error(`Expected batches to be a whole number ≥ 0, but got ${batchCount}`);
  const seed = opts.seed ?? models.cfg.seed;
  tf.tidy(() => {
    for (const [name, v] of E.state) {
      if (name.endsWith('/running_mean')) v.assign(tf.zerosLike(v));
      else if (name.endsWith('/running_var')) v.assign(tf.onesLike(v));
    }
  });
  if (batchCount === 0) return;
  const iterator = batchesFor({ ...models.cfg, seed }, split);
  const rng = new Rng(seed);  // eps of the stochastic E: only z_sample depends on it, no batch norm does
  for (let k = 0; k < batchCount; k++) {
    const { x } = iterator.next();
    try {
      tf.tidy(() => { encode(models, x, rng, true); });  // training mode: each normalize updates its running averages
    } finally {
      x.dispose();
    }
  }
}

/**
 * An untrained encoder of cfg's architecture, initialised as a run with seed
 * `seed` starts (createModels with cfg.seed = seed; seed = cfg.seed gives this
 * very run's E at step 0): the random-init baseline. Its batch-norm running
 * statistics are then estimated on `train` (estimateBatchNormStatistics with
 * the same seed: the batches that run starts on), so that its inference-mode
 * features are those of the function training starts from, not of the
 * untrained statistics (0, 1). G, D and G_ema are built and freed again, and
 * left as empty stores. Free it with disposeModels.
 */
export function randomInitModels(cfg: Config, seed: number, train: Split, opts: Pick<BatchNormEstimateOptions, 'batches'> = {}): Models {
  const built = createModels({ ...cfg, seed }, { batch: 1, ema: false });
  for (const p of [built.G, built.D, built.gEma]) p.dispose();
  const models = { ...built, G: new Params('G', new Rng(0)), D: new Params('D', new Rng(0)), gEma: new Params('G_ema', new Rng(0)) };
  try {
    if (models.E !== null) estimateBatchNormStatistics(models, train, { batches: opts.batches, seed });
  } catch (e) {
    disposeModels(models);
    throw e;
  }
  return models;
}

/** The cache key of a checkpoint file: tag `step<step>` (from ckpt-<step>.bin), fingerprint = absolute path, size, mtime. */
export function checkpointKey(file: string): ModelKey {
  const stat = fs.statSync(file);
  const step = /ckpt-(\d+)\.bin$/.exec(path.basename(file));
  return { tag: step ? `step${step[1]}` : 'ckpt', fingerprint: `${path.resolve(file)}|${stat.size}|${stat.mtimeMs}` };
}

/**
 * The cache key of randomInitModels(cfg, seed, train, opts). The fingerprint
 * names the batch-norm estimate ('bn-estimated' and its batches), so features
 * of a random-init E evaluated with untrained statistics (before the
 * estimate existed) are never served.
 */
export function randomInitKey(cfg: Config, seed: number, opts: Pick<BatchNormEstimateOptions, 'batches'> = {}): ModelKey {
  const bn = `bn-estimated-${opts.batches ?? BN_ESTIMATE_BATCHES}`;
  return { tag: `random-init-s${seed}`, fingerprint: `random-init|${bn}|${seed}|${JSON.stringify(cfg)}` };
}

/** FNV-1a (32 bit) of bytes: a cheap fingerprint of a split's pixels. */
function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

/** Where the features of `kind` of split `part` (already limited) under `key` are cached. */
export function featureCacheFile(dir: string, key: ModelKey, part: Split, kind: FeatureKind): string {
  const data = fnv1a(part.images.subarray(0, part.count * exampleSize(part)));
  const hash = createHash('sha1').update(`${key.fingerprint}|${part.name}|${part.count}|${data}|${kind}`).digest('hex').slice(0, 12);
  const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_');
  return path.join(dir, `features-${safe(key.tag)}-${safe(part.name)}-${kind}-n${part.count}-${hash}.bin`);
}

const MAGIC = 'BBGFEAT1';

/** Features read from a cache file, or null when it is missing or incomplete (then it is recomputed). */
export function readFeatures(file: string): Features | null {
  if (!fs.existsSync(file)) return null;
  const bytes = fs.readFileSync(file);
  if (bytes.length < 16 || bytes.subarray(0, 8).toString() !== MAGIC) return null;
  const n = bytes.readUInt32LE(8), d = bytes.readUInt32LE(12);
  if (bytes.length !== 16 + 4 * n * d) return null;
  const data = new Float32Array(n * d);
  new Uint8Array(data.buffer).set(bytes.subarray(16));
  return { data, n, d };
}

/** Writes features atomically: "BBGFEAT1", uint32 n, uint32 d (little-endian), float32 data. */
export function writeFeatures(file: string, f: Features): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const head = Buffer.alloc(16);
  head.write(MAGIC, 0);
  head.writeUInt32LE(f.n, 8);
  head.writeUInt32LE(f.d, 12);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, Buffer.concat([head, Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength)]));
  fs.renameSync(tmp, file);
}

/**
 * Features from `file` when it holds them, else compute() written there
 * (atomically) for next time. `file` must name everything the features
 * depend on (featureCacheFile does).
 */
export async function cachedFeatures(file: string, compute: () => Features | Promise<Features>): Promise<Features> {
  const hit = readFeatures(file);
  if (hit !== null) return hit;
  const f = await compute();
  writeFeatures(file, f);
  return f;
}

/**
 * Feature networks for FID and IS (src/eval/fid.ts): a network that maps
 * images to a feature vector (FID's Gaussian is fitted to these) and to class
 * probabilities p(y|x) (IS is computed from these).
 *
 * Two implementations: `datasetFeatureNet`, the small convnet of
 * src/classifier.ts trained on the dataset's own labels and cached on disk
 * (the small-scale stand-in for Inception-v3; its scores compare only with
 * scores from the same cached network), and `loadInceptionFeatureNet`, a
 * converted Inception-v3 (or any tfjs model) from a local folder, for FID/IS
 * comparable with the literature (Heusel et al. 2017, arXiv:1706.08500;
 * Salimans et al. 2016, arXiv:1606.03498).
 *
 * Getting Inception-v3 in tfjs format (once, on a machine with Python):
 *
 *     pip install tensorflowjs          # pulls a matching TensorFlow
 *     python -c "import tensorflow as tf; tf.keras.applications.InceptionV3(weights='imagenet').save('inception_v3.h5')"
 *     tensorflowjs_converter --input_format=keras inception_v3.h5 inception-v3-tfjs/
 *
 * The folder then holds model.json and group1-shard*of*.bin (~92 MB); pass it
 * as `--inception inception-v3-tfjs` (or to loadInceptionFeatureNet). Keras's
 * InceptionV3 takes 299x299 RGB in [-1, 1] (its preprocess_input maps
 * 0..255 to [-1, 1]), which is the kit's pixel range, so no rescaling is
 * needed; features are its `avg_pool` output (2048-d, the layer pytorch-fid
 * uses), probabilities its 1000-way softmax `predictions`. A graph model
 * (`--input_format=tf_saved_model`) works too, given `featureNode`. The
 * TF-Slim/pytorch-fid Inception weights differ slightly from Keras's, so
 * absolute FIDs are close to, not identical with, published ones.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { checkpointFile, loadCheckpoint, saveCheckpoint } from '../checkpoint';
import { classifierLoss, classify, Classifier, createClassifier, disposeClassifier, predict } from '../classifier';
import { BatchIterator, batches, Dataset, ResizeMode } from '../data';
import { Adam } from '../optim';
import { Progress } from '../progress';

export interface FeatureNet {
  /** e.g. 'mnist-classifier' or 'inception-v3 (/path)'. */
  name: string;
  /** Input side and channels the network itself runs at. */
  resolution: number;
  channels: number;
  numClasses: number;
  /** Its accuracy on the dataset's test split (null if unknown). */
  testAccuracy: number | null;
  /**
   * x [B, R, R, C] in [-1, 1] at any size and 1 or C channels: resized and
   * channel-converted inside. Returns features [B, D] and probs [B, K]
   * (softmax); the caller disposes both.
   */
  apply(x: tf.Tensor4D): { features: tf.Tensor2D; probs: tf.Tensor2D };
  dispose(): void;
}

/**
 * How a dataset's images reach `resolution`, the rule of run.ts's batchesFor:
 * centre on a background canvas when the target is at most 4 px larger
 * (MNIST 28 → 32), otherwise resample bilinearly.
 */
export function resizeModeFor(size: number, resolution: number): ResizeMode {
  return resolution >= size && resolution - size <= 4 ? 'pad' : 'resize';
}

/**
 * x brought to [B, height, width, channels] (inside a tidy of the caller):
 * grey repeated to C channels, or C channels averaged to grey; then padded
 * with background −1 (when `pad` and the batchesFor rule says so) or resized
 * bilinearly with half-pixel centres, as src/data/transform.ts renders.
 */
function fitInput(x: tf.Tensor4D, height: number, width: number, channels: number, pad: boolean, what: string): tf.Tensor4D {
  const [, h, w, c] = x.shape;
  let y = x;
  if (c !== channels) {
    if (c === 1) y = tf.tile(y, [1, 1, 1, channels]);
    else if (channels === 1) y = tf.mean(y, 3, true);
    else throw new Error(`Expected images with 1 or ${channels} channels for ${what}, but got ${c}`);
  }
  if (h === height && w === width) return y;
  if (pad && h === w && height === width && resizeModeFor(h, height) === 'pad') {
    const top = (height - h) >> 1, left = (width - w) >> 1;
    return tf.pad(y, [[0, 0], [top, height - h - top], [left, width - w - left], [0, 0]], -1);
  }
  return tf.image.resizeBilinear(y, [height, width], false, true);
}

// The dataset's own classifier, trained once and cached.

/** Options of datasetFeatureNet. */
export interface DatasetFeatureNetOptions {
  /** Side the classifier runs at (the model's resolution, e.g. 32 for MNIST). */
  resolution: number;
  /** Cache root; default $BIGBIGAN_CACHE or ~/.cache/bigbigan (files go to its feature-nets/). */
  cacheDir?: string;
  /** Adam steps and batch size; defaults 1500 and 64. */
  steps?: number;
  batchSize?: number;
  /** Seeds the initial weights and the batch order; default 0. */
  seed?: number;
  /** No messages at all (implies no progress line). */
  quiet?: boolean;
  /** Progress line while training; default true unless quiet. */
  progress?: boolean;
}

/** Bumped whenever training changes; part of the key, so that older cache files are not found. */
const CACHE_VERSION = 2;
const CACHE_FORMAT = `bigbigan-feature-net-${CACHE_VERSION}`;
const LEARNING_RATE = 3e-3;

interface CacheMeta { format: string; key: string; testAccuracy: number; trainSeconds: number }

/** The default cache root: $BIGBIGAN_CACHE, else ~/.cache/bigbigan. */
export function defaultCacheDir(): string {
  return process.env.BIGBIGAN_CACHE ?? path.join(os.homedir(), '.cache', 'bigbigan');
}

/**
 * The cache file of a dataset classifier: one folder per key under
 * <cacheDir>/feature-nets, holding one checkpoint file (src/checkpoint.ts
 * format, written to a temporary name and renamed). The key names the
 * dataset, its train count, resolution, channels, classes, steps, batch size
 * and seed — not the pixel content, so a dataset edited in place under the
 * same name and size needs its folder deleted.
 */
export function featureNetCacheFile(dataset: Dataset, opts: DatasetFeatureNetOptions): string {
  const { steps, batchSize, seed } = withDefaults(opts);
  const safe = dataset.name.replace(/[^A-Za-z0-9._-]/g, '_');
  const key = `${safe}-v${CACHE_VERSION}-n${dataset.train.count}-r${opts.resolution}-c${dataset.train.channels}-k${dataset.numClasses}` +
    `-steps${steps}-b${batchSize}-seed${seed}`;
  return checkpointFile(path.join(opts.cacheDir ?? defaultCacheDir(), 'feature-nets', key), steps);
}

function withDefaults(opts: DatasetFeatureNetOptions): { steps: number; batchSize: number; seed: number } {
  const steps = opts.steps ?? 1500, batchSize = opts.batchSize ?? 64, seed = opts.seed ?? 0;
  for (const [what, v] of [['steps', steps], ['batchSize', batchSize], ['resolution', opts.resolution]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`Expected ${what} of datasetFeatureNet to be a whole number ≥ 1, but got ${v}`);
  }
  return { steps, batchSize, seed };
}

/** Fraction of the test split the classifier gets right (in order, batches of 256). */
function testAccuracyOf(net: Classifier, dataset: Dataset, resolution: number): number {
  const { test } = dataset;
  if (test.count === 0) throw new Error(`Expected a non-empty test split in dataset '${dataset.name}' to measure the feature net, but got 0 examples`);
  let correct = 0;
  for (const b of batches(test, { batchSize: 256, shuffle: false, dropLast: false, resolution, resize: resizeModeFor(test.height, resolution) })) {
    predict(net, b.x).forEach((p, i) => { if (p === b.y[i]) correct++; });
    b.x.dispose();
  }
  return correct / test.count;
}

/**
 * Trains the classifier on the labelled train split, rendered as training
 * renders it (no augmentation), with Adam (src/optim.ts) whose learning rate
 * follows a cosine from 3e-3 down to 0 over the run (Loshchilov & Hutter
 * 2017, arXiv:1608.03983, without restarts). Measured on MNIST at 1500 steps
 * of 64 (seed 0), test accuracy: constant 1e-3 97.23%, cosine from 1e-3
 * 97.00%, cosine from 3e-3 98.32% (these defaults, end to end).
 */
function trainClassifier(dataset: Dataset, resolution: number, steps: number, batchSize: number, seed: number, showProgress: boolean): Classifier {
  const net = newClassifier(dataset, seed);
  const variables = new Map(Object.entries(net.params));
  const adam = new Adam(LEARNING_RATE, 0.9, 0.999);
  const iterator = new BatchIterator(dataset.train, { batchSize, seed, resolution, resize: resizeModeFor(dataset.train.height, resolution) });
  const progress = showProgress ? new Progress(steps, `feature net (${dataset.name} classifier)`) : null;
  try {
    for (let step = 1; step <= steps; step++) {
      const { x, y } = iterator.next();
      adam.lr = LEARNING_RATE * 0.5 * (1 + Math.cos(Math.PI * (step - 1) / steps));
      const { value, grads } = tf.variableGrads(() => classifierLoss(net, x, y), [...variables.values()]);
      adam.step(variables, grads);
      const loss = value.dataSync()[0];
      tf.dispose([x, value, ...Object.values(grads)]);
      progress?.update(step, { loss });
    }
  } finally {
    progress?.finish();
    adam.dispose();
  }
  return net;
}

/** createClassifier inside a tidy: its initial random tensors are otherwise never freed (variables survive the tidy). */
function newClassifier(dataset: Dataset, seed: number): Classifier {
  let net: Classifier | undefined;
  tf.tidy(() => { net = createClassifier(dataset.train.channels, dataset.numClasses, seed); });
  return net!;
}

/** Reads a cached classifier; a damaged or foreign file is one clear error naming it. */
function loadCached(file: string, key: string, dataset: Dataset): { net: Classifier; meta: CacheMeta } {
  const fail = (what: string) => new Error(`Feature-net cache file ${file} is damaged: ${what}. Delete it to retrain.`);
  let ckpt;
  try {
    ckpt = loadCheckpoint<CacheMeta>(file);
  } catch (e) {
    throw fail((e as Error).message);
  }
  const { meta } = ckpt;
  if (meta?.format !== CACHE_FORMAT || meta.key !== key || typeof meta.testAccuracy !== 'number') {
    throw fail(`expected a ${CACHE_FORMAT} header for ${key}, but got ${JSON.stringify(meta).slice(0, 200)}`);
  }
  const net = newClassifier(dataset, 0);
  for (const [name, v] of Object.entries(net.params)) {
    const saved = ckpt.values.get(name);
    if (saved === undefined || saved.shape.join() !== v.shape.join()) {
      disposeClassifier(net);
      throw fail(`expected ${name} of shape [${v.shape}], but got ${saved ? `[${saved.shape}]` : 'none'}`);
    }
    tf.tidy(() => v.assign(tf.tensor(saved.data, saved.shape)));
  }
  return { net, meta };
}

/**
 * The small convnet of src/classifier.ts trained on `dataset`'s labelled
 * train split at `opts.resolution` (images rendered as training renders
 * them: batchesFor's pad-or-resize rule, no augmentation), with Adam and a
 * cosine learning rate from 3e-3 (see trainClassifier) for `steps` (default
 * 1500) batches of 64, then scored on the whole test split.
 * The result is cached (see featureNetCacheFile) and later calls load it.
 * A damaged cache file is an error naming it, not a silent retrain, so that
 * scores never come from a different network without the user knowing.
 * Features are the 128-d global-average-pooled penultimate layer.
 */
export async function datasetFeatureNet(dataset: Dataset, opts: DatasetFeatureNetOptions): Promise<FeatureNet> {
  const { steps, batchSize, seed } = withDefaults(opts);
  const resolution = opts.resolution;
  const file = featureNetCacheFile(dataset, opts);
  const key = path.basename(path.dirname(file));
  const say = (line: string) => { if (!opts.quiet) process.stderr.write(`${line}\n`); };
  let net: Classifier, meta: CacheMeta;
  if (fs.existsSync(file)) {
    ({ net, meta } = loadCached(file, key, dataset));
    say(`feature net: loaded ${file} (test accuracy ${(meta.testAccuracy * 100).toFixed(2)}%)`);
  } else {
    const start = Date.now();
    net = trainClassifier(dataset, resolution, steps, batchSize, seed, !opts.quiet && (opts.progress ?? true));
    const trainSeconds = (Date.now() - start) / 1000;
    meta = { format: CACHE_FORMAT, key, testAccuracy: testAccuracyOf(net, dataset, resolution), trainSeconds };
    saveCheckpoint(path.dirname(file), steps, meta, Object.entries(net.params), 1);
    say(`feature net: trained ${steps} steps in ${trainSeconds.toFixed(0)} s, test accuracy ` +
      `${(meta.testAccuracy * 100).toFixed(2)}%, saved to ${file}`);
  }
  const channels = dataset.train.channels;
  const name = `${dataset.name}-classifier`;
  return {
    name, resolution, channels, numClasses: dataset.numClasses, testAccuracy: meta.testAccuracy,
    apply: (x) => tf.tidy(() => {
      const { features, logits } = classify(net, fitInput(x, resolution, resolution, channels, true, name));
      return { features, probs: tf.softmax(logits) };
    }),
    dispose: () => disposeClassifier(net),
  };
}

// A tfjs model (Inception-v3) from a local folder.

/** Options of loadInceptionFeatureNet. */
export interface InceptionOptions {
  /**
   * Where the features come from. Layers model: a layer name (default: the
   * input of the last Dense layer, i.e. Keras InceptionV3's `avg_pool`).
   * Graph model: a node name (required; see the node names in model.json).
   * A spatial output [B, H, W, D] is average-pooled to [B, D].
   */
  featureNode?: string;
  /** Graph model: the node of the class outputs; default the model's first output. */
  outputNode?: string;
  /** Input side where the model's input shape leaves it open; default 299. */
  resolution?: number;
  /** The pixel range the model expects; default [-1, 1] (Keras InceptionV3). */
  inputRange?: [number, number];
  /** Shown as FeatureNet.name; default `inception-v3 (DIR)`. */
  name?: string;
  /** Its known accuracy, if any (FeatureNet.testAccuracy); default null. */
  testAccuracy?: number | null;
}

/** model.json and its weight shards read with fs: Node's tfjs has no file:// handler. */
async function readModelFolder(dir: string): Promise<{ artifacts: tf.io.ModelArtifacts; graph: boolean; nodes: string[] }> {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new Error(`Expected a folder holding a tfjs model (model.json and weight files) at ${dir}, but there is none`);
  }
  const jsonFile = path.join(dir, 'model.json');
  if (!fs.existsSync(jsonFile)) throw new Error(`Expected ${jsonFile} (a tfjs model), but the folder has no model.json`);
  let json: tf.io.ModelJSON & { format?: string };
  try {
    json = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
  } catch (e) {
    throw new Error(`Expected ${jsonFile} to be JSON, but parsing failed: ${(e as Error).message}`);
  }
  const topology = json?.modelTopology as Record<string, unknown> | undefined;
  const graph = json?.format === 'graph-model' || Array.isArray(topology?.node);
  const layers = json?.format === 'layers-model' || (topology !== undefined && ('class_name' in topology || 'model_config' in topology));
  if (typeof topology !== 'object' || topology === null || graph === layers || !Array.isArray(json.weightsManifest)) {
    throw new Error(`Expected ${jsonFile} to be a tfjs layers-model or graph-model (modelTopology and weightsManifest), ` +
      `but got format ${JSON.stringify(json?.format)} with keys ${Object.keys(json ?? {}).join(', ')}`);
  }
  const artifacts = await tf.io.getModelArtifactsForJSON(json, async (manifest) => {
    const buffers = manifest.flatMap((group) => group.paths.map((p) => {
      const file = path.join(dir, p);
      if (!fs.existsSync(file)) throw new Error(`Expected weight file ${file} (listed in ${jsonFile}), but it is missing`);
      const b = fs.readFileSync(file);
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    }));
    return [manifest.flatMap((group) => group.weights), buffers];
  });
  const nodes = graph ? (topology.node as Array<{ name: string }>).map((n) => n.name) : [];
  return { artifacts, graph, nodes };
}

/** Features [B, D]: spatial outputs average-pooled, others flattened. */
function pooled(t: tf.Tensor): tf.Tensor2D {
  const r = t.rank === 4 ? tf.mean(t, [1, 2]) : t;
  return tf.reshape(r, [r.shape[0], -1]) as tf.Tensor2D;
}

/**
 * The class output as probabilities. Rule: an output whose entries all lie in
 * [0, 1] and whose rows sum to 1 within 1e-3 is already p(y|x) (e.g. Keras's
 * softmax `predictions`) and is used as is; anything else is taken as logits
 * and passed through softmax. The check is per batch (one small read).
 */
function asProbabilities(out: tf.Tensor2D): tf.Tensor2D {
  const [min, max, dev] = tf.stack([tf.min(out), tf.max(out), tf.max(tf.abs(tf.sub(tf.sum(out, 1), 1)))]).dataSync();
  return min >= 0 && max <= 1 && dev <= 1e-3 ? out : tf.softmax(out);
}

/**
 * A tfjs model from the local folder `modelDir` (model.json + weight shards,
 * layers-model or graph-model format; see the file comment for getting
 * Inception-v3) as a FeatureNet. Inputs are converted to the model's input
 * size (bilinear resize; 299 for Inception-v3) and channels (grey repeated to
 * RGB), and mapped from [-1, 1] to `inputRange`. A missing folder, a missing
 * or malformed model.json, a missing weight file or an unknown feature
 * layer/node is one error naming the path.
 */
export async function loadInceptionFeatureNet(modelDir: string, opts: InceptionOptions = {}): Promise<FeatureNet> {
  const { artifacts, graph, nodes } = await readModelFolder(modelDir);
  const handler: tf.io.IOHandler = { load: async () => artifacts };
  const kind = graph ? 'graph-model' : 'layers-model';
  let model: tf.LayersModel | tf.GraphModel;
  try {
    model = graph ? await tf.loadGraphModel(handler) : await tf.loadLayersModel(handler);
  } catch (e) {
    throw new Error(`Expected ${path.join(modelDir, 'model.json')} to load as a tfjs ${kind}, but loading failed: ${(e as Error).message}`);
  }
  const release = () => model.dispose();
  let run: (x: tf.Tensor4D) => [tf.Tensor, tf.Tensor];
  if (model instanceof tf.LayersModel) {
    const lm = model;
    let features: tf.SymbolicTensor;
    try {
      const head = [...lm.layers].reverse().find((l) => l.getClassName() === 'Dense');  // the classifier head
      if (opts.featureNode === undefined && head === undefined) throw new Error('the model has no Dense layer; give featureNode');
      features = (opts.featureNode !== undefined ? lm.getLayer(opts.featureNode).output : head!.input) as tf.SymbolicTensor;
    } catch (e) {
      release();
      throw new Error(`Expected feature layer ${opts.featureNode ?? '(the input of the last Dense layer)'} in the model of ${modelDir}, ` +
        `but got: ${(e as Error).message}`);
    }
    const both = tf.model({ inputs: lm.inputs, outputs: [features, lm.outputs[0]] });
    run = (x) => both.predict(x) as [tf.Tensor, tf.Tensor];
  } else {
    const gm = model;
    const outputNode = opts.outputNode ?? gm.outputs[0].name;
    for (const [what, node] of [['featureNode', opts.featureNode], ['outputNode', outputNode]] as const) {
      if (node === undefined || !nodes.includes(node.replace(/:\d+$/, ''))) {
        release();
        throw new Error(`Expected ${what} to name a node of the graph model in ${modelDir}, but got ${JSON.stringify(node)}`);
      }
    }
    run = (x) => gm.execute(x, [opts.featureNode!, outputNode]) as [tf.Tensor, tf.Tensor];
  }
  const fixed = (v: number | null | undefined, open: number) => (v !== null && v !== undefined && v > 0 ? v : open);
  const [, h, w, c] = model.inputs[0].shape ?? [];
  const [height, width, channels] = [fixed(h, opts.resolution ?? 299), fixed(w, opts.resolution ?? 299), fixed(c, 3)];
  const [lo, hi] = opts.inputRange ?? [-1, 1];
  const name = opts.name ?? `inception-v3 (${modelDir})`;
  const apply = (x: tf.Tensor4D) => tf.tidy(() => {
    const fitted = fitInput(x, height, width, channels, false, name);
    const input = lo === -1 && hi === 1 ? fitted : tf.add(tf.mul(tf.add(fitted, 1), (hi - lo) / 2), lo) as tf.Tensor4D;
    const [features, out] = run(input);
    return { features: pooled(features), probs: asProbabilities(tf.reshape(out, [out.shape[0], -1])) };
  });
  // One blank image through the network: K from the real output, and a model that cannot run fails here, not mid-evaluation.
  let numClasses: number;
  try {
    const probe = tf.tidy(() => apply(tf.fill([1, height, width, channels], -1) as tf.Tensor4D));
    numClasses = probe.probs.shape[1];
    tf.dispose([probe.features, probe.probs]);
  } catch (e) {
    release();
    throw new Error(`Expected the ${kind} in ${modelDir} to run on a [1, ${height}, ${width}, ${channels}] input, but it failed: ${(e as Error).message}`);
  }
  return { name, resolution: height, channels, numClasses, testAccuracy: opts.testAccuracy ?? null, apply, dispose: release };
}

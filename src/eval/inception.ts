/**
 * Inception-v3 (or any tfjs model) from a local folder as the FID/IS feature
 * network (feature_net.ts), for figures comparable with the literature.
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
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { FeatureNet, fitInput } from './feature_net';

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

/** Bytes per element of a weight as stored (quantized weights keep their quantized size); null for strings. */
function storedBytes(w: tf.io.WeightsManifestEntry): number | null {
  const q = w.quantization?.dtype;
  const size = q !== undefined ? { uint8: 1, uint16: 2, float16: 2 }[q]
    : { float32: 4, int32: 4, bool: 1, complex64: 8, string: null }[w.dtype];
  return size === undefined ? null : size;
}

/**
 * model.json and its weight shards read with fs (Node's tfjs has no file://
 * handler), each weight group's files checked to hold the bytes its weights
 * need (tfjs would otherwise fail later with a bare RangeError). Shared by
 * the pretrained BigBiGAN loader (src/pretrained/).
 */
export async function readModelFolder(dir: string): Promise<{ artifacts: tf.io.ModelArtifacts; graph: boolean; nodes: string[] }> {
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
    const buffers = manifest.flatMap((group) => {
      const files = group.paths.map((p) => path.join(dir, p));
      const parts = files.map((file) => {
        if (!fs.existsSync(file)) throw new Error(`Expected weight file ${file} (listed in ${jsonFile}), but it is missing`);
        const b = fs.readFileSync(file);
        return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
      });
      const sizes = group.weights.map((w) => {
        const b = storedBytes(w);
        return b === null ? null : b * w.shape.reduce((a, d) => a * d, 1);
      });
      const need = sizes.every((b) => b !== null) ? (sizes as number[]).reduce((a, b) => a + b, 0) : 0;
      const have = parts.reduce((a, b) => a + b.byteLength, 0);
      if (have < need) {
        throw new Error(`Expected the weight files ${files.join(', ')} to hold ${need} bytes for the ${group.weights.length} weights ` +
          `${jsonFile} lists, but they hold ${have}: a copy or conversion was cut short; copy or convert the model again`);
      }
      return parts;
    });
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
 * and passed through softmax. The check is per batch, on the device (a
 * select, no read: webgpu in Node cannot read synchronously).
 */
function asProbabilities(out: tf.Tensor2D): tf.Tensor2D {
  // dev ≤ 1e-3 for a float32 dev is dev < fround(1e-3), the float32 just above 1e-3: exactly the host check.
  const dev = tf.max(tf.abs(tf.sub(tf.sum(out, 1), 1)));
  const inUnitRange = tf.logicalAnd(tf.greaterEqual(tf.min(out), 0), tf.lessEqual(tf.max(out), 1));
  const isProb = tf.logicalAnd(inUnitRange, tf.less(dev, Math.fround(1e-3)));
  return tf.where(isProb, out, tf.softmax(out));
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
    throw new Error(`Expected the ${kind} in ${modelDir} to run on a [1, ${height}, ${width}, ${channels}] input, ` +
                    `but it failed: ${(e as Error).message}`);
  }
  return { name, resolution: height, channels, numClasses, testAccuracy: opts.testAccuracy ?? null, apply, dispose: release };
}

/**
 * A small convnet classifier with explicit variables (tfjs-examples style).
 *
 * It is the kit's smoke test of training on any backend (it exercises the
 * conv2d gradients at strides 1 and 2) and the dataset-specific feature
 * network for FID/IS at small scale (the role Inception-v3 plays for
 * ImageNet): `features` is its penultimate layer, `logits` its output.
 *
 *   x [B, R, R, C] -> conv3x3/2 16 -> ReLU -> conv3x3/1 32 -> ReLU -> conv3x3/2 64 -> ReLU
 *     -> conv3x3/2 128 -> ReLU -> global average pool (features [B, 128]) -> linear (logits [B, K])
 */
import * as tf from '@tensorflow/tfjs';

export interface Classifier {
  channels: number;
  numClasses: number;
  /** conv{i}/w [3, 3, Cin, Cout], conv{i}/b [Cout], head/w [128, K], head/b [K]. */
  params: Record<string, tf.Variable>;
}

/** (output channels, stride) of the conv layers. */
const CONVS: Array<[number, number]> = [[16, 2], [32, 1], [64, 2], [128, 2]];

/** A variable holding make()'s value; the initial tensor is freed (a variable keeps its own copy). */
function variableOf(make: () => tf.Tensor): tf.Variable {
  return tf.tidy(() => tf.variable(make()));
}

/**
 * He-normal initialised classifier; `seed` makes the initial weights reproducible.
 * tf.random* seeds are offset from 1: tfjs takes a seed of 0 as "no seed" (Math.random).
 */
export function createClassifier(channels: number, numClasses: number, seed = 0): Classifier {
  const params: Record<string, tf.Variable> = {};
  let cin = channels;
  CONVS.forEach(([cout], i) => {
    const std = Math.sqrt(2 / (9 * cin));  // He et al. 2015, arXiv:1502.01852
    params[`conv${i}/w`] = variableOf(() => tf.randomNormal([3, 3, cin, cout], 0, std, 'float32', seed + i + 1));
    params[`conv${i}/b`] = variableOf(() => tf.zeros([cout]));
    cin = cout;
  });
  params['head/w'] = variableOf(() => tf.randomNormal([cin, numClasses], 0, Math.sqrt(1 / cin), 'float32', seed + 100));
  params['head/b'] = variableOf(() => tf.zeros([numClasses]));
  return { channels, numClasses, params };
}

/** Penultimate features [B, 128] and logits [B, K] of images x in [-1, 1]. */
export function classify(c: Classifier, x: tf.Tensor4D): { features: tf.Tensor2D; logits: tf.Tensor2D } {
  return tf.tidy(() => {
    let h: tf.Tensor4D = x;  // [B, R, R, C]
    CONVS.forEach(([, stride], i) => {
      h = tf.relu(tf.add(tf.conv2d(h, c.params[`conv${i}/w`] as tf.Tensor4D, stride, 'same'), c.params[`conv${i}/b`])) as tf.Tensor4D;
    });
    const features = tf.mean(h, [1, 2]) as tf.Tensor2D;  // [B, 128]
    const logits = tf.add(tf.matMul(features, c.params['head/w']), c.params['head/b']) as tf.Tensor2D;  // [B, K]
    return { features, logits };
  });
}

/** Mean softmax cross-entropy of x against integer labels. */
export function classifierLoss(c: Classifier, x: tf.Tensor4D, labels: Int32Array): tf.Scalar {
  return tf.tidy(() => {
    const { logits } = classify(c, x);
    const onehot = tf.oneHot(tf.tensor1d(labels, 'int32'), c.numClasses);
    return tf.losses.softmaxCrossEntropy(onehot, logits) as tf.Scalar;
  });
}

/** One optimiser step on a batch; returns the loss before the update (read asynchronously, as webgpu needs). */
export async function classifierTrainStep(c: Classifier, optimizer: tf.Optimizer, x: tf.Tensor4D, labels: Int32Array): Promise<number> {
  const loss = optimizer.minimize(() => classifierLoss(c, x, labels), true, Object.values(c.params)) as tf.Scalar;
  const value = (await loss.data())[0];
  loss.dispose();
  return value;
}

/** Predicted class ids of x. */
export async function predict(c: Classifier, x: tf.Tensor4D): Promise<Int32Array> {
  const ids = tf.tidy(() => tf.argMax(classify(c, x).logits, 1));
  const out = await ids.data() as Int32Array;
  ids.dispose();
  return out;
}

export function disposeClassifier(c: Classifier): void {
  tf.dispose(Object.values(c.params));
}

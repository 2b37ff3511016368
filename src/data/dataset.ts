/**
 * The kit's dataset interface: splits of raw 8-bit pixels kept compactly in
 * one Uint8Array each, and the seeded hold-out that carves `trainVal` out of
 * the original training set.
 *
 * BigBiGAN (Donahue & Simonyan 2019, arXiv:1907.02544) trains without labels;
 * labels are kept only for evaluation (linear probes on E(x), class-wise
 * sample grids, conditional baselines) and never reach the unsupervised loss.
 */
import { Rng } from '../util/rng';
import { DatasetError } from './errors';

/** One split: N images in NHWC order, pixel values 0..255. */
export interface Split {
  name: string;
  /** N*H*W*C bytes, NHWC, 0..255. */
  images: Uint8Array;
  /** N class ids in [0, numClasses); for evaluation only, never for training BigBiGAN. */
  labels: Int32Array;
  count: number;
  height: number;
  width: number;
  channels: number;
}

/**
 * A dataset: `train` and `trainVal` partition the original training set
 * (trainVal is a seeded random hold-out, for model selection and probes
 * without touching `test`); `test` is the original test split.
 */
export interface Dataset {
  name: string;
  numClasses: number;
  classNames?: string[];
  train: Split;
  trainVal: Split;
  test: Split;
}

/**
 * Default size of `trainVal`: 10% of the original training set (6000 for
 * MNIST / Fashion-MNIST, 5000 for CIFAR-10, the usual 45k/5k split there).
 */
export const DEFAULT_TRAIN_VAL_SIZE = 0.1;

/** Builds a Split, checking that the buffers match the shape. */
export function makeSplit(
  name: string, images: Uint8Array, labels: Int32Array,
  height: number, width: number, channels: number,
): Split {
  const count = labels.length;
  const expected = count * height * width * channels;
  if (images.length !== expected) {
    throw new DatasetError(
      `Expected ${expected} bytes of pixels for ${count} images of ${height}x${width}x${channels} in split '${name}', ` +
      `but got ${images.length}`);
  }
  return { name, images, labels, count, height, width, channels };
}

/** Number of bytes of one example. */
export function exampleSize(split: Split): number {
  return split.height * split.width * split.channels;
}

/** The examples at `indices` (in that order), copied into a new compact Split. */
export function subset(split: Split, indices: ArrayLike<number>, name = split.name): Split {
  const size = exampleSize(split);
  const images = new Uint8Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    images.set(split.images.subarray(i * size, (i + 1) * size), k * size);
    labels[k] = split.labels[i];
  }
  return makeSplit(name, images, labels, split.height, split.width, split.channels);
}

/** The first `n` examples as views (no copy); the whole split when n ≥ count. */
export function takeFirst(split: Split, n: number): Split {
  if (n >= split.count) return split;
  const m = Math.max(0, Math.floor(n));
  return makeSplit(split.name, split.images.subarray(0, m * exampleSize(split)), split.labels.subarray(0, m),
    split.height, split.width, split.channels);
}

/**
 * Resolves a hold-out size: a value in (0, 1) is a fraction of `count`
 * (rounded), a whole number ≥ 0 is a count. The result must leave at least
 * one example behind.
 */
export function holdOutCount(size: number, count: number, what = 'trainValSize'): number {
  const n = size > 0 && size < 1 ? Math.round(size * count) : size;
  if (!Number.isInteger(n) || n < 0 || (count > 0 && n >= count)) {
    throw new DatasetError(
      `Expected ${what} to be a fraction in (0, 1) or a whole number in [0, ${count}), but got ${size}`);
  }
  return n;
}

/**
 * Splits `split` into a seeded random hold-out of `size` examples (see
 * holdOutCount) and the rest; both keep the original relative order.
 */
export function holdOut(
  split: Split, size: number, seed: number, names: [string, string], what?: string,
): { rest: Split; heldOut: Split } {
  const { rest, held } = holdOutIndices(split.count, size, seed, what);
  return { rest: subset(split, rest, names[0]), heldOut: subset(split, held, names[1]) };
}

/**
 * The indices holdOut puts in each part of `count` examples: a seeded random
 * `size` (see holdOutCount) held out, both parts in their original order.
 * Shared with lists of image files that are never decoded all at once.
 */
export function holdOutIndices(count: number, size: number, seed: number, what?: string): { rest: number[]; held: number[] } {
  const n = holdOutCount(size, count, what);
  const chosen = new Uint8Array(count);
  const perm = new Rng(seed).permutation(count);
  for (let k = 0; k < n; k++) chosen[perm[k]] = 1;
  const rest: number[] = [];
  const held: number[] = [];
  for (let i = 0; i < count; i++) (chosen[i] ? held : rest).push(i);
  return { rest, held };
}

/** Options shared by all loaders for the train / trainVal hold-out. */
export interface HoldOutOptions {
  /** Size of trainVal (fraction or count, see holdOutCount); default DEFAULT_TRAIN_VAL_SIZE. */
  trainValSize?: number;
  /** Seed of the hold-out permutation; default 0. */
  seed?: number;
}

/** Throws unless every label of `split` lies in [0, numClasses). */
export function checkLabels(split: Split, numClasses: number, dataset: string): void {
  const i = split.labels.findIndex((l) => l < 0 || l >= numClasses);
  if (i >= 0) {
    throw new DatasetError(
      `Expected labels in [0, ${numClasses}) in ${dataset} split '${split.name}', but got ${split.labels[i]} at index ${i}`);
  }
}

/** Assembles a Dataset from the original train and test splits, holding out trainVal. */
export function makeDataset(
  name: string, numClasses: number, classNames: string[] | undefined,
  originalTrain: Split, test: Split, opts: HoldOutOptions = {},
): Dataset {
  for (const split of [originalTrain, test]) checkLabels(split, numClasses, name);
  const { rest, heldOut } = holdOut(
    originalTrain, opts.trainValSize ?? DEFAULT_TRAIN_VAL_SIZE, opts.seed ?? 0, ['train', 'trainVal']);
  return { name, numClasses, classNames, train: rest, trainVal: heldOut, test };
}

/**
 * Seeded, resumable mini-batches over a Split. Each epoch visits every example
 * once in an order that depends only on (seed, epoch), so a checkpoint needs
 * just { epoch, position, rng } (plus seed and count, to catch a mismatched
 * resume) to continue with exactly the same batches and augmentations.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng';
import { Split } from './dataset';
import { DatasetError } from './errors';
import { Augmentation, canvasFor, renderBatch, RenderOptions } from './transform';

/** Options of BatchIterator / batches (resolution and resize as in RenderOptions). */
export interface BatchOptions extends RenderOptions {
  batchSize: number;
  /** Seeds the per-epoch shuffles and the augmentation draws; default 0. */
  seed?: number;
  /** Shuffle each epoch (default true); otherwise examples come in split order. */
  shuffle?: boolean;
  /**
   * Drop the last incomplete batch of each epoch (default true, so every batch
   * has batchSize examples; with shuffling a different remainder is left out
   * each epoch).
   */
  dropLast?: boolean;
  /**
   * Random crop: pad `crop` pixels of background on each side, then cut a
   * random window of the canvas size (the CIFAR recipe of He et al. 2016,
   * arXiv:1512.03385, with crop = 4); i.e. a random shift in [-crop, crop]
   * pixels per axis. Done on the canvas before any resize. Default 0 (off).
   */
  crop?: number;
  /** Mirror left-right with probability 1/2. Default false. */
  flip?: boolean;
}

/** One mini-batch; the consumer disposes x. */
export interface Batch {
  /** float32 in [-1, 1]. */
  x: tf.Tensor4D; // [B, R, R, C]
  /** Class ids, for evaluation only. */
  y: Int32Array;
  /** Indices of the examples in the split. */
  indices: Int32Array;
  /** The epoch the batch belongs to. */
  epoch: number;
}

/** Serialisable iterator state (plain JSON numbers). */
export interface BatchIteratorState {
  seed: number;
  count: number;
  epoch: number;
  position: number;
  /** State of the augmentation Rng. */
  rng: number;
}

/** The order of `epoch`: a permutation seeded by (seed, epoch), or identity. */
function epochOrder(n: number, seed: number, epoch: number, shuffle: boolean): Int32Array {
  if (!shuffle) return Int32Array.from({ length: n }, (_, i) => i);
  return new Rng(Math.imul(seed, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)).permutation(n);
}

function checkWhole(value: number, min: number, what: string): void {
  if (!Number.isInteger(value) || value < min) {
    throw new DatasetError(`Expected ${what} to be a whole number ≥ ${min}, but got ${value}`);
  }
}

/**
 * Endless batches: next() rolls over into the next epoch; iterating with
 * for…of yields the rest of the current epoch.
 */
export class BatchIterator implements Iterable<Batch> {
  /** Batches in one epoch. */
  readonly batchesPerEpoch: number;
  private readonly seed: number;
  private readonly rng: Rng;
  private epoch = 0;
  private position = 0;
  private order?: { epoch: number; indices: Int32Array };

  constructor(readonly split: Split, readonly opts: BatchOptions) {
    checkWhole(opts.batchSize, 1, 'batchSize');
    checkWhole(opts.crop ?? 0, 0, 'crop');
    canvasFor(split, opts); // fail now, not at the first batch
    this.seed = opts.seed ?? 0;
    const full = Math.floor(split.count / opts.batchSize);
    this.batchesPerEpoch = (opts.dropLast ?? true) ? full : Math.ceil(split.count / opts.batchSize);
    if (this.batchesPerEpoch === 0) {
      throw new DatasetError(
        `Expected batchSize ≤ ${split.count} (the size of split '${split.name}', with dropLast), but got ${opts.batchSize}`);
    }
    this.rng = new Rng(Math.imul(this.seed, 0x27d4eb2d) ^ 0x165667b1);
  }

  /** The next batch, starting the next epoch after the last one. */
  next(): Batch {
    const { batchSize } = this.opts;
    const epoch = this.epoch;
    const size = Math.min(batchSize, this.split.count - this.position);
    const indices = this.currentOrder().slice(this.position, this.position + size);
    this.position += size;
    if (this.position + ((this.opts.dropLast ?? true) ? batchSize : 1) > this.split.count) {
      this.epoch++;
      this.position = 0;
    }
    const x = renderBatch(this.split, indices, this.opts, this.drawAugmentation(size));
    return { x, y: indices.map((i) => this.split.labels[i]), indices, epoch };
  }

  /** The remaining batches of the current epoch (all of it, from a fresh state). */
  *[Symbol.iterator](): Generator<Batch> {
    const epoch = this.epoch;
    do yield this.next(); while (this.epoch === epoch);
  }

  getState(): BatchIteratorState {
    return { seed: this.seed, count: this.split.count, epoch: this.epoch, position: this.position, rng: this.rng.getState() };
  }

  /** Resumes from getState() of an iterator built with the same split and options. */
  setState(state: BatchIteratorState): void {
    if (state.seed !== this.seed || state.count !== this.split.count) {
      throw new DatasetError(
        `Expected a state for seed ${this.seed} and ${this.split.count} examples, but got seed ${state.seed} and ${state.count}`);
    }
    checkWhole(state.epoch, 0, 'state.epoch');
    checkWhole(state.position, 0, 'state.position');
    if (state.position >= this.split.count) {
      throw new DatasetError(`Expected state.position < ${this.split.count}, but got ${state.position}`);
    }
    this.epoch = state.epoch;
    this.position = state.position;
    this.rng.setState(state.rng);
  }

  private currentOrder(): Int32Array {
    if (this.order?.epoch !== this.epoch) {
      this.order = { epoch: this.epoch, indices: epochOrder(this.split.count, this.seed, this.epoch, this.opts.shuffle ?? true) };
    }
    return this.order.indices;
  }

  private drawAugmentation(size: number): Augmentation | undefined {
    const crop = this.opts.crop ?? 0;
    const flip = this.opts.flip ?? false;
    if (crop === 0 && !flip) return undefined;
    const aug: Augmentation = { dy: new Int32Array(size), dx: new Int32Array(size), flip: new Uint8Array(size) };
    for (let k = 0; k < size; k++) {
      if (crop > 0) {
        aug.dy[k] = this.rng.int(2 * crop + 1) - crop;
        aug.dx[k] = this.rng.int(2 * crop + 1) - crop;
      }
      if (flip) aug.flip[k] = this.rng.next() < 0.5 ? 1 : 0;
    }
    return aug;
  }
}

/** One epoch of batches from a fresh iterator (e.g. shuffle: false, dropLast: false for evaluation). */
export function* batches(split: Split, opts: BatchOptions): Generator<Batch> {
  yield* new BatchIterator(split, opts);
}

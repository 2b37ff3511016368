/**
 * Batch iterator and rendering: shapes, the [-1, 1] mapping, 28 → 32 padding
 * on a real MNIST digit, bilinear resize, seeded determinism, one visit per
 * example per epoch, exact resume, crop / flip, and no tensor leak.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../src/util/rng';
import { makeSplit, Split } from '../src/data/dataset';
import { loadMnist } from '../src/data/idx';
import { BatchIterator, BatchOptions, batches } from '../src/data/batches';
import { renderBatch, splitToTensor, toUnit } from '../src/data/transform';

/** n random h x w x c images with labels i % 10. */
function randomSplit(n: number, h = 8, w = 8, c = 1, seed = 1): Split {
  const rng = new Rng(seed);
  const images = Uint8Array.from({ length: n * h * w * c }, () => rng.int(256));
  return makeSplit('random', images, Int32Array.from({ length: n }, (_, i) => i % 10), h, w, c);
}

/** Runs `steps` batches, returning indices and pixel values, disposing x. */
function take(it: BatchIterator, steps: number): { indices: number[][]; x: Float32Array[] } {
  const out = { indices: [] as number[][], x: [] as Float32Array[] };
  for (let s = 0; s < steps; s++) {
    const b = it.next();
    out.indices.push(Array.from(b.indices));
    out.x.push(b.x.dataSync() as Float32Array);
    b.x.dispose();
  }
  return out;
}

/** The pixels of one example of a [B, H, W, C] tensor as nested arrays [H][W][C]. */
const example = (x: tf.Tensor4D, k: number) => (x.arraySync() as number[][][][])[k];

before(async () => {
  await tf.setBackend('cpu');
});

describe('rendering', () => {
  const mnist = loadMnist(undefined, { limit: 16, trainValSize: 0 }).train;

  test('pixel p maps to p / 127.5 - 1, in [-1, 1]', () => {
    assert.equal(toUnit(0), -1);
    assert.equal(toUnit(255), 1);
    const x = splitToTensor(mnist, { n: 4 });
    assert.deepEqual(x.shape, [4, 28, 28, 1]);
    const v = x.dataSync();
    v.forEach((val, i) => assert.ok(Math.abs(val - (mnist.images[i] / 127.5 - 1)) < 1e-6));
    assert.ok(Math.min(...v) >= -1 && Math.max(...v) <= 1);
    x.dispose();
  });

  test('padding 28 → 32 centres the digit with a border of -1', () => {
    const x = splitToTensor(mnist, { n: 2, resolution: 32 });
    assert.deepEqual(x.shape, [2, 32, 32, 1]);
    const unpadded = splitToTensor(mnist, { n: 2 });
    const inner = tf.tidy(() => x.slice([0, 2, 2, 0], [2, 28, 28, 1]));
    const border = tf.tidy(() => tf.sub(x.sum(), inner.sum()).dataSync()[0]);
    assert.deepEqual(inner.dataSync(), unpadded.dataSync());
    assert.equal(border, -(32 * 32 - 28 * 28) * 2); // every border pixel is -1
    tf.dispose([x, unpadded, inner]);
  });

  test('resize resamples bilinearly to the resolution; pad cannot shrink', () => {
    const flat = makeSplit('flat', new Uint8Array(2 * 28 * 28).fill(51), Int32Array.of(0, 1), 28, 28, 1);
    for (const r of [16, 64]) {
      const x = splitToTensor(flat, { resolution: r, resize: 'resize' });
      assert.deepEqual(x.shape, [2, r, r, 1]);
      x.dataSync().forEach((v) => assert.ok(Math.abs(v - toUnit(51)) < 1e-5));
      x.dispose();
    }
    assert.throws(() => splitToTensor(flat, { resolution: 16 }), /Expected resolution ≥ 28 to pad 28x28 images, but got 16/);
    assert.throws(() => splitToTensor(flat, { resize: 'zoom' as 'pad', resolution: 32 }),
                  /Expected resize 'pad' or 'resize', but got 'zoom'/);
  });
});

describe('BatchIterator', () => {
  const split = randomSplit(50);

  test('batches have the right shapes, labels and ranges', () => {
    const it = new BatchIterator(randomSplit(20, 8, 8, 3), { batchSize: 6, resolution: 12 });
    assert.equal(it.batchesPerEpoch, 3);
    const b = it.next();
    assert.deepEqual(b.x.shape, [6, 12, 12, 3]);
    assert.equal(b.x.dtype, 'float32');
    assert.deepEqual(Array.from(b.y), Array.from(b.indices, (i) => i % 10));
    const v = b.x.dataSync();
    assert.ok(Math.min(...v) >= -1 && Math.max(...v) <= 1);
    b.x.dispose();
  });

  test('each epoch visits every example once (dropLast off) or drops only the remainder (on)', () => {
    const all = [...batches(split, { batchSize: 8, dropLast: false })];
    assert.deepEqual(all.map((b) => b.indices.length), [8, 8, 8, 8, 8, 8, 2]);
    assert.deepEqual(all.flatMap((b) => Array.from(b.indices)).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
    all.forEach((b) => b.x.dispose());
    const it = new BatchIterator(split, { batchSize: 8 });
    const epochs = [0, 1].map(() => [...it].map((b) => { b.x.dispose(); return Array.from(b.indices); }).flat());
    for (const e of epochs) assert.equal(new Set(e).size, 48);
    assert.notDeepEqual(epochs[0], epochs[1]);
    assert.deepEqual(it.getState().epoch, 2);
  });

  test('same seed gives the same batches, another seed another order, shuffle off the split order', () => {
    const opts: BatchOptions = { batchSize: 10, seed: 3, crop: 2, flip: true };
    const a = take(new BatchIterator(split, opts), 12);
    assert.deepEqual(take(new BatchIterator(split, opts), 12), a);
    assert.notDeepEqual(take(new BatchIterator(split, { ...opts, seed: 4 }), 12).indices, a.indices);
    const plain = take(new BatchIterator(split, { batchSize: 10, shuffle: false }), 2).indices;
    assert.deepEqual(plain, [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]]);
  });

  test('resuming from a JSON round-trip of getState continues identically, across epochs', () => {
    const opts: BatchOptions = { batchSize: 7, seed: 9, crop: 1, flip: true, resolution: 10 };
    const whole = take(new BatchIterator(split, opts), 20);
    const first = new BatchIterator(split, opts);
    take(first, 9);
    const resumed = new BatchIterator(split, opts);
    resumed.setState(JSON.parse(JSON.stringify(first.getState())));
    const rest = take(resumed, 11);
    assert.deepEqual(rest.indices, whole.indices.slice(9));
    assert.deepEqual(rest.x, whole.x.slice(9));
    assert.throws(() => new BatchIterator(split, { ...opts, seed: 1 }).setState(first.getState()),
      /Expected a state for seed 1 and 50 examples, but got seed 9 and 50/);
  });

  test('flip mirrors some images and leaves the rest; off changes nothing', () => {
    const plainIt = new BatchIterator(split, { batchSize: 50, seed: 2 });
    const b = plainIt.next();
    const ref = renderBatch(split, b.indices);
    assert.deepEqual(b.x.dataSync(), ref.dataSync());
    const f = new BatchIterator(split, { batchSize: 50, seed: 2, flip: true }).next();
    const mirrored = tf.reverse(ref, 2);
    let flipped = 0;
    for (let k = 0; k < 50; k++) {
      const got = example(f.x, k);
      if (JSON.stringify(got) !== JSON.stringify(example(ref, k))) {
        assert.deepEqual(got, example(mirrored, k));
        flipped++;
      }
    }
    assert.ok(flipped > 10 && flipped < 40, `flipped ${flipped} of 50`);
    tf.dispose([b.x, ref, f.x, mirrored]);
  });

  test('crop shifts each image by at most crop pixels with background filling in', () => {
    const c = 2;
    const b = new BatchIterator(split, { batchSize: 50, seed: 5, crop: c }).next();
    const padded = renderBatch(split, b.indices, { resolution: 8 + 2 * c }); // background frame of c pixels
    let moved = 0;
    for (let k = 0; k < 50; k++) {
      const got = JSON.stringify(example(b.x, k));
      const windows: string[] = [];
      for (let y = 0; y <= 2 * c; y++) for (let x = 0; x <= 2 * c; x++) {
        windows.push(JSON.stringify(tf.tidy(() => padded.slice([k, y, x, 0], [1, 8, 8, 1]).arraySync()[0])));
      }
      const at = windows.indexOf(got);
      assert.ok(at >= 0, `example ${k} is not a window of its padded image`);
      if (at !== windows.length >> 1) moved++;
    }
    assert.ok(moved > 30, `moved ${moved} of 50`);
    tf.dispose([b.x, padded]);
  });

  test('no tensor leak over an epoch', () => {
    const it = new BatchIterator(split, { batchSize: 8, crop: 1, flip: true, resolution: 16, resize: 'resize' });
    const before = tf.memory().numTensors;
    for (const b of it) b.x.dispose();
    assert.equal(tf.memory().numTensors, before);
  });

  test('impossible options are errors', () => {
    assert.throws(() => new BatchIterator(split, { batchSize: 64 }),
      /Expected batchSize ≤ 50 \(the size of split 'random', with dropLast\), but got 64/);
    assert.throws(() => new BatchIterator(split, { batchSize: 0 }), /Expected batchSize to be a whole number ≥ 1, but got 0/);
    assert.throws(() => new BatchIterator(split, { batchSize: 5, crop: -1 }), /Expected crop to be a whole number ≥ 0, but got -1/);
    assert.throws(() => new BatchIterator(split, { batchSize: 5, resolution: 4 }), /Expected resolution ≥ 8/);
    const it = new BatchIterator(split, { batchSize: 5 });
    assert.throws(() => it.setState({ ...it.getState(), position: 50 }), /Expected state.position < 50, but got 50/);
  });
});

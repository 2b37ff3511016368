/**
 * The random-init baseline's batch-norm statistics (src/eval/features.ts
 * estimateBatchNormStatistics, randomInitModels): after the estimate, E in
 * inference mode computes what E in training mode (batch statistics)
 * computes, and before it does not; the first batch norm's running mean and
 * variance are those of its input, computed here from the images and the stem
 * weight alone; E's weights do not move; no tensor leaks.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/select';
import { Config } from '../src/config';
import { Dataset, loadMnist, makeSplit, splitToTensor } from '../src/data';
import { BN_ESTIMATE_BATCHES, estimateBatchNormStatistics, randomInitKey, randomInitModels, renderOptionsFor } from '../src/eval/features';
import { createModels, disposeModels, Models } from '../src/model/bigbigan';
import { E } from '../src/model/encoder';
import { resolveConfig } from '../src/presets';
import { Rng } from '../src/util/rng';

const TINY: Partial<Config> = {
  zDim: 6, gCh: 4, gMults: [2, 2, 1], gAttention: 8, resolution: 16, eResolution: 16,
  eCh: 4, eMlp: 16, dCh: 8, dMults: [1, 2], dAttention: 8, dMlp: 16, batchSize: 64,
};
const tiny = (over: Partial<Config> = {}): Config => ({ ...resolveConfig('mnist'), ...TINY, ...over });

/** Pearson correlation of two equally long arrays, in float64. */
function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) { ma += a[i] / n; mb += b[i] / n; }
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) ** 2; sbb += (b[i] - mb) ** 2; }
  return sab / Math.sqrt(saa * sbb);
}

/**
 * E's avepool and z_mean on x in inference mode (running statistics) and with
 * batch statistics (what training mode computes, here without updating anything).
 */
function inferenceVsBatchStats(models: Models, x: tf.Tensor4D): { avepool: number; z_mean: number } {
  const out = (batchStats: boolean) => tf.tidy(() => {
    const e = E({ params: models.E!, path: '', training: false, batchStats }, models.cfg, x, tf.zeros([x.shape[0], models.cfg.zDim]));
    return { avepool: e.avepool.dataSync(), z_mean: e.z_mean.dataSync() };
  });
  const running = out(false), batch = out(true);
  return { avepool: correlation(running.avepool, batch.avepool), z_mean: correlation(running.z_mean, batch.z_mean) };
}

/** Every variable of a store as plain arrays, by path. */
const snapshot = (vars: Map<string, tf.Variable>) => new Map([...vars].map(([k, v]) => [k, Array.from(v.dataSync())]));

describe('batch-norm statistics of the random-init E', () => {
  let mnist: Dataset;
  before(async () => {
    await selectBackend({ force: 'wasm', quiet: true });
    mnist = loadMnist(undefined, { limit: 6000 });
  });

  test('after the estimate inference mode computes what batch statistics compute (correlation > 0.99); before, it does not', () => {
    for (const eArch of ['resnet', 'convnet', 'revnet'] as const) {
      const models = createModels(tiny({ eArch }));
      // A batch of 512 training images, as training renders them (no augmentation in this config). Not test images:
      // the first MNIST test images come from one group of writers (NIST SD-3), whose batch statistics differ from
      // the training set's (measured: avepool correlation 0.98 on them, 0.996 on training images). Both sides are
      // sample statistics (the estimate weighs the last ~19 batches of 64, the reference is one batch of 512), so
      // the correlation is not 1: measured 0.9973-0.9993 for these three trunks; 0.99 leaves a margin.
      const x = splitToTensor(mnist.train, { n: 512, ...renderOptionsFor(models.cfg, mnist.train) });
      const fresh = inferenceVsBatchStats(models, x);
      estimateBatchNormStatistics(models, mnist.train);
      const estimated = inferenceVsBatchStats(models, x);
      x.dispose();
      disposeModels(models);
      console.log(`${eArch}: correlation inference vs batch statistics, untrained statistics ${JSON.stringify(fresh)}, ` +
                  `estimated ${JSON.stringify(estimated)}`);
      assert.ok(fresh.avepool < 0.9, `${eArch}: untrained statistics already agree (avepool correlation ${fresh.avepool}): ` +
                                     'the test would not notice a missing estimate');
      assert.ok(estimated.avepool > 0.99 && estimated.z_mean > 0.99, `${eArch}: after the estimate ${JSON.stringify(estimated)}`);
    }
  });

  test("the first batch norm's running mean / variance are those of its input (the stem's output), reset values forgotten", () => {
    // A train split of exactly one batch: every training batch holds the same images (in another order), so with
    // momentum 0.1 the running averages tend to the statistics of the whole split, up to 0.9^100 of the reset values.
    const cfg = tiny({ eArch: 'resnet', batchSize: 12, augmentCrop: 0, augmentFlip: false });
    const R = cfg.eResolution, n = cfg.batchSize, rng = new Rng(7);
    const bytes = Uint8Array.from({ length: n * R * R }, () => rng.int(256));
    const split = makeSplit('train', bytes, new Int32Array(n), R, R, 1);  // R x R already: rendering is x = byte / 127.5 - 1
    const models = createModels(cfg);
    const first = [...models.E!.state.keys()][0];
    assert.equal(first, 'stage0/block0/bn1/running_mean', 'the first batch norm created is the first block\'s bn1');
    const mean = models.E!.state.get('stage0/block0/bn1/running_mean')!, variance = models.E!.state.get('stage0/block0/bn1/running_var')!;
    // must be reset, not averaged from
    tf.tidy(() => { mean.assign(tf.fill(mean.shape, 1000)); variance.assign(tf.fill(variance.shape, 1000)); });

    estimateBatchNormStatistics(models, split);

    // Independently: the stem (a bias-free 3x3 'same' conv) on the images, then per-channel mean and unbiased variance in float64.
    const x = tf.tensor4d(Float32Array.from(bytes, (b) => b / 127.5 - 1), [n, R, R, 1]);
    const h = tf.conv2d(x, models.E!.weights.get('stem/w')! as tf.Tensor4D, 1, 'same');  // [n, R, R, C]
    const values = h.dataSync(), C = h.shape[3], m = n * R * R;
    tf.dispose([x, h]);
    const want = { mean: new Float64Array(C), variance: new Float64Array(C) };
    for (let i = 0; i < values.length; i++) want.mean[i % C] += values[i] / m;
    for (let i = 0; i < values.length; i++) want.variance[i % C] += (values[i] - want.mean[i % C]) ** 2 / (m - 1);
    const got = { mean: mean.dataSync(), variance: variance.dataSync() };
    disposeModels(models);
    for (let c = 0; c < C; c++) {
      assert.ok(Math.abs(got.mean[c] - want.mean[c]) < 1e-4 * (1 + Math.abs(want.mean[c])),
                `channel ${c}: running mean ${got.mean[c]}, input mean ${want.mean[c]}`);
      assert.ok(Math.abs(got.variance[c] - want.variance[c]) < 1e-4 * want.variance[c],
                `channel ${c}: running variance ${got.variance[c]}, input variance ${want.variance[c]}`);
    }
  });

  test('E\'s weights do not move, the estimate is seeded (same seed, same statistics; another seed, others), no tensor leaks', () => {
    const models = createModels(tiny({ augmentCrop: 2 }));  // augmentation as configured: drawn from the seed too
    const weights = snapshot(models.E!.weights), initial = snapshot(models.E!.state);
    const before = tf.memory().numTensors;
    estimateBatchNormStatistics(models, mnist.train, { batches: 20 });
    assert.equal(tf.memory().numTensors, before, 'the estimate leaks tensors');
    assert.deepEqual(snapshot(models.E!.weights), weights, 'the estimate changed E\'s weights');
    const stats = snapshot(models.E!.state);
    assert.notDeepEqual(stats, initial, 'the estimate changed no statistics');
    estimateBatchNormStatistics(models, mnist.train, { batches: 20 });
    assert.deepEqual(snapshot(models.E!.state), stats, 'the same seed gave other statistics');
    estimateBatchNormStatistics(models, mnist.train, { batches: 20, seed: 1 });
    assert.notDeepEqual(snapshot(models.E!.state), stats, 'another seed gave the same statistics');
    assert.throws(() => estimateBatchNormStatistics(models, mnist.train, { batches: 1.5 }),
                  /Expected batches to be a whole number ≥ 0, but got 1.5/);
    disposeModels(models);
  });

  test('randomInitModels is the estimated E of that seed; its cache key names the estimate', () => {
    const cfg = tiny();
    const before = tf.memory().numTensors;
    const random = randomInitModels(cfg, 3, mnist.train, { batches: 10 });
    const own = createModels({ ...cfg, seed: 3 });
    estimateBatchNormStatistics(own, mnist.train, { batches: 10 });  // seed defaults to cfg.seed = 3
    assert.deepEqual(snapshot(random.E!.weights), snapshot(own.E!.weights));
    assert.deepEqual(snapshot(random.E!.state), snapshot(own.E!.state));
    disposeModels(random);
    disposeModels(own);
    assert.equal(tf.memory().numTensors, before, 'randomInitModels leaks tensors');
    const key = randomInitKey(cfg, 3);
    assert.match(key.fingerprint, new RegExp(`bn-estimated-${BN_ESTIMATE_BATCHES}`));
    assert.notEqual(randomInitKey(cfg, 3, { batches: 10 }).fingerprint, key.fingerprint);
  });
});

/**
 * Representation evaluation (src/eval/features.ts, src/eval/probe.ts): the
 * linear probe learns separable data and stays at chance on random labels,
 * k-NN matches a brute-force computation in plain JS, E's features are
 * batch-independent and cached per checkpoint, and a tiny end-to-end report
 * carries the trained, random-init and pixel rows.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/select';
import { Config } from '../src/config';
import { Dataset, loadMnist, splitToTensor, takeFirst } from '../src/data';
import {
  cachedFeatures, checkpointKey, encoderFeatures, estimateBatchNormStatistics, Features, featureCacheFile, randomInitModels, writeFeatures,
} from '../src/eval/features';
import { evaluateRepresentation, formatRepresentationReport, knnAccuracy, linearProbe, probeGradients } from '../src/eval/probe';
import { createModels, disposeModels, Models } from '../src/model/bigbigan';
import { encoderFeatureDims } from '../src/model/encoder';
import { resolveConfig } from '../src/presets';
import { Rng } from '../src/util/rng';

const TINY: Partial<Config> = {
  zDim: 6, gCh: 4, gMults: [2, 2, 1], gAttention: 8, resolution: 16, eResolution: 16,
  eCh: 4, eMlp: 16, dCh: 8, dMults: [1, 2], dAttention: 8, dMlp: 16, batchSize: 8,
};
const tiny = (over: Partial<Config> = {}): Config => ({ ...resolveConfig('mnist'), ...TINY, ...over });
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'eval-probe-'));

/** Standard normal draws (Box-Muller) from a seeded Rng. */
function normals(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next()));
}

/** n points of C Gaussian clusters (unit noise around centres drawn with std `spread`), labels in turn. */
function clusters(rng: Rng, centres: Float32Array, C: number, d: number, n: number): { f: Features; labels: Int32Array } {
  const noise = normals(rng, n * d);
  const labels = Int32Array.from({ length: n }, (_, i) => i % C);
  const data = noise.map((v, i) => v + centres[labels[Math.floor(i / d)] * d + (i % d)]);
  return { f: { data, n, d }, labels };
}

const randomLabels = (rng: Rng, n: number, C: number) => Int32Array.from({ length: n }, () => rng.int(C));

describe('linear probe', () => {
  before(async () => { await selectBackend({ force: 'wasm', quiet: true }); });

  test('the closed-form gradients equal autodiff of the mean cross-entropy plus (wd / 2)·‖w‖²', () => {
    const rng = new Rng(2), B = 6, d = 4, C = 3, wd = 0.3;
    const x = tf.tensor2d(normals(rng, B * d), [B, d]), w = tf.tensor2d(normals(rng, d * C), [d, C]), b = tf.tensor1d(normals(rng, C));
    const y = tf.oneHot(tf.tensor1d(randomLabels(rng, B, C), 'int32'), C).toFloat() as tf.Tensor2D;
    const loss = (w_: tf.Tensor, b_: tf.Tensor) =>
      tf.add(tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(x, w_ as tf.Tensor2D), b_)),
             tf.mul(wd / 2, tf.sum(tf.square(w_)))) as tf.Scalar;
    const [gw, gb] = tf.grads(loss)([w, b]);
    const { dw, db } = probeGradients(x, y, w, b, wd);
    for (const [got, want, name] of [[dw, gw, 'dw'], [db, gb, 'db']] as const) {
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]);
      assert.ok(diff < 1e-5, `${name} differs from autodiff by ${diff}`);
    }
    tf.dispose([x, w, b, y, gw, gb, dw, db]);
  });

  test('separable clusters reach ~100%, random labels stay near chance, same seed gives the same numbers', async () => {
    const C = 8, d = 16, rng = new Rng(1);
    const centres = normals(rng, C * d).map((v) => 3 * v);
    const train = clusters(rng, centres, C, d, 400), test = clusters(rng, centres, C, d, 400);
    const before = tf.memory().numTensors;
    const run = () => linearProbe(train.f, train.labels, { test: { features: test.f, labels: test.labels } },
                                  { numClasses: C, seed: 3, epochs: 150 });
    const a = await run();
    assert.equal(tf.memory().numTensors, before, 'the probe leaks tensors');
    assert.ok(a.top1.test >= 0.97, `separable top-1 ${a.top1.test}`);
    assert.ok(a.trainTop1 >= 0.97, `separable train top-1 ${a.trainTop1}`);
    assert.ok(a.top5.test >= a.top1.test);
    const hits = a.predictions.test.filter((p, i) => p === test.labels[i]).length;
    assert.equal(hits / test.labels.length, a.top1.test, 'the predictions are the top-1 classes');
    assert.deepEqual(await run(), a, 'two runs with the same seed differ');

    const noiseTrain = { data: normals(rng, 400 * d), n: 400, d }, noiseTest = { data: normals(rng, 1000 * d), n: 1000, d };
    const r = await linearProbe(noiseTrain, randomLabels(rng, 400, C),
                                { test: { features: noiseTest, labels: randomLabels(rng, 1000, C) } },
                                { numClasses: C, seed: 3, epochs: 150 });
    assert.ok(Math.abs(r.top1.test - 1 / C) < 0.06, `random labels: top-1 ${r.top1.test}, chance ${1 / C}`);
    assert.ok(r.top5.test >= r.top1.test && Math.abs(r.top5.test - 5 / C) < 0.1, `random labels: top-5 ${r.top5.test}`);
    await assert.rejects(() => linearProbe(noiseTrain, new Int32Array(400).fill(C), {}, { numClasses: C }),
      /Expected training labels in \[0, 8\), but got 8 at index 0/);
  });
});

/** k-NN by brute force: cosine similarity in float64, full sort, majority with ties to the nearest tied class. */
function bruteKnn(train: Features, trainLabels: Int32Array, query: Features, queryLabels: Int32Array, k: number, C: number) {
  const row = (f: Features, i: number) => Array.from(f.data.subarray(i * f.d, (i + 1) * f.d));
  const cos = (u: number[], v: number[]) => {
    const dot = u.reduce((s, x, j) => s + x * v[j], 0);
    return dot / Math.sqrt(u.reduce((s, x) => s + x * x, 0) * v.reduce((s, x) => s + x * x, 0));
  };
  let correct = 0, ties = 0, outvoted = 0;
  for (let q = 0; q < query.n; q++) {
    const sims = Array.from({ length: train.n }, (_, i) => ({ i, s: cos(row(query, q), row(train, i)) }));
    const ranked = sims.sort((a, b) => b.s - a.s).slice(0, k).map((x) => trainLabels[x.i]);
    const votes = new Array(C).fill(0);
    for (const c of ranked) votes[c]++;
    const top = Math.max(...votes);
    const tied = votes.map((v, c) => (v === top ? c : -1)).filter((c) => c >= 0);
    const pick = tied.sort((a, b) => ranked.indexOf(a) - ranked.indexOf(b))[0];
    if (tied.length > 1) ties++;
    if (pick !== ranked[0]) outvoted++;
    if (pick === queryLabels[q]) correct++;
  }
  return { acc: correct / query.n, ties, outvoted };
}

describe('k-NN', () => {
  before(async () => { await selectBackend({ force: 'wasm', quiet: true }); });

  test('matches a brute-force cosine k-NN (k = 1, 3, 5) with its tie rule, in several chunks', async () => {
    const rng = new Rng(5), C = 4, d = 5;
    const train: Features = { data: normals(rng, 60 * d), n: 60, d }, query: Features = { data: normals(rng, 40 * d), n: 40, d };
    for (let j = 0; j < d; j++) train.data[7 * d + j] *= 9;  // scale must not matter to the cosine
    const trainLabels = randomLabels(rng, 60, C), queryLabels = randomLabels(rng, 40, C);
    const before = tf.memory().numTensors;
    const got = await knnAccuracy(train, trainLabels, query, queryLabels, [1, 3, 5], { chunk: 7 });
    assert.equal(tf.memory().numTensors, before, 'k-NN leaks tensors');
    assert.deepEqual(await knnAccuracy(train, trainLabels, query, queryLabels, [1, 3, 5]), got, 'the chunk size changes the result');
    for (const k of [1, 3, 5]) {
      const want = bruteKnn(train, trainLabels, query, queryLabels, k, C);
      assert.equal(got[k], want.acc, `k = ${k}: ${got[k]} vs brute force ${want.acc}`);
      if (k > 1) {
        assert.ok(want.ties > 0 && want.outvoted > 0,
                  `k = ${k}: the data must exercise ties (${want.ties}) and majorities (${want.outvoted})`);
      }
    }
    await assert.rejects(() => knnAccuracy(train, trainLabels, query, queryLabels, [61]),
                         /Expected each k of k-NN to be a whole number in \[1, 60\], but got 61/);
  });
});

describe('encoder features', () => {
  let mnist: Dataset;
  let models: Models;
  before(async () => {
    await selectBackend({ force: 'wasm', quiet: true });
    mnist = loadMnist(undefined, { limit: 300 });
    models = createModels(tiny());
  });

  test('shapes per kind, batch-independent (inference-mode BN), pixels as E sees them; no leaked tensors', async (t) => {
    const cfg = models.cfg, dims = encoderFeatureDims(cfg);
    // Running statistics away from (0, 1), so that bn_crelu shows which statistics E used.
    const state = (name: string) => [...models.E!.state].find(([k]) => k.endsWith(`bn_crelu/running_${name}`))![1];
    const saved = [state('mean').clone(), state('var').clone()];
    state('mean').assign(tf.randomUniform([dims.avepool], -0.5, 0.5, 'float32', 1));
    state('var').assign(tf.randomUniform([dims.avepool], 0.5, 2, 'float32', 2));
    t.after(() => { state('mean').assign(saved[0]); state('var').assign(saved[1]); tf.dispose(saved); });
    const before = tf.memory().numTensors;
    const kinds = ['z_mean', 'avepool', 'bn_crelu', 'pixels'] as const;
    const small = await encoderFeatures(models, mnist.test, [...kinds], { limit: 20, batchSize: 7 });
    const whole = await encoderFeatures(models, mnist.test, [...kinds], { limit: 20, batchSize: 20 });
    assert.equal(tf.memory().numTensors, before, 'feature extraction leaks tensors');
    const wantD = { z_mean: cfg.zDim, avepool: dims.avepool, bn_crelu: 2 * dims.avepool, pixels: 16 * 16 };
    for (const k of kinds) {
      assert.deepEqual([small[k].n, small[k].d, small[k].data.length], [20, wantD[k], 20 * wantD[k]], k);
      const diff = small[k].data.reduce((m, v, i) => Math.max(m, Math.abs(v - whole[k].data[i])), 0);
      assert.ok(diff <= 1e-5, `${k}: batches of 7 (last one 6) differ from one batch of 20 by ${diff}`);
    }
    // bn_crelu = [ReLU(n), ReLU(-n)], n = (avepool - running_mean) / sqrt(running_var + 1e-5).
    const mean = state('mean').dataSync(), variance = state('var').dataSync(), D = dims.avepool;
    let bnDiff = 0;
    for (let i = 0; i < 20; i++) {
      for (let j = 0; j < D; j++) {
        const n = (small.avepool.data[i * D + j] - mean[j]) / Math.sqrt(variance[j] + 1e-5);
        bnDiff = Math.max(bnDiff, Math.abs(small.bn_crelu.data[i * 2 * D + j] - Math.max(0, n)),
                          Math.abs(small.bn_crelu.data[i * 2 * D + D + j] - Math.max(0, -n)));
      }
    }
    assert.ok(bnDiff <= 1e-4, `bn_crelu differs from the running-statistics formula by ${bnDiff}`);
    // 28 -> 16 is a resize; the same tensor as the evaluation renderer gives.
    const x = splitToTensor(mnist.test, { n: 20, resolution: 16, resize: 'resize' });
    assert.deepEqual(small.pixels.data, x.dataSync());
    x.dispose();
    // 28 -> 32 is a pad of 2 background pixels each side: checked pixel by pixel.
    const padded = (await encoderFeatures({ ...models, cfg: { ...cfg, eResolution: 32 } }, mnist.test, ['pixels'], { limit: 3 })).pixels;
    assert.equal(padded.d, 32 * 32);
    for (let i = 0; i < 3; i++) {
      for (let y = 0; y < 32; y++) {
        for (let xx = 0; xx < 32; xx++) {
          const inside = y >= 2 && y < 30 && xx >= 2 && xx < 30;
          const want = inside ? mnist.test.images[i * 784 + (y - 2) * 28 + (xx - 2)] / 127.5 - 1 : -1;
          assert.ok(Math.abs(padded.data[i * 1024 + y * 32 + xx] - want) < 1e-6, `pixel (${i}, ${y}, ${xx})`);
        }
      }
    }
  });

  test('cache: the second call reads the file, another checkpoint recomputes, a damaged file is recomputed', async () => {
    const dir = tmp();
    let computed = 0;
    const compute = () => { computed++; return { data: Float32Array.from([1, 2, 3, 4, 5, 6]), n: 2, d: 3 }; };
    const file = path.join(dir, 'f.bin');
    const first = await cachedFeatures(file, compute), second = await cachedFeatures(file, compute);
    assert.equal(computed, 1, 'the second call computed again');
    assert.deepEqual(second, first);
    fs.truncateSync(file, 20);
    await cachedFeatures(file, compute);
    assert.equal(computed, 2, 'a damaged cache file was served');

    const ckpt = path.join(dir, 'ckpt-00000004.bin');
    fs.writeFileSync(ckpt, 'weights of step 4');
    const key = checkpointKey(ckpt);
    assert.equal(key.tag, 'step00000004');
    const opts = { limit: 10, cache: { dir: path.join(dir, 'eval'), key } };
    const real = (await encoderFeatures(models, mnist.test, ['z_mean'], opts)).z_mean;
    const cacheFile = featureCacheFile(opts.cache.dir, key, takeFirst(mnist.test, 10), 'z_mean');
    assert.ok(fs.existsSync(cacheFile), `expected ${cacheFile}`);
    const marker = { data: new Float32Array(real.n * real.d).fill(42), n: real.n, d: real.d };
    writeFeatures(cacheFile, marker);  // a spy: served from the file if and only if it returns the marker
    assert.deepEqual((await encoderFeatures(models, mnist.test, ['z_mean'], opts)).z_mean, marker);
    const limited = await encoderFeatures(models, mnist.test, ['z_mean'], { ...opts, limit: 9 });
    assert.deepEqual(limited.z_mean.data, real.data.subarray(0, 9 * real.d), 'another limit must not be served the cached features');
    fs.writeFileSync(ckpt, 'weights of step 4, trained further');  // a newer checkpoint under the same name
    const newer = checkpointKey(ckpt);
    assert.notEqual(newer.fingerprint, key.fingerprint);
    const renewed = await encoderFeatures(models, mnist.test, ['z_mean'], { ...opts, cache: { ...opts.cache, key: newer } });
    assert.deepEqual(renewed.z_mean, real);
  });

  test('evaluateRepresentation: trained, random-init and pixels rows through the same code; pixels classify MNIST', async () => {
    const dir = tmp(), ckpt = path.join(dir, 'ckpt-00000000.bin');
    fs.writeFileSync(ckpt, 'stands for the checkpoint of `models`');
    const before = tf.memory().numTensors;
    // An untrained E whose batch-norm statistics are estimated as the random-init baseline's are (same seed, same batches).
    const untrained = createModels(tiny());
    estimateBatchNormStatistics(untrained, mnist.train);
    const start = Date.now();
    const report = await evaluateRepresentation(untrained, mnist, { cacheDir: path.join(dir, 'eval'), checkpoint: ckpt });
    const seconds = (Date.now() - start) / 1000;
    disposeModels(untrained);
    assert.equal(tf.memory().numTensors, before, 'the evaluation leaks tensors');
    assert.deepEqual([report.n_train, report.n_trainval, report.n_test], [mnist.train.count, mnist.trainVal.count, mnist.test.count]);
    assert.deepEqual(report.rows.map((r) => `${r.source}/${r.feature}`),
      ['trained/z_mean', 'trained/avepool', 'trained/bn_crelu', 'random-init/z_mean', 'random-init/avepool', 'random-init/bn_crelu',
       'pixels/pixels']);
    for (const r of report.rows) {
      for (const v of [r.probe_top1_trainval, r.probe_top5_trainval, r.probe_top1_test, r.probe_top5_test, r.knn1_test, r.knn10_test]) {
        assert.ok(v !== null && v >= 0 && v <= 1, `${r.source}/${r.feature}: ${v}`);
      }
      assert.ok(r.probe_top5_test! >= r.probe_top1_test!);
    }
    // `untrained` is, and the random-init seed defaults to cfg.seed: the baseline is this E at step 0, its statistics estimated.
    assert.equal(report.random_init_bn_batches, 100);
    const { rows } = report;
    for (let i = 0; i < 3; i++) assert.deepEqual({ ...rows[i + 3], source: 'trained' }, rows[i]);
    const pixels = rows[6];
    assert.ok(pixels.probe_top1_test! > 0.5 && pixels.knn1_test! > 0.5,
              `pixels: probe ${pixels.probe_top1_test}, 1-NN ${pixels.knn1_test}`);
    assert.equal(fs.readdirSync(path.join(dir, 'eval')).filter((f) => f.endsWith('.bin')).length, 2 * 3 * 3,
                 'cache files (2 models x 3 kinds x 3 splits)');
    const table = formatRepresentationReport(report);
    assert.equal(table.split('\n').length, 2 + rows.length);
    assert.ok(table.includes((100 * pixels.probe_top1_test!).toFixed(1)), table);
    console.log(`${table}\n(${seconds.toFixed(1)} s)`);
    const other = randomInitModels(models.cfg, models.cfg.seed + 1, mnist.train, { batches: 2 });
    const path0 = [...models.E!.weights.keys()][0];
    assert.notDeepEqual(other.E!.weights.get(path0)!.dataSync(), models.E!.weights.get(path0)!.dataSync(), 'another seed, other weights');
    assert.equal(other.G.weights.size + other.D.weights.size, 0, 'the random-init models keep only E');
    disposeModels(other);
  });
});

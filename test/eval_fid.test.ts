import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/select';
import { Dataset, loadMnist, splitToTensor } from '../src/data';
import { datasetFeatureNet, FeatureNet } from '../src/eval/feature_net';
import { featureStats, frechetDistance, GaussianStats, inceptionScore } from '../src/eval/fid';
import { Rng } from '../src/util/rng';

/** Standard normal draws (Box–Muller) from the kit's seeded Rng. */
function normals(rng: Rng, count: number): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rng.next())), t = 2 * Math.PI * rng.next();
    out[i] = r * Math.cos(t);
    if (i + 1 < count) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

/** Exact stats from a mean and a row-major covariance (n is irrelevant to frechetDistance). */
const stats = (mean: number[], cov: number[]): GaussianStats =>
  ({ n: 0, d: mean.length, mean: Float64Array.from(mean), cov: Float64Array.from(cov) });
const diag = (v: number[]) => v.flatMap((x, i) => v.map((_, j) => (i === j ? x : 0)));

/** R diag(l1, l2) Rᵀ for the rotation by `angle`, row-major 2x2. */
function rotated2(l1: number, l2: number, angle: number): number[] {
  const c = Math.cos(angle), s = Math.sin(angle);
  return [c * c * l1 + s * s * l2, c * s * (l1 - l2), c * s * (l1 - l2), s * s * l1 + c * c * l2];
}

/**
 * Tr((A B)^½) for 2x2 SPD A, B in closed form: AB has eigenvalues λ1, λ2 ≥ 0,
 * and (√λ1 + √λ2)² = tr(AB) + 2√det(AB).
 */
function traceSqrt2(a: number[], b: number[]): number {
  const ab = [a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3], a[2] * b[0] + a[3] * b[2], a[2] * b[1] + a[3] * b[3]];
  return Math.sqrt(ab[0] + ab[3] + 2 * Math.sqrt(ab[0] * ab[3] - ab[1] * ab[2]));
}

/** n samples of N(mean, L Lᵀ) with L the lower Cholesky factor given row-major. */
function sample(rng: Rng, n: number, mean: number[], chol: number[]): Float32Array {
  const d = mean.length, z = normals(rng, n * d), out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < d; a++) {
      let v = mean[a];
      for (let b = 0; b <= a; b++) v += chol[a * d + b] * z[i * d + b];
      out[i * d + a] = v;
    }
  }
  return out;
}

/** Lower Cholesky factor of a 2x2 SPD matrix. */
const chol2 = (m: number[]) => { const l0 = Math.sqrt(m[0]), l1 = m[2] / l0; return [l0, 0, l1, Math.sqrt(m[3] - l1 * l1)]; };
/** Block-diagonal [[A (2x2), 0], [0, diag(v)]] row-major. */
const block = (a: number[], v: number[]) => {
  const d = 2 + v.length, m = new Array(d * d).fill(0);
  [m[0], m[1], m[d], m[d + 1]] = a;
  v.forEach((x, i) => { m[(i + 2) * d + i + 2] = x; });
  return m;
};

describe('featureStats and frechetDistance', () => {
  test('mean and unbiased covariance of a hand-computed 3x2 example', () => {
    // rows (1,2), (3,4), (5,0): mean (3,2); centred (-2,0), (0,2), (2,-2); Σ = [[8,-4],[-4,8]] / 2.
    const s = featureStats(Float32Array.from([1, 2, 3, 4, 5, 0]), 3, 2);
    assert.deepEqual([...s.mean], [3, 2]);
    assert.deepEqual([...s.cov], [4, -2, -2, 4]);
  });

  test('a set against itself is 0 (relative to its total variance)', () => {
    const rng = new Rng(3), d = 16;
    const feats = Float32Array.from(normals(rng, 300 * d), (v, i) => v * (1 + (i % d)) + (i % 3));
    const s = featureStats(feats, 300, d);
    let trace = 0;
    for (let j = 0; j < d; j++) trace += s.cov[j * d + j];
    assert.ok(frechetDistance(s, s) <= 1e-6 * 2 * trace, `FID(s, s) = ${frechetDistance(s, s)}, total variance ${2 * trace}`);
  });

  test('exact stats: commuting (diagonal, one singular) covariances match Σ(√a − √b)² + |Δμ|²', () => {
    const a = [1, 4, 0, 2.5], b = [9, 1, 2, 2.5], ma = [0, 1, 2, 3], mb = [1, 1, 0, 3];
    const expected = a.reduce((s, x, i) => s + (Math.sqrt(x) - Math.sqrt(b[i])) ** 2, 0) + 1 + 4;
    const got = frechetDistance(stats(ma, diag(a)), stats(mb, diag(b)));
    assert.ok(Math.abs(got - expected) <= 1e-10 * expected, `${got} vs ${expected}`);
  });

  test('exact stats: non-commuting (rotated) covariances match the 2x2 closed form', () => {
    const a = rotated2(3, 0.5, 0.4), b = rotated2(1, 2, -1.1);
    const expected = a[0] + a[3] + b[0] + b[3] - 2 * traceSqrt2(a, b) + 0.5 ** 2;
    const got = frechetDistance(stats([0, 0], a), stats([0.5, 0], b));
    assert.ok(Math.abs(got - expected) <= 1e-10 * expected, `${got} vs ${expected}`);
    assert.ok(Math.abs(got - frechetDistance(stats([0, 0], b), stats([0.5, 0], a))) <= 1e-10 * expected, 'not symmetric');
  });

  test('two Gaussian samples (d = 4, n = 20000) give the FID of the true distributions within sampling error', () => {
    const rng = new Rng(11), n = 20000;
    const m1 = [0, 0, 0, 0], m2 = [1, 0, 0.5, 0];
    const a1 = [1, 0, 0, 2], a2 = rotated2(3, 0.5, Math.PI / 6);  // 2x2 blocks; the other two axes diagonal
    const v1 = [0.5, 1], v2 = [1, 2];
    const truth = 1 + 0.25 + a1[0] + a1[3] + a2[0] + a2[3] - 2 * traceSqrt2(a1, a2)
      + v1.reduce((s, x, i) => s + (Math.sqrt(x) - Math.sqrt(v2[i])) ** 2, 0);
    const s1 = featureStats(sample(rng, n, m1, block(chol2(a1), v1.map(Math.sqrt))), n, 4);
    const s2 = featureStats(sample(rng, n, m2, block(chol2(a2), v2.map(Math.sqrt))), n, 4);
    // Truth 2.319; over 20 other seeds the estimate had mean 2.316 and standard deviation 0.031: 0.13 is > 4 sigma.
    const got = frechetDistance(s1, s2);
    assert.ok(Math.abs(got - truth) <= 0.13, `FID of the samples ${got}, of the distributions ${truth}`);
  });

  test('mismatched or malformed inputs are clear errors', () => {
    assert.throws(() => frechetDistance(stats([0, 0, 0], diag([1, 1, 1])), stats([0, 0, 0, 0], diag([1, 1, 1, 1]))),
      /Expected two GaussianStats of the same dimension, but got d = 3 and d = 4/);
    assert.throws(() => featureStats(new Float32Array(10), 3, 3),
                  /Expected the features of featureStats to hold n\*d = 3\*3 = 9 values, but got 10/);
    assert.throws(() => featureStats(new Float32Array(3), 1, 3), /Expected the features of featureStats to have n ≥ 2 rows/);
    assert.throws(() => frechetDistance({ ...stats([0, 0], diag([1, 1])), cov: new Float64Array(3) }, stats([0, 0], diag([1, 1]))),
      /Expected the first GaussianStats to have a mean of 2 and a covariance of 4 values, but got 2 and 3/);
  });
});

describe('inceptionScore', () => {
  const k = 5;
  const oneHot = (rows: number, at: (i: number) => number) =>
    Float32Array.from({ length: rows * k }, (_, i) => (i % k === at(Math.floor(i / k)) ? 1 : 0));

  test('uniform predictions score 1; confident predictions spread evenly over k classes score k', () => {
    const uniform = inceptionScore(new Float32Array(40 * k).fill(1 / k), 40, k, 4);
    assert.ok(Math.abs(uniform.mean - 1) < 1e-6 && uniform.std < 1e-6, JSON.stringify(uniform));
    const spread = inceptionScore(oneHot(40, (i) => i % k), 40, k, 4);
    assert.ok(Math.abs(spread.mean - k) < 1e-6 && spread.std < 1e-6, JSON.stringify(spread));
  });

  test('two symmetric soft classes score 2 q^q (1 − q)^(1 − q)', () => {
    const q = 0.8, probs = Float32Array.from({ length: 20 }, (_, i) => ((i >> 1) % 2 === i % 2 ? q : 1 - q));
    const got = inceptionScore(probs, 10, 2, 1).mean;
    const expected = 2 * q ** q * (1 - q) ** (1 - q);
    assert.ok(Math.abs(got - expected) < 1e-6, `${got} vs ${expected}`);
  });

  test('splits are consecutive parts: a uniform half and a confident half give mean (1 + k)/2, std (k − 1)/2', () => {
    const probs = new Float32Array(20 * k);
    probs.fill(1 / k, 0, 10 * k);
    probs.set(oneHot(10, (i) => i % k), 10 * k);
    const got = inceptionScore(probs, 20, k, 2);
    assert.ok(Math.abs(got.mean - (1 + k) / 2) < 1e-6 && Math.abs(got.std - (k - 1) / 2) < 1e-6, JSON.stringify(got));
    const one = inceptionScore(probs.subarray(0, 3 * k), 3, k);  // n < splits: one split
    assert.ok(Math.abs(one.mean - 1) < 1e-6 && one.std === 0, JSON.stringify(one));
  });

  test('bad probabilities and shapes are clear errors', () => {
    assert.throws(() => inceptionScore(new Float32Array(12).fill(0.5), 4, 3),
                  /Expected every row of probabilities to sum to 1, but row 0 sums to 1\.5/);
    assert.throws(() => inceptionScore(new Float32Array(12), 3, 3),
                  /Expected the probabilities of inceptionScore to hold n\*d = 3\*3 = 9 values, but got 12/);
  });
});

describe('FID with the dataset feature net', () => {
  let mnist: Dataset, net: FeatureNet;
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fid-'));
  before(async () => {
    await selectBackend({ force: 'wasm', quiet: true });
    mnist = loadMnist(undefined, { limit: 600 });
    net = await datasetFeatureNet(mnist, { resolution: 32, steps: 30, batchSize: 32, cacheDir, quiet: true });
  });
  after(() => { net.dispose(); fs.rmSync(cacheDir, { recursive: true, force: true }); });

  test('FID to clean test digits rises monotonically with the std of Gaussian noise added to train digits', (t) => {
    const n = 400;
    const featuresOf = (x: tf.Tensor4D): GaussianStats => {
      const { features, probs } = net.apply(x);
      const s = featureStats(features.dataSync() as Float32Array, n, features.shape[1]);
      tf.dispose([features, probs]);
      return s;
    };
    const ref = tf.tidy(() => splitToTensor(mnist.test, { n, resolution: 32 }));
    const train = splitToTensor(mnist.train, { n, resolution: 32 });
    const refStats = featuresOf(ref);
    const fids = [0, 0.3, 0.6, 1].map((std) => {
      const noisy = tf.tidy(() => tf.clipByValue(tf.add(train, tf.randomNormal(train.shape, 0, std, 'float32', 5)), -1, 1) as tf.Tensor4D);
      const fid = frechetDistance(refStats, featuresOf(noisy));
      noisy.dispose();
      return fid;
    });
    tf.dispose([ref, train]);
    t.diagnostic(`FID by noise std 0, 0.3, 0.6, 1: ${fids.map((v) => v.toFixed(3))}`);
    fids.forEach((f, i) => i > 0 && assert.ok(f > fids[i - 1], `FID by noise std 0, 0.3, 0.6, 1: ${fids.map((v) => v.toFixed(3))}`));
  });
});

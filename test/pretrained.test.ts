/**
 * The released-BigBiGAN loader (src/pretrained/model.ts) on a graph-model folder of the same format
 * (test/pretrained_fixture.ts): the graphs' numbers against the same computation in plain tf ops from the
 * fixture's weights (cpu backend), the kit's input conventions, and one clear error for each way a folder
 * can be wrong.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/select';
import { loadPretrained, PretrainedBigBiGAN } from '../src/pretrained/model';
import { FIXTURE, FixtureWeights, writePretrainedFixture } from './pretrained_fixture';

const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

/** Largest |a − b| (same shapes required). */
function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** The weight `name` of a fixture graph as a tensor. */
const weight = (w: FixtureWeights, name: string) => tf.tensor(w[name].data, w[name].shape);
const conv = (w: FixtureWeights, name: string, x: tf.Tensor4D, stride: number) =>
  tf.add(tf.conv2d(x, weight(w, `${name}/w`) as tf.Tensor4D, stride, 'same'), weight(w, `${name}/b`)) as tf.Tensor4D;
const dense = (w: FixtureWeights, name: string, x: tf.Tensor2D) =>
  tf.add(tf.matMul(x, weight(w, `${name}/w`) as tf.Tensor2D), weight(w, `${name}/b`)) as tf.Tensor2D;

/** E of the fixture in plain ops: what encodeGraph wires up. */
function referenceE(w: FixtureWeights, x: tf.Tensor4D) {
  return tf.tidy(() => {
    const bn = (p: string) => weight(w, `e/bn1/${p}`) as tf.Tensor1D;
    const h1 = tf.relu(tf.batchNorm(conv(w, 'e/conv1', x, 2), bn('mean'), bn('variance'), bn('offset'), bn('scale'), FIXTURE.eps));
    const pool = tf.mean(tf.relu(conv(w, 'e/conv2', h1 as tf.Tensor4D, 1)), [1, 2]) as tf.Tensor2D;   // [B, 8]
    const affine = tf.add(tf.mul(pool, weight(w, 'e/bn2/gain')), weight(w, 'e/bn2/shift'));
    return {
      avepool: pool, bn_crelu: tf.concat([tf.relu(affine), tf.relu(tf.neg(affine))], 1),
      z_mean: dense(w, 'e/mu', pool), sigma: tf.softplus(dense(w, 'e/sigma', pool)),
    };
  });
}

/** G of the fixture in plain ops. */
const referenceG = (w: FixtureWeights, z: tf.Tensor2D) => tf.tidy(() => {
  const h = tf.relu(tf.reshape(dense(w, 'g/fc', z), [-1, 4, 4, 8])) as tf.Tensor4D;
  return tf.tanh(conv(w, 'g/conv', tf.image.resizeNearestNeighbor(h, [FIXTURE.gSide, FIXTURE.gSide]), 1));
});

/** D's three scores of the fixture in plain ops. */
const referenceD = (w: FixtureWeights, x: tf.Tensor4D, z: tf.Tensor2D) => tf.tidy(() => {
  const f = tf.mean(tf.relu(conv(w, 'd/F/conv', x, 2)), [1, 2]) as tf.Tensor2D;
  const h = tf.relu(dense(w, 'd/H/fc', z));
  const j = tf.relu(dense(w, 'd/J/fc', tf.concat([f, h], 1)));
  const score = (name: string, t: tf.Tensor2D) => tf.reshape(dense(w, name, t), [-1]);
  return { score_x: score('d/score_x', f), score_z: score('d/score_z', h), score_xz: score('d/score_xz', j) };
});

before(async () => { await selectBackend({ force: 'cpu', quiet: true }); });

describe('pretrained BigBiGAN on a fixture of the released format', () => {
  const dir = tmp('pretrained-');
  let weights: ReturnType<typeof writePretrainedFixture>, model: PretrainedBigBiGAN;
  before(async () => {
    weights = writePretrainedFixture(dir);
    model = await loadPretrained(dir);
  });
  after(() => { model.dispose(); fs.rmSync(dir, { recursive: true, force: true }); });

  test('sizes come from the graphs: E side, G side, z and feature sizes', () => {
    assert.deepEqual([model.eResolution, model.gResolution, model.zDim], [FIXTURE.eSide, FIXTURE.gSide, FIXTURE.zDim]);
    assert.deepEqual(model.featureDims, { avepool: FIXTURE.avepool, bn_crelu: FIXTURE.bnCrelu });
  });

  test('encode, generate and discriminate equal the same computation in plain tf ops from the weights', () => {
    const x = tf.randomUniform([3, FIXTURE.eSide, FIXTURE.eSide, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
    const z = tf.randomNormal([3, FIXTURE.zDim], 0, 1, 'float32', 4) as tf.Tensor2D;
    const xD = tf.randomUniform([3, FIXTURE.gSide, FIXTURE.gSide, 3], -1, 1, 'float32', 5) as tf.Tensor4D;
    const e = model.encode(x), ref = referenceE(weights.encode, x);
    for (const k of ['avepool', 'bn_crelu', 'z_mean'] as const) assert.ok(maxDiff(e[k], ref[k]) < 1e-5, `${k} differs`);
    assert.ok(tf.tidy(() => tf.max(tf.abs(ref.avepool)).dataSync()[0]) > 1e-2, 'the features are all ~0: the check would be empty');
    const g = model.generate(z), gRef = referenceG(weights.generate, z);
    assert.ok(maxDiff(g, gRef) < 1e-5, 'G(z) differs');
    const d = model.discriminate(xD, z), dRef = referenceD(weights.discriminate, xD, z);
    for (const k of ['score_x', 'score_z', 'score_xz'] as const) assert.ok(maxDiff(d[k], dRef[k]) < 1e-5, `${k} differs`);
    tf.dispose([x, z, xD, e, ref, g, gRef, d, dRef]);
  });

  test('z_sample is z_mean + sigma * eps with eps ~ N(0, 1), drawn anew each call', () => {
    const x = tf.randomUniform([200, FIXTURE.eSide, FIXTURE.eSide, 3], -1, 1, 'float32', 6) as tf.Tensor4D;
    const a = model.encode(x), b = model.encode(x), ref = referenceE(weights.encode, x);
    const eps = tf.div(tf.sub(a.z_sample, ref.z_mean), ref.sigma);
    const { mean, variance } = tf.moments(eps);
    const [m, v] = [mean.dataSync()[0], variance.dataSync()[0]];
    assert.ok(Math.abs(m) < 0.1 && Math.abs(v - 1) < 0.15, `eps has mean ${m} and variance ${v}`);
    assert.ok(maxDiff(a.z_mean, b.z_mean) === 0 && maxDiff(a.z_sample, b.z_sample) > 0.1, 'z_mean must repeat, z_sample must not');
    tf.dispose([x, a, b, ref, eps, mean, variance]);
  });

  test("E resizes any image size (bilinear, half-pixel centres) and grey to its side; D resizes x to G's side", () => {
    const big = tf.randomUniform([2, 20, 28, 1], -1, 1, 'float32', 7) as tf.Tensor4D;
    const fitted = tf.image.resizeBilinear(tf.tile(big, [1, 1, 1, 3]) as tf.Tensor4D, [FIXTURE.eSide, FIXTURE.eSide], false, true);
    const a = model.encode(big), b = model.encode(fitted);
    assert.ok(maxDiff(a.avepool, b.avepool) < 1e-6);
    const z = tf.zeros([2, FIXTURE.zDim]) as tf.Tensor2D;
    const x16 = tf.randomUniform([2, 16, 16, 3], -1, 1, 'float32', 8) as tf.Tensor4D;
    const pooled = tf.avgPool(x16, 2, 2, 'valid');  // the paper's 2x2 average pooling of E's input for D
    assert.ok(maxDiff(model.discriminate(x16, z).score_x, model.discriminate(pooled, z).score_x) < 1e-6);
    tf.dispose([big, fitted, a, b, z, x16, pooled]);
  });

  test('memory stays flat over many calls of each signature', () => {
    const x = tf.randomUniform([4, 20, 20, 3], -1, 1) as tf.Tensor4D;
    const step = () => {
      const e = model.encode(x), g = model.generate(e.z_mean), d = model.discriminate(g, e.z_sample);
      tf.dispose([e, g, d]);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 30; i++) step();
    assert.equal(tf.memory().numTensors, before);
    x.dispose();
  });
});

/** Renames node `from` to `to` in dir/<sig>/model.json, and every input that names it. */
function renameNode(file: string, from: string, to: string): void {
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  for (const n of json.modelTopology.node) {
    if (n.name === from) n.name = to;
    n.input = n.input.map((i: string) => (i === from ? to : i));
  }
  fs.writeFileSync(file, JSON.stringify(json));
}

/** Edits the nodes of a model.json. */
function editNodes(file: string, edit: (n: { name: string; op: string; input: string[]; attr: Record<string, any> }) => void): void {
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  json.modelTopology.node.forEach(edit);
  fs.writeFileSync(file, JSON.stringify(json));
}

const placeholderShape = (shape: number[]) => ({ shape: { dim: shape.map((size) => ({ size: String(size) })) } });

describe('a folder that does not match is one clear error naming the file', () => {
  const root = tmp('pretrained-bad-');
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  const hint = /: convert the TF-Hub module again with scripts\/convert_bigbigan\.py \(README, 'The released BigBiGAN'\)$/;
  const cases: Array<[string, (dir: string) => void, RegExp]> = [
    ['a missing signature folder', (d) => fs.rmSync(path.join(d, 'discriminate'), { recursive: true }),
     /^Expected the folder \S+\/discriminate \(signature 'discriminate' of a converted BigBiGAN\), but it is missing/],
    ['a missing model.json', (d) => fs.rmSync(path.join(d, 'generate', 'model.json')),
     /^Expected \S+\/generate\/model\.json \(a tfjs model\), but the folder has no model\.json \(signature 'generate'\)/],
    ['a wrong input name', (d) => renameNode(path.join(d, 'encode', 'model.json'), 'x', 'images'),
     /^Expected \S+\/encode\/model\.json to have the inputs 'x' of signature 'encode', but it has 'images' \[\?, 16, 16, 3\]/],
    ['a missing input', (d) => renameNode(path.join(d, 'discriminate', 'model.json'), 'z', 'latent'),
     /^Expected \S+\/discriminate\/model\.json to have the inputs 'x' and 'z' of signature 'discriminate', but it has 'x' .*'latent'/],
    ['a wrong input rank', (d) => editNodes(path.join(d, 'encode', 'model.json'), (n) => {
      if (n.name === 'x') n.attr.shape = placeholderShape([-1, 16, 48]);
    }), /^Expected input 'x' of \S+\/encode\/model\.json to have rank 4 \(batch first\), but its shape is \[\?, 16, 48\]/],
    ['a non-square image input', (d) => editNodes(path.join(d, 'encode', 'model.json'), (n) => {
      if (n.name === 'x') n.attr.shape = placeholderShape([-1, 16, 12, 3]);
    }), /^Expected input 'x' of \S+\/encode\/model\.json to have shape \[batch, S, S, 3\] .*, but it has \[\?, 16, 12, 3\]/],
    ['z sizes that disagree', (d) => editNodes(path.join(d, 'generate', 'model.json'), (n) => {
      if (n.name === 'z') n.attr.shape = placeholderShape([-1, 7]);
    }), /^Expected input 'z' of \S+\/discriminate\/model\.json to have size 7 like \S+\/generate\/model\.json, but it has 6/],
    ['a renamed output', (d) => renameNode(path.join(d, 'encode', 'model.json'), 'avepool_feat', 'avgpool'),
     /^Expected \S+\/encode\/model\.json to have an output node named 'avepool_feat' \(signature 'encode'\), but the graph has none/],
    ['an output of the wrong shape', (d) => editNodes(path.join(d, 'discriminate', 'model.json'), (n) => {
      if (n.name === 'score_x') n.input = ['d/score_x/bias'];
    }), /^Expected output 'score_x' of \S+\/discriminate\/model\.json to have shape \[2\] for a batch of 2, but it has \[2, 1\]/],
    ['a weights file that is too short', (d) => {
      const file = path.join(d, 'generate', 'group1-shard2of2.bin');
      fs.writeFileSync(file, fs.readFileSync(file).subarray(0, 100));
    }, new RegExp(/^Expected the weight files \S+\/generate\/group1-shard1of2\.bin, \S+\/generate\/group1-shard2of2\.bin /.source +
                  /to hold \d+ bytes for the \d+ weights \S+\/generate\/model\.json lists, but they hold \d+: /.source +
                  /a copy or conversion was cut short/.source)],
    ['a missing weights file', (d) => fs.rmSync(path.join(d, 'encode', 'group1-shard1of2.bin')),
     /^Expected weight file \S+\/encode\/group1-shard1of2\.bin \(listed in \S+\/encode\/model\.json\), but it is missing/],
  ];
  for (const [what, damage, message] of cases) {
    test(what, async () => {
      const dir = path.join(root, what.replace(/\W+/g, '-'));
      writePretrainedFixture(dir);
      damage(dir);
      const before = tf.memory().numTensors;
      await assert.rejects(loadPretrained(dir), (e: Error) => {
        assert.match(e.message, message);
        assert.match(e.message, hint);
        assert.ok(!e.message.includes('\n'), `more than one line: ${e.message}`);
        return true;
      });
      assert.equal(tf.memory().numTensors, before, 'a refused folder leaves tensors behind');
    });
  }

  test('only the signatures asked for are needed', async () => {
    const dir = path.join(root, 'no-discriminate');
    writePretrainedFixture(dir);
    fs.rmSync(path.join(dir, 'discriminate'), { recursive: true });
    const model = await loadPretrained(dir, { signatures: ['encode', 'generate'] });
    assert.equal(model.gResolution, FIXTURE.gSide);
    const x = tf.zeros([1, 8, 8, 3]) as tf.Tensor4D, z = tf.zeros([1, FIXTURE.zDim]) as tf.Tensor2D;
    assert.throws(() => model.discriminate(x, z),
                  /Expected the 'discriminate' signature to be loaded from .*, but loadPretrained was given encode, generate/);
    tf.dispose([x, z]);
    model.dispose();
  });
});

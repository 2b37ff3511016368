import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/select';
import { Dataset, loadMnist, splitToTensor } from '../src/data';
import { datasetFeatureNet, FeatureNet, featureNetCacheFile } from '../src/eval/feature_net';
import { loadInceptionFeatureNet } from '../src/eval/inception';
import { syncReadsDuring } from './kernels_used';

const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

/** Largest |a − b| over two tensors of the same shape. */
function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
  const v = d.dataSync()[0];
  d.dispose();
  return v;
}

before(async () => { await selectBackend({ force: 'wasm', quiet: true }); });

describe('datasetFeatureNet', () => {
  let mnist: Dataset, net: FeatureNet, file: string;
  const cacheDir = tmp('fnet-');
  const opts = { resolution: 32, steps: 40, batchSize: 32, seed: 1, cacheDir, quiet: true };
  before(async () => {
    mnist = loadMnist(undefined, { limit: 600 });
    net = await datasetFeatureNet(mnist, opts);
    file = featureNetCacheFile(mnist, opts);
  });
  after(() => { net.dispose(); fs.rmSync(cacheDir, { recursive: true, force: true }); });

  test('it trains, writes the cache file and reports its measured test accuracy', () => {
    assert.ok(fs.existsSync(file), `no cache file ${file}`);
    assert.equal(path.dirname(path.dirname(file)), path.join(cacheDir, 'feature-nets'));
    const x = splitToTensor(mnist.test, { resolution: 32 });
    const { features, probs } = net.apply(x);
    const predicted = tf.tidy(() => tf.argMax(probs, 1));
    const ids = predicted.dataSync();
    const accuracy = mnist.test.labels.filter((l, i) => l === ids[i]).length / mnist.test.count;
    tf.dispose([x, features, probs, predicted]);
    assert.ok(net.testAccuracy !== null && Math.abs(net.testAccuracy - accuracy) <= 2 / mnist.test.count,
      `reported ${net.testAccuracy}, recomputed ${accuracy}`);
    assert.ok(accuracy > 0.3, `test accuracy ${accuracy} after 40 steps is not above chance (0.1)`);
  });

  test('shapes, probabilities summing to 1, same outputs for 28x28 (padded) or RGB input, flat memory', () => {
    const x32 = splitToTensor(mnist.test, { n: 8, resolution: 32 });
    const x28 = splitToTensor(mnist.test, { n: 8 });
    const rgb = tf.tile(x28, [1, 1, 1, 3]) as tf.Tensor4D;
    const a = net.apply(x32), b = net.apply(x28), c = net.apply(rgb);
    assert.deepEqual(a.features.shape, [8, 128]);
    assert.deepEqual(a.probs.shape, [8, 10]);
    const sums = tf.tidy(() => tf.sum(a.probs, 1));
    sums.dataSync().forEach((s) => assert.ok(Math.abs(s - 1) < 1e-5, `row sums to ${s}`));
    assert.ok(maxDiff(a.features, b.features) < 1e-6 && maxDiff(a.probs, c.probs) < 1e-6, 'padding or channel conversion differs');
    tf.dispose([sums, a.features, a.probs, b.features, b.probs, c.features, c.probs]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.dispose(Object.values(net.apply(x28)));
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([x32, x28, rgb]);
  });

  test('a second call loads the cache without training (the file is untouched, a retrain would differ)', async () => {
    const mtime = fs.statSync(file).mtimeMs, tensors = tf.memory().numTensors;
    // Same name, count and shape, but scrambled labels: training on it could not reproduce the cached weights.
    const scrambled: Dataset = { ...mnist, train: { ...mnist.train, labels: mnist.train.labels.map((l) => (l + 3) % 10) } };
    const again = await datasetFeatureNet(scrambled, opts);
    const x = splitToTensor(mnist.test, { n: 16, resolution: 32 });
    const a = net.apply(x), b = again.apply(x);
    assert.equal(maxDiff(a.features, b.features), 0);
    assert.equal(maxDiff(a.probs, b.probs), 0);
    assert.equal(again.testAccuracy, net.testAccuracy);
    assert.equal(fs.statSync(file).mtimeMs, mtime);
    tf.dispose([x, a.features, a.probs, b.features, b.probs]);
    again.dispose();
    assert.equal(tf.memory().numTensors, tensors, 'tensors left after dispose');
  });

  test('training is reproducible: the default seed 0 in two cache folders gives the same network', async () => {
    const part = loadMnist(undefined, { limit: 100 });
    const nets = [];
    for (const dir of [tmp('fnet-a-'), tmp('fnet-b-')]) {
      nets.push(await datasetFeatureNet(part, { resolution: 16, steps: 2, batchSize: 16, cacheDir: dir, quiet: true }));
    }
    const x = splitToTensor(part.test, { n: 8 });
    const [a, b] = nets.map((n) => n.apply(x));
    assert.equal(maxDiff(a.features, b.features), 0);
    tf.dispose([x, a.features, a.probs, b.features, b.probs]);
    for (const n of nets) n.dispose();
  });

  test('a damaged cache file is one clear error naming it', async () => {
    const other = tmp('fnet-bad-');
    const bad = featureNetCacheFile(mnist, { ...opts, cacheDir: other });
    fs.mkdirSync(path.dirname(bad), { recursive: true });
    fs.writeFileSync(bad, fs.readFileSync(file).subarray(0, 200));
    await assert.rejects(datasetFeatureNet(mnist, { ...opts, cacheDir: other }),
      (e: Error) => e.message.startsWith(`Feature-net cache file ${bad} is damaged:`) && /Delete it to retrain/.test(e.message));
    fs.rmSync(other, { recursive: true, force: true });
  });
});

/** Saves a layers model as the tfjs converter lays it out: model.json + two weight shards. */
async function saveTfjsFolder(model: tf.LayersModel, dir: string): Promise<void> {
  await model.save(tf.io.withSaveHandler(async (art) => {
    const data = Buffer.from(tf.io.CompositeArrayBuffer.join(art.weightData!));
    const half = Math.floor(data.length / 8) * 4;
    fs.writeFileSync(path.join(dir, 'group1-shard1of2.bin'), data.subarray(0, half));
    fs.writeFileSync(path.join(dir, 'group1-shard2of2.bin'), data.subarray(half));
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({
      format: art.format, generatedBy: art.generatedBy, convertedBy: art.convertedBy, modelTopology: art.modelTopology,
      weightsManifest: [{ paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'], weights: art.weightSpecs }],
    }));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
}

/** conv → global pool → dense (features) → dense (classes), on 8x8 RGB. */
function smallModel(activation: 'softmax' | 'linear'): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({
    inputShape: [8, 8, 3], filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
  }));
  m.add(tf.layers.globalAveragePooling2d({ name: 'pool' }));
  m.add(tf.layers.dense({ units: 6, activation: 'relu', name: 'feat' }));
  m.add(tf.layers.dense({ units: 5, activation, name: 'out' }));
  return m;
}

describe('loadInceptionFeatureNet', () => {
  let x: tf.Tensor4D;
  before(() => { x = tf.randomUniform([3, 8, 8, 3], -1, 1, 'float32', 7) as tf.Tensor4D; });
  after(() => x.dispose());

  test('a saved layers model gives its own features (input of the last Dense, or a named layer) and probabilities', async () => {
    const before = tf.memory().numTensors;
    const model = smallModel('softmax');
    const dir = tmp('incep-');
    await saveTfjsFolder(model, dir);
    const grey = tf.randomUniform([3, 8, 8, 1], -1, 1, 'float32', 8) as tf.Tensor4D;
    const big = tf.randomUniform([3, 16, 16, 3], -1, 1, 'float32', 9) as tf.Tensor4D;
    const cases: Array<[string, Parameters<typeof loadInceptionFeatureNet>[1], tf.Tensor4D, tf.Tensor4D]> = [
      ['feat', {}, x, x],
      ['pool', { featureNode: 'pool' }, x, x],
      ['feat', {}, grey, tf.tile(grey, [1, 1, 1, 3]) as tf.Tensor4D],
      ['feat', {}, big, tf.image.resizeBilinear(big, [8, 8], false, true)],
      ['feat', { inputRange: [0, 1] }, x, tf.tidy(() => tf.div(tf.add(x, 1), 2)) as tf.Tensor4D],
    ];
    for (const [layer, opts, input, seen] of cases) {
      const net = await loadInceptionFeatureNet(dir, opts);
      assert.deepEqual([net.resolution, net.channels, net.numClasses, net.testAccuracy], [8, 3, 5, null]);
      const got = net.apply(input);
      const truth = tf.model({ inputs: model.inputs, outputs: [model.getLayer(layer).output as tf.SymbolicTensor, model.outputs[0]] })
        .predict(seen) as tf.Tensor[];
      assert.ok(maxDiff(got.features, truth[0]) < 1e-6, `features of ${layer} with ${JSON.stringify(opts)}`);
      assert.ok(maxDiff(got.probs, truth[1]) < 1e-6, `probs with ${JSON.stringify(opts)}`);
      tf.dispose([got.features, got.probs, ...truth, seen === input ? [] : seen]);
      net.dispose();
    }
    tf.dispose([grey, big]);
    model.dispose();
    assert.equal(tf.memory().numTensors, before, 'tensors left after dispose');
  });

  test('a model that ends in logits gets a softmax; an unknown feature layer is a clear error', async () => {
    const model = smallModel('linear');
    const dir = tmp('incep-logits-');
    await saveTfjsFolder(model, dir);
    await assert.rejects(loadInceptionFeatureNet(dir, { featureNode: 'nope' }),
                         new RegExp(`Expected feature layer nope in the model of ${dir}, but got: .*nope`));
    const net = await loadInceptionFeatureNet(dir);
    const reads = await syncReadsDuring(() => tf.dispose(Object.values(net.apply(x))));
    assert.deepEqual([...reads.keys()], [],
                     'Expected the logits-or-probabilities check to read nothing back synchronously (webgpu in Node cannot)');
    const { features, probs } = net.apply(x);
    const expected = tf.tidy(() => tf.softmax(model.predict(x) as tf.Tensor2D));
    assert.ok(maxDiff(probs, expected) < 1e-6);
    tf.dispose([features, probs, expected]);
    net.dispose();
    model.dispose();
  });

  test('a graph model: features and probabilities from named nodes, checked against plain arithmetic', async () => {
    const dir = tmp('incep-graph-');
    const w = Float32Array.from({ length: 12 }, (_, i) => (i - 5) / 4);  // [3, 4]
    const attrT = { T: { type: 'DT_FLOAT' } };
    const node = (name: string, op: string, input: string[], attr: object = attrT) => ({ name, op, input, attr });
    const constant = (name: string, dtype: string, dims: number[]) => node(name, 'Const', [], {
      dtype: { type: dtype }, value: { tensor: { dtype, tensorShape: { dim: dims.map((size) => ({ size: String(size) })) } } } });
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({
      format: 'graph-model',
      modelTopology: { node: [
        node('x', 'Placeholder', [], {
          dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [-1, 8, 8, 3].map((size) => ({ size: String(size) })) } },
        }),
        constant('axes', 'DT_INT32', [2]), constant('w', 'DT_FLOAT', [3, 4]),
        node('feat', 'Mean', ['x', 'axes'], { ...attrT, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } }),
        node('logits', 'MatMul', ['feat', 'w'], { ...attrT, transpose_a: { b: false }, transpose_b: { b: false } }),
        node('probs', 'Softmax', ['logits']),
      ], library: {}, versions: {} },
      weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'axes', shape: [2], dtype: 'int32' },
                                                      { name: 'w', shape: [3, 4], dtype: 'float32' }] }],
    }));
    fs.writeFileSync(path.join(dir, 'w.bin'), Buffer.concat([Buffer.from(Int32Array.from([1, 2]).buffer), Buffer.from(w.buffer)]));
    await assert.rejects(loadInceptionFeatureNet(dir), /Expected featureNode to name a node of the graph model in .*, but got undefined/);
    const net = await loadInceptionFeatureNet(dir, { featureNode: 'feat' });
    const { features, probs } = net.apply(x);
    const pixels = Array.from(x.dataSync()), f = features.dataSync(), p = probs.dataSync();
    for (let b = 0; b < 3; b++) {
      const mean = [0, 1, 2].map((c) => pixels.filter((_, i) => Math.floor(i / 192) === b && i % 3 === c).reduce((s, v) => s + v, 0) / 64);
      const logits = [0, 1, 2, 3].map((k) => mean.reduce((s, m, c) => s + m * w[c * 4 + k], 0));
      const z = logits.map((l) => Math.exp(l)), total = z.reduce((s, v) => s + v, 0);
      mean.forEach((m, c) => assert.ok(Math.abs(f[b * 3 + c] - m) < 1e-5, `feature ${b},${c}: ${f[b * 3 + c]} vs ${m}`));
      z.forEach((v, k) => assert.ok(Math.abs(p[b * 4 + k] - v / total) < 1e-5, `prob ${b},${k}`));
    }
    tf.dispose([features, probs]);
    net.dispose();
  });

  test('a missing folder, a folder without model.json, a foreign JSON or a missing shard is one clear error naming the path', async () => {
    const missing = path.join(os.tmpdir(), 'no-such-inception-dir');
    await assert.rejects(loadInceptionFeatureNet(missing),
                         new RegExp(`Expected a folder holding a tfjs model .* at ${missing}, but there is none`));
    const empty = tmp('incep-empty-');
    await assert.rejects(loadInceptionFeatureNet(empty),
                         new RegExp(`Expected ${path.join(empty, 'model.json')} \\(a tfjs model\\), but the folder has no model.json`));
    fs.writeFileSync(path.join(empty, 'model.json'), JSON.stringify({ hello: 1 }));
    await assert.rejects(loadInceptionFeatureNet(empty),
                         /to be a tfjs layers-model or graph-model .*, but got format undefined with keys hello/);
    const dir = tmp('incep-shard-');
    const model = smallModel('softmax');
    await saveTfjsFolder(model, dir);
    model.dispose();
    fs.rmSync(path.join(dir, 'group1-shard2of2.bin'));
    await assert.rejects(loadInceptionFeatureNet(dir),
                         new RegExp(`Expected weight file ${path.join(dir, 'group1-shard2of2.bin')} .*, but it is missing`));
  });
});

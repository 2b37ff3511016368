/**
 * The paper's evaluation on the released-format fixture (src/pretrained/evaluate.ts and `bigbigan eval
 * --pretrained`): streamed features equal E on the whole decoded folder, the probe separates two colour
 * classes, pictures are written, features are cached, memory stays flat; the CLI prints the table and refuses
 * a folder with a renamed output in one line.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/select';
import { imageFolderFiles, loadImageFolder, splitToTensor } from '../src/data';
import { evaluatePretrained, formatPretrainedReport, pretrainedFeatures } from '../src/pretrained/evaluate';
import { loadPretrained, PretrainedBigBiGAN } from '../src/pretrained/model';
import { FIXTURE, writeColourFolder, writePretrainedFixture } from './pretrained_fixture';

const CLI = path.join(__dirname, '..', 'src', 'cli.js');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pretrained-eval-'));
const modelDir = path.join(root, 'model'), images = path.join(root, 'images');

/** Width and height of a PNG file (IHDR). */
function pngSize(file: string): [number, number] {
  const b = fs.readFileSync(file);
  assert.equal(b.subarray(1, 4).toString(), 'PNG', `${file} is not a PNG`);
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
}

before(async () => {
  await selectBackend({ force: 'wasm', quiet: true });
  writePretrainedFixture(modelDir);
  writeColourFolder(images, 12);
});
after(() => fs.rmSync(root, { recursive: true, force: true }));

describe('evaluatePretrained', () => {
  let model: PretrainedBigBiGAN;
  before(async () => { model = await loadPretrained(modelDir, { signatures: ['encode', 'generate'] }); });
  after(() => model.dispose());

  test('streamed features, in batches of 5, equal E on the whole folder decoded by loadImageFolder', async () => {
    const files = imageFolderFiles(images);
    const streamed = await pretrainedFeatures(model, files.train, ['avepool', 'bn_crelu'], { batchSize: 5 });
    const ds = await loadImageFolder(images, { resolution: FIXTURE.eSide, trainValSize: 0 });
    assert.deepEqual(Array.from(ds.train.labels), files.train.map((f) => f.label));
    const x = splitToTensor(ds.train);
    const e = model.encode(x);
    for (const k of ['avepool', 'bn_crelu'] as const) {
      assert.deepEqual([streamed[k].n, streamed[k].d], e[k].shape);
      const want = e[k].dataSync();
      const worst = streamed[k].data.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i])), 0);
      assert.ok(worst < 1e-5, `${k}: streamed features differ by ${worst}`);
    }
    tf.dispose([x, e]);
  });

  test('the probe separates the colour classes, pictures are written, and a second run reads the cached features', async () => {
    const outDir = path.join(root, 'eval');
    const report = await evaluatePretrained(model, images, { outDir, batchSize: 8 });
    assert.deepEqual([report.numClasses, report.n_train, report.n_val], [2, 24, 12]);
    assert.deepEqual(report.rows.map((r) => [r.feature, r.dim]), [['avepool', FIXTURE.avepool], ['bn_crelu', FIXTURE.bnCrelu]]);
    for (const r of report.rows) assert.ok(r.top1 >= 0.9, `${r.feature}: top-1 ${r.top1} on two colour classes`);
    // Of 12 val images, whole rows of 8: x, G(z_mean), G(z_sample): 3 rows of 8x8 tiles, 1 px apart.
    assert.deepEqual(pngSize(report.reconstructions!), [8 * 8 + 7, 3 * 8 + 2]);
    assert.deepEqual(pngSize(report.samples!), [8 * 8 + 7, 2 * 8 + 1]);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(outDir, 'pretrained-eval.json'), 'utf8')).rows, report.rows);
    assert.match(formatPretrainedReport(report),
                 /avepool +8 +\d+\.\d +\d+\.\d[\s\S]*arXiv:1907\.02544, Table 2[\s\S]*ResNet-50 avepool 55\.4\/77\.4/);
    let calls = 0;
    const counting = { ...model, encode: (x: tf.Tensor4D) => { calls++; return model.encode(x); } };
    const again = await evaluatePretrained(counting, images, { outDir, batchSize: 8, pictures: 0 });
    assert.equal(calls, 0, 'features were computed again instead of read from the cache');
    assert.deepEqual(again.rows, report.rows);
    const elsewhere = await evaluatePretrained(counting, images, { outDir: path.join(root, 'eval2'), batchSize: 8, pictures: 0 });
    assert.equal(calls, 5, 'another cache folder computes the features: 3 train and 2 val batches of 8');
    assert.deepEqual(elsewhere.rows, report.rows);
  });

  test('memory stays flat while many batches stream through', async () => {
    const files = imageFolderFiles(images).train;
    await pretrainedFeatures(model, files.slice(0, 2), ['avepool'], { batchSize: 1 });
    const before = tf.memory().numTensors;
    const f = await pretrainedFeatures(model, files, ['avepool', 'bn_crelu'], { batchSize: 1 });
    assert.equal(f.avepool.n, 24);
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('bigbigan eval --pretrained', () => {
  const run = (...args: string[]) => {
    const env = { ...process.env, BIGBIGAN_BACKEND: 'wasm' };
    const r = spawnSync(process.execPath, [CLI, 'eval', ...args], { encoding: 'utf8', env });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  test('prints the probe table and writes the grids', () => {
    const out = path.join(root, 'cli-eval');
    const r = run('--pretrained', modelDir, '--data', 'imagefolder', '--set', `dataPath=${images}`, '--out', out, '--batch', '8');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Linear probe of .* on images \(2 classes\): trained on 24 train images, scored on 12 val images/);
    assert.match(r.out, /^bn_crelu +16 /m);
    for (const f of ['reconstructions.png', 'samples.png', 'pretrained-eval.json']) assert.ok(fs.existsSync(path.join(out, f)), f);
  });

  test('a folder with a renamed output, or a setting it cannot use, is refused in one sentence', () => {
    const bad = path.join(root, 'renamed');
    writePretrainedFixture(bad);
    const file = path.join(bad, 'generate', 'model.json');
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    for (const n of json.modelTopology.node) {
      if (n.name === 'default') n.name = 'image';
      n.input = n.input.map((i: string) => (i === 'default' ? 'image' : i));
    }
    fs.writeFileSync(file, JSON.stringify(json));
    const r = run('--pretrained', bad, '--data', 'imagefolder', '--set', `dataPath=${images}`);
    assert.equal(r.code, 1);
    const lines = r.err.trim().split('\n').filter((l) => !l.startsWith('[bigbigan]'));
    assert.equal(lines.length, 1, r.err);
    assert.match(lines[0], /^bigbigan: Expected \S+\/generate\/model\.json to have an output node named 'default' \(signature 'generate'/);
    const usage = run('--pretrained', modelDir, '--data', 'imagefolder', '--set', `dataPath=${images}`, '--set', 'zDim=3');
    assert.equal(usage.code, 2);
    assert.match(usage.err, /Expected only --set dataPath=FOLDER with --pretrained, but got 'zDim'/);
    const noData = run('--pretrained', modelDir);
    assert.equal(noData.code, 2);
    assert.match(noData.err, /Expected --data imagefolder --set dataPath=FOLDER .* but got --data mnist and no dataPath/);
  });
});

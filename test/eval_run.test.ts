/**
 * The evaluation of whole models (src/eval/generation.ts, reconstruction.ts,
 * evaluate.ts): FID/IS of generated images, reconstruction figures checked
 * against an independent computation, evaluations during training appended to
 * metrics.jsonl, and `evaluateCheckpoint` on a run folder.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/select';
import { Config } from '../src/config';
import { batches, Dataset, loadMnist, takeFirst } from '../src/data';
import { EvalSettings, evaluateCheckpoint, Evaluator, formatEvalReport } from '../src/eval/evaluate';
import { renderOptionsFor } from '../src/eval/features';
import { featureStats, frechetDistance } from '../src/eval/fid';
import { generatedOutputs, realOutputs, realStats } from '../src/eval/generation';
import { evaluateReconstruction, reconstruct } from '../src/eval/reconstruction';
import { createModels, disposeModels, Models } from '../src/model/bigbigan';
import { resolveConfig } from '../src/presets';
import { trainRun } from '../src/run/train_run';

const TINY: Partial<Config> = {
  zDim: 6, gCh: 4, gMults: [2, 2, 1], gAttention: 8, resolution: 16, eResolution: 16,
  eCh: 4, eMlp: 16, dCh: 8, dMults: [1, 2], dAttention: 8, dMlp: 16, batchSize: 8,
  steps: 4, sampleEvery: 4, checkpointEvery: 2, evalEvery: 2,
};
const tiny = (over: Partial<Config> = {}): Config => ({ ...resolveConfig('mnist'), ...TINY, ...over });
const SETTINGS: EvalSettings = {
  samples: 40, realImages: 40, probeTrain: 60, probeEval: 20, reconstructions: 20, rawG: true, baselines: true,
};

describe('evaluation of models', () => {
  let mnist: Dataset;
  let evaluator: Evaluator;
  let models: Models;
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cache-'));
  before(async () => {
    await selectBackend({ force: 'wasm', quiet: true });
    mnist = loadMnist(undefined, { limit: 200 });
    evaluator = await Evaluator.create(tiny(), { dataset: mnist, cacheDir, featureNetSteps: 30, quiet: true });
    models = createModels(tiny());
  });

  test('FID: real images against themselves ≈ 0, generated ones far; the same seed gives the same samples', async () => {
    const real = await realOutputs(evaluator.net, mnist.test, 16, { limit: 60 });
    const self = featureStats(real.features, real.n, real.d);
    assert.ok(frechetDistance(self, await realStats(evaluator.net, mnist.test, 16, { limit: 60 })) < 1e-6);
    const a = await generatedOutputs(models, evaluator.net, { samples: 60, batchSize: 25, seed: 1 });
    const b = await generatedOutputs(models, evaluator.net, { samples: 60, batchSize: 25, seed: 1 });
    assert.deepEqual(a.features, b.features);
    assert.equal(a.n, 60);
    const fid = frechetDistance(featureStats(a.features, a.n, a.d), self);
    assert.ok(fid > 1e-3 && Number.isFinite(fid), `FID of an untrained G: ${fid}`);
  });

  test('reconstruction figures equal an independent computation on the same images', async () => {
    const part = takeFirst(mnist.test, 20);
    const r = await evaluateReconstruction(models, evaluator.net, part, { limit: 20, batchSize: 20 });
    const { x, y } = batches(part, { ...renderOptionsFor(models.cfg, part), batchSize: 20, shuffle: false }).next().value!;
    const rec = reconstruct(models, x);
    const xs = rec.x.dataSync(), ms = rec.fromMean.dataSync();
    const size = xs.length / 20;
    let sse = 0;
    for (let i = 0; i < xs.length; i++) sse += (xs[i] - ms[i]) ** 2;
    const argmax = (t: tf.Tensor4D) => {
      const o = evaluator.net.apply(t);
      const p = o.probs.arraySync() as number[][];
      tf.dispose([o.features, o.probs]);
      return p.map((row) => row.indexOf(Math.max(...row)));
    };
    const cx = argmax(rec.x), cm = argmax(rec.fromMean);
    assert.ok(Math.abs(r.mse_mean - sse / size / 20) < 1e-5, `${r.mse_mean} vs ${sse / size / 20}`);
    assert.equal(r.class_consistency_mean, cx.filter((c, i) => c === cm[i]).length / 20);
    assert.equal(r.input_accuracy, cx.filter((c, i) => c === y[i]).length / 20);
    tf.dispose([x, rec.x, rec.fromMean, rec.fromSample]);
  });

  test('identity reconstructions have zero error and 100 % class consistency', async () => {
    const part = takeFirst(mnist.test, 30);
    const r = await evaluateReconstruction(models, evaluator.net, part, {
      limit: 30, batchSize: 16, reconstruct: (x) => tf.tidy(() => ({ x: tf.clone(x), fromMean: tf.clone(x), fromSample: tf.clone(x) })),
    });
    assert.equal(r.mse_mean, 0);
    assert.equal(r.class_consistency_mean, 1);
    assert.equal(r.class_consistency_sample, 1);
    assert.equal(r.label_accuracy_mean, r.input_accuracy);
  });

  test('a report holds every part, and evaluating again leaks no tensors', async () => {
    await evaluator.evaluate(models, 0, SETTINGS);
    const before = tf.memory().numTensors;
    const r = await evaluator.evaluate(models, 0, SETTINGS);
    assert.equal(tf.memory().numTensors, before);
    assert.ok(r.generation.raw !== null && Number.isFinite(r.generation.raw.fid));
    assert.deepEqual([...new Set(r.representation!.rows.map((w) => w.source))].sort(), ['pixels', 'random-init', 'trained']);
    assert.ok(r.reconstruction!.n === 20);
    assert.match(formatEvalReport(r), /G_ema +FID .*\n.*raw G +FID[\s\S]*class consistency[\s\S]*random-init[\s\S]*pixels/);
  });

  test('training evaluates every evalEvery steps into metrics.jsonl; evaluateCheckpoint reads the run', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'run-'));
    await trainRun({ cfg: tiny(), out, quiet: true, dataset: mnist, evaluation: { settings: SETTINGS, featureNetSteps: 30, cacheDir } });
    const lines = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const evals = lines.filter((l) => l.kind === 'eval');
    assert.deepEqual(evals.map((l) => l.step), [2, 4]);
    for (const e of evals) {
      for (const k of ['fid', 'is', 'probe_top1', 'probe_top1_random_init', 'probe_top1_pixels', 'class_consistency']) {
        assert.ok(Number.isFinite(e[k]), `${k} = ${e[k]}`);
      }
    }
    assert.equal(lines.filter((l) => l.kind === undefined).length, 4);
    const report = await evaluateCheckpoint(out, SETTINGS, { dataset: mnist, cacheDir, featureNetSteps: 30, quiet: true });
    assert.equal(report.step, 4);
    for (const f of ['eval-00000004.json', 'recon-00000004.png']) assert.ok(fs.existsSync(path.join(out, 'eval', f)), f);
    const saved = JSON.parse(fs.readFileSync(path.join(out, 'eval', 'eval-00000004.json'), 'utf8'));
    assert.equal(saved.generation.ema.fid, report.generation.ema.fid);
    disposeModels(models);
    evaluator.dispose();
  });
});

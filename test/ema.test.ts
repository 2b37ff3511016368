/**
 * G_ema (src/train/steps.ts, src/model/bigbigan.ts): weights and BN statistics are
 * averaged, spectral norm's power-iteration vectors are copied from G, and
 * `generate` samples with the batch's own statistics, so that a G_ema whose
 * running averages fit no weights still draws what its weights say.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/select';
import { Config } from '../src/config';
import { Dataset, loadMnist } from '../src/data';
import { ctxOf, emaPairs, generate, sampleLatent } from '../src/model/bigbigan';
import { G } from '../src/model/generator';
import { resolveConfig } from '../src/presets';
import { Rng } from '../src/util/rng';
import { batchesFor } from '../src/train/run_data';
import { createTrainState, disposeTrainState, dStep, egStep, TrainState } from '../src/train/steps';

const TINY: Partial<Config> = {
  zDim: 6, gCh: 4, gMults: [2, 2, 1], gAttention: 8, resolution: 16, eResolution: 16,
  eCh: 4, eMlp: 16, dCh: 8, dMults: [1, 2], dAttention: 8, dMlp: 16, batchSize: 8,
  emaStart: 1, emaDecay: 0.75,
};

const values = (v: tf.Variable) => Float32Array.from(v.dataSync());

describe('G_ema', () => {
  let mnist: Dataset;
  let state: TrainState;
  before(async () => {
    await selectBackend({ force: 'wasm', quiet: true });
    mnist = loadMnist(undefined, { limit: 100 });
    state = createTrainState({ ...resolveConfig('mnist'), ...TINY });
    const batches = batchesFor(state.models.cfg, mnist.train);
    const step = async () => {
      for (const f of [dStep, egStep]) { const { x } = batches.next(); await f(state, x); x.dispose(); }
    };
    await step(); await step();  // past emaStart: the average has begun
    const { averaged, copied } = emaPairs(state.models);
    const before = new Map([...averaged, ...copied].map(([ema]) => [ema, values(ema)]));
    await step();
    (state as TrainState & { before: typeof before }).before = before;
  });

  test('averages weights and BN statistics with the decay, copies the SN vectors u and v', () => {
    const { averaged, copied } = emaPairs(state.models);
    const before = (state as TrainState & { before: Map<tf.Variable, Float32Array> }).before;
    const snPaths = state.models.G.all().filter(([p]) => /\/sn_[uv]$/.test(p));
    assert.ok(snPaths.length > 0);
    assert.deepEqual(new Set(copied.map(([, g]) => g)), new Set(snPaths.map(([, g]) => g)));
    assert.equal(copied.length + averaged.length, state.models.G.all().length);
    let worst = 0;
    for (const [ema, g] of averaged) {
      const old = before.get(ema)!, now = values(ema), raw = values(g);
      now.forEach((e, i) => { worst = Math.max(worst, Math.abs(e - (0.75 * old[i] + 0.25 * raw[i]))); });
    }
    assert.ok(worst < 1e-5, `EMA off by ${worst}`);
    for (const [ema, g] of copied) assert.deepEqual(values(ema), values(g));
  });

  test('generate uses the batch statistics, not the running averages', () => {
    const { models } = state;
    const z = sampleLatent(models.cfg, new Rng(3), 16);
    const running = [...models.gEma.state].filter(([p]) => /running_mean$/.test(p)).map(([, v]) => v);
    assert.ok(running.length > 0);
    const sample = () => tf.tidy(() => [generate(models, z).dataSync().slice(),
                                        G(ctxOf(models.gEma, false), models.cfg, z).dataSync().slice()]);
    const [batchA, evalA] = sample();
    const saved = running.map(values);
    running.forEach((v) => v.assign(tf.fill(v.shape, 3)));  // running means that fit nothing
    const [batchB, evalB] = sample();
    running.forEach((v, i) => v.assign(tf.tensor(saved[i], v.shape)));
    assert.deepEqual(batchB, batchA);
    assert.ok(evalA.some((x, i) => Math.abs(x - evalB[i]) > 1e-3), 'the eval-mode G must depend on the running averages');
    const before = tf.memory().numTensors;
    tf.dispose(generate(models, z));
    assert.equal(tf.memory().numTensors, before);
    z.dispose();
    disposeTrainState(state);
  });
});

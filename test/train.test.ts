/**
 * The trainer (src/train/steps.ts, src/run/train_run.ts) on a tiny BigBiGAN: flat memory,
 * D's step leaves G and E alone (and vice versa), exact resumption,
 * a non-finite loss stops the run keeping the last good checkpoint, and a
 * folder that holds a run is never overwritten.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/select';
import { loadCheckpoint } from '../src/train/checkpoint';
import { Config } from '../src/config';
import { Dataset, loadMnist } from '../src/data';
import { resolveConfig } from '../src/presets';
import { trainRun } from '../src/run/train_run';
import { batchesFor } from '../src/train/run_data';
import { createTrainState, disposeTrainState, dStep, egStep } from '../src/train/steps';

const TINY: Partial<Config> = {
  zDim: 6, gCh: 4, gMults: [2, 2, 1], gAttention: 8, resolution: 16, eResolution: 16,
  eCh: 4, eMlp: 16, dCh: 8, dMults: [1, 2], dAttention: 8, dMlp: 16, batchSize: 8,
  steps: 4, sampleEvery: 2, checkpointEvery: 2, keepCheckpoints: 5, evalEvery: 0,
};
const tiny = (over: Partial<Config> = {}): Config => ({ ...resolveConfig('mnist'), ...TINY, ...over });
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'run-'));

/** Every variable of the newest checkpoint in `dir`, by name. */
function weightsOf(file: string): Map<string, Float32Array> {
  return new Map([...loadCheckpoint(file).values].map(([k, v]) => [k, v.data]));
}

describe('trainer', () => {
  let mnist: Dataset;
  before(async () => {
    await selectBackend({ force: 'wasm', quiet: true });
    mnist = loadMnist(undefined, { limit: 300 });
  });

  test('a D step moves only D, an E/G step moves only G and E; tensors stay flat over steps', async () => {
    const state = createTrainState(tiny());
    const batches = batchesFor(state.models.cfg, mnist.train);
    const snapshot = (p: typeof state.models.D | null) =>
      new Map([...(p?.weights ?? [])].map(([k, v]) => [k, Float32Array.from(v.dataSync())]));
    const moved = (before: Map<string, Float32Array>, p: typeof state.models.D | null) =>
      [...(p?.weights ?? [])].filter(([k, v]) => v.dataSync().some((x, i) => x !== before.get(k)![i])).length;
    const step = async (f: typeof dStep) => { const { x } = batches.next(); const m = await f(state, x); x.dispose(); return m; };
    await step(dStep); await step(egStep);  // Adam slots exist from here on
    let g = snapshot(state.models.G), e = snapshot(state.models.E), d = snapshot(state.models.D);
    await step(dStep);
    assert.equal(moved(g, state.models.G) + moved(e, state.models.E), 0, 'G or E moved in a D step');
    assert.ok(moved(d, state.models.D) > 0.9 * state.models.D.weights.size, 'D did not move in its step');
    g = snapshot(state.models.G); e = snapshot(state.models.E); d = snapshot(state.models.D);
    await step(egStep);
    assert.equal(moved(d, state.models.D), 0, 'D moved in an E/G step');
    assert.ok(moved(g, state.models.G) > 0 && moved(e, state.models.E) > 0, 'G and E must move in their step');
    const before = tf.memory();
    for (let i = 0; i < 5; i++) { await step(dStep); await step(egStep); }
    const after = tf.memory();
    assert.equal(after.numTensors, before.numTensors);
    assert.equal(after.numDataBuffers, before.numDataBuffers);
    disposeTrainState(state);
  });

  test('2N steps in one go equal N steps, a stop, and N resumed steps (same seed)', async () => {
    const straight = tmp(), resumed = tmp();
    const a = await trainRun({ cfg: tiny({ steps: 4 }), out: straight, quiet: true, dataset: mnist });
    await trainRun({ cfg: tiny({ steps: 2 }), out: resumed, quiet: true, dataset: mnist });
    fs.appendFileSync(path.join(resumed, 'metrics.jsonl'), JSON.stringify({ step: 3, L_D: 1 }) + '\n');  // logged, then a crash
    const b = await trainRun({ cfg: tiny({ steps: 4 }), out: resumed, quiet: true, dataset: mnist, resume: true });
    assert.equal(b.step, 4);
    const wa = weightsOf(a.checkpoint), wb = weightsOf(b.checkpoint);
    assert.deepEqual([...wb.keys()].sort(), [...wa.keys()].sort());
    let maxDiff = 0;
    for (const [k, va] of wa) va.forEach((x, i) => { maxDiff = Math.max(maxDiff, Math.abs(x - wb.get(k)![i])); });
    assert.ok(maxDiff <= 1e-6, `max difference ${maxDiff}`);
    for (const f of ['config.json', 'metrics.jsonl', 'samples-00000004.png', 'recon-00000004.png']) {
      assert.ok(fs.existsSync(path.join(resumed, f)), f);
    }
    const lines = fs.readFileSync(path.join(resumed, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const stepsOf = (kind?: string) => lines.filter((l) => l.kind === kind).map((l) => l.step);
    assert.deepEqual(stepsOf(), [1, 2, 3, 4], 'lines logged after the checkpoint are replaced, not duplicated');
    assert.deepEqual(stepsOf('diag'), [0, 2, 4], 'the encoder diagnostics: at the start and at the end of each part, once each');
  });

  test('lrDecay: every learning rate falls linearly over the last part of the run (logged rates read back)', async () => {
    const cfg = tiny({ steps: 5, lrDecay: 0.6, lrG: 1e-3, lrD: 3e-3, eLrMult: 2 });  // decay over round(0.6 * 5) = 3 steps
    const out = tmp();
    await trainRun({ cfg, out, quiet: true, dataset: mnist });
    const lines = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
      .filter((l) => l.kind === undefined);
    const expected = [1, 1, 1, 2 / 3, 1 / 3];  // from 1 at step steps - 3 down to 1/3 at the last step
    assert.deepEqual(lines.map((l) => l.step), [1, 2, 3, 4, 5]);
    lines.forEach((l, i) => {
      assert.ok(Math.abs(l.lr_G - 1e-3 * expected[i]) < 1e-12, `step ${l.step}: lr_G ${l.lr_G}`);
      assert.ok(Math.abs(l.lr_D - 3e-3 * expected[i]) < 1e-12, `step ${l.step}: lr_D ${l.lr_D}`);
      assert.ok(Math.abs(l.lr_E - 2e-3 * expected[i]) < 1e-12, `step ${l.step}: lr_E ${l.lr_E}`);
    });
  });

  test('--minutes: a run whose time runs out ends at that step (pictures, checkpoint) and resumes towards its steps', async () => {
    const out = tmp();
    const first = await trainRun({ cfg: tiny({ steps: 6 }), out, quiet: true, dataset: mnist, minutes: 1e-6 });
    assert.equal(first.step, 1, 'one step, then the time was up');
    assert.ok(first.stoppedEarly);
    for (const f of ['samples-00000001.png', 'recon-00000001.png', 'ckpt-00000001.bin']) assert.ok(fs.existsSync(path.join(out, f)), f);
    const rest = await trainRun({ cfg: tiny({ steps: 6 }), out, quiet: true, dataset: mnist, resume: true });
    assert.deepEqual([rest.step, rest.stoppedEarly], [6, false]);
    await assert.rejects(trainRun({ cfg: tiny(), out: tmp(), quiet: true, dataset: mnist, minutes: 0 }), /Expected minutes > 0, but got 0/);
  });

  test('a non-finite loss stops the run with a clear message and keeps the last good checkpoint', async () => {
    const out = tmp();
    const cfg = tiny({ steps: 50, checkpointEvery: 1, lrG: 1e30 });  // E and G weights explode after one step
    await assert.rejects(trainRun({ cfg, out, quiet: true, dataset: mnist }),
      /Non-finite (loss|weights) at step (\d+) \(L_D = .*, L_EG = .*\): stopping\. The last good checkpoint is .*ckpt-\d+\.bin\./);
    const files = fs.readdirSync(out).filter((f) => f.startsWith('ckpt-'));
    assert.ok(files.length > 0);
    const last = weightsOf(path.join(out, files[files.length - 1]));
    for (const [k, v] of last) assert.ok(v.every(Number.isFinite), `${k} in the last checkpoint is not finite`);
  });

  test('a folder that holds a run is refused without --resume, and nothing in it changes', async () => {
    const out = tmp();
    await trainRun({ cfg: tiny({ steps: 1 }), out, quiet: true, dataset: mnist });
    const before = fs.readdirSync(out).map((f) => [f, fs.statSync(path.join(out, f)).mtimeMs]);
    await assert.rejects(trainRun({ cfg: tiny({ steps: 1 }), out, quiet: true, dataset: mnist }),
      new RegExp(`Output folder ${out} already holds a run: pass --resume to continue it, or choose another --out`));
    await assert.rejects(trainRun({ cfg: tiny({ steps: 2, zDim: 12 }), out, quiet: true, dataset: mnist, resume: true }),
      /Expected the config of the run in .*, but zDim differs/);
    assert.deepEqual(fs.readdirSync(out).map((f) => [f, fs.statSync(path.join(out, f)).mtimeMs]), before);
  });
});

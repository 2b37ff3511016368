/**
 * The notebooks' newer helpers (src/notebook/): curves of several runs on one chart, the shared run settings
 * (notebooks/params.json), the mode, the ablation sections' results (a rerun replaces), the probe's confusion
 * matrix and the 2-D feature map.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import * as tf from '@tensorflow/tfjs';
import * as nb from '../src/notebook';

const ROOT = nb.repoRoot(__dirname);
const evalRows = (points: Array<[number, number]>): nb.Metrics =>
  ({ train: [], diag: [], eval: points.map(([step, fid]) => ({ step, kind: 'eval', fid })) });

describe('curves of several runs', () => {
  test('mean over runs per step, sample s.d. where two or more runs have a value', () => {
    const c = nb.groupCurve([evalRows([[10, 50], [20, 40]]), evalRows([[10, 54], [20, 44], [30, 30]])], 'fid');
    assert.deepEqual(c.x, [10, 20, 30]);
    assert.deepEqual(c.mean, [52, 42, 30]);
    assert.deepEqual(c.n, [2, 2, 1]);
    assert.ok(Math.abs(c.std[0]! - Math.SQRT2 * 2) < 1e-12);
    assert.equal(c.std[2], null);
  });

  test('one line per group, a band only for groups with several runs, groups without the key named in the title', () => {
    const fig = nb.overlayFigure([
      { name: 'base', runs: [evalRows([[10, 50]]), evalRows([[10, 54]])] },
      { name: 'lrG 1e-4', runs: [evalRows([[10, 70], [20, 60]])] },
      { name: 'no-e', runs: [{ train: [], eval: [{ step: 10, kind: 'eval' }], diag: [] }] },
    ], 'fid', { title: 'FID' });
    const lines = fig.data.filter((t) => t.showlegend !== false);
    assert.deepEqual(lines.map((t) => t.name), ['base (2 runs)', 'lrG 1e-4']);
    assert.deepEqual(lines.map((t) => t.y), [[52], [70, 60]]);
    assert.equal(fig.data.filter((t) => t.fill === 'tonexty').length, 1);
    assert.match((fig.layout!.title as { text: string }).text, /^FID \(no fid: no-e\)$/);
  });

  test('a sweep run\'s gzipped metrics are read when metrics.jsonl is gone', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-gz-'));
    fs.writeFileSync(path.join(dir, 'metrics.jsonl.gz'), zlib.gzipSync('{"step":1,"L_D":2}\n{"step":1,"kind":"eval","fid":9}\n'));
    const m = nb.readMetrics(dir);
    assert.deepEqual([m.train.length, m.eval[0].fid], [1, 9]);
  });
});

describe('the shared run settings and the mode', () => {
  test('params.json gives 01, 03, 04, 05 one spec per mode; a notebook\'s own changes make another run', () => {
    const quick = nb.sharedRun('quick'), full = nb.sharedRun('full');
    assert.equal(quick.runs, path.join(ROOT, 'runs', 'notebooks-quick'));
    assert.ok(quick.spec.steps < full.spec.steps);
    const mine = nb.sharedRun('quick', { overrides: { lrG: 1e-4 } });
    assert.equal(nb.runConfig(mine.spec).lrG, 1e-4);
    assert.equal(nb.runConfig(mine.spec).evalEvery, nb.runConfig(quick.spec).evalEvery, 'changes go on top of the shared overrides');
    assert.notEqual(nb.runFolder(mine.runs, mine.spec), nb.runFolder(quick.runs, quick.spec));
  });

  test('a params file with a missing or unknown key is one error naming the file', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nb-params-')), 'params.json');
    const good = JSON.parse(fs.readFileSync(path.join(ROOT, 'notebooks', 'params.json'), 'utf8')) as
      Record<string, Record<string, unknown>>;
    const { steps: _steps, ...noSteps } = good.quick;
    fs.writeFileSync(file, JSON.stringify({ quick: { ...noSteps, lrG: 1 } }));
    assert.throws(() => nb.readModeParams('quick', file),
                  new RegExp(`Expected "quick" in ${file} to have the keys .*, but steps missing and lrG unknown$`));
    assert.throws(() => nb.readModeParams('full', file), /hold a "full" object, but it has none/);
  });

  test('the mode: the notebook\'s choice unless BIGBIGAN_QUICK says otherwise', () => {
    assert.equal(nb.notebookMode('quick', {}), 'quick');
    assert.equal(nb.notebookMode('full', {}), 'full');
    assert.equal(nb.notebookMode('full', { BIGBIGAN_QUICK: '1' }), 'quick');
    assert.equal(nb.notebookMode('quick', { BIGBIGAN_QUICK: '0' }), 'full');
    assert.throws(() => nb.notebookMode('fast' as nb.NotebookMode, {}), /Expected the notebook mode 'quick' or 'full', but got 'fast'/);
  });

  test('a parameter-cell choice the environment overrides (02\'s SOURCE): unset or empty keeps it, a bad value is an error', () => {
    const choices = ['train', 'committed'] as const;
    assert.equal(nb.choiceFromEnv('BIGBIGAN_ABLATIONS_SOURCE', choices, 'train', {}), 'train');
    assert.equal(nb.choiceFromEnv('BIGBIGAN_ABLATIONS_SOURCE', choices, 'train', { BIGBIGAN_ABLATIONS_SOURCE: '' }), 'train');
    assert.equal(nb.choiceFromEnv('BIGBIGAN_ABLATIONS_SOURCE', choices, 'train', { BIGBIGAN_ABLATIONS_SOURCE: 'committed' }), 'committed');
    assert.throws(() => nb.choiceFromEnv('BIGBIGAN_ABLATIONS_SOURCE', choices, 'train', { BIGBIGAN_ABLATIONS_SOURCE: 'sweep' }),
                  /Expected BIGBIGAN_ABLATIONS_SOURCE to be 'train' or 'committed', but got 'sweep'/);
  });

  test('quick mode\'s smaller model goes beneath the rows: small-e and small-g still differ from Base', () => {
    const { spec } = nb.sharedRun('quick');
    const base = nb.runConfig(spec);
    for (const [row, key] of [['small-e', 'eCh'], ['small-g', 'gCh']] as const) {
      const diff = nb.configDiff(base, nb.runConfig({ ...spec, ablation: row }));
      assert.deepEqual(diff.map((d) => [d.key, d.value]), [[key, Math.round(base[key] / 2)]], row);
    }
  });
});

describe('ablation sections', () => {
  const row = (name: string, seed: number, FID: number) => ({ ...nb.toResultRows([{ row: name, seed, steps: 10, FID }])[0] });
  test('running a section again replaces its rows: the summary counts it once', () => {
    const results = new nb.SectionResults();
    results.set('base', { rows: [row('base', 0, 50)], runs: [], source: 'trained here' });
    results.set('no-e', { rows: [row('no-e', 0, 70)], runs: [evalRows([[10, 70]])], source: 'trained here' });
    results.set('base', { rows: [row('base', 0, 40)], runs: [evalRows([[10, 40]])], source: 'trained here' });
    const summary = nb.summarizeResults(results.rows());
    assert.deepEqual(summary.map((s) => [s.row, s.seeds, s.mean.FID]), [['base', 1, 40], ['no-e', 1, 70]]);
    assert.deepEqual(results.curveGroups().map((g) => g.name), ['base', 'no-e']);
  });
});

describe('the summary charts of 02', () => {
  const line = (name: string, figures: Record<string, number>) => nb.toResultRows([{ row: name, seed: 0, steps: 10, ...figures }])[0];
  test('representation: trained and random-init E as bars per row, raw pixels as a tick over each row, in %', () => {
    const summary = nb.summarizeResults([
      line('base', { probe_top1: 0.6, probe_top1_random_init: 0.5, probe_top1_pixels: 0.8,
                     knn1: 0.4, knn1_random_init: 0.3, knn1_pixels: 0.7 }),
      line('no-e', { FID: 50 }),
    ]);
    const fig = nb.representationFigure(summary);
    const bars = fig.data.filter((t) => t.type === 'bar'), ticks = fig.data.filter((t) => t.type === 'scatter');
    assert.deepEqual(bars.map((t) => t.name), ['probe, trained E', 'probe, random-init E', '1-NN, trained E', '1-NN, random-init E']);
    assert.deepEqual(ticks.map((t) => [t.name, t.x, t.y]), [['probe, raw pixels', ['base', 'no-e'], [80, null]],
                                                          ['1-NN, raw pixels', ['base', 'no-e'], [70, null]]]);
    assert.deepEqual(bars[0].y, [60, null]);
    assert.equal(bars[0].error_y, undefined, 'one seed: no error bars');
  });
});

describe('inside E\'s features', () => {
  test('confusion matrix: counts[true][predicted]; mismatched lengths are one error', () => {
    assert.deepEqual(nb.confusionMatrix(Int32Array.from([0, 0, 1, 2]), Int32Array.from([0, 1, 1, 1]), 3),
                     [[1, 1, 0], [0, 1, 0], [0, 1, 0]]);
    assert.throws(() => nb.confusionMatrix(Int32Array.from([0]), Int32Array.from([0, 1]), 2),
                  /as many predictions as labels, but got 2 and 1/);
    const fig = nb.confusionFigure([[3, 1], [0, 0]], ['a', 'b']);
    assert.deepEqual(fig.data[0].z, [[75, 25], [0, 0]]);
  });

  test('the probe\'s confusion matrix on separable features is diagonal', async () => {
    await tf.setBackend('cpu');
    // example i of class i % 2 is 3 along its class's axis, plus a little jitter
    const f = (n: number) => ({ data: Float32Array.from({ length: n * 2 }, (_, i) => ((i >> 1) % 2 === i % 2 ? 3 : 0) + (i % 7) * 0.01),
                                n, d: 2 });
    const labels = (n: number) => Int32Array.from({ length: n }, (_, i) => i % 2);
    const r = await nb.probeConfusion(f(40), labels(40), f(10), labels(10), { numClasses: 2, epochs: 50 });
    assert.deepEqual(r.counts, [[5, 0], [0, 5]]);
    assert.equal(r.top1, 1);
  });

  test('the UMAP map: one 2-D point per row, the same for the same seed, two clusters kept apart', () => {
    const n = 40, d = 8;
    const data = Float32Array.from({ length: n * d }, (_, i) => (Math.floor(i / d) < n / 2 ? 0 : 5) + Math.sin(i * 12.9898) * 0.3);
    const a = nb.featureMap({ data, n, d }, { seed: 1, neighbours: 5 });
    assert.equal(a.length, n);
    assert.ok(a.every((p) => p.length === 2 && p.every(Number.isFinite)));
    assert.deepEqual(nb.featureMap({ data, n, d }, { seed: 1, neighbours: 5 }), a);
    const centre = (rows: number[][]) => [0, 1].map((k) => rows.reduce((s, p) => s + p[k], 0) / rows.length);
    const spread = Math.max(...a.map((p) => Math.hypot(...p.map((v, k) => v - centre(a)[k]))));
    const [c1, c2] = [centre(a.slice(0, n / 2)), centre(a.slice(n / 2))];
    assert.ok(Math.hypot(c1[0] - c2[0], c1[1] - c2[1]) > spread / 4, 'the two clusters overlap in the map');
    assert.throws(() => nb.featureMap({ data: new Float32Array(4), n: 2, d: 2 }), /at least 3 feature vectors for a 2-D map, but got 2/);
  });
});

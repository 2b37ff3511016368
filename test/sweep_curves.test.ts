/**
 * The curves of a sweep (src/sweep/curves.ts rowCurves) on a hand-made results folder: mean
 * and std per step against an independent computation, diverged runs left out, rows sharing
 * runs, a run not pruned; the charts (sweep/charts.ts, util/svg_chart.ts); and `bigbigan
 * results` on that folder and on the committed 120-step folders, which have no curves; notebook 02's plotly version
 * of the charts (notebook/curves.ts sweepCurvesFigure).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RESULT_COLUMNS } from '../src/sweep/results';
import { readRunCurves, rowCurves } from '../src/sweep/curves';
import { chartSeries, CURVE_CHARTS, writeCurveCharts } from '../src/sweep/charts';
import { lineChartSvg, niceTicks } from '../src/util/svg_chart';
import { sweepCurvesFigure } from '../src/notebook/curves';
import { cli } from './cli_fixture';

const EVAL_STEPS = [10, 20], DIAG_STEPS = [0, 10, 20];
/** A run's logged figures, different per run, seed and step (no randomness: the test recomputes them). */
const fidOf = (run: string, step: number) => 100 + run.length * 3 + step * (run.endsWith('1') ? 0.7 : 1.3);
const probeOf = (run: string, step: number) => 0.4 + step / 100 + (run.endsWith('s0') ? 0.05 : run.endsWith('s1') ? -0.02 : 0.11);

/** The curve lines a sweep run keeps (as sweep/plan.ts writes curves.jsonl). */
function curveText(run: string): string {
  const evals = EVAL_STEPS.map((step) => ({
    step, kind: 'eval', fid: fidOf(run, step), is: 2, probe_top1: probeOf(run, step), probe_top1_random_init: 0.3,
    probe_top1_pixels: 0.8, knn1: null, eval_seconds: 1.5,
  }));
  const diags = DIAG_STEPS.map((step) => ({ step, kind: 'diag', e_snr: step / 10 + run.length }));
  return [...diags, ...evals].sort((a, b) => a.step - b.step).map((l) => JSON.stringify(l) + '\n').join('');
}

/** A results folder: base (3 seeds, one diverged) = resnet-x1, deterministic-e (3 seeds, one not pruned), no-e without curves. */
function fixtureFolder(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curves-'));
  const table: string[][] = [];
  const add = (row: string, seed: number, run: string, status = 'done', fid = 50 + seed, probe = 0.5 + seed / 100) => {
    const cells: Record<string, string> = { row, seed: String(seed), steps: '20', FID: String(fid), IS: '2', probe_top1: String(probe),
                                            status, run };
    table.push(RESULT_COLUMNS.map((c) => cells[c] ?? ''));
  };
  for (const seed of [0, 1, 2]) {
    add('base', seed, `base-s${seed}`, seed === 2 ? 'diverged' : 'done');
    add('resnet-x1', seed, `base-s${seed}`, seed === 2 ? 'diverged' : 'done');
    add('deterministic-e', seed, `deterministic-e-s${seed}`, 'done', 50 + seed, 0.3 + seed / 100);
    add('no-e', seed, `no-e-s${seed}`);
  }
  fs.writeFileSync(path.join(dir, 'results.csv'), [RESULT_COLUMNS.join(','), ...table.map((r) => r.join(','))].join('\n') + '\n');
  for (const run of ['base-s0', 'base-s1', 'base-s2', 'deterministic-e-s0', 'deterministic-e-s2']) {
    fs.mkdirSync(path.join(dir, run));
    fs.writeFileSync(path.join(dir, run, 'curves.jsonl'), curveText(run));
  }
  // A run not pruned (keepCheckpoints): its curve lines among the training lines of metrics.jsonl, one step logged twice.
  fs.mkdirSync(path.join(dir, 'deterministic-e-s1'));
  const training = [5, 10, 15, 20].map((step) => JSON.stringify({ step, L_D: 1, L_EG: 2 }) + '\n').join('');
  const stale = JSON.stringify({ step: 20, kind: 'eval', fid: 999, probe_top1: 0 }) + '\n';  // before a resumption re-evaluated step 20
  fs.writeFileSync(path.join(dir, 'deterministic-e-s1', 'metrics.jsonl'), training + stale + curveText('deterministic-e-s1'));
  fs.mkdirSync(path.join(dir, 'no-e-s0'));  // no curves at all
  return dir;
}

/** Mean and sample std the long way (sum of squares), to check curves.ts's two-pass figures. */
function independent(values: number[]): { mean: number; std: number | null } {
  const n = values.length, sum = values.reduce((a, b) => a + b, 0), squares = values.reduce((a, b) => a + b * b, 0);
  return { mean: sum / n, std: n > 1 ? Math.sqrt(Math.max(0, (squares - (sum * sum) / n) / (n - 1))) : null };
}

const close = (a: number | null, b: number | null) => (a === null || b === null ? a === b : Math.abs(a - b) < 1e-9);

test('rowCurves: per row, step and figure, the mean and std over its finished seeds', () => {
  const dir = fixtureFolder();
  const curves = rowCurves(dir);
  assert.deepEqual(curves.map((c) => c.row), ['base', 'resnet-x1', 'deterministic-e', 'no-e']);
  const byRow = Object.fromEntries(curves.map((c) => [c.row, c]));
  assert.deepEqual(byRow.base.runs, ['base-s0', 'base-s1']);  // base-s2 diverged: left out, as in the table
  assert.deepEqual(byRow['resnet-x1'], { ...byRow.base, row: 'resnet-x1' });
  const seedsOf = { 'base': ['base-s0', 'base-s1'], 'deterministic-e': [0, 1, 2].map((s) => `deterministic-e-s${s}`) };
  for (const [row, runs] of Object.entries(seedsOf)) {
    for (const [figure, of] of [['fid', fidOf], ['probe_top1', probeOf]] as const) {
      const curve = byRow[row].eval[figure];
      assert.deepEqual(curve.map((p) => p.step), EVAL_STEPS);
      for (const p of curve) {
        const want = independent(runs.map((r) => of(r, p.step)));
        assert.ok(close(p.mean, want.mean) && close(p.std, want.std), `${row} ${figure} at ${p.step}: ${JSON.stringify([p, want])}`);
        assert.equal(p.seeds, runs.length);
      }
    }
    assert.deepEqual(byRow[row].diag.e_snr.map((p) => p.step), DIAG_STEPS);
  }
  assert.equal(byRow.base.eval.knn1, undefined);  // logged as null: not a curve
  assert.deepEqual(byRow['no-e'].eval, {});
  // The stale line of the run that was resumed is replaced by the later one at the same step.
  assert.equal(readRunCurves(path.join(dir, 'deterministic-e-s1')).filter((l) => l.kind === 'eval' && l.step === 20).length, 1);
  assert.ok(byRow['deterministic-e'].eval.fid[1].mean < 900);
});

test('a bad curves file and a missing table are one clear error each, naming the file', () => {
  const dir = fixtureFolder();
  fs.writeFileSync(path.join(dir, 'base-s0', 'curves.jsonl'), '{"step": 0, "kind": "diag"}\nnot json\n{"step": 1, "kind": "diag"}\n');
  assert.throws(() => rowCurves(dir),
                /Expected a JSON object with a step on every line of .*base-s0\/curves\.jsonl, but line 2 is "not json"/);
  assert.throws(() => rowCurves(path.join(dir, 'nowhere')), /Expected a results table at .*nowhere\/results\.csv, but it does not exist/);
});

test('the charts: one line per distinct set of runs, Base black and named with the rows it stands for, bands ± std', () => {
  const dir = fixtureFolder();
  const curves = rowCurves(dir);
  const probe = chartSeries(curves, CURVE_CHARTS.find((c) => c.figure === 'probe_top1')!);
  assert.deepEqual(probe.map((s) => s.name), ['base = resnet-x1', 'deterministic-e', 'base: random-init E', 'raw pixels']);
  assert.equal(probe[0].color, '#000000');
  const p = probe[1].points[0], want = independent([0, 1, 2].map((s) => 100 * probeOf(`deterministic-e-s${s}`, 10)));
  assert.ok(close(p.y, want.mean) && close(p.hi! - p.y, want.std) && close(p.y - p.lo!, want.std));
  assert.ok(probe[2].dashed);
  // A row with a FID curve but no probe curve (as no-e) ahead of deterministic-e does not shift its colour between charts.
  const fidOnly = { ...curves[2], row: 'fid-only', runs: ['fid-only-s0'], eval: { fid: curves[2].eval.fid } };
  const withFidOnly = [curves[0], curves[1], fidOnly, ...curves.slice(2)];
  assert.equal(withFidOnly[3].row, 'deterministic-e');
  const colorOf = (figure: string) =>
    chartSeries(withFidOnly, CURVE_CHARTS.find((c) => c.figure === figure)!).find((s) => s.name === 'deterministic-e')!.color;
  assert.equal(colorOf('fid'), colorOf('probe_top1'));
  const files = writeCurveCharts(dir, curves);
  assert.deepEqual(files.map((f) => path.basename(f)), ['curves-fid.svg', 'curves-probe.svg']);
  const svg = fs.readFileSync(files[1], 'utf8');
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.equal((svg.match(/<polygon /g) ?? []).length, 2);  // the bands of the two rows with 2+ seeds (not the references': std 0)
  assert.ok(svg.includes('base = resnet-x1') && !svg.includes('<script'));
  assert.throws(() => lineChartSvg({ title: 'empty', xLabel: 'x', yLabel: 'y', series: [] }),
                /Expected at least one point in the chart 'empty'/);
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(13, 87), [20, 40, 60, 80]);
});

test('notebook 02\'s plotly charts of a sweep: the SVG\'s lines, Base black and thick, baselines dashed, bands ± std', () => {
  const curves = rowCurves(fixtureFolder());
  const probe = sweepCurvesFigure(curves, 'probe_top1');
  const lines = probe.data.filter((t) => t.showlegend !== false);
  assert.deepEqual(lines.map((t) => t.name), ['base = resnet-x1', 'deterministic-e', 'base: random-init E', 'raw pixels']);
  const style = (name: string) => lines.find((t) => t.name === name)!.line as { color: string; width: number; dash: string };
  assert.deepEqual(style('base = resnet-x1'), { color: '#000000', width: 3.5, dash: 'solid' });
  assert.equal(style('deterministic-e').dash, 'solid');
  assert.ok(style('deterministic-e').width < 3.5);
  assert.deepEqual([style('base: random-init E').dash, style('raw pixels').dash], ['dash', 'dash']);
  assert.deepEqual(lines[2].y, [30, 30]);  // Base's random-init E, in %
  // Bands: an upper edge, then a lower edge filled to it, for the two rows with 2+ seeds; none for the references.
  const fills = probe.data.filter((t) => t.fill === 'tonexty');
  assert.equal(fills.length, 2);
  const det = [0, 1, 2].map((s) => 100 * probeOf(`deterministic-e-s${s}`, 20)), want = independent(det);
  const at20 = (t: Record<string, unknown>) => (t.y as number[])[1];
  assert.ok(close(at20(lines[1]), want.mean));
  const edges = probe.data.filter((t) => t.legendgroup === 'deterministic-e' && t.showlegend === false);
  assert.ok(close(at20(edges[0]) - want.mean, want.std) && close(want.mean - at20(edges[1]), want.std));
  const fid = sweepCurvesFigure(curves, 'fid');
  assert.deepEqual(fid.data.filter((t) => t.showlegend !== false).map((t) => t.name), ['base = resnet-x1', 'deterministic-e']);
  assert.match(JSON.stringify(fid.layout), /mean over up to 3 seeds per row/);
  assert.throws(() => sweepCurvesFigure(curves, 'is'), /Expected a sweep chart figure \(fid, probe_top1\), but got 'is'/);
});

test('bigbigan results on a folder with curves: the count first, the rule, verdicts in the table, the charts written', () => {
  const dir = fixtureFolder();
  const r = cli(['results', dir]);
  assert.equal(r.code, 0, r.lines.join('\n'));
  const out = r.out.split('\n');
  // deterministic-e's probe (30-32 %) is below base's (50-51 %) by far more than either spread: the paper's direction.
  assert.equal(out[0], `${dir}: 1 of 1 of the paper's Table-1 directions reproduced (0 opposite, 0 not resolved)`);
  assert.match(out[1], /^Rule: a direction is decided when/);
  assert.ok(out.some((l) => /^\| deterministic-e \| 3 \|.*probe worse than base: \*\*reproduced\*\*/.test(l)), r.out);
  assert.match(r.out, new RegExp(`curves: ${dir}/curves-fid\\.svg, ${dir}/curves-probe\\.svg`));
  assert.ok(fs.existsSync(path.join(dir, 'curves-fid.svg')) && fs.existsSync(path.join(dir, 'curves-probe.svg')));
});

test('bigbigan results on the committed 120-step sweeps: the table and the verdicts, and one line saying there are no curves', () => {
  for (const dataset of ['mnist', 'fashion']) {
    const dir = path.join(__dirname, '..', '..', 'data', 'results', '120-steps', `${dataset}-ablations`);
    const before = fs.readdirSync(dir).sort();
    const r = cli(['results', dir]);
    assert.equal(r.code, 0, r.lines.join('\n'));
    assert.match(r.out, /^.*: \d+ of 21 of the paper's Table-1 directions reproduced \(\d+ opposite, \d+ not resolved\)\n/);
    assert.equal(r.out.split('\n').filter((l) => l.startsWith('|')).length, 2 + 18);  // header, separator, 18 rows
    assert.match(r.out, /\ncurves: none in .* \(its runs logged no evaluation during training, as sweeps did before curves\): no chart/);
    assert.deepEqual(fs.readdirSync(dir).sort(), before);  // nothing written
  }
});

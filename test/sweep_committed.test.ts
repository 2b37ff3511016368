/**
 * The committed ablation sweeps (data/results/<dataset>-ablations, issue 19), each at its
 * dataset's budget (the smallest measured where Base's E clears its random init by 10 probe
 * points: MNIST 300 steps, Fashion-MNIST 1000; `sweepSteps` of src/presets.ts): what a reviewer
 * checks on them. Every finished run kept its quick evaluations at several steps (the curves),
 * `bigbigan results` prints the count of the paper's directions first, the rule, one table line
 * per row with a verdict column, and writes the two curve charts. Run on a copy, so the committed
 * folder is not written. Both sweeps are complete: every row has every seed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readResultsTable } from '../src/sweep/results';
import { readRunCurves } from '../src/sweep/curves';
import { sweepSteps } from '../src/presets';
import { cli } from './cli_fixture';

const RESULTS = path.join(__dirname, '..', '..', 'data', 'results');
const datasets = ['mnist', 'fashion'];

for (const dataset of datasets) {
  const dir = path.join(RESULTS, `${dataset}-ablations`);

  test(`${dataset}: the committed sweep is at the dataset's budget, and its finished runs kept evaluations at several steps`, () => {
    type Definition = { steps: number; preset: string; curves?: { evalEvery: number } };
    const def = JSON.parse(fs.readFileSync(path.join(dir, 'sweep.json'), 'utf8')) as Definition;
    assert.equal(def.preset, dataset);
    assert.equal(def.steps, sweepSteps(dataset));   // the budget `bigbigan sweep` defaults to
    assert.ok(def.curves && def.curves.evalEvery > 0, 'the sweep definition records its curves');
    const table = readResultsTable(path.join(dir, 'results.csv'))!;
    assert.ok(table.length > 0, `${dir}/results.csv has no finished run`);
    for (const run of new Set(table.filter((r) => r.status === 'done' && r.run).map((r) => r.run as string))) {
      const evalSteps = readRunCurves(path.join(dir, run)).filter((l) => l.kind === 'eval').map((l) => l.step);
      assert.ok(new Set(evalSteps).size >= 3, `${run}: evaluations at steps ${evalSteps.join(', ')}`);
      assert.equal(Math.max(...evalSteps), def.steps, `${run}: its last evaluation is at its last step`);
      assert.ok(!fs.readdirSync(path.join(dir, run)).some((f) => f.startsWith('ckpt-')), `${run} is pruned (no checkpoints committed)`);
    }
  });

  test(`${dataset}: bigbigan results prints the count first, the rule, the paired count, a verdict per row, and the curves`, () => {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), `${dataset}-ablations-`));
    fs.cpSync(dir, copy, { recursive: true });
    const r = cli(['results', copy]);
    assert.equal(r.code, 0, r.lines.join('\n'));
    const out = r.out.split('\n');
    assert.match(out[0], /: \d+ of \d+ of the paper's Table-1 directions reproduced \(\d+ opposite, \d+ not resolved\)/);
    assert.match(out[1], /^Rule: a direction is decided when/);
    const table = readResultsTable(path.join(dir, 'results.csv'))!;
    const rows = new Set(table.map((row) => row.row));
    // A sweep that is still under way says so under the rule; the committed ones are complete.
    const def = JSON.parse(fs.readFileSync(path.join(dir, 'sweep.json'), 'utf8')) as { rows: string[]; seeds: number[] };
    const complete = def.rows.every((row) => def.seeds.every((seed) => table.some((t) => t.row === row && t.seed === seed)));
    assert.ok(complete, `the ${dataset} sweep is complete: every row has every seed`);
    assert.match(out[2], /^Paired by seed: \d+ of \d+ of the paper's Table-1 directions reproduced/);
    assert.equal(out[3].startsWith('Unfinished: '), !complete, out[3]);
    for (const row of rows) assert.ok(out.some((l) => l.startsWith(`| ${row} |`)), `no table line for ${row}`);
    assert.match(r.out, /verdict/);
    for (const chart of ['curves-fid.svg', 'curves-probe.svg']) {
      const svg = fs.readFileSync(path.join(copy, chart), 'utf8');
      assert.ok(svg.includes('<polyline') || svg.includes('<path'), `${chart} draws lines`);
    }
    fs.rmSync(copy, { recursive: true, force: true });
  });
}

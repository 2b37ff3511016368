/**
 * The ablation sweep (src/sweep/plan.ts, sweep/local.ts): the plan, a tiny sweep
 * run in child processes two at a time, its results table, resuming an
 * interrupted run from its checkpoint, and a re-run that trains nothing.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { selectBackend } from '../src/backend/select';
import { ABLATIONS, sweepSteps } from '../src/presets';
import { resultsMarkdown } from '../src/notebook/ablations';
import { readResultsTable } from '../src/sweep/results';
import { trainRun } from '../src/run/train_run';
import { ablationSweep, jobState, openSweepFolder, planSweep } from '../src/sweep/plan';
import { TINY_EVAL, tinySweep } from './sweep_fixture';
import { runLocalSweep } from '../src/sweep/local';
import { cli } from './cli_fixture';



describe('ablation sweep', () => {
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sweep-cache-'));
  const quiet = { cacheDir, featureNetSteps: 20, log: null };
  before(async () => { await selectBackend({ force: 'wasm', quiet: true }); });

  test('the plan: every row × seed, identical configs share a run, unknown rows are one clear error', () => {
    const def = ablationSweep({ preset: 'mnist', seeds: 3, steps: 100 });
    assert.deepEqual(def.rows, Object.keys(ABLATIONS));
    const jobs = planSweep(def);
    const rows = jobs.flatMap((j) => j.rows.map((r) => `${r}/${j.seed}`)).sort();
    assert.deepEqual(rows, Object.keys(ABLATIONS).flatMap((r) => [0, 1, 2].map((s) => `${r}/${s}`)).sort());
    const base0 = jobs.find((j) => j.name === 'base-s0')!;
    assert.deepEqual(base0.rows, ['base', 'resnet-x1']);          // the mnist preset's E is ResNet x1
    assert.equal(jobs.length, 3 * (Object.keys(ABLATIONS).length - 1));
    for (const j of jobs) {
      assert.equal(j.cfg.steps, 100);
      assert.equal(j.cfg.seed, j.seed);
      assert.equal(j.cfg.evalEvery, 25);  // SWEEP_CURVE_POINTS (4) evaluations: the curves
    }
    // A --set evalEvery wins (0: no curves); the definition records what the runs do.
    for (const every of [10, 0]) {
      const set = ablationSweep({ preset: 'mnist', rows: ['base'], seeds: 1, steps: 100, settings: [`evalEvery=${every}`] });
      assert.equal(set.curves!.evalEvery, every);
      assert.equal(planSweep(set)[0].cfg.evalEvery, every);
    }
    assert.notDeepEqual(jobs.find((j) => j.name === 'base-s1')!.cfg, base0.cfg);
    assert.throws(() => ablationSweep({ preset: 'mnist', rows: ['base', 'bigger-g'], seeds: 1, steps: 10 }),
                  /Expected ablation rows .* but got bigger-g/);
    assert.throws(() => ablationSweep({ preset: 'mnsit', seeds: 1, steps: 10 }), /Expected a preset/);
  });

  test('a tiny sweep (2 rows × 2 seeds, 2 at a time): results table, pruned folders, and a re-run trains nothing', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'sweep-'));
    const def = tinySweep(['base', 'no-e'], 2);
    const first = await runLocalSweep(def, { out, jobs: 2, ...quiet });
    assert.deepEqual(first.failed, []);
    assert.equal(first.trained, 4);
    const table = readResultsTable(path.join(out, 'results.csv'))!;
    assert.deepEqual(table.map((r) => `${r.row}/${r.seed}`), ['base/0', 'no-e/0', 'base/1', 'no-e/1']);
    for (const r of table) {
      assert.equal(r.steps, 4);
      assert.equal(r.status, 'done');
      assert.ok(r.FID !== null && r.FID > 0 && r.IS !== null && r.IS >= 1, `${r.row}: FID ${r.FID}, IS ${r.IS}`);
      assert.ok(r.wall_s !== null && r.wall_s >= 0);
      // no-e has no encoder: no representation figures
      assert.equal(r.probe_top1 === null, r.row === 'no-e');
      assert.equal(r.class_consistency === null, r.row === 'no-e');
    }
    // Baselines for the first seed only.
    assert.ok(table.find((r) => r.row === 'base' && r.seed === 0)!.probe_top1_random_init !== null);
    assert.equal(table.find((r) => r.row === 'base' && r.seed === 1)!.probe_top1_random_init, null);
    assert.deepEqual(readResultsTable(path.join(out, 'results.json')), table);
    // Seeds differ: different runs, different figures.
    assert.notEqual(table[0].FID, table[2].FID);
    const dir = path.join(out, 'base-s0');
    const files = fs.readdirSync(dir).sort();
    assert.ok(!files.some((f) => f.startsWith('ckpt-')), `checkpoints left: ${files}`);
    assert.deepEqual(files.filter((f) => f.endsWith('.png')), ['recon-00000004.png', 'samples-00000004.png']);
    const lines = zlib.gunzipSync(fs.readFileSync(path.join(dir, 'metrics.jsonl.gz'))).toString().trim().split('\n')
      .map((l) => JSON.parse(l))
      .filter((l) => l.kind === undefined);  // the training lines (diagnostics have kind 'diag')
    assert.deepEqual(lines.map((l) => l.step), [1, 2, 3, 4]);
    // The curves survive the pruning: every quick evaluation (every ceil(4 / 4) = 1 step) and diagnosis, as logged.
    assert.ok(files.includes('curves.jsonl') && files.includes('metrics.jsonl.gz'), `kept: ${files}`);
    const curves = fs.readFileSync(path.join(dir, 'curves.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const logged = zlib.gunzipSync(fs.readFileSync(path.join(dir, 'metrics.jsonl.gz'))).toString().trim().split('\n')
      .map((l) => JSON.parse(l)).filter((l) => l.kind !== undefined);
    assert.deepEqual(curves, logged);
    assert.deepEqual(curves.filter((l) => l.kind === 'eval').map((l) => l.step), [1, 2, 3, 4]);
    assert.deepEqual(curves.filter((l) => l.kind === 'diag').map((l) => l.step), [0, 4]);
    for (const l of curves.filter((c) => c.kind === 'eval')) {
      assert.ok(l.fid > 0 && l.probe_top1 >= 0 && l.probe_top1 <= 1, JSON.stringify(l));
    }
    // The quick evaluation at the last step is the final model's, measured with the curves' settings: its FID is the table's
    // when both settings are the same (TINY_EVAL here), at the sweep's one resolution.
    assert.equal(curves.filter((l) => l.kind === 'eval').pop().fid, table[0].FID);

    // The Markdown summary (bigbigan results): one line per row, mean ± std over the 2 seeds.
    const md = resultsMarkdown(table, (row) => `paper says ${row}`).split('\n');
    assert.equal(md.length, 4);
    const fids = table.filter((r) => r.row === 'base').map((r) => r.FID!);
    const mean = (fids[0] + fids[1]) / 2, sd = Math.abs(fids[0] - fids[1]) / Math.SQRT2;
    assert.match(md[2],
                 new RegExp(`^\\| base \\| 2 \\| ${mean.toFixed(1)} ± ${sd.toFixed(1)} \\|.*reference row \\| paper says base \\|$`));
    assert.match(md[3], /^\| no-e \| 2 \|.*\| no direction to test \(paper: paper says no-e\) \| paper says no-e \|$/);

    const said: string[] = [];
    const again = await runLocalSweep(def, { out, jobs: 2, ...quiet, log: (l) => said.push(l) });
    assert.deepEqual([again.skipped, again.trained, again.resumed], [4, 0, 0]);
    assert.match(said.join('\n'), /all 4 runs in .* are finished: nothing to train/);
    assert.deepEqual(readResultsTable(path.join(out, 'results.csv')), table);

    // A different budget in the same folder is refused, naming the difference; more seeds are added.
    await assert.rejects(runLocalSweep(tinySweep(['base', 'no-e'], 2, 6), { out, jobs: 1, ...quiet }), /steps 4 \(there\) vs 6 \(asked\)/);
    const more = await runLocalSweep(tinySweep(['base'], 3), { out, jobs: 1, ...quiet });
    assert.deepEqual([more.skipped, more.trained], [2, 1]);
  });

  test('an interrupted run resumes from its checkpoint and ends as if uninterrupted', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'sweep-resume-'));
    const def = tinySweep(['base'], 1);
    openSweepFolder(out, def);
    const [job] = planSweep(def);
    // Half the run, as a crash after the step-2 checkpoint leaves it (steps may change on resume); evaluated as the sweep does.
    const evaluation = { settings: TINY_EVAL, cacheDir, featureNetSteps: 20, resolution: def.evalResolution };
    await trainRun({ cfg: { ...job.cfg, steps: 2, checkpointEvery: 2 }, out: path.join(out, job.name), quiet: true, evaluation });
    assert.equal(jobState(out, job), 'partial');
    const s = await runLocalSweep(def, { out, jobs: 1, ...quiet });
    assert.deepEqual([s.resumed, s.trained], [1, 0]);
    const lines = zlib.gunzipSync(fs.readFileSync(path.join(out, job.name, 'metrics.jsonl.gz'))).toString().trim().split('\n')
      .map((l) => JSON.parse(l))
      .filter((l) => l.kind === undefined);  // the training lines (diagnostics have kind 'diag')
    assert.deepEqual(lines.map((l) => l.step), [1, 2, 3, 4]);

    // The same run uninterrupted: the same losses at every step (resumption is exact).
    const whole = fs.mkdtempSync(path.join(os.tmpdir(), 'sweep-whole-'));
    await trainRun({ cfg: job.cfg, out: whole, quiet: true, evaluation });
    const wholeAll = fs.readFileSync(path.join(whole, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const wholeLines = wholeAll.filter((l) => l.kind === undefined);
    assert.deepEqual(lines.map((l) => l.L_EG), wholeLines.map((l) => l.L_EG));
    // Its curves too: the same evaluation at every step, none lost or repeated across the interruption.
    const evals = (all: Array<{ kind?: string; step: number; fid?: number }>) =>
      all.filter((l) => l.kind === 'eval').map((l) => [l.step, l.fid]);
    const resumedCurves = fs.readFileSync(path.join(out, job.name, 'curves.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(evals(resumedCurves), evals(wholeAll));
  });

  test("`bigbigan sweep` without --steps asks for the preset's measured budget (mnist 300, fashion 1000)", () => {
    assert.notEqual(sweepSteps('mnist'), sweepSteps('fashion'));   // else this test could not tell the presets apart
    for (const preset of ['mnist', 'fashion']) {
      // A folder holding a 7-step sweep: the CLI refuses it and says which budget it asked for, before any data or training.
      const out = fs.mkdtempSync(path.join(os.tmpdir(), `sweep-budget-${preset}-`));
      openSweepFolder(out, ablationSweep({ preset, seeds: 1, steps: 7, rows: ['base'] }));
      const r = cli(['sweep', '--preset', preset, '--rows', 'base', '--seeds', '1', '--out', out]);
      assert.notEqual(r.code, 0);
      assert.match(r.lines.join('\n'), new RegExp(`steps 7 \\(there\\) vs ${sweepSteps(preset)} \\(asked\\)`));
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  test('a sweep folder that is not a sweep is one clear error', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'sweep-bad-'));
    fs.writeFileSync(path.join(out, 'sweep.json'), '{ not json');
    assert.throws(() => openSweepFolder(out, tinySweep(['base'], 1)),
                  /Expected .*sweep\.json to be a sweep definition, but it is not valid JSON/);
  });
});

/**
 * The verdicts against the paper's Table 1 (src/sweep/verdicts.ts) on hand-made seed tables:
 * reproduced, opposite, not resolved (overlapping spreads, one seed, a reference not run, one
 * shared run), the count, and the trained − random-init columns of the summary and the table
 * (src/sweep/results.ts, report.ts), the verdict cell per row that the table and notebook 02 show, and 02's summary
 * records (the same figures, pixel baselines included), and the line that says a sweep is partial. No training here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ABLATIONS } from '../src/presets';
import { RESULT_METRICS, ResultRow, summarizeResults } from '../src/sweep/results';
import { resultsMarkdown, rowVerdicts, summaryRecords, unfinishedLine, verdictHeader } from '../src/sweep/report';
import { checkDirections, checkDirectionsPaired, countVerdicts, DirectionCheck, verdictCountLine } from '../src/sweep/verdicts';

/** A results line with the figures given (others null), its run named after the row and seed. */
function line(row: string, seed: number, figures: Partial<ResultRow>, run = `${row}-s${seed}`): ResultRow {
  const nulls = Object.fromEntries(RESULT_METRICS.map((k) => [k, null]));
  return { ...nulls, row, seed, steps: 100, status: 'done', run, ...figures } as ResultRow;
}

/** One row over seeds: probe top-1 per seed. */
const probes = (row: string, values: number[]) => values.map((p, seed) => line(row, seed, { probe_top1: p }));
const find = (checks: DirectionCheck[], row: string, measure = 'probe_top1') => checks.find((c) => c.row === row && c.measure === measure)!;

test('the paper\'s directions are data: every row they compare with exists, every measure is one the table has', () => {
  const all = Object.entries(ABLATIONS).flatMap(([row, a]) => (a.directions ?? []).map((d) => ({ row, ...d })));
  assert.ok(all.length >= 15, `only ${all.length} directions`);
  for (const d of all) {
    assert.ok((d.against ?? 'base') in ABLATIONS, `${d.row} compares with unknown ${d.against}`);
    assert.notEqual(d.against ?? 'base', d.row);
  }
  // The paper's own words for a row agree with its data: a row said to be worse at classification has a 'worse' probe direction.
  assert.deepEqual(ABLATIONS['deterministic-e'].directions, [{ measure: 'probe_top1', is: 'worse', against: undefined }]);
  assert.deepEqual(ABLATIONS['no-unaries'].directions!.map((d) => `${d.measure} ${d.is}`), ['FID worse', 'IS worse']);
  assert.equal(ABLATIONS.base.directions, undefined);
});

test('the verdict rule: means apart by more than the larger std decide; the paper\'s way reproduced, else opposite', () => {
  const rows = [
    ...probes('base', [0.50, 0.51, 0.52]),                   // mean 0.51, std 0.01
    ...probes('deterministic-e', [0.40, 0.41, 0.42]),        // paper: worse; 0.10 below, stds 0.01: reproduced
    ...probes('high-res-e', [0.30, 0.31, 0.32]),             // paper: better; clearly worse: opposite
    ...probes('small-e', [0.40, 0.50, 0.60]),                // paper: worse; 0.01 apart with std 0.1: not resolved
    ...probes('e-lr-1x', [0.10]),                            // one seed, however far: not resolved
    ...probes('revnet-x1', [0.70, 0.71]),                    // paper: better than resnet-x1, which was not run
    ...probes('revnet-x2', [0.80, 0.81, 0.82]),              // paper: better than revnet-x1 (not base): reproduced
  ];
  const checks = checkDirections(summarizeResults(rows));
  assert.deepEqual(checks.map((c) => `${c.row}:${c.verdict}`), [
    'deterministic-e:reproduced', 'high-res-e:opposite', 'small-e:not resolved', 'e-lr-1x:not resolved', 'revnet-x1:not resolved',
    'revnet-x2:reproduced',
  ]);
  assert.match(find(checks, 'small-e').why, /^spreads overlap: 50\.0 ± 10\.0 vs 51\.0 ± 1\.0 %$/);
  assert.match(find(checks, 'e-lr-1x').why, /^one seed: 10\.0 vs 51\.0 ± 1\.0 %$/);
  assert.match(find(checks, 'revnet-x1').why, /not run/);
  assert.equal(find(checks, 'revnet-x2').against, 'revnet-x1');
  assert.deepEqual(countVerdicts(checks), { 'reproduced': 2, 'opposite': 1, 'not resolved': 3 });
  assert.equal(verdictCountLine(checks), "2 of 6 of the paper's Table-1 directions reproduced (1 opposite, 3 not resolved)");

  // Just inside the rule and just outside it: the larger std is what must be exceeded.
  const near = (gap: number) => checkDirections(summarizeResults([
    ...probes('base', [0.50, 0.52, 0.54]),                  // mean 0.52, std 0.02
    ...probes('deterministic-e', [0.52 - gap - 0.01, 0.52 - gap, 0.52 - gap + 0.01]),  // std 0.01
  ]))[0].verdict;
  assert.equal(near(0.019), 'not resolved');
  assert.equal(near(0.021), 'reproduced');
});

test('FID is better when lower, IS when higher; rows that share their runs are not resolved', () => {
  const gen = (row: string, fids: number[], iss: number[], run?: (seed: number) => string) =>
    fids.map((fid, seed) => line(row, seed, { FID: fid, IS: iss[seed] }, run?.(seed)));
  const rows = [
    ...gen('base', [100, 102, 104], [2.0, 2.1, 2.2]),
    ...gen('no-unaries', [150, 152, 154], [1.5, 1.6, 1.7]),     // paper: generation worse: both reproduced
    ...gen('high-res-g', [150, 152, 154], [3.0, 3.1, 3.2]),     // paper: generation better: FID opposite, IS reproduced
    ...gen('small-g', [100, 102, 104], [2.0, 2.1, 2.2], (s) => `base-s${s}`),  // the same runs as base
  ];
  const checks = checkDirections(summarizeResults(rows));
  const verdicts = Object.fromEntries(checks.map((c) => [`${c.row} ${c.measure}`, c.verdict]));
  assert.deepEqual(verdicts, {
    'no-unaries FID': 'reproduced', 'no-unaries IS': 'reproduced', 'high-res-g FID': 'opposite', 'high-res-g IS': 'reproduced',
    'small-g FID': 'not resolved', 'small-g IS': 'not resolved', 'small-g probe_top1': 'not resolved',
  });
  assert.match(find(checks, 'small-g', 'FID').why, /the same runs as base/);
  assert.match(find(checks, 'small-g', 'probe_top1').why, /no probe_top1 figures/);
});

test('trained − random-init: per seed, then mean ± std over the seeds that have a baseline; in the table with the count', () => {
  const rows = [
    line('base', 0, { probe_top1: 0.60, probe_top1_random_init: 0.50, knn1: 0.4, knn1_random_init: 0.45, probe_top1_pixels: 0.9 }),
    line('base', 1, { probe_top1: 0.70, probe_top1_random_init: 0.55, knn1: 0.5, knn1_random_init: 0.40, probe_top1_pixels: 0.9 }),
    line('base', 2, { probe_top1: 0.65 }),  // no baseline for this seed
  ];
  const [base] = summarizeResults(rows);
  // Independently: the gains are 0.10 and 0.15 (probe), -0.05 and 0.10 (1-NN); two values a, b: std = |a - b| / sqrt(2).
  assert.ok(Math.abs(base.mean.probe_top1_gain! - 0.125) < 1e-12);
  assert.ok(Math.abs(base.std.probe_top1_gain! - 0.05 / Math.SQRT2) < 1e-12);
  assert.ok(Math.abs(base.mean.knn1_gain! - 0.025) < 1e-12);
  assert.ok(Math.abs(base.std.knn1_gain! - 0.15 / Math.SQRT2) < 1e-12);
  assert.equal(base.n.probe_top1_gain, 2);
  assert.equal(base.n.probe_top1, 3);
  const md = resultsMarkdown(rows, () => 'p').split('\n');
  const cells = md[2].split(' | ');
  const head = md[0].split(' | ');
  const at = (name: string, nth = 0) => cells[head.map((h, i) => [h, i] as const).filter(([h]) => h === name)[nth][1]];
  assert.equal(at('probe top-1 %'), '65.0 ± 5.0');
  assert.equal(at('random-init E'), '52.5 ± 3.5 [2 of 3 seeds]');
  assert.equal(at('pixels'), '90.0 ± 0.0 [2 of 3 seeds]');
  assert.equal(at('trained − random-init (pts)'), '+12.5 ± 3.5 [2 of 3 seeds]');
  assert.equal(at('trained − random-init (pts)', 1), '+2.5 ± 10.6 [2 of 3 seeds]');
  assert.equal(at('verdict against the paper'), 'reference row');
  // The header above the table: the count, then the rule.
  const [count, rule] = verdictHeader(rows);
  assert.equal(count, "0 of 0 of the paper's Table-1 directions reproduced (0 opposite, 0 not resolved)");
  assert.match(rule, /^Rule: a direction is decided when both rows have at least 2 seeds and their means differ by more than the larger/);
});

test('the verdict per row: its checks, reference row for Base, or no direction; bold for Markdown, plain when asked', () => {
  const rows = [
    ...probes('base', [0.50, 0.51, 0.52]),
    ...probes('deterministic-e', [0.40, 0.41, 0.42]),   // paper: worse, 10 points below: reproduced
    ...probes('high-res-e', [0.30, 0.31, 0.32]),        // paper: better, clearly worse: opposite
    ...probes('paper', [0.5, 0.6]),                      // a row without a direction in Table 1
  ];
  const summary = summarizeResults(rows);
  const plain = rowVerdicts(summary, (row) => `paper on ${row}`, (v) => v);
  assert.deepEqual(Object.keys(plain), ['base', 'deterministic-e', 'high-res-e', 'paper']);
  assert.equal(plain.base, 'reference row');
  assert.equal(plain['deterministic-e'], 'probe worse than base: reproduced (41.0 ± 1.0 vs 51.0 ± 1.0 %)');
  assert.match(plain['high-res-e'], /^probe better than base: opposite \(31\.0 ± 1\.0 vs 51\.0 ± 1\.0 %\)$/);
  assert.equal(plain.paper, 'no direction to test (paper: paper on paper)');
  assert.equal(rowVerdicts(summary, () => '')['deterministic-e'], 'probe worse than base: **reproduced** (41.0 ± 1.0 vs 51.0 ± 1.0 %)');
  // The Markdown table's verdict column is the same cell.
  const md = resultsMarkdown(rows, (row) => `paper on ${row}`).split('\n');
  assert.ok(md.some((l) => l.includes(`| ${rowVerdicts(summary, (row) => `paper on ${row}`)['high-res-e']} |`)), md.join('\n'));
});

test('notebook 02\'s summary records: every figure of the Markdown table under a unique key, pixels beside each row', () => {
  const rows = [
    line('base', 0, { FID: 40, probe_top1: 0.6, probe_top1_random_init: 0.5, probe_top1_pixels: 0.8, knn1: 0.4, knn1_pixels: 0.7 }),
    line('no-e', 0, { FID: 50 }),
  ];
  const records = summaryRecords(summarizeResults(rows), { paper: (row) => `paper on ${row}`, source: (row) => `from ${row}` });
  assert.deepEqual(records.map((r) => [r.row, r.source, r.seeds, r.steps]), [['base', 'from base', 1, 100], ['no-e', 'from no-e', 1, 100]]);
  const [base, noE] = records;
  assert.deepEqual([base['probe top-1 %'], base['probe top-1 random-init E %'], base['probe top-1 pixels %']], ['60.0', '50.0', '80.0']);
  assert.deepEqual([base['1-NN %'], base['1-NN pixels %'], base['probe top-1 trained − random-init (pts)']], ['40.0', '70.0', '+10.0']);
  assert.deepEqual([noE['FID ↓'], noE['probe top-1 pixels %'], base.verdict, base.paper], ['50.0', '', 'reference row', 'paper on base']);
  // The Markdown table has the same cells in the same order (its heads repeat: 'pixels' twice).
  const md = resultsMarkdown(rows, (row) => `paper on ${row}`).split('\n');
  assert.equal(md[2], `| ${Object.entries(base).filter(([k]) => !['source', 'steps'].includes(k)).map(([, v]) => v).join(' | ')} |`);
  assert.equal(summaryRecords(summarizeResults(rows), { paper: () => '' })[0].source, undefined);
});

test('a partial sweep says which row × seed runs are missing; a complete one says nothing', () => {
  const def = { rows: ['base', 'deterministic-e', 'no-e'], seeds: [0, 1, 2] };
  const rows = [...probes('base', [0.5, 0.6, 0.7]), line('deterministic-e', 1, { probe_top1: 0.4 }), line('other-row', 0, {})];
  const text = unfinishedLine(def, rows)!;
  // 9 runs in the definition; base has 3, deterministic-e 1, no-e 0 (a row outside the definition does not count).
  assert.match(text, /^Unfinished: 5 of the sweep's 9 row × seed runs have no result yet /);
  assert.match(text, /\(deterministic-e 1 of 3 seeds, no-e 0 of 3 seeds\); the count covers the finished runs only/);
  assert.ok(!text.includes('base'));
  const complete = [...rows, line('deterministic-e', 0, {}), line('deterministic-e', 2, {}), ...[0, 1, 2].map((s) => line('no-e', s, {}))];
  assert.equal(unfinishedLine(def, complete), null);
});

test('paired by seed: a shared seed effect cancels, so a small steady difference is decided where the spreads overlap', () => {
  const rows = [
    ...probes('base', [0.50, 0.60, 0.70]),
    ...probes('deterministic-e', [0.48, 0.58, 0.69]),   // worse on every seed: differences -2, -2, -1 points
    ...probes('x-unary-only', [0.55, 0.58, 0.72]),      // differences +5, -2, +2: mean +1.67, std 3.51
    ...probes('small-e', [0.52, 0.63, 0.74]),           // better on every seed: +2, +3, +4 (the paper: worse)
    line('uniform-pz', 0, { probe_top1: 0.2 }), line('uniform-pz', 5, { probe_top1: 0.2 }),  // one seed paired with base
    ...[0, 1, 2].map((seed) => line('resnet-x1', seed, { probe_top1: 0.5 + seed / 10 }, `base-s${seed}`)),
    ...probes('resnet-x2', [0.40, 0.50, 0.60]),
  ];
  const checks = checkDirections(summarizeResults(rows));
  const paired = checkDirectionsPaired(rows, checks);
  assert.equal(find(checks, 'deterministic-e').verdict, 'not resolved');  // unpaired: 1.7 points apart, spreads 10.0 and 10.5
  const det = find(paired, 'deterministic-e');
  assert.equal(det.verdict, 'reproduced');
  assert.match(det.why, /difference -1\.7 ± 0\.6 over 3 seeds/);
  assert.equal(find(paired, 'x-unary-only').verdict, 'not resolved');
  assert.equal(find(paired, 'small-e').verdict, 'opposite');
  assert.match(find(paired, 'uniform-pz').why, /1 paired seeds/);
  assert.equal(find(paired, 'resnet-x2').verdict, 'opposite');              // against resnet-x1, which shares Base's runs
  assert.equal(countVerdicts(paired).reproduced, 1);
  const shared = checkDirectionsPaired(rows, [{ ...find(checks, 'resnet-x2'), row: 'resnet-x1', against: 'base' }]);
  assert.match(shared[0].why, /the same runs as base/);
  const header = verdictHeader(rows);
  assert.match(header[2], /^Paired by seed: 1 of \d+ of the paper's Table-1 directions reproduced \(2 opposite, \d+ not resolved\)\./);
  assert.match(header[2], /\. Its rule: the seed sets every row's data order/);
});

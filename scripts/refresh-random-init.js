#!/usr/bin/env node
/**
 * Recomputes the random-init E figures of a finished ablation sweep with the fair baseline
 * (src/eval/features.ts randomInitModels: batch-norm statistics estimated on training batches
 * before inference-mode features; before that change they were the untrained (0, 1)).
 *
 *   npm run build
 *   BIGBIGAN_NATIVE_THREADS=1 node scripts/refresh-random-init.js data/results/mnist-ablations \
 *     [--rows base,small-e] [--dry-run] [--check-old]
 *
 * For every first-seed job of the folder's sweep (the jobs whose evaluation added the baselines;
 * rows without E skipped) it rebuilds the random-init E from the run's config.json and seed,
 * evaluates it exactly as the sweep's evaluation did (the settings stored in sweep.json, i.e.
 * SWEEP_EVAL: probe and 1-NN on 5000 train / 2000 test examples, the same probe seed, through
 * probe.ts evaluateRepresentation), prints `old -> new` of probe top-1 and 1-NN (avepool, as the
 * results table) and, unless --dry-run, writes the new figures into the job's result.json and
 * the random-init rows of its eval/eval-<step>.json, then rewrites results.csv and results.json
 * with the sweep's own writer (src/sweep.ts writeSweepResults) and checks that no other column
 * changed. --check-old also evaluates the random-init E the old way (batches: 0, statistics left
 * at (0, 1)) and says whether it reproduces the old figures: a check that this script evaluates
 * as the sweep did. Nothing is trained; FID's feature network is not needed.
 */
'use strict';
const fs = require('fs');
const path = require('path');
const { parseArgs } = require('util');
const { selectBackend } = require('../dist/src/backend/select');
const { loadDataset } = require('../dist/src/data');
const { BN_ESTIMATE_BATCHES, randomInitModels } = require('../dist/src/eval/features');
const { evaluateRepresentation } = require('../dist/src/eval/probe');
const { disposeModels } = require('../dist/src/model/bigbigan');
const { RESULT_COLUMNS } = require('../dist/src/sweep/results');
const { planSweep, readJobResult, SWEEP_EVAL, writeSweepResults } = require('../dist/src/sweep/plan');

function parseArgsOrExit(argv) {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { rows: { type: 'string' }, 'dry-run': { type: 'boolean' }, 'check-old': { type: 'boolean' } },
  });
  if (positionals.length !== 1) throw new Error(`Expected one sweep folder, but got ${positionals.length} arguments`);
  return {
    dir: positionals[0], rows: values.rows ? values.rows.split(',') : null, dryRun: !!values['dry-run'], checkOld: !!values['check-old'],
  };
}

const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));
const writeJson = (file, value) => fs.writeFileSync(file, JSON.stringify(value, null, 2) + '\n');  // as sweep.ts writes result.json
const pct = (v) => (v === null || v === undefined ? '-' : (100 * v).toFixed(1));

/** The random-init rows (all kinds) of the sweep's evaluation for cfg, with the batch-norm statistics estimated on `batches` batches. */
async function randomInitRows(cfg, dataset, settings, batches) {
  const random = randomInitModels(cfg, cfg.seed, dataset.train, { batches });
  try {
    // The same code path as evaluateRepresentation's own random-init rows (its `evaluate` closure), with this E as the model.
    const report = await evaluateRepresentation(random, dataset,
                                                { limitTrain: settings.probeTrain, limitEval: settings.probeEval, baselines: false });
    return report.rows.map((r) => ({ ...r, source: 'random-init' }));
  } finally {
    disposeModels(random);
  }
}

/** The figures flatMetrics takes from the random-init rows (the avepool feature). */
function figuresOf(rows) {
  const r = rows.find((w) => w.feature === 'avepool');
  return { probe_top1_random_init: r.probe_top1_test, knn1_random_init: r.knn1_test };
}

/** Old and new CSV agree everywhere but in the random-init columns. */
function checkOtherColumns(oldCsv, newCsv) {
  const changed = new Set(['probe_top1_random_init', 'knn1_random_init'].map((c) => RESULT_COLUMNS.indexOf(c)));
  const a = oldCsv.split('\n'), b = newCsv.split('\n');
  if (a.length !== b.length || a[0] !== b[0]) throw new Error(`Expected the same header and ${a.length} lines, but got ${b.length}`);
  a.forEach((line, i) => {
    const x = line.split(','), y = b[i].split(',');
    const bad = x.findIndex((v, j) => !changed.has(j) && v !== y[j]);
    if (x.length !== y.length || bad >= 0) {
      throw new Error(`Expected line ${i + 1} of results.csv to change only in its random-init columns, ` +
                      `but column ${RESULT_COLUMNS[bad]} did`);
    }
  });
}

async function main(args) {
  await selectBackend({ quiet: true });
  const def = readJson(path.join(args.dir, 'sweep.json'));
  const settings = def.evaluation;
  if (JSON.stringify(settings) !== JSON.stringify(SWEEP_EVAL)) {
    console.log(`note: this sweep's evaluation ${JSON.stringify(settings)} is not today's SWEEP_EVAL; using the sweep's`);
  }
  const jobs = planSweep(def).filter((j) => j.seed === def.seeds[0] && (args.rows === null || j.rows.some((r) => args.rows.includes(r))));
  const datasets = new Map();
  const table = [];
  console.log(`${args.dir}: random-init E (seed ${def.seeds[0]}), BN statistics estimated on ${BN_ESTIMATE_BATCHES} training batches; ` +
              'probe top-1 / 1-NN %, old -> new');
  for (const job of jobs) {
    const dir = path.join(args.dir, job.name);
    const result = readJobResult(args.dir, job);
    const cfg = readJson(path.join(dir, 'config.json'));
    if (result === null || result.status !== 'done' || cfg.noEncoder) {
      console.log(`${job.rows.join(', ')}: skipped (${result === null ? 'not finished' : cfg.noEncoder ? 'no E' : result.status})`);
      continue;
    }
    const dataKey = JSON.stringify([cfg.dataset, cfg.dataPath, cfg.seed]);
    if (!datasets.has(dataKey)) {  // as Evaluator.create
      datasets.set(dataKey, await loadDataset(cfg.dataset, { path: cfg.dataPath || undefined, seed: cfg.seed }));
    }
    const dataset = datasets.get(dataKey);
    const start = Date.now();
    const rows = await randomInitRows(cfg, dataset, settings, BN_ESTIMATE_BATCHES);
    const old = { probe_top1_random_init: result.figures.probe_top1_random_init, knn1_random_init: result.figures.knn1_random_init };
    const now = figuresOf(rows);
    let check = '';
    if (args.checkOld) {
      const again = figuresOf(await randomInitRows(cfg, dataset, settings, 0));
      const same = again.probe_top1_random_init === old.probe_top1_random_init && again.knn1_random_init === old.knn1_random_init;
      check = same ? '  (old way reproduced exactly)'
        : `  (old way now gives ${pct(again.probe_top1_random_init)} / ${pct(again.knn1_random_init)})`;
    }
    table.push({ rows: job.rows, old, now });
    const seconds = ((Date.now() - start) / 1000).toFixed(0);
    console.log(`${job.rows.join(', ').padEnd(24)} ` +
                `probe ${pct(old.probe_top1_random_init).padStart(5)} -> ${pct(now.probe_top1_random_init).padStart(5)}` +
                `   1-NN ${pct(old.knn1_random_init).padStart(5)} -> ${pct(now.knn1_random_init).padStart(5)}   (${seconds} s)${check}`);
    if (args.dryRun) continue;
    Object.assign(result.figures, now);
    writeJson(path.join(dir, 'result.json'), result);
    const evalFile = path.join(dir, 'eval', `eval-${String(result.steps).padStart(8, '0')}.json`);
    if (fs.existsSync(evalFile)) {
      const report = readJson(evalFile);
      const rep = report.representation;
      if (rep && rep.rows.some((r) => r.source === 'random-init')) {
        const { rows: _, ...head } = rep;  // random_init_bn_batches next to random_init_seed, as probe.ts writes it
        const rebuilt = {};
        for (const [k, v] of Object.entries(head)) {
          if (k !== 'random_init_bn_batches') rebuilt[k] = v;
          if (k === 'random_init_seed') rebuilt.random_init_bn_batches = BN_ESTIMATE_BATCHES;
        }
        rebuilt.rows = rep.rows.map((r) => (r.source === 'random-init' ? rows.find((n) => n.feature === r.feature) ?? r : r));
        report.representation = rebuilt;
        writeJson(evalFile, report);
      }
    }
  }
  const mean = (f) => table.reduce((s, t) => s + 100 * (t.now[f] - t.old[f]), 0) / Math.max(1, table.length);
  console.log(`mean change over ${table.length} jobs: probe top-1 ${mean('probe_top1_random_init').toFixed(2)} points, ` +
              `1-NN ${mean('knn1_random_init').toFixed(2)} points`);
  if (args.dryRun || table.length === 0) return;
  const csvFile = path.join(args.dir, 'results.csv');
  const oldCsv = fs.readFileSync(csvFile, 'utf8');
  writeSweepResults(args.dir, def);
  checkOtherColumns(oldCsv, fs.readFileSync(csvFile, 'utf8'));
  console.log(`rewrote ${csvFile} and results.json (other columns unchanged)`);
}

if (require.main === module) {
  main(parseArgsOrExit(process.argv.slice(2))).catch((e) => { console.error(e.message); process.exit(1); });
}

module.exports = { main, parseArgsOrExit };

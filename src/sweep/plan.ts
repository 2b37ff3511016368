/**
 * A sweep: every ablation row of the paper's Table 1 (presets.ts ABLATIONS)
 * × seeds, each a normal training run followed by the standard evaluation,
 * with one results table. This file holds what every way of running a sweep
 * shares (the local pool in sweep/local.ts; a queue later): the plan, one
 * job (train or resume, evaluate, write result.json, prune), and the table.
 *
 * Folder layout: <out>/sweep.json (the definition), <out>/<row>-s<seed>/ (a
 * run folder; after its evaluation only config.json, result.json, the final
 * sample and reconstruction grids, curves.jsonl (the quick evaluations and
 * encoder diagnostics logged during training: sweep/curves.ts) and
 * metrics.jsonl.gz are kept), and <out>/results.csv + results.json
 * (rewritten as runs finish).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { listCheckpoints } from '../train/checkpoint';
import { Config } from '../config';
import { EvalSettings, evaluateCheckpoint, flatMetrics, QUICK_EVAL } from '../eval/evaluate';
import { ensureFolder, readJsonFile, writeFileAtomic } from '../util/fs_safe';
import { acquireLock, FolderLock } from '../run/lock';
import { ABLATIONS, resolveConfig } from '../presets';
import { RESULT_COLUMNS, ResultRow, resultsCsv } from './results';
import { trainRun } from '../run/train_run';
import { KIT_VERSION } from '../train/run_checkpoint';
import { holdsRun, readMetricsLines } from '../run/folder';
import { CURVES_FILE, curveLinesText } from './curves';

/** What a sweep runs; stored as <out>/sweep.json, and a re-run must match it. */
export interface SweepDefinition {
  kitVersion: string;
  grid: 'ablations';
  preset: string;
  rows: string[];
  seeds: number[];
  /** E/G steps of every run: the same budget for every row. */
  steps: number;
  /** --set key=value overrides applied to every run after its row's delta. */
  settings: string[];
  evaluation: EvalSettings;
  /** Side at which FID/IS/class consistency are measured, the same for every row (the preset's resolution). */
  evalResolution: number;
  /**
   * The curves: a quick evaluation every `evalEvery` steps of every run (and at its last step),
   * with `evaluation`'s settings, kept in the pruned run folder. Absent in sweeps made before
   * sweeps logged curves (their runs evaluated only at the end).
   */
  curves?: { evalEvery: number; evaluation: EvalSettings };
}

/** One run of the plan; rows whose configs are identical (e.g. resnet-x1 = Base on the mnist preset) share it. */
export interface SweepJob {
  /** Folder name under <out>: the first row's name and the seed. */
  name: string;
  rows: string[];
  seed: number;
  cfg: Config;
}

/** Figures and bookkeeping of a finished job (<run>/result.json). */
export interface JobResult {
  kitVersion: string;
  name: string;
  rows: string[];
  seed: number;
  steps: number;
  /** 'done', or 'diverged' (training stopped at a non-finite loss or weight: no figures). */
  status: 'done' | 'diverged';
  error?: string;
  figures: Record<string, number | null>;
  /** Training wall time (sum of the steps' step_s) and evaluation wall time. */
  train_s: number;
  eval_s: number;
}

/**
 * The evaluation every sweep run gets at its end: the figures of the results
 * table at a cost of ~20 s on the mnist preset without the baselines (raw G
 * left out). The baselines (random-init E and raw pixels) are measured for
 * every seed, so that "trained minus random-init" has a spread over seeds.
 */
export const SWEEP_EVAL: EvalSettings = {
  samples: 2000, realImages: 2000, probeTrain: 5000, probeEval: 2000, reconstructions: 1000, rawG: false, baselines: true,
};

/** Quick evaluations per sweep run (the points of its curves), evenly spaced, the last at the run's last step. */
export const SWEEP_CURVE_POINTS = 4;

/**
 * A run's settings: the sweep's defaults (the curves' evaluations, pictures at
 * the end, a checkpoint every 50 steps to resume from), then the sweep's --set
 * overrides, then its budget and the seed.
 */
function runSettings(def: SweepDefinition, seed: number): string[] {
  return [`evalEvery=${def.curves?.evalEvery ?? 0}`, `sampleEvery=${def.steps}`, `checkpointEvery=${Math.min(50, def.steps)}`,
          'keepCheckpoints=1', ...def.settings, `steps=${def.steps}`, `seed=${seed}`];
}

/**
 * The definition of an ablation sweep (all rows unless `rows` names some), checked. Every run
 * evaluates itself SWEEP_CURVE_POINTS times (every ceil(steps / points) steps; a `--set
 * evalEvery=N` among the settings wins, 0: no curves) with `curveEvaluation` (default: the
 * trainer's QUICK_EVAL sizes), and once at its end with `evaluation` (default SWEEP_EVAL).
 */
export function ablationSweep(opts: { preset: string; rows?: string[]; seeds: number; steps: number; settings?: string[];
                                      evaluation?: EvalSettings; curveEvaluation?: EvalSettings }): SweepDefinition {
  const rows = opts.rows ?? Object.keys(ABLATIONS);
  const unknown = rows.filter((r) => !(r in ABLATIONS));
  if (unknown.length > 0) throw new Error(`Expected ablation rows (${Object.keys(ABLATIONS).join(', ')}), but got ${unknown.join(', ')}`);
  const settings = opts.settings ?? [];
  const base = resolveConfig(opts.preset, 'base', settings);  // checks the preset and the settings
  const evalEvery = settings.some((s) => s.startsWith('evalEvery=')) ? base.evalEvery : Math.ceil(opts.steps / SWEEP_CURVE_POINTS);
  return {
    kitVersion: KIT_VERSION, grid: 'ablations', preset: opts.preset, rows, seeds: Array.from({ length: opts.seeds }, (_, i) => i),
    steps: opts.steps, settings, evaluation: opts.evaluation ?? SWEEP_EVAL, evalResolution: base.resolution,
    curves: { evalEvery, evaluation: opts.curveEvaluation ?? QUICK_EVAL },
  };
}

/** The jobs of a definition, seed by seed, identical configs merged. */
export function planSweep(def: SweepDefinition): SweepJob[] {
  const jobs: SweepJob[] = [];
  for (const seed of def.seeds) {
    const byConfig = new Map<string, SweepJob>();
    for (const row of def.rows) {
      const cfg = resolveConfig(def.preset, row, runSettings(def, seed));
      const key = JSON.stringify(cfg);
      const same = byConfig.get(key);
      if (same) { same.rows.push(row); continue; }
      const job = { name: `${row}-s${seed}`, rows: [row], seed, cfg };
      byConfig.set(key, job);
      jobs.push(job);
    }
  }
  return jobs;
}

/** Keys of a definition that may change between a sweep and its re-run (the rows and seeds may grow). */
function definitionMismatch(a: SweepDefinition, b: SweepDefinition): string[] {
  const shown = (v: unknown) => JSON.stringify(v) ?? 'none';
  return (['grid', 'preset', 'steps', 'settings', 'evaluation', 'evalResolution', 'curves'] as const)
    .filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]))
    .map((k) => `${k} ${shown(a[k])} (there) vs ${shown(b[k])} (asked)`);
}

/**
 * Writes <out>/sweep.json, or checks that the one there describes the same
 * sweep (other rows or seeds may be added; a different budget is an error:
 * its finished runs would not compare).
 */
export function openSweepFolder(out: string, def: SweepDefinition): void {
  const file = path.join(out, 'sweep.json');
  if (fs.existsSync(file)) {
    let old: SweepDefinition;
    try { old = JSON.parse(fs.readFileSync(file, 'utf8')) as SweepDefinition; } catch (e) {
      throw new Error(`Expected ${file} to be a sweep definition, but it is not valid JSON (${(e as Error).message})`);
    }
    const differs = definitionMismatch(old, def);
    if (differs.length > 0) throw new Error(`Expected the sweep in ${out} to match, but ${differs.join('; ')}: choose another --out`);
  }
  ensureFolder(out, 'the sweep folder');
  writeFileAtomic(file, JSON.stringify(def, null, 2) + '\n');
}

const resultFile = (out: string, job: SweepJob) => path.join(out, job.name, 'result.json');

/** A job's result, or null when it has not finished. */
export function readJobResult(out: string, job: SweepJob): JobResult | null {
  const file = resultFile(out, job);
  if (!fs.existsSync(file)) return null;
  return readJsonFile<JobResult>(file, "a run's result", 'remove it to run that job again');}

/** 'done' (result.json), 'partial' (a checkpoint to resume from) or 'new'. */
export function jobState(out: string, job: SweepJob): 'done' | 'partial' | 'new' {
  if (readJobResult(out, job) !== null) return 'done';
  return listCheckpoints(path.join(out, job.name)).length > 0 ? 'partial' : 'new';
}

export interface JobProgress {
  phase: 'train' | 'eval';
  step: number;
  total: number;
}

export interface JobOptions {
  /** Feature-net cache root (eval/feature_net.ts). */
  cacheDir?: string;
  /** Training steps of the feature net when it is not cached (tests). */
  featureNetSteps?: number;
  onProgress?: (p: JobProgress) => void;
  /** Where the sentences about what was found in the run folder go (a resumption, a stale lock, a torn line: run/train_run.ts notes). */
  log?: (line: string) => void;
  /** Keep the checkpoints after the evaluation (default: pruned, see the file comment). */
  keepCheckpoints?: boolean;
}

/**
 * Runs one job to its result: trains (resuming from the newest checkpoint
 * when there is one), evaluates the final checkpoint, writes result.json
 * atomically, then prunes the folder, holding the run folder's lock all along
 * (one process per run, also across queue workers). A finished job returns
 * its result at once. A run that diverges is a result too ('diverged'); any
 * other error propagates and the job stays resumable.
 */
export async function runSweepJob(out: string, def: SweepDefinition, job: SweepJob, opts: JobOptions = {}): Promise<JobResult> {
  const done = readJobResult(out, job);
  if (done !== null) return done;
  const dir = path.join(out, job.name);
  ensureFolder(dir, 'the run folder');
  // The child of a killed worker finishes its step before it notices: wait for it rather than fail the job.
  const lock = await acquireLock(dir, { what: 'Run folder', waitMs: 60_000 });
  try {
    return readJobResult(out, job) ?? await trainAndEvaluate(dir, def, job, lock, opts);  // the former holder may have finished it
  } finally {
    lock.release();
  }
}

async function trainAndEvaluate(dir: string, def: SweepDefinition, job: SweepJob, lock: FolderLock, opts: JobOptions): Promise<JobResult> {
  const onStep = (step: number, total: number) => opts.onProgress?.({ phase: 'train', step, total });
  const base = { kitVersion: KIT_VERSION, name: job.name, rows: job.rows, seed: job.seed, steps: def.steps };
  try {
    // A run that stopped before its first checkpoint resumes from step 0 (run/folder.ts).
    // The curves' evaluations score every row with the final evaluation's feature net, at the sweep's one resolution.
    const evaluation = { settings: def.curves?.evaluation, cacheDir: opts.cacheDir, featureNetSteps: opts.featureNetSteps,
                         resolution: def.evalResolution };
    await trainRun({ cfg: job.cfg, out: dir, resume: holdsRun(dir), quiet: true, onStep, lock, log: opts.log, evaluation });
  } catch (e) {
    const message = (e as Error).message;
    if (!message.startsWith('Non-finite')) throw e;
    const result: JobResult = { ...base, status: 'diverged', error: message, figures: {}, train_s: trainSeconds(dir), eval_s: 0 };
    finishJob(dir, result, opts);
    return result;
  }
  opts.onProgress?.({ phase: 'eval', step: def.steps, total: def.steps });
  const settings = { ...def.evaluation, baselines: def.evaluation.baselines || job.seed === def.seeds[0] };
  const report = await evaluateCheckpoint(dir, settings, { cacheDir: opts.cacheDir, featureNetSteps: opts.featureNetSteps,
                                                           resolution: def.evalResolution, quiet: true });
  const result: JobResult = { ...base, status: 'done', figures: flatMetrics(report), train_s: trainSeconds(dir), eval_s: report.seconds };
  finishJob(dir, result, opts);
  return result;
}

/** The training wall time of a run folder: the sum of its steps' step_s. */
function trainSeconds(dir: string): number {
  return readMetricsLines(path.join(dir, 'metrics.jsonl')).lines.map((l) => JSON.parse(l.text) as { step_s?: number })
    .reduce((sum, r) => sum + (r.step_s ?? 0), 0);
}

/** Writes result.json, then prunes the folder to the small files worth keeping. */
function finishJob(dir: string, result: JobResult, opts: JobOptions): void {
  writeFileAtomic(path.join(dir, 'result.json'), JSON.stringify(result, null, 2) + '\n');
  if (opts.keepCheckpoints) return;
  const metrics = path.join(dir, 'metrics.jsonl');
  if (fs.existsSync(metrics)) {
    writeFileAtomic(path.join(dir, CURVES_FILE), curveLinesText(metrics));  // readable beside the archive, for the results' charts
    writeFileAtomic(metrics + '.gz', zlib.gzipSync(fs.readFileSync(metrics)));
    fs.rmSync(metrics);
  }
  const pictures = (prefix: string) => fs.readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith('.png')).sort();
  for (const prefix of ['samples-', 'recon-']) for (const f of pictures(prefix).slice(0, -1)) fs.rmSync(path.join(dir, f));
  for (const f of listCheckpoints(dir)) fs.rmSync(f);
  const evalDir = path.join(dir, 'eval');
  if (fs.existsSync(evalDir)) {  // keep the report and the reconstruction grid, not the cached features
    for (const f of fs.readdirSync(evalDir).filter((n) => !/\.(json|png)$/.test(n))) fs.rmSync(path.join(evalDir, f), { recursive: true });
  }
}

/** The results table: one line per (row, seed) in plan order, finished jobs only. */
export function sweepResults(out: string, def: SweepDefinition): ResultRow[] {
  const rows: ResultRow[] = [];
  const jobs = planSweep(def);
  for (const seed of def.seeds) {
    for (const row of def.rows) {
      const job = jobs.find((j) => j.seed === seed && j.rows.includes(row))!;
      const r = readJobResult(out, job);
      if (r === null) continue;
      const f = (k: string) => r.figures[k] ?? null;
      rows.push({
        row, seed, steps: r.steps, IS: f('is'), FID: f('fid'), probe_top1: f('probe_top1'), probe_top5: f('probe_top5'), knn1: f('knn1'),
        class_consistency: f('class_consistency'), wall_s: Math.round(r.train_s + r.eval_s),
        probe_top1_random_init: f('probe_top1_random_init'), knn1_random_init: f('knn1_random_init'),
        probe_top1_pixels: f('probe_top1_pixels'), knn1_pixels: f('knn1_pixels'), status: r.status, run: job.name,
      });
    }
  }
  return rows;
}

/** Rewrites <out>/results.csv and results.json from the finished jobs; returns the rows. */
export function writeSweepResults(out: string, def: SweepDefinition): ResultRow[] {
  const rows = sweepResults(out, def);
  writeFileAtomic(path.join(out, 'results.csv'), resultsCsv(rows));
  const pending = planSweep(def).filter((j) => readJobResult(out, j) === null).map((j) => j.name);
  writeFileAtomic(path.join(out, 'results.json'), JSON.stringify({ sweep: def, columns: RESULT_COLUMNS, rows, pending }, null, 2) + '\n');
  return rows;
}

/**
 * A training run in a folder: `config.json` (the resolved config),
 * `metrics.jsonl` (one line per E/G step), `samples-<step>.png` (EMA G on a
 * fixed z), `recon-<step>.png` (rows of real x over rows of G(E(x))), and
 * `ckpt-<step>.bin` checkpoints from which `resume` continues exactly.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../backend/select';
import { checkpointFile, loadCheckpoint, loadLatestCheckpoint, saveCheckpoint } from '../train/checkpoint';
import { CheckpointMeta, checkpointTensors, KIT_VERSION, restoreTrainState } from '../train/run_checkpoint';
import { batchesFor, loadRunDataset } from '../train/run_data';
import { Config } from '../config';
import { validateConfig } from '../config_check';
import { die, faultDue, faultPoint } from '../train/faults';
import { appendLine, FileError, writeFileAtomic } from '../util/fs_safe';
import type { FolderLock } from './lock';
import { OpenedRun, openRunFolder, readMetricsLines } from './folder';
import { Dataset } from '../data';
import { createModels, encode, generate, sampleLatent } from '../model/bigbigan';
import { writeImageGrid } from '../util/png';
import { EvalSettings, Evaluator, flatMetrics, QUICK_EVAL } from '../eval/evaluate';
import { encoderDiagnostics } from '../eval/diagnostics';
import { Progress } from '../util/progress';
import { Rng } from '../util/rng';
import { createTrainState, disposeTrainState, dStep, egStep, scheduleLearningRates, TrainState } from '../train/steps';

/** Held-out images (and prior latents) of each encoder diagnosis: enough for a stable correlation, a second or two of work. */
const DIAGNOSIS_IMAGES = 256;

export interface RunOptions {
  cfg: Config;
  /** The run folder. */
  out: string;
  /** Continue the run in `out` from its newest intact checkpoint (or from step 0 if it stopped before its first; run/folder.ts). */
  resume?: boolean;
  /** The lock of `out`, when the caller holds it already (a sweep job); otherwise trainRun takes and releases it. */
  lock?: FolderLock;
  /** Where the sentences about what was found and done in the folder go (default: stderr, none when quiet). */
  log?: (line: string) => void;
  /** No progress line (tests). */
  quiet?: boolean;
  /** Use this dataset instead of loading cfg.dataset (tests, notebooks). */
  dataset?: Dataset;
  /**
   * Stop after the step during which this many minutes of training have passed (a run that must fit a
   * time budget, e.g. npm start): the run ends there as at its last step (pictures, checkpoint,
   * evaluation) and `--resume` continues it towards cfg.steps.
   */
  minutes?: number;
  /** Called after every E/G step (sweeps report progress with it). */
  onStep?: (step: number, total: number) => void;
  /**
   * How the evaluations every cfg.evalEvery steps run (defaults: eval/evaluate.ts QUICK_EVAL, a 1500-step cached feature net,
   * at G's resolution; a sweep fixes `resolution` so that every row is scored alike: EvaluatorOptions.resolution).
   */
  evaluation?: { settings?: EvalSettings; featureNetSteps?: number; cacheDir?: string; resolution?: number };
}

export interface RunResult {
  out: string;
  step: number;
  /** Last values of the logged metrics. */
  last: Record<string, number>;
  /** The newest pictures (null: none, e.g. no E or fewer than 8 held-out images for the reconstruction grid). */
  samples: string | null;
  reconstructions: string | null;
  checkpoint: string;
  /** The run stopped before cfg.steps because its `minutes` ran out. */
  stoppedEarly: boolean;
  /** What was found and done in the folder (a resumption, a stale lock taken over, a torn line dropped, ...), one sentence each. */
  notes: string[];
}

/** Keys that may change between a run and its resumption. */
export const RESUMABLE_KEYS: Array<keyof Config> = [
  'steps', 'sampleEvery', 'checkpointEvery', 'keepCheckpoints', 'evalEvery', 'diagEvery', 'inceptionPath',
];

function sameRun(a: Config, b: Config): string[] {
  return (Object.keys(a) as Array<keyof Config>).filter(
    (k) => !RESUMABLE_KEYS.includes(k) && JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}


/** Images the encoder diagnostics use at every call: the first 256 of trainVal (fewer if it is smaller), and as many fixed prior z. */
function diagnosisInputs(cfg: Config, dataset: Dataset): { x: tf.Tensor4D; z: tf.Tensor2D } | null {
  const n = Math.min(DIAGNOSIS_IMAGES, dataset.trainVal.count);
  if (n < 2) return null;
  const x = batchesFor({ ...cfg, batchSize: n, augmentCrop: 0, augmentFlip: false }, dataset.trainVal).next().x;
  return { x, z: sampleLatent(cfg, new Rng(cfg.seed + 104729), n) };
}

/** Writes EMA-G samples for the fixed z and the reconstruction grid of fixed real images. */
async function writePictures(state: TrainState, out: string, fixedZ: tf.Tensor2D,
                             fixedX: tf.Tensor4D | null): Promise<{ samples: string; reconstructions: string | null }> {
  const { models } = state;
  const tag = String(state.step).padStart(8, '0');
  const samples = path.join(out, `samples-${tag}.png`);
  const reconstructions = path.join(out, `recon-${tag}.png`);
  // Computed in a tidy, written after it: the writes read asynchronously, and a tidy cannot await.
  const grids = tf.tidy(() => {
    const sampled = generate(models, fixedZ);
    if (fixedX === null || models.E === null) return [sampled];
    const rec = generate(models, encode(models, fixedX, new Rng(0), false).z_mean);
    const shown = tf.image.resizeBilinear(fixedX, [models.cfg.resolution, models.cfg.resolution]);
    const rows: tf.Tensor4D[] = [];
    for (let r = 0; r < fixedX.shape[0] / 8; r++) rows.push(tf.slice(shown, r * 8, 8), tf.slice(rec, r * 8, 8));
    return [sampled, tf.concat(rows)];  // real row, then its reconstruction row
  });
  try {
    await writeImageGrid(samples, grids[0], 8);
    if (grids.length > 1) await writeImageGrid(reconstructions, grids[1], 8);
  } finally {
    tf.dispose(grids);
  }
  return { samples, reconstructions: grids.length > 1 ? reconstructions : null };
}

/**
 * Whether every weight is finite: one sum over all of them (NaN and ±Inf
 * propagate). Needed beside the loss check because a NaN weight can hide
 * behind a ReLU (wasm's max(0, NaN) is 0) and leave the losses finite.
 */
async function allFinite(state: TrainState): Promise<boolean> {
  const { G, E, D } = state.models;
  const total = tf.tidy(() => tf.addN([G, E, D].flatMap((p) => [...(p?.weights.values() ?? [])].map((w) => tf.sum(w)))));
  try {
    return Number.isFinite((await total.data())[0]);
  } finally {
    total.dispose();
  }
}

/** The evaluator of a run's quick evaluations. */
async function createEvaluator(cfg: Config, dataset: Dataset, opts: RunOptions): Promise<Evaluator> {
  const evaluator = await Evaluator.create(cfg, {
    dataset, quiet: opts.quiet, inception: cfg.inceptionPath || undefined,
    cacheDir: opts.evaluation?.cacheDir, featureNetSteps: opts.evaluation?.featureNetSteps, resolution: opts.evaluation?.resolution,
  });
  evaluator.progress = false;  // one line per evaluation instead
  return evaluator;
}

/** The pictures of `step` in `out` that exist (null where none was written, e.g. no E or too few held-out images). */
function picturesOf(out: string, step: number): { samples: string | null; reconstructions: string | null } {
  const tag = String(step).padStart(8, '0');
  const file = (prefix: string) => { const f = path.join(out, `${prefix}-${tag}.png`); return fs.existsSync(f) ? f : null; };
  return { samples: file('samples'), reconstructions: file('recon') };
}

/** Appends one metrics line; BIGBIGAN_FAULT=metrics-append tears it (half written, then kill -9). */
function appendMetrics(file: string, row: object): void {
  const line = JSON.stringify(row);
  if (faultDue('metrics-append')) {
    fs.appendFileSync(file, line.slice(0, line.length >> 1));
    die();
  }
  appendLine(file, line);
}

/** Trains (or resumes) a run; see the file comment for what it writes, run/folder.ts for how a folder is opened. */
export async function trainRun(opts: RunOptions): Promise<RunResult> {
  const cfg = validateConfig(opts.cfg);
  if (opts.minutes !== undefined && !(opts.minutes > 0)) throw new Error(`Expected minutes > 0, but got ${opts.minutes}`);
  const backend = await selectBackend({ quiet: opts.quiet });
  const log = opts.log ?? (opts.quiet ? () => undefined : (line: string) => process.stderr.write(`[bigbigan] ${line}\n`));
  const opened = await openRunFolder<CheckpointMeta>({
    out: opts.out, cfg, resume: opts.resume === true, lock: opts.lock, differs: sameRun,
  });
  const notes: string[] = [];
  const say = (line: string) => { notes.push(line); log(line); };
  opened.notes.forEach(say);
  try {
    return { ...await trainOpened(opts, cfg, backend.tfBackend, opened, say), notes };
  } catch (e) {
    if (opened.created !== null && !fs.existsSync(path.join(opts.out, 'config.json'))) {
      fs.rmSync(opened.created, { recursive: true, force: true });  // nothing of the run was written
    }
    throw e;
  } finally {
    if (opened.ownLock) opened.lock.release();
  }
}

/** The training loop of trainRun in an opened (locked, prepared) folder. */
async function trainOpened(opts: RunOptions, cfg: Config, tfBackend: string, opened: OpenedRun<CheckpointMeta>,
                           say: (line: string) => void): Promise<Omit<RunResult, 'notes'>> {
  const { out } = opts;
  const { latest, lock } = opened;
  const from = latest?.meta.step ?? 0;
  // A diagnosis or evaluation due at the checkpoint's step whose line the interrupted process did not write.
  const due = (every: number) => latest !== null && every > 0 && (from % every === 0 || latest.meta.end === true);
  const missing = { diag: due(cfg.diagEvery) && !cfg.noEncoder && !opened.logged.diag, eval: due(cfg.evalEvery) && !opened.logged.eval };
  const metricsFile = path.join(out, 'metrics.jsonl');
  if (latest !== null && from === cfg.steps && !missing.diag && !missing.eval) {
    say(`the run in ${out} has reached step ${from} of ${cfg.steps} already: nothing to train`);
    const lastLine = readMetricsLines(metricsFile).lines.filter((l) => l.kind === undefined).pop();
    return {
      out, step: from, last: lastLine ? JSON.parse(lastLine.text) : {}, ...picturesOf(out, from), checkpoint: latest.file,
      stoppedEarly: false,
    };
  }
  const dataset = opts.dataset ?? await loadRunDataset(cfg);
  if (dataset.train.channels !== cfg.channels) {
    throw new Error(`Expected ${cfg.channels}-channel images (config 'channels'), but ${cfg.dataset} has ${dataset.train.channels}`);
  }
  writeFileAtomic(path.join(out, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
  const batches = batchesFor(cfg, dataset.train);
  const state = createTrainState(cfg);
  if (latest !== null) {
    try {
      restoreTrainState(state, latest);
    } catch (e) {
      disposeTrainState(state);
      throw e;
    }
    batches.setState(latest.meta.batches);
  }

  const fixedRng = new Rng(cfg.seed + 7919);  // fixed z and x for pictures, independent of training noise
  const fixedZ = sampleLatent(cfg, fixedRng, 64);
  const nFixed = Math.min(32, Math.floor(dataset.trainVal.count / 8) * 8);  // rows of 8 in the reconstruction grid
  const fixedX = state.models.E === null || nFixed === 0 ? null
    : batchesFor({ ...cfg, batchSize: nFixed, augmentCrop: 0, augmentFlip: false }, dataset.trainVal).next().x;
  const diagnosis = cfg.diagEvery > 0 && state.models.E !== null ? diagnosisInputs(cfg, dataset) : null;
  const diagnose = async () => {
    if (diagnosis === null) return;
    const figures = await encoderDiagnostics(state.models, diagnosis.x, diagnosis.z);
    appendMetrics(metricsFile, { step: state.step, kind: 'diag', ...figures });
  };
  let evaluator: Evaluator | undefined;
  let evalMs = 0;  // not training time: left out of img/s
  const evaluate = async () => {
    const t = Date.now();
    evaluator ??= await createEvaluator(cfg, dataset, opts);
    const report = await evaluator.evaluate(state.models, state.step, opts.evaluation?.settings ?? QUICK_EVAL);
    const figures = flatMetrics(report);
    appendMetrics(metricsFile, { step: state.step, kind: 'eval', ...figures, eval_seconds: report.seconds });
    if (!opts.quiet) {
      const shown = Object.entries(figures).map(([k, v]) => `${k} ${v === null ? '-' : v.toFixed(3)}`).join(', ');
      process.stderr.write(`\neval at step ${state.step}: ${shown}\n`);
    }
    evalMs += Date.now() - t;
    return Date.now() - t;
  };
  const save = (end: boolean) => saveCheckpoint<CheckpointMeta>(out, state.step, {
    kitVersion: KIT_VERSION, config: cfg, step: state.step, rng: state.rng.getState(), batches: batches.getState(),
    adamSteps: { D: state.optD.t, G: state.optG.t, E: state.optE?.t ?? null }, end,
  }, checkpointTensors(state), cfg.keepCheckpoints);

  const progress = opts.quiet ? null : new Progress(cfg.steps, 'train');
  const start = Date.now(), firstStep = state.step;
  const timeUp = () => opts.minutes !== undefined && Date.now() - start >= opts.minutes * 60_000;
  let last: Record<string, number> = {};
  let checkpoint = latest?.file ?? '';
  let pictures: { samples: string | null; reconstructions: string | null } | null = null;
  // step_s: wall time since the previous line (the previous step's pictures and checkpoint included, evaluations not)
  let lineTime = Date.now();
  try {
    if (state.step === 0) await diagnose();  // the starting point of the curves
    if (missing.diag) await diagnose();  // due at the checkpoint's step, lost with the process that wrote it
    if (missing.eval) lineTime += await evaluate();
    while (state.step < cfg.steps && (state.step === firstStep || !timeUp())) {  // at least one step
      const metrics: Record<string, number> = {};
      scheduleLearningRates(state);
      for (let k = 0; k < cfg.dSteps; k++) {
        const { x } = batches.next();
        Object.assign(metrics, await dStep(state, x));
        x.dispose();
      }
      const { x } = batches.next();
      Object.assign(metrics, await egStep(state, x));
      x.dispose();
      const weightsFinite = await allFinite(state);
      if (!Number.isFinite(metrics.L_D) || !Number.isFinite(metrics.L_EG) || !weightsFinite) {
        throw new Error(`Non-finite ${weightsFinite ? 'loss' : 'weights'} at step ${state.step} ` +
                        `(L_D = ${metrics.L_D}, L_EG = ${metrics.L_EG}): stopping. ` +
                        (checkpoint ? `The last good checkpoint is ${checkpoint}.` : 'No checkpoint was written yet.'));
      }
      faultPoint('step');
      lock.refresh();  // still ours: nothing is written by a process that lost the folder
      const imgPerSec = ((state.step - firstStep) * cfg.batchSize * (cfg.dSteps + 1)) / ((Date.now() - start - evalMs) / 1000);
      last = { step: state.step, ...metrics, lr_G: state.optG.lr, lr_D: state.optD.lr, lr_E: state.optE?.lr ?? 0, img_per_s: imgPerSec };
      const now = Date.now();
      appendMetrics(metricsFile, { ...last, step_s: (now - lineTime) / 1000, backend: tfBackend, time: new Date(now).toISOString() });
      lineTime = now;
      progress?.update(state.step, { L_D: metrics.L_D, L_EG: metrics.L_EG, 'img/s': imgPerSec });
      opts.onStep?.(state.step, cfg.steps);
      const end = state.step === cfg.steps || timeUp();
      if (end || state.step % cfg.sampleEvery === 0) pictures = await writePictures(state, out, fixedZ, fixedX);
      if (end || state.step % cfg.checkpointEvery === 0) checkpoint = await save(end);
      if (cfg.diagEvery > 0 && (end || state.step % cfg.diagEvery === 0)) await diagnose();
      if (cfg.evalEvery > 0 && (end || state.step % cfg.evalEvery === 0)) lineTime += await evaluate();
    }
    progress?.finish();
    if (pictures === null) {  // no step ran (a resumption that only owed a diagnosis or an evaluation)
      const found = picturesOf(out, state.step);
      pictures = found.samples !== null ? found : await writePictures(state, out, fixedZ, fixedX);
    }
    if (checkpoint !== checkpointFile(out, state.step)) checkpoint = await save(true);
  } catch (e) {
    if (!(e instanceof FileError)) throw e;
    const last = checkpoint ? `The last good checkpoint is ${checkpoint}.` : 'No checkpoint was written yet.';
    throw new FileError(`${e.message}. ${last}`, e.code);
  } finally {
    evaluator?.dispose();
    tf.dispose([fixedZ, ...(fixedX ? [fixedX] : []), ...(diagnosis ? [diagnosis.x, diagnosis.z] : [])]);
    disposeTrainState(state);
  }
  return { out, step: state.step, last, ...pictures, checkpoint, stoppedEarly: state.step < cfg.steps };
}

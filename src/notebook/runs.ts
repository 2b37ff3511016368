/**
 * Training runs for notebooks: a run is described by a small spec (preset,
 * ablation row, steps, overrides, dataset limit, evaluation settings), lives
 * in a folder named after its config (so notebooks that ask for the same run
 * share it, and a changed hyper-parameter gets a new folder), and is trained
 * in a child Node process (train_worker.ts) while the notebook polls its
 * metrics.jsonl and redraws a live chart. A finished run is reused, a
 * shorter one is resumed to the asked number of steps.
 */
import { spawn } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { listCheckpoints } from '../train/checkpoint';
import { Config } from '../config';
import type { EvalSettings } from '../eval/evaluate';
import { acquireLock } from '../run/lock';
import { ABLATIONS, resolveConfig } from '../presets';
import { RESUMABLE_KEYS } from '../run/train_run';
import { holdsRun } from '../run/folder';
import { picturesOf } from './images';
import { Metrics, readMetrics } from './metrics';

/** What a notebook asks for. */
export interface RunSpec {
  /** A PRESETS name, e.g. 'mnist'. */
  preset: string;
  /** An ABLATIONS row; default 'base'. */
  ablation?: string;
  /** E/G steps. */
  steps: number;
  /** cfg.seed; default the preset's. */
  seed?: number;
  /** Config keys set after preset and ablation (checked like --set). */
  overrides?: Partial<Config>;
  /** Dataset options: `limit` reads at most that many train and test examples (quick mode). */
  data?: { limit?: number };
  /** How the evaluations every cfg.evalEvery steps run (src/run/train_run.ts RunOptions.evaluation). */
  evaluation?: { settings?: EvalSettings; featureNetSteps?: number; cacheDir?: string };
}


/** preset → ablation → overrides → steps/seed, validated as the CLI validates --set (config_check.ts). */
export function runConfig(spec: RunSpec): Config {
  return resolveConfig(spec.preset, spec.ablation ?? 'base', [],
                       { ...spec.overrides, steps: spec.steps, ...(spec.seed !== undefined ? { seed: spec.seed } : {}) });
}

/** The folder of a spec's run under `root`: `<preset>-<ablation>-s<seed>-<hash of the config and data>`. */
export function runFolder(root: string, spec: RunSpec): string {
  const cfg = runConfig(spec);
  // Keys that may change between a run and its resumption are left out of the hash.
  const kept = Object.fromEntries(Object.entries(cfg).filter(([k]) => !RESUMABLE_KEYS.includes(k as keyof Config))
    .sort(([a], [b]) => a.localeCompare(b)));
  const hash = createHash('sha1').update(JSON.stringify({ cfg: kept, limit: spec.data?.limit ?? null })).digest('hex').slice(0, 8);
  return path.join(root, `${spec.preset}-${spec.ablation ?? 'base'}-s${cfg.seed}-${hash}`);
}

/** The dataset of a run, loaded as its trainer loads it (same hold-out seed, resolution and channels; `limit` as the spec's data). */
export { loadRunDataset } from '../train/run_data';

/** The step of the newest checkpoint in `dir` (0 without one). */
export function checkpointStep(dir: string): number {
  const files = listCheckpoints(dir);
  if (files.length === 0) return 0;
  return Number(/ckpt-(\d+)\.bin$/.exec(files[files.length - 1])![1]);
}

/** What ensureRun hands back. */
export interface RunInfo {
  out: string;
  cfg: Config;
  /** The newest checkpoint's step. */
  step: number;
  /** Whether this call trained (false: the run was already there). */
  trained: boolean;
  /** Seconds this call spent training (0 when it did not). */
  seconds: number;
  checkpoint: string;
  /** The newest sample and reconstruction grids. */
  samples: string | null;
  reconstructions: string | null;
  metrics: Metrics;
}

function infoOf(out: string, trained: boolean, seconds: number): RunInfo {
  const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as Config;
  const ckpts = listCheckpoints(out);
  const last = <T>(a: T[]) => (a.length > 0 ? a[a.length - 1] : null);
  return {
    out, cfg, step: checkpointStep(out), trained, seconds, checkpoint: last(ckpts) ?? '',
    samples: last(picturesOf(out, 'samples'))?.file ?? null, reconstructions: last(picturesOf(out, 'recon'))?.file ?? null,
    metrics: readMetrics(out),
  };
}

/** The job a worker runs (JSON on its command line). */
export interface WorkerJob {
  cfg: Config;
  out: string;
  resume: boolean;
  data?: RunSpec['data'];
  evaluation?: RunSpec['evaluation'];
}

/** Options of ensureRun / trainInBackground. */
export interface EnsureOptions {
  /** Called with the metrics whenever metrics.jsonl grew (and once at the end): redraw a chart here. */
  onUpdate?: (m: Metrics) => void;
  /** How often metrics.jsonl is read while training; default 2000 ms. */
  pollMs?: number;
  /** Empty the run folder and train from scratch (refused while another process trains in it). */
  retrain?: boolean;
}

/**
 * Trains `job` in a child Node process (dist/src/notebook/train_worker.js),
 * reading metrics.jsonl every pollMs while it runs; rejects with the child's
 * last error lines if it fails. The child is killed if this process exits.
 */
export function trainInBackground(job: WorkerJob, opts: EnsureOptions = {}): Promise<void> {
  const worker = path.join(__dirname, 'train_worker.js');
  if (!fs.existsSync(worker)) throw new Error(`Expected the compiled worker ${worker}, but it is missing: run npm run build`);
  const metricsFile = path.join(job.out, 'metrics.jsonl');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [worker, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-8000); });
    child.stdout.on('data', () => undefined);
    const kill = () => child.kill();
    process.once('exit', kill);
    let size = -1;
    const poll = () => {
      const now = fs.existsSync(metricsFile) ? fs.statSync(metricsFile).size : 0;
      if (now === size) return;
      size = now;
      try {
        opts.onUpdate?.(readMetrics(metricsFile));
      } catch (e) {
        stderr += `\n(onUpdate failed: ${(e as Error).message})`;
      }
    };
    const timer = setInterval(poll, opts.pollMs ?? 2000);
    child.on('error', (e) => { clearInterval(timer); process.removeListener('exit', kill); reject(e); });
    child.on('close', (code, signal) => {
      clearInterval(timer);
      process.removeListener('exit', kill);
      size = -1;
      poll();
      if (code === 0) { resolve(); return; }
      const tail = stderr.trim().split('\n').slice(-15).join('\n');
      reject(new Error(`Training in ${job.out} failed (${signal ?? `exit code ${code}`}):\n${tail}`));
    });
  });
}

/**
 * The run of `spec` under `root`: reused when its newest checkpoint has
 * reached spec.steps, otherwise trained (or resumed) in a child process.
 */
export async function ensureRun(root: string, spec: RunSpec, opts: EnsureOptions = {}): Promise<RunInfo> {
  if (spec.ablation !== undefined && !(spec.ablation in ABLATIONS)) {
    throw new Error(`Expected an ablation (${Object.keys(ABLATIONS).join(', ')}), but got '${spec.ablation}'`);
  }
  const cfg = runConfig(spec);
  const out = runFolder(root, spec);
  if (opts.retrain && fs.existsSync(out)) await emptyFolder(out);
  if (checkpointStep(out) >= cfg.steps) {
    const info = infoOf(out, false, 0);
    opts.onUpdate?.(info.metrics);
    return info;
  }
  const start = Date.now();
  // A run that stopped before its first checkpoint resumes from step 0 (src/run/folder.ts).
  await trainInBackground({ cfg, out, resume: holdsRun(out), data: spec.data, evaluation: spec.evaluation }, opts);
  return infoOf(out, true, (Date.now() - start) / 1000);
}

/** Removes everything in a run folder, holding its lock meanwhile: never under a process that trains in it. */
async function emptyFolder(dir: string): Promise<void> {
  const lock = await acquireLock(dir, { what: 'Run folder' });
  try {
    for (const name of fs.readdirSync(dir).filter((n) => n !== path.basename(lock.file))) {
      fs.rmSync(path.join(dir, name), { recursive: true });
    }
  } finally {
    lock.release();
  }
}

/**
 * Training runs for notebooks: a run is described by a small spec (preset,
 * ablation row, steps, overrides, dataset limit, evaluation settings) and
 * lives in a folder keyed by everything that shapes its results or the
 * figures a notebook shows (config, data, evaluation settings; steps apart),
 * so notebooks that ask for the same run share it and a changed setting gets
 * its own folder. It is trained in a child Node process (run/child.ts, the
 * kit's one launcher) while the notebook redraws a live chart from its
 * metrics.jsonl. A run with fewer steps than asked is resumed; a run with
 * more is never shown as the asked one (the asked steps train beside it).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { listCheckpoints } from '../train/checkpoint';
import { Config } from '../config';
import type { EvalSettings } from '../eval/evaluate';
import { acquireLock } from '../run/lock';
import { ABLATIONS, resolveConfig } from '../presets';
import { trainInChild } from '../run/child';
import { holdsRun } from '../run/folder';
import { readJsonFile, writeFileAtomic } from '../util/fs_safe';
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
  /** Config keys set beneath the ablation row's delta (e.g. quick mode's smaller model: a row's own change still shows). */
  model?: Partial<Config>;
  /** Config keys set after preset and ablation (checked like --set). */
  overrides?: Partial<Config>;
  /** Dataset options: `limit` reads at most that many train and test examples (quick mode). */
  data?: { limit?: number };
  /** How the evaluations every cfg.evalEvery steps run (src/run/train_run.ts RunOptions.evaluation). */
  evaluation?: { settings?: EvalSettings; featureNetSteps?: number; cacheDir?: string };
}


/** preset → model → ablation → overrides → steps/seed, validated as the CLI validates --set (config_check.ts). */
export function runConfig(spec: RunSpec): Config {
  const last = { ...spec.overrides, steps: spec.steps, ...(spec.seed !== undefined ? { seed: spec.seed } : {}) };
  return resolveConfig(spec.preset, spec.ablation ?? 'base', [], last, spec.model ?? {});
}

/**
 * Config keys that change neither a run's results up to a step nor the figures a notebook shows: left out of the
 * run's key. `steps` is handled apart (a shorter run is resumed). Unlike run/train_run.ts RESUMABLE_KEYS, evalEvery,
 * sampleEvery, diagEvery and inceptionPath count here: they decide which evaluations and pictures a notebook shows.
 */
const KEY_EXEMPT: ReadonlyArray<keyof Config> = ['steps', 'checkpointEvery', 'keepCheckpoints'];

/** What identifies a spec's run: its config (steps and checkpoint bookkeeping apart), its data and its evaluation settings. */
export function runKey(spec: RunSpec): Record<string, unknown> {
  const cfg = runConfig(spec);
  const config = Object.fromEntries(Object.entries(cfg).filter(([k]) => !KEY_EXEMPT.includes(k as keyof Config))
    .sort(([a], [b]) => a.localeCompare(b)));
  const ev = spec.evaluation;
  // cacheDir says where features are cached, not what is measured: left out.
  const evaluation = ev ? { settings: ev.settings ?? null, featureNetSteps: ev.featureNetSteps ?? null } : null;
  return { config, data: { limit: spec.data?.limit ?? null }, evaluation };
}

/** The folder of a spec's run under `root`: `<preset>-<ablation>-s<seed>-<hash of runKey>` (steps apart: see ensureRun). */
export function runFolder(root: string, spec: RunSpec): string {
  const seed = runConfig(spec).seed;
  const hash = createHash('sha1').update(JSON.stringify(runKey(spec))).digest('hex').slice(0, 8);
  return path.join(root, `${spec.preset}-${spec.ablation ?? 'base'}-s${seed}-${hash}`);
}

/** The dataset of a run, loaded as its trainer loads it (same hold-out seed, resolution and channels; `limit` as the spec's data). */
export { loadRunDataset } from '../train/run_data';

/** The step of the newest checkpoint in `dir` (0 without one). */
export function checkpointStep(dir: string): number {
  const files = listCheckpoints(dir);
  if (files.length === 0) return 0;
  return Number(/ckpt-(\d+)\.bin$/.exec(files[files.length - 1])![1]);
}

/** What ensureRun did: trained from step 0, resumed a shorter run, or reused a finished one. */
export type RunAction = 'trained' | 'resumed' | 'reused';

/** What ensureRun hands back. */
export interface RunInfo {
  out: string;
  cfg: Config;
  /** The newest checkpoint's step. */
  step: number;
  action: RunAction;
  /** Whether this call trained (resumed included; false: the run was reused). */
  trained: boolean;
  /** One sentence for the notebook: what was done, and for a reused run what matched. */
  story: string;
  /** Seconds this call spent training (0 when it did not). */
  seconds: number;
  checkpoint: string;
  /** The newest sample and reconstruction grids. */
  samples: string | null;
  reconstructions: string | null;
  metrics: Metrics;
}

/** The file in a run folder that records the key it was trained for (for the reader; the folder name holds its hash). */
export const RUN_KEY_FILE = 'notebook-run.json';

function infoOf(out: string, action: RunAction, story: string, seconds: number): RunInfo {
  const cfg = readJsonFile<Config>(path.join(out, 'config.json'), "a run's config", 'delete the run folder to train it again');
  const ckpts = listCheckpoints(out);
  const last = <T>(a: T[]) => (a.length > 0 ? a[a.length - 1] : null);
  return {
    out, cfg, step: checkpointStep(out), action, trained: action !== 'reused', story, seconds, checkpoint: last(ckpts) ?? '',
    samples: last(picturesOf(out, 'samples'))?.file ?? null, reconstructions: last(picturesOf(out, 'recon'))?.file ?? null,
    metrics: readMetrics(out),
  };
}

/** Options of ensureRun. */
export interface EnsureOptions {
  /** Called with the metrics whenever metrics.jsonl grew (at most every pollMs, and once at the end): redraw a chart here. */
  onUpdate?: (m: Metrics) => void;
  /** How often metrics.jsonl is read at most while training; default 2000 ms. */
  pollMs?: number;
  /** Empty the run folder and train from scratch (refused while another process trains in it). */
  retrain?: boolean;
}

/**
 * The run of `spec` under `root`, at exactly spec.steps: reused when its newest checkpoint is at spec.steps, trained or
 * resumed in a child process (run/child.ts) when it is short of them. A run trained further than asked stays as it is
 * and the asked steps train in `<folder>-steps<N>` beside it (resumption is exact, so that run is the longer one's
 * first N steps; a notebook never titles a 45-step run "of 30"). A failing child rejects with one error naming the
 * folder and the child's message.
 */
export async function ensureRun(root: string, spec: RunSpec, opts: EnsureOptions = {}): Promise<RunInfo> {
  if (spec.ablation !== undefined && !(spec.ablation in ABLATIONS)) {
    throw new Error(`Expected an ablation (${Object.keys(ABLATIONS).join(', ')}), but got '${spec.ablation}'`);
  }
  const cfg = runConfig(spec);
  const keyed = runFolder(root, spec);
  const further = checkpointStep(keyed) > cfg.steps;
  const out = further ? `${keyed}-steps${cfg.steps}` : keyed;
  if (opts.retrain && fs.existsSync(out)) await emptyFolder(out);
  const had = checkpointStep(out);
  const aside = further ? ` (${path.basename(keyed)} holds ${checkpointStep(keyed)} steps, more than the ${cfg.steps} asked)` : '';
  if (had === cfg.steps) {
    const info = infoOf(out, 'reused', `reused ${out}: the same config, data ${JSON.stringify(spec.data ?? {})}, ` +
                        `evaluation settings and ${cfg.steps} steps${aside}`, 0);
    opts.onUpdate?.(info.metrics);
    return info;
  }
  const start = Date.now();
  // A run that stopped before its first checkpoint resumes from step 0 (src/run/folder.ts).
  await trainWithUpdates(cfg, out, holdsRun(out), spec, opts);
  writeFileAtomic(path.join(out, RUN_KEY_FILE), JSON.stringify({ steps: cfg.steps, ...runKey(spec) }, null, 2) + '\n');
  const seconds = (Date.now() - start) / 1000;
  const action: RunAction = had > 0 ? 'resumed' : 'trained';
  const story = `${action === 'resumed' ? `resumed from step ${had} to` : 'trained'} ${cfg.steps} steps in ${out} ` +
                `(${seconds.toFixed(0)} s)${aside}`;
  return infoOf(out, action, story, seconds);
}

/** Trains in a child process, re-reading metrics.jsonl for opts.onUpdate as steps come in (at most every pollMs). */
async function trainWithUpdates(cfg: Config, out: string, resume: boolean, spec: RunSpec, opts: EnsureOptions): Promise<void> {
  const metricsFile = path.join(out, 'metrics.jsonl');
  let size = -1, lastRead = 0;
  const update = (force: boolean) => {
    if (!opts.onUpdate || (!force && Date.now() - lastRead < (opts.pollMs ?? 2000))) return;
    lastRead = Date.now();
    const now = fs.existsSync(metricsFile) ? fs.statSync(metricsFile).size : 0;
    if (now === size && !force) return;
    size = now;
    opts.onUpdate(readMetrics(metricsFile));
  };
  try {
    await trainInChild({ cfg, out, resume, data: spec.data, evaluation: spec.evaluation }, { onProgress: () => update(false) });
  } catch (e) {
    throw new Error(`Training ${out} failed: ${(e as Error).message}`);
  } finally {
    if (fs.existsSync(metricsFile)) update(true);
  }
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

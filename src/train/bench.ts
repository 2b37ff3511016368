/**
 * `bigbigan bench`: training throughput of a configuration (the `bench32`
 * yardstick of shared/bench/BENCH32.md by default), measured the way
 * shared/bench/torch_reference.py measures its PyTorch twin: a fixed batch of
 * data, 2 warm-up iterations, then N D steps timed together and N E/G steps
 * timed together (dStep/egStep of train/steps.ts, each reading its scalars back, so
 * every step's work is done when its timer stops).
 *
 *   d_step_ms, eg_step_ms   mean time of one step
 *   iter_ms                 d_step_ms + eg_step_ms (one D step per E/G step)
 *   img_per_s               batch · 1000 / iter_ms (as the reference defines it)
 *
 * With `compareTorch` the reference runs in the same invocation with the same
 * iteration and warm-up counts, and `ratio_iter_ms` = ours / PyTorch's.
 * `profileSteps` gives the per-kernel time (tf.profile) of one D step and one
 * E/G step.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { Config } from '../config';
import { resolveConfig } from '../presets';
import { wasmThreads } from '../backend/kernels/wasm_threads';
import { nativeKernelsInfo } from '../backend/kernels/native_dnnl';
import { createTrainState, disposeTrainState, dStep, egStep, TrainState } from './steps';

/** What one benchmark run measured. */
export interface BenchResult {
  impl: 'tfjs';
  backend: string;
  /** Threads the backend computes with (wasm: 1 unless started by startWasmThreads; tfjs-node: TensorFlow's pool of one per core). */
  threads: number;
  /** The native kernels the wasm backend runs its convolutions, products and per-channel ops on (native_dnnl.ts), or null. */
  native: string | null;
  batch: number;
  iters: number;
  warmup: number;
  d_step_ms: number;
  eg_step_ms: number;
  iter_ms: number;
  img_per_s: number;
  /**
   * CPU time of this process per iteration (process.cpuUsage, user + system): equal to iter_ms
   * for a single-threaded backend on an idle machine, and much less noisy than it on a busy one.
   */
  iter_cpu_ms: number;
  /** Peak resident set size of the process so far (process.resourceUsage().maxRSS), MiB. */
  peak_rss_mib: number;
  /** Resident set size after the warm-up and after the last timed step, MiB (flat memory: equal within noise). */
  rss_before_mib: number;
  rss_after_mib: number;
  /** tf.memory().numTensors before the first and after the last timed step. */
  tensors_before: number;
  tensors_after: number;
}

/** The JSON line torch_reference.py prints (the fields we use). */
export interface TorchResult {
  impl: string;
  torch: string;
  threads: number;
  batch: number;
  d_step_ms: number;
  eg_step_ms: number;
  iter_ms: number;
  img_per_s: number;
}

/** Threads the current backend computes with. */
export function backendThreads(): number {
  const name = tf.getBackend();
  if (name === 'wasm') return wasmThreads();
  return name === 'tensorflow' ? os.cpus().length : 1;  // the cpu backend is plain JS
}

/** A fixed batch of images in [-1, 1] at E's resolution (seeded, so every run sees the same data). */
function fixedBatch(cfg: Config): tf.Tensor4D {
  return tf.randomUniform([cfg.batchSize, cfg.eResolution, cfg.eResolution, cfg.channels], -1, 1, 'float32', cfg.seed + 1);
}

/** Mean wall-clock and CPU milliseconds of `iters` calls of `step` (each awaited: a step ends when its values are read). */
async function timeSteps(iters: number, step: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  const start = performance.now(), cpu = process.cpuUsage();
  for (let i = 0; i < iters; i++) await step();
  const used = process.cpuUsage(cpu);
  return { wall: (performance.now() - start) / iters, cpu: (used.user + used.system) / 1000 / iters };
}

const round1 = (v: number) => Math.round(v * 10) / 10;

/**
 * Builds cfg's networks and optimisers, warms up, and times `iters` D steps and
 * `iters` E/G steps on one fixed batch. Frees everything it made.
 */
export async function benchTraining(cfg: Config, opts: { iters?: number; warmup?: number } = {}): Promise<BenchResult> {
  const iters = opts.iters ?? 10, warmup = opts.warmup ?? 2;
  if (!Number.isInteger(iters) || iters < 1) throw new Error(`Expected iters to be a whole number ≥ 1, but got ${iters}`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`Expected warmup to be a whole number ≥ 0, but got ${warmup}`);
  const state = createTrainState(cfg);
  const x = fixedBatch(cfg);
  try {
    for (let i = 0; i < warmup; i++) { await dStep(state, x); await egStep(state, x); }
    const tensorsBefore = tf.memory().numTensors, rssBefore = process.memoryUsage().rss;
    const d = await timeSteps(iters, () => dStep(state, x));
    const eg = await timeSteps(iters, () => egStep(state, x));
    const tensorsAfter = tf.memory().numTensors, rssAfter = process.memoryUsage().rss;
    return {
      impl: 'tfjs', backend: tf.getBackend(), threads: backendThreads(),
      native: tf.getBackend() === 'wasm' ? nativeKernelsInfo() : null, batch: cfg.batchSize, iters, warmup,
      d_step_ms: round1(d.wall), eg_step_ms: round1(eg.wall), iter_ms: round1(d.wall + eg.wall),
      img_per_s: round1((cfg.batchSize * 1000) / (d.wall + eg.wall)), iter_cpu_ms: round1(d.cpu + eg.cpu),
      peak_rss_mib: round1(process.resourceUsage().maxRSS / 1024),
      rss_before_mib: round1(rssBefore / 2 ** 20), rss_after_mib: round1(rssAfter / 2 ** 20),
      tensors_before: tensorsBefore, tensors_after: tensorsAfter,
    };
  } finally {
    x.dispose();
    disposeTrainState(state);
  }
}

/** Time and calls of one kernel in a profile. */
export interface KernelTime {
  kernel: string;
  ms: number;
  calls: number;
}

/** Per-kernel totals of a tf.profile, largest time first, the top `top`. */
async function kernelTimes(f: () => Promise<unknown>, top: number): Promise<{ total_ms: number; kernels: KernelTime[] }> {
  const info = await tf.profile(async () => { await f(); return []; });
  const byName = new Map<string, KernelTime>();
  let total = 0;
  for (const k of info.kernels) {
    const ms = k.kernelTimeMs as number;
    total += ms;
    const row = byName.get(k.name) ?? { kernel: k.name, ms: 0, calls: 0 };
    row.ms += ms;
    row.calls++;
    byName.set(k.name, row);
  }
  const kernels = [...byName.values()].sort((a, b) => b.ms - a.ms).slice(0, top)
    .map((r) => ({ ...r, ms: round1(r.ms) }));
  return { total_ms: round1(total), kernels };
}

/** Profiles of one D step and one E/G step (after `warmup` iterations), top `top` kernels of each. */
export async function profileSteps(cfg: Config, opts: { warmup?: number; top?: number } = {}) {
  const state: TrainState = createTrainState(cfg);
  const x = fixedBatch(cfg);
  try {
    for (let i = 0; i < (opts.warmup ?? 2); i++) { await dStep(state, x); await egStep(state, x); }
    const top = opts.top ?? 15;
    return { d_step: await kernelTimes(() => dStep(state, x), top), eg_step: await kernelTimes(() => egStep(state, x), top) };
  } finally {
    x.dispose();
    disposeTrainState(state);
  }
}

/**
 * Where torch_reference.py is: $BIGBIGAN_TORCH_REFERENCE, else
 * ../shared/bench/torch_reference.py beside the repository, else
 * ./torch_reference.py in the repository root.
 */
export function findTorchReference(repoRoot = path.join(__dirname, '..', '..', '..'), env = process.env): string {
  const fromEnv = env.BIGBIGAN_TORCH_REFERENCE;
  if (fromEnv) {
    if (!fs.existsSync(fromEnv)) {
      throw new Error(`Expected BIGBIGAN_TORCH_REFERENCE to name torch_reference.py, but ${fromEnv} does not exist`);
    }
    return fromEnv;
  }
  const candidates = [path.join(repoRoot, '..', 'shared', 'bench', 'torch_reference.py'), path.join(repoRoot, 'torch_reference.py')];
  const found = candidates.find((p) => fs.existsSync(p));
  if (found === undefined) {
    throw new Error(`Expected torch_reference.py at ${candidates.join(' or ')} (or set BIGBIGAN_TORCH_REFERENCE), but found none`);
  }
  return found;
}

/**
 * Runs the PyTorch reference with `threads` threads and the same iteration and
 * warm-up counts; returns its JSON line. A missing python3 or torch is one
 * clear error that says how to install it.
 */
export function runTorchReference(
  opts: { iters: number; warmup: number; threads?: number; script?: string; python?: string },
): TorchResult {
  const python = opts.python ?? '/usr/bin/python3';
  const script = opts.script ?? findTorchReference();
  const install = 'apt-get install -y python3-torch';
  if (!fs.existsSync(python)) throw new Error(`Expected ${python} for the PyTorch reference (${install}), but it does not exist`);
  const args = [script, '--threads', String(opts.threads ?? 2), '--iters', String(opts.iters), '--warmup', String(opts.warmup)];
  const r = spawnSync(python, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`Expected ${python} to run the PyTorch reference, but it failed: ${r.error.message}`);
  if (/No module named '?torch'?/.test(r.stderr)) throw new Error(`Expected PyTorch for ${python}, but it is not installed: ${install}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let parsed: TorchResult;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new Error(`Expected one JSON line from ${script} (exit code ${r.status}), but got '${line}'; ` +
                    `stderr: ${r.stderr.trim().split('\n').pop()}`);
  }
  if (typeof parsed.iter_ms !== 'number') throw new Error(`Expected iter_ms in the PyTorch reference's output, but got '${line}'`);
  return parsed;
}

/** Keys that change what a step computes are all but these (data source, schedule and outputs). */
const NOT_COMPUTE: Array<keyof Config> = [
  'dataset', 'dataPath', 'steps', 'seed', 'sampleEvery', 'checkpointEvery', 'keepCheckpoints', 'emaStart',
];

/**
 * Why a comparison with torch_reference.py (always bench32) would compare different work,
 * or null when cfg computes what bench32 computes.
 */
export function torchMismatch(cfg: Config): string | null {
  const ref = resolveConfig('bench32') as unknown as Record<string, unknown>;
  const differ = (Object.keys(ref) as Array<keyof Config>)
    .filter((k) => !NOT_COMPUTE.includes(k) && JSON.stringify(ref[k]) !== JSON.stringify(cfg[k]));
  return differ.length === 0 ? null
    : `Expected bench32's configuration for --compare-torch (torch_reference.py runs bench32), but ${differ.join(', ')} differ: ` +
      'the ratio compares different work';
}

/** What `bigbigan bench` was asked for. */
export interface BenchCommandOptions {
  cfg: Config;
  /** Name of the configuration, for the report. */
  label: string;
  iters: number;
  warmup?: number;
  compareTorch?: boolean;
  profile?: boolean;
  /** One JSON object instead of text lines. */
  json?: boolean;
}

/** Runs `bigbigan bench` and returns the lines to print. */
export async function benchCommand(o: BenchCommandOptions): Promise<string[]> {
  const warmup = o.warmup ?? 2;
  const ours = await benchTraining(o.cfg, { iters: o.iters, warmup });
  const torch = o.compareTorch ? runTorchReference({ iters: o.iters, warmup }) : null;
  const ratio = torch ? Math.round((ours.iter_ms / torch.iter_ms) * 100) / 100 : null;
  const warning = torch ? torchMismatch(o.cfg) : null;
  const profile = o.profile ? await profileSteps(o.cfg, { warmup }) : null;
  if (o.json) {
    return [JSON.stringify({ config: o.label, ...ours, ...(torch ? { torch, ratio_iter_ms: ratio } : {}),
                             ...(warning ? { warning } : {}), ...(profile ? { profile } : {}) })];
  }
  const lines = [
    `${o.label}: batch ${ours.batch}, ${ours.iters} timed iterations after ${ours.warmup} warm-up, ` +
    `backend ${ours.backend} (${ours.threads} thread${ours.threads === 1 ? '' : 's'})` +
    (ours.native ? `, native kernels on ${ours.native}` : ''),
    `  ours     d_step ${ours.d_step_ms} ms, eg_step ${ours.eg_step_ms} ms, iter ${ours.iter_ms} ms, ${ours.img_per_s} img/s ` +
    `(CPU time ${ours.iter_cpu_ms} ms per iteration)`,
  ];
  if (torch) {
    lines.push(`  PyTorch  d_step ${torch.d_step_ms} ms, eg_step ${torch.eg_step_ms} ms, iter ${torch.iter_ms} ms, ` +
               `${torch.img_per_s} img/s ` +
               `(${torch.impl} ${torch.torch}, ${torch.threads} threads, batch ${torch.batch})`);
    lines.push(`  ratio iter_ms ours/PyTorch: ${ratio}`);
    if (warning) lines.push(`  warning: ${warning}`);
  }
  lines.push(`  RSS ${ours.rss_before_mib} MiB before, ${ours.rss_after_mib} MiB after the timed steps (peak ${ours.peak_rss_mib} MiB); ` +
             `tensors ${ours.tensors_before} before, ${ours.tensors_after} after`);
  if (profile) {
    for (const [name, p] of [['D step', profile.d_step], ['E/G step', profile.eg_step]] as const) {
      lines.push(`  profile of one ${name}: ${p.total_ms} ms in kernels; top ${p.kernels.length}:`);
      for (const k of p.kernels) {
        lines.push(`    ${k.kernel.padEnd(24)} ${k.ms.toFixed(1).padStart(8)} ms ${String(k.calls).padStart(6)} calls`);
      }
    }
  }
  return lines;
}

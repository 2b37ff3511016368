#!/usr/bin/env node
/**
 * The kit's command line: `npx bigbigan <command> [options]`.
 *   train     train BigBiGAN (a preset, an ablation row, overrides), resumable
 *   eval      linear probe, k-NN, FID/IS and reconstructions of a checkpoint
 *   sweep     every ablation row × seeds, trained and evaluated, resumable, one results table
 *             (--queue redis://...: enqueued for `worker`s on many machines)
 *   worker    take sweep runs from a BullMQ queue on Redis
 *   presets   list presets and ablation rows with their config deltas
 *   demo      train the small convnet on the embedded MNIST (smoke test of an install)
 *   backend   print which tfjs backend runs here, and why
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import { selectBackend } from './backend/select';
import { benchCommand } from './train/bench';
import { benchKernels } from './backend/bench_kernels';
import { startWasmThreads } from './backend/kernels/wasm_threads';
import { runDemo } from './cli/demo';
import { checkpointOfStep, evaluateCheckpoint, formatEvalReport, FULL_EVAL, QUICK_EVAL, withTestImages } from './eval/evaluate';
import { countParameters } from './model/bigbigan';
import { ABLATIONS, PRESETS, resolveConfig } from './presets';
import { trainRun } from './run/train_run';
import { ablationSweep, SweepDefinition } from './sweep/plan';
import { runLocalSweep } from './sweep/local';

/** E/G steps of every sweep run: the documented budget of the mnist / fashion sweeps (README, Results). */
const DEFAULT_SWEEP_STEPS = 120;

const USAGE = `Usage: bigbigan <command> [options]

Commands:
  train [--preset NAME] [--ablation NAME] [--steps N] [--out DIR] [--resume] [--minutes M] [--set key=value ...] [--backend NAME]
            train BigBiGAN; writes config.json, metrics.jsonl, sample and reconstruction
            grids and checkpoints to DIR (default runs/<preset>-<ablation>-<time>); --minutes M ends the
            run early (pictures, checkpoint) once M minutes have passed, --resume continues it
  eval --run DIR|FILE [--checkpoint STEP] [--quick] [--images N] [--json] [--inception DIR] [--backend NAME]
            evaluate a run's newest checkpoint (or a checkpoint file): linear probe and k-NN on
            E's features beside random-init and pixel baselines, FID/IS of G_ema and raw G,
            reconstructions (--images N: N test images for each); writes DIR/eval/eval-<step>.json and a grid
  sweep [--grid ablations] [--preset NAME] [--seeds N] [--steps N] [--jobs N] [--rows a,b,...] [--set key=value ...] [--out DIR]
            train and evaluate every ablation row × seed (default 3 seeds, ${DEFAULT_SWEEP_STEPS} steps, 2 jobs at a time,
            DIR runs/sweep-<preset>); re-running skips finished runs and resumes interrupted ones; writes
            DIR/results.csv and DIR/results.json
  sweep ... --queue redis://HOST:PORT [--status [--wait]]
            enqueue the unfinished runs for workers instead (DIR must be on storage every worker reaches
            at the same path); --status shows queued, running, done and failed runs and writes the
            results table; --wait repeats it until no run is waiting or running
  worker --queue redis://HOST:PORT [--concurrency N] [--stall-seconds N]
            take sweep runs from the queue and train + evaluate them (N at a time, default 1); a run whose
            worker stops renewing its lock for --stall-seconds (default 30) goes to another worker and
            resumes from its checkpoint
  results DIR|FILE
            a sweep's results table (DIR/results.csv) summarised over seeds as Markdown: mean ± std, the
            direction of each row against Base and the paper's
  presets   list the presets and the paper's ablation rows with their config deltas
  params [--preset NAME] [--ablation NAME] [--set key=value ...]
            build a configuration's networks and print their parameter counts
  bench [--preset NAME] [--ablation NAME] [--set key=value ...] [--iters N] [--json] [--compare-torch] [--profile]
        [--threads N] [--backend NAME]
            time N D steps and N E/G steps (default preset bench32, N 10) on a fixed batch; --compare-torch
            runs shared/bench/torch_reference.py in the same invocation; --profile prints the top kernels;
            --threads N starts the wasm backend with N threads (default 1)
  bench-kernels [--iters N]
            time the kit's wasm kernels (conv2d gradients, matMul, reductions, resize, pooling) against tfjs-wasm's own
  demo [--steps N] [--batch N] [--out DIR] [--seed N] [--backend NAME]
            train a small convnet on the embedded MNIST, write a picture and metrics
  backend [--backend NAME]
            print which tfjs backend runs here and why

Backends: node-gpu, node, webgpu, wasm, cpu (default: the fastest that works; or set BIGBIGAN_BACKEND).`;

/** A whole number option, or one clear error. */
function intOption(values: Record<string, unknown>, name: string, fallback: number, min = 1): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw new UsageError(`Expected --${name} to be a whole number ≥ ${min}, but got '${raw}'`);
  return v;
}

class UsageError extends Error {}

/**
 * `--steps -5` as `--steps=-5`: parseArgs takes a value that starts with '-' for an option and refuses it as
 * ambiguous; joined, the value reaches the option's own check ("Expected --steps to be a whole number ≥ 1").
 */
function joinNegativeValues(args: string[], valued: Set<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (valued.has(args[i]) && next !== undefined && /^-[\d.]/.test(next)) out.push(`${args[i]}=${args[++i]}`);
    else out.push(args[i]);
  }
  return out;
}

/** --preset, --ablation and every --set (then `extra` settings), resolved; a bad one is a usage error. */
function configOption(values: Record<string, unknown>, extra: string[] = []) {
  const preset = (values.preset as string | undefined) ?? 'mnist', ablation = (values.ablation as string | undefined) ?? 'base';
  try {
    return { preset, ablation, cfg: resolveConfig(preset, ablation, [...((values.set as string[] | undefined) ?? []), ...extra]) };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** `sweep --queue`: enqueue the unfinished runs, or (--status) report them, (--wait) until none is waiting or running. */
async function queueSweepCommand(def: SweepDefinition, out: string, queue: string, status: boolean, wait: boolean): Promise<void> {
  const { enqueueSweep, formatStatus, sweepStatus } = await import('./sweep/queue');
  if (!status) {
    const s = await enqueueSweep(def, { queue, out });
    console.log(`sweep ${out}: ${s.added.length} runs enqueued, ${s.retried.length} failed runs retried, ${s.skipped.length} finished or already queued; ` +
                `start workers with: npx bigbigan worker --queue ${queue}`);
    return;
  }
  for (;;) {
    const states = await sweepStatus(def, { queue, out });
    for (const line of formatStatus(states, out)) console.log(line);
    if (!wait || !states.some((r) => ['waiting', 'running', 'delayed'].includes(r.state))) {
      if (states.some((r) => r.state === 'failed')) process.exitCode = 1;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10_000));
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return;
  }
  const options = {
    steps: { type: 'string' }, iters: { type: 'string' }, batch: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string' },
    backend: { type: 'string' }, preset: { type: 'string' }, ablation: { type: 'string' },
    resume: { type: 'boolean' }, set: { type: 'string', multiple: true }, minutes: { type: 'string' },
    run: { type: 'string' }, quick: { type: 'boolean' }, inception: { type: 'string' }, checkpoint: { type: 'string' }, images: { type: 'string' },
    queue: { type: 'string' }, status: { type: 'boolean' }, wait: { type: 'boolean' }, concurrency: { type: 'string' },
    'stall-seconds': { type: 'string' }, grid: { type: 'string' }, seeds: { type: 'string' }, jobs: { type: 'string' }, rows: { type: 'string' },
    json: { type: 'boolean' }, 'compare-torch': { type: 'boolean' }, profile: { type: 'boolean' }, threads: { type: 'string' },
  } as const;
  let values: Record<string, unknown>, positionals: string[];
  try {
    const valued = new Set(Object.entries(options).filter(([, o]) => o.type === 'string').map(([name]) => `--${name}`));
    ({ values, positionals } = parseArgs({ args: joinNegativeValues(rest, valued), options, strict: true, allowPositionals: command === 'results' }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const force = values.backend as string | undefined;
  switch (command) {
    case 'train': {
      const { preset, ablation, cfg } = configOption(values, values.steps === undefined ? [] : [`steps=${intOption(values, 'steps', 1)}`]);
      const stamp = new Date().toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', '-');
      const out = (values.out as string | undefined) ?? path.join('runs', `${preset}-${ablation}-${stamp}`);
      if (force) await selectBackend({ force });
      const minutes = values.minutes === undefined ? undefined : Number(values.minutes);
      if (minutes !== undefined && !(minutes > 0)) throw new UsageError(`Expected --minutes to be a number > 0, but got '${values.minutes}'`);
      const r = await trainRun({ cfg, out, resume: values.resume === true, minutes });
      const losses = r.last.L_D === undefined ? 'no step logged' : `L_D ${r.last.L_D.toFixed(3)}, L_EG ${r.last.L_EG.toFixed(3)}`;
      console.log(`step ${r.step}: ${losses}`);
      if (r.stoppedEarly) console.log(`stopped at step ${r.step} of ${cfg.steps}: --minutes ${minutes} ran out (continue with --resume --out ${out})`);
      const recon = r.reconstructions ?? (cfg.noEncoder ? 'none (no encoder)' : 'none (fewer than 8 held-out images to show)');
      console.log(`samples: ${r.samples ?? 'none'}\nreconstructions: ${recon}\ncheckpoint: ${r.checkpoint}\nmetrics: ${path.join(out, 'metrics.jsonl')}`);
      if (cfg.evalEvery === 0) console.log(`evaluate it (linear probe, k-NN, FID/IS, reconstructions): npx bigbigan eval --run ${out} --quick`);
      return;
    }
    case 'eval': {
      const run = values.run as string | undefined;
      if (run === undefined) throw new UsageError('Expected --run DIR (a run folder) or a checkpoint file, but got none');
      if (!fs.existsSync(run)) throw new UsageError(`Expected --run to name a run folder or checkpoint file, but ${run} does not exist`);
      await selectBackend({ force, quiet: values.json === true });
      const base = values.quick === true ? QUICK_EVAL : FULL_EVAL;
      const settings = values.images === undefined ? base : withTestImages(base, intOption(values, 'images', 1));
      let target = run;
      if (values.checkpoint !== undefined) {
        try { target = checkpointOfStep(run, intOption(values, 'checkpoint', 0, 0)); } catch (e) { throw new UsageError((e as Error).message); }
      }
      const report = await evaluateCheckpoint(target, settings,
                                              { inception: values.inception as string | undefined, quiet: values.json === true });
      console.log(values.json === true ? JSON.stringify(report) : formatEvalReport(report));
      return;
    }
    case 'params': {
      const { preset, ablation, cfg } = configOption(values);
      await selectBackend({ force });
      const started = Date.now();
      const c = countParameters({ ...cfg, init: 'normal' });  // cheap init: only the shapes matter here
      const total = c.G + c.D + (c.E ? c.E.trunk + c.E.head : 0);
      const fmt = (n: number) => n.toLocaleString('en-US');
      console.log(`${preset}/${ablation}: G ${fmt(c.G)}; E ${c.E ? `${fmt(c.E.trunk + c.E.head)} (trunk ${fmt(c.E.trunk)}, MLP head ${fmt(c.E.head)})` : 'none'}; ` +
                  `D ${fmt(c.D)}; total ${fmt(total)} trainable parameters (built in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
      return;
    }
    case 'bench': {
      const { preset, ablation, cfg } = configOption({ preset: 'bench32', ...values });
      const threads = intOption(values, 'threads', 1);
      if (threads > 1) await startWasmThreads(threads);
      const info = await selectBackend({ force, quiet: true });
      if (values.json !== true) console.log(info.line);
      const lines = await benchCommand({ cfg, label: `${preset}/${ablation}`, iters: intOption(values, 'iters', 10),
                                         compareTorch: values['compare-torch'] === true, profile: values.profile === true, json: values.json === true });
      for (const line of lines) console.log(line);
      return;
    }
    case 'bench-kernels': {
      for (const row of await benchKernels(intOption(values, 'iters', 5))) console.log(JSON.stringify(row));
      return;
    }
    case 'sweep': {
      const grid = (values.grid as string | undefined) ?? 'ablations';
      if (grid !== 'ablations') throw new UsageError(`Expected --grid ablations (the paper's Table 1 rows), but got '${grid}'`);
      const preset = (values.preset as string | undefined) ?? 'mnist';
      let def;
      try {
        def = ablationSweep({ preset, seeds: intOption(values, 'seeds', 3), steps: intOption(values, 'steps', DEFAULT_SWEEP_STEPS),
                              rows: (values.rows as string | undefined)?.split(',').map((r) => r.trim()).filter(Boolean),
                              settings: (values.set as string[] | undefined) ?? [] });
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const out = (values.out as string | undefined) ?? path.join('runs', `sweep-${preset}`);
      if (force) process.env.BIGBIGAN_BACKEND = force;  // the runs' processes select it
      if (values.queue !== undefined) {
        await queueSweepCommand(def, out, values.queue as string, values.status === true, values.wait === true);
        return;
      }
      const summary = await runLocalSweep(def, { out, jobs: intOption(values, 'jobs', 2) });
      if (summary.failed.length > 0) process.exitCode = 1;
      return;
    }
    case 'worker': {
      if (values.queue === undefined) throw new UsageError('Expected --queue redis://HOST:PORT, but got none');
      const { runWorker } = await import('./sweep/queue');
      const worker = await runWorker({ queue: values.queue as string, concurrency: intOption(values, 'concurrency', 1),
                                       stallSeconds: intOption(values, 'stall-seconds', 30) });
      await new Promise<void>((resolve) => {
        for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => { void worker.close().then(resolve); });
      });
      return;
    }
    case 'results': {
      const [target] = positionals;
      if (target === undefined) throw new UsageError('Expected a sweep folder or results file: bigbigan results DIR');
      const file = fs.existsSync(target) && fs.statSync(target).isDirectory() ? path.join(target, 'results.csv') : target;
      const { readResultsTable, resultsMarkdown } = await import('./sweep/results');
      const rows = readResultsTable(file);
      if (rows === null) throw new UsageError(`Expected a results table at ${file}, but it does not exist`);
      console.log(resultsMarkdown(rows, (row) => ABLATIONS[row]?.paper ?? ''));
      return;
    }
    case 'presets': {
      console.log('Presets (bigbigan train --preset NAME):');
      for (const [name, p] of Object.entries(PRESETS)) console.log(`  ${name.padEnd(12)} ${p.about}\n  ${''.padEnd(12)} ${JSON.stringify(p.delta)}`);
      console.log('\nAblation rows of the paper\'s Table 1 (--ablation NAME), deltas on the preset:');
      for (const [name, a] of Object.entries(ABLATIONS)) console.log(`  ${name.padEnd(16)} ${a.about}; paper: ${a.paper}\n  ${''.padEnd(16)} ${JSON.stringify(a.delta)}${a.halve ? ` halves ${a.halve.join(', ')}` : ''}`);
      return;
    }
    case 'backend': {
      await selectBackend({ force });
      return;
    }
    case 'demo': {
      const steps = intOption(values, 'steps', 300), batchSize = intOption(values, 'batch', 64);
      const seed = intOption(values, 'seed', 0, 0);
      const out = (values.out as string | undefined) ?? 'runs/demo';
      if (force) await selectBackend({ force });
      const r = await runDemo({ steps, batchSize, out, seed });
      console.log(`loss ${r.firstLoss.toFixed(3)} -> ${r.lastLoss.toFixed(3)}; test accuracy ${(100 * r.testAccuracy).toFixed(1)}% on 2000 MNIST test digits`);
      console.log(`wrote ${r.files.join(', ')}`);
      return;
    }
    default:
      throw new UsageError(`Expected a command (train, eval, sweep, worker, results, presets, params, bench, bench-kernels, demo, backend, help), but got '${command}'`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: Error) => {
    console.error(`bigbigan: ${e.message}`);
    if (e instanceof UsageError) console.error(`Run 'bigbigan help' for usage.`);
    process.exit(e instanceof UsageError ? 2 : 1);
  });
}

/**
 * Runs a sweep on this machine: `jobs` runs at once, each in its own Node
 * process (one wasm thread each: on 2 cores two single-threaded runs finish
 * more work per hour than one run on two threads), resumable: finished runs
 * are skipped, interrupted ones resume from their checkpoints. This file is
 * also the child's entry point (forked by run/child.ts with the job in an IPC message).
 */
import * as path from 'path';
import { selectBackend } from '../backend/select';
import { datasetFeatureNet } from '../eval/feature_net';
import { loadRunDataset } from '../train/run_data';
import { ensureFolder, removeTemporaryFiles } from '../util/fs_safe';
import { acquireLock } from '../run/lock';
import { CHILD_FLAG, ChildReporter, launchChild, serveChildJob } from '../run/child';
import { formatDuration } from '../util/progress';
import {
  JobProgress, JobResult, jobState, openSweepFolder, planSweep, runSweepJob, SweepDefinition, SweepJob, writeSweepResults,
} from './plan';

export interface LocalSweepOptions {
  out: string;
  jobs: number;
  cacheDir?: string;
  featureNetSteps?: number;
  /** Where progress lines go (default stderr); null: none. */
  log?: ((line: string) => void) | null;
}

export interface LocalSweepSummary {
  total: number;
  /** Jobs that were finished before this call (skipped). */
  skipped: number;
  trained: number;
  resumed: number;
  failed: Array<{ name: string; error: string }>;
  seconds: number;
}

export type ParentMessage = { out: string; def: SweepDefinition; job: SweepJob; cacheDir?: string; featureNetSteps?: number };

/**
 * Runs one job in a child process (run/child.ts, the kit's one launcher); resolves with its result or rejects with its
 * error text. `onNote` gets what the run found in its folder (a resumption, a stale lock, a torn line: run/train_run.ts
 * notes). `atOnce`: how many runs share this machine (each child gets its share of the cores).
 */
export function runInChild(msg: ParentMessage, onProgress: (p: JobProgress) => void, atOnce = 1,
                           onNote: (line: string) => void = () => undefined): Promise<JobResult> {
  return launchChild<ParentMessage, JobResult, JobProgress>(__filename, msg, { onProgress, onNote, atOnce });
}

/** Makes sure the feature net every evaluation uses is trained and cached once, before parallel runs would each train it. */
async function prepareFeatureNet(def: SweepDefinition, job: SweepJob, opts: LocalSweepOptions): Promise<void> {
  await selectBackend({ quiet: true });
  const dataset = await loadRunDataset(job.cfg);
  const net = await datasetFeatureNet(dataset, { resolution: def.evalResolution, cacheDir: opts.cacheDir, steps: opts.featureNetSteps,
                                                 quiet: opts.log === null });
  net.dispose();
}

/**
 * Runs every unfinished job of `def` in `opts.out`, `opts.jobs` at a time; rewrites the results table after each.
 * The sweep folder is locked meanwhile (one sweep process per folder; each run folder has its own lock too).
 */
export async function runLocalSweep(def: SweepDefinition, opts: LocalSweepOptions): Promise<LocalSweepSummary> {
  ensureFolder(opts.out, 'the sweep folder');
  const lock = await acquireLock(opts.out, { what: 'Sweep folder' });
  try {
    removeTemporaryFiles(opts.out);
    return await runUnlocked(def, opts);
  } finally {
    lock.release();
  }
}

async function runUnlocked(def: SweepDefinition, opts: LocalSweepOptions): Promise<LocalSweepSummary> {
  const start = Date.now();
  const log = opts.log === undefined ? (l: string) => process.stderr.write(`${l}\n`) : opts.log;
  openSweepFolder(opts.out, def);
  const jobs = planSweep(def);
  const states = new Map(jobs.map((j) => [j.name, jobState(opts.out, j)]));
  const todo = jobs.filter((j) => states.get(j.name) !== 'done');
  const summary: LocalSweepSummary = {
    total: jobs.length, skipped: jobs.length - todo.length, trained: 0, resumed: 0, failed: [], seconds: 0,
  };
  const shared = jobs.filter((j) => j.rows.length > 1).map((j) => `${j.rows.join(' = ')} (seed ${j.seed})`);
  if (shared.length > 0) log?.(`sweep: identical configs share one run: ${shared.join('; ')}`);
  if (todo.length === 0) {
    writeSweepResults(opts.out, def);
    log?.(`sweep: all ${jobs.length} runs in ${opts.out} are finished: nothing to train (results: ${path.join(opts.out, 'results.csv')})`);
    return { ...summary, seconds: (Date.now() - start) / 1000 };
  }
  const resuming = todo.filter((j) => states.get(j.name) === 'partial').length;
  log?.(`sweep: ${jobs.length} runs (${def.rows.length} rows × ${def.seeds.length} seeds, ${def.steps} steps each) in ${opts.out}: ` +
        `${summary.skipped} finished, ${resuming} to resume, ${todo.length - resuming} to start; ${opts.jobs} at a time`);
  await prepareFeatureNet(def, todo[0], opts);

  let next = 0, finished = 0;
  const jobStart = Date.now();
  const worker = async () => {
    while (next < todo.length) {
      const job = todo[next++];
      const resumed = states.get(job.name) === 'partial';
      const t0 = Date.now();
      let lastShown = -1;
      log?.(`sweep: ${resumed ? 'resume' : 'start'} ${job.name}${job.rows.length > 1 ? ` (= ${job.rows.slice(1).join(', ')})` : ''}`);
      const onProgress = (p: JobProgress) => {
        const quarter = p.phase === 'eval' ? 4 : Math.floor((4 * p.step) / p.total);
        if (quarter === lastShown || (p.phase === 'train' && quarter === 4)) return;
        lastShown = quarter;
        const at = p.phase === 'eval' ? 'evaluating' : `step ${p.step}/${p.total}`;
        log?.(`sweep: ${job.name} ${at} (${formatDuration((Date.now() - t0) / 1000)})`);
      };
      try {
        const r = await runInChild({ out: opts.out, def, job, cacheDir: opts.cacheDir, featureNetSteps: opts.featureNetSteps },
                                   onProgress, opts.jobs, (line) => log?.(`sweep: ${job.name}: ${line}`));
        if (resumed) summary.resumed++; else summary.trained++;
        finished++;
        const left = todo.length - finished - summary.failed.length;
        const eta = left > 0 ? ((Date.now() - jobStart) / (finished + summary.failed.length)) * left / 1000 : 0;
        const f = r.figures;
        const figures = r.status === 'diverged' ? `diverged: ${r.error}`
          : `FID ${f.fid?.toFixed(1)}, IS ${f.is?.toFixed(2)}, ` +
            `probe ${f.probe_top1 === null || f.probe_top1 === undefined ? '-' : (100 * f.probe_top1).toFixed(1) + '%'}`;
        log?.(`sweep: done ${job.name} in ${formatDuration((Date.now() - t0) / 1000)}: ${figures}; ` +
              `${summary.skipped + finished}/${jobs.length} finished${left > 0 ? `, ETA ${formatDuration(eta)}` : ''}`);
      } catch (e) {
        summary.failed.push({ name: job.name, error: (e as Error).message });
        log?.(`sweep: FAILED ${job.name}: ${(e as Error).message} (it resumes on the next run of the sweep)`);
      }
      writeSweepResults(opts.out, def);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.jobs, todo.length) }, worker));
  writeSweepResults(opts.out, def);
  summary.seconds = (Date.now() - start) / 1000;
  log?.(`sweep: ${summary.trained + summary.resumed} runs finished in ${formatDuration(summary.seconds)}` +
        `${summary.failed.length ? `; ${summary.failed.length} failed: ${summary.failed.map((f) => f.name).join(', ')}` : ''}; ` +
        `results: ${path.join(opts.out, 'results.csv')}`);
  return summary;
}

/** The child's one job: the sweep job of the parent's message, its notes and progress reported back. */
function sweepChildJob(msg: ParentMessage, report: ChildReporter<JobProgress>): Promise<JobResult> {
  return runSweepJob(msg.out, msg.def, msg.job, { cacheDir: msg.cacheDir, featureNetSteps: msg.featureNetSteps,
                                                   log: report.note, onProgress: report.progress });
}

if (require.main === module && process.argv.includes(CHILD_FLAG)) serveChildJob(sweepChildJob);

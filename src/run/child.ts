/**
 * The kit's one way to run a job in a child Node process: `launchChild` forks
 * an entry module with `--bigbigan-child`, sends it the job in an IPC message
 * and receives progress, notes and then the result (or the error) back; the
 * entry module answers with `serveChildJob(handler)`. Sweeps (sweep/local.ts,
 * also for the queue worker) and notebooks (trainInChild below) use it, so
 * that a long run never blocks the caller's event loop (a notebook redraws
 * its chart meanwhile) and a crashed run is one error, not a dead kernel.
 */
import { fork } from 'child_process';
import * as os from 'os';
import { Config } from '../config';
import { loadRunDataset } from '../train/run_data';
import { RunOptions, RunResult, trainRun } from './train_run';

/** The flag a forked entry module sees in process.argv. */
export const CHILD_FLAG = '--bigbigan-child';

type ChildMessage<R, P> = { type: 'progress'; progress: P } | { type: 'note'; line: string } | { type: 'done'; result: R }
  | { type: 'error'; message: string };

/** What the parent hears while the child works. */
export interface ChildListeners<P> {
  onProgress?: (p: P) => void;
  /** Sentences about what the run found in its folder (a resumption, a stale lock, a torn line: run/train_run.ts notes). */
  onNote?: (line: string) => void;
  /**
   * How many runs share this machine: each child gets its share of the cores for the native conv2d kernels
   * (unless BIGBIGAN_NATIVE_THREADS says otherwise), so that parallel runs do not oversubscribe. Default 1.
   */
  atOnce?: number;
}

/**
 * Runs `job` in a child process of `entry` (a compiled module that calls serveChildJob when started with CHILD_FLAG);
 * resolves with its result, or rejects with its error message, or, when the child dies without one, with its exit
 * code and the last lines of its stderr.
 */
export function launchChild<J, R, P>(entry: string, job: J, listeners: ChildListeners<P> = {}): Promise<R> {
  return new Promise((resolve, reject) => {
    const atOnce = listeners.atOnce ?? 1;
    const threads = process.env.BIGBIGAN_NATIVE_THREADS ?? String(Math.max(1, Math.floor(os.availableParallelism() / atOnce)));
    const child = fork(entry, [CHILD_FLAG], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
                                              env: { ...process.env, BIGBIGAN_NATIVE_THREADS: threads } });
    let stderr = '', settled = false;
    child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    child.on('message', (m: ChildMessage<R, P>) => {
      if (m.type === 'progress') listeners.onProgress?.(m.progress);
      else if (m.type === 'note') listeners.onNote?.(m.line);
      else if (m.type === 'done') { settled = true; resolve(m.result); } else { settled = true; reject(new Error(m.message)); }
    });
    child.on('error', (e) => { if (!settled) { settled = true; reject(e); } });
    child.on('exit', (code, signal) => {
      if (settled) return;
      settled = true;
      const tail = stderr ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : '';
      reject(new Error(`the run's process ended (${signal ?? `exit code ${code}`}) without a result${tail}`));
    });
    child.send(job as object);
  });
}

/** What a child's handler may report while it works. */
export interface ChildReporter<P> {
  progress: (p: P) => void;
  note: (line: string) => void;
}

/**
 * The child's side: waits for one job from the parent, runs `handler`, sends its result or error, and disconnects.
 * A child whose parent died stops (the run's checkpoint stays): at disconnect, and at every progress report (the
 * training loop rarely yields to the event loop, so a killed parent would otherwise be noticed late).
 */
export function serveChildJob<J, R, P>(handler: (job: J, report: ChildReporter<P>) => Promise<R>): void {
  const parent = process.ppid;
  const send = (m: ChildMessage<R, P>) => new Promise<void>((resolve) => process.send!(m, () => resolve()));
  const report: ChildReporter<P> = {
    progress: (progress) => {
      if (process.ppid !== parent) process.exit(1);
      process.send!({ type: 'progress', progress });
    },
    note: (line) => process.send!({ type: 'note', line }),
  };
  const serve = async (job: J) => {
    try {
      await send({ type: 'done', result: await handler(job, report) });
    } catch (e) {
      await send({ type: 'error', message: e instanceof Error ? e.message : String(e) });
    }
    process.removeAllListeners('disconnect');
    process.disconnect();
  };
  process.once('disconnect', () => process.exit(1));
  process.once('message', (job: J) => {
    // The job's own errors go to the parent as an 'error' message; what fails beyond that (the IPC channel itself) ends the
    // child with one line on stderr, which launchChild reports with the exit code.
    serve(job).catch((e: unknown) => {
      process.stderr.write(`bigbigan child: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    });
  });
}

/** One training run for a child process: the config, the folder and what trainRun takes besides. */
export interface TrainJob {
  cfg: Config;
  out: string;
  resume: boolean;
  /** Dataset options (train/run_data.ts loadRunDataset): `limit` reads at most that many train and test examples. */
  data?: { limit?: number };
  evaluation?: RunOptions['evaluation'];
}

/** Progress of a TrainJob: the E/G step reached. */
export interface TrainProgress {
  step: number;
  total: number;
}

/** Trains `job` in a child process (trainRun, quiet); progress after every E/G step. */
export function trainInChild(job: TrainJob, listeners: ChildListeners<TrainProgress> = {}): Promise<RunResult> {
  return launchChild<TrainJob, RunResult, TrainProgress>(__filename, job, listeners);
}

async function trainJob(job: TrainJob, report: ChildReporter<TrainProgress>): Promise<RunResult> {
  const dataset = await loadRunDataset(job.cfg, job.data);
  return trainRun({ cfg: job.cfg, out: job.out, resume: job.resume, quiet: true, dataset, evaluation: job.evaluation,
                    onStep: (step, total) => report.progress({ step, total }), log: report.note });
}

if (require.main === module && process.argv.includes(CHILD_FLAG)) serveChildJob(trainJob);
